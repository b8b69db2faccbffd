"""Ablation on 2D navigation (notebook 09): meta-batch size × episodes per task × first/second order.

    python bench/ablation_navigation.py                     # the shipped grid: ~14 min on one core of a busy machine
    python bench/ablation_navigation.py --seeds 0 1 2 3 4   # extend: runs already in the JSON are skipped

For every cell (algo ∈ {maml, fomaml}) × (meta_batch ∈ {5, 20}) × (episodes ∈ {5, 20}) and every seed,
meta-train MAML-TRPO (paper settings, except a smaller (32, 32) policy and a short run) from scratch,
measuring the return after 0 and 1 adaptation steps on 20 fixed held-out tasks (20 episodes each,
α = 0.1; `course_lib.rl.evaluate.adaptation_returns`) after 10, 20 and 40 meta-iterations (training is
resumed from a temporary checkpoint between them, which changes nothing: the RNG states are in the
checkpoint; evaluation time is not training time). Each finished run is appended to the JSON,
which is rewritten atomically, so the bench can be interrupted and resumed at any point; runs are
ordered seed by seed, so a partial file still covers the whole grid for the first seeds.
Seeded: one run's numbers depend only on its settings and its seed.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from course_lib.ablation import ABLATION_JSON, load_ablation, run_key, save_ablation
from course_lib.rl.evaluate import adaptation_returns, held_out_tasks
from course_lib.rl.config import build_policy, default_rl_config
from course_lib.rl.train import train_rl
from course_lib.validation import at_least

GRID_KEYS = ("algos", "meta_batches", "episodes", "seeds")
# The shipped results were measured with the policy acting directly in velocity units (before the
# workbook switched to rllab-style normalised actions, course_lib.rl.envs.NormalizedActions); keep it
# so that rerunning the bench reproduces and extends them.
NORMALIZE_ACTIONS = False


def fixed_settings(args) -> dict:
    """Everything that must match for runs to be comparable (the grid itself may grow)."""
    config = default_rl_config("navigation2d", "maml", iterations=args.iterations, hidden=tuple(args.hidden),
                               normalize_actions=NORMALIZE_ACTIONS)
    base = {k: v for k, v in asdict(config).items()
            if k not in ("algo", "meta_batch", "episodes", "seed", "checkpoint_every")}
    base["hidden"] = list(base["hidden"])
    return dict(base_config=base,
                evaluation=dict(held_out_tasks=args.eval_tasks, held_out_seed=2017, episodes=args.eval_episodes,
                                steps=1, alphas=[config.alpha], sampling_seed=0, at_iterations=eval_points(args)),
                torch_threads=1)


def eval_points(args) -> list[int]:
    return sorted({i for i in args.eval_at if 0 < i < args.iterations} | {args.iterations})


def one_run(args, algo: str, meta_batch: int, episodes: int, seed: int) -> dict:
    tasks = held_out_tasks("navigation2d", args.eval_tasks)
    curve, eval_time = [], 0.0
    with tempfile.TemporaryDirectory(prefix="ablation_") as tmp:
        for iterations in eval_points(args):
            config = default_rl_config("navigation2d", algo, iterations=iterations, hidden=tuple(args.hidden),
                                       meta_batch=meta_batch, episodes=episodes, seed=seed, checkpoint_every=10_000,
                                       normalize_actions=NORMALIZE_ACTIONS)
            ckpt = train_rl(config, out=Path(tmp) / "run.pt", resume=True, progress=False)
            started = time.perf_counter()
            returns = adaptation_returns(build_policy(config), ckpt["theta"], config, tasks, steps=1,
                                         episodes=args.eval_episodes, seed=0)          # [2, tasks]
            eval_time += time.perf_counter() - started
            curve.append(dict(iteration=iterations, return_before=round(float(returns[0].mean()), 4),
                              return_after=round(float(returns[1].mean()), 4)))
    return dict(algo=algo, meta_batch=meta_batch, episodes=episodes, seed=seed,
                return_before=curve[-1]["return_before"], return_after=curve[-1]["return_after"],
                held_out_curve=curve,
                per_task_after=[round(float(r), 3) for r in returns[1]],
                train_curve_after=[round(h["return_after"], 2) for h in ckpt["history"]],
                episodes_sampled=2 * args.iterations * meta_batch * episodes,
                wall_time=round(ckpt["wall_time"], 2),
                seconds_per_iteration=round(ckpt["wall_time"] / args.iterations, 4),
                eval_time=round(eval_time, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["maml", "fomaml"])
    parser.add_argument("--meta-batches", type=at_least(1), nargs="+", default=[5, 20])
    parser.add_argument("--episodes", type=at_least(1), nargs="+", default=[5, 20])
    parser.add_argument("--seeds", type=at_least(0), nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=at_least(1), default=40)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    parser.add_argument("--eval-at", type=int, nargs="+", default=[10, 20],
                        help="also evaluate after these meta-iterations (always after the last)")
    parser.add_argument("--eval-tasks", type=at_least(1), default=20)
    parser.add_argument("--eval-episodes", type=at_least(1), default=20)
    parser.add_argument("--out", default=str(ABLATION_JSON))
    args = parser.parse_args()
    torch.set_num_threads(1)

    results = load_ablation(args.out)
    fixed = fixed_settings(args)
    if results["runs"] and {k: results["settings"].get(k) for k in fixed} != fixed:
        raise SystemExit(f"{args.out} holds runs with other settings ({results['settings']}); "
                         "pass the same --iterations/--hidden/--eval-* or a new --out")
    grid = {"algos": args.algos, "meta_batches": args.meta_batches, "episodes": args.episodes, "seeds": args.seeds}
    old = results["settings"]
    for key in GRID_KEYS:   # the recorded grid is the union of every invocation's grid
        grid[key] = sorted(set(grid[key]) | set(old.get(key, [])), key=lambda v: (isinstance(v, str), v))
    results["settings"] = dict(fixed, **grid, command="python bench/ablation_navigation.py",
                               machine=f"{platform.machine()}, {platform.python_version()}, torch {torch.__version__}")
    done = {run_key(r) for r in results["runs"]}
    todo = [(a, m, e, s) for s in args.seeds for m in args.meta_batches for e in args.episodes for a in args.algos
            if (a, m, e, s) not in done]
    print(f"{len(done)} runs already in {args.out}; {len(todo)} to do", flush=True)
    save_ablation(results, args.out)
    for i, (algo, meta_batch, episodes, seed) in enumerate(todo, 1):
        run = one_run(args, algo, meta_batch, episodes, seed)
        results["runs"].append(run)
        results["total_wall_time"] = round(sum(r["wall_time"] + r["eval_time"] for r in results["runs"]), 1)
        save_ablation(results, args.out)
        print(f"[{i}/{len(todo)}] {algo:6} meta_batch={meta_batch:2d} episodes={episodes:2d} seed={seed}: "
              f"return after 1 step {run['return_after']:7.2f} (before {run['return_before']:7.2f}), "
              f"{run['wall_time']:6.1f} s", flush=True)


if __name__ == "__main__":
    main()
