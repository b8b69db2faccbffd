"""course_lib.landscape against closed forms on quadratics (float64, exact up to round-off).

L(θ) = ½ θᵀHθ − bᵀθ with H = Q diag(λ) Qᵀ known: ∇L = Hθ − b, ∇²L = H, so power iteration must return
λ_max and ±Q[:, argmax λ]; the slice L(θ + a·d₁ + b·d₂) is a quadratic in (a, b); and one step on
quadratic tasks lands at θ − α(A_iθ − b_i), whose query loss is known.
"""
import math

import numpy as np
import pytest
import torch

from course_lib.landscape import (dot, gradient, hessian_vector_product, loss_after_one_step, loss_slice,
                                  orthonormal_pair, top_hessian_eigenvector, unit)

D = 6


def quadratic(eigenvalues, seed=0):
    """(H, b, loss_fn) with H = Q diag(eigenvalues) Qᵀ for a random orthogonal Q; params {"w": [D]}."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=gen, dtype=torch.float64))
    h = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    b = torch.randn(len(eigenvalues), generator=gen, dtype=torch.float64)
    return h, b, q, (lambda p: 0.5 * p["w"] @ h @ p["w"] - b @ p["w"])


def point(seed=1, d=D):
    return {"w": torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)}


class QuadraticTasks:
    """T quadratic tasks with support ½wᵀA_iw − b_iᵀw and query ½wᵀB_iw − c_iᵀw; params {"w": [T, D]}."""

    def __init__(self, n_tasks=5, d=4, seed=0):
        gen = torch.Generator().manual_seed(seed)
        m = torch.randn(2, n_tasks, d, d, generator=gen, dtype=torch.float64)
        spd = m @ m.transpose(-1, -2) / d + 0.5 * torch.eye(d, dtype=torch.float64)
        self.A, self.B = spd
        self.b, self.c = torch.randn(2, n_tasks, d, generator=gen, dtype=torch.float64)
        self.n_tasks = n_tasks

    @staticmethod
    def _quad(w, M, v):
        return 0.5 * torch.einsum("ti,tij,tj->t", w, M, w) - (v * w).sum(-1)

    def support_loss(self, params):
        return self._quad(params["w"], self.A, self.b)

    def query_loss(self, params):
        return self._quad(params["w"], self.B, self.c)


# ------------------------------------------------------------------------------------ closed forms
def test_power_iteration_finds_the_top_eigenpair():
    eigenvalues = [5.0, 2.0, 1.0, 0.5, -1.0, 0.1]
    h, _, q, loss_fn = quadratic(eigenvalues)
    lam, v = top_hessian_eigenvector(point(), loss_fn, iters=200, seed=3)
    assert lam == pytest.approx(5.0, rel=1e-8)
    assert abs(float(v["w"] @ q[:, 0])) == pytest.approx(1.0, abs=1e-8)          # ± the eigenvector
    assert float(dot(v, v)) == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(h @ v["w"], lam * v["w"])


def test_a_larger_negative_eigenvalue_does_not_hide_the_largest_one():
    """|−9| > 3: plain power iteration would return −9; λ_max is 3 (a saddle's most negative curvature)."""
    _, _, q, loss_fn = quadratic([3.0, -9.0, 1.0, 0.2, -0.5, 2.0], seed=4)
    lam, v = top_hessian_eigenvector(point(), loss_fn, iters=300, seed=0)
    assert lam == pytest.approx(3.0, rel=1e-6)
    assert abs(float(v["w"] @ q[:, 0])) == pytest.approx(1.0, abs=1e-6)


def test_gradient_and_hessian_vector_product_are_h_theta_minus_b_and_h_v():
    h, b, _, loss_fn = quadratic([4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    v = point(seed=7)
    torch.testing.assert_close(gradient(point(), loss_fn)["w"], h @ point()["w"] - b)
    torch.testing.assert_close(hessian_vector_product(point(), loss_fn, v)["w"], h @ v["w"])


def test_loss_slice_matches_the_closed_form():
    h, b, _, loss_fn = quadratic([4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    theta = point()
    d1, d2 = orthonormal_pair(point(seed=5), point(seed=6))
    assert float(dot(d1, d2)) == pytest.approx(0.0, abs=1e-12)
    a_values, b_values = np.linspace(-1, 2, 7), np.linspace(-0.5, 0.5, 5)
    values = loss_slice(theta, loss_fn, d1, d2, (a_values, b_values))
    assert values.shape == (5, 7)                                               # rows index b
    for j, bj in enumerate(b_values):
        for i, ai in enumerate(a_values):
            w = theta["w"] + ai * d1["w"] + bj * d2["w"]
            assert values[j, i].item() == pytest.approx(float(0.5 * w @ h @ w - b @ w), rel=1e-12, abs=1e-12)
    square = loss_slice(theta, loss_fn, d1, d2, np.linspace(-1, 1, 3))          # one grid for both axes
    assert square.shape == (3, 3) and square[1, 1].item() == pytest.approx(loss_fn(theta).item())


def test_loss_after_one_step_matches_the_closed_form():
    tasks = QuadraticTasks()
    theta = {"w": torch.randn(4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)}
    alphas = [0.01, 0.1, 0.3]
    got = loss_after_one_step(theta, tasks, alphas)
    for k, alpha in enumerate(alphas):
        w = theta["w"] - alpha * (torch.einsum("tij,j->ti", tasks.A, theta["w"]) - tasks.b)   # θ − α∇L_s^i
        expected = tasks.query_loss({"w": w}).mean()
        assert got[k].item() == pytest.approx(expected.item(), rel=1e-12)
    assert not theta["w"].requires_grad                                        # θ itself is left alone


def test_unit_and_orthonormal_pair():
    u = unit({"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([[4.0]])})
    assert float(dot(u, u)) == pytest.approx(1.0)
    assert u["a"][0].item() == pytest.approx(0.6) and u["b"][0, 0].item() == pytest.approx(0.8)
    with pytest.raises(ValueError, match="d2"):
        orthonormal_pair({"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([2.0, 0.0])})   # parallel


# ------------------------------------------------------------------------------------ bad input
def test_bad_inputs_name_the_argument():
    _, _, _, loss_fn = quadratic([4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    theta, d = point(), unit(point(seed=5))
    tasks = QuadraticTasks()
    theta4 = {"w": torch.zeros(4, dtype=torch.float64)}
    cases = [
        (lambda: loss_after_one_step(theta4, tasks, [0.1, -0.1]), "alphas"),
        (lambda: loss_after_one_step(theta4, tasks, [0.1, math.inf]), "alphas"),
        (lambda: loss_after_one_step(theta4, tasks, []), "alphas"),
        (lambda: loss_after_one_step(theta4, tasks, [[0.1]]), "alphas"),
        (lambda: loss_after_one_step({}, tasks, [0.1]), "theta"),
        (lambda: loss_after_one_step(theta4, object(), [0.1]), "task_batch"),
        (lambda: top_hessian_eigenvector(theta, loss_fn, iters=0), "iters"),
        (lambda: top_hessian_eigenvector(theta, loss_fn, seed=-1), "seed"),
        (lambda: top_hessian_eigenvector(theta, loss_fn, iters=2.5), "iters"),
        (lambda: top_hessian_eigenvector([1.0], loss_fn), "params"),
        (lambda: top_hessian_eigenvector(theta, lambda p: p["w"] * 2), "scalar"),
        (lambda: loss_slice(theta, loss_fn, {"v": d["w"]}, d, [0.0]), "d1"),
        (lambda: loss_slice(theta, loss_fn, d, {"w": d["w"][:3]}, [0.0]), "d2"),
        (lambda: loss_slice(theta, loss_fn, d, {"w": d["w"] * math.nan}, [0.0]), "d2"),
        (lambda: loss_slice(theta, loss_fn, d, d, np.zeros((2, 3))), "grid"),
        (lambda: loss_slice(theta, loss_fn, d, d, ([0.0, 1.0], [])), r"grid\[1\]"),
        (lambda: hessian_vector_product(theta, loss_fn, {"w": torch.ones(2)}), "v"),
        (lambda: unit({"w": torch.zeros(3)}), "direction"),
        (lambda: gradient(theta, lambda p: p["w"]), "scalar"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
