"""MuJoCo tasks in the meta-RL trainer: make_batched_env → worker pool, oracle observations, clipped actions."""
import numpy as np
import pytest
import torch

from course_lib.functional import batched, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.mujoco_sampler import MujocoSampler, MujocoTaskBatch
from course_lib.rl.config import default_rl_config
from course_lib.rl.train import train_rl
from course_lib.tasks.locomotion import AntVel, HalfCheetahDir


def policy_params(n_tasks, obs_dim=17, bias=0.0, log_std=0.0):
    torch.manual_seed(0)
    policy = GaussianPolicy(obs_dim, 6, hidden=(8, 8))
    theta = batched(parameters_of(policy), n_tasks)
    theta["mean.net.4.bias"] = torch.full_like(theta["mean.net.4.bias"], bias)
    theta["log_std"] = torch.full_like(theta["log_std"], log_std)
    return policy, theta


def test_make_batched_env_samples_in_the_worker_pool():
    env = make_batched_env("halfcheetah_dir", np.array([-1.0, 1.0]), 3)
    assert isinstance(env, MujocoTaskBatch) and env.n_tasks == 2 and env.horizon == 200
    policy, theta = policy_params(2)
    episodes = sample_episodes(policy, theta, env, torch.Generator().manual_seed(1))
    assert episodes.obs.shape == (2, 3, 200, 17) and episodes.actions.shape == (2, 3, 200, 6)
    again = sample_episodes(policy, theta, env, torch.Generator().manual_seed(1))
    assert torch.equal(episodes.rewards, again.rewards)                     # the seed comes from the generator


def test_the_oracle_sees_its_task():
    tasks = np.array([0.25, 1.75])
    env = make_batched_env("halfcheetah_vel", tasks, 2, oracle=True)
    policy, theta = policy_params(2, obs_dim=18)
    episodes = sample_episodes(policy, theta, env, torch.Generator().manual_seed(0))
    assert episodes.obs.shape[-1] == 18
    expected = torch.tensor(tasks, dtype=torch.float32).view(2, 1, 1).expand(2, 2, 200)
    assert torch.equal(episodes.obs[..., -1], expected)


def test_the_env_gets_clipped_actions_and_the_episode_keeps_the_policys():
    _, theta = policy_params(1, bias=3.0, log_std=-1.0)                        # actions far outside [−1, 1]
    with MujocoSampler("HalfCheetahDir", workers=1, horizon=20) as sampler:
        episodes = sampler.sample(theta, [1.0], 1, seed=3, max_action=1.0)
    assert episodes.actions.abs().max() > 2.0
    env = HalfCheetahDir(task=1.0)
    env.reset(seed=3 * 10_007)
    rewards = [env.step(np.clip(a.double().numpy(), -1.0, 1.0))[1] for a in episodes.actions[0, 0]]
    np.testing.assert_allclose(episodes.rewards[0, 0].numpy(), rewards, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("env_cls,tasks", [(HalfCheetahDir, [1.0, -1.0, 1.0]), (AntVel, [0.5, 2.5])])
def test_the_samplers_episodes_replay_in_gymnasium(env_cls, tasks):
    """Every sampled episode is what gymnasium's own env does with its actions, from the sampler's start
    (episode j of every task resets with seed 10_007·seed + j): same observations, same rewards, up to
    the float32 in which the episodes store the actions."""
    space = env_cls()
    torch.manual_seed(0)
    policy = GaussianPolicy(space.observation_space.shape[0], space.action_space.shape[0], hidden=(8, 8))
    theta = batched(parameters_of(policy), len(tasks))
    with MujocoSampler(env_cls.__name__, workers=2, horizon=25) as sampler:
        episodes = sampler.sample(theta, tasks, 2, seed=4, max_action=1.0)
    for i, task in enumerate(tasks):
        for j in range(2):
            env = env_cls(task=task)
            obs = [env.reset(seed=4 * 10_007 + j)[0]]
            rewards = []
            for a in episodes.actions[i, j]:
                o, r, terminated, _, _ = env.step(np.clip(a.double().numpy(), -1.0, 1.0))
                obs.append(o), rewards.append(r)
            np.testing.assert_allclose(episodes.obs[i, j].numpy(), obs[:-1], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(episodes.rewards[i, j].numpy(), rewards, rtol=1e-5, atol=1e-5)


def test_training_on_halfcheetah_is_seeded():
    config = default_rl_config("halfcheetah_dir", "maml", iterations=1, meta_batch=2, episodes=2, hidden=(8, 8))
    assert default_rl_config("halfcheetah_vel").meta_batch == 40                 # the paper's meta-batch
    a, b = (train_rl(config, progress=False) for _ in range(2))
    assert a["history"][0]["return_before"] == b["history"][0]["return_before"]
    for k in a["theta"]:
        assert torch.equal(a["theta"][k], b["theta"][k])
    assert not torch.equal(a["theta"]["mean.net.0.weight"], train_rl(default_rl_config(
        "halfcheetah_dir", "maml", iterations=0, hidden=(8, 8)), progress=False)["theta"]["mean.net.0.weight"])


def test_cavia_is_refused_on_mujoco():
    with pytest.raises(ValueError, match="algo 'cavia' is available for navigation2d"):
        default_rl_config("ant_dir", "cavia")


def test_an_ant_meta_iteration_runs():
    assert default_rl_config("ant_dir").episodes == 40 and default_rl_config("ant_vel").episodes == 20
    config = default_rl_config("ant_vel", "maml", iterations=1, meta_batch=2, episodes=2, hidden=(8, 8))
    ckpt = train_rl(config, progress=False)
    assert ckpt["iteration"] == 1 and np.isfinite(ckpt["history"][0]["return_after"])
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert ckpt["theta"]["mean.net.0.weight"].shape == (8, 105)       # Ant v5: 105-D observations


def test_mujoco_training_resumes_exactly(tmp_path):
    """2 iterations straight == 1, stop, resume to 2 (θ, RNG streams and so the workers' seeds, history)."""
    config = default_rl_config("halfcheetah_vel", "maml", iterations=2, meta_batch=2, episodes=2, hidden=(8, 8),
                               checkpoint_every=1)
    straight = train_rl(config, out=tmp_path / "straight.pt", progress=False)
    train_rl(default_rl_config("halfcheetah_vel", "maml", iterations=1, meta_batch=2, episodes=2, hidden=(8, 8),
                               checkpoint_every=1), out=tmp_path / "resumed.pt", progress=False)
    resumed = train_rl(config, out=tmp_path / "resumed.pt", resume=True, progress=False)
    for k in straight["theta"]:
        assert torch.equal(straight["theta"][k], resumed["theta"][k])
    drop = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]
    assert drop(straight["history"]) == drop(resumed["history"])
