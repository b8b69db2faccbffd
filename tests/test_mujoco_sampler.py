"""The multi-core MuJoCo sampler: shapes, seeding, the policy inside the workers is the library's policy."""
import numpy as np
import pytest
import torch

from course_lib.functional import batched, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl.episodes import action_distribution
from course_lib.rl.mujoco_sampler import MujocoSampler


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
