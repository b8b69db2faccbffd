"""1-D target velocity: the simplest "locomotion" task, met before the MuJoCo ones.

A 1-D analogue of the paper's goal-velocity tasks (§5.3: half-cheetah with v_goal ~ U[0, 2], reward
−|v − v_goal| minus a control cost). A point mass of unit mass starts at rest at x = 0; a task is a
target velocity v* ~ U[−2, 2] (both directions, so the sign must be learned from rewards too):

    observation  (v_t,)  ∈ R¹                          action  a_t ∈ R¹ (force = acceleration)
    v_{t+1} = v_t + dt · clip(a_t, −1, 1)              dt = 0.1 (semi-implicit Euler:
    x_{t+1} = x_t + dt · v_{t+1}                                 the position uses the new velocity)
    r_t     = −(v_{t+1} − v*)²
    no termination; truncated at H = 100 steps.

The observation is the velocity alone: the reward does not depend on the position, so (like MuJoCo
locomotion, which hides the root x coordinate) the policy should not either — and the position grows
without bound, which would only disturb a linear baseline. The position is still tracked and reported
in `info["position"]` (and `BatchedPointVelocity1D.position`) for plots. With |a| ≤ 1 reaching
|v*| = 2 takes 20 steps. One-env (numpy) and batched (torch) versions are bitwise identical (float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from ..validation import check_int, check_shape
from .base import TaskEnv, UniformTasks
from .navigation import _as_action, _as_actions

MAX_FORCE = 1.0  # |action| after clipping
DT = 0.1         # time step
HORIZON = 100    # H


@dataclass(frozen=True)
class VelocityDistribution(UniformTasks):
    """Target velocities uniform in [low, high]: sample_tasks(n, rng) → [n] float32."""
    low: float = -2.0
    high: float = 2.0


class PointVelocity1D(TaskEnv):
    """One target-velocity task (a number) as a gymnasium env; observation (velocity,), action (force,).
    How the task is set and drawn: `TaskEnv`. Out-of-range actions are accepted and clipped."""

    metadata = {"render_modes": []}
    distribution = VelocityDistribution()
    _as_task = staticmethod(lambda task: _as_target(task))
    _shown = staticmethod(float)

    def __init__(self, task=None, horizon: int = HORIZON):
        check_int(horizon, "horizon", 1)
        self.horizon = horizon
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-MAX_FORCE, MAX_FORCE, shape=(1,), dtype=np.float32)
        super().__init__(task)
        self._position = self._velocity = None
        self._t = 0

    def _start(self):
        self._position, self._velocity, self._t = np.float32(0), np.float32(0), 0
        return np.array([self._velocity], dtype=np.float32), self._info()

    def step(self, action):
        if self._velocity is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(_as_action(action, (1,))[0], np.float32(-MAX_FORCE), np.float32(MAX_FORCE))
        self._velocity = self._velocity + np.float32(DT) * a
        self._position = self._position + np.float32(DT) * self._velocity
        d = self._velocity - self._task
        self._t += 1
        obs = np.array([self._velocity], dtype=np.float32)
        return obs, float(-(d * d)), False, self._t >= self.horizon, self._info()

    def _info(self) -> dict:
        return {"task": float(self._task), "position": float(self._position)}


class BatchedPointVelocity1D:
    """T target velocities × N episodes stepped at once in torch (the sampler's version).

    `reset() -> obs [T, N, 1]`; `step(actions [T, N, 1]) -> (obs [T, N, 1], reward [T, N],
    terminated [T, N] bool, always False)`. `position` [T, N] holds the (unobserved) positions.
    No truncation flag: run `horizon` steps; stepping further raises RuntimeError.
    """

    obs_dim = 1
    act_dim = 1

    def __init__(self, targets: torch.Tensor, n_episodes: int, horizon: int = HORIZON):
        targets = torch.as_tensor(targets, dtype=torch.float32).detach()
        check_shape(targets, "targets", (None,))
        if targets.shape[0] < 1 or not torch.isfinite(targets).all():
            raise ValueError(f"targets must be a non-empty [T] tensor of finite values, got {targets}")
        check_int(n_episodes, "n_episodes", 1)
        check_int(horizon, "horizon", 1)
        self.targets, self.n_episodes, self.horizon = targets, n_episodes, horizon
        self.n_tasks = targets.shape[0]
        self.position = self.velocity = None
        self.t = 0

    def reset(self) -> torch.Tensor:
        self.position = torch.zeros_like(self.targets)[:, None].repeat(1, self.n_episodes)
        self.velocity = torch.zeros_like(self.position)
        self.t = 0
        return self.velocity[..., None].clone()

    def step(self, actions: torch.Tensor):
        if self.velocity is None:
            raise RuntimeError("call reset() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"the episodes are over (horizon {self.horizon}); call reset()")
        a = _as_actions(actions, (self.n_tasks, self.n_episodes, 1))[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
        dt = torch.tensor(DT, dtype=torch.float32)
        self.velocity = self.velocity + dt * a
        self.position = self.position + dt * self.velocity
        d = self.velocity - self.targets[:, None]
        self.t += 1
        terminated = torch.zeros_like(self.velocity, dtype=torch.bool)
        return self.velocity[..., None].clone(), -(d * d), terminated


def _as_target(task) -> np.float32:
    target = np.asarray(task, dtype=np.float32)
    if target.size != 1 or target.ndim > 1 or not np.isfinite(target).all():
        raise ValueError(f"task (target velocity) must be one finite number, got {task!r}")
    return target.reshape(())[()]
