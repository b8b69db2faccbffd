"""Meta-RL reproduction table (MAML paper §5.3, Fig. 4): returns after 0..k policy-gradient steps on
40 held-out tasks, 40 episodes per step, α = 0.1 then 0.05, mean ± standard error over tasks, for
every shipped checkpoint of an environment, beside the paper's numbers; plus each checkpoint's
meta-training iterations and wall time.

    python bench/navigation.py [--env navigation2d] [--steps 3] [--episodes 40] [--seed 0]
"""
from __future__ import annotations

import argparse

import torch

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.rl.widgets import reproduction_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="navigation2d")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = reproduction_table(args.env, steps=args.steps, episodes=args.episodes, seed=args.seed, n_tasks=args.tasks)
    print(table.summary())
    print("\nmeta-training of the shipped checkpoints (wall time on this 2-core machine, shared with other jobs):")
    for name in table.returns:
        ckpt = load_checkpoint(SHIPPED / f"{args.env}_{name}.pt")
        print(f"  {name:8} {ckpt['iteration']:4d} iterations, {ckpt['wall_time'] / 60:5.1f} min")


if __name__ == "__main__":
    main()
