"""The MuJoCo sampler on Ray: one actor per worker, on the machines of a Ray cluster (docs/scale-out.md).

Each actor keeps its environments, as a MujocoSampler process does, and in every call runs
`sample_share` on the policy weights of its share of the tasks, so the episodes are MujocoSampler's
with as many workers, bit for bit. An actor that dies during a call (its process or its machine is
gone) is replaced by a fresh one and its share sampled again: the same share, so the same episodes.
Ray is imported only here, when a RaySampler is made.
"""
from __future__ import annotations

import os
import warnings

from .mujoco_sampler import ShareSampler, sample_share

RETRIES = 3                           # fresh actors per share and call before the call fails
LOCAL_OBJECT_STORE = 200 * 2**20      # bytes of shared memory for a local Ray: fits a small machine


class _Worker:
    """One actor: a worker's environments, kept between calls."""

    def __init__(self, env_name: str):
        warnings.simplefilter("ignore")
        self.env_name, self.envs = env_name, []

    def sample(self, message: tuple):
        return sample_share(self.envs, self.env_name, *message)


class RaySampler(ShareSampler):
    """MujocoSampler's `sample` on `workers` Ray actors (default: one per CPU of the cluster).

    `address`: None starts a local Ray for this process (`close` shuts it down); else a running
    cluster's address ("auto", "host:6379"). A process already connected to Ray uses that connection.
    `restarts` counts the actors replaced so far."""

    def __init__(self, env_name: str, workers: int | None = None, horizon: int = 200, address: str | None = None):
        if address is not None and not (isinstance(address, str) and address):
            raise ValueError(f"address (ray_address, --ray-address) must be None (a local Ray) or a Ray cluster's "
                             f"address such as 'auto' or 'host:6379', got {address!r}")
        super().__init__(env_name, workers, horizon)
        import ray
        self._ray, self._owns_ray, self.restarts = ray, not ray.is_initialized(), 0
        if self._owns_ray:
            try:
                if address is None:
                    ray.init(num_cpus=workers or os.cpu_count(), object_store_memory=LOCAL_OBJECT_STORE,
                             include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except ConnectionError as err:
                raise ConnectionError(f"Ray address {address!r}: no Ray cluster answered ({err}); start one with "
                                      "`ray start --head` (docs/scale-out.md)") from err
        if self.workers is None:
            self.workers = int(ray.cluster_resources().get("CPU", 1))
        # one CPU each: Ray starts the actor with OMP_NUM_THREADS=1, which OpenBLAS, MKL and torch follow (a
        # runtime_env setting them would cost every actor a fresh process: 13 s instead of 5 s to start here)
        self._actor_class = ray.remote(num_cpus=1)(_Worker)
        self._actors = [self._actor_class.remote(env_name) for _ in range(self.workers)]

    def _run_shares(self, messages):
        ray = self._ray
        died = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError)
        calls = [self._actors[k].sample.remote(message) for k, message in enumerate(messages)]
        parts = []
        for k, message in enumerate(messages):
            for attempt in range(RETRIES + 1):
                try:
                    parts.append(ray.get(calls[k]))
                    break
                except died as err:
                    if attempt == RETRIES:
                        raise RuntimeError(f"Ray sampler: worker {k} died {RETRIES + 1} times in one call (the last "
                                           f"{RETRIES} on fresh actors); the last error: {err}") from err
                    self._replace(k)
                    calls[k] = self._actors[k].sample.remote(message)
        return parts

    def _replace(self, k: int) -> None:
        """A fresh actor for worker k (its environments are rebuilt on its first call)."""
        self._ray.kill(self._actors[k])
        self._actors[k] = self._actor_class.remote(self.env_name)
        self.restarts += 1

    def close(self) -> None:
        if self._ray.is_initialized():
            for actor in self._actors:
                self._ray.kill(actor)
            if self._owns_ray:
                self._ray.shutdown()
        self._actors = []
