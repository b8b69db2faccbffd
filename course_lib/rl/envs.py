"""The meta-RL problems the trainer knows: task distribution + batched environment, by name."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..tasks.navigation import BatchedNavigation2D, NavigationDistribution
from ..tasks.velocity import BatchedPointVelocity1D, VelocityDistribution


@dataclass(frozen=True)
class EnvSpec:
    distribution: object
    batched: type
    obs_dim: int
    act_dim: int
    task_dim: int


ENVS = {
    "navigation2d": EnvSpec(NavigationDistribution(), BatchedNavigation2D, 2, 2, 2),
    "point_velocity": EnvSpec(VelocityDistribution(), BatchedPointVelocity1D, 1, 1, 1),
}


class WithTaskObservation:
    """The oracle's view: every observation extended by the task parameters (goal / target)."""

    def __init__(self, env, tasks: torch.Tensor):
        self.env, self.tasks = env, tasks.reshape(env.n_tasks, 1, -1)
        self.n_tasks, self.horizon, self.act_dim = env.n_tasks, env.horizon, env.act_dim
        self.obs_dim = env.obs_dim + self.tasks.shape[-1]

    def _extend(self, obs):
        return torch.cat([obs, self.tasks.expand(-1, obs.shape[1], -1)], dim=-1)

    def reset(self):
        return self._extend(self.env.reset())

    def step(self, actions):
        obs, reward, terminated = self.env.step(actions)
        return self._extend(obs), reward, terminated


def make_batched_env(name: str, tasks: np.ndarray, n_episodes: int, oracle: bool = False):
    """T tasks × `n_episodes` episodes of environment `name`, stepped at once."""
    if name not in ENVS:
        raise ValueError(f"env must be one of {tuple(ENVS)}, got {name!r}")
    tasks = torch.as_tensor(np.asarray(tasks), dtype=torch.float32)
    env = ENVS[name].batched(tasks, n_episodes)
    return WithTaskObservation(env, tasks) if oracle else env
