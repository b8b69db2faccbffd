"""Adaptation on held-out tasks, for any task batch: loss after 0, 1, …, k gradient steps, and the
mean ± 95% CI over tasks with divergence counted (sinusoid/evaluate.py holds the paper's protocol)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .functional import Params, batched, detached
from .inner import inner_update
from .meta import CONTEXT, shared as shared_of
from .validation import check_int


def adapted_params(theta: Params, tasks, alpha, steps: int, context_dim: int = 0) -> list[Params]:
    """Task-batched parameters after 0, 1, …, `steps` first-order steps on the support set.

    With context_dim > 0 (CAVIA) only the context adapts, from zero; otherwise every weight adapts.
    """
    check_int(steps, "steps", 0)
    shared = batched(detached(shared_of(theta)), tasks.n_tasks)
    if context_dim:
        dtype = next(iter(shared.values())).dtype
        fast = {CONTEXT: torch.zeros(tasks.n_tasks, context_dim, dtype=dtype, requires_grad=True)}
        loss_fn = lambda p: tasks.support_loss({**shared, **p}).sum()
    else:
        fast, shared = detached(shared, requires_grad=True), {}
        loss_fn = lambda p: tasks.support_loss(p).sum()
    out = [{**shared, **detached(fast)}]
    for _ in range(steps):
        fast = detached(inner_update(fast, loss_fn, alpha, 1, first_order=True), requires_grad=True)
        out.append({**shared, **detached(fast)})
    return out


def adaptation_curve(theta: Params, tasks, alpha, steps: int, context_dim: int = 0) -> torch.Tensor:
    """Query loss per task after 0..steps inner steps: a [steps + 1, T] tensor."""
    with torch.enable_grad():
        params = adapted_params(theta, tasks, alpha, steps, context_dim)
    with torch.no_grad():
        return torch.stack([tasks.query_loss(p) for p in params])


DIVERGED_FACTOR = 1000.0   # a task diverged if its loss is not finite or grew beyond 1000× its loss before adapting


@dataclass
class Summary:
    mean: float
    ci95: float        # half-width, 1.96 σ / √n
    diverged: int = 0  # tasks that diverged (see DIVERGED_FACTOR): the table reports them, not a mean
    n: int = 0

    def __str__(self) -> str:
        if self.diverged:
            return f"diverged {self.diverged}/{self.n}"
        return f"{self.mean:.2f} ± {self.ci95:.2f}"


def mean_and_stderr(values) -> tuple[float, float]:
    """Mean and standard error s/√n (s with n − 1 in the denominator); 0 for a single value."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("values must be a non-empty sequence, got an empty one")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def summarize(values, before=None) -> Summary:
    """Mean and 95% CI half-width over tasks. A task diverged if its value is not finite, or (given the
    losses `before` adapting) exceeds DIVERGED_FACTOR × its loss before; then the mean is infinite."""
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v)
    if before is not None:
        bad |= v > DIVERGED_FACTOR * np.asarray(before, dtype=np.float64)
    diverged = int(bad.sum())
    if diverged:
        return Summary(float("inf"), float("inf"), diverged, len(v))
    mean, stderr = mean_and_stderr(v)
    return Summary(mean, 1.96 * stderr, 0, len(v))
