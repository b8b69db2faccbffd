"""The meta-RL problems the trainer knows: task distribution + batched environment, by name."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_choice
from ..tasks.navigation import MAX_SPEED, BatchedNavigation2D, NavigationDistribution
from ..tasks.velocity import MAX_FORCE, BatchedPointVelocity1D, VelocityDistribution


@dataclass(frozen=True)
class EnvSpec:
    distribution: object
    batched: type | None  # a torch env stepping tasks × episodes; None: MuJoCo, sampled in worker processes
    obs_dim: int
    act_dim: int
    task_dim: int
    max_action: float   # the env clips actions to ±max_action
    mujoco: str | None = None   # the course_lib.tasks.locomotion class name


def _locomotion(name: str, obs_dim: int, act_dim: int) -> EnvSpec:
    from ..tasks.locomotion import LOCOMOTION_ENVS
    return EnvSpec(LOCOMOTION_ENVS[name].distribution, None, obs_dim, act_dim, 1, 1.0, name)


ENVS = {
    "navigation2d": EnvSpec(NavigationDistribution(), BatchedNavigation2D, 2, 2, 2, MAX_SPEED),
    "point_velocity": EnvSpec(VelocityDistribution(), BatchedPointVelocity1D, 1, 1, 1, MAX_FORCE),
    # MuJoCo (MAML paper §5.3), the names of ../reference/maml_paper_rl_returns.json
    "halfcheetah_vel": _locomotion("HalfCheetahVel", 17, 6),
    "halfcheetah_dir": _locomotion("HalfCheetahDir", 17, 6),
    "ant_vel": _locomotion("AntVel", 105, 8),
    "ant_dir": _locomotion("AntDir", 105, 8),
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


class NormalizedActions:
    """The policy acts in [−1, 1]; the env receives max_action · clip(u, −1, 1).

    This is rllab's `normalize(env)`, which the authors' MAML code wraps around every environment: a
    Gaussian policy with σ = 1 then explores at the scale of the action bounds (±0.1 in navigation,
    not ±1, which would be ten times coarser than the task needs)."""

    def __init__(self, env, max_action: float):
        self.env, self.max_action = env, max_action
        self.n_tasks, self.horizon, self.act_dim, self.obs_dim = env.n_tasks, env.horizon, env.act_dim, env.obs_dim

    def reset(self):
        return self.env.reset()

    def step(self, actions):
        return self.env.step(self.max_action * actions.clamp(-1.0, 1.0))


def check_sampler(env: str, sampler: str, ray_address: str | None) -> None:
    """The sampling backend of `env` (see mujoco_sampler.shared_sampler): "local", or "ray" for the MuJoCo
    envs, at `ray_address` (None: a local Ray; RaySampler checks the address itself)."""
    from .mujoco_sampler import SAMPLERS
    check_choice(env, "env", tuple(ENVS))
    check_choice(sampler, "sampler", SAMPLERS)
    if sampler == "ray" and ENVS[env].mujoco is None:
        raise ValueError(f"sampler 'ray' is for the MuJoCo envs {[k for k, s in ENVS.items() if s.mujoco]}; "
                         f"{env!r} is one batched torch env stepped in this process: use sampler 'local'")
    if ray_address is not None and sampler != "ray":
        raise ValueError(f"ray_address is for sampler 'ray', got ray_address {ray_address!r} with sampler {sampler!r}")


def make_batched_env(name: str, tasks: np.ndarray, n_episodes: int, oracle: bool = False,
                     normalize_actions: bool = True, sampler: str = "local", ray_address: str | None = None):
    """T tasks × `n_episodes` episodes of environment `name`, stepped at once (see NormalizedActions);
    the MuJoCo envs are sampled by the backend `sampler` (see check_sampler)."""
    check_sampler(name, sampler, ray_address)
    spec = ENVS[name]
    if spec.mujoco is not None:
        from .mujoco_sampler import MujocoTaskBatch
        return MujocoTaskBatch(spec.mujoco, tasks, n_episodes, oracle, spec.max_action if normalize_actions else None,
                               sampler=sampler, ray_address=ray_address)
    tasks = torch.as_tensor(np.asarray(tasks), dtype=torch.float32)
    env = ENVS[name].batched(tasks, n_episodes)
    if normalize_actions:
        env = NormalizedActions(env, ENVS[name].max_action)
    return WithTaskObservation(env, tasks) if oracle else env
