"""Few-shot character classification: the accuracy table, and what second order costs.

    python bench/fewshot.py --table [--tasks 600] [--seed 1234]
    python bench/fewshot.py --cost [--meta-batch 8] [--filters 64] [--repeats 5]

--table: every shipped `course_lib/checkpoints/fewshot_*.pt` at the settings it was trained for (its N-way,
K-shot, K query drawings, α and test steps), on the same held-out tasks (N-way K-shot episodes from the
held-out characters, seed `--seed`): accuracy %, mean ± 95% CI (1.96 σ/√n). The MAML paper's Omniglot
numbers stand beside them — another data set: ours are the generated Hershey characters.

--cost: one meta-iteration (meta-gradient and Adam step, course_lib.fewshot.train.meta_step) of MAML,
FOMAML and Reptile at 1, 3 and 5 inner steps on one 5-way 1-shot meta-batch, and the fix that keeps
second order only for the last inner step (`second_order_steps=1`, FOMAML's cost for the early steps).
Each setting runs in a fresh interpreter, so its numbers are its own. Memory is measured two ways:
- peak RSS: the process's high-water mark (resource.getrusage ru_maxrss) after the iterations minus the
  one before the first (setup done). tracemalloc does not see torch's tensor memory, and torch has no
  CPU allocator statistics; RSS does see it (plus allocator slack), so it is an upper bound;
- saved for backward: the peak bytes of the distinct tensors autograd holds for backward at once
  (counted through torch.autograd.graph.saved_tensors_hooks) — exact and deterministic: the part of
  memory that second order multiplies, since MAML keeps every inner step's graph until the outer pass.
Time: median over `--repeats` iterations after one warm-up, one torch thread.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.fewshot.config import FewShotConfig, default_config
from course_lib.fewshot.evaluate import PAPER_OMNIGLOT, PAPER_OMNIGLOT_FIRST_ORDER, evaluate_checkpoint
from course_lib.memory import saved_for_backward
from course_lib.validation import at_least

ORDER = ["maml", "fomaml", "reptile", "cavia", "pretrain"]
COST_SETTINGS = [(algo, steps, None) for algo in ("maml", "fomaml", "reptile") for steps in (1, 3, 5)
                 if not (algo == "reptile" and steps == 1)] + [("maml", 3, 1), ("maml", 5, 1)]


def shipped_fewshot() -> list[Path]:
    found = sorted(SHIPPED.glob("fewshot_*.pt"))
    rank = lambda p: next((i for i, a in enumerate(ORDER) if p.stem.startswith(f"fewshot_{a}")), len(ORDER))
    return sorted(found, key=lambda p: (rank(p), p.stem))


def table(n_tasks: int, seed: int) -> None:
    paths = shipped_fewshot()
    if not paths:
        print("no few-shot checkpoint shipped yet (course_lib/checkpoints/fewshot_*.pt)")
        return
    print(f"Few-shot classification, {n_tasks} held-out tasks (seed {seed}) from held-out characters: "
          "accuracy %, mean ± 95% CI\n")
    head = ("checkpoint", "row", "task", "K query", "α × steps", "accuracy (ours)",
            "MAML paper, Omniglot (ours: generated Hershey characters)", "filters", "iters", "train time")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    for path in paths:
        ckpt = load_checkpoint(path)
        c = FewShotConfig(**ckpt["config"])
        for row, summary in evaluate_checkpoint(path, n_tasks, seed).items():
            paper = {"maml": PAPER_OMNIGLOT, "fomaml": PAPER_OMNIGLOT_FIRST_ORDER}.get(row, {}).get((c.n_way, c.k_shot))
            paper = f"{paper[0]} ± {paper[1]} ({'first order' if row == 'fomaml' else 'MAML'})" if paper else "—"
            steps = "—" if row.endswith("prototype") else f"{c.alpha:g} × {c.test_steps}"
            print(f"| {path.stem} | {row} | {c.n_way}-way {c.k_shot}-shot | {c.k_query} | {steps} | "
                  f"{summary.mean:.1f} ± {summary.ci95:.1f} | {paper} | {c.filters} | "
                  f"{ckpt['iteration']} | {ckpt['wall_time'] / 60:.1f} min |")
    print("\nPaper: MAML paper Table 1 (Omniglot; ours: generated Hershey characters — another data set, so "
          "the columns are not a like-for-like comparison). Chance: 1/N. Train time: wall clock on a shared "
          "2-core machine.")


# ------------------------------------------------------------------ cost
def cost_one(algo: str, steps: int, second_order_steps, meta_batch: int, filters: int, repeats: int) -> dict:
    """One setting, in this (fresh) process: time per meta-iteration, peak RSS growth, saved bytes."""
    from course_lib.fewshot.config import build_model, distribution, sample_batch
    from course_lib.fewshot.train import meta_step      # the trainer's own meta-iteration
    from course_lib.functional import parameters_of

    torch.set_num_threads(1)
    torch.manual_seed(0)
    extra = dict(second_order_steps=second_order_steps) if second_order_steps else {}
    config = default_config(algo, steps=steps, meta_batch=meta_batch, filters=filters, **extra)
    rng = np.random.default_rng(0)
    images = ((rng.random((50, 20, 28, 28)) < 0.2) * 255).astype(np.uint8)      # content does not matter here
    model = build_model(config)
    theta = parameters_of(model)
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    batch = sample_batch(model, distribution(config, images), meta_batch, rng)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        meta_step(config, theta, batch)
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(time_s=statistics.median(times), peak_rss_mb=(rss1 - rss0) / 1024,
                saved_mb=saved_bytes(config, theta, batch) / 2 ** 20)


def saved_bytes(config, theta, batch) -> int:
    """Peak bytes autograd holds for backward during one meta-iteration (course_lib.memory)."""
    from course_lib.fewshot.train import meta_step

    peak = saved_for_backward(lambda: meta_step(config, theta, batch))
    for p in theta.values():
        p.grad = None
    return peak


def cost(meta_batch: int, filters: int, repeats: int) -> None:
    print(f"Cost of one meta-iteration: 5-way 1-shot, 5 query drawings per class, meta-batch {meta_batch}, "
          f"{filters} filters, one torch thread, a fresh interpreter per row (median of {repeats})\n")
    head = ("algorithm", "inner steps", "time / iteration", "peak RSS growth", "saved for backward")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    for algo, steps, sos in COST_SETTINGS:
        spec = json.dumps([algo, steps, sos, meta_batch, filters, repeats])
        out = subprocess.run([sys.executable, __file__, "--cost-one", spec], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1])
        if out.returncode:
            raise RuntimeError(f"{algo} {steps} steps failed:\n{out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        name = f"MAML, 2nd order last {sos} step only" if sos else {"maml": "MAML", "fomaml": "FOMAML",
                                                                      "reptile": "Reptile"}[algo]
        print(f"| {name} | {steps} | {r['time_s'] * 1000:.0f} ms | {r['peak_rss_mb']:.0f} MB | "
              f"{r['saved_mb']:.0f} MB |", flush=True)
    print("\nThe fix: `--second-order-steps 1` (FewShotConfig.second_order_steps) differentiates only the last "
          "inner step to second order; the earlier steps are first order and their graphs are freed as soon "
          "as their gradient is taken.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", action="store_true", help="accuracy of every shipped checkpoint")
    parser.add_argument("--cost", action="store_true", help="time and memory per meta-iteration")
    parser.add_argument("--tasks", type=at_least(2), default=600, help="held-out tasks (--table)")
    parser.add_argument("--seed", type=at_least(0), default=1234, help="seed of the held-out tasks (--table)")
    parser.add_argument("--meta-batch", type=at_least(1), default=8, help="tasks per meta-batch (--cost)")
    parser.add_argument("--filters", type=at_least(1), default=64, help="conv width (--cost; the paper's 64)")
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed iterations per setting (--cost)")
    parser.add_argument("--cost-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.cost_one:
        print(json.dumps(cost_one(*json.loads(args.cost_one))))
        return
    if not (args.table or args.cost):
        parser.error("pass --table, --cost or both")
    if args.table:
        table(args.tasks, args.seed)
    if args.cost:
        print() if args.table else None
        cost(args.meta_batch, args.filters, args.repeats)


if __name__ == "__main__":
    main()
