"""Gymnasium registration of the workbook's meta-RL environments.

`import course_lib` registers them (idempotently), after which `gymnasium.make` works:

    import course_lib
    env = gymnasium.make("course_lib/Navigation2D-v0", task=[0.3, -0.2])

or, without the import, `gymnasium.make("course_lib.envs:course_lib/Navigation2D-v0")`.
Navigation2D and PointVelocity1D truncate inside the envs (at `horizon`, default H = 100), so no
TimeLimit wrapper is registered for them; the MuJoCo tasks get gymnasium's TimeLimit at H = 200.
The batched torch versions the sampler uses are built by `course_lib.rl.envs.make_batched_env`.
"""
from __future__ import annotations

import gymnasium as gym

ENVIRONMENTS = {  # id -> entry point of the one-task gymnasium env
    "course_lib/Navigation2D-v0": "course_lib.tasks.navigation:Navigation2D",
    "course_lib/PointVelocity1D-v0": "course_lib.tasks.velocity:PointVelocity1D",
}


# MuJoCo locomotion (course_lib.tasks.locomotion): H = 200 through gymnasium's TimeLimit wrapper.
LOCOMOTION = {f"course_lib/{name}-v0": f"course_lib.tasks.locomotion:{name}"
              for name in ("HalfCheetahVel", "HalfCheetahDir", "AntVel", "AntDir")}


def register_envs() -> list[str]:
    """Register every environment not yet in gymnasium's registry; returns all ids."""
    for env_id, entry_point in ENVIRONMENTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
    for env_id, entry_point in LOCOMOTION.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=200)
    return [*ENVIRONMENTS, *LOCOMOTION]


register_envs()
