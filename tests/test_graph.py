"""The computation graph of the inner loop: second order keeps ∂θ'/∂θ = I − α∇²L, first order drops it.

The classic MAML bug is computing the inner gradient without create_graph=True: everything still
runs, the loss still goes down, but the "MAML" gradient is silently FOMAML's. These tests catch it.
"""
import numpy as np
import pytest
import torch

import course_lib.inner
from course_lib import MLP, inner_update, meta_gradient
from course_lib.functional import batched, forward, parameters_of
from course_lib.meta import adapt, adapt_context
from course_lib.tasks import RegressionBatch, SinusoidDistribution


def sinusoid_batch(model, n_tasks=5, k=10, seed=0):
    return SinusoidDistribution().sample_batch(n_tasks, k, k, np.random.default_rng(seed), model)


def max_rel_diff(a, b):
    return max(float((a[k] - b[k]).norm() / b[k].norm()) for k in b)


@pytest.mark.parametrize("steps", [1, 3])
def test_second_order_differs_from_first_order_on_a_network(steps):
    model = MLP(1, 1, (16, 16))
    theta = parameters_of(model)
    batch = sinusoid_batch(model)
    maml = meta_gradient(theta, batch, 0.05, steps, method="maml")
    fomaml = meta_gradient(theta, batch, 0.05, steps, method="fomaml")
    assert set(maml) == set(fomaml) == set(theta)
    assert max_rel_diff(maml, fomaml) > 1e-3


def test_missing_create_graph_is_detected(monkeypatch):
    """Simulate the bug (inner gradients built without create_graph): MAML collapses onto FOMAML,
    which is exactly what the test above rejects."""
    model = MLP(1, 1, (16, 16))
    theta = parameters_of(model)
    batch = sinusoid_batch(model)
    fomaml = meta_gradient(theta, batch, 0.05, 1, method="fomaml")
    real_grad = torch.autograd.grad

    def buggy_grad(*args, **kwargs):
        kwargs["create_graph"] = False
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(course_lib.inner.torch.autograd, "grad", buggy_grad)
    buggy = meta_gradient(theta, batch, 0.05, 1, method="maml")
    monkeypatch.undo()
    for k in theta:
        torch.testing.assert_close(buggy[k], fomaml[k], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("a,alpha,steps", [(3.0, 0.1, 1), (2.0, 0.2, 1), (3.0, 0.1, 3), (0.5, 0.4, 2)])
def test_jacobian_of_one_dimensional_inner_loop(a, alpha, steps):
    """Support loss ½aθ²: θ_k = (1 − αa)^k θ, so dθ_k/dθ = (1 − αa)^k (second order) and 1 (first order)."""
    theta = torch.tensor([1.7], dtype=torch.float64, requires_grad=True)
    loss = lambda p: 0.5 * a * (p["w"] ** 2).sum()

    second = inner_update({"w": theta}, loss, alpha, steps)["w"]
    assert second.requires_grad and second.grad_fn is not None
    (d_second,) = torch.autograd.grad(second.sum(), theta)
    assert d_second.item() == pytest.approx((1 - alpha * a) ** steps, rel=1e-12)
    assert second.item() == pytest.approx((1 - alpha * a) ** steps * 1.7, rel=1e-12)

    first = inner_update({"w": theta}, loss, alpha, steps, first_order=True)["w"]
    (d_first,) = torch.autograd.grad(first.sum(), theta)
    assert d_first.item() == 1.0
    assert first.item() == pytest.approx(second.item(), rel=1e-12)  # same values, different graph


def test_second_derivative_through_the_inner_gradient():
    """With create_graph the inner gradient itself is differentiable: d²θ'/dθ² for a cubic support loss."""
    theta = torch.tensor([0.8], dtype=torch.float64, requires_grad=True)
    alpha = 0.1
    out = inner_update({"w": theta}, lambda p: (p["w"] ** 3).sum() / 3, alpha)["w"]  # θ − αθ²
    (d1,) = torch.autograd.grad(out.sum(), theta, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), theta)
    assert d1.item() == pytest.approx(1 - 2 * alpha * 0.8, rel=1e-12)
    assert d2.item() == pytest.approx(-2 * alpha, rel=1e-12)


