"""Bad input fails early with a ValueError that names the argument and its allowed range."""
import math

import numpy as np
import pytest
import torch

from course_lib import MLP, inner_update, meta_gradient
from course_lib.evaluate import adaptation_curve
from course_lib.functional import forward, parameters_of
from course_lib.meta import init_alpha, meta_objective
from course_lib.tasks import RegressionBatch, SinusoidDistribution
from course_lib.sinusoid.config import SinusoidConfig, default_config

ALPHA_MSG = r"alpha must be a finite number in \(0, inf\)"
STEPS_MSG = r"steps must be an integer in \[0, inf\)"
BAD_ALPHAS = [0, 0.0, -0.01, -1, math.nan, math.inf, -math.inf, "0.01", None, True, [0.01],
              torch.tensor(float("nan")), torch.tensor(-1.0)]
BAD_STEPS = [-1, -5, 1.5, 1.0, "2", None, True]


@pytest.fixture
def setup():
    model = MLP(1, 1, (8,))
    theta = parameters_of(model)
    batch = SinusoidDistribution().sample_batch(3, 4, 4, np.random.default_rng(0), model)
    return model, theta, batch


def quadratic(p):
    return (p["w"] ** 2).sum()


def w():
    return {"w": torch.ones(3, requires_grad=True)}


# α ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", BAD_ALPHAS, ids=repr)
def test_inner_update_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match=ALPHA_MSG):
        inner_update(w(), quadratic, alpha)


@pytest.mark.parametrize("alpha", BAD_ALPHAS, ids=repr)
def test_meta_gradient_rejects_bad_alpha(alpha, setup):
    _, theta, batch = setup
    for method in ("maml", "reptile"):
        with pytest.raises(ValueError, match=ALPHA_MSG):
            meta_gradient(theta, batch, alpha, method=method)


@pytest.mark.parametrize("alpha", [0.0, -0.1, math.nan, math.inf, "0.1"], ids=repr)
def test_config_and_init_alpha_reject_bad_alpha(alpha):
    with pytest.raises(ValueError, match=ALPHA_MSG):
        SinusoidConfig(alpha=alpha)
    with pytest.raises(ValueError, match=ALPHA_MSG):
        init_alpha({"w": torch.zeros(2)}, alpha)


@pytest.mark.parametrize("meta_lr", [0.0, -1e-3, math.nan, math.inf])
def test_config_rejects_bad_meta_lr(meta_lr):
    with pytest.raises(ValueError, match=r"meta_lr must be a finite number in \(0, inf\)"):
        default_config("maml", meta_lr=meta_lr)


def test_good_alphas_are_accepted():
    for alpha in (1e-8, 0.5, 3, np.float64(0.1), torch.tensor(0.1)):
        out = inner_update(w(), quadratic, alpha)
        assert torch.allclose(out["w"], torch.full((3,), 1 - 2 * float(alpha)))


def test_meta_sgd_alpha_dict_must_be_finite_and_match_keys():
    with pytest.raises(ValueError, match=r"alpha\['w'\] must be a tensor of finite values"):
        inner_update(w(), quadratic, {"w": torch.tensor([0.1, math.nan, 0.1])})
    with pytest.raises(ValueError, match=r"alpha\['w'\] must be a tensor of finite values"):
        inner_update(w(), quadratic, {"w": 0.1})
    with pytest.raises(ValueError, match=r"alpha has keys \['v'\] but params has keys \['w'\]"):
        inner_update(w(), quadratic, {"v": torch.ones(3)})


# steps and other integers ----------------------------------------------------------------------------

@pytest.mark.parametrize("steps", BAD_STEPS, ids=repr)
def test_bad_steps(steps, setup):
    _, theta, batch = setup
    with pytest.raises(ValueError, match=STEPS_MSG):
        inner_update(w(), quadratic, 0.1, steps=steps)
    with pytest.raises(ValueError, match=STEPS_MSG):
        meta_gradient(theta, batch, 0.1, steps=steps)
    with pytest.raises(ValueError, match=STEPS_MSG):
        meta_gradient(theta, batch, 0.1, steps=steps, method="reptile")
    with pytest.raises(ValueError, match=STEPS_MSG):
        adaptation_curve(theta, batch, 0.1, steps)
    with pytest.raises(ValueError, match=STEPS_MSG):
        SinusoidConfig(steps=steps)


def test_zero_steps_is_allowed():
    out = inner_update(w(), quadratic, 0.1, steps=0)
    assert torch.equal(out["w"], torch.ones(3))


@pytest.mark.parametrize("k", [0, -1, 2.0])
def test_k_shot_must_be_at_least_one(k, rng):
    dist = SinusoidDistribution()
    tasks = dist.sample_tasks(2, rng)
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, inf\)"):
        dist.sample_points(tasks, k, rng)
    with pytest.raises(ValueError, match=r"k_shot \(K\) must be an integer in \[1, inf\)"):
        SinusoidConfig(k_shot=k)
    with pytest.raises(ValueError, match=r"k_query must be an integer in \[1, inf\)"):
        dist.sample_batch(2, 5, k, rng, MLP())


