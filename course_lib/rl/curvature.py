"""The trust-region curvature of MAML-TRPO, by the chain rule — exact at the sampling point, somewhat cheaper.

TRPO needs H·v for H = ∇²_θ KL̄(θ), KL̄(θ) = mean_i KL(π_old,i ‖ π_θ'_i(θ)), θ'_i = θ − α∇L_i(θ),
always at θ = θ_old. Differentiating twice through θ'(θ):

    H v = Σ_i J_iᵀ H'_i J_i v  +  Σ_i (∂J_i/∂θ [v])ᵀ ∇_θ' KL̄,        J_i = ∂θ'_i/∂θ = I − α∇²L_i(θ)

At θ_old the KL sits at its minimum (zero) as a function of θ', so ∇_θ' KL̄ = 0 and the second
term — the one with *third* derivatives of L_i — vanishes. What is left needs only Hessian-vector
products of the support loss (J_i is symmetric) and of the KL w.r.t. the adapted parameters:

    H v = Σ_i J_i H'_i J_i v

Plain double backprop of KL̄ through θ'(θ) gives the same numbers (tested). It is only modestly slower:
notebook 04's timings of one product put the R-operator version 1.2–1.9× ahead of it, and once behind the
autograd chain rule (noisy, 2-core machine); in training the R-operator saves about 17% of an iteration
(docs/performance.md).
The two products come from Pearlmutter's R-operator (`r_operator.py`, the default: H'_i is then
the Fisher matrix, which is the KL's Hessian at θ_old: J_μᵀΣ⁻¹J_μ for the mean network and a
log σ block, 2 per action dimension) or from autograd (`method="autograd"`,
double backprop of each loss; also for CAVIA's context-extended policies).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..validation import check_choice
from ..functional import Params
from ..meta import adapt
from .r_operator import fisher_vp, mlp_names, reinforce_hvp
from .trpo import flat, unflat

METHODS = ("r_operator", "autograd")


def meta_kl_curvature(theta: Params, names: list[str], batch, alpha: float, first_order: bool = False,
                      method: str = "r_operator") -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ H v at θ (θ must be the parameters the query episodes were sampled after adapting)."""
    check_choice(method, "method", METHODS)
    plain_mlp = set(names) == {n for pair in mlp_names(batch.policy) for n in pair} | {"log_std"}
    if method == "autograd" or getattr(batch.policy, "context_dim", 0) or not plain_mlp:
        return _autograd_curvature(theta, names, batch, alpha, first_order)
    T = batch.n_tasks
    theta = {k: theta[k].detach() for k in names}
    with torch.enable_grad():
        phi = adapt({k: v.clone().requires_grad_(True) for k, v in theta.items()}, batch, alpha, 1, True)
    H_kl = fisher_vp(batch.policy, {k: v.detach() for k, v in phi.items()}, batch.query, scale=1 / T)
    H_support = reinforce_hvp(batch.policy, theta, batch.support)

    def jacobian(u: Params) -> Params:
        """J_i u_i = u_i − α ∇²L_i u_i for every task at once (J symmetric, so also J_iᵀ u_i)."""
        if first_order:                                  # FOMAML: θ' = θ − α·stop_grad(∇L), so J = I
            return {k: u[k].expand(T, *theta[k].shape) for k in names}
        Hu = H_support(u)
        return {k: u[k] - alpha * Hu[k] for k in names}

    def hvp(v: torch.Tensor) -> torch.Tensor:
        JHJv = jacobian(H_kl(jacobian(dict(zip(names, unflat(v, list(theta.values())))))))
        return flat([JHJv[k].sum(0) for k in names])
    return hvp


def _autograd_curvature(theta: Params, names: list[str], batch, alpha: float, first_order: bool):
    """The same Σ_i J_i H'_i J_i v with both products by double backprop."""
    T = batch.n_tasks
    like = [theta[k] for k in names]
    per_task = [p.detach().unsqueeze(0).expand(T, *p.shape).clone().requires_grad_(True) for p in like]
    loss = batch.support_loss(dict(zip(names, per_task))).sum()
    inner_grad = torch.autograd.grad(loss, per_task, create_graph=not first_order)
    phi = [(p - alpha * g).detach().requires_grad_(True) for p, g in zip(per_task, inner_grad)]
    if first_order:
        inner_grad = None
    kl = batch.query_loss_and_kl(dict(zip(names, phi)))[1].mean()
    kl_grad = torch.autograd.grad(kl, phi, create_graph=True)

    def jacobian(u: list[torch.Tensor]) -> list[torch.Tensor]:
        if inner_grad is None:
            return u
        hessian_u = torch.autograd.grad(inner_grad, per_task, grad_outputs=u, retain_graph=True)
        return [ui - alpha * hu for ui, hu in zip(u, hessian_u)]

    def hvp(v: torch.Tensor) -> torch.Tensor:
        u = jacobian([t.unsqueeze(0).expand(T, *t.shape) for t in unflat(v, like)])
        w = torch.autograd.grad(kl_grad, phi, grad_outputs=u, retain_graph=True)   # H'_i (J_i v)
        return flat([t.sum(0) for t in jacobian(list(w))])
    return hvp
