"""CAVIA — fast context adaptation (Zintgraf et al. 2019, Algorithm 1).

The network takes a context vector φ as an extra input. Per task, φ starts at 0 and only φ is
adapted in the inner loop; the shared weights θ are learned in the outer loop:

    φ_i = 0 − α ∇_φ L_i^support(θ, 0)        min_θ Σ_i L_i^query(θ, φ_i)

The meta-gradient follows θ through the adapted context φ_i(θ):

    d/dθ L^query(θ, φ_i(θ)) = ∇_θ L^query(θ, φ_i)  −  α ∇²_θφ L^support(θ, 0) ∇_φ L^query(θ, φ_i)

Second order (method "cavia") keeps both terms; first order ("cavia_fo") keeps only the first. That
term is taken at the adapted φ_i ≠ 0, so first order still trains how θ uses the context; what it
drops is how θ should change so that the context step itself lands somewhere better. Either way the
gradients run through every layer (φ is an input): CAVIA saves memory (a context per task instead of
a copy of θ) and the size of ∂φ_i/∂θ (context_dim × |θ|), not compute.
"""
from __future__ import annotations

import torch

from ..functional import Params, batched
from ..inner import inner_update
from ..validation import check_int

CONTEXT = "context"  # name of the context parameter in context-conditioned models


def shared(theta: Params) -> Params:
    """θ without the CAVIA context: the parameters the outer loop learns (the context adapts per task)."""
    return {k: v for k, v in theta.items() if k != CONTEXT}


def adapt_context(theta: Params, tasks, alpha, steps: int = 1, first_order: bool = False,
                  context_dim: int = 0) -> Params:
    """Shared θ (task-batched view) together with each task's adapted context φ_i."""
    check_int(context_dim, "context_dim", 1)
    common = batched(shared(theta), tasks.n_tasks)
    some = next(iter(common.values()))
    phi0 = torch.zeros(tasks.n_tasks, context_dim, dtype=some.dtype, requires_grad=True)
    phi = inner_update({CONTEXT: phi0}, lambda c: tasks.support_loss({**common, **c}).sum(),
                       alpha, steps, first_order)
    return {**common, **phi}


def cavia_objective(theta: Params, tasks, alpha, steps: int = 1, first_order: bool = False,
                    context_dim: int = 0):
    """Mean query loss after adapting only the context."""
    return tasks.query_loss(adapt_context(theta, tasks, alpha, steps, first_order, context_dim)).mean()
