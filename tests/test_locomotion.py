"""MuJoCo locomotion task envs: gymnasium's checker, the paper's rewards by hand, task setting (also
through a vector env), the 200-step horizon, and bad tasks."""
import warnings

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.utils.env_checker import check_env

import course_lib.envs  # noqa: F401  (registers the envs)
from course_lib.tasks.locomotion import ANT_INIT_QPOS, AntDir, AntVel, HalfCheetahDir, HalfCheetahVel, ant_xml
from course_lib.tasks.mujoco_batch import CheetahBatch, EnvBatch, episode_batch

IDS = ["course_lib/HalfCheetahVel-v0", "course_lib/HalfCheetahDir-v0", "course_lib/AntVel-v0", "course_lib/AntDir-v0"]


@pytest.fixture(autouse=True)
def quiet_mujoco_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes_with_and_without_a_task(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.unwrapped.set_task(env.unwrapped.sample_tasks(1, np.random.default_rng(0))[0])
    check_env(env.unwrapped, skip_render_check=True)


def rollout(env, task, steps=20, seed=0):
    env.reset(seed=seed, options={"task": task})
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        action = rng.uniform(-1, 1, size=env.action_space.shape)
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((action, reward, info))
        if terminated:
            break
    return out


@pytest.mark.parametrize("cls,task", [(HalfCheetahVel, 1.3), (HalfCheetahDir, -1.0), (HalfCheetahDir, 1.0)])
def test_cheetah_rewards_are_the_papers(cls, task):
    for action, reward, info in rollout(cls(), task):
        v = info["x_velocity"]
        forward = -abs(v - task) if cls is HalfCheetahVel else task * v
        assert reward == pytest.approx(forward - 0.05 * float(np.sum(action ** 2)), rel=1e-9, abs=1e-12)
        assert info["task"] == task


@pytest.mark.parametrize("cls,task", [(AntVel, 2.5), (AntDir, -1.0)])
def test_ant_rewards_are_the_papers(cls, task):
    """rllab's Ant (the authors' ant_env_rand*.py): control 0.005‖a‖², contact 5e-4 Σ clip(cfrc_ext)²,
    survive 0.05, and AntVel's forward term −|v − g| + 1 — not gymnasium's 0.5‖a‖² and 1.0."""
    env = cls()
    env.reset(seed=0, options={"task": task})
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1, 1, size=env.action_space.shape)
        _, reward, terminated, _, info = env.step(action)
        v = info["x_velocity"]
        forward = -abs(v - task) + 1.0 if cls is AntVel else task * v
        contact = 5e-4 * float(np.sum(np.clip(env.data.cfrc_ext, -1.0, 1.0) ** 2))
        expected = forward + 0.05 - 0.005 * float(np.sum(action ** 2)) - contact
        assert reward == pytest.approx(expected, rel=1e-9, abs=1e-12)
        if terminated:
            break


def test_the_task_changes_the_reward_not_the_physics():
    a, b = rollout(HalfCheetahVel(), 0.0), rollout(HalfCheetahVel(), 2.0)
    assert [x[2]["x_velocity"] for x in a] == [x[2]["x_velocity"] for x in b]
    assert [x[1] for x in a] != [x[1] for x in b]


@pytest.mark.parametrize("cls", [HalfCheetahVel, HalfCheetahDir])
def test_the_cheetah_acts_every_10_ms_like_rllabs(cls):
    """One 0.01 s physics step per action, so H = 200 is the paper's 2 s (gymnasium's default is 0.05 s);
    v_x is the forward speed over that step."""
    env = cls(task=1.0)
    assert env.frame_skip == 1 and env.dt == pytest.approx(0.01)
    env.reset(seed=0)
    x0 = env.data.qpos[0]
    *_, info = env.step(np.ones(6))
    assert info["x_velocity"] == pytest.approx((env.data.qpos[0] - x0) / 0.01)
    assert cls(task=1.0, frame_skip=5).dt == pytest.approx(0.05)     # still gymnasium's env underneath


