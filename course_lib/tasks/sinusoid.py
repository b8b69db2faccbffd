"""Sinusoid regression exactly as in the MAML paper (Appendix C / §5.1).

Task: y = A sin(x − b), amplitude A ~ U[0.1, 5], phase b ~ U[0, π]; inputs x ~ U[−5, 5]; K points per
task. (The workbook writes the phase b — φ is kept for adapted weights, docs/formulas.md; the widgets'
labels still print φ.) A task array row is (A, b).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..functional import Params, forward
from ..validation import check_int, check_shape


@dataclass(frozen=True)
class SinusoidDistribution:
    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n, 2] array of (amplitude A, phase b)."""
        check_int(n, "n", 1)
        return np.stack([rng.uniform(*self.amplitude, size=n), rng.uniform(*self.phase, size=n)], axis=1)

    def sample_points(self, tasks: np.ndarray, k: int, rng: np.random.Generator):
        """K inputs per task and their targets: x, y of shape [n, K, 1] (float32 tensors)."""
        check_int(k, "K", 1)
        tasks = np.asarray(tasks, dtype=np.float64).reshape(-1, 2)
        x = rng.uniform(*self.x_range, size=(len(tasks), k, 1))
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(sine(tasks, x), dtype=torch.float32)

    def sample_batch(self, n_tasks: int, k_support: int, k_query: int, rng: np.random.Generator,
                     model: nn.Module) -> "RegressionBatch":
        """A meta-batch: n_tasks fresh tasks, K support and K query points each."""
        check_int(k_query, "k_query", 1)
        tasks = self.sample_tasks(n_tasks, rng)
        xs, ys = self.sample_points(tasks, k_support, rng)
        xq, yq = self.sample_points(tasks, k_query, rng)
        return RegressionBatch(model, xs, ys, xq, yq, tasks)


def sine(tasks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A sin(x − b) for tasks [n, 2] (amplitude A, phase b) and x [n, K, 1]."""
    amplitude, phase = tasks[:, 0, None, None], tasks[:, 1, None, None]
    return amplitude * np.sin(x - phase)


@dataclass
class RegressionBatch:
    """T regression tasks: support (x_s, y_s) for the inner loop, query (x_q, y_q) for the meta-loss.

    With `oracle=True` the task parameters are appended to every input (the oracle baseline).
    """
    model: nn.Module
    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    tasks: np.ndarray | None = None
    oracle: bool = False

    def __post_init__(self):
        t = self.x_support.shape[0]
        for name in ("x_support", "y_support", "x_query", "y_query"):
            check_shape(getattr(self, name), name, (t, None, None))
        for x, y in (("x_support", "y_support"), ("x_query", "y_query")):  # no silent broadcasting
            check_shape(getattr(self, y), y, (t, getattr(self, x).shape[1], None))
            if getattr(self, x).shape[1] < 1:
                raise ValueError(f"K ({x}.shape[1]) must be an integer in [1, inf), got 0")
        if self.oracle:
            if self.tasks is None:
                raise ValueError("oracle=True needs the task parameters (tasks)")
            self.x_support, self.x_query = (_with_task(x, self.tasks) for x in (self.x_support, self.x_query))

    @property
    def n_tasks(self) -> int:
        return self.x_support.shape[0]

    def predict(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        return forward(self.model, params, x, task_batched=True)

    def support_loss(self, params: Params) -> torch.Tensor:
        return mse(self.predict(params, self.x_support), self.y_support)

    def query_loss(self, params: Params) -> torch.Tensor:
        return mse(self.predict(params, self.x_query), self.y_query)


def _with_task(x: torch.Tensor, tasks: np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(tasks), dtype=x.dtype)[:, None, :].expand(-1, x.shape[1], -1)
    return torch.cat([x, t], dim=-1)


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per task: [T, K, 1] → [T]."""
    return ((prediction - target) ** 2).mean(dim=(1, 2))
