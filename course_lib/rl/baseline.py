"""The linear feature baseline (Duan et al. 2016, as in the MAML paper), fitted per task.

    features(s, t) = [s, s², t, t², t³, 1]   (t = step / 100, s clipped to ±10)
    w = argmin Σ_valid (features·w − R)² + λ‖w‖²,   λ = 1e-5, ×10 until the solve is finite
"""
from __future__ import annotations

import torch


def features(obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[T, N, H, d] observations → [T, N, H, 2d + 4] features (zero where the mask is 0)."""
    s = obs.clamp(-10, 10)
    t = (torch.arange(obs.shape[2], dtype=obs.dtype) / 100.0).view(1, 1, -1, 1).expand(*obs.shape[:3], 1)
    return torch.cat([s, s ** 2, t, t ** 2, t ** 3, torch.ones_like(t)], dim=-1) * mask.unsqueeze(-1)


def fit_linear_baseline(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                        reg: float = 1e-5, attempts: int = 5) -> torch.Tensor:
    """Ridge weights per task, [T, F], solved in float64 with `torch.linalg.solve` (batched)."""
    X = features(obs, mask).flatten(1, 2).double()               # [T, N·H, F]
    y = (returns * mask).flatten(1, 2).double()                  # [T, N·H]
    A, b = X.transpose(1, 2) @ X, (X.transpose(1, 2) @ y.unsqueeze(-1)).squeeze(-1)
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    w = torch.full_like(b, float("nan"))
    for k in range(attempts):                                    # escalate λ where a task's solve fails
        todo = ~torch.isfinite(w).all(-1)
        if not todo.any():
            break
        solution, ok = _solve(A[todo] + reg * 10 ** k * eye, b[todo])
        w[todo] = torch.where(ok.unsqueeze(-1), solution, w[todo])
    return torch.nan_to_num(w).to(obs.dtype)


def _solve(A: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, solved) for the batch of systems A x = b. MKL's batched LU can fail with several threads on
    large ill-conditioned systems (the Ant's 214 features: a RuntimeError, non-finite values, or, after
    "oneMKL ERROR ... DLASWP", finite garbage), where one system at a time succeeds; so a solution counts
    only if its backward error is small, and with one thread both ways give the same bits."""
    try:
        x, info = torch.linalg.solve_ex(A, b)
    except RuntimeError:
        x, info = torch.full_like(b, float("nan")), torch.ones(len(b), dtype=torch.int32)
    ok = (info == 0) & _accurate(A, x, b)
    for i in (~ok).nonzero().flatten().tolist():
        x[i], info_i = torch.linalg.solve_ex(A[i], b[i])
        ok[i] = bool(info_i == 0) and bool(_accurate(A[i:i + 1], x[i:i + 1], b[i:i + 1]))
    return x, ok


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