@pytest.mark.parametrize("cls", [AntVel, AntDir])
def test_the_ant_acts_every_20_ms_like_rllabs(cls):
    """rllab's ant.xml: one 0.02 s RK4 step per action (gymnasium's: two of 0.01 s)."""
    env = cls(task=1.0)
    assert env.frame_skip == 1 and env.model.opt.timestep == 0.02 and env.dt == pytest.approx(0.02)
    assert env.model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert cls(task=1.0, frame_skip=5).dt == pytest.approx(0.1)      # still gymnasium's env underneath


def test_the_ant_has_rllabs_contacts_and_gymnasiums_body():
    """Every geom, the floor included, takes rllab's default contact parameters; nothing else moves."""
    ours, gyms = AntVel().model, AntEnv().model
    assert np.array_equal(ours.geom_solref, np.tile([0.02, 1.0], (ours.ngeom, 1)))
    assert np.allclose(ours.geom_solimp[:, :3], [0.8, 0.8, 0.01])
    assert not np.allclose(gyms.geom_solimp[:, :3], [0.8, 0.8, 0.01])
    for field in ("geom_size", "geom_friction", "body_mass", "jnt_range", "actuator_gear", "dof_damping"):
        assert np.array_equal(getattr(ours, field), getattr(gyms, field)), field
    assert ant_xml() == ant_xml()                                   # written once, reused


def test_the_ant_starts_in_rllabs_pose():
    """qpos = rllab's init_qpos + N(0, 0.01²): upright at 0.55 with every hinge inside its range (gymnasium's
    start puts the ankles outside theirs); qvel ~ N(0, 0.1²); a seed gives one start."""
    env = AntDir(task=1.0)
    hinge = env.model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    low, high = env.model.jnt_range[hinge].T
    starts = []
    for seed in range(200):
        env.reset(seed=seed)
        starts.append((env.data.qpos.copy(), env.data.qvel.copy()))
        assert np.all((low < env.data.qpos[7:]) & (env.data.qpos[7:] < high))
    qpos, qvel = map(np.array, zip(*starts))
    assert np.allclose(qpos.mean(0), ANT_INIT_QPOS, atol=0.003) and qpos[:, 2].mean() == pytest.approx(0.55, abs=0.003)
    assert np.allclose(qpos.std(0), 0.01, rtol=0.2) and np.allclose(qvel.std(0), 0.1, rtol=0.2)
    env.reset(seed=7)
    assert np.array_equal(env.data.qpos, starts[7][0])


@pytest.mark.parametrize("env_id", IDS[:2])
def test_horizon_is_200_through_gymnasium_make(env_id):
    env = gym.make(env_id, task=1.0)
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated
    assert steps == 200


def test_tasks_through_the_vector_api():
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("course_lib/HalfCheetahVel-v0") for _ in range(3)])
    envs.set_attr("task", [0.5, 1.0, 1.5])
    assert list(envs.get_attr("task")) == [0.5, 1.0, 1.5]
    envs.call("set_task", 0.25)
    assert list(envs.get_attr("task")) == [0.25, 0.25, 0.25]
    envs.reset(seed=0)
    *_, infos = envs.step(envs.action_space.sample())
    assert list(infos["task"]) == [0.25, 0.25, 0.25]
    envs.close()


def test_task_distributions():
    rng = np.random.default_rng(0)
    v = HalfCheetahVel.sample_tasks(1000, rng)
    assert v.min() >= 0 and v.max() <= 2 and v.std() > 0.4
    assert AntVel.sample_tasks(1000, rng).max() > 2.5
    d = HalfCheetahDir.sample_tasks(1000, rng)
    assert set(np.unique(d)) == {-1.0, 1.0} and 400 < (d > 0).sum() < 600


