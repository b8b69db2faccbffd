"""The meta-RL environments: 2-D navigation and 1-D target velocity, one-env and batched versions."""
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from course_lib.envs import ENVIRONMENTS, LOCOMOTION, register_envs
from course_lib.rl.envs import make_batched_env
from course_lib.tasks import (BatchedNavigation2D, BatchedPointVelocity1D, Navigation2D,
                              NavigationDistribution, PointVelocity1D, VelocityDistribution)

torch.set_num_threads(1)
NAV, VEL = "course_lib/Navigation2D-v0", "course_lib/PointVelocity1D-v0"


# ---------------------------------------------------------------- Navigation2D, by hand
def test_navigation_reward_is_l2_distance_after_the_move():
    env = Navigation2D(task=[0.3, -0.2])
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and np.array_equal(obs, [0, 0])
    np.testing.assert_array_equal(info["task"], np.float32([0.3, -0.2]))
    obs, reward, terminated, truncated, _ = env.step(np.array([0.05, -0.07], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.05, -0.07], atol=1e-7)
    assert reward == pytest.approx(-math.hypot(0.05 - 0.3, -0.07 + 0.2), abs=1e-6)  # not squared
    assert not terminated and not truncated


def test_navigation_clips_actions_to_a_tenth():
    env = Navigation2D(task=[0.5, 0.5])
    env.reset()
    obs, reward, *_ = env.step([5.0, -3.0])  # out of the action space: accepted and clipped
    np.testing.assert_array_equal(obs, np.float32([0.1, -0.1]))
    assert reward == pytest.approx(-math.hypot(0.4, 0.6), abs=1e-6)


def test_navigation_terminates_only_within_tolerance_on_both_coordinates():
    env = Navigation2D(task=[0.05, 0.02])
    env.reset()
    assert not env.step([0.05, 0.0])[2]     # |dx| = 0, |dy| = 0.02 ≥ 0.01
    obs, reward, terminated, truncated, _ = env.step([0.0, 0.015])  # |dy| = 0.005
    assert terminated and not truncated
    assert reward == pytest.approx(-0.005, abs=1e-6)


@pytest.mark.parametrize("env", [Navigation2D(task=[0.5, 0.5]), PointVelocity1D(task=1.5)])
def test_truncation_at_horizon(env):
    env.reset(seed=0)
    flags = [env.step(np.zeros(env.action_space.shape, np.float32))[2:4] for _ in range(env.horizon)]
    assert env.horizon == 100
    assert [t for t, _ in flags] == [False] * 100
    assert [t for _, t in flags] == [False] * 99 + [True]
    short = type(env)(task=env.task, horizon=3)
    short.reset()
    assert [short.step(short.action_space.sample())[3] for _ in range(3)] == [False, False, True]


# ---------------------------------------------------------------- PointVelocity1D, by hand
def test_velocity_dynamics_reward_and_clipping():
    env = PointVelocity1D(task=-0.5)
    obs, info = env.reset()
    assert obs.shape == (1,) and obs.dtype == np.float32 and obs[0] == 0
    obs, reward, terminated, truncated, info = env.step([10.0])  # clipped to 1: v = 0.1, x = 0.01
    assert obs[0] == pytest.approx(0.1) and info["position"] == pytest.approx(0.01)
    assert reward == pytest.approx(-(0.1 + 0.5) ** 2)
    obs, reward, *_, info = env.step(-0.5)  # a scalar action is fine too: v = 0.05, x = 0.015
    assert obs[0] == pytest.approx(0.05) and info["position"] == pytest.approx(0.015)
    assert reward == pytest.approx(-(0.05 + 0.5) ** 2) and info["task"] == -0.5
    assert not terminated and not truncated


def test_task_distributions():
    rng = np.random.default_rng(0)
    goals = Navigation2D.sample_tasks(1000, rng)
    assert goals.shape == (1000, 2) and goals.dtype == np.float32
    assert goals.min() >= -0.5 and goals.max() <= 0.5 and goals.min() < -0.45 and goals.max() > 0.45
    targets = PointVelocity1D(task=0.0).sample_tasks(1000, rng)
    assert targets.shape == (1000,) and targets.min() >= -2 and targets.max() <= 2 and targets.min() < -1.9
    assert NavigationDistribution(0, 1).sample_tasks(3, rng).min() >= 0
    assert VelocityDistribution(0, 2).sample_tasks(3, rng).min() >= 0


