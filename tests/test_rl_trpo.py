"""TRPO pieces: conjugate gradient, Hessian-vector products (also through MAML's adaptation), the meta-gradient
of MAML-RL against finite differences, and the constrained step with its line search (float64 throughout)."""
import numpy as np
import pytest
import torch

from course_lib.functional import detached, parameters_of
from course_lib.meta import CONTEXT
from course_lib.rl.episodes import Episodes
from course_lib.rl.tasks import PolicyTaskBatch, SamplingPolicy
from course_lib.rl.config import build_policy, default_rl_config
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch
from course_lib.rl.trpo import (conjugate_gradient, conjugate_gradient_with_product, flat, hvp_double_backprop, hvp_finite_difference, trpo_step,
                                unflat)
from course_lib.tasks.navigation import BatchedNavigation2D, NavigationDistribution
from course_lib.tasks.velocity import BatchedPointVelocity1D, VelocityDistribution


def spd(n, seed=0, cond=50.0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.logspace(0, np.log10(cond), n, dtype=torch.float64)) @ q.T


# ---------------------------------------------------------------------------------------- conjugate gradient

def test_conjugate_gradient_solves_an_spd_system():
    A = spd(8)
    b = torch.randn(8, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=8, tol=1e-30)   # n steps: exact up to rounding
    torch.testing.assert_close(x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    # fewer iterations give an approximation whose residual still shrank
    x3 = conjugate_gradient(lambda v: A @ v, b, iters=3)
    assert (A @ x3 - b).norm() < b.norm()


def test_conjugate_gradient_stops_early_once_converged():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    b = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)      # an eigenvector: solved in 1 step
    calls = []
    x = conjugate_gradient(lambda v: calls.append(1) or A @ v, b, iters=10)
    assert len(calls) == 1 and torch.allclose(x, b)
    with pytest.raises(ValueError, match="iters must be an integer"):
        conjugate_gradient(lambda v: A @ v, b, iters=0)


def test_conjugate_gradient_returns_A_x_from_its_residual():
    A = spd(10, cond=50.0)
    b = torch.randn(10, dtype=torch.float64)
    for iters in (2, 5, 10):                               # converged or not, b − r is A x
        x, Ax = conjugate_gradient_with_product(lambda v: A @ v, b, iters=iters)
        torch.testing.assert_close(Ax, A @ x, rtol=1e-9, atol=1e-9)
        assert torch.equal(x, conjugate_gradient(lambda v: A @ v, b, iters=iters))


def test_conjugate_gradient_of_a_zero_right_hand_side_is_zero():
    calls = []
    x = conjugate_gradient(lambda v: calls.append(1) or 2 * v, torch.zeros(4, dtype=torch.float64))
    assert torch.equal(x, torch.zeros(4, dtype=torch.float64)) and not calls      # not 0/0 = NaN


# --------------------------------------------------------------------------------- Hessian-vector products

def small_function(a, b):
    return (torch.sin(a) * a ** 2).sum() + (a[:2] @ b @ a[1:]) + (b ** 3).sum() * a[0]


