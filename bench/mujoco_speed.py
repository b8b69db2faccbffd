"""MuJoCo sampling speed on this machine, three ways, in one run, for HalfCheetah (frame skip 1 — the
paper's 0.01 s control period) and Ant (frame skip 1: rllab's one 0.02 s RK4 step per action), H = 200:

  1. the physics limit: raw `mujoco.mj_step` rate ÷ frame skip, one process per core, no policy,
     stepped open-loop in C by `mujoco.rollout` (and, for comparison, from a Python loop); measured
     before and after 2., and averaged;
  2. course_lib's MujocoSampler: one worker per core, the 2×100 policy evaluated inside the workers
     (HalfCheetahVel, AntVel; env-steps counted while the episodes are alive — the Ant's end if it falls);
  3. gymnasium's AsyncVectorEnv (one process per env), the same policy evaluated in the main process.

    python bench/mujoco_speed.py [--robots cheetah ant] [--workers 2] [--tasks 40] [--episodes 20]
                                 [--batches 3] [--ant-batches 1] [--rounds 3]

The sampler is timed at the paper's meta-batch (40 tasks × 20 episodes × 200 steps = 160k env-steps
per call), the size it samples in training; small batches pay the per-call costs (resets, pipes) on few steps.
The limit leaves out what gymnasium's Ant `step` adds to `mj_step` (`mj_rnePostConstraint`, for the
contact forces in its observation), which our Ant sampler computes too.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
import torch

from course_lib.validation import at_least

ROBOTS = {"cheetah": ("HalfCheetahVel", "HalfCheetah", 17, 6), "ant": ("AntVel", "Ant", 105, 8)}


def _raw_rate(env_name: str, seconds: float, in_c: bool, queue) -> None:
    warnings.simplefilter("ignore")
    import mujoco
    from mujoco import rollout
    from course_lib.tasks.locomotion import LOCOMOTION_ENVS
    env = LOCOMOTION_ENVS[env_name]()          # the task's model and frame skip
    model, data, frame_skip = env.model, env.data, env.frame_skip
    env.reset(seed=0)
    controls = np.random.default_rng(0).uniform(-1, 1, (1000, model.nu))   # drawn beforehand
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    start_state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, start_state, spec)
    runner = rollout.Rollout(nthread=0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if in_c:       # open loop, all in C: 1000 mj_step calls and nothing else
            runner.rollout(model, data, start_state, controls[None])
            n += len(controls) // frame_skip
        else:
            mujoco.mj_setState(model, data, start_state, spec)
            for ctrl in controls:
                data.ctrl[:] = ctrl
                mujoco.mj_step(model, data, nstep=frame_skip)
            n += len(controls)
    queue.put(n / (time.perf_counter() - start))


def physics_limit(env_name: str, workers: int, in_c: bool = True, seconds: float = 3.0) -> float:
    """Env-steps/s of bare mj_step (÷ frame skip), summed over `workers` simultaneous processes: called
    from C (`mujoco.rollout`, open loop) or from a Python loop that sets the control each env step."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_raw_rate, args=(env_name, seconds, in_c, queue)) for _ in range(workers)]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def ours(env_name: str, workers: int, tasks: int, episodes: int, policy_params, batches: int = 3) -> float:
    from course_lib.rl.mujoco_sampler import MujocoSampler
    goals = np.linspace(0, 2, tasks)
    with MujocoSampler(env_name, workers=workers) as sampler:
        sampler.sample(policy_params(tasks), goals, 1)                        # warm-up: envs built
        start, steps = time.perf_counter(), 0.0
        for seed in range(1, batches + 1):
            steps += float(sampler.sample(policy_params(tasks), goals, episodes, seed=seed).mask.sum())
        return steps / (time.perf_counter() - start)


