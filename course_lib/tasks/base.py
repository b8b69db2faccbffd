"""What a batch of tasks offers the meta-learners."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch

from ..functional import Params
from ..validation import check_int


@dataclass(frozen=True)
class UniformTasks:
    """Task parameters uniform in [low, high]^shape (goals, target velocities, …)."""
    low: float
    high: float
    shape: tuple[int, ...] = ()
    dtype: type = np.float32

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n, *shape] task parameters."""
        check_int(n, "n", 1)
        return rng.uniform(self.low, self.high, size=(n, *self.shape)).astype(self.dtype)


class TaskBatch(Protocol):
    """T tasks at once. Losses take task-batched params (leading dim T) and return a [T] tensor."""

    n_tasks: int

    def support_loss(self, params: Params) -> torch.Tensor: ...

    def query_loss(self, params: Params) -> torch.Tensor: ...


class TaskEnv(gym.Env):
    """A gymnasium env that holds one task: fixed (as MAML's inner loop needs) or drawn at every reset.

    The task is set with `set_task(task)`, `env.task = task` (so vector envs' `set_attr("task", tasks)`
    works), `reset(options={"task": task})` or the constructor. With none set, every `reset` draws one
    from `distribution` with the env's seeded `np_random` (reproducible with `reset(seed=s)`).
    Subclasses say how a task is checked (`_as_task`) and shown (`_shown`)."""

    distribution: UniformTasks

    def __init__(self, task=None):
        self.set_task(task)

    @classmethod
    def sample_tasks(cls, n: int, rng: np.random.Generator) -> np.ndarray:
        """n tasks from the env's task distribution."""
        return cls.distribution.sample_tasks(n, rng)

    def set_task(self, task) -> None:
        """Fix the task; `None` returns to drawing one at every reset (takes effect at the next reset)."""
        self._task = None if task is None else self._as_task(task)
        self._fixed = task is not None

    @property
    def task(self):
        """The current task, or None before the first reset of a task-less env."""
        return None if self._task is None else self._shown(self._task)

    @task.setter
    def task(self, value) -> None:
        self.set_task(value)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "task" in options:
            self.set_task(options["task"])
        if not self._fixed:
            self._task = self.sample_tasks(1, self.np_random)[0]
        return self._start()
