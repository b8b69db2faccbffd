"""The inner loop — the one implementation used by MAML, FOMAML, Reptile, CAVIA, Meta-SGD and the exercises.

    θ' = θ − α ∇_θ L(θ)                                  (MAML paper, eq. 1)

repeated `steps` times. Second order (`first_order=False`) builds the gradient with
`create_graph=True`, so θ' stays a differentiable function of θ and the meta-gradient carries the
Jacobian ∂θ'/∂θ = I − α∇²L(θ). First order detaches ∇L, so ∂θ'/∂θ = I (FOMAML).
α may be a dict of tensors shaped like the parameters (Meta-SGD: a learned rate per weight).
"""
from __future__ import annotations

from typing import Callable

import torch

from .functional import Params
from .validation import check_alpha, check_int


def inner_update(
    params: Params,
    loss_fn: Callable[[Params], torch.Tensor],
    alpha,
    steps: int = 1,
    first_order: bool = False,
) -> Params:
    """Adapt `params` by `steps` gradient steps on `loss_fn`; returns the adapted dict θ'."""
    check_alpha(alpha)
    check_int(steps, "steps", 0)
    if isinstance(alpha, dict) and set(alpha) != set(params):
        raise ValueError(f"alpha has keys {sorted(alpha)} but params has keys {sorted(params)}")
    for name, p in params.items():
        if not p.requires_grad:
            raise ValueError(
                f"params[{name!r}] does not require grad; start from "
                "course_lib.functional.parameters_of(model) or detached(params, requires_grad=True)"
            )
    for _ in range(steps):
        loss = loss_fn(params)
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        grads = torch.autograd.grad(
            loss, tuple(params.values()),
            create_graph=not first_order, allow_unused=True, materialize_grads=True,
        )
        params = {
            name: p - (alpha[name] if isinstance(alpha, dict) else alpha) * g
            for (name, p), g in zip(params.items(), grads)
        }
    return params
