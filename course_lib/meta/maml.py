"""MAML and first-order MAML (Finn, Abbeel & Levine 2017, Algorithm 2).

    min_θ  Σ_i L_i^query(θ'_i),   θ'_i = θ − α ∇_θ L_i^support(θ)                  (eq. 1–2)

    ∇_θ L^query(θ')  =  (I − α ∇²L^support(θ)) ∇L^query(θ')      second order (MAML)
                     ≈                          ∇L^query(θ')      first order  (FOMAML)

Both are the gradient of `maml_objective`; they differ only in `first_order`, which the inner loop
uses to keep or drop the Hessian term of this exact gradient. In expectation over independent support
and query batches (Nichol et al. 2018, §5), to order α: MAML = AvgGrad − 2α·AvgGradInner, FOMAML =
AvgGrad − α·AvgGradInner, Reptile with two steps = 2·AvgGrad − α·AvgGradInner — FOMAML keeps half of
the term that aligns the gradients of different batches, not none of it. `steps=0` makes the objective plain multi-task training
(the pretraining baseline).
"""
from __future__ import annotations

from ..functional import Params, batched
from ..inner import inner_update


def adapt(theta: Params, tasks, alpha, steps: int = 1, first_order: bool = False) -> Params:
    """θ'_i for every task of the batch at once: params with a leading task dimension."""
    return inner_update(
        batched(theta, tasks.n_tasks),
        lambda p: tasks.support_loss(p).sum(),  # sum: slice i of the gradient is task i's own
        alpha, steps, first_order,
    )


def maml_objective(theta: Params, tasks, alpha, steps: int = 1, first_order: bool = False):
    """Mean post-adaptation query loss over the meta-batch (a scalar to differentiate w.r.t. θ)."""
    return tasks.query_loss(adapt(theta, tasks, alpha, steps, first_order)).mean()
