"""TRPO's meta-update (Schulman et al. 2015, App. C), as used by MAML for RL.

    maximise  −L(θ)   subject to   KL(π_old ‖ π_θ) ≤ δ      (δ = max_kl = 0.01)

Step direction x = H⁻¹(−g) by conjugate gradient, where g = ∇L and H = ∇²KL (+ damping·I) is only
ever used through Hessian-vector products; step x·√(2δ / xᵀHx); backtracking line search until
the loss improves and the KL constraint holds. In MAML both L and KL are evaluated at the adapted
policies θ'(θ), so H·v differentiates through the inner step (second order).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.profiler import record_function

from ..functional import Params
from ..meta import shared
from ..validation import check_alpha, check_int, check_range


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vector: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    out, i = [], 0
    for t in like:
        out.append(vector[i:i + t.numel()].view_as(t))
        i += t.numel()
    return out


def conjugate_gradient(Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int = 10,
                       tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for symmetric positive-definite A given only v ↦ A v."""
    return conjugate_gradient_with_product(Avp, b, iters, tol)[0]


def conjugate_gradient_with_product(Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                                    iters: int = 10, tol: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, A x): CG keeps the residual r = b − A x, so A x = b − r comes without another product."""
    check_int(iters, "iters", 1)
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    if rr == 0:                                              # b = 0: x = 0 (not 0/0 = NaN)
        return x, torch.zeros_like(b)
    for _ in range(iters):
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x, r = x + step * p, r - step * Ap
        rr_new = r @ r
        if rr_new < tol:
            break
        p, rr = r + (rr_new / rr) * p, rr_new
    return x, b - r


def hvp_double_backprop(kl: torch.Tensor, params: list[torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ ∇²KL · v by differentiating (∇KL · v) once more (Pearlmutter 1994)."""
    grad_kl = flat(torch.autograd.grad(kl, params, create_graph=True))
    return lambda v: flat(torch.autograd.grad(grad_kl @ v, params, retain_graph=True))


def hvp_finite_difference(kl_fn: Callable[[list[torch.Tensor]], torch.Tensor], params: list[torch.Tensor],
                          eps: float = 1e-5) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ (∇KL(θ + εv) − ∇KL(θ − εv)) / 2ε, the finite-difference product of the original MAML code."""
    def grad_at(shift: list[torch.Tensor]) -> torch.Tensor:
        moved = [(p.detach() + s).requires_grad_(True) for p, s in zip(params, shift)]
        return flat(torch.autograd.grad(kl_fn(moved), moved))

    def hvp(v: torch.Tensor) -> torch.Tensor:
        scale = eps / (v.norm() + 1e-12)                    # ε relative to ‖v‖, as in rllab
        d = [scale * t for t in unflat(v, params)]
        return (grad_at(d) - grad_at([-t for t in d])) / (2 * scale)
    return hvp


def trpo_step(theta: Params, objective: Callable[[Params], tuple[torch.Tensor, torch.Tensor]],
              max_kl: float = 0.01, damping: float = 1e-5, cg_iters: int = 10, backtrack: float = 0.8,
              ls_steps: int = 15, hvp: str | Callable[[torch.Tensor], torch.Tensor] = "exact",
              fisher_kl: Callable[[Params], torch.Tensor] | None = None,
              evaluate: Callable[[Params], tuple[torch.Tensor, torch.Tensor]] | None = None) -> dict:
    """One constrained update of θ in place; returns diagnostics.

    objective(θ) -> (loss, kl) with graphs; fisher_kl(θ) -> the KL whose Hessian defines the trust
    region (default: objective's; TRPO App. C estimates it on a subsample of the data); evaluate(θ) ->
    (loss, kl) values for the line search (default: objective). `hvp` is "exact" (double backprop),
    "finite_difference", or a ready-made function v ↦ H v at θ (see curvature.py).
    """
    check_alpha(max_kl, "max_kl")
    check_range(damping, "damping", 0.0, float("inf"))
    check_range(backtrack, "backtrack", 1e-3, 0.999)
    check_int(ls_steps, "ls_steps", 1)
    if not callable(hvp) and hvp not in ("exact", "finite_difference"):
        raise ValueError(f"hvp must be 'exact', 'finite_difference' or a function, got {hvp!r}")
    names = list(shared(theta))
    params = [theta[k] for k in names]

    evaluate = evaluate or objective
    with record_function("meta_gradient"):               # phases, for torch.profiler (bench/rl_speed.py)
        loss, kl = objective(theta)
        g = flat(torch.autograd.grad(loss, params, retain_graph=fisher_kl is None and hvp == "exact"))
    with record_function("conjugate_gradient"):
        if callable(hvp):
            Hv = hvp
        elif hvp == "exact":
            Hv = hvp_double_backprop(kl if fisher_kl is None else fisher_kl(theta), params)
        else:
            kl_fn = fisher_kl or (lambda th: objective(th)[1])
            Hv = hvp_finite_difference(lambda ps: kl_fn({**theta, **dict(zip(names, ps))}), params)
        x, Hx = conjugate_gradient_with_product(lambda v: Hv(v) + damping * v, -g, cg_iters)
    shs = 0.5 * x @ Hx                                   # ½ xᵀ(H + damping)x, from CG's residual
    full_step = x * torch.sqrt(max_kl / shs.clamp(min=1e-12))
    old = [p.detach().clone() for p in params]
    old_loss = float(loss.detach())
    info = dict(loss_before=old_loss, accepted=False, kl=0.0, loss_after=old_loss, step_fraction=0.0,
                ls_evaluations=ls_steps)
    for k in range(ls_steps):
        fraction = backtrack ** k
        with torch.no_grad():
            for p, p0, s in zip(params, old, unflat(full_step, params)):
                p.copy_(p0 + fraction * s)
        with record_function("line_search"):
            new_loss, new_kl = (float(v.detach()) for v in evaluate(theta))
        if new_loss < old_loss and new_kl <= max_kl and torch.isfinite(torch.tensor([new_loss, new_kl])).all():
            info.update(accepted=True, kl=new_kl, loss_after=new_loss, step_fraction=fraction, ls_evaluations=k + 1)
            return info
    with torch.no_grad():                                # no acceptable step: keep θ
        for p, p0 in zip(params, old):
            p.copy_(p0)
    return info
