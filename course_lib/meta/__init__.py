"""Meta-gradients: MAML (second order), FOMAML, Reptile, CAVIA and Meta-SGD on one inner loop.

A task batch is any object with `n_tasks` and `support_loss(params)` / `query_loss(params)` that
return one loss per task, for parameters that carry a leading task dimension.
"""
from __future__ import annotations

import torch

from ..functional import Params
from ..validation import check_alpha, check_choice, check_int
from .cavia import CONTEXT, adapt_context, cavia_objective, shared
from .maml import adapt, maml_objective
from .meta_sgd import init_alpha
from .reptile import reptile_direction

METHODS = ("maml", "fomaml", "reptile", "cavia", "cavia_fo")


def meta_objective(theta: Params, tasks, alpha, steps: int = 1, method: str = "maml",
                   context_dim: int | None = None) -> torch.Tensor:
    """The scalar whose θ-gradient is the meta-gradient (every method but Reptile)."""
    if method in ("maml", "fomaml"):
        return maml_objective(theta, tasks, alpha, steps, first_order=method == "fomaml")
    if method in ("cavia", "cavia_fo"):
        return cavia_objective(theta, tasks, alpha, steps, method == "cavia_fo", context_dim or 0)
    raise ValueError(f"method must be one of {METHODS[:2] + METHODS[3:]} for an objective, got {method!r}")


def meta_gradient(theta: Params, tasks, alpha, steps: int = 1, method: str = "maml",
                  context_dim: int | None = None) -> Params:
    """∇_θ of the meta-objective (or Reptile's θ − φ), averaged over the task batch."""
    check_choice(method, "method", METHODS)
    check_alpha(alpha)
    check_int(steps, "steps", 0)
    if method == "reptile":
        return reptile_direction(theta, tasks, alpha, steps)
    loss = meta_objective(theta, tasks, alpha, steps, method, context_dim)
    names = list(shared(theta))
    grads = torch.autograd.grad(loss, [theta[k] for k in names], allow_unused=True, materialize_grads=True)
    return dict(zip(names, grads))


__all__ = ["METHODS", "meta_gradient", "meta_objective", "maml_objective", "cavia_objective",
           "reptile_direction", "adapt", "adapt_context", "init_alpha", "CONTEXT", "shared"]
