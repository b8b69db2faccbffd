"""Meta-RL reproduction table (MAML paper §5.3, Fig. 4–5): returns after 0..k policy-gradient steps on
40 held-out tasks, α = 0.1 then 0.05, mean ± standard error over tasks, for every shipped checkpoint
of an environment, beside the paper's numbers; plus each checkpoint's meta-training iterations and
wall time. Episodes per step as in the paper: 40 for navigation, 20 for the MuJoCo tasks.

    python bench/navigation.py [--env navigation2d] [--steps 3] [--episodes N] [--seed 0]
    python bench/navigation.py --env halfcheetah_dir          # or halfcheetah_vel (MuJoCo, ~1 min per row)
"""
from __future__ import annotations

import argparse

import torch

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.rl.envs import ENVS
from course_lib.rl.widgets import NAVIGATION_MODELS, reproduction_table

MUJOCO_MODELS = ("maml", "fomaml", "pretrain", "random", "oracle")   # CAVIA is for the point tasks only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="navigation2d", choices=tuple(ENVS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--episodes", type=int, help="per task and step (default: 40 navigation, 20 MuJoCo)")
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.episodes is None:
        args.episodes = 40 if ENVS[args.env].mujoco is None else 20
    models = NAVIGATION_MODELS if ENVS[args.env].mujoco is None else MUJOCO_MODELS
    table = reproduction_table(args.env, models, steps=args.steps, episodes=args.episodes, seed=args.seed,
                               n_tasks=args.tasks)
    print(table.summary())
    print("\nmeta-training of the shipped checkpoints (wall time on this 2-core machine, shared with other jobs):")
    for name in table.returns:
        ckpt = load_checkpoint(SHIPPED / f"{args.env}_{name}.pt")
        print(f"  {name:8} {ckpt['iteration']:4d} iterations, {ckpt['wall_time'] / 60:5.1f} min")


if __name__ == "__main__":
    main()
