"""A multi-core sampler for the MuJoCo task envs, with the policy in the loop inside the workers.

Every worker process gets a copy of the (per-task, adapted) policy weights for its share of the
tasks. Per time step it evaluates the Gaussian MLP for all of its episodes at once (one batched
float32 matmul per layer in numpy) and steps their physics, every episode a row of MuJoCo state
(`course_lib.tasks.mujoco_batch.episode_batch`: for the cheetahs one `mujoco.rollout` call for all of
its episodes, for the Ant one MjData stepping the rows in turn); the Ant's episodes that end (it
fell) are stepped no more and masked. Only whole trajectories cross the process boundary. Compare
gymnasium's AsyncVectorEnv, which sends one action and one observation through a pipe per env and
step (bench/mujoco_speed.py). The same shares run on a Ray cluster with `RaySampler` (ray_sampler.py):
`sample_share` is the one worker body of both backends.
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import warnings

import numpy as np
import torch

from ..validation import check_choice, check_int
from .episodes import Episodes


def policy_layers(params: dict, n_tasks: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Task-batched GaussianPolicy weights as float32 numpy, laid out for `h @ Wᵀ + b`:
    [(Wᵀ [T, in, out], b [T, 1, out]), …] and log σ [T, act] (float64)."""
    names = sorted({k.rsplit(".", 1)[0] for k in params if k.startswith("mean.net.")},
                   key=lambda k: int(k.rsplit(".", 1)[1]))
    as_np = lambda t, dtype=np.float32: t.detach().cpu().numpy().astype(dtype)
    transposed = lambda w: np.ascontiguousarray(w.transpose(0, 2, 1))
    layers = [(transposed(as_np(params[f"{n}.weight"])), as_np(params[f"{n}.bias"])[:, None]) for n in names]
    return layers, as_np(params["log_std"], np.float64).reshape(n_tasks, -1)


def mlp_mean(layers, obs: np.ndarray) -> np.ndarray:
    """μ(s) for obs [T, N, obs_dim] with per-task weights, in float32 (the precision the episodes store
    and the torch policy computes in)."""
    h = obs.astype(np.float32)
    for i, (w_t, b) in enumerate(layers):
        h = np.matmul(h, w_t)
        h += b
        if i < len(layers) - 1:
            np.maximum(h, 0.0, out=h)
    return h


def _rollout(batch, layers, std, noise, obs, out_obs, out_act, rewards, mask, alive, obs_dim, max_action):
    """H steps of all episodes (obs [T, N, …]; outputs time-major [H, T, N, …], filled in place)."""
    T, N = alive.shape
    for t in range(len(rewards)):
        actions = mlp_mean(layers, obs) + std * noise[t]
        out_obs[t], out_act[t], mask[t] = obs, actions, alive
        if max_action is not None:   # rllab's normalize: the env gets the action clipped to its bounds
            actions = max_action * np.clip(actions, -1.0, 1.0)
        o, r, terminated = batch.step(actions.reshape(T * N, -1))
        obs[:, :, :obs_dim], rewards[t] = o.reshape(T, N, -1), r.reshape(T, N)
        alive &= ~terminated.reshape(T, N)
        if not alive.any():
            break


def sample_share(envs: list, env_name: str, layers, log_std, tasks, n_episodes: int, horizon: int, seed: int,
                 worker: int, oracle: bool, max_action) -> tuple[np.ndarray, ...]:
    """One worker's share of a `sample` call: (obs, actions, rewards, mask), each [T, N, H, …] float32.
    `envs` is the worker's pool of environments, built on first use and kept between calls."""
    from ..tasks.mujoco_batch import episode_batch
    T, N = len(tasks), n_episodes
    # episode j starts alike in every task (common random numbers)
    batch = episode_batch(env_name, np.repeat(tasks, N), np.tile(seed * 10_007 + np.arange(N), T), envs, rows=True)
    first = batch.observations()
    obs_dim = first.shape[-1]
    obs = np.empty((T, N, obs_dim + (1 if oracle else 0)))
    obs[:, :, :obs_dim] = first.reshape(T, N, obs_dim)
    if oracle:                                             # the oracle also sees its task
        obs[:, :, obs_dim] = np.asarray(tasks)[:, None]
    act_dim = layers[-1][0].shape[2]
    # time-major while stepping (each step writes one contiguous block), [T, N, H, …] to send
    out = [np.zeros((horizon, T, N, obs.shape[-1]), np.float32), np.zeros((horizon, T, N, act_dim), np.float32),
           np.zeros((horizon, T, N), np.float32), np.zeros((horizon, T, N), np.float32)]
    noise = np.random.default_rng([seed, worker]).standard_normal((horizon, T, N, act_dim))   # ε, per worker
    _rollout(batch, layers, np.exp(log_std)[:, None, :], noise, obs, *out, np.ones((T, N), bool), obs_dim, max_action)
    return tuple(np.ascontiguousarray(np.moveaxis(x, 0, 2)) for x in out)


def _worker(conn, env_name: str) -> None:
    warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    envs: list = []
    while (message := conn.recv()) is not None:
        conn.send(sample_share(envs, env_name, *message))
    conn.close()


