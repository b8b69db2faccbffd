"""The multi-core MuJoCo sampler: shapes, seeding, the policy inside the workers is the library's policy;
the Ant's physics (AntBatch) is gymnasium's `step` bit for bit, and its ended episodes are masked."""
import numpy as np
import pytest
import torch

from course_lib.functional import batched, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl.episodes import action_distribution
from course_lib.rl.mujoco_sampler import MujocoSampler
from course_lib.tasks.locomotion import LOCOMOTION_ENVS, AntDir, AntVel
from course_lib.tasks.mujoco_batch import AntBatch, episode_batch


@pytest.fixture(scope="module")
def sampler():
    with MujocoSampler("HalfCheetahVel", workers=2, horizon=15) as s:
        yield s


def params(n_tasks, log_std=None, seed=0):
    torch.manual_seed(seed)
    policy = GaussianPolicy(17, 6, hidden=(16, 16))
    theta = batched(parameters_of(policy), n_tasks)
    theta = {k: v + 0.1 * torch.randn_like(v) for k, v in theta.items()}    # a different policy per task
    if log_std is not None:
        theta["log_std"] = torch.full_like(theta["log_std"], log_std)
    return policy, theta


def test_shapes_and_reproducibility(sampler):
    _, theta = params(3)
    a = sampler.sample(theta, [0.5, 1.0, 1.5], 2, seed=4)
    b = sampler.sample(theta, [0.5, 1.0, 1.5], 2, seed=4)
    c = sampler.sample(theta, [0.5, 1.0, 1.5], 2, seed=5)
    assert a.obs.shape == (3, 2, 15, 17) and a.actions.shape == (3, 2, 15, 6) and a.rewards.shape == (3, 2, 15)
    assert torch.equal(a.mask, torch.ones(3, 2, 15))                         # HalfCheetah never terminates
    assert torch.equal(a.rewards, b.rewards) and torch.equal(a.obs, b.obs)
    assert not torch.equal(a.rewards, c.rewards)


def test_actions_come_from_each_tasks_own_policy(sampler):
    policy, theta = params(3, log_std=-30.0)                                  # σ ≈ 0: action = μ(s)
    episodes = sampler.sample(theta, [0.0, 1.0, 2.0], 2, seed=0)
    with torch.no_grad():
        mean, _ = action_distribution(policy, theta, episodes.obs)
    torch.testing.assert_close(episodes.actions, mean.float(), rtol=1e-4, atol=1e-4)


def test_the_task_reaches_the_envs(sampler):
    _, theta = params(2, log_std=-30.0)
    theta = {k: v[:1].expand_as(v) for k, v in theta.items()}               # same policy for both tasks
    episodes = sampler.sample(theta, [0.0, 2.0], 1, seed=0)
    assert torch.equal(episodes.obs[0], episodes.obs[1])                      # same physics …
    assert not torch.equal(episodes.rewards[0], episodes.rewards[1])         # … different reward


def test_bad_arguments():
    with pytest.raises(ValueError, match="env_name must be one of"):
        MujocoSampler("Walker")
    with pytest.raises(ValueError, match="workers must be an integer"):
        MujocoSampler("HalfCheetahDir", workers=0)


# ---- the Ant: episodes as rows of MuJoCo state (AntBatch), gymnasium's `step` bit for bit ----

TIGHT = {"healthy_z_range": (0.5, 1.0)}      # the Ant is unhealthy below 0.5 m: random actions fell it in 15–80 steps


@pytest.mark.parametrize("cls,tasks,settings", [
    (AntVel, [0.5, 2.5, 1.0, 0.5], {}), (AntDir, [1.0, -1.0, 1.0, -1.0], {}),
    (AntVel, [0.3, 1.0, 2.0, 2.9, 0.1, 1.5], TIGHT), (AntDir, [1.0, -1.0, -1.0, 1.0, 1.0, -1.0], TIGHT)],
    ids=["vel", "dir", "vel-falls", "dir-falls"])
