"""The MuJoCo sampler on Ray (RaySampler): MujocoSampler's episodes bit for bit; a killed actor is replaced
and its share resampled, the same episodes; bad arguments refused before Ray is touched; and a training
run sampled on Ray ends at the local run's θ. One local Ray for the module, one actor per core."""
import os

import pytest
import ray
import torch

from course_lib.__main__ import main
from course_lib.functional import batched, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl import mujoco_sampler
from course_lib.rl.config import default_rl_config
from course_lib.rl.envs import make_batched_env
from course_lib.rl.mujoco_sampler import MujocoSampler, shared_sampler
from course_lib.rl.ray_sampler import RaySampler
from course_lib.rl.train import train_rl

TASKS, EPISODES, SEED = [0.5, 1.5], 2, 3


@pytest.fixture(scope="module")
def pool():
    """The training's shared Ray pool for HalfCheetahVel (H = 200), on a local Ray with a CPU per core."""
    ray.init(num_cpus=os.cpu_count(), object_store_memory=100 * 2**20, include_dashboard=False, log_to_driver=False)
    try:
        yield shared_sampler("HalfCheetahVel", sampler="ray")
    finally:
        for key in [k for k in mujoco_sampler._POOLS if k[2] == "ray"]:
            mujoco_sampler._POOLS.pop(key).close()
        ray.shutdown()


@pytest.fixture(scope="module")
def theta():
    torch.manual_seed(0)
    theta = batched(parameters_of(GaussianPolicy(17, 6, hidden=(16, 16))), len(TASKS))
    return {k: v + 0.1 * torch.randn_like(v) for k, v in theta.items()}     # a different policy per task


@pytest.fixture(scope="module")
def local_episodes(pool, theta):
    with MujocoSampler("HalfCheetahVel", workers=pool.workers) as local:
        return local.sample(theta, TASKS, EPISODES, seed=SEED, max_action=1.0)


def assert_identical(a, b):
    for name in ("obs", "actions", "rewards", "mask"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_the_same_episodes_as_the_local_sampler(pool, theta, local_episodes):
    assert pool.workers == os.cpu_count() and isinstance(pool, RaySampler)
    episodes = pool.sample(theta, TASKS, EPISODES, seed=SEED, max_action=1.0)
    assert episodes.obs.shape == (2, 2, 200, 17)
    assert_identical(episodes, local_episodes)
    other = pool.sample(theta, TASKS, EPISODES, seed=SEED + 1, max_action=1.0)
    assert not torch.equal(other.rewards, local_episodes.rewards)


def test_a_killed_actor_is_replaced_and_its_share_resampled(pool, theta, local_episodes):
    killed, restarts = pool._actors[0], pool.restarts
    ray.kill(killed)
    assert_identical(pool.sample(theta, TASKS, EPISODES, seed=SEED, max_action=1.0), local_episodes)
    assert pool.restarts == restarts + 1 and pool._actors[0] is not killed


def test_an_actor_that_keeps_dying_fails_the_call_by_name(pool, theta, local_episodes, monkeypatch):
    replace = RaySampler._replace

    def replace_and_kill(self, k):
        replace(self, k)
        ray.kill(self._actors[k])
    monkeypatch.setattr(RaySampler, "_replace", replace_and_kill)
    ray.kill(pool._actors[0])
    with pytest.raises(RuntimeError, match="worker 0 died 4 times in one call"):
        pool.sample(theta, TASKS, EPISODES, seed=SEED, max_action=1.0)
    monkeypatch.undo()
    assert_identical(pool.sample(theta, TASKS, EPISODES, seed=SEED, max_action=1.0), local_episodes)


def test_actors_compute_on_one_thread(pool):
    threads = pool._actors[-1].__ray_call__.remote(lambda self: os.environ.get("OMP_NUM_THREADS"))
    assert ray.get(threads) == "1"


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="env_name must be one of"):
        RaySampler("Walker")
    with pytest.raises(ValueError, match="workers must be an integer"):
        RaySampler("HalfCheetahVel", workers=0)
    for address in ("", 6379):
        with pytest.raises(ValueError, match=r"address \(ray_address, --ray-address\) must be None"):
            RaySampler("HalfCheetahVel", address=address)
    with pytest.raises(ValueError, match="sampler must be one of"):
        make_batched_env("halfcheetah_vel", TASKS, 2, sampler="dask")
    with pytest.raises(ValueError, match="sampler 'ray' is for the MuJoCo envs"):
        make_batched_env("navigation2d", [[0.1, 0.1]], 2, sampler="ray")
    with pytest.raises(ValueError, match="ray_address is for sampler 'ray'"):
        make_batched_env("halfcheetah_vel", TASKS, 2, ray_address="auto")


def test_bad_flags_fail_before_any_work(tmp_path, capsys):
    out = tmp_path / "run.pt"
    for argv in (["train", "sinusoid", "--sampler", "ray"], ["train", "halfcheetah_vel", "--sampler", "dask"],
                 ["train", "halfcheetah_vel", "--ray-address", "auto"],
                 ["train", "point_velocity", "--sampler", "ray"]):
        with pytest.raises(SystemExit) as exit:
            main([*argv, "--iterations", "1", "--out", str(out)])
        assert exit.value.code == 2
    assert not out.exists()
    errors = capsys.readouterr().err
    assert "--sampler and --ray-address apply to RL problems only" in errors
    assert "invalid choice: 'dask'" in errors and "ray_address is for sampler 'ray'" in errors


def test_training_on_ray_gives_the_local_theta(pool, tmp_path):
    config = default_rl_config("halfcheetah_vel", "maml", iterations=2, meta_batch=2, episodes=2)
    runs = {s: train_rl(config, out=tmp_path / f"{s}.pt", progress=False, sampler=s) for s in ("local", "ray")}
    first = default_rl_config("halfcheetah_vel", "maml", iterations=0)
    untrained = train_rl(first, progress=False)["theta"]
    for k, v in runs["local"]["theta"].items():
        assert torch.equal(runs["ray"]["theta"][k], v), k
    assert any(not torch.equal(untrained[k], v) for k, v in runs["local"]["theta"].items())
    returns = lambda run: [(h["return_before"], h["return_after"]) for h in run["history"]]
    assert returns(runs["ray"]) == returns(runs["local"]) and len(returns(runs["ray"])) == 2