class ShareSampler:
    """`sample(params, tasks, n_episodes)` → Episodes [T, N, H], the tasks split into one share per worker;
    a backend runs the shares (`sample_share`, in `_run_shares`) and starts and stops its workers."""

    def __init__(self, env_name: str, workers: int | None, horizon: int):
        from ..tasks.locomotion import LOCOMOTION_ENVS
        check_choice(env_name, "env_name", sorted(LOCOMOTION_ENVS))
        if workers is not None:                       # None: the backend decides, once it has started
            check_int(workers, "workers", 1)
        check_int(horizon, "horizon", 1)
        self.env_name, self.workers, self.horizon = env_name, workers, horizon

    def sample(self, params: dict, tasks, n_episodes: int, seed: int = 0, oracle: bool = False,
               max_action: float | None = None) -> Episodes:
        """Episodes for task-batched `params` (a GaussianPolicy's, leading dim T) on `tasks` [T].

        Episode j of every task starts from the same seeded initial state (common random numbers); the
        noise is drawn per (seed, worker), so the episodes depend on the number of workers, not the backend.
        `oracle`: the task is appended to every observation. `max_action`: the policy acts in [−1, 1]
        and the env receives max_action · clip(a, −1, 1) (the stored actions stay unclipped).
        """
        check_int(seed, "seed", 0)
        tasks = np.asarray(tasks, dtype=np.float64).reshape(-1)
        check_int(n_episodes, "n_episodes", 1)
        layers, log_std = policy_layers(params, len(tasks))
        shares = [s for s in np.array_split(np.arange(len(tasks)), self.workers) if len(s)]
        parts = self._run_shares([([(w[idx], b[idx]) for w, b in layers], log_std[idx], tasks[idx], n_episodes,
                                   self.horizon, seed, k, oracle, max_action) for k, idx in enumerate(shares)])
        obs, actions, rewards, mask = (torch.from_numpy(np.concatenate([p[i] for p in parts])) for i in range(4))
        return Episodes(obs, actions, rewards, mask)

    def _run_shares(self, messages: list[tuple]) -> list[tuple[np.ndarray, ...]]:
        """`sample_share(envs, env_name, *message)` for message k on worker k, in order."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MujocoSampler(ShareSampler):
    """The local backend: `workers` forked processes (default one per core), each keeping its envs."""

    def __init__(self, env_name: str, workers: int | None = None, horizon: int = 200):
        super().__init__(env_name, (os.cpu_count() or 1) if workers is None else workers, horizon)
        context = mp.get_context("fork")
        self._conns, self._procs = [], []
        for _ in range(self.workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child, env_name), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def _run_shares(self, messages):
        for conn, message in zip(self._conns, messages):
            conn.send(message)
        return [conn.recv() for conn, _ in zip(self._conns, messages)]

    def close(self) -> None:
        for conn, proc in zip(self._conns, self._procs):
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            proc.join(timeout=5)
        self._conns, self._procs = [], []


SAMPLERS = ("local", "ray")    # MujocoSampler: processes on this machine; RaySampler: actors on a Ray cluster
_POOLS: dict[tuple, ShareSampler] = {}


def shared_sampler(env_name: str, horizon: int = 200, sampler: str = "local",
                   ray_address: str | None = None) -> ShareSampler:
    """One worker pool per (env, horizon, backend) for the whole process, closed at exit: `sampler`
    "local" (MujocoSampler, one process per core) or "ray" (RaySampler on the Ray at `ray_address`;
    None: a local Ray started for the process)."""
    check_choice(sampler, "sampler", SAMPLERS)
    key = (env_name, horizon, sampler, ray_address)
    if key not in _POOLS:
        if not _POOLS:
            atexit.register(lambda: [pool.close() for pool in _POOLS.values()])
        if sampler == "ray":
            from .ray_sampler import RaySampler
            _POOLS[key] = RaySampler(env_name, horizon=horizon, address=ray_address)
        else:
            _POOLS[key] = MujocoSampler(env_name, horizon=horizon)
    return _POOLS[key]


class MujocoTaskBatch:
    """T MuJoCo tasks × N episodes, as `make_batched_env` returns them: `rollout(policy, params, generator)`
    samples all of them at once in the shared worker pool of backend `sampler` (see `shared_sampler`; the
    torch envs are stepped by `sample_episodes`)."""

    def __init__(self, env_name: str, tasks, n_episodes: int, oracle: bool = False,
                 max_action: float | None = 1.0, horizon: int = 200, sampler: str = "local",
                 ray_address: str | None = None):
        check_int(n_episodes, "n_episodes", 1)
        self.env_name, self.n_episodes, self.oracle, self.max_action = env_name, n_episodes, oracle, max_action
        self.sampler, self.ray_address = sampler, ray_address
        self.tasks = np.asarray(tasks, dtype=np.float64).reshape(-1)
        self.n_tasks, self.horizon = len(self.tasks), horizon

    def rollout(self, policy, params: dict, generator: torch.Generator | None = None) -> Episodes:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        pool = shared_sampler(self.env_name, self.horizon, self.sampler, self.ray_address)
        return pool.sample(params, self.tasks, self.n_episodes, seed, self.oracle, self.max_action)
