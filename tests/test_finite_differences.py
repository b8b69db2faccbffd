"""Second-order meta-gradients against central finite differences of the meta-objective (float64).

The objective is evaluated exactly as the library defines it (post-adaptation mean query loss); the
finite differences know nothing about autograd, so a missing or wrong second-order term shows up.
"""
import numpy as np
import pytest
import torch

from course_lib import MLP, meta_gradient
from course_lib.functional import detached, parameters_of
from course_lib.meta import cavia_objective, maml_objective
from course_lib.tasks import RegressionBatch, SinusoidDistribution

EPS = 1e-6
REL_TOL = 1e-6


def float64_batch(model, n_tasks=4, k=6, seed=0):
    batch = SinusoidDistribution().sample_batch(n_tasks, k, k, np.random.default_rng(seed), model)
    return RegressionBatch(model, *(t.double() for t in (batch.x_support, batch.y_support,
                                                          batch.x_query, batch.y_query)), batch.tasks)


def setup(context_dim=0, seed=0):
    torch.manual_seed(seed)
    model = MLP(1, 1, (8, 8), context_dim=context_dim).double()
    theta = parameters_of(model)
    assert all(v.dtype == torch.float64 for v in theta.values())
    return model, theta, float64_batch(model, seed=seed)


def objective_at(objective, theta, overrides):
    """objective(θ with some entries replaced), a float."""
    params = detached(theta, requires_grad=True)
    with torch.no_grad():
        for (name, idx), value in overrides.items():
            params[name][idx] = value
    return float(objective(params).detach())


def fd_gradient(objective, theta, names):
    """Central differences on every entry of theta[name] for name in names."""
    out = {}
    for name in names:
        g = torch.zeros_like(theta[name])
        for idx in np.ndindex(*theta[name].shape):
            x = float(theta[name][idx].detach())
            plus = objective_at(objective, theta, {(name, idx): x + EPS})
            minus = objective_at(objective, theta, {(name, idx): x - EPS})
            g[idx] = (plus - minus) / (2 * EPS)
        out[name] = g
    return out


def fd_directional(objective, theta, direction):
    def at(sign):
        params = detached(theta, requires_grad=True)
        with torch.no_grad():
            for k, d in direction.items():
                params[k] += sign * EPS * d
        return float(objective(params).detach())
    return (at(1) - at(-1)) / (2 * EPS)


def flat(g, names):
    return torch.cat([g[k].reshape(-1) for k in names])


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_gradient_matches_finite_differences(steps):
    model, theta, batch = setup()
    alpha = 0.05
    names = list(theta)
    objective = lambda p: maml_objective(p, batch, alpha, steps)
    fd = fd_gradient(objective, theta, names)
    maml = meta_gradient(theta, batch, alpha, steps, method="maml")
    assert set(maml) == set(names)
    assert rel_err(flat(maml, names), flat(fd, names)) <= REL_TOL
    for k in names:  # entry by entry as well (absolute, on the scale of the whole gradient)
        assert torch.allclose(maml[k], fd[k], rtol=1e-5, atol=1e-7 * float(flat(fd, names).norm()))

    # random direction: ⟨∇, d⟩ against a one-dimensional central difference
    gen = torch.Generator().manual_seed(11)
    direction = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in theta.items()}
    dd = fd_directional(objective, theta, direction)
    analytic = sum(float((maml[k] * direction[k]).sum()) for k in names)
    assert abs(analytic - dd) <= REL_TOL * abs(dd) + 1e-10

    # first-order MAML is only an approximation of that gradient
    fomaml = meta_gradient(theta, batch, alpha, steps, method="fomaml")
    assert rel_err(flat(fomaml, names), flat(fd, names)) > 1e-4


def test_cavia_gradient_matches_finite_differences():
    model, theta, batch = setup(context_dim=2)
    alpha, context_dim = 0.5, 2
    shared = [k for k in theta if k != "context"]
    objective = lambda p: cavia_objective(p, batch, alpha, 1, False, context_dim)
    fd = fd_gradient(objective, theta, shared)
    cavia = meta_gradient(theta, batch, alpha, 1, method="cavia", context_dim=context_dim)
    assert set(cavia) == set(shared)  # the context is per task, never meta-learned
    assert rel_err(flat(cavia, shared), flat(fd, shared)) <= REL_TOL

    cavia_fo = meta_gradient(theta, batch, alpha, 1, method="cavia_fo", context_dim=context_dim)
    assert rel_err(flat(cavia_fo, shared), flat(fd, shared)) > 1e-4


def test_cavia_objective_ignores_the_models_own_context_value():
    model, theta, batch = setup(context_dim=2)
    moved = detached(theta, requires_grad=True)
    with torch.no_grad():
        moved["context"].fill_(3.0)
    a = cavia_objective(theta, batch, 0.5, 1, False, 2)
    b = cavia_objective(moved, batch, 0.5, 1, False, 2)
    assert float(a.detach()) == float(b.detach())


def test_meta_sgd_alpha_gradient_matches_finite_differences():
    model, theta, batch = setup(seed=1)
    names = list(theta)
    gen = torch.Generator().manual_seed(2)
    alpha = {k: (0.02 + 0.08 * torch.rand(v.shape, generator=gen, dtype=torch.float64)).requires_grad_(True)
             for k, v in theta.items()}
    loss = maml_objective(theta, batch, alpha, 1)
    grads = torch.autograd.grad(loss, [alpha[k] for k in names])
    analytic = torch.cat([g.reshape(-1) for g in grads])
    # finite differences with respect to α, θ fixed
    objective = lambda a: maml_objective(theta, batch, {k: a[k] for k in names}, 1)
    fd = flat(fd_gradient(objective, {k: v.detach() for k, v in alpha.items()}, names), names)
    assert rel_err(analytic, fd) <= REL_TOL