def test_hvp_double_backprop_equals_the_explicit_hessian():
    a = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    z0 = flat([a, b]).detach()
    H = torch.autograd.functional.hessian(lambda z: small_function(*unflat(z, [a, b])), z0)
    exact = hvp_double_backprop(small_function(a, b), [a, b])
    fd = hvp_finite_difference(lambda ps: small_function(*ps), [a, b], eps=1e-5)
    for seed in range(3):
        v = torch.randn(7, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(exact(v), H @ v, rtol=1e-12, atol=1e-12)   # callable repeatedly
        torch.testing.assert_close(fd(v), H @ v, rtol=1e-7, atol=1e-7)


def cast_episodes(e: Episodes, dtype) -> Episodes:
    return Episodes(*(None if x is None else x.to(dtype) for x in (e.obs, e.actions, e.rewards, e.mask,
                                                                      e.advantages)))


def float64_meta_batch(env="navigation2d", algo="maml", T=3, N=2, horizon=40, hidden=(8, 8), seed=0):
    """A real meta-RL batch (pre-update episodes, cheap adaptation, post-update episodes), cast to float64.

    The environments are float32 (bitwise equal to the gymnasium ones), so sampling happens with a
    float32 policy; every later computation (advantages are already in the episodes) runs in float64.
    """
    config = default_rl_config(env, algo, meta_batch=T, episodes=N, hidden=hidden, seed=seed)
    torch.manual_seed(seed)
    policy = build_policy(config)
    theta32 = parameters_of(policy)
    rng = np.random.default_rng(seed)
    if env == "navigation2d":
        batched_env = BatchedNavigation2D(torch.as_tensor(NavigationDistribution().sample_tasks(T, rng)), N, horizon)
    else:
        batched_env = BatchedPointVelocity1D(torch.as_tensor(VelocityDistribution().sample_tasks(T, rng)), N, horizon)
    batch32 = sample_meta_batch(policy, theta32, batched_env, config, torch.Generator().manual_seed(seed))
    assert batch32.query is not batch32.support and batch32.query.advantages is not None
    old = batch32.old
    batch = PolicyTaskBatch(policy.double(), cast_episodes(batch32.support, torch.float64),
                            cast_episodes(batch32.query, torch.float64),
                            SamplingPolicy(old.log_prob.double(), old.mean.double(), old.log_std.double()))
    theta = {k: v.detach().double().requires_grad_(True) for k, v in theta32.items()}
    return batch, theta, config


def perturbed(theta, scale=0.05, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {k: (v.detach() + (0 if k == CONTEXT else scale) * torch.randn(v.shape, generator=g, dtype=v.dtype))
            .requires_grad_(True) for k, v in theta.items()}


def meta_kl_fn(theta, batch, config, names):
    return lambda ps: meta_loss_and_kl({**theta, **dict(zip(names, ps))}, batch, config)[1]


@pytest.mark.parametrize("env,algo", [("navigation2d", "maml"), ("point_velocity", "cavia")])
def test_hvp_methods_agree_on_the_meta_rl_kl(env, algo):
    """H v of KL(π_old ‖ π_θ'(θ)) — a third-order derivative through the inner step — both ways."""
    batch, theta, config = float64_meta_batch(env, algo)
    theta = perturbed(theta)                                   # away from θ_old: KL and its Hessian non-trivial
    names = [k for k in theta if k != CONTEXT]
    params = [theta[k] for k in names]
    assert all(p.dtype == torch.float64 for p in params)
    loss, kl = meta_loss_and_kl(theta, batch, config)
    assert loss.dtype == kl.dtype == torch.float64 and float(kl.detach()) > 1e-4
    exact = hvp_double_backprop(kl, params)
    fd = hvp_finite_difference(meta_kl_fn(theta, batch, config, names), params, eps=1e-5)
    n = sum(p.numel() for p in params)
    for seed in range(3):
        v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(10 + seed))
        a, b = exact(v), fd(v)
        rel = float((a - b).norm() / a.norm())
        assert rel <= 1e-4, rel
        assert float(v @ a) > 0                                  # KL Hessian is PSD near its minimum…
    # the second-order terms matter: FOMAML's KL has the same value but a different Hessian
    kl_fo = meta_loss_and_kl(theta, batch, config, first_order=True)[1]
    assert float(kl_fo.detach()) == pytest.approx(float(kl.detach()), rel=1e-12)
    a_fo = hvp_double_backprop(kl_fo, params)(v)
    assert float((a_fo - a).norm() / a.norm()) > 1e-3


# ------------------------------------------------------------------------------------ MAML-RL meta-gradient

def directional_fd(fn, theta, direction, eps=1e-6):
    def at(sign):
        moved = {k: (v.detach() + sign * eps * direction.get(k, 0)).requires_grad_(True) for k, v in theta.items()}
        return float(fn(moved).detach())
    return (at(1) - at(-1)) / (2 * eps)


@pytest.mark.parametrize("env,algo", [("navigation2d", "maml"), ("point_velocity", "maml"),
                                      ("navigation2d", "cavia")])
def test_meta_gradient_matches_finite_differences_and_differs_from_fomaml(env, algo):
    batch, theta, config = float64_meta_batch(env, algo, T=2, horizon=30)
    theta = perturbed(theta, scale=0.02, seed=2)
    names = [k for k in theta if k != CONTEXT]
    loss = lambda th: meta_loss_and_kl(th, batch, config)[0]
    grad = dict(zip(names, torch.autograd.grad(loss(theta), [theta[k] for k in names])))
    fo_loss = meta_loss_and_kl(theta, batch, config, first_order=True)[0]
    assert float(fo_loss.detach()) == pytest.approx(float(loss(theta).detach()), rel=1e-12)   # same value, different gradient
    fo_grad = dict(zip(names, torch.autograd.grad(fo_loss, [theta[k] for k in names])))
    g = torch.Generator().manual_seed(3)
    directions = [{k: torch.randn(theta[k].shape, generator=g, dtype=torch.float64) for k in names}
                  for _ in range(3)]
    # plus single coordinates of the first layer (their second-order term goes through the inner step)
    for idx in [(0, 0), (3, 0)]:
        d = torch.zeros_like(theta["mean.net.0.weight"])
        d[idx] = 1.0
        directions.append({"mean.net.0.weight": d})
    mismatch_fo = []
    for d in directions:
        numeric = directional_fd(loss, theta, d)
        analytic = sum(float((grad[k] * v).sum()) for k, v in d.items())
        first_order = sum(float((fo_grad[k] * v).sum()) for k, v in d.items())
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9), (analytic, numeric)
        mismatch_fo.append(abs(first_order - numeric) / max(abs(numeric), 1e-12))
    assert max(mismatch_fo) > 1e-3, mismatch_fo                  # FOMAML drops a term that matters here
    total = sum(float((grad[k] - fo_grad[k]).norm() ** 2) for k in names) ** 0.5
    assert total > 1e-3 * sum(float(grad[k].norm() ** 2) for k in names) ** 0.5


