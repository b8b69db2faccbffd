"""A batch of episodes for T tasks × N episodes × H steps, and the batched sampler that fills it."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..functional import Params, forward


@dataclass
class Episodes:
    obs: torch.Tensor        # [T, N, H, obs_dim]
    actions: torch.Tensor    # [T, N, H, act_dim]
    rewards: torch.Tensor    # [T, N, H]   (0 after termination)
    mask: torch.Tensor       # [T, N, H]   1.0 for steps taken while the episode was alive
    advantages: torch.Tensor | None = None  # [T, N, H], filled by returns.with_advantages

    @property
    def n_tasks(self) -> int:
        return self.obs.shape[0]

    def total_return(self) -> torch.Tensor:
        """Undiscounted return of every episode: [T, N]."""
        return (self.rewards * self.mask).sum(-1)

    def with_(self, **changes) -> "Episodes":
        return replace(self, **changes)


def action_distribution(policy, params: Params, obs: torch.Tensor):
    """(μ, log σ) of π(·|s) for task-batched params and obs [T, ..., obs_dim], broadcast to μ's shape."""
    mean, log_std = forward(policy, params, obs, task_batched=True)
    return mean, log_std.view(log_std.shape[0], *([1] * (mean.dim() - 2)), -1).expand_as(mean)


@torch.no_grad()
def sample_episodes(policy, params: Params, env, generator: torch.Generator | None = None) -> Episodes:
    """Roll out π_θi in every task of the batched `env` at once (no Python loop over tasks/episodes).

    Envs that sample themselves (MuJoCo: `MujocoTaskBatch.rollout`, in worker processes) are asked to."""
    if hasattr(env, "rollout"):
        return env.rollout(policy, params, generator)
    obs = env.reset()
    T, N = obs.shape[:2]
    H = env.horizon
    out_obs = obs.new_zeros(T, N, H, obs.shape[-1])
    out_act = obs.new_zeros(T, N, H, env.act_dim)
    rewards = obs.new_zeros(T, N, H)
    mask = obs.new_zeros(T, N, H)
    alive = torch.ones(T, N, dtype=torch.bool)
    for t in range(H):
        mean, log_std = action_distribution(policy, params, obs)
        action = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        out_obs[:, :, t], out_act[:, :, t], mask[:, :, t] = obs, action, alive
        obs, reward, terminated = env.step(action)
        rewards[:, :, t] = reward * alive
        alive = alive & ~terminated
        if not alive.any():
            break
    return Episodes(out_obs, out_act, rewards, mask)
