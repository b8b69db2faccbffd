"""MuJoCo locomotion tasks of the MAML paper (§5.3), on gymnasium's v5 HalfCheetah and Ant.

    HalfCheetahVel   v_goal ~ U[0, 2]     r = −|v_x − v_goal| − 0.05‖a‖²
    HalfCheetahDir   d ∈ {−1, +1}         r = d·v_x − 0.05‖a‖²
    AntVel           v_goal ~ U[0, 3]     r = −|v_x − v_goal| + 1.05 − 0.005‖a‖² − contact
    AntDir           d ∈ {−1, +1}         r = d·v_x + 0.05 − 0.005‖a‖² − contact
    contact = 5e-4 Σ clip(cfrc_ext, −1, 1)²; an Ant episode ends when its torso leaves z ∈ [0.2, 1]
    horizon H = 200 (registered with max_episode_steps=200)

The reward changes (`_get_rew`), and the control period: the paper's rllab robots act every physics
step — HalfCheetah every 0.01 s (`frame_skip` 1, so H = 200 is 2 s), Ant every 0.02 s — where
gymnasium's default is 0.05 s (H = 200 would be 10 s, a different task with other returns). The Ant's
costs are rllab's too (the authors' ant_env_rand*.py): control 0.005‖a‖² where gymnasium's default is
0.5‖a‖², a hundred times more, which alone puts an Ant acting at random near −2 per step; survive 0.05,
and AntVel adds a constant +1 on top. So is the Ant's physics (rllab's ant.xml, `ant_xml`): softer
contacts, one 0.02 s RK4 step per action, and a start with the ankles bent inside their limits — in
gymnasium's, TRPO learns to run far more slowly (docs/notes/2026-12-07-ant-rllab-physics.md).
Observations and the Ant's termination are gymnasium's.
A task is set like in the other task envs: `set_task(task)`, `env.task = task` (so a vector env's
`set_attr("task", tasks)` works), or `reset(options={"task": task})`; it stays fixed across resets.
The sampler steps many episodes of these envs at once: `mujoco_batch.episode_batch`.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from xml.etree import ElementTree

import mujoco
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.mujoco_env import expand_model_path

from ..validation import check_int
from .base import UniformTasks

HORIZON = 200
CHEETAH_CTRL_COST = 0.05
CHEETAH_FRAME_SKIP = 1     # rllab's half_cheetah.xml: timestep 0.01, one physics step per action
ANT_CTRL_COST = 0.005      # rllab's ant: 0.5·1e-2‖a‖² (its contact cost, 0.5·1e-3, is gymnasium's 5e-4)
# rllab's ant.xml where it differs from gymnasium's (its actuators' ctrlrange ±150 are gear 150's torques)
ANT_TIMESTEP = 0.02        # one RK4 step per action (gymnasium's: 0.01)
ANT_CONTACTS = {"solref": ".02 1", "solimp": ".8 .8 .01"}       # the default geom's (MuJoCo's .9 .95 .001)
ANT_INIT_QPOS = np.array([0.0, 0.0, 0.55, 1.0, 0.0, 0.0, 0.0,   # torso at 0.55, upright
                          0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0])    # hips 0, ankles ±1 rad (limits ±30°–70°)


def _mujoco_warning(message: str) -> None:
    """Print MuJoCo's warnings except one: gymnasium's v5 XML files use `settotalmass`, which MuJoCo
    4 reports as deprecated every time a model is compiled — noise for a student, not a problem."""
    if "settotalmass" not in message:
        print(f"MuJoCo warning: {message}", file=sys.stderr)


mujoco.set_mju_user_warning(_mujoco_warning)


@dataclass(frozen=True)
class VelocityGoals(UniformTasks):
    """Goal velocities uniform in [low, high]: sample_tasks(n, rng) → [n] float64."""
    dtype: type = np.float64

    def check(self, task) -> float:
        try:
            value = float(np.asarray(task, dtype=np.float64).reshape(-1)[0]) if np.size(task) == 1 else None
        except (TypeError, ValueError):
            value = None
        if value is None or not np.isfinite(value):
            raise ValueError(f"task (goal velocity) must be one finite number, got {task!r}")
        return value


@dataclass(frozen=True)
class Directions:
    """Running direction −1 (backwards) or +1 (forwards), each with probability ½."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        check_int(n, "n", 1)
        return rng.choice(np.array([-1.0, 1.0]), size=n)

    def check(self, task) -> float:
        try:
            value = float(np.asarray(task).reshape(-1)[0]) if np.size(task) == 1 else None
        except (TypeError, ValueError):
            value = None
        if value not in (-1.0, 1.0):
            raise ValueError(f"task (direction) must be -1 or +1, got {task!r}")
        return value