# ------------------------------------------------------------------------------------------------ trpo_step

def quadratic_problem(n=5, seed=0):
    """loss = gᵀθ, KL = ½ (θ − θ₀)ᵀ F (θ − θ₀): TRPO's step is −√(2δ / gᵀF⁻¹g) F⁻¹g in closed form."""
    F = spd(n, seed, cond=10.0)
    g = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    theta0 = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 2))

    def objective(th):
        d = th["w"] - theta0
        return g @ th["w"], 0.5 * d @ F @ d
    return F, g, theta0, objective


@pytest.mark.parametrize("hvp", ["exact", "finite_difference"])
def test_trpo_step_on_a_quadratic_matches_the_closed_form(hvp):
    F, g, theta0, objective = quadratic_problem()
    theta = {"w": theta0.clone().requires_grad_(True)}
    delta = 0.01
    info = trpo_step(theta, objective, max_kl=delta, cg_iters=5, hvp=hvp)
    Finv_g = torch.linalg.solve(F, g)
    expected = theta0 - torch.sqrt(2 * delta / (g @ Finv_g)) * Finv_g
    torch.testing.assert_close(theta["w"].detach(), expected, rtol=1e-4, atol=1e-6)   # damping 1e-5
    assert info["accepted"] and info["step_fraction"] == 1.0 and info["ls_evaluations"] == 1
    assert info["kl"] <= delta and info["kl"] == pytest.approx(delta, rel=1e-4)
    loss_after, kl_after = (float(v.detach()) for v in objective(theta))
    assert loss_after == pytest.approx(info["loss_after"]) and loss_after < info["loss_before"]
    assert kl_after == pytest.approx(info["kl"])


def test_trpo_step_uses_the_fisher_kl_for_the_metric():
    """With the trust-region KL twice the true one, the step is 1/√2 as long: true KL after = δ/2."""
    F, g, theta0, objective = quadratic_problem(seed=3)
    theta = {"w": theta0.clone().requires_grad_(True)}
    info = trpo_step(theta, objective, max_kl=0.01, cg_iters=5, fisher_kl=lambda th: 2 * objective(th)[1])
    assert info["accepted"] and info["kl"] == pytest.approx(0.005, rel=1e-4)