def test_task_setting_and_drawing():
    env = Navigation2D()
    assert env.task is None
    _, info = env.reset(seed=1)  # no task set: each reset draws one from the seeded np_random
    first = env.task
    np.testing.assert_array_equal(info["task"], first)
    env.reset(seed=1)
    np.testing.assert_array_equal(env.task, first)
    env.reset()
    assert not np.array_equal(env.task, first)
    env.reset(options={"task": [0.1, 0.2]})  # now fixed across resets
    env.reset(seed=3)
    np.testing.assert_array_equal(env.task, np.float32([0.1, 0.2]))
    env.task = np.array([0.4, 0.0])  # attribute assignment validates too (set_attr uses it)
    np.testing.assert_array_equal(env.task, np.float32([0.4, 0.0]))
    env.set_task(None)
    env.reset()
    assert not np.array_equal(env.task, np.float32([0.4, 0.0]))
    vel = PointVelocity1D()
    vel.reset(options={"task": np.array([1.25])})
    vel.reset(seed=0)
    assert vel.task == 1.25


# ---------------------------------------------------------------- one env == batched env, bitwise
def _run_single(env, task, actions):
    """Roll out one episode; stop at termination. Returns obs [t+1, d], rewards [t], positions, t_end."""
    obs, info = env.reset(options={"task": task})
    observations, rewards, positions = [obs], [], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        positions.append(info.get("position"))
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards, dtype=np.float32), positions, terminated


def test_navigation_single_and_batched_trajectories_are_identical():
    rng = np.random.default_rng(123)
    goals = Navigation2D.sample_tasks(3, rng)
    n, horizon = 3, 100
    actions = (0.15 * rng.standard_normal((3, n, horizon, 2))).astype(np.float32)  # many out of range
    for task in range(3):  # episode 0 of every task walks straight to the goal in k steps
        k = int(np.ceil(np.abs(goals[task]).max() / 0.1)) + 1
        actions[task, 0, :k] = goals[task] / np.float32(k)
    batched = BatchedNavigation2D(torch.from_numpy(goals), n)
    obs_b = [batched.reset()]
    steps = [batched.step(torch.from_numpy(actions[:, :, t])) for t in range(horizon)]
    obs_b = torch.stack(obs_b + [s[0] for s in steps], dim=2).numpy()  # [T, N, H+1, 2]
    rew_b = torch.stack([s[1] for s in steps], dim=2).numpy()          # [T, N, H]
    term_b = torch.stack([s[2] for s in steps], dim=2).numpy()         # [T, N, H]

    env, n_terminated = Navigation2D(), 0
    for task in range(3):
        for episode in range(n):
            obs, rew, _, terminated = _run_single(env, goals[task], actions[task, episode])
            t = len(rew)
            assert np.array_equal(obs, obs_b[task, episode, :t + 1])
            assert np.array_equal(rew, rew_b[task, episode, :t])
            assert not term_b[task, episode, :t - 1].any()
            assert term_b[task, episode, t - 1] == terminated
            if terminated:  # frozen afterwards: same position, reward 0, terminated stays True
                n_terminated += 1
                assert (obs_b[task, episode, t:] == obs_b[task, episode, t]).all()
                assert (rew_b[task, episode, t:] == 0).all() and term_b[task, episode, t:].all()
    assert n_terminated >= 3
    assert obs_b.dtype == rew_b.dtype == np.float32 and term_b.dtype == bool


