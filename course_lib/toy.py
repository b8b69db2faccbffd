"""A 2-D quadratic toy task on which every meta-gradient has a closed form (notebook 02).

    L_s(θ) = ½ θᵀSθ − sᵀθ        support loss: the inner loop descends it
    L_q(θ) = ½ θᵀQθ − qᵀθ        query loss: the meta-objective scores the adapted point

(notebook 02 and docs/formulas.md write S, s, Q, q — A is the sine's amplitude there; the fields of
`QuadraticTasks` keep their names: A = S, b = s, C = Q, d = q). With M = I − αS (symmetric, because S
is), k inner steps from θ land at

    θ_k = M^k θ + (I − M^k) S⁻¹s                      (one step: θ' = θ − α(Sθ − s))

and the three meta-learning directions at θ are

    MAML     ∇_θ L_q(θ_k) = M^k (Qθ_k − q)            the Jacobian ∂θ_k/∂θ = M^k = Π (I − α∇²L_s)
    FOMAML                  Qθ_k − q                  the Jacobian replaced by I
    Reptile          θ − φ_k                          φ_k: k inner steps; the query loss plays no part

`QuadraticTasks` is a task batch in the library's sense (`n_tasks`, `support_loss`, `query_loss`
on task-batched params), so `course_lib.meta_gradient` runs on it unchanged; the `closed_form_*`
functions here are the independent check. Parameters are the dict {"theta": tensor of shape [2]}.
Everything is float64 so library and closed form agree to ~1e-15.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .validation import check_alpha, check_int, check_shape

PARAM = "theta"  # the single parameter of the toy problem, shape [2]
DTYPE = torch.float64


@dataclass
class QuadraticTasks:
    """T quadratic tasks: A, C of shape [T, 2, 2] (symmetric positive definite), b, d of shape [T, 2]."""
    A: torch.Tensor
    b: torch.Tensor
    C: torch.Tensor
    d: torch.Tensor

    def __post_init__(self):
        self.A, self.b, self.C, self.d = (torch.as_tensor(v, dtype=DTYPE) for v in (self.A, self.b, self.C, self.d))
        t = self.A.shape[0] if self.A.dim() == 3 else -1
        if t < 1:
            raise ValueError(f"A must have shape (T, 2, 2) with T >= 1, got {tuple(self.A.shape)}")
        for name, shape in (("A", (t, 2, 2)), ("b", (t, 2)), ("C", (t, 2, 2)), ("d", (t, 2))):
            check_shape(getattr(self, name), name, shape)
        for name in ("A", "C"):
            m = getattr(self, name)
            if not torch.allclose(m, m.transpose(1, 2)):
                raise ValueError(f"{name} must be symmetric")
            if torch.linalg.eigvalsh(m).min() <= 0:
                raise ValueError(f"{name} must be positive definite (every eigenvalue > 0)")

    @property
    def n_tasks(self) -> int:
        return self.A.shape[0]

    def support_loss(self, params) -> torch.Tensor:
        """L_s per task, for params {"theta": [T, 2]} → [T]."""
        return _quadratic(params[PARAM], self.A, self.b)

    def query_loss(self, params) -> torch.Tensor:
        """L_q per task, for params {"theta": [T, 2]} → [T]."""
        return _quadratic(params[PARAM], self.C, self.d)


def _quadratic(theta: torch.Tensor, H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.einsum("ti,tij,tj->t", theta, H, theta) - (g * theta).sum(-1)


def toy_task() -> QuadraticTasks:
    """The workbook's default single task: support and query minima apart, curvatures misaligned.

    A has eigenvalues ≈ 1.95 and 0.55, so the inner loop is stable for α < 2/1.95 ≈ 1.03.
    """
    A = torch.tensor([[1.6, 0.6], [0.6, 0.9]], dtype=DTYPE)
    C = torch.tensor([[0.7, -0.3], [-0.3, 1.5]], dtype=DTYPE)
    support_min = torch.tensor([1.0, 0.2], dtype=DTYPE)
    query_min = torch.tensor([0.2, 1.0], dtype=DTYPE)
    return QuadraticTasks(A[None], (A @ support_min)[None], C[None], (C @ query_min)[None])


def support_minimizer(tasks: QuadraticTasks) -> np.ndarray:
    """A⁻¹b per task: [T, 2]."""
    return torch.linalg.solve(tasks.A, tasks.b).numpy()


def query_minimizer(tasks: QuadraticTasks) -> np.ndarray:
    """C⁻¹d per task: [T, 2]."""
    return torch.linalg.solve(tasks.C, tasks.d).numpy()


def check_theta(theta) -> torch.Tensor:
    """θ as a float64 tensor of shape [2]; ValueError if it is not two finite numbers."""
    theta = torch.as_tensor(np.asarray(theta, dtype=np.float64), dtype=DTYPE)
    check_shape(theta, "theta", (2,))
    if not torch.isfinite(theta).all():
        raise ValueError(f"theta must be finite, got {theta.tolist()}")
    return theta


def _step_maps(tasks: QuadraticTasks, alpha: float, steps: int):
    """(M^k, c) with θ_k = M^k θ + c for every task: shapes [T, 2, 2] and [T, 2]."""
    check_alpha(alpha)
    check_int(steps, "steps", 0)
    eye = torch.eye(2, dtype=DTYPE).expand_as(tasks.A)
    Mk = torch.linalg.matrix_power(eye - alpha * tasks.A, steps)
    c = torch.einsum("tij,tj->ti", eye - Mk, torch.linalg.solve(tasks.A, tasks.b))
    return Mk, c


def adapted_point(tasks: QuadraticTasks, theta, alpha: float, steps: int = 1) -> np.ndarray:
    """θ_k per task, [T, 2] (closed form)."""
    Mk, c = _step_maps(tasks, alpha, steps)
    return (torch.einsum("tij,j->ti", Mk, check_theta(theta)) + c).numpy()


def closed_form_directions(tasks: QuadraticTasks, theta, alpha: float, steps: int = 1,
                           reptile_steps: int | None = None) -> dict[str, np.ndarray]:
    """MAML, FOMAML and Reptile directions at θ, averaged over the tasks (as `meta_gradient` does).

    Reptile runs `reptile_steps` inner steps (default: `steps`); its direction is mean_i (θ − φ_i).
    """
    theta_t = check_theta(theta)
    Mk, c = _step_maps(tasks, alpha, steps)
    theta_k = torch.einsum("tij,j->ti", Mk, theta_t) + c
    query_grad = torch.einsum("tij,tj->ti", tasks.C, theta_k) - tasks.d      # ∇L_q(θ_k)
    maml = torch.einsum("tij,tj->ti", Mk, query_grad)                        # (M^k)ᵀ ∇L_q(θ_k)
    Mr, cr = _step_maps(tasks, alpha, steps if reptile_steps is None else reptile_steps)
    phi = torch.einsum("tij,j->ti", Mr, theta_t) + cr
    return {"maml": maml.mean(0).numpy(), "fomaml": query_grad.mean(0).numpy(),
            "reptile": (theta_t - phi).mean(0).numpy()}


def meta_objective_grid(tasks: QuadraticTasks, alpha: float, steps: int, grid_x: np.ndarray,
                        grid_y: np.ndarray) -> np.ndarray:
    """F(θ) = mean_i L_q,i(θ_k) at every grid point (grid_x, grid_y of equal shape)."""
    Mk, c = _step_maps(tasks, alpha, steps)
    pts = torch.as_tensor(np.stack([np.ravel(grid_x), np.ravel(grid_y)], -1), dtype=DTYPE)  # [N, 2]
    adapted = torch.einsum("tij,nj->nti", Mk, pts) + c                                      # [N, T, 2]
    values = 0.5 * torch.einsum("nti,tij,ntj->nt", adapted, tasks.C, adapted) \
        - torch.einsum("nti,ti->nt", adapted, tasks.d)
    return values.mean(1).reshape(np.shape(grid_x)).numpy()


def loss_grid(H: torch.Tensor, g: torch.Tensor, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    """½θᵀHθ − gᵀθ on a grid, for one task's H [2, 2] and g [2]."""
    pts = torch.as_tensor(np.stack([np.ravel(grid_x), np.ravel(grid_y)], -1), dtype=DTYPE)
    values = 0.5 * torch.einsum("ni,ij,nj->n", pts, H, pts) - pts @ g
    return values.reshape(np.shape(grid_x)).numpy()


def maml_minimizer(tasks: QuadraticTasks, alpha: float, steps: int = 1) -> np.ndarray | None:
    """argmin_θ F(θ): solve Σ_i M_iᵏ C_i M_iᵏ θ = Σ_i M_iᵏ (d_i − C_i c_i)  ([2]).

    For one task with M invertible this is the θ whose k-step adaptation lands exactly on C⁻¹d.
    Returns None when the system is (numerically) singular: at α = 1/λ for an eigenvalue λ of A one
    inner step jumps straight to the support minimum along that eigenvector, so F is flat along it
    and has no unique minimiser.
    """
    Mk, c = _step_maps(tasks, alpha, steps)
    lhs = torch.einsum("tij,tjk,tkl->il", Mk, tasks.C, Mk)
    rhs = torch.einsum("tij,tj->i", Mk, tasks.d - torch.einsum("tij,tj->ti", tasks.C, c))
    if torch.linalg.cond(lhs) > 1e10:
        return None
    return torch.linalg.solve(lhs, rhs).numpy()


__all__ = ["PARAM", "QuadraticTasks", "check_theta", "toy_task", "support_minimizer", "query_minimizer", "adapted_point",
           "closed_form_directions", "meta_objective_grid", "loss_grid", "maml_minimizer"]
