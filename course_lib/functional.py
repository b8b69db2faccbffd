"""Parameters as explicit dicts of tensors: θ is a value you pass around, never hidden module state.

`forward(model, params, x)` evaluates `model` with `params` substituted (`torch.func.functional_call`).
Task batches carry a leading task dimension on both the parameters and the data; `forward` maps
over it with `torch.func.vmap`, so one call evaluates T adapted networks on T datasets.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, vmap

Params = dict[str, torch.Tensor]


def parameters_of(model: nn.Module) -> Params:
    """θ as fresh leaf tensors (requires_grad=True), detached from the module."""
    return {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}


def detached(params: Params, requires_grad: bool = False) -> Params:
    """A copy cut from any graph (optionally as new leaves that require grad)."""
    return {k: v.detach().clone().requires_grad_(requires_grad) for k, v in params.items()}


def batched(params: Params, n_tasks: int) -> Params:
    """θ repeated along a new leading task dimension (a view: gradients flow back to θ, summed).

    A loss that sums per-task losses of these copies has, in slice i of its gradient, exactly task i's
    gradient — which is how the inner loop adapts a whole meta-batch with one backward pass.
    """
    return {k: v.unsqueeze(0).expand(n_tasks, *v.shape) for k, v in params.items()}


def forward(model: nn.Module, params: Params, x: torch.Tensor, task_batched: bool = False) -> torch.Tensor:
    """model(x) with `params`; with task_batched=True both params and x lead with the task dim."""
    if task_batched:
        if hasattr(model, "task_batched_forward"):  # hand-batched matmuls: faster than vmap here
            return model.task_batched_forward(params, x)
        return vmap(lambda p, xi: functional_call(model, p, (xi,)))(params, x)
    return functional_call(model, params, (x,))


def num_parameters(params: Params) -> int:
    return sum(v.numel() for v in params.values())
