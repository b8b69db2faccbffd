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
For the sampler, `episode_batch` steps many episodes at once, as rows of MuJoCo state (`CheetahBatch`:
one `mujoco.rollout` call per step for all of them; `AntBatch`: one MjData for all of them).
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
from mujoco import rollout
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


class CheetahBatch:
    """n HalfCheetah episodes stepped together, for the sampler.

    Episode i is row i of MuJoCo's physics state (time, qpos, qvel, …: `mj_getState`, FULLPHYSICS).
    One env step of all n episodes is one call of `mujoco.rollout`, which sets each row into an MjData,
    steps it and reads it back in C — no Python per episode. The constraint solver starts every step
    cold (zero warm start), where gymnasium's `step` warm-starts it from the previous step's
    accelerations: both converge to the same forces within the solver's tolerance, and with the warm
    start cleared every trajectory is bit for bit `env.step`'s (tested). Derived force quantities
    (mj_rnePostConstraint) are skipped: HalfCheetah's observation and reward do not use them.
    """

    SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS          # the state mujoco.rollout reads and writes

    def __init__(self, env: _Cheetah, tasks, seeds):
        """Episode i: task `tasks[i]`, initial state of `env.reset(seed=seeds[i])`."""
        model = self.model = env.model
        self.frame_skip, self.dt = env.frame_skip, env.dt
        self.tasks, self.forward = np.asarray(tasks, dtype=np.float64), type(env).forward
        n, size = len(self.tasks), mujoco.mj_stateSize(model, self.SPEC)
        # the elements of a state vector come in the order of their mjtState bits
        at = lambda element, length: slice(o := mujoco.mj_stateSize(model, self.SPEC & (element - 1)), o + length)
        self.qpos = at(mujoco.mjtState.mjSTATE_QPOS, model.nq)
        self.qvel = at(mujoco.mjtState.mjSTATE_QVEL, model.nv)
        self.state = np.empty((n, size))
        first = {}                                             # the task does not change the initial state
        for row, task, seed in zip(self.state, self.tasks, map(int, seeds)):
            if seed in first:
                row[:] = first[seed]
            else:
                env.set_task(task)
                env.reset(seed=seed)
                mujoco.mj_getState(model, env.data, row, self.SPEC)
                first[seed] = row
        # mujoco.rollout's arguments, made once: per row its model, control and output; one MjData
        self._rollout, self._models, self._data = rollout.Rollout(nthread=0), [model] * n, [mujoco.MjData(model)]
        self._ctrl = np.zeros((n, self.frame_skip, model.nu))
        self._cold = np.zeros((n, model.nv))
        self._next = np.empty((n, self.frame_skip, size))
        self._sensors = np.empty((n, self.frame_skip, model.nsensordata))

    def observations(self) -> np.ndarray:
        """[n, 17]: qpos without the x position, then qvel (gymnasium's HalfCheetah observation)."""
        return np.concatenate([self.state[:, self.qpos][:, 1:], self.state[:, self.qvel]], axis=1)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every episode one action on: obs [n, 17], rewards [n], terminated [n] (always False)."""
        x_before = self.state[:, self.qpos.start].copy()
        self._ctrl[:] = actions[:, None, :]                     # held for the frame_skip physics steps
        self._rollout.rollout(self._models, self._data, self.state, self._ctrl, nstep=self.frame_skip,
                              initial_warmstart=self._cold, state=self._next, sensordata=self._sensors,
                              skip_checks=True, chunk_size=len(self.tasks))
        self.state[:] = self._next[:, -1]
        x_velocity = (self.state[:, self.qpos.start] - x_before) / self.dt
        rewards = self.forward(self.tasks, x_velocity) - CHEETAH_CTRL_COST * np.sum(np.square(actions), axis=-1)
        return self.observations(), rewards, np.zeros(len(self.tasks), bool)


class AntBatch:
    """n Ant episodes stepped together, for the sampler: gymnasium's `step` bit for bit (tested).

    Episode i is row i of MuJoCo's integration state (`mj_getState`, INTEGRATION: time, qpos, qvel, the
    solver's warm start, ctrl, …). A step loads every live row into one MjData, runs gymnasium's
    `do_simulation` on it (`mj_step` × frame_skip, then `mj_rnePostConstraint`) and saves the row
    back; observations, rewards and terminations are then computed for all rows at once in numpy, with
    gymnasium's formulas. Not `mujoco.rollout` as for the cheetah: the Ant's observation and contact cost
    hold `cfrc_ext`, which gymnasium computes after `mj_step` from what the RK4 integrator leaves in the
    MjData (its last internal stage), and neither `mujoco.rollout` nor `mujoco.batch` returns that
    (the sensors that need it run at the first stage). All but `mj_step` takes ~8% of the time (profiled).
    A terminated episode is stepped no more: it keeps its last observation, reward 0 and terminated True.
    """

    SPEC = mujoco.mjtState.mjSTATE_INTEGRATION

    def __init__(self, env: _AntTask, tasks, seeds):
        """Episode i: task `tasks[i]`, initial state of `env.reset(seed=seeds[i])`; the env's settings."""
        model = self.model = env.model
        self.data = mujoco.MjData(model)
        self.frame_skip, self.dt = env.frame_skip, env.dt
        self.tasks, self.forward = np.asarray(tasks, dtype=np.float64), type(env).forward
        self.body = env.data.body(env._main_body).id
        self.first_qpos = 2 if env._exclude_current_positions_from_observation else 0
        self.forces_observed = env._include_cfrc_ext_in_observation
        self.ctrl_w, self.contact_w = env._ctrl_cost_weight, env._contact_cost_weight
        self.healthy_reward, self.terminates = env._healthy_reward, env._terminate_when_unhealthy
        self.z_range, self.force_range = env._healthy_z_range, env._contact_force_range
        n, size = len(self.tasks), mujoco.mj_stateSize(model, self.SPEC)
        at = lambda element, length: slice(o := mujoco.mj_stateSize(model, self.SPEC & (element - 1)), o + length)
        self.qpos = at(mujoco.mjtState.mjSTATE_QPOS, model.nq)
        self.qvel = at(mujoco.mjtState.mjSTATE_QVEL, model.nv)
        self.ctrl = at(mujoco.mjtState.mjSTATE_CTRL, model.nu)
        self.state, self.x, self.cfrc = np.empty((n, size)), np.empty(n), np.empty((n, model.nbody, 6))
        self._obs = np.empty((n, env.observation_space.shape[0]))
        first = {}                                             # the task does not change the initial state
        for i, (task, seed) in enumerate(zip(self.tasks, map(int, seeds))):
            if seed not in first:
                env.set_task(task)
                obs, _ = env.reset(seed=seed)
                row = np.empty(size)
                mujoco.mj_getState(model, env.data, row, self.SPEC)
                first[seed] = row, obs, env.data.xpos[self.body, 0]   # x before the first step, as `step` reads it
            self.state[i], self._obs[i], self.x[i] = first[seed]
        self.done = np.zeros(n, bool)

    def observations(self) -> np.ndarray:
        return self._obs.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every live episode one action on: obs [n, 105], rewards [n], terminated [n]."""
        live = np.flatnonzero(~self.done)
        actions = np.asarray(actions)[live]
        self.state[live, self.ctrl] = actions                  # ctrl is part of the state row
        x_before = self.x[live]
        model, data, spec, n_steps = self.model, self.data, self.SPEC, self.frame_skip
        cfrc_ext, xpos = data.cfrc_ext, data.xpos[self.body]
        for i in live:                                         # gymnasium's do_simulation, row by row
            row = self.state[i]
            mujoco.mj_setState(model, data, row, spec)
            mujoco.mj_step(model, data, nstep=n_steps)
            mujoco.mj_rnePostConstraint(model, data)
            mujoco.mj_getState(model, data, row, spec)
            self.cfrc[i], self.x[i] = cfrc_ext, xpos[0]
        qpos, qvel = self.state[live, self.qpos], self.state[live, self.qvel]
        k, nbody = len(live), self.model.nbody
        forces = np.clip(self.cfrc[live], *self.force_range)
        healthy = (np.isfinite(qpos).all(1) & np.isfinite(qvel).all(1)
                   & (self.z_range[0] <= qpos[:, 2]) & (qpos[:, 2] <= self.z_range[1]))
        forward = self.forward(self.tasks[live], (self.x[live] - x_before) / self.dt)
        ctrl = self.ctrl_w * np.sum(np.square(actions), axis=-1)
        contact = self.contact_w * np.sum(np.square(forces).reshape(k, nbody * 6), axis=-1)
        rewards = np.zeros(len(self.tasks))
        rewards[live] = forward + healthy * self.healthy_reward - ctrl - contact
        parts = [qpos[:, self.first_qpos:], qvel, forces[:, 1:].reshape(k, (nbody - 1) * 6)]
        self._obs[live] = np.concatenate(parts if self.forces_observed else parts[:2], axis=1)
        if self.terminates:
            self.done[live] = ~healthy
        return self.observations(), rewards, self.done.copy()


class EnvBatch:
    """The same interface over gymnasium envs stepped one by one, one env per episode (the Ant without
    `rows`; slower than AntBatch, same episodes). A finished episode keeps its last observation and
    gets reward 0."""

    def __init__(self, envs: list, tasks, seeds):
        self.envs = envs
        for env, task, seed in zip(envs, tasks, seeds):
            env.set_task(task)
        self._obs = np.stack([env.reset(seed=int(seed))[0] for env, seed in zip(envs, seeds)])
        self.done = np.zeros(len(envs), bool)

    def observations(self) -> np.ndarray:
        return self._obs.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rewards = np.zeros(len(self.envs))
        for i in np.flatnonzero(~self.done):
            self._obs[i], rewards[i], self.done[i], _, _ = self.envs[i].step(actions[i])
        return self.observations(), rewards, self.done.copy()


def episode_batch(env_name: str, tasks, seeds, envs: list, rows: bool = False) -> CheetahBatch | AntBatch | EnvBatch:
    """The physics of n episodes (task `tasks[i]`, reset seed `seeds[i]`) of a locomotion env.

    `envs` is the caller's pool of env instances, grown as needed and reused across calls. The cheetahs'
    episodes are rows of MuJoCo state (CheetahBatch, one env); the Ant's are too with `rows` (AntBatch,
    one env, what the sampler uses), else one gymnasium env each (EnvBatch, stepped one by one).
    """
    cls = LOCOMOTION_ENVS[env_name]
    cheetah = issubclass(cls, _Cheetah)
    while len(envs) < (1 if cheetah or rows else len(tasks)):
        envs.append(cls())
    if cheetah:
        return CheetahBatch(envs[0], tasks, seeds)
    return AntBatch(envs[0], tasks, seeds) if rows else EnvBatch(envs[:len(tasks)], tasks, seeds)


LOCOMOTION_ENVS = {"HalfCheetahVel": HalfCheetahVel, "HalfCheetahDir": HalfCheetahDir,
                   "AntVel": AntVel, "AntDir": AntDir}