def async_vector_env(env_name: str, n_envs: int, steps: int, policy_params) -> float:
    import gymnasium as gym
    import course_lib.envs  # noqa: F401
    from course_lib.rl.mujoco_sampler import mlp_mean, policy_layers
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(f"course_lib/{env_name}-v0", task=1.0)
                                      for _ in range(n_envs)])
    layers, log_std = policy_layers(policy_params(1), 1)
    obs, _ = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        actions = mlp_mean(layers, obs[None])[0] + np.exp(log_std) * rng.standard_normal((n_envs, log_std.shape[-1]))
        obs, *_ = envs.step(np.clip(actions, -1.0, 1.0))
    rate = n_envs * steps / (time.perf_counter() - start)
    envs.close()
    return rate


def measure(robot: str, args) -> tuple[float, float, float]:
    """Print one robot's rounds; return (median share, mean limit, median sampler rate)."""
    from course_lib.functional import batched, parameters_of
    from course_lib.models import GaussianPolicy
    from course_lib.tasks.locomotion import LOCOMOTION_ENVS
    env_name, title, obs_dim, act_dim = ROBOTS[robot]
    torch.manual_seed(0)
    policy = GaussianPolicy(obs_dim, act_dim)
    policy_params = lambda n: batched(parameters_of(policy), n)
    batches = args.ant_batches if robot == "ant" else args.batches
    print(f"{title}, frame skip {LOCOMOTION_ENVS[env_name]().frame_skip}, {args.workers} cores, 2×100 policy in "
          f"the loop, {args.tasks} tasks × {args.episodes} episodes × 200 steps per sampler call; env-steps/s\n")
    print("round   physics limit (mj_step in C)   mj_step from a Python loop   course_lib MujocoSampler")
    shares, limits, rates = [], [], []
    for r in range(1, args.rounds + 1):
        # the limits are measured on both sides of ours and averaged: this machine's speed drifts by
        # ~10% within minutes
        before = physics_limit(env_name, args.workers), physics_limit(env_name, args.workers, in_c=False)
        rate = ours(env_name, args.workers, args.tasks, args.episodes, policy_params, batches)
        after = physics_limit(env_name, args.workers), physics_limit(env_name, args.workers, in_c=False)
        limit, python_loop = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        shares.append(rate / limit), limits.append(limit), rates.append(rate)
        print(f"{r:5d}   {limit:28,.0f}   {python_loop:26,.0f}   {rate:9,.0f} = {100 * rate / limit:3.0f}% of the limit")
    vec = async_vector_env(env_name, 2 * args.workers, 400 if robot == "cheetah" else 200, policy_params)
    print(f"\ncourse_lib MujocoSampler ({args.workers} workers): median {100 * np.median(shares):.0f}% of the physics "
          f"limit (rounds: {', '.join(f'{100 * x:.0f}%' for x in shares)})")
    print(f"gymnasium AsyncVectorEnv ({2 * args.workers} envs): {vec:,.0f} env-steps/s = "
          f"{100 * vec / np.mean(limits):.0f}% of the limit\n")
    return float(np.median(shares)), float(np.mean(limits)), float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", choices=tuple(ROBOTS), default=list(ROBOTS))
    parser.add_argument("--workers", type=at_least(1), default=os.cpu_count())
    parser.add_argument("--tasks", type=at_least(1), default=40)
    parser.add_argument("--episodes", type=at_least(1), default=20)
    parser.add_argument("--batches", type=at_least(1), default=3, help="cheetah sampler calls timed per round")
    parser.add_argument("--ant-batches", type=at_least(1), default=1,
                        help="Ant sampler calls timed per round (one is ~8× a cheetah call)")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="limit, sampler, limit: repeated, median reported")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    results = {robot: measure(robot, args) for robot in args.robots}
    print("robot          physics limit   course_lib MujocoSampler   share of the limit (median of rounds)")
    for robot, (share, limit, rate) in results.items():
        print(f"{ROBOTS[robot][1]:<12} {limit:15,.0f}   {rate:24,.0f}   {100 * share:5.0f}%")


if __name__ == "__main__":
    main()
