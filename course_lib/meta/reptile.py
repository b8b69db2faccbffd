"""Reptile (Nichol, Achiam & Schulman 2018, Algorithm 2, batched version).

    φ_i = U^k_i(θ)   (k SGD steps on task i)        θ ← θ + ε · mean_i (φ_i − θ)

The "gradient" handed to the outer optimiser is mean_i (θ − φ_i): no second derivatives, no
support/query split — only the inner loop, run for more than one step (with k = 1 Reptile is just
joint training on all tasks; with k = 2, in expectation and to order α, (θ − φ)/α =
2·AvgGrad − α·AvgGradInner, Nichol et al. 2018, §5).
"""
from __future__ import annotations

import torch

from ..functional import Params
from .maml import adapt


def reptile_direction(theta: Params, tasks, alpha, steps: int) -> Params:
    """mean_i (θ − φ_i), a descent direction for θ."""
    phi = adapt(theta, tasks, alpha, steps, first_order=True)
    with torch.no_grad():
        return {k: (theta[k] - phi[k]).mean(0) for k in theta}
