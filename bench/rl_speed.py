"""Meta-RL speed on 2D navigation at the reference sizes: 20 tasks × 20 episodes × H = 100.

    python bench/rl_speed.py [--iterations 5] [--threads 2] [--hidden 100 100] [--fisher-tasks 2]

Prints seconds per meta-iteration for MAML (second order), FOMAML, Reptile and CAVIA (warm-up
iteration excluded), the second-/first-order ratio, and the batched sampler's env-steps per second.
The reference PyTorch implementation (pytorch-maml-rl) takes about 6.2 s per second-order MAML-TRPO
iteration on this 2-core machine at the same sizes (../shared/reference/README.md).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from course_lib.functional import parameters_of
from course_lib.rl.envs import ENVS, make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.train import build_policy, default_rl_config, initial_params, train_rl

REFERENCE_SECONDS = 6.2


def seconds_per_iteration(algo: str, iterations: int, **overrides) -> float:
    config = default_rl_config("navigation2d", algo, iterations=iterations + 1, checkpoint_every=10_000, **overrides)
    history = train_rl(config, progress=False)["history"]
    return (history[-1]["wall_time"] - history[0]["wall_time"]) / iterations


def sampler_steps_per_second(hidden, repeats: int = 5) -> float:
    config = default_rl_config("navigation2d", "maml", hidden=hidden)
    policy = build_policy(config)
    theta = parameters_of(policy)
    tasks = ENVS["navigation2d"].distribution.sample_tasks(20, np.random.default_rng(0))
    env = make_batched_env("navigation2d", tasks, 20)
    generator = torch.Generator().manual_seed(0)
    sample_episodes(policy, initial_params(theta, 20, config), env, generator)  # warm-up
    start, steps = time.perf_counter(), 0
    for _ in range(repeats):
        episodes = sample_episodes(policy, initial_params(theta, 20, config), env, generator)
        steps += int(episodes.mask.sum())
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    parser.add_argument("--fisher-tasks", type=int, default=2,
                        help="tasks in TRPO's KL-Hessian estimate (0 = all 20)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hidden = tuple(args.hidden)
    common = dict(hidden=hidden, fisher_tasks=args.fisher_tasks)
    print(f"2D navigation, 20 tasks × 20 episodes × H = 100, policy {hidden} ReLU, {args.threads} threads, "
          f"Fisher on {args.fisher_tasks or 20} tasks, mean of {args.iterations} iterations after a warm-up\n")
    rows = {
        "maml (2nd order, TRPO)": seconds_per_iteration("maml", args.iterations, **common),
        "fomaml (TRPO)": seconds_per_iteration("fomaml", args.iterations, **common),
        "cavia (2nd order, TRPO)": seconds_per_iteration("cavia", args.iterations, **common),
        "reptile (3 steps, Adam)": seconds_per_iteration("reptile", args.iterations, hidden=hidden),
    }
    for name, seconds in rows.items():
        print(f"{name:26} {seconds:6.3f} s/iteration   ({REFERENCE_SECONDS / seconds:5.1f}× faster than the reference's 6.2 s)")
    ratio = rows["maml (2nd order, TRPO)"] / rows["fomaml (TRPO)"]
    print(f"\nsecond-order / first-order time ratio: {ratio:.2f}")
    print(f"batched sampler: {sampler_steps_per_second(hidden):,.0f} env-steps/s (policy in the loop)")


if __name__ == "__main__":
    main()
