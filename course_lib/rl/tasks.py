"""Meta-RL task batches: pre-update episodes are the support set, post-update episodes the query set.

The inner loop is the same `inner_update` as everywhere else, on the REINFORCE loss of the
support episodes; the meta-objective is TRPO's surrogate on the query episodes, evaluated at the
adapted policy θ'(θ) so that its gradient flows through the inner step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..functional import Params
from .baseline import baseline_values, fit_linear_baseline
from .episodes import Episodes, action_distribution
from .losses import gaussian_kl, gaussian_log_prob, masked_mean, reinforce_loss
from .returns import discounted_returns, gae, normalize


def with_advantages(episodes: Episodes, gamma: float = 0.99, lam: float = 1.0) -> Episodes:
    """Â from the per-task linear baseline (GAE(γ, λ); λ = 1 is R − V), normalised per task."""
    returns = discounted_returns(episodes.rewards, episodes.mask, gamma)
    weights = fit_linear_baseline(episodes.obs, returns, episodes.mask)
    values = baseline_values(weights, episodes.obs, episodes.mask)
    advantages = gae(episodes.rewards, values, episodes.mask, gamma, lam)
    return episodes.with_(advantages=normalize(advantages, episodes.mask))


@dataclass
class SamplingPolicy:
    """π_old on the query episodes: what the surrogate's ratio and the KL are measured against."""
    log_prob: torch.Tensor   # [T, N, H]
    mean: torch.Tensor       # [T, N, H, act_dim]
    log_std: torch.Tensor

    @classmethod
    @torch.no_grad()
    def of(cls, policy, params: Params, episodes: Episodes) -> "SamplingPolicy":
        mean, log_std = action_distribution(policy, params, episodes.obs)
        return cls(gaussian_log_prob(mean, log_std, episodes.actions), mean, log_std)


@dataclass
class PolicyTaskBatch:
    policy: torch.nn.Module
    support: Episodes
    query: Episodes | None = None
    old: SamplingPolicy | None = None

    @property
    def n_tasks(self) -> int:
        return self.support.n_tasks

    def subset(self, index) -> "PolicyTaskBatch":
        """The same batch restricted to tasks `index` (e.g. for a subsampled Fisher)."""
        take = lambda e: None if e is None else Episodes(*(None if f is None else f[index] for f in
                                                           (e.obs, e.actions, e.rewards, e.mask, e.advantages)))
        old = None if self.old is None else SamplingPolicy(self.old.log_prob[index], self.old.mean[index],
                                                           self.old.log_std[index])
        return PolicyTaskBatch(self.policy, take(self.support), take(self.query), old)

    def support_loss(self, params: Params) -> torch.Tensor:
        return reinforce_loss(self.policy, params, self.support)

    def query_loss(self, params: Params) -> torch.Tensor:
        return self.query_loss_and_kl(params)[0]

    def query_loss_and_kl(self, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """TRPO surrogate −E[π_θ/π_old · Â] and KL(π_old ‖ π_θ) per task, from one forward pass."""
        q = self.query
        mean, log_std = action_distribution(self.policy, params, q.obs)
        ratio = (gaussian_log_prob(mean, log_std, q.actions) - self.old.log_prob).exp()
        loss = -masked_mean(ratio * q.advantages, q.mask)
        kl = masked_mean(gaussian_kl(self.old.mean, self.old.log_std, mean, log_std), q.mask)
        return loss, kl
