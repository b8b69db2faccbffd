"""Many episodes of a locomotion env stepped together, for the sampler (`episode_batch`).

Every episode is a row of MuJoCo state: the cheetahs' rows are stepped by one `mujoco.rollout` call per
step for all of them (`CheetahBatch`), the Ant's in turn in one MjData (`AntBatch`); `EnvBatch` steps
gymnasium envs one by one, the same episodes more slowly. Each is tested bit for bit against the envs'
own `step` (tests/test_locomotion.py, tests/test_mujoco_sampler.py).
"""
from __future__ import annotations

import mujoco
import numpy as np
from mujoco import rollout

from .locomotion import CHEETAH_CTRL_COST, LOCOMOTION_ENVS, _AntTask, _Cheetah


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
