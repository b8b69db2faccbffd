"""The loss landscape around an initialisation: why MAML's θ is easy to fine-tune (curriculum outcome 5).

Three measurements, pure functions of (θ, losses); notebook 03 plots them for MAML and pretraining.

* `loss_after_one_step` — the mean query loss after one step, as a function of the step size α:
      ℓ(α) = (1/T) Σ_i L_q^i(θ − α ∇L_s^i(θ))                          (MAML's objective, one α at a time)
  Near α = 0, ℓ(α) ≈ ℓ(0) − α (1/T) Σ_i ∇L_q^iᵀ∇L_s^i: the slope is how much one step *can* buy, and it
  is large only where the task gradients are large and point where the tasks differ.
* `top_hessian_eigenvector` — λ_max and its eigenvector by power iteration, v ← Hv / ‖Hv‖, with
  Hessian-vector products Hv = ∇(∇L·v) (Pearlmutter 1994): the Hessian is never formed. A step
  θ − α∇L is stable along that direction only if αλ_max < 2 (gradient descent on a quadratic).
* `loss_slice` — L(θ + a·d₁ + b·d₂) on a 2-D grid: the landscape in the plane of two directions
  (Li et al. 2018, "Visualizing the loss landscape of neural nets", use random ones; here the task
  gradient and the top curvature direction, the two that decide what one step does).

Directions are dicts shaped like the parameters; `dot`, `unit` and `orthonormal_pair` treat a dict as
one flat vector.
"""
from __future__ import annotations

from typing import Callable

import torch

from .functional import Params, batched, detached
from .inner import inner_update
from .validation import check_alpha, check_int

LossFn = Callable[[Params], torch.Tensor]


# ------------------------------------------------------------------------------------ dict vectors
def dot(u: Params, v: Params) -> torch.Tensor:
    """⟨u, v⟩ = Σ over every entry of every tensor."""
    return sum((u[k] * v[k]).sum() for k in u)


def unit(v: Params, name: str = "direction") -> Params:
    """v / ‖v‖ (‖·‖ over all entries); a zero or non-finite v is refused."""
    norm = dot(v, v).sqrt()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError(f"{name} must be a non-zero, finite direction, got norm {float(norm)}")
    return {k: t / norm for k, t in v.items()}


def orthonormal_pair(d1: Params, d2: Params) -> tuple[Params, Params]:
    """Gram–Schmidt: (d₁/‖d₁‖, the unit part of d₂ orthogonal to d₁) — the same plane, orthonormal axes."""
    u1 = unit(d1, "d1")
    c = dot(d2, u1)
    return u1, unit({k: d2[k] - c * u1[k] for k in d2}, "d2 (its part orthogonal to d1)")


# ------------------------------------------------------------------------------------ validation
def _check_params(params, name: str = "params") -> None:
    if not isinstance(params, dict) or not params or not all(torch.is_tensor(v) for v in params.values()):
        raise ValueError(f"{name} must be a non-empty dict of tensors, got {type(params).__name__}")


def _check_direction(d, params: Params, name: str) -> None:
    _check_params(d, name)
    if set(d) != set(params):
        raise ValueError(f"{name} has keys {sorted(d)} but params has keys {sorted(params)}")
    for k, v in d.items():
        if v.shape != params[k].shape:
            raise ValueError(f"{name}[{k!r}] has shape {tuple(v.shape)}, params[{k!r}] has {tuple(params[k].shape)}")
        if not torch.isfinite(v).all():
            raise ValueError(f"{name}[{k!r}] must be finite")


def _grid(values, name: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float64)
    if t.dim() != 1 or t.numel() < 1 or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of finite numbers, got shape {tuple(t.shape)}")
    return t


# ------------------------------------------------------------------------------------ measurements
def loss_after_one_step(theta: Params, task_batch, alphas) -> torch.Tensor:
    """ℓ(α) = mean_i L_q^i(θ − α∇L_s^i(θ)) for every α in `alphas`: a tensor of shape [len(alphas)].

    `task_batch` has `n_tasks`, and `support_loss` / `query_loss` mapping task-batched parameters
    (leading task dimension, `functional.batched`) to one loss per task, as `tasks.sinusoid.RegressionBatch`.
    Every weight adapts, with one first-order step (`inner_update(first_order=True)`); a task whose loss
    overflows makes that α's mean infinite (on a log plot the curve stops there).
    """
    _check_params(theta, "theta")
    alphas = _grid(alphas, "alphas")
    for a in alphas.tolist():
        check_alpha(a, "alphas (every value)")
    n = getattr(task_batch, "n_tasks", None)
    if not all(callable(getattr(task_batch, f, None)) for f in ("support_loss", "query_loss")) or not isinstance(n, int):
        raise ValueError("task_batch must have n_tasks and support_loss/query_loss methods (e.g. a RegressionBatch)")
    check_int(n, "task_batch.n_tasks", 1)
    out = []
    with torch.enable_grad():
        start = detached(batched(detached(theta), n), requires_grad=True)
        for a in alphas.tolist():
            adapted = inner_update(start, lambda p: task_batch.support_loss(p).sum(), a, 1, first_order=True)
            with torch.no_grad():
                out.append(task_batch.query_loss(adapted).double().mean())
    return torch.stack(out)


