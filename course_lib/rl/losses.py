"""Policy-gradient losses, one value per task ([T]), averaged over each task's valid steps.

    REINFORCE (inner loop):   L(θ) = − E[ log π_θ(a|s) · Â ]                       (Williams 1992)
    TRPO surrogate (outer):   L(θ) = − E[ π_θ(a|s) / π_old(a|s) · Â ]              (Schulman et al. 2015)
    KL(π_old ‖ π_θ) for the trust region, both evaluated at the adapted policy θ'(θ) in MAML.
"""
from __future__ import annotations

import math

import torch

from ..functional import Params
from .episodes import Episodes, action_distribution


def gaussian_log_prob(mean, log_std, actions) -> torch.Tensor:
    """log N(a; μ, σ²), summed over action dimensions."""
    return (-0.5 * ((actions - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_kl(mean_p, log_std_p, mean_q, log_std_q) -> torch.Tensor:
    """KL(p ‖ q) of diagonal Gaussians, summed over action dimensions."""
    var_p, var_q = (2 * log_std_p).exp(), (2 * log_std_q).exp()
    return (log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5).sum(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each task's valid steps: [T, N, H] → [T]."""
    return (x * mask).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1)


def log_prob(policy, params: Params, episodes: Episodes) -> torch.Tensor:
    mean, log_std = action_distribution(policy, params, episodes.obs)
    return gaussian_log_prob(mean, log_std, episodes.actions)


def reinforce_loss(policy, params: Params, episodes: Episodes) -> torch.Tensor:
    return -masked_mean(log_prob(policy, params, episodes) * episodes.advantages, episodes.mask)


def surrogate_loss(policy, params: Params, episodes: Episodes, old_log_prob: torch.Tensor) -> torch.Tensor:
    ratio = (log_prob(policy, params, episodes) - old_log_prob).exp()
    return -masked_mean(ratio * episodes.advantages, episodes.mask)


def kl_from(policy, params: Params, episodes: Episodes, old_mean, old_log_std) -> torch.Tensor:
    mean, log_std = action_distribution(policy, params, episodes.obs)
    return masked_mean(gaussian_kl(old_mean, old_log_std, mean, log_std), episodes.mask)
