"""Meta-gradients against closed forms on quadratic tasks (float64, exact up to round-off).

Per task i:  support  L_s^i(θ) = ½ θᵀA_iθ − b_iᵀθ,   query  L_q^i(θ) = ½ θᵀB_iθ − c_iᵀθ,
with A_i, B_i symmetric positive definite. Then ∇L_s^i = A_iθ − b_i, ∇²L_s^i = A_i, and a k-step
inner loop θ_{j+1} = θ_j − α(A_iθ_j − b_i) has Jacobian ∂θ_k/∂θ = (I − αA_i)^k.
"""
import pytest
import torch

from course_lib import inner_update, meta_gradient
from course_lib.meta import init_alpha, maml_objective

D, T, ALPHA = 4, 5, 0.15


def random_spd(gen, n, d):
    m = torch.randn(n, d, d, generator=gen, dtype=torch.float64)
    return m @ m.transpose(-1, -2) / d + 0.5 * torch.eye(d, dtype=torch.float64)


class QuadraticTasks:
    """T quadratic tasks; params {"w": [T, D]} (leading task dimension)."""

    def __init__(self, seed=0, n_tasks=T, d=D):
        gen = torch.Generator().manual_seed(seed)
        self.n_tasks = n_tasks
        self.A, self.B = random_spd(gen, n_tasks, d), random_spd(gen, n_tasks, d)
        self.b = torch.randn(n_tasks, d, generator=gen, dtype=torch.float64)
        self.c = torch.randn(n_tasks, d, generator=gen, dtype=torch.float64)

    @staticmethod
    def _quad(w, M, v):
        return 0.5 * torch.einsum("ti,tij,tj->t", w, M, w) - (v * w).sum(-1)

    def support_loss(self, params):
        return self._quad(params["w"], self.A, self.b)

    def query_loss(self, params):
        return self._quad(params["w"], self.B, self.c)


@pytest.fixture
def tasks():
    return QuadraticTasks()


@pytest.fixture
def theta():
    gen = torch.Generator().manual_seed(1)
    return {"w": torch.randn(D, generator=gen, dtype=torch.float64, requires_grad=True)}


# Independent reference computations (plain linear algebra, no autograd) ------------------------------

def iterate(tasks, w, alpha, k):
    """φ_i after k steps, [T, D]; alpha a scalar or a [D] vector (Meta-SGD)."""
    phi = w.detach().expand(tasks.n_tasks, -1).clone()
    for _ in range(k):
        phi = phi - alpha * (torch.einsum("tij,tj->ti", tasks.A, phi) - tasks.b)
    return phi


def query_grad(tasks, phi):
    return torch.einsum("tij,tj->ti", tasks.B, phi) - tasks.c


def jac_power(tasks, alpha, k):
    eye = torch.eye(tasks.A.shape[-1], dtype=torch.float64)
    return torch.linalg.matrix_power(eye - alpha * tasks.A, k)


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# -----------------------------------------------------------------------------------------------------

def test_maml_one_step_closed_form(tasks, theta):
    phi = iterate(tasks, theta["w"], ALPHA, 1)
    eye = torch.eye(D, dtype=torch.float64)
    expected = torch.einsum("tij,tj->ti", eye - ALPHA * tasks.A, query_grad(tasks, phi)).mean(0)
    got = meta_gradient(theta, tasks, ALPHA, steps=1, method="maml")
    assert set(got) == {"w"}
    close(got["w"], expected)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_maml_k_steps_closed_form(tasks, theta, k):
    phi = iterate(tasks, theta["w"], ALPHA, k)
    expected = torch.einsum("tij,tj->ti", jac_power(tasks, ALPHA, k), query_grad(tasks, phi)).mean(0)
    close(meta_gradient(theta, tasks, ALPHA, steps=k, method="maml")["w"], expected)


@pytest.mark.parametrize("k", [1, 3])
def test_fomaml_drops_the_jacobian(tasks, theta, k):
    phi = iterate(tasks, theta["w"], ALPHA, k)
    expected = query_grad(tasks, phi).mean(0)
    got = meta_gradient(theta, tasks, ALPHA, steps=k, method="fomaml")["w"]
    close(got, expected)
    # ... and really differs from the second-order gradient here (A_i is far from 0)
    maml = meta_gradient(theta, tasks, ALPHA, steps=k, method="maml")["w"]
    assert (got - maml).norm() > 1e-3 * maml.norm()


@pytest.mark.parametrize("k", [1, 2, 5])
def test_reptile_direction_by_hand(tasks, theta, k):
    phi = iterate(tasks, theta["w"], ALPHA, k)
    expected = (theta["w"].detach() - phi).mean(0)
    got = meta_gradient(theta, tasks, ALPHA, steps=k, method="reptile")["w"]
    assert not got.requires_grad
    close(got, expected)


