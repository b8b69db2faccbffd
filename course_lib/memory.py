"""The memory a meta-gradient holds: the peak bytes of the tensors autograd keeps for backward."""
from __future__ import annotations

from typing import Callable

import torch


def saved_for_backward(step: Callable[[], object]) -> int:
    """Peak bytes of the distinct tensors autograd holds for backward at once while `step()` runs.

    Every tensor autograd saves is wrapped in a handle that counts its storage while the graph keeps it
    (a storage shared by several saved tensors counts once). For a meta-gradient the peak is reached when
    the outer backward pass starts: first-order methods have freed the inner steps' graphs by then,
    second-order MAML has not. Exact and deterministic, unlike the process's resident memory."""
    live: dict[tuple, int] = {}
    total, peak = [0], [0]

    class Handle:
        def __init__(self, t: torch.Tensor):
            self.t, storage = t, t.untyped_storage()
            self.key, self.nbytes = (storage.data_ptr(), storage.nbytes()), storage.nbytes()
            live[self.key] = live.get(self.key, 0) + 1
            if live[self.key] == 1:
                total[0] += self.nbytes
                peak[0] = max(peak[0], total[0])

        def __del__(self):
            live[self.key] -= 1
            if live[self.key] == 0:
                del live[self.key]
                total[0] -= self.nbytes

    with torch.autograd.graph.saved_tensors_hooks(Handle, lambda h: h.t):
        step()
    return peak[0]
