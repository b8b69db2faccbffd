"""Meta-RL reproduction table (MAML paper §5.3, Fig. 4–5): returns after 0..k policy-gradient steps on
the paper's own 40 test tasks, α = 0.1 then 0.05, mean ± standard error over tasks, for every shipped
checkpoint of an environment, beside the paper's numbers and, task by task, the mean difference from
the paper's returns on the same tasks (± the s.e. of the paired differences); plus each checkpoint's
meta-training iterations and wall time. Episodes per step as in the paper: 40 for navigation and AntDir,
20 for the other MuJoCo tasks.

    python bench/navigation.py [--env navigation2d] [--steps 3] [--episodes N] [--seed 0] [--seeds 1]
    python bench/navigation.py --env halfcheetah_dir          # or halfcheetah_vel (MuJoCo, ~1 min per row)
    python bench/navigation.py --env ant_vel --steps 1        # or ant_dir (the Ant, a few min per row)
    python bench/navigation.py --env halfcheetah_vel --by-task   # also: the one-step return by task
    python bench/navigation.py --env halfcheetah_dir --seeds 4   # also: seeds 0-3, each other episodes
    python bench/navigation.py --env halfcheetah_vel --test-tasks 2017   # our own draw of 40 tasks instead

The paper's test tasks are regenerated as the authors' test scripts drew them
(`course_lib.rl.evaluate.paper_test_tasks`); `--test-tasks SEED` evaluates on `held_out_tasks(env, 40,
seed=SEED)` instead (2017: the draw this workbook used before; no paired comparison then).

`--by-task` (one-dimensional tasks) splits the one-step return (the oracle's: its return) by task — the
directions, or four equal bins of the goal velocities —, the paper's beside it on the paper's tasks,
with the test tasks' mean beside the distribution's: a draw of 40 tasks
that leans towards the hard ones lowers the mean return. `--seeds K` evaluates again with the
evaluation seeds seed … seed + K − 1 — the same checkpoints and test tasks, other episodes — and prints
each adapted model's return (± s.e.) after every step per seed and their mean: how much one evaluation
varies.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.rl.config import ENV_DEFAULTS
from course_lib.rl.envs import ENVS
from course_lib.rl.evaluate import reference_returns
from course_lib.rl.reproduction import NAVIGATION_MODELS, evaluate_reproduction
from course_lib.validation import at_least

MUJOCO_MODELS = ("maml", "fomaml", "pretrain", "random", "oracle")   # CAVIA is for the point tasks only


def by_task(table, tasks: np.ndarray) -> str:
    """The one-step return (mean ± s.e.) of every adapted model, and the oracle's return, per direction or
    per quarter of the goal range: where the oracle falls short too, the robot cannot yet do the task."""
    distribution = ENVS[table.env].distribution
    low, high = getattr(distribution, "low", -1.0), getattr(distribution, "high", 1.0)   # directions: ±1
    if len(np.unique(tasks)) <= 2:
        bins = [(f"task {t:+.0f}", tasks == t) for t in np.unique(tasks)]
    else:
        edges = np.linspace(low, high, 5)
        quarter = np.digitize(tasks, edges[1:-1])                # each task in one bin: [a, b), the last [a, b]
        bins = [(f"[{a:.2f}, {b:.2f}]", quarter == i) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
    columns = {name: r[min(1, len(r) - 1)] for name, r in table.returns.items()}   # the oracle is not adapted
    if table.on_paper_tasks:     # the same tasks: the paper's MAML and oracle beside ours
        paper = reference_returns(table.env)
        columns["paper maml"] = np.asarray(paper["maml"][1][:len(tasks)], dtype=np.float64)
        if "oracle" in table.returns and "oracle" in paper:
            columns["paper oracle"] = np.asarray(paper["oracle"][0][:len(tasks)], dtype=np.float64)
    lines = [f"one-step return by task (test tasks' mean {tasks.mean():.3f}; the distribution's {(low + high) / 2:.3f}):",
             f"{'tasks':>16} {'n':>3} " + " ".join(f"{name:>17}" for name in columns)]
    for label, where in bins:
        cells = [f"{r[where].mean():8.2f} ± {r[where].std() / where.sum() ** 0.5:6.2f}" if where.any()
                 else f"{'—':>17}" for r in columns.values()]
        lines.append(f"{label:>16} {where.sum():3d} " + " ".join(cells))
    return "\n".join(lines)


def by_seed(tables: list) -> str:
    """Mean return ± s.e. over the test tasks after each step (≥ 1) of every adapted model, per evaluation
    seed, and the mean over the seeds."""
    lines = ["return by evaluation seed (the same checkpoints and test tasks, other episodes):",
             f"{'model':>8} {'steps':>5} " + " ".join(f"{f'seed {t.seed}':>17}" for t in tables) + f" {'mean':>9}"]
    for name, r in tables[0].returns.items():
        for k in range(1, len(r)):
            cells = [t.mean_and_stderr(name)[k] for t in tables]
            lines.append(f"{name:>8} {k:5d} " + " ".join(f"{m:8.2f} ± {e:6.2f}" for m, e in cells)
                         + f" {np.mean([m for m, _ in cells]):9.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="navigation2d", choices=tuple(ENVS))
    parser.add_argument("--steps", type=at_least(1), default=3)
    parser.add_argument("--episodes", type=at_least(1), help="per task and step (default: the paper's, 40 navigation and AntDir, 20 other MuJoCo)")
    parser.add_argument("--tasks", type=at_least(1), default=40)
    parser.add_argument("--seed", type=at_least(0), default=0)
    parser.add_argument("--by-task", action="store_true", help="also the one-step return by task (1-D tasks)")
    parser.add_argument("--seeds", type=at_least(1), default=1, help="also evaluate with seeds seed+1 … seed+K-1")
    parser.add_argument("--test-tasks", default="paper", type=lambda v: v if v == "paper" else int(v),
                        help="'paper' (the paper's own test tasks; default) or the seed of our own draw")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.episodes is None:
        args.episodes = ENV_DEFAULTS.get(args.env, {}).get("episodes", 40)
    if args.by_task and (ENVS[args.env].distribution.sample_tasks(2, np.random.default_rng(0)).ndim > 1
                         or args.steps < 1):
        parser.error("--by-task needs one-dimensional tasks (not navigation2d) and --steps >= 1")
    if args.seeds < 1 or (args.seeds > 1 and args.steps < 1):
        parser.error(f"--seeds must be >= 1 (and needs --steps >= 1), got {args.seeds}")
    models = NAVIGATION_MODELS if ENVS[args.env].mujoco is None else MUJOCO_MODELS
    # variants shipped beside a model, e.g. <env>_maml_lvc.pt (second-order MAML with another estimator)
    models = [v for m in models for v in [m, *sorted(p.stem.removeprefix(f"{args.env}_")
                                                    for p in SHIPPED.glob(f"{args.env}_{m}_*.pt"))]]
    tables = [evaluate_reproduction(args.env, models, steps=args.steps, episodes=args.episodes, seed=seed,
                                    n_tasks=args.tasks, tasks=args.test_tasks)
              for seed in range(args.seed, args.seed + args.seeds)]
    table = tables[0]
    print(table.summary())
    if args.by_task:
        print("\n" + by_task(table, table.tasks))
    if args.seeds > 1:
        print("\n" + by_seed(tables))
    print("\nmeta-training of the shipped checkpoints (wall time on this 2-core machine, shared with other jobs):")
    for name in table.returns:
        ckpt = load_checkpoint(SHIPPED / f"{args.env}_{name}.pt")
        c = ckpt["config"]
        how = f", estimator {c['estimator']}, meta-optimizer {c['meta_optimizer']}" if c["algo"] == "maml" else ""
        print(f"  {name:8} {ckpt['iteration']:4d} iterations, {ckpt['wall_time'] / 60:5.1f} min{how}")


if __name__ == "__main__":
    main()