def gradient(params: Params, loss_fn: LossFn) -> Params:
    """∇_θL(θ) at θ = params, as a detached dict (params themselves are left alone)."""
    _check_params(params)
    p = detached(params, requires_grad=True)
    loss = loss_fn(p)
    if loss.dim() != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    return dict(zip(p, torch.autograd.grad(loss, tuple(p.values()), materialize_grads=True)))


def hessian_vector_product(params: Params, loss_fn: LossFn, v: Params) -> Params:
    """Hv = ∇_θ(∇_θL(θ) · v), by double backprop (Pearlmutter 1994), at θ = params."""
    _check_params(params)
    _check_direction(v, params, "v")
    p = detached(params, requires_grad=True)
    grads = torch.autograd.grad(loss_fn(p), tuple(p.values()), create_graph=True, materialize_grads=True)
    hv = torch.autograd.grad(sum((g * v[k]).sum() for g, k in zip(grads, p)), tuple(p.values()),
                             materialize_grads=True)
    return {k: h.detach() for k, h in zip(p, hv)}


def top_hessian_eigenvector(params: Params, loss_fn: LossFn, iters: int = 50, seed: int = 0):
    """(λ_max, v): the largest eigenvalue of ∇²L(θ) and a unit eigenvector (a dict like `params`).

    Power iteration v ← Hv/‖Hv‖ from a seeded random v, λ = vᵀHv (the Rayleigh quotient), `iters` HVPs.
    Power iteration finds the eigenvalue of largest *magnitude*; if that one is negative (a saddle),
    a second run on H − λI (whose spectrum is ≥ 0) finds the largest algebraic eigenvalue λ_max.
    The gradient graph is built once and reused by every product.
    """
    _check_params(params)
    check_int(iters, "iters", 1)
    check_int(seed, "seed", 0)
    p = detached(params, requires_grad=True)
    loss = loss_fn(p)
    if loss.dim() != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    grads = torch.autograd.grad(loss, tuple(p.values()), create_graph=True, materialize_grads=True)

    def hvp(v: Params) -> Params:
        hv = torch.autograd.grad(sum((g * v[k]).sum() for g, k in zip(grads, p)), tuple(p.values()),
                                 retain_graph=True, materialize_grads=True)
        return {k: h.detach() for k, h in zip(p, hv)}

    def power(shift: float):
        gen = torch.Generator().manual_seed(seed)
        v = unit({k: torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t.dtype) for k, t in p.items()})
        lam = 0.0
        for _ in range(iters):
            hv = {k: h - shift * v[k] for k, h in hvp(v).items()}
            lam = float(dot(v, hv))
            if float(dot(hv, hv)) == 0.0:          # v is in the null space of H − shift·I
                break
            v = unit(hv)
        return lam + shift, v

    lam, v = power(0.0)
    if lam < 0:
        lam, v = power(lam)
    return lam, v


def loss_slice(params: Params, loss_fn: LossFn, d1: Params, d2: Params, grid) -> torch.Tensor:
    """values[j, i] = L(θ + a_i·d₁ + b_j·d₂): the loss on a 2-D slice through θ.

    `grid` is one 1-D sequence used for both a and b, or a pair (a values, b values). Rows index b, so
    `plt.contour(a, b, values)` draws it directly. d₁, d₂ are used as given (pass unit directions,
    e.g. from `orthonormal_pair`, so that a and b are distances in parameter space).
    """
    _check_params(params)
    _check_direction(d1, params, "d1")
    _check_direction(d2, params, "d2")
    if isinstance(grid, (tuple, list)) and len(grid) == 2 and not isinstance(grid[0], (int, float)):
        a, b = _grid(grid[0], "grid[0]"), _grid(grid[1], "grid[1]")
    else:
        a = b = _grid(grid, "grid")
    base = detached(params)
    values = torch.empty(len(b), len(a), dtype=torch.float64)
    with torch.no_grad():
        for j, bj in enumerate(b.tolist()):
            for i, ai in enumerate(a.tolist()):
                loss = loss_fn({k: base[k] + ai * d1[k] + bj * d2[k] for k in base})
                if loss.dim() != 0:
                    raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
                values[j, i] = float(loss)
    return values


__all__ = ["dot", "unit", "orthonormal_pair", "loss_after_one_step", "gradient", "hessian_vector_product",
           "top_hessian_eigenvector", "loss_slice"]
