"""The chain-rule curvature (course_lib.rl.curvature) equals double backprop at the sampling point θ_old,
and — as its derivation says — only there: away from θ_old the dropped third-order term is not zero.
Its two products by Pearlmutter's R-operator (course_lib.rl.r_operator) equal double backprop of each loss."""
import pytest
import torch

from course_lib.functional import batched
from course_lib.meta import CONTEXT, adapt
from course_lib.rl.curvature import meta_kl_curvature
from course_lib.rl.r_operator import fisher_vp, reinforce_hvp
from course_lib.rl.tasks import PolicyTaskBatch, SamplingPolicy
from course_lib.rl.train import meta_loss_and_kl
from course_lib.rl.trpo import hvp_double_backprop

from test_rl_trpo import float64_meta_batch, perturbed


def at_sampling_point(batch, theta, config):
    """The batch with π_old recomputed in float64 from θ'(θ): the float64 batch's π_old was evaluated in
    float32, ~5e-8 away, and at that distance the KL's Hessian and the Fisher matrix differ by ~5e-9."""
    phi = {k: v.detach() for k, v in adapt(theta, batch, config.alpha, 1, first_order=True).items()}
    return PolicyTaskBatch(batch.policy, batch.support, batch.query,
                           SamplingPolicy.of(batch.policy, phi, batch.query))


def both_hvps(theta, batch, config, first_order, method="r_operator"):
    names = [k for k in theta if k != CONTEXT]
    params = [theta[k] for k in names]
    kl = meta_loss_and_kl(theta, batch, config, first_order=first_order)[1]
    return (hvp_double_backprop(kl, params),
            meta_kl_curvature(theta, names, batch, config.alpha, first_order, method),
            sum(p.numel() for p in params))


@pytest.mark.parametrize("method", ["r_operator", "autograd"])
@pytest.mark.parametrize("env", ["navigation2d", "point_velocity"])
@pytest.mark.parametrize("first_order", [False, True])
def test_chain_rule_equals_double_backprop_at_theta_old(env, first_order, method):
    batch, theta, config = float64_meta_batch(env, "maml", T=3, N=3)
    batch = at_sampling_point(batch, theta, config)
    exact, chain, n = both_hvps(theta, batch, config, first_order, method)
    for seed in range(3):
        v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        a, b = exact(v), chain(v)
        assert float(a.norm()) > 1e-6
        assert float((a - b).norm() / a.norm()) < 1e-9


def test_chain_rule_differs_away_from_theta_old():
    """Moved off θ_old, ∇_θ' KL ≠ 0 and the third-order term the chain rule drops shows up."""
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3)
    exact, chain, n = both_hvps(perturbed(theta, scale=0.1), batch, config, first_order=False)
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = exact(v), chain(v)
    assert float((a - b).norm() / a.norm()) > 1e-6


def test_second_order_curvature_is_not_the_first_order_one():
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3)
    _, second, n = both_hvps(theta, batch, config, first_order=False)
    _, first, _ = both_hvps(theta, batch, config, first_order=True)
    v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = second(v), first(v)
    assert float((a - b).norm() / a.norm()) > 1e-4


def per_task_hessian(loss_of, params, v):
    """Double backprop of Σ_i loss_i(params_i) for task-batched params: slice i is ∇²loss_i · v_i."""
    names = list(params)
    leaves = [params[k].detach().clone().requires_grad_(True) for k in names]
    grads = torch.autograd.grad(loss_of(dict(zip(names, leaves))).sum(), leaves, create_graph=True)
    return dict(zip(names, torch.autograd.grad(grads, leaves, grad_outputs=[v[k] for k in names])))


@pytest.mark.parametrize("hidden", [(8, 8), (6, 5, 7)])
def test_r_operator_products_equal_double_backprop(hidden):
    """∇²L^REINFORCE v (shared and per-task directions) and the KL's Hessian at π_old, per task."""
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3, hidden=hidden)
    batch = at_sampling_point(batch, theta, config)
    g = torch.Generator().manual_seed(0)
    shared = {k: torch.randn(v.shape, dtype=torch.float64, generator=g) for k, v in theta.items()}
    per_task = {k: torch.randn((3, *v.shape), dtype=torch.float64, generator=g) for k, v in theta.items()}
    hvp = reinforce_hvp(batch.policy, {k: v.detach() for k, v in theta.items()}, batch.support)
    for v in (shared, per_task):
        want = per_task_hessian(batch.support_loss, batched(theta, 3),
                                {k: t.expand(3, *theta[k].shape) for k, t in v.items()})
        got = hvp(v)
        for k in theta:
            assert float(want[k].norm()) > 1e-8, k
            torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=1e-12)
    phi = {k: v.detach() for k, v in adapt(theta, batch, config.alpha, 1, first_order=True).items()}
    want = per_task_hessian(lambda p: batch.query_loss_and_kl(p)[1] / 3, phi, per_task)
    got = fisher_vp(batch.policy, phi, batch.query, scale=1 / 3)(per_task)
    for k in theta:
        torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=1e-12)


def test_autograd_and_r_operator_curvature_agree_as_training_uses_them():
    """With π_old as sampled (in float32, ~5e-8 from θ'(θ)) the Fisher matrix and the KL's Hessian
    differ by that much only."""
    batch, theta, config = float64_meta_batch("navigation2d", "maml", T=3, N=3)
    names = list(theta)
    v = torch.randn(sum(p.numel() for p in theta.values()), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    a = meta_kl_curvature(theta, names, batch, config.alpha, method="autograd")(v)
    b = meta_kl_curvature(theta, names, batch, config.alpha)(v)
    assert float((a - b).norm() / a.norm()) < 1e-6
    with pytest.raises(ValueError, match="method must be one of"):
        meta_kl_curvature(theta, names, batch, config.alpha, method="jvp")