def test_reptile_one_step_is_mean_support_gradient_times_alpha(tasks, theta):
    # k = 1: θ − φ_i = α ∇L_s^i(θ), so Reptile is joint training on the support losses
    grad = torch.einsum("tij,j->ti", tasks.A, theta["w"].detach()) - tasks.b
    close(meta_gradient(theta, tasks, ALPHA, steps=1, method="reptile")["w"], ALPHA * grad.mean(0))


def test_zero_steps_is_plain_query_gradient(tasks, theta):
    expected = (torch.einsum("tij,j->ti", tasks.B, theta["w"].detach()) - tasks.c).mean(0)
    for method in ("maml", "fomaml"):
        close(meta_gradient(theta, tasks, ALPHA, steps=0, method=method)["w"], expected)
    obj = maml_objective(theta, tasks, ALPHA, steps=0)
    close(obj, tasks.query_loss({"w": theta["w"].expand(T, D)}).mean())


def test_meta_gradient_is_task_average(theta):
    """Each task's meta-gradient does not leak into another's (the summed inner loss is per-slice)."""
    tasks = QuadraticTasks(seed=3)
    whole = meta_gradient(theta, tasks, ALPHA, method="maml")["w"]
    singles = []
    for i in range(T):
        one = QuadraticTasks(seed=3)
        one.n_tasks = 1
        one.A, one.B, one.b, one.c = (t[i:i + 1] for t in (tasks.A, tasks.B, tasks.b, tasks.c))
        singles.append(meta_gradient(theta, one, ALPHA, method="maml")["w"])
    close(whole, torch.stack(singles).mean(0))


@pytest.mark.parametrize("k", [0, 1, 4])
@pytest.mark.parametrize("first_order", [False, True])
def test_inner_update_unbatched_quadratic(k, first_order):
    gen = torch.Generator().manual_seed(7)
    A = random_spd(gen, 1, D)[0]
    b = torch.randn(D, generator=gen, dtype=torch.float64)
    w0 = torch.randn(D, generator=gen, dtype=torch.float64, requires_grad=True)
    out = inner_update({"w": w0}, lambda p: 0.5 * p["w"] @ A @ p["w"] - b @ p["w"], ALPHA, steps=k,
                       first_order=first_order)
    # closed form: θ_k = θ* + (I − αA)^k (θ_0 − θ*), θ* = A⁻¹b
    star = torch.linalg.solve(A, b)
    expected = star + torch.linalg.matrix_power(torch.eye(D, dtype=torch.float64) - ALPHA * A, k) @ (w0.detach() - star)
    assert set(out) == {"w"}
    close(out["w"].detach(), expected)


def test_inner_update_converges_to_minimiser():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    b = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    w0 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    out = inner_update({"w": w0}, lambda p: 0.5 * p["w"] @ A @ p["w"] - b @ p["w"], 0.2, steps=200,
                       first_order=True)
    close(out["w"].detach(), b / torch.diagonal(A))


def test_meta_sgd_closed_form(tasks, theta):
    """α a vector a: θ'_i = θ − a∘(A_iθ − b_i), ∂θ'_i/∂θ = I − diag(a)A_i, so
    ∇_θ = mean_i (I − diag(a)A_i)ᵀ ∇L_q(θ'_i) = mean_i (I − A_i diag(a)) ∇L_q(θ'_i)
    and ∇_a = −mean_i (A_iθ − b_i) ∘ ∇L_q(θ'_i)."""
    gen = torch.Generator().manual_seed(5)
    a = (0.05 + 0.2 * torch.rand(D, generator=gen, dtype=torch.float64)).requires_grad_(True)
    alpha = {"w": a}
    w = theta["w"].detach()
    phi = iterate(tasks, w, a.detach(), 1)
    gq = query_grad(tasks, phi)
    jac = torch.eye(D, dtype=torch.float64) - a.detach()[:, None] * tasks.A  # diag(a) A_i
    expected_theta = torch.einsum("tji,tj->ti", jac, gq).mean(0)             # Jᵀ g
    close(meta_gradient(theta, tasks, alpha, method="maml")["w"], expected_theta)

    # the gradient with respect to the learned rates themselves
    loss = maml_objective(theta, tasks, alpha)
    (g_alpha,) = torch.autograd.grad(loss, [a])
    support_grad = torch.einsum("tij,j->ti", tasks.A, w) - tasks.b
    close(g_alpha, -(support_grad * gq).mean(0))


def test_meta_sgd_uniform_rates_equal_scalar_maml(tasks, theta):
    alpha = init_alpha(theta, ALPHA)
    assert torch.equal(alpha["w"], torch.full((D,), ALPHA, dtype=torch.float64))
    close(meta_gradient(theta, tasks, alpha, method="maml")["w"],
          meta_gradient(theta, tasks, ALPHA, method="maml")["w"])
