"""Meta-gradient estimators for MAML-RL (issue 22): the paper's, DiCE's and ProMP's LVC, one switch.

MAML-RL maximises J(θ) = E_T E_{D∼π_θ} [ J_T(θ'(θ, D)) ], θ'(θ, D) = θ − α ∇L^in(θ; D), where D are
the pre-update (support) episodes and J_T(θ') is estimated from the post-update (query) episodes D'
sampled with θ'. Its gradient has two terms (notebook 04 §3; course_lib.tasks.tabular computes both
exactly on a small MDP):

    ∇J = E[ (∂θ'/∂θ)ᵀ ∇J_T(θ') ]              through the inner step
       + E[ J_T(θ') ∇_θ log p_θ(D) ]           through the sampling of D,  log p_θ(D) = Σ_{D} log π_θ(a_t|s_t)

Each estimator below is the gradient of a per-task surrogate loss [T] built from the same pieces: the
one inner loop (course_lib.inner.inner_update, second order), an inner loss on D and the outer
surrogate of the paper on D' (π_old: the policy that sampled D', Â: the episodes' advantages),

    S'(θ) = − mean_{D'} [ π_θ'(θ)(a|s) / π_old(a|s) · Â' ]        (TRPO's surrogate at the adapted policy)

* "paper" (Finn et al. 2017's code, every PyTorch port, course_lib.rl.train):
      L^in(θ) = − mean_D [ log π_θ(a|s) · Â ],     loss = S'(θ).
  Keeps the first term with D held fixed; drops the second. Biased.
* "dice" (Foerster et al. 2018, the magic box 𝒳(W) = exp(W − ⊥W): value 1, ∇𝒳(W) = 𝒳(W) ∇W):
      L^in as "paper",   loss = 𝒳(W^pre) · (S' − ⊥S' − g) + ⊥S' + g,   W^pre = Σ_{D} log π_θ(a_t|s_t),
  g = ⊥ (the post-update objective estimate, minus a baseline b independent of D, in S′'s units; see
  `score_weight`). Its value is S′'s; its gradient is ∇S' − g ∇W^pre: the paper's term plus the
  score-function term of the pre-update episodes. With Â = reward-to-go, b = 0 and g = the mean post
  return per step this is unbiased for ∇J (tested exactly on the tabular MDP); the magic box in front of
  the whole post-update part also gives the cross term ∇W^pre ∇S'ᵀ of the second derivative.
* "lvc" (Rothfuss et al. 2019, ProMP's low-variance curvature estimator):
      L^in(θ) = − mean_D [ π_θ(a|s) / ⊥π_θ(a|s) · Â ],   loss = S'(θ).
  The same θ' value (the ratio is 1, its gradient ∇log π), but ∇²L^in gains − mean Â ∇log π ∇log πᵀ,
  the per-step outer product: to first order in α it is the score-function term above without the
  cross-time-step products (and without its O(α²) remainder). A little bias, far less variance than DiCE.

First-order MAML is the algorithm with ∂θ'/∂θ = I, not an estimator (course_lib.meta.maml).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..functional import Params
from ..inner import inner_update
from ..validation import check_choice
from .baseline import baseline_values, fit_linear_baseline
from .losses import masked_mean
from .returns import discounted_returns, gae

ESTIMATORS = ("paper", "dice", "lvc")

LogProb = Callable[[Params, object], torch.Tensor]     # (task-batched params, episodes) → log π per step [T, N, H]


def magic_box(w: torch.Tensor) -> torch.Tensor:
    """𝒳(W) = exp(W − ⊥W): 1 in value, ∇𝒳 = 𝒳 ∇W at every order (Foerster et al. 2018)."""
    return torch.exp(w - w.detach())


def inner_loss(estimator: str, log_prob: LogProb, episodes) -> Callable[[Params], torch.Tensor]:
    """L^in per task for `estimator`: REINFORCE ("paper", "dice") or LVC's likelihood ratio ("lvc")."""
    check_choice(estimator, "estimator", ESTIMATORS)
    if estimator == "lvc":
        def loss(p: Params) -> torch.Tensor:
            lp = log_prob(p, episodes)
            return -masked_mean((lp - lp.detach()).exp() * episodes.advantages, episodes.mask)
    else:
        def loss(p: Params) -> torch.Tensor:
            return -masked_mean(log_prob(p, episodes) * episodes.advantages, episodes.mask)
    return loss


def mean_return(episodes, gamma: float = 1.0) -> torch.Tensor:
    """Σ_{D'} Σ_t γ^t r_t / (valid steps) per task: the post-update objective in S′'s units (S' is a mean
    over valid steps too), [T]."""
    H = episodes.rewards.shape[-1]
    discount = gamma ** torch.arange(H, dtype=episodes.rewards.dtype)
    return masked_mean(episodes.rewards * discount, episodes.mask)


def advantage_scale(episodes, gamma: float, lam: float, eps: float = 1e-8) -> torch.Tensor:
    """σ per task by which rl.tasks.with_advantages divided the advantages (GAE with the linear baseline)."""
    returns = discounted_returns(episodes.rewards, episodes.mask, gamma)
    values = baseline_values(fit_linear_baseline(episodes.obs, returns, episodes.mask), episodes.obs, episodes.mask)
    adv = gae(episodes.rewards, values, episodes.mask, gamma, lam)
    dims = tuple(range(1, adv.dim()))
    n = episodes.mask.sum(dims).clamp(min=1)
    mean = (adv * episodes.mask).sum(dims) / n
    var = (((adv - mean.view(-1, *[1] * len(dims))) * episodes.mask) ** 2).sum(dims) / n
    return var.sqrt() + eps


def score_weight(post, gamma: float = 1.0, lam: float | None = None) -> torch.Tensor:
    """g per task for "dice": (post-update return − b) / σ, in the units of the outer surrogate.

    b: the mean over the *other* tasks of the batch (independent of this task's D, so the score term
    stays unbiased; 0 for one task). σ: the advantages' normalisation (lam given: the library's
    with_advantages), or 1 (lam None: raw advantages, as on the tabular MDP, where b is not used)."""
    ret = mean_return(post, gamma)
    if lam is None:
        return ret.detach()
    T = ret.shape[0]
    b = (ret.sum() - ret) / (T - 1) if T > 1 else torch.zeros_like(ret)
    return ((ret - b) / advantage_scale(post, gamma, lam)).detach()


def meta_surrogate(estimator: str, params: Params, log_prob: LogProb, pre, post, old_log_prob: torch.Tensor,
                   alpha, steps: int = 1, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-task surrogate [T] whose gradient w.r.t. θ is the `estimator`'s meta-gradient (× −1: a loss).

    params: θ repeated per task (course_lib.functional.batched: gradients flow back to θ), or per-row
    leaves; pre / post: episodes with advantages (D and D'); old_log_prob: log π_old on D'; weight: g for
    "dice" (default `score_weight(post)`: the undiscounted post return, no baseline)."""
    check_choice(estimator, "estimator", ESTIMATORS)
    inner = inner_loss(estimator, log_prob, pre)
    phi = inner_update(params, lambda p: inner(p).sum(), alpha, steps, first_order=False)
    ratio = (log_prob(phi, post) - old_log_prob).exp()
    loss = -masked_mean(ratio * post.advantages, post.mask)
    if estimator == "dice":
        g = score_weight(post) if weight is None else weight.detach()
        w_pre = (log_prob(params, pre) * pre.mask).sum((1, 2))
        loss = magic_box(w_pre) * (loss - loss.detach() - g) + loss.detach() + g
    return loss
