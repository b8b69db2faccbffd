"""The linear feature baseline (Duan et al. 2016, as in the MAML paper), fitted per task.

    features(s, t) = [s, s², t, t², t³, 1]   (t = step / 100, s clipped to ±10)
    w = argmin Σ_valid (features·w − R)² + λ‖w‖²,   λ = 1e-5, ×10 until the solve is finite
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


def features(obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[T, N, H, d] observations → [T, N, H, 2d + 4] features (zero where the mask is 0)."""
    s = obs.clamp(-10, 10)
    t = (torch.arange(obs.shape[2], dtype=obs.dtype) / 100.0).view(1, 1, -1, 1).expand(*obs.shape[:3], 1)
    return torch.cat([s, s ** 2, t, t ** 2, t ** 3, torch.ones_like(t)], dim=-1) * mask.unsqueeze(-1)


def fit_linear_baseline(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                        reg: float = 1e-5, attempts: int = 5) -> torch.Tensor:
    """Ridge weights per task, [T, F], solved in float64 with `torch.linalg.solve_ex` (batched), on one
    thread whatever the learner's: MKL's multithreaded batched LU fails on the Ant's 214-feature systems
    ("oneMKL ERROR ... DLASWP", then an exception or finite garbage), and so the weights are the same
    bits with any --threads. A task's solution counts only if its backward error is small."""
    with _one_thread():
        X = features(obs, mask).flatten(1, 2).double()           # [T, N·H, F]
        y = (returns * mask).flatten(1, 2).double()              # [T, N·H]
        A, b = X.transpose(1, 2) @ X, (X.transpose(1, 2) @ y.unsqueeze(-1)).squeeze(-1)
        eye = torch.eye(A.shape[-1], dtype=A.dtype)
        w = torch.full_like(b, float("nan"))
        for k in range(attempts):                                # escalate λ where a task's solve fails
            todo = ~torch.isfinite(w).all(-1)
            if not todo.any():
                break
            A_k = A[todo] + reg * 10 ** k * eye
            solution, info = torch.linalg.solve_ex(A_k, b[todo])
            ok = (info == 0) & _accurate(A_k, solution, b[todo])
            w[todo] = torch.where(ok.unsqueeze(-1), solution, w[todo])
    return torch.nan_to_num(w).to(obs.dtype)


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _accurate(A: torch.Tensor, x: torch.Tensor, b: torch.Tensor, tol: float = 1e-8) -> torch.Tensor:
    """Per system: x finite and ‖Ax − b‖ ≤ tol (‖A‖_F ‖x‖ + ‖b‖), the normwise backward error LU with
    partial pivoting keeps near machine precision (float64: ~1e-16 × a modest growth factor)."""
    finite = torch.isfinite(x).all(-1)
    x0 = torch.where(finite.unsqueeze(-1), x, torch.zeros_like(x))
    residual = (A @ x0.unsqueeze(-1)).squeeze(-1) - b
    norm = lambda v: torch.linalg.vector_norm(v, dim=-1)
    return finite & (norm(residual) <= tol * (torch.linalg.matrix_norm(A) * norm(x0) + norm(b)))


def baseline_values(weights: torch.Tensor, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """V(s_t) = features·w per step: [T, N, H]."""
    return (features(obs, mask) * weights[:, None, None, :]).sum(-1)
