"""Adaptation on held-out tasks: loss after 0, 1, …, k gradient steps, and the paper's protocol.

Sinusoid protocol (MAML paper, App. C): K = 5 points per held-out task, every gradient step on the
same K points with the model's α, MSE on fresh points of the task, 600 tasks, 95% CI = 1.96·σ/√n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .functional import Params, batched, detached
from .inner import inner_update
from .meta import CONTEXT
from .validation import check_int


def adapted_params(theta: Params, tasks, alpha, steps: int, context_dim: int = 0) -> list[Params]:
    """Task-batched parameters after 0, 1, …, `steps` first-order steps on the support set.

    With context_dim > 0 (CAVIA) only the context adapts, from zero; otherwise every weight adapts.
    """
    check_int(steps, "steps", 0)
    shared = batched(detached({k: v for k, v in theta.items() if k != CONTEXT}), tasks.n_tasks)
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
    return Summary(float(v.mean()), float(1.96 * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0,
                   0, len(v))


# MAML paper, Appendix C, Table 2 (K = 5): MSE after 1 / 5 / 10 steps.
PAPER_SINUSOID = {"maml": (0.67, 0.38, 0.35), "pretrain": (2.41, 2.23, 2.19)}


def benchmark_tasks(n_tasks: int = 600, k: int = 5, n_query: int = 100, seed: int = 1234):
    """The benchmark's held-out sinusoid tasks: (tasks [n, 2], (x_s, y_s) with K points, (x_q, y_q))."""
    from .tasks.sinusoid import SinusoidDistribution

    check_int(n_tasks, "n_tasks", 2)
    check_int(k, "K", 1)
    rng = np.random.default_rng(seed)
    dist = SinusoidDistribution()
    tasks = dist.sample_tasks(n_tasks, rng)
    return tasks, dist.sample_points(tasks, k, rng), dist.sample_points(tasks, n_query, rng)


def sinusoid_benchmark(paths: dict, n_tasks: int = 600, k: int = 5, n_query: int = 100,
                       report_steps=(1, 5, 10), seed: int = 1234) -> dict:
    """{name: {step: Summary}} for each checkpoint, on the same held-out tasks and points."""
    from .tasks.sinusoid import RegressionBatch
    from .train import load_trained

    tasks, (xs, ys), (xq, yq) = benchmark_tasks(n_tasks, k, n_query, seed)
    results = {}
    for name, path in paths.items():
        model, theta, alpha, config = load_trained(path)
        batch = RegressionBatch(model, xs, ys, xq, yq, tasks, oracle=config.algo == "oracle")
        curve = adaptation_curve(theta, batch, alpha, max(report_steps), model.context_dim)
        results[name] = {s: summarize(curve[s], curve[0]) for s in (0, *report_steps)}
    return results