@pytest.mark.parametrize("field,value,msg", [
    ("iterations", -1, r"iterations must be an integer in \[0, inf\)"),
    ("meta_batch", 0, r"meta_batch must be an integer in \[1, inf\)"),
    ("checkpoint_every", 0, r"checkpoint_every must be an integer in \[1, inf\)"),
    ("seed", -3, r"seed must be an integer in \[0, inf\)"),
    ("context_dim", -1, r"context_dim must be an integer in \[0, inf\)"),
])
def test_config_integers(field, value, msg):
    with pytest.raises(ValueError, match=msg):
        SinusoidConfig(**{field: value})


def test_sample_tasks_needs_at_least_one(rng):
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, inf\)"):
        SinusoidDistribution().sample_tasks(0, rng)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(in_dim=0), r"in_dim must be an integer in \[1, inf\)"),
    (dict(out_dim=0), r"out_dim must be an integer in \[1, inf\)"),
    (dict(hidden=(8, 0)), r"hidden width must be an integer in \[1, inf\)"),
    (dict(context_dim=-1), r"context_dim must be an integer in \[0, inf\)"),
])
def test_mlp_constructor(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        MLP(**kwargs)


# shapes ----------------------------------------------------------------------------------------------

def good_tensors(t=3, ks=4, kq=5):
    return torch.zeros(t, ks, 1), torch.zeros(t, ks, 1), torch.zeros(t, kq, 1), torch.zeros(t, kq, 1)


@pytest.mark.parametrize("which,bad,msg", [
    (1, torch.zeros(2, 4, 1), r"y_support must have shape \(3, "),      # task count
    (2, torch.zeros(4, 5, 1), r"x_query must have shape \(3, "),
    (3, torch.zeros(3, 5), r"y_query must have shape \(3, \*, \*\)"),   # missing dim
    (0, torch.zeros(3, 4), r"x_support must have shape \(3, \*, \*\)"),
    (1, torch.zeros(3, 1, 1), r"y_support must have shape \(3, 4, \*\)"),  # would broadcast silently
    (1, torch.zeros(3, 6, 1), r"y_support must have shape \(3, 4, \*\)"),
    (3, torch.zeros(3, 1, 1), r"y_query must have shape \(3, 5, \*\)"),
    (0, torch.zeros(3, 0, 1), r"K \(x_support.shape\[1\]\)"),
    (2, torch.zeros(3, 0, 1), r"y_query must have shape \(3, 0, \*\)|K \(x_query.shape\[1\]\)"),
])
def test_regression_batch_shapes(which, bad, msg):
    tensors = list(good_tensors())
    if which == 0 and bad.dim() == 3:
        tensors[1] = torch.zeros(3, bad.shape[1], 1)
    tensors[which] = bad
    with pytest.raises(ValueError, match=msg):
        RegressionBatch(MLP(), *tensors)


def test_regression_batch_accepts_different_support_and_query_sizes():
    batch = RegressionBatch(MLP(), *good_tensors(ks=4, kq=7))
    assert batch.n_tasks == 3


def test_oracle_needs_task_parameters():
    with pytest.raises(ValueError, match="oracle=True needs the task parameters"):
        RegressionBatch(MLP(3, 1), *good_tensors(), oracle=True)


def test_mlp_forward_rejects_wrong_input_width():
    model = MLP(1, 1, (8,))
    with pytest.raises(ValueError, match=r"x must have last dimension in_dim=1, got shape \(5, 2\)"):
        model(torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"in_dim=1"):
        forward(model, parameters_of(model), torch.zeros(5, 3))
    assert model(torch.zeros(5, 1)).shape == (5, 1)


# methods, algorithms, loss functions, parameters -----------------------------------------------------

@pytest.mark.parametrize("method", ["MAML", "maml2", "", "sgd", None])
def test_unknown_method(method, setup):
    _, theta, batch = setup
    with pytest.raises(ValueError, match=r"method must be one of \('maml', 'fomaml', 'reptile'"):
        meta_gradient(theta, batch, 0.1, method=method)


def test_meta_objective_has_no_reptile_objective(setup):
    _, theta, batch = setup
    with pytest.raises(ValueError, match=r"method must be one of .* for an objective, got 'reptile'"):
        meta_objective(theta, batch, 0.1, method="reptile")


@pytest.mark.parametrize("algo", ["MAML", "protonet", ""])
def test_unknown_algo(algo):
    with pytest.raises(ValueError, match=r"algo must be one of \('maml',"):
        SinusoidConfig(algo=algo)
    with pytest.raises(ValueError, match=r"algo must be one of"):
        default_config(algo)


def test_cavia_needs_a_context(setup):
    _, theta, batch = setup
    with pytest.raises(ValueError, match=r"context_dim must be an integer in \[1, inf\)"):
        meta_gradient(theta, batch, 0.1, method="cavia")
    with pytest.raises(ValueError, match=r"context_dim must be an integer in \[1, inf\) for algo='cavia'"):
        default_config("cavia", context_dim=0)


def test_loss_fn_must_return_a_scalar():
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar, got shape \(3,\)"):
        inner_update(w(), lambda p: p["w"] ** 2, 0.1)


def test_params_must_require_grad():
    with pytest.raises(ValueError, match=r"params\['w'\] does not require grad"):
        inner_update({"w": torch.ones(3)}, quadratic, 0.1)
    with pytest.raises(ValueError, match=r"params\['w'\] does not require grad"):
        inner_update({"w": torch.ones(3)}, quadratic, 0.1, steps=0)
