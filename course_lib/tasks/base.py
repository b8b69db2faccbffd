"""What a batch of tasks offers the meta-learners."""
from __future__ import annotations

from typing import Protocol

import torch

from ..functional import Params


class TaskBatch(Protocol):
    """T tasks at once. Losses take task-batched params (leading dim T) and return a [T] tensor."""

    n_tasks: int

    def support_loss(self, params: Params) -> torch.Tensor: ...

    def query_loss(self, params: Params) -> torch.Tensor: ...
