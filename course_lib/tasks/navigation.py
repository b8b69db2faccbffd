"""2-D navigation as in the MAML paper (§5.3) and the authors' maml_rl code (`Navigation2DEnv`).

A point mass starts at the origin and must reach a goal g ~ U[−0.5, 0.5]² (one goal = one task):

    observation  x_t ∈ R²  (current position)          action  u_t ∈ R² (velocity)
    x_{t+1} = x_t + clip(u_t, −0.1, 0.1)
    r_t     = −‖x_{t+1} − g‖₂                          (distance after the move)
    terminated when |x − g_x| < 0.01 and |y − g_y| < 0.01, truncated at H = 100 steps.

The paper's text says "negative squared distance"; the authors' code (and this module) use the plain
L2 distance. Everything is float32, and the one-env (numpy) and batched (torch) versions do the same
float32 operations in the same order, so they give bitwise-identical trajectories.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from ..validation import check_int, check_shape
from .base import TaskEnv, UniformTasks

MAX_SPEED = 0.1   # |action| per coordinate after clipping
TOLERANCE = 0.01  # success: both coordinates within this of the goal
HORIZON = 100     # H


@dataclass(frozen=True)
class NavigationDistribution(UniformTasks):
    """Goals uniform in the square [low, high]²: sample_tasks(n, rng) → [n, 2] float32."""
    low: float = -0.5
    high: float = 0.5
    shape: tuple[int, ...] = (2,)


class Navigation2D(TaskEnv):
    """One 2-D navigation task (a goal, shape (2,)) as a gymnasium env (for notebooks, evaluation and
    `gymnasium.make`); how the task is set and drawn: `TaskEnv`. Actions outside the action space are
    accepted and clipped (policies are Gaussian)."""

    metadata = {"render_modes": []}
    distribution = NavigationDistribution()
    _as_task = staticmethod(lambda task: _as_goal(task))
    _shown = staticmethod(lambda goal: goal.copy())

    def __init__(self, task=None, horizon: int = HORIZON):
        check_int(horizon, "horizon", 1)
        self.horizon = horizon
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-MAX_SPEED, MAX_SPEED, shape=(2,), dtype=np.float32)
        super().__init__(task)
        self._position = None
        self._t = 0

    def _start(self):
        self._position = np.zeros(2, dtype=np.float32)
        self._t = 0
        return self._position.copy(), {"task": self._task.copy()}

    def step(self, action):
        if self._position is None:
            raise RuntimeError("call reset() before step()")
        action = _as_action(action, (2,))
        position = self._position + np.clip(action, np.float32(-MAX_SPEED), np.float32(MAX_SPEED))
        d = position - self._task
        reward = -np.sqrt(d[0] * d[0] + d[1] * d[1])
        terminated = bool(abs(d[0]) < np.float32(TOLERANCE) and abs(d[1]) < np.float32(TOLERANCE))
        self._position, self._t = position, self._t + 1
        truncated = self._t >= self.horizon
        return position.copy(), float(reward), terminated, truncated, {"task": self._task.copy()}


class BatchedNavigation2D:
    """T goals × N episodes stepped at once in torch (the sampler's version of `Navigation2D`).

    `reset() -> obs [T, N, 2]`; `step(actions [T, N, 2]) -> (obs [T, N, 2], reward [T, N],
    terminated [T, N] bool)`. `terminated` is sticky: True from the step an episode reaches its goal
    on. After that the episode is frozen: its position no longer moves and its reward is 0 (the
    sampler also masks it, with mask = "alive before this step" = ~terminated of the previous step).
    There is no truncation flag: run `horizon` steps; stepping further raises RuntimeError.
    """

    obs_dim = 2
    act_dim = 2

    def __init__(self, goals: torch.Tensor, n_episodes: int, horizon: int = HORIZON):
        goals = torch.as_tensor(goals, dtype=torch.float32).detach()
        check_shape(goals, "goals", (None, 2))
        if goals.shape[0] < 1 or not torch.isfinite(goals).all():
            raise ValueError(f"goals must be a non-empty [T, 2] tensor of finite values, got {goals}")
        check_int(n_episodes, "n_episodes", 1)
        check_int(horizon, "horizon", 1)
        self.goals, self.n_episodes, self.horizon = goals, n_episodes, horizon
        self.n_tasks = goals.shape[0]
        self.position = self.terminated = None
        self.t = 0

    def reset(self) -> torch.Tensor:
        shape = (self.n_tasks, self.n_episodes)
        self.position = torch.zeros(*shape, 2, dtype=torch.float32, device=self.goals.device)
        self.terminated = torch.zeros(shape, dtype=torch.bool, device=self.goals.device)
        self.t = 0
        return self.position.clone()

    def step(self, actions: torch.Tensor):
        if self.position is None:
            raise RuntimeError("call reset() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"the episodes are over (horizon {self.horizon}); call reset()")
        actions = _as_actions(actions, (self.n_tasks, self.n_episodes, 2))
        alive = ~self.terminated
        moved = self.position + actions.clamp(-MAX_SPEED, MAX_SPEED)
        self.position = torch.where(alive[..., None], moved, self.position)
        d = self.position - self.goals[:, None, :]
        squared = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]
        # torch's vectorized float32 sqrt on CPU may be off by one ulp; the float64 sqrt rounded to
        # float32 is the correctly rounded float32 sqrt, the same as numpy's in `Navigation2D.step`
        reward = -torch.sqrt(squared.double()).float()
        reward = torch.where(alive, reward, torch.zeros_like(reward))
        self.terminated = self.terminated | ((d[..., 0].abs() < TOLERANCE) & (d[..., 1].abs() < TOLERANCE))
        self.t += 1
        return self.position.clone(), reward, self.terminated.clone()


def _as_goal(task) -> np.ndarray:
    goal = np.array(task, dtype=np.float32)  # a copy: the caller's array stays theirs
    if goal.shape != (2,) or not np.isfinite(goal).all():
        raise ValueError(f"task (goal) must be 2 finite numbers, shape (2,), got {task!r}")
    return goal


def _as_action(action, shape: tuple) -> np.ndarray:
    """Any array of the right size (e.g. (2,) or (1, 2)) as a float32 array of `shape`."""
    array = np.asarray(action, dtype=np.float32)
    if array.size != math.prod(shape) or not np.isfinite(array).all():
        raise ValueError(f"action must be {math.prod(shape)} finite numbers, shape {shape}, got {action!r}")
    return array.reshape(shape)


def _as_actions(actions, shape: tuple) -> torch.Tensor:
    actions = torch.as_tensor(actions).detach().to(torch.float32)
    check_shape(actions, "actions", shape)
    if not torch.isfinite(actions).all():
        raise ValueError("actions must be finite (got NaN or inf)")
    return actions
