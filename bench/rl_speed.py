"""Meta-RL speed on 2D navigation at the reference sizes: 20 tasks × 20 episodes × H = 100.

    python bench/rl_speed.py [--iterations 5] [--rounds 3] [--threads 2] [--hidden 100 100] [--fisher-tasks 5] [--hvp chain_rule]
    python bench/rl_speed.py --time-to-target [--budget-minutes 15]
    python bench/rl_speed.py --profile [--iterations 5]

Prints seconds per meta-iteration for MAML (second order), FOMAML, Reptile and CAVIA (warm-up
iteration excluded), the second-/first-order ratio, and the batched sampler's env-steps per second.
The reference PyTorch implementation (pytorch-maml-rl) takes about 6.2 s per second-order MAML-TRPO
iteration on this 2-core machine at the same sizes (../shared/reference/README.md), with a 64×64
tanh policy (`--hidden 64 64`; the paper's, and our default, is 100×100).

--time-to-target meta-trains MAML-TRPO from scratch (paper settings) and every 10 iterations
measures the return after one adaptation step on the paper's 40 test tasks (40 episodes each); it prints the
training wall time (evaluation excluded) at which the paper's −11.68 is first reached.

--profile runs second-order MAML-TRPO under torch.profiler and prints where an iteration's time goes,
by the phases the trainer labels (sampling, meta-gradient, conjugate gradient, line search).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from course_lib.functional import parameters_of
from course_lib.rl.envs import ENVS, make_batched_env
from course_lib.rl.evaluate import adaptation_returns, paper_test_tasks
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.config import HVPS, build_policy, default_rl_config, initial_params
from course_lib.rl.train import train_rl
from course_lib.validation import at_least

REFERENCE_SECONDS = 6.2
TARGET_RETURN = -11.68   # MAML paper, 2D navigation, after one gradient step


def time_to_target(budget_minutes: float, every: int = 10, seed: int = 0) -> None:
    tasks = paper_test_tasks("navigation2d")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "maml.pt"
        iterations = 0
        while True:
            iterations += every
            config = default_rl_config("navigation2d", "maml", iterations=iterations, seed=seed,
                                       checkpoint_every=every)
            ckpt = train_rl(config, out=out, resume=True, progress=False)
            policy = build_policy(config)
            after = adaptation_returns(policy, ckpt["theta"], config, tasks, steps=1, episodes=40)[1].mean()
            minutes = ckpt["wall_time"] / 60
            print(f"iteration {iterations:4d}: {minutes:5.2f} min of training, return after 1 step {after:7.2f}")
            if after >= TARGET_RETURN:
                print(f"\nreached the paper's {TARGET_RETURN} after one step in {minutes:.2f} min "
                      f"({iterations} iterations)")
                return
            if minutes > budget_minutes:
                print(f"\nnot reached within {budget_minutes} min")
                return


def seconds_per_iteration(algo: str, iterations: int, **overrides) -> float:
    config = default_rl_config("navigation2d", algo, iterations=iterations + 1, checkpoint_every=10_000, **overrides)
    history = train_rl(config, progress=False)["history"]
    return (history[-1]["wall_time"] - history[0]["wall_time"]) / iterations


PHASES = ("sampling", "meta_gradient", "conjugate_gradient", "line_search")


def profile(iterations: int, **overrides) -> None:
    """Per-phase time of a MAML-TRPO iteration (torch.profiler's record_function labels), warm-up excluded."""
    from torch.profiler import ProfilerActivity
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "maml.pt"
        config = lambda n: default_rl_config("navigation2d", "maml", iterations=n, checkpoint_every=1, **overrides)
        train_rl(config(1), out=out, progress=False)                                    # warm-up
        with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
            history = train_rl(config(1 + iterations), out=out, resume=True, progress=False)["history"]
    wall = (history[-1]["wall_time"] - history[0]["wall_time"]) / iterations
    events = {e.key: e for e in prof.key_averages() if e.key in PHASES}
    totals = {k: e.cpu_time_total / 1e6 / iterations for k, e in events.items()}
    print(f"second-order MAML-TRPO, {iterations} profiled iterations: {wall:.3f} s/iteration under the profiler\n")
    for phase in PHASES:
        seconds = totals.get(phase, 0.0)
        print(f"{phase:20} {seconds:6.3f} s  {100 * seconds / wall:5.1f}%")
    rest = wall - sum(totals.values())
    print(f"{'other':20} {rest:6.3f} s  {100 * rest / wall:5.1f}%   (checkpoints, bookkeeping)")
    if "line_search" in events:
        print(f"\nline search: {events['line_search'].count / iterations:.1f} evaluations per iteration")


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
    parser.add_argument("--iterations", type=at_least(1), default=5)
    parser.add_argument("--rounds", type=at_least(1), default=3, help="repeat every algorithm; report the median")
    parser.add_argument("--threads", type=at_least(1), default=2)
    parser.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    parser.add_argument("--fisher-tasks", type=at_least(0), default=5,
                        help="tasks in TRPO's KL-Hessian estimate (0 = all 20)")
    parser.add_argument("--hvp", default="chain_rule", choices=HVPS,
                        help="TRPO's curvature products (chain_rule: by the R-operator)")
    parser.add_argument("--time-to-target", action="store_true")
    parser.add_argument("--budget-minutes", type=at_least(0.1, float), default=15.0)
    parser.add_argument("--profile", action="store_true", help="where a MAML-TRPO iteration's time goes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.time_to_target:
        time_to_target(args.budget_minutes)
        return
    hidden = tuple(args.hidden)
    common = dict(hidden=hidden, fisher_tasks=args.fisher_tasks, hvp=args.hvp)
    if args.profile:
        profile(args.iterations, **common)
        return
    print(f"2D navigation, 20 tasks × 20 episodes × H = 100, policy {hidden} ReLU, {args.threads} threads, "
          f"Fisher on {args.fisher_tasks or 20} tasks, curvature {args.hvp}; mean of {args.iterations} iterations after a warm-up, "
          f"in {args.rounds} rounds (this machine's speed drifts: the median is reported)\n")
    algos = {"maml (2nd order, TRPO)": ("maml", common), "fomaml (TRPO)": ("fomaml", common),
             "cavia (2nd order, TRPO)": ("cavia", common), "reptile (3 steps, Adam)": ("reptile", dict(hidden=hidden))}
    rounds = {name: [] for name in algos}
    for _ in range(args.rounds):
        for name, (algo, overrides) in algos.items():
            rounds[name].append(seconds_per_iteration(algo, args.iterations, **overrides))
    rows = {name: statistics.median(times) for name, times in rounds.items()}
    for name, seconds in rows.items():
        each = ", ".join(f"{t:.3f}" for t in rounds[name])
        print(f"{name:26} {seconds:6.3f} s/iteration   ({REFERENCE_SECONDS / seconds:5.1f}× faster than the "
              f"reference's 6.2 s)   rounds: {each}")
    ratio = rows["maml (2nd order, TRPO)"] / rows["fomaml (TRPO)"]
    print(f"\nsecond-order / first-order time ratio: {ratio:.2f}")
    print(f"batched sampler: {sampler_steps_per_second(hidden):,.0f} env-steps/s (policy in the loop)")


if __name__ == "__main__":
    main()