def test_velocity_single_and_batched_trajectories_are_identical():
    rng = np.random.default_rng(7)
    targets = PointVelocity1D.sample_tasks(3, rng)
    n, horizon = 2, 100
    actions = (1.5 * rng.standard_normal((3, n, horizon, 1))).astype(np.float32)
    batched = BatchedPointVelocity1D(torch.from_numpy(targets), n)
    obs_b = [batched.reset()]
    steps, positions = [], []
    for t in range(horizon):
        steps.append(batched.step(torch.from_numpy(actions[:, :, t])))
        positions.append(batched.position.clone())
    obs_b = torch.stack(obs_b + [s[0] for s in steps], dim=2).numpy()
    rew_b = torch.stack([s[1] for s in steps], dim=2).numpy()
    pos_b = torch.stack(positions, dim=2).numpy()
    assert not any(s[2].any() for s in steps)
    env = PointVelocity1D()
    for task in range(3):
        for episode in range(n):
            obs, rew, pos, terminated = _run_single(env, targets[task], actions[task, episode])
            assert len(rew) == horizon and not terminated
            assert np.array_equal(obs, obs_b[task, episode])
            assert np.array_equal(rew, rew_b[task, episode])
            assert np.array_equal(np.float32(pos), pos_b[task, episode])


def test_batched_navigation_shapes_and_freezing():
    env = BatchedNavigation2D(torch.tensor([[0.05, 0.0], [0.5, 0.5]]), n_episodes=4)
    assert (env.obs_dim, env.act_dim, env.horizon) == (2, 2, 100)
    obs = env.reset()
    assert obs.shape == (2, 4, 2) and obs.dtype == torch.float32
    act = torch.full((2, 4, 2), 0.05).index_fill_(2, torch.tensor([1]), 0.0)
    obs, reward, terminated = env.step(act)
    assert reward.shape == terminated.shape == (2, 4) and terminated.dtype == torch.bool
    assert terminated[0].all() and not terminated[1].any()
    obs2, reward2, terminated2 = env.step(torch.full((2, 4, 2), 3.0))
    assert torch.equal(obs2[0], obs[0]) and (reward2[0] == 0).all() and terminated2[0].all()
    assert torch.allclose(obs2[1], torch.tensor([0.15, 0.1]).expand(4, 2))
    vel = BatchedPointVelocity1D(torch.tensor([1.0, -1.0, 0.0]), n_episodes=2, horizon=2)
    assert vel.reset().shape == (3, 2, 1) and (vel.obs_dim, vel.act_dim) == (1, 1)
    vel.step(torch.ones(3, 2, 1))
    vel.step(torch.ones(3, 2, 1))
    with pytest.raises(RuntimeError, match="horizon"):
        vel.step(torch.ones(3, 2, 1))


# ---------------------------------------------------------------- bad input
def test_bad_input_fails_naming_the_argument():
    with pytest.raises(ValueError, match="goals"):
        BatchedNavigation2D(torch.zeros(3, 3), 2)
    with pytest.raises(ValueError, match="goals"):
        BatchedNavigation2D(torch.zeros(2), 2)
    with pytest.raises(ValueError, match="goals"):
        BatchedNavigation2D(torch.tensor([[0.0, float("nan")]]), 2)
    with pytest.raises(ValueError, match="n_episodes"):
        BatchedNavigation2D(torch.zeros(3, 2), 0)
    with pytest.raises(ValueError, match="horizon"):
        BatchedNavigation2D(torch.zeros(3, 2), 1, horizon=0)
    with pytest.raises(ValueError, match="targets"):
        BatchedPointVelocity1D(torch.zeros(3, 1), 2)
    with pytest.raises(ValueError, match="n_episodes"):
        BatchedPointVelocity1D(torch.zeros(3), 2.5)
    with pytest.raises(ValueError, match="task"):
        Navigation2D(task=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="task"):
        Navigation2D().set_task([[0.1], [0.2]])
    with pytest.raises(ValueError, match="task"):
        PointVelocity1D(task=[1.0, 2.0])
    with pytest.raises(ValueError, match="task"):
        PointVelocity1D().reset(options={"task": float("inf")})
    with pytest.raises(ValueError, match="horizon"):
        Navigation2D(horizon=0)
    with pytest.raises(ValueError, match="n must"):
        Navigation2D.sample_tasks(0, np.random.default_rng(0))
    batched = BatchedNavigation2D(torch.zeros(3, 2), 2)
    with pytest.raises(RuntimeError, match="reset"):
        batched.step(torch.zeros(3, 2, 2))
    batched.reset()
    with pytest.raises(ValueError, match="actions"):
        batched.step(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="actions"):
        batched.step(torch.full((3, 2, 2), float("nan")))
    env = Navigation2D(task=[0.0, 0.1])
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0.0, 0.0])
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="env must be one of"):
        make_batched_env("CartPole-v1", torch.zeros(3, 2), 2)