@pytest.mark.parametrize("cls,bad", [(HalfCheetahVel, [1.0, 2.0]), (HalfCheetahVel, float("nan")),
                                     (HalfCheetahDir, 0.5), (AntDir, 2), (AntVel, "fast")])
def test_bad_tasks_name_the_argument(cls, bad):
    with pytest.raises(ValueError, match="task"):
        cls().set_task(bad)


@pytest.mark.parametrize("cls,tasks", [(HalfCheetahVel, [0.3, 1.7, 1.0, 0.3]), (HalfCheetahDir, [1.0, -1.0, 1.0, -1.0])])
def test_cheetah_batch_is_step(cls, tasks):
    """The sampler's cheetah physics (one mujoco.rollout call per step) is gymnasium's `step` with the
    solver's warm start cleared, bit for bit, episode by episode — also where two episodes share a start
    (seed) or a task; and plain `step` (warm-started) to the solver's tolerance."""
    seeds = [0, 1, 0, 7]
    batch = CheetahBatch(cls(), tasks, seeds)
    cold, warm = ([cls(task=t) for t in tasks] for _ in range(2))
    first = [env.reset(seed=s)[0] for env, s in zip(cold, seeds)]
    for env, s in zip(warm, seeds):
        env.reset(seed=s)
    np.testing.assert_array_equal(batch.observations(), first)
    rng = np.random.default_rng(0)
    for _ in range(40):
        actions = rng.uniform(-1.5, 1.5, size=(len(tasks), 6))
        obs, rewards, terminated = batch.step(actions)
        for k, (env, other) in enumerate(zip(cold, warm)):
            env.data.qacc_warmstart[:] = 0.0
            o, r, term, _, _ = env.step(actions[k])
            np.testing.assert_array_equal(obs[k], o)
            assert rewards[k] == pytest.approx(r, rel=1e-12, abs=1e-12)
            assert terminated[k] == term
            np.testing.assert_allclose(obs[k], other.step(actions[k])[0], rtol=0, atol=1e-7)
    assert not np.array_equal(obs[0], obs[2])          # same start, other actions: apart


class _Falls:
    """A stand-in env whose episode ends after `life` steps; reward = step count."""

    def __init__(self, life):
        self.life = life

    def set_task(self, task):
        self.task = task

    def reset(self, seed=None):
        self.t = 0
        return np.full(2, float(seed)), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t, action[0]], float), float(self.t), self.t >= self.life, False, {}


def test_env_batch_stops_finished_episodes():
    batch = EnvBatch([_Falls(1), _Falls(3)], [0.0, 1.0], [5, 6])
    np.testing.assert_array_equal(batch.observations(), [[5, 5], [6, 6]])
    rewards, done = [], []
    for t in range(4):
        obs, r, terminated = batch.step(np.full((2, 1), 10.0 + t))
        rewards.append(r), done.append(terminated)
    np.testing.assert_array_equal(rewards, [[1, 1], [0, 2], [0, 3], [0, 0]])   # no reward once finished
    np.testing.assert_array_equal(done, [[True, False], [True, False], [True, True], [True, True]])
    np.testing.assert_array_equal(obs, [[1, 10], [3, 12]])                     # the last observation stays


def test_episode_batch_picks_the_physics_and_reuses_the_envs():
    pool = []
    assert isinstance(episode_batch("HalfCheetahDir", [1.0, -1.0], [0, 1], pool), CheetahBatch) and len(pool) == 1
    ant_pool = []
    batch = episode_batch("AntVel", [0.5, 1.0, 2.0], [0, 1, 2], ant_pool)
    assert isinstance(batch, EnvBatch) and len(ant_pool) == 3
    assert [env.task for env in ant_pool] == [0.5, 1.0, 2.0]
    episode_batch("AntVel", [1.5], [0], ant_pool)
    assert len(ant_pool) == 3 and ant_pool[0].task == 1.5
