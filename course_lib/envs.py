"""Gymnasium registration of the workbook's meta-RL environments.

Importing this module registers them (idempotently), after which `gymnasium.make` works:

    import course_lib.envs
    env = gymnasium.make("course_lib/Navigation2D-v0", task=[0.3, -0.2])

or, without the import, `gymnasium.make("course_lib.envs:course_lib/Navigation2D-v0")`.
Episodes truncate inside the envs themselves (at `horizon`, default H = 100), so no TimeLimit
wrapper is registered. `make_batched` builds the sampler's torch version for the same id.
"""
from __future__ import annotations

import gymnasium as gym

from .tasks.navigation import BatchedNavigation2D
from .tasks.velocity import BatchedPointVelocity1D

ENVIRONMENTS = {  # id -> (entry point of the one-task gymnasium env, batched torch version)
    "course_lib/Navigation2D-v0": ("course_lib.tasks.navigation:Navigation2D", BatchedNavigation2D),
    "course_lib/PointVelocity1D-v0": ("course_lib.tasks.velocity:PointVelocity1D", BatchedPointVelocity1D),
}


# MuJoCo locomotion (course_lib.tasks.locomotion): H = 200 through gymnasium's TimeLimit wrapper.
LOCOMOTION = {f"course_lib/{name}-v0": f"course_lib.tasks.locomotion:{name}"
              for name in ("HalfCheetahVel", "HalfCheetahDir", "AntVel", "AntDir")}


def register_envs() -> list[str]:
    """Register every environment not yet in gymnasium's registry; returns all ids."""
    for env_id, (entry_point, _) in ENVIRONMENTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
    for env_id, entry_point in LOCOMOTION.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=200)
    return [*ENVIRONMENTS, *LOCOMOTION]


def make_batched(env_id: str, tasks, n_episodes: int, **kwargs):
    """The batched torch env for `env_id`: tasks [T, ...] (goals / targets) × n_episodes episodes."""
    if env_id not in ENVIRONMENTS:
        raise ValueError(f"env_id must be one of {sorted(ENVIRONMENTS)}, got {env_id!r}")
    return ENVIRONMENTS[env_id][1](tasks, n_episodes, **kwargs)


register_envs()
