"""Meta-SGD (Li et al. 2017): learn α itself, one rate per weight, alongside θ.

    θ'_i = θ − α ∘ ∇_θ L_i^support(θ)        min_{θ, α} Σ_i L_i^query(θ'_i)

The inner loop already accepts a dict α shaped like θ; the objective is MAML's. This is the standard
remedy for a badly chosen scalar α: the outer loop tunes it. The learned rates belong to the number of
inner steps they were trained with: rates trained for one step can diverge at five (notebook 09).
"""
from __future__ import annotations

import torch

from ..functional import Params
from ..validation import check_alpha


def init_alpha(theta: Params, alpha: float) -> Params:
    """A learnable α per weight, every entry starting at the scalar `alpha`."""
    check_alpha(alpha)
    return {k: torch.full_like(v, alpha).detach().requires_grad_(True) for k, v in theta.items()}