# ---------------------------------------------------------------- gymnasium integration
def test_registration_is_idempotent_and_make_works():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-registering would warn "Overriding environment"
        assert register_envs() == [*ENVIRONMENTS, *LOCOMOTION] and list(ENVIRONMENTS) == [NAV, VEL]
    env = gym.make(NAV, task=[0.3, 0.1])
    obs, info = env.reset(seed=0)
    assert obs.shape == (2,)
    np.testing.assert_array_equal(env.get_wrapper_attr("task"), np.float32([0.3, 0.1]))
    env.get_wrapper_attr("set_task")([0.0, 0.2])
    np.testing.assert_array_equal(env.unwrapped.task, np.float32([0.0, 0.2]))
    vel = gym.make("course_lib.envs:" + VEL, horizon=5)
    vel.reset(seed=0)
    assert vel.get_wrapper_attr("horizon") == 5 and -2 <= vel.get_wrapper_attr("task") <= 2
    assert isinstance(make_batched_env("point_velocity", np.zeros(2), 3, normalize_actions=False), BatchedPointVelocity1D)


@pytest.mark.parametrize("env_id, task", [(NAV, [0.2, -0.3]), (VEL, 0.5)])
def test_check_env_passes(env_id, task):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no checker warnings either, except for the spec'd R^d bounds
        warnings.filterwarnings("ignore", message=".*Box observation space m.* value is .*infinity")
        check_env(gym.make(env_id).unwrapped)            # drawing a task at every reset
        check_env(gym.make(env_id, task=task).unwrapped)  # one fixed task


def test_vector_env_set_attr_and_call_set_task():
    goals = Navigation2D.sample_tasks(3, np.random.default_rng(0))
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(NAV) for _ in range(3)])
    envs.set_attr("task", list(goals))  # one goal per sub-env
    _, info = envs.reset(seed=0)
    np.testing.assert_array_equal(np.stack(envs.get_attr("task")), goals)
    np.testing.assert_array_equal(info["task"], goals)
    envs.call("set_task", [0.1, -0.1])  # the same goal for all
    _, info = envs.reset()
    np.testing.assert_array_equal(info["task"], np.float32([[0.1, -0.1]] * 3))
    obs, reward, terminated, truncated, info = envs.step(np.float32([[0.1, -0.1]] * 3))
    np.testing.assert_array_equal(terminated, [True] * 3)
    vel = gym.vector.SyncVectorEnv([lambda: gym.make(VEL) for _ in range(2)])
    vel.set_attr("task", [1.0, -1.0])
    vel.reset(seed=0)
    assert vel.get_attr("task") == (1.0, -1.0)
    envs.close()
    vel.close()


def test_many_tasks_first_steps_identical():
    """Wide batches take torch's vectorized kernels: still bitwise equal to the one-env numpy steps."""
    rng = np.random.default_rng(5)
    goals, targets = Navigation2D.sample_tasks(20, rng), PointVelocity1D.sample_tasks(20, rng)
    for env, batched, tasks, dim in [(Navigation2D(), BatchedNavigation2D(goals, 16), goals, 2),
                                     (PointVelocity1D(), BatchedPointVelocity1D(targets, 16), targets, 1)]:
        actions = (0.3 * rng.standard_normal((20, 16, 3, dim))).astype(np.float32)
        batched.reset()
        rewards = torch.stack([batched.step(torch.from_numpy(actions[:, :, t]))[1] for t in range(3)], -1)
        for task in range(20):
            for episode in range(16):
                env.reset(options={"task": tasks[task]})
                single = [env.step(actions[task, episode, t])[1] for t in range(3)]
                assert np.array_equal(np.float32(single), rewards[task, episode].numpy())


def test_import_course_lib_alone_registers_the_ids():
    """A fresh interpreter: `import course_lib` is enough for gymnasium.make (no course_lib.envs import)."""
    import subprocess
    import sys
    code = ("import gymnasium as gym, course_lib\n"
            "env = gym.make('course_lib/Navigation2D-v0', task=[0.3, -0.2])\n"
            "obs, _ = env.reset(seed=0)\nprint(obs.shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "(2,)", result.stderr[-2000:]
