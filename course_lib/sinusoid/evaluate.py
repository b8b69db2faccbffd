"""The sinusoid benchmark (MAML paper, App. C): K = 5 points per held-out task, every gradient step on
the same K points with the model's α, MSE on fresh points of the task, 600 tasks, 95% CI = 1.96·σ/√n."""
from __future__ import annotations

import numpy as np

from ..evaluate import adaptation_curve, summarize
from ..tasks.sinusoid import RegressionBatch, SinusoidDistribution
from ..validation import check_int
from .config import load_trained

# MAML paper, Appendix C, Table 2 (K = 5): MSE after 1 / 5 / 10 steps.
PAPER_SINUSOID = {"maml": (0.67, 0.38, 0.35), "pretrain": (2.41, 2.23, 2.19)}


def benchmark_tasks(n_tasks: int = 600, k: int = 5, n_query: int = 100, seed: int = 1234):
    """The benchmark's held-out sinusoid tasks: (tasks [n, 2], (x_s, y_s) with K points, (x_q, y_q))."""
    check_int(n_tasks, "n_tasks", 2)
    check_int(k, "K", 1)
    rng = np.random.default_rng(seed)
    dist = SinusoidDistribution()
    tasks = dist.sample_tasks(n_tasks, rng)
    return tasks, dist.sample_points(tasks, k, rng), dist.sample_points(tasks, n_query, rng)


def sinusoid_benchmark(paths: dict, n_tasks: int = 600, k: int = 5, n_query: int = 100,
                       report_steps=(1, 5, 10), seed: int = 1234) -> dict:
    """{name: {step: Summary}} for each checkpoint, on the same held-out tasks and points."""
    tasks, (xs, ys), (xq, yq) = benchmark_tasks(n_tasks, k, n_query, seed)
    results = {}
    for name, path in paths.items():
        model, theta, alpha, config = load_trained(path)
        batch = RegressionBatch(model, xs, ys, xq, yq, tasks, oracle=config.algo == "oracle")
        curve = adaptation_curve(theta, batch, alpha, max(report_steps), model.context_dim)
        results[name] = {s: summarize(curve[s], curve[0]) for s in (0, *report_steps)}
    return results
