"""Networks used as functional templates: their weights are supplied per call as a params dict."""
from __future__ import annotations

import torch
from torch import nn

from .validation import check_choice, check_int


class MLP(nn.Module):
    """ReLU MLP, in_dim → hidden → … → out_dim. With `context_dim > 0` it also owns a context
    vector (CAVIA) that is concatenated to the input; it is always supplied per task, starting at 0."""

    def __init__(self, in_dim: int = 1, out_dim: int = 1, hidden: tuple[int, ...] = (40, 40),
                 context_dim: int = 0):
        super().__init__()
        check_int(in_dim, "in_dim", 1)
        check_int(out_dim, "out_dim", 1)
        check_int(context_dim, "context_dim", 0)
        for h in hidden:
            check_int(h, "hidden width", 1)
        self.in_dim, self.out_dim, self.hidden, self.context_dim = in_dim, out_dim, tuple(hidden), context_dim
        if context_dim:
            self.context = nn.Parameter(torch.zeros(context_dim))
        widths = (in_dim + context_dim, *hidden, out_dim)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"x must have last dimension in_dim={self.in_dim}, got shape {tuple(x.shape)}")
        return self.net(with_context(x, self.context) if self.context_dim else x)

    def task_batched_forward(self, params: dict, x: torch.Tensor, prefix: str = "") -> torch.Tensor:
        """The same network for T tasks at once: params [T, ...], x [T, ..., in_dim] → [T, ..., out_dim].

        Equal to vmap(functional_call) (tested), but one batched matmul per layer — several times
        faster, which matters for meta-RL's triple backward passes.
        """
        lead = x.shape[:-1]
        h = x.reshape(x.shape[0], -1, x.shape[-1])
        if self.context_dim:
            h = with_context(h, params[prefix + "context"].unsqueeze(1))
        linears = [i for i, layer in enumerate(self.net) if isinstance(layer, nn.Linear)]
        for i in linears:
            w, b = params[f"{prefix}net.{i}.weight"], params[f"{prefix}net.{i}.bias"]
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i != linears[-1]:
                h = torch.relu(h)
        return h.reshape(*lead, h.shape[-1])


def with_context(x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """[x, φ]: the context vector appended to every input row (CAVIA)."""
    return torch.cat([x, context.expand(*x.shape[:-1], context.shape[-1])], dim=-1)


def xavier_init_(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights, W ~ U(±√(6 / (fan_in + fan_out))), and zero biases for every Linear
    layer (Glorot & Bengio 2010): rllab's MLP init, used by the MAML paper's policies."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


POLICY_INITS = ("torch", "xavier")


class GaussianPolicy(nn.Module):
    """π_θ(a|s) = N(μ_θ(s), diag(σ²)): a ReLU MLP mean (2×100 in the MAML paper) and a learned,
    state-independent log σ. With `context_dim > 0` the observation is extended by a CAVIA context.
    `init`: "torch" (nn.Linear's default, U(±1/√fan_in)) or "xavier" (rllab's, `xavier_init_`)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (100, 100),
                 context_dim: int = 0, init_log_std: float = 0.0, init: str = "torch"):
        super().__init__()
        check_int(obs_dim, "obs_dim", 1)
        check_int(act_dim, "act_dim", 1)
        check_int(context_dim, "context_dim", 0)
        check_choice(init, "init", POLICY_INITS)
        self.obs_dim, self.act_dim, self.context_dim = obs_dim, act_dim, context_dim
        if context_dim:
            self.context = nn.Parameter(torch.zeros(context_dim))
        self.mean = MLP(obs_dim + context_dim, act_dim, hidden)
        if init == "xavier":
            xavier_init_(self.mean)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(f"obs must have last dimension obs_dim={self.obs_dim}, got shape {tuple(obs.shape)}")
        return self.mean(with_context(obs, self.context) if self.context_dim else obs), self.log_std

    def task_batched_forward(self, params: dict, obs: torch.Tensor):
        """(μ [T, ..., act_dim], log σ [T, act_dim]) for task-batched params; see MLP.task_batched_forward."""
        if self.context_dim:
            obs = with_context(obs, params["context"].view(obs.shape[0], *([1] * (obs.dim() - 2)), -1))
        return self.mean.task_batched_forward(params, obs, prefix="mean."), params["log_std"]