class _TaskMixin:
    """The task-env interface shared by the locomotion envs: sample_tasks, set_task, task, reset options."""

    distribution = None

    def _init_task(self, task) -> None:
        self._task = None if task is None else self.distribution.check(task)

    @classmethod
    def sample_tasks(cls, n: int, rng: np.random.Generator) -> np.ndarray:
        return cls.distribution.sample_tasks(n, rng)

    def set_task(self, task) -> None:
        self._task = None if task is None else self.distribution.check(task)

    @property
    def task(self):
        return self._task

    @task.setter
    def task(self, value) -> None:
        self.set_task(value)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if options and "task" in options:
            self.set_task(options["task"])
        obs, info = super().reset(seed=seed)
        if self._task is None:                      # a multi-task env: a new task per episode
            self._sampled = float(self.distribution.sample_tasks(1, self.np_random)[0])
        return obs, info | {"task": self.current_task}

    @property
    def current_task(self) -> float:
        return self._task if self._task is not None else getattr(self, "_sampled", 0.0)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, info | {"task": self.current_task}


class _Cheetah(_TaskMixin, HalfCheetahEnv):
    """HalfCheetah with a task reward r = forward(task, v_x) − 0.05‖a‖², one 0.01 s step per action."""

    def __init__(self, task=None, **kwargs):
        super().__init__(**{"ctrl_cost_weight": CHEETAH_CTRL_COST, "frame_skip": CHEETAH_FRAME_SKIP, **kwargs})
        self._init_task(task)

    @staticmethod
    def forward(task, x_velocity):
        raise NotImplementedError

    def _get_rew(self, x_velocity: float, action):
        forward = self.forward(self.current_task, x_velocity)
        ctrl = self.control_cost(action)
        return forward - ctrl, {"reward_forward": forward, "reward_ctrl": -ctrl}


class HalfCheetahVel(_Cheetah):
    distribution = VelocityGoals(0.0, 2.0)

    @staticmethod
    def forward(task, x_velocity):
        return -np.abs(x_velocity - task)


class HalfCheetahDir(_Cheetah):
    distribution = Directions()

    @staticmethod
    def forward(task, x_velocity):
        return task * x_velocity


def ant_xml() -> str:
    """The path of gymnasium's ant.xml edited to rllab's physics: `ANT_CONTACTS` on the default geom and
    an `ANT_TIMESTEP` step. Written once per content into the temp dir (write, then rename)."""
    root = ElementTree.parse(expand_model_path("ant.xml")).getroot()
    root.find("default/geom").attrib.update(ANT_CONTACTS)
    root.find("option").set("timestep", str(ANT_TIMESTEP))
    xml = ElementTree.tostring(root, encoding="unicode")
    path = os.path.join(tempfile.gettempdir(), f"course_lib-ant-{hashlib.sha256(xml.encode()).hexdigest()[:16]}.xml")
    if not os.path.exists(path):
        with open(f"{path}.{os.getpid()}", "w") as f:
            f.write(xml)
        os.replace(f"{path}.{os.getpid()}", path)
    return path


class _AntTask(_TaskMixin, AntEnv):
    """Ant with a task's forward reward and rllab's costs and physics: one 0.02 s RK4 step per action
    (`frame_skip` 1), rllab's contacts, and rllab's start (`reset_model`)."""
    survive: float          # rllab's survive reward, plus AntVel's constant +1

    def __init__(self, task=None, **kwargs):
        super().__init__(**{"xml_file": ant_xml(), "frame_skip": 1, "ctrl_cost_weight": ANT_CTRL_COST,
                            "healthy_reward": self.survive, **kwargs})
        self._init_task(task)

    def reset_model(self):
        """rllab's MujocoEnv.reset: ANT_INIT_QPOS + N(0, 0.01²) on qpos, N(0, 0.1²) on qvel (gymnasium's
        starts from qpos0: torso at 0.75, legs flat, ankles outside their limits)."""
        self.set_state(ANT_INIT_QPOS + 0.01 * self.np_random.standard_normal(self.model.nq),
                       0.1 * self.np_random.standard_normal(self.model.nv))
        return self._get_obs()

    @staticmethod
    def forward(task, x_velocity):
        raise NotImplementedError

    def _get_rew(self, x_velocity: float, action):
        forward = self.forward(self.current_task, x_velocity)
        ctrl, contact, survive = self.control_cost(action), self.contact_cost, self.healthy_reward
        return forward + survive - ctrl - contact, {"reward_forward": forward, "reward_ctrl": -ctrl,
                                                    "reward_contact": -contact, "reward_survive": survive}


class AntVel(_AntTask):
    distribution = VelocityGoals(0.0, 3.0)
    survive = 1.05

    @staticmethod
    def forward(task, x_velocity):
        return -np.abs(x_velocity - task)


class AntDir(_AntTask):
    distribution = Directions()
    survive = 0.05

    @staticmethod
    def forward(task, x_velocity):
        return task * x_velocity


LOCOMOTION_ENVS = {"HalfCheetahVel": HalfCheetahVel, "HalfCheetahDir": HalfCheetahDir,
                   "AntVel": AntVel, "AntDir": AntDir}