def test_ant_batch_is_gymnasiums_step_bit_for_bit(cls, tasks, settings):
    """Observations (105-D, with the clipped contact forces), rewards (float64) and terminations of every
    episode are those of gymnasium's own `step` — warm start and all —, also where two episodes share a
    start; once an episode has ended it stays ended, keeps its last observation and gets reward 0."""
    seeds = [0, 1, 0, 7, 3, 4][:len(tasks)]
    batch = AntBatch(cls(**settings), tasks, seeds)
    envs = [cls(task=t, **settings) for t in tasks]
    np.testing.assert_array_equal(batch.observations(), [env.reset(seed=s)[0] for env, s in zip(envs, seeds)])
    rng = np.random.default_rng(0)
    ended = np.full(len(tasks), -1)
    for t in range(90):
        actions = rng.uniform(-1.0, 1.0, size=(len(tasks), 8))
        obs, rewards, terminated = batch.step(actions)
        assert obs.shape == (len(tasks), 105) and obs.dtype == rewards.dtype == np.float64
        for k, env in enumerate(envs):
            if ended[k] >= 0:                                   # ended: not stepped, masked by the sampler
                assert rewards[k] == 0.0 and terminated[k]
                np.testing.assert_array_equal(obs[k], last[k])
                continue
            o, r, term, _, _ = env.step(actions[k])
            np.testing.assert_array_equal(obs[k], o)
            assert rewards[k] == r and terminated[k] == term
            if term:
                ended[k] = t
        last = obs.copy()
    if settings:                                                # some fell at different times, some did not
        assert len(set(ended[ended >= 0])) >= 3 and (ended < 0).any()
    else:
        assert (ended < 0).all()
    assert not np.array_equal(obs[0], obs[2])                   # same start, other actions: apart


def test_episode_batch_gives_the_sampler_ant_rows():
    pool = []
    batch = episode_batch("AntDir", [1.0, -1.0, 1.0], [0, 1, 2], pool, rows=True)
    assert isinstance(batch, AntBatch) and len(pool) == 1 and batch.observations().shape == (3, 105)


@pytest.mark.parametrize("name,tasks", [("AntVel", [0.5, 2.5]), ("AntDir", [-1.0, 1.0])])
def test_ant_episodes_replay_in_gymnasium_and_are_masked_after_the_fall(name, tasks, monkeypatch):
    """The sampler's Ant episodes (AntBatch in the workers) are what gymnasium does with their actions,
    bit for bit up to the float32 the episodes are stored in (σ = 0, so that the float32 actions are the
    ones the env got); an episode that ends (the Ant fell: here below 0.5 m) has mask 1 up to and
    including the step where gymnasium says `terminated`, then 0 and reward 0, as `sample_episodes`
    masks the torch envs."""
    base = LOCOMOTION_ENVS[name]
    tight = type(name, (base,), {"__init__": lambda self, task=None, **kw: base.__init__(self, task, **TIGHT, **kw)})
    monkeypatch.setitem(LOCOMOTION_ENVS, name, tight)            # the workers fork with it
    torch.manual_seed(0)
    theta = batched(parameters_of(GaussianPolicy(105, 8, hidden=(8, 8))), len(tasks))
    theta["mean.net.4.weight"] = theta["mean.net.4.weight"] * 10.0   # a jerky deterministic policy
    theta["log_std"] = torch.full_like(theta["log_std"], -float("inf"))
    with MujocoSampler(name, workers=2, horizon=90) as sampler:
        episodes = sampler.sample(theta, tasks, 3, seed=2, max_action=1.0)
    assert episodes.obs.shape == (2, 3, 90, 105) and episodes.actions.shape == (2, 3, 90, 8)
    lengths = []
    for i, task in enumerate(tasks):
        for j in range(3):
            env = tight(task=task)
            obs, rewards = [env.reset(seed=2 * 10_007 + j)[0]], []
            for a in episodes.actions[i, j]:
                o, r, terminated, _, _ = env.step(np.clip(a.double().numpy(), -1.0, 1.0))
                obs.append(o), rewards.append(r)
                if terminated:
                    break
            n = len(rewards)
            lengths.append(n)
            np.testing.assert_array_equal(episodes.mask[i, j].numpy(), np.arange(90) < n)
            np.testing.assert_array_equal(episodes.obs[i, j, :n].numpy(), np.float32(obs[:n]))
            np.testing.assert_array_equal(episodes.rewards[i, j, :n].numpy(), np.float32(rewards))
            assert not episodes.rewards[i, j, n:].any()
    assert min(lengths) < 90 and len(set(lengths)) >= 3                # falls at different times