def test_first_order_adapted_params_carry_no_inner_gradient_graph():
    model = MLP(1, 1, (8,))
    theta = parameters_of(model)
    batch = sinusoid_batch(model, n_tasks=3)
    phi = adapt(theta, batch, 0.1, steps=2, first_order=True)
    # φ = θ + const: the derivative of Σφ w.r.t. θ is exactly T (one per task copy) in every entry
    for k in theta:
        (d,) = torch.autograd.grad(phi[k].sum(), theta[k])
        assert torch.equal(d, torch.full_like(theta[k], 3.0))
    phi2 = adapt(theta, batch, 0.1, steps=2, first_order=False)
    d2 = torch.autograd.grad(phi2["net.0.weight"].sum(), theta["net.0.weight"])[0]
    assert not torch.equal(d2, torch.full_like(d2, 3.0))


def test_batched_adaptation_equals_per_task_adaptation():
    model = MLP(1, 1, (8, 8))
    theta = parameters_of(model)
    batch = sinusoid_batch(model, n_tasks=4)
    phi = adapt(theta, batch, 0.1, steps=2)
    for i in range(4):
        one = RegressionBatch(model, batch.x_support[i:i + 1], batch.y_support[i:i + 1],
                              batch.x_query[i:i + 1], batch.y_query[i:i + 1])
        phi_i = adapt(theta, one, 0.1, steps=2)
        for k in theta:
            torch.testing.assert_close(phi[k][i], phi_i[k][0], rtol=1e-5, atol=1e-7)


# CAVIA -------------------------------------------------------------------------------------------------

def cavia_setup(context_dim=3, n_tasks=4):
    torch.manual_seed(0)
    model = MLP(1, 1, (16, 16), context_dim=context_dim)
    theta = parameters_of(model)
    with torch.no_grad():
        theta["context"].fill_(5.0)  # whatever the model holds, each task's context starts at 0
    return model, theta, sinusoid_batch(model, n_tasks=n_tasks)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 3])
def test_cavia_inner_loop_only_moves_the_context(first_order, steps):
    model, theta, batch = cavia_setup()
    out = adapt_context(theta, batch, 1.0, steps, first_order, context_dim=3)
    assert set(out) == set(theta)
    for k in theta:
        if k == "context":
            continue
        assert out[k].shape == (batch.n_tasks, *theta[k].shape)
        for i in range(batch.n_tasks):
            assert torch.equal(out[k][i], theta[k].detach())  # shared weights untouched, bit for bit
    assert out["context"].shape == (batch.n_tasks, 3)
    assert (out["context"].abs().sum(1) > 0).all()


def test_cavia_context_starts_at_zero_and_takes_a_per_task_gradient_step():
    model, theta, batch = cavia_setup()
    alpha = 0.7
    start = adapt_context(theta, batch, alpha, 0, context_dim=3)
    assert torch.equal(start["context"], torch.zeros(batch.n_tasks, 3))
    one = adapt_context(theta, batch, alpha, 1, context_dim=3)
    shared = {k: v.detach() for k, v in theta.items() if k != "context"}
    for i in range(batch.n_tasks):  # independent: one task at a time, no vmap, no inner_update
        ctx = torch.zeros(3, requires_grad=True)
        pred = forward(model, {**shared, "context": ctx}, batch.x_support[i])
        loss = ((pred - batch.y_support[i]) ** 2).mean()
        (g,) = torch.autograd.grad(loss, ctx)
        torch.testing.assert_close(one["context"][i], -alpha * g, rtol=1e-5, atol=1e-7)


def test_cavia_meta_gradient_flows_only_through_the_query_loss():
    """Second-order CAVIA differs from first-order CAVIA (∂φ/∂θ ≠ 0), while neither returns a context
    gradient; with zero inner steps both equal the plain query-loss gradient at context 0."""
    model, theta, batch = cavia_setup()
    so = meta_gradient(theta, batch, 1.0, 1, method="cavia", context_dim=3)
    fo = meta_gradient(theta, batch, 1.0, 1, method="cavia_fo", context_dim=3)
    assert "context" not in so and "context" not in fo
    assert max_rel_diff(so, fo) > 1e-4

    zero = meta_gradient(theta, batch, 1.0, 0, method="cavia", context_dim=3)
    shared = {k: v for k, v in theta.items() if k != "context"}
    params = {**batched(shared, batch.n_tasks), "context": torch.zeros(batch.n_tasks, 3)}
    expected = torch.autograd.grad(batch.query_loss(params).mean(), list(shared.values()))
    for k, e in zip(shared, expected):
        torch.testing.assert_close(zero[k], e)