def test_trpo_step_keeps_theta_when_no_step_is_acceptable():
    F, g, theta0, objective = quadratic_problem(seed=4)

    def steep(th):   # the linear loss plus a curvature so large that every line-search point is worse
        loss, kl = objective(th)
        return loss + 1e6 * ((th["w"] - theta0) ** 2).sum(), kl

    def too_far(th):  # the KL constraint fails at every line-search point
        loss, kl = objective(th)
        return loss, 1.0 + kl

    for case, objective_fn in [("loss increases", steep), ("KL too large", too_far)]:
        theta = {"w": theta0.clone().requires_grad_(True)}
        calls = []
        info = trpo_step(theta, objective_fn, max_kl=0.01, cg_iters=5, ls_steps=6,
                         evaluate=lambda th: calls.append(1) or objective_fn(th))
        assert torch.equal(theta["w"].detach(), theta0), case
        assert not info["accepted"] and info["step_fraction"] == 0.0 and info["kl"] == 0.0
        assert info["loss_after"] == info["loss_before"] and len(calls) == 6 == info["ls_evaluations"]


def test_trpo_step_with_a_zero_gradient_keeps_theta_and_never_evaluates_nan():
    _, _, theta0, objective = quadratic_problem(seed=5)
    flat_objective = lambda th: (0.0 * objective(th)[0] + 3.0, objective(th)[1])   # ∇L = 0
    theta = {"w": theta0.clone().requires_grad_(True)}
    seen = []
    info = trpo_step(theta, flat_objective, max_kl=0.01, cg_iters=5,
                     evaluate=lambda th: seen.append(th["w"].detach().clone()) or flat_objective(th))
    assert torch.equal(theta["w"].detach(), theta0) and not info["accepted"]
    assert all(torch.isfinite(w).all() for w in seen)


def test_trpo_step_rejects_bad_arguments():
    _, _, theta0, objective = quadratic_problem()
    theta = {"w": theta0.clone().requires_grad_(True)}
    for kwargs, name in [(dict(max_kl=0.0), "max_kl"), (dict(hvp="fisher"), "hvp"), (dict(backtrack=1.0), "backtrack"),
                         (dict(ls_steps=0), "ls_steps"), (dict(damping=-1.0), "damping")]:
        with pytest.raises(ValueError, match=name):
            trpo_step(theta, objective, **kwargs)
    assert torch.equal(theta["w"].detach(), theta0)


@pytest.mark.parametrize("algo", ["maml", "cavia"])
def test_trpo_step_on_meta_rl_respects_the_trust_region(algo):
    """At the sampling point (as in training): KL after ≤ δ, the surrogate decreased, θ moved; the context
    (CAVIA) is not a meta-parameter and stays."""
    batch, theta, config = float64_meta_batch("navigation2d", algo)
    before = detached(theta)
    loss0, kl0 = (float(v.detach()) for v in meta_loss_and_kl(theta, batch, config))
    assert kl0 < 1e-10                                    # π_old is π_θ'(θ) up to float32 rounding
    info = trpo_step(theta, lambda th: meta_loss_and_kl(th, batch, config), max_kl=0.01)
    loss1, kl1 = (float(v.detach()) for v in meta_loss_and_kl(theta, batch, config))
    assert info["accepted"]
    assert kl1 <= 0.01 and kl1 == pytest.approx(info["kl"], rel=1e-9)
    assert loss1 < loss0 and loss1 == pytest.approx(info["loss_after"], rel=1e-9)
    assert loss0 == pytest.approx(info["loss_before"], rel=1e-12)
    assert kl1 > 0.1 * 0.01                               # it used a real part of the trust region
    assert any(not torch.equal(theta[k].detach(), before[k]) for k in theta if k != CONTEXT)
    if algo == "cavia":
        assert torch.equal(theta[CONTEXT].detach(), before[CONTEXT])
