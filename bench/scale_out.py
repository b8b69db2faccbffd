"""MuJoCo sampling on Ray, measured on this machine and modelled for a cluster, in one run (HalfCheetahVel
and AntVel, a MAML iteration's batch: 40 tasks × 20 episodes × 200 steps per sampler call, two calls
per iteration, before and after the adaptation step):

  1. seconds per call and env-steps/s of the local sampler (MujocoSampler, forked processes) and of
     RaySampler on a local Ray, with 1 and 2 workers (env-steps counted while the episodes are alive);
  2. what Ray adds per call: a call with horizon 1 (the policy weights out, next to no episodes back),
     Ray's against the local sampler's; returning a call's episodes through Ray's object store
     (ray.put + ray.get + the concatenation the sampler does); the driver's cost per actor task;
  3. one real MAML-TRPO iteration (the trainer, paper settings, the local sampler): its sampler calls,
     the driver's work between them (baselines, the first-order adaptation) and the learner's update;
  4. from those, a model of an iteration on N machines of 2 cores (N = 1, 4, 16, 64):
        sampling(N) = 2 calls · t₁ / T · ⌈T / min(2N, T)⌉   (t₁: one local worker's call, all T tasks; a
                                                             task's episodes stay on one worker, so at most T work)
        overhead(N) = 2 calls · (Ray's per-call cost + episode return + 2N actor tasks + bytes / bandwidth)
        iteration(N) = sampling(N) + overhead(N) + driver + learner
     with every core as fast as the one local worker measured, and the network into the driver at
     --bandwidth GB/s (assumed: one machine cannot measure it).

    python bench/scale_out.py [--robots cheetah ant] [--calls 3] [--ant-calls 1] [--threads 1] [--bandwidth 1.0]

Prints markdown tables (docs/scale-out.md).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import torch

from course_lib.validation import at_least

ROBOTS = {"cheetah": ("HalfCheetahVel", "halfcheetah_vel", 17, 6), "ant": ("AntVel", "ant_vel", 105, 8)}
TASKS, EPISODES, HORIZON = 40, 20, 200
MACHINES = (1, 4, 16, 64)


def _noop(actor) -> None:
    return None


def policy_params(obs_dim: int, act_dim: int):
    from course_lib.functional import batched, parameters_of
    from course_lib.models import GaussianPolicy
    torch.manual_seed(0)
    return batched(parameters_of(GaussianPolicy(obs_dim, act_dim)), TASKS)


def per_call(sampler, params, calls: int) -> tuple[float, float]:
    """(median seconds per call, mean live env-steps per call), after a warm-up call that builds the envs."""
    goals = np.linspace(0.0, 2.0, TASKS)
    sampler.sample(params, goals, 1, max_action=1.0)
    seconds, steps = [], []
    for seed in range(1, calls + 1):
        start = time.perf_counter()
        episodes = sampler.sample(params, goals, EPISODES, seed=seed, max_action=1.0)
        seconds.append(time.perf_counter() - start)
        steps.append(float(episodes.mask.sum()))
    return statistics.median(seconds), float(np.mean(steps))


def sampling_rates(env_name: str, params, calls: int) -> dict:
    """{(backend, workers): (s per call, env-steps/s)} for the local sampler and Ray, 1 and 2 workers."""
    from course_lib.rl.mujoco_sampler import MujocoSampler
    from course_lib.rl.ray_sampler import RaySampler
    rates = {}
    for workers in (1, 2):
        for backend, cls in (("local", MujocoSampler), ("ray", RaySampler)):
            with cls(env_name, workers=workers) as sampler:
                seconds, steps = per_call(sampler, params, calls)
            rates[backend, workers] = (seconds, steps / seconds)
    return rates


def overheads(env_name: str, params, obs_dim: int, act_dim: int, repeats: int = 10) -> dict:
    """What Ray adds per call, in seconds, and the bytes a call moves (2 workers)."""
    import ray
    from course_lib.rl.mujoco_sampler import MujocoSampler
    from course_lib.rl.ray_sampler import RaySampler
    goals = np.linspace(0.0, 2.0, TASKS)
    short = {}
    for backend, cls in (("local", MujocoSampler), ("ray", RaySampler)):
        with cls(env_name, workers=2, horizon=1) as sampler:
            sampler.sample(params, goals, EPISODES, max_action=1.0)
            times = []
            for seed in range(repeats):
                start = time.perf_counter()
                sampler.sample(params, goals, EPISODES, seed=seed, max_action=1.0)
                times.append(time.perf_counter() - start)
            short[backend] = statistics.median(times)
            if backend == "ray":                   # the driver's cost per actor task: many no-op calls
                start = time.perf_counter()
                ray.get([actor.__ray_call__.remote(_noop) for _ in range(100) for actor in sampler._actors])
                per_task = (time.perf_counter() - start) / (100 * len(sampler._actors))
    rows = TASKS * EPISODES * HORIZON // 2             # a worker's share: [T/2, N, H, …]
    share = [np.ones((rows, obs_dim), np.float32), np.ones((rows, act_dim), np.float32), np.ones(rows, np.float32),
             np.ones(rows, np.float32)]
    episode_bytes = 2 * sum(x.nbytes for x in share)
    returns = []
    for _ in range(3):
        start = time.perf_counter()
        parts = ray.get([ray.put(share), ray.put(share)])
        [np.concatenate([p[i] for p in parts]) for i in range(4)]
        returns.append(time.perf_counter() - start)
        del parts
    weight_bytes = sum(v.numel() * 4 for v in params.values())
    return dict(ray_call=max(0.0, short["ray"] - short["local"]), local_h1=short["local"], ray_h1=short["ray"],
                episode_return=statistics.median(returns), per_task=per_task, episode_bytes=episode_bytes,
                weight_bytes=weight_bytes)


def maml_iteration(env_name: str, problem: str, params, threads: int) -> dict:
    """Seconds of one MAML-TRPO iteration at the paper's settings (the trainer, the local sampler, warm
    workers): its sampler calls, the driver's work between them, and the learner's update."""
    import course_lib.rl.train as train
    from course_lib.rl.config import default_rl_config
    from course_lib.rl.mujoco_sampler import shared_sampler
    pool = shared_sampler(env_name)
    pool.sample(params, np.linspace(0.0, 2.0, TASKS), 1)       # the trainer's workers, with their envs built
    seconds = dict(calls=0.0, meta_batch=0.0)
    sample, sample_meta_batch = pool.sample, train.sample_meta_batch

    def timed_sample(*args, **kwargs):
        start = time.perf_counter()
        try:
            return sample(*args, **kwargs)
        finally:
            seconds["calls"] += time.perf_counter() - start

    def timed_meta_batch(*args, **kwargs):
        start = time.perf_counter()
        try:
            return sample_meta_batch(*args, **kwargs)
        finally:
            seconds["meta_batch"] += time.perf_counter() - start
    pool.sample, train.sample_meta_batch = timed_sample, timed_meta_batch
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        train.train_rl(default_rl_config(problem, "maml", iterations=1), progress=False)
        total = time.perf_counter() - start
    finally:
        del pool.sample
        train.sample_meta_batch = sample_meta_batch
        torch.set_num_threads(1)
    return dict(calls=seconds["calls"], driver=seconds["meta_batch"] - seconds["calls"],
                learner=total - seconds["meta_batch"], total=total)


def model(one_worker_call: float, over: dict, fixed: float, bandwidth: float) -> list[tuple]:
    """(N, workers used, sampling, overhead, driver + learner, iteration) per number of machines."""
    rows = []
    for n in MACHINES:
        used = min(2 * n, TASKS)
        sampling = 2 * one_worker_call / TASKS * math.ceil(TASKS / used)
        per_call = (over["ray_call"] + over["episode_return"] + 2 * n * over["per_task"]
                    + (over["episode_bytes"] + over["weight_bytes"]) / (bandwidth * 1e9))
        rows.append((n, used, sampling, 2 * per_call, fixed, sampling + 2 * per_call + fixed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", choices=tuple(ROBOTS), default=list(ROBOTS))
    parser.add_argument("--calls", type=at_least(1), default=3, help="cheetah sampler calls timed per configuration")
    parser.add_argument("--ant-calls", type=at_least(1), default=1, help="Ant sampler calls timed (one is ~10× a cheetah's)")
    parser.add_argument("--threads", type=at_least(1), default=1,
                        help="torch threads of the learner (default 1, the trainer's; with 2 the Ant's update "
                             "can hit MKL's multithreaded LU failure and diverge)")
    parser.add_argument("--bandwidth", type=float, default=1.0,
                        help="GB/s into the driver on a cluster, for the model (default 1.0: about a 10 Gb/s link)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    import ray
    from course_lib.rl.ray_sampler import LOCAL_OBJECT_STORE
    ray.init(num_cpus=2, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False, log_to_driver=False)
    results = {}
    for robot in args.robots:
        env_name, problem, obs_dim, act_dim = ROBOTS[robot]
        params = policy_params(obs_dim, act_dim)
        calls = args.ant_calls if robot == "ant" else args.calls
        results[robot] = (sampling_rates(env_name, params, calls), overheads(env_name, params, obs_dim, act_dim),
                          maml_iteration(env_name, problem, params, args.threads))
    ray.shutdown()

    print(f"\n### Sampling, {TASKS} tasks × {EPISODES} episodes × {HORIZON} steps per call (this machine)\n")
    print("| robot | workers | local: s per call | local: env-steps/s | Ray: s per call | Ray: env-steps/s | Ray / local |")
    print("|---|---|---|---|---|---|---|")
    for robot, (rates, _, _) in results.items():
        for w in (1, 2):
            (ls, lr), (rs, rr) = rates["local", w], rates["ray", w]
            print(f"| {ROBOTS[robot][0]} | {w} | {ls:.2f} | {lr:,.0f} | {rs:.2f} | {rr:,.0f} | {rr / lr:.2f} |")

    print("\n### What Ray adds per call (2 workers, this machine)\n")
    print("| robot | call with H = 1: local / Ray (s) | Ray's per-call cost (s) | policy weights out (MB) "
          "| episodes back (MB) | episodes through the object store (s) | per actor task (ms) |")
    print("|---|---|---|---|---|---|---|")
    for robot, (_, o, _) in results.items():
        print(f"| {ROBOTS[robot][0]} | {o['local_h1']:.3f} / {o['ray_h1']:.3f} | {o['ray_call']:.3f} | "
              f"{o['weight_bytes'] / 1e6:.1f} | {o['episode_bytes'] / 1e6:.1f} | {o['episode_return']:.3f} | "
              f"{1e3 * o['per_task']:.2f} |")

    print(f"\n### One MAML-TRPO iteration (paper settings, local sampler, learner on {args.threads} torch threads)\n")
    print("| robot | 2 sampler calls (s) | driver between them (s) | learner update (s) | iteration (s) | sampling share |")
    print("|---|---|---|---|---|---|")
    for robot, (_, _, it) in results.items():
        print(f"| {ROBOTS[robot][0]} | {it['calls']:.1f} | {it['driver']:.1f} | {it['learner']:.1f} | "
              f"{it['total']:.1f} | {100 * it['calls'] / it['total']:.0f}% |")

    for robot, (rates, o, it) in results.items():
        rows = model(rates["local", 1][0], o, it["driver"] + it["learner"], args.bandwidth)
        print(f"\n### Model: {ROBOTS[robot][0]}, one MAML iteration on N machines of 2 cores\n\n"
              f"Each core samples a call's {TASKS} tasks in {rates['local', 1][0]:.2f} s (one local worker, measured); "
              f"the network into the driver carries {args.bandwidth:g} GB/s (assumed).\n")
        print("| N | workers with tasks | sampling (s) | Ray overhead (s) | driver + learner (s) | iteration (s) "
              "| speed-up | learner's share |")
        print("|---|---|---|---|---|---|---|---|")
        for n, used, sampling, over, fixed, total in rows:
            print(f"| {n} | {used} | {sampling:.2f} | {over:.2f} | {fixed:.1f} | {total:.1f} | "
                  f"{rows[0][-1] / total:.2f}× | {100 * fixed / total:.0f}% |")
        bound = next((n for n, _, sampling, over, fixed, _ in rows if fixed >= sampling + over), None)
        print(f"\nthe learner (with the driver's work) is the larger part from N = {bound} on" if bound else
              "\nthe learner stays the smaller part up to N = 64")


if __name__ == "__main__":
    main()
