"""Meta-RL reproduction table (MAML paper §5.3, Fig. 4 / Table 4): returns after 0..k policy-gradient
steps on 40 held-out tasks, 40 episodes per step, α = 0.1 then 0.05, mean ± standard error over tasks,
for every shipped checkpoint of an environment, beside the paper's numbers.

    python bench/navigation.py [--env navigation2d] [--steps 3] [--episodes 40] [--seed 0]
"""
from __future__ import annotations

import argparse

import torch

from course_lib.checkpoints import SHIPPED
from course_lib.rl.evaluate import adaptation_returns, held_out_tasks, mean_and_stderr, reference_returns
from course_lib.rl.train import load_policy

ORDER = ["maml", "fomaml", "cavia", "reptile", "pretrain", "random", "oracle"]
PAPER_NAMES = {"maml": "maml", "pretrain": "pretrained_unconfirmed", "random": "random_init", "oracle": "oracle"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="navigation2d")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    tasks = held_out_tasks(args.env, args.tasks)
    paper = reference_returns(args.env)
    head = " | ".join(f"{f'{s} step' + ('s' if s != 1 else ''):>16}" for s in range(args.steps + 1))
    print(f"{args.env}: mean return ± s.e. over {args.tasks} held-out tasks, {args.episodes} episodes per step\n")
    print(f"| {'model':8} | {head} | {'paper 0 / 1 / 2 / 3':>30} |")
    print("|" + "|".join("-" * w for w in [10] + [18] * (args.steps + 1) + [32]) + "|")
    for name in ORDER:
        path = SHIPPED / f"{args.env}_{name}.pt"
        if not path.exists():
            continue
        policy, theta, config = load_policy(path)
        steps = 0 if name == "oracle" else args.steps
        returns = adaptation_returns(policy, theta, config, tasks, steps, args.episodes, seed=args.seed)
        cells = [f"{m:7.2f} ± {s:5.2f}" for m, s in (mean_and_stderr(r) for r in returns)]
        cells += ["—"] * (args.steps + 1 - len(cells))
        ref = paper.get(PAPER_NAMES.get(name, ""), [])
        ref_cells = " / ".join(f"{sum(r) / len(r):.2f}" for r in ref[:args.steps + 1]) or "—"
        print(f"| {name:8} | " + " | ".join(f"{c:>16}" for c in cells) + f" | {ref_cells:>30} |")


if __name__ == "__main__":
    main()
