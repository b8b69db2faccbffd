"""Discounted returns and generalised advantage estimation on masked, variable-length episodes.

    R_t = Σ_{k≥t} γ^{k−t} r_k            δ_t = r_t + γ V(s_{t+1}) − V(s_t)        Â_t = Σ_{k≥t} (γλ)^{k−t} δ_k

(Schulman et al. 2016, eq. 16). Both are one matrix product with an upper-triangular matrix of powers.
"""
from __future__ import annotations

import torch

from ..validation import check_range


def discount_cumsum(x: torch.Tensor, factor: float) -> torch.Tensor:
    """y_t = Σ_{k≥t} factor^{k−t} x_k along the last dimension."""
    H = x.shape[-1]
    t = torch.arange(H)
    lag = (t[None, :] - t[:, None]).to(x.dtype)           # [t, k] → k − t
    weights = torch.where(lag >= 0, factor ** lag.clamp(min=0), torch.zeros((), dtype=x.dtype))
    return x @ weights.T


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    check_range(gamma, "gamma", 0.0, 1.0)
    return discount_cumsum(rewards * mask, gamma) * mask


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float = 1.0) -> torch.Tensor:
    """Â_t with V = 0 past the end of an episode (no bootstrap at truncation, as in rllab)."""
    check_range(gamma, "gamma", 0.0, 1.0)
    check_range(lam, "lam", 0.0, 1.0)
    values = values * mask
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = (rewards + gamma * next_values - values) * mask
    return discount_cumsum(deltas, gamma * lam) * mask


def normalize(advantages: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Centre and scale per task over its valid steps (dims 1…)."""
    dims = tuple(range(1, advantages.dim()))
    n = mask.sum(dims, keepdim=True).clamp(min=1)
    mean = (advantages * mask).sum(dims, keepdim=True) / n
    var = (((advantages - mean) * mask) ** 2).sum(dims, keepdim=True) / n
    return (advantages - mean) / (var.sqrt() + eps) * mask
