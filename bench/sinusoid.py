"""Sinusoid reproduction, the MAML paper's protocol (App. C, Table 2), for every shipped checkpoint.

    python bench/sinusoid.py [--tasks 600] [--seed 1234]

K = 5 support points per held-out task, each gradient step on the same K points with the model's
own α, MSE on 100 fresh points per task, 600 tasks, mean ± 95% CI (1.96 σ/√n). Prints the paper's
numbers beside ours, and each checkpoint's meta-training wall time on this machine.
"""
from __future__ import annotations

import argparse

import torch

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.sinusoid.evaluate import PAPER_SINUSOID, sinusoid_benchmark
from course_lib.validation import at_least

ORDER = ["maml", "fomaml", "metasgd", "cavia", "reptile", "pretrain", "random", "oracle"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=at_least(2), default=600)
    parser.add_argument("--seed", type=at_least(0), default=1234)
    args = parser.parse_args()
    torch.set_num_threads(1)

    paths = {a: SHIPPED / f"sinusoid_{a}.pt" for a in ORDER if (SHIPPED / f"sinusoid_{a}.pt").exists()}
    results = sinusoid_benchmark(paths, n_tasks=args.tasks, seed=args.seed)
    print(f"Sinusoid, K = 5, {args.tasks} held-out tasks (seed {args.seed}): MSE, mean ± 95% CI\n")
    print(f"| {'model':8} | {'0 steps':>12} | {'1 step':>12} | {'5 steps':>12} | {'10 steps':>12} "
          f"| {'paper 1 / 5 / 10':>18} | {'train iters':>11} | {'train time':>10} |")
    print("|" + "|".join("-" * w for w in (10, 14, 14, 14, 14, 20, 13, 12)) + "|")
    for name, row in results.items():
        ckpt = load_checkpoint(paths[name])
        paper = " / ".join(f"{v:.2f}" for v in PAPER_SINUSOID[name]) if name in PAPER_SINUSOID else "—"
        # the oracle sees the task parameters as input: it is not adapted, only its step-0 loss counts
        cells = " | ".join(f"{str(row[s]) if name != 'oracle' or s == 0 else '—':>12}" for s in (0, 1, 5, 10))
        print(f"| {name:8} | {cells} | {paper:>18} | {ckpt['iteration']:>11} | {ckpt['wall_time'] / 60:>7.1f} min |")


if __name__ == "__main__":
    main()
