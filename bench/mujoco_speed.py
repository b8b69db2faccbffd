"""MuJoCo sampling speed on this machine, three ways, in one run (HalfCheetah, frame skip 1 — the paper's
0.01 s control period —, H = 200):

  1. the physics limit: raw `mujoco.mj_step` rate ÷ frame skip, one process per core, no policy
     (measured before and after 2., and averaged);
  2. course_lib's MujocoSampler: one worker per core, the 2×100 policy evaluated inside the workers;
  3. gymnasium's AsyncVectorEnv (one process per env), the same policy evaluated in the main process.

    python bench/mujoco_speed.py [--workers 2] [--tasks 40] [--episodes 20] [--batches 3]

The sampler is timed at the paper's meta-batch (40 tasks × 20 episodes × 200 steps = 160k env-steps
per call), the size it samples in training; small batches pay the per-call costs (resets, pipes) on few steps.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
import torch

from course_lib.tasks.locomotion import CHEETAH_FRAME_SKIP as FRAME_SKIP   # 1: the paper's 0.01 s control period


def _raw_rate(seconds: float, queue) -> None:
    import mujoco
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
    env = HalfCheetahEnv(frame_skip=FRAME_SKIP)
    model, data = env.model, env.data
    controls = np.random.default_rng(0).uniform(-1, 1, (1000, model.nu))   # drawn beforehand
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for ctrl in controls:
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=FRAME_SKIP)
        n += len(controls)
    queue.put(n / (time.perf_counter() - start))


def physics_limit(workers: int, seconds: float = 3.0) -> float:
    """Env-steps/s of bare mj_step (× frame skip), summed over `workers` simultaneous processes."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_raw_rate, args=(seconds, queue)) for _ in range(workers)]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def ours(workers: int, tasks: int, episodes: int, policy_params, batches: int = 3) -> float:
    from course_lib.rl.mujoco_sampler import MujocoSampler
    with MujocoSampler("HalfCheetahVel", workers=workers) as sampler:
        sampler.sample(policy_params(tasks), np.linspace(0, 2, tasks), episodes)   # warm-up: envs built
        start, steps = time.perf_counter(), 0.0
        for seed in range(1, batches + 1):
            steps += float(sampler.sample(policy_params(tasks), np.linspace(0, 2, tasks), episodes, seed=seed).mask.sum())
        return steps / (time.perf_counter() - start)


def async_vector_env(n_envs: int, steps: int, policy_params) -> float:
    import gymnasium as gym
    import course_lib.envs  # noqa: F401
    from course_lib.rl.mujoco_sampler import mlp_mean, policy_layers
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make("course_lib/HalfCheetahVel-v0", task=1.0)
                                      for _ in range(n_envs)])
    layers, log_std = policy_layers(policy_params(1), 1)
    obs, _ = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        actions = mlp_mean(layers, obs[None])[0] + np.exp(log_std) * rng.standard_normal((n_envs, 6))
        obs, *_ = envs.step(actions)
    rate = n_envs * steps / (time.perf_counter() - start)
    envs.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    from course_lib.functional import batched, parameters_of
    from course_lib.models import GaussianPolicy
    torch.manual_seed(0)
    policy = GaussianPolicy(17, 6)                                   # HalfCheetah: 17-D obs, 6-D action
    policy_params = lambda n: batched(parameters_of(policy), n)

    before = physics_limit(args.workers)            # measured on both sides of ours: the machine's speed drifts
    rate = ours(args.workers, args.tasks, args.episodes, policy_params, args.batches)
    after = physics_limit(args.workers)
    limit = (before + after) / 2
    vec = async_vector_env(2 * args.workers, 400, policy_params)
    print(f"HalfCheetah, frame skip {FRAME_SKIP}, {args.workers} cores, 2×100 policy in the loop, "
          f"{args.tasks} tasks × {args.episodes} episodes × 200 steps per sampler call\n")
    print(f"physics limit (raw mj_step / {FRAME_SKIP}, {args.workers} processes): {limit:9,.0f} env-steps/s "
          f"(before {before:,.0f}, after {after:,.0f})")
    print(f"course_lib MujocoSampler ({args.workers} workers):        {rate:9,.0f} env-steps/s "
          f"= {100 * rate / limit:4.0f}% of the limit")
    print(f"gymnasium AsyncVectorEnv ({2 * args.workers} envs):           {vec:9,.0f} env-steps/s "
          f"= {100 * vec / limit:4.0f}% of the limit")


if __name__ == "__main__":
    main()
