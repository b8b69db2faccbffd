"""Meta-RL training: every algorithm runs, seeding, exact resume, divergence handling, config checks,
a real learning check, and the evaluation helpers."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import course_lib.rl.train as rl_train
from course_lib.checkpoints import load_checkpoint
from course_lib.functional import parameters_of
from course_lib.meta import CONTEXT
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.evaluate import (PAPER_TEST_DRAWS, adaptation_returns, held_out_tasks, paper_test_tasks,
                                     reference_returns, reproduction_tasks)
from course_lib.rl.losses import reinforce_loss
from course_lib.rl.tasks import with_advantages
from course_lib.rl.config import ALGOS, RLConfig, build_policy, default_rl_config, initial_params, load_policy
from course_lib.rl.train import train_rl
from course_lib.runs import TrainingDiverged

ENVS = ("navigation2d", "point_velocity")
TINY = dict(meta_batch=3, episodes=2, hidden=(8, 8))


def tiny(env="navigation2d", algo="maml", **overrides):
    return default_rl_config(env, algo, **{**TINY, **overrides})


def same_theta(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def strip_wall_time(history):
    return [{k: v for k, v in h.items() if k != "wall_time"} for h in history]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_runs_on_every_env(env, algo, tmp_path):
    iterations = {} if algo == "random" else dict(iterations=2)       # "random" is the untrained init
    config = tiny(env, algo, checkpoint_every=1, **iterations)
    path = tmp_path / f"{env}_{algo}.pt"
    ckpt = train_rl(config, out=path, progress=False)
    assert ckpt["iteration"] == config.iterations
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert [h["iteration"] for h in ckpt["history"]] == list(range(1, config.iterations + 1))
    for h in ckpt["history"]:
        assert all(math.isfinite(v) for v in h.values())
        if algo != "reptile":
            assert {"return_before", "return_after", "loss", "kl"} <= set(h)
            if config.steps == 0:                                    # no adaptation: post = pre
                assert h["return_after"] == h["return_before"]
            assert h["kl"] <= config.max_kl
    init = train_rl(replace(config, iterations=0), progress=False)
    trainable = [k for k in init["theta"] if k != CONTEXT]
    moved = any(not torch.equal(init["theta"][k], ckpt["theta"][k]) for k in trainable)
    assert moved == (config.iterations > 0)
    if algo == "cavia":                                              # the context is per task, not learned
        assert torch.equal(init["theta"][CONTEXT], ckpt["theta"][CONTEXT])
    # a weights-only checkpoint from which the policy and config come back
    on_disk = torch.load(path, map_location="cpu", weights_only=True)
    assert same_theta(on_disk["theta"], ckpt["theta"])
    policy, theta, loaded = load_policy(path)
    assert loaded == config and same_theta(theta, ckpt["theta"])
    assert set(theta) == set(dict(policy.named_parameters()))
    assert policy.obs_dim == config_obs_dim(env, algo)


def config_task_dim(env):
    return {"navigation2d": 2, "point_velocity": 1}[env]


def config_obs_dim(env, algo):
    obs, task = {"navigation2d": (2, 2), "point_velocity": (1, 1)}[env]
    return obs + task if algo == "oracle" else obs                   # the oracle also sees the task


def test_same_seed_same_theta_and_different_seed_differs():
    a = train_rl(tiny(iterations=3, seed=4), progress=False)
    b = train_rl(tiny(iterations=3, seed=4), progress=False)
    c = train_rl(tiny(iterations=3, seed=5), progress=False)
    assert same_theta(a["theta"], b["theta"])
    assert strip_wall_time(a["history"]) == strip_wall_time(b["history"])
    assert not any(torch.equal(a["theta"][k], c["theta"][k]) for k in a["theta"] if k != "log_std")
    assert strip_wall_time(a["history"]) != strip_wall_time(c["history"])


def test_the_curvature_by_r_operator_or_autograd_gives_the_same_training(monkeypatch):
    """The same TRPO step up to float32 rounding (the products agree to ~1e-6, test_rl_curvature.py).

    Ten conjugate-gradient iterations amplify that rounding by F's conditioning: the steps differ by
    4e-5 of their length with MKL's AVX2 kernels and 4e-4 with its SSE2 (COMPATIBLE) branch on one
    thread, and by up to 1% in the smallest parameter (the last layer's bias), so the test compares
    whole steps, with a tolerance ten times the worst measured."""
    start = train_rl(tiny(iterations=0, seed=4), progress=False)["theta"]
    a = train_rl(tiny(iterations=1, seed=4), progress=False)
    real = rl_train.meta_kl_curvature
    monkeypatch.setattr(rl_train, "meta_kl_curvature", lambda *args: real(*args, method="autograd"))
    b = train_rl(tiny(iterations=1, seed=4), progress=False)
    for k in a["theta"]:
        assert float((a["theta"][k] - start[k]).norm()) > 1e-4, k            # every parameter moved
    step_a = torch.cat([(a["theta"][k] - start[k]).ravel() for k in a["theta"]])
    step_b = torch.cat([(b["theta"][k] - start[k]).ravel() for k in a["theta"]])
    assert float((step_a - step_b).norm() / step_a.norm()) < 5e-3
    assert a["history"][0]["accepted"] == b["history"][0]["accepted"] == 1


@pytest.mark.parametrize("env,algo,extra", [("navigation2d", "maml", {}), ("point_velocity", "reptile", {}),
                                            ("navigation2d", "cavia", dict(fisher_tasks=2))])
def test_resume_is_exact(tmp_path, env, algo, extra):
    """10 iterations straight == 5, stop, resume to 10: θ, Adam state (Reptile), RNG streams, history."""
    config = tiny(env, algo, iterations=10, checkpoint_every=5, **extra)
    straight = train_rl(config, out=tmp_path / "straight.pt", progress=False)
    path = tmp_path / "resumed.pt"
    first = train_rl(replace(config, iterations=5), out=path, progress=False)
    assert first["iteration"] == 5 and load_checkpoint(path)["iteration"] == 5
    resumed = train_rl(replace(config, checkpoint_every=2), out=path, resume=True, progress=False)  # may differ
    assert resumed["iteration"] == 10
    assert same_theta(resumed["theta"], straight["theta"])
    assert strip_wall_time(resumed["history"]) == strip_wall_time(straight["history"])
    assert len((tmp_path / "resumed.csv").read_text().strip().splitlines()) == 1 + 10
    # …and a different settings is refused
    with pytest.raises(ValueError, match="different settings"):
        train_rl(replace(config, iterations=12, max_kl=0.02), out=path, resume=True, progress=False)


def poison_sampler(monkeypatch, call_index):
    """Make the `call_index`-th (0-based) call of the trainer's sampler return a NaN reward."""
    real = rl_train.sample_episodes
    calls = {"n": 0}

    def patched(policy, params, env, generator=None):
        episodes = real(policy, params, env, generator)
        if calls["n"] == call_index:
            rewards = episodes.rewards.clone()
            rewards[1, 0, 3] = float("nan")
            episodes = episodes.with_(rewards=rewards)
        calls["n"] += 1
        return episodes

    monkeypatch.setattr(rl_train, "sample_episodes", patched)


# sampler calls per iteration: pre- and post-update episodes (MAML, CAVIA), only one set without adaptation
# (pretrain), one per inner step (Reptile, 3 steps)
@pytest.mark.parametrize("algo,calls_per_iteration,which", [
    ("maml", 2, 1), ("maml", 2, 0), ("cavia", 2, 0), ("pretrain", 1, 0), ("reptile", 3, 2), ("reptile", 3, 0)])
def test_nan_rewards_stop_training_and_keep_the_last_checkpoint(tmp_path, monkeypatch, algo, calls_per_iteration,
                                                                which):
    """`which` picks the poisoned set within iteration 3: 0 = the pre-update (support) episodes, whose NaN
    reaches the meta-loss through the adapted policy; 1 = the post-update (query) episodes."""
    path = tmp_path / "run.pt"
    poison_sampler(monkeypatch, 3 * calls_per_iteration + which)
    config = tiny("navigation2d", algo, iterations=6, checkpoint_every=2)
    with pytest.raises(TrainingDiverged, match=r"at iteration 3; .*the last good checkpoint \(.*run\.pt, iteration 2\) is intact"):
        train_rl(config, out=path, progress=False)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 2 and [h["iteration"] for h in ckpt["history"]] == [1, 2]
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    clean = train_rl(replace(config, iterations=2), progress=False)     # the intact state is a clean run's
    assert same_theta(ckpt["theta"], clean["theta"])


def test_nan_without_a_checkpoint_says_so(tmp_path, monkeypatch):
    poison_sampler(monkeypatch, 2)                                   # iteration 1's pre-update episodes
    with pytest.raises(TrainingDiverged, match="at iteration 1; .*no checkpoint was written"):
        train_rl(tiny(iterations=3), progress=False)
    monkeypatch.undo()
    poison_sampler(monkeypatch, 2)
    with pytest.raises(TrainingDiverged, match="at iteration 1; .*no checkpoint was written"):
        train_rl(tiny(iterations=3, checkpoint_every=2), out=tmp_path / "run.pt", progress=False)
    assert not (tmp_path / "run.pt").exists()


def test_bad_configs_are_rejected_by_name():
    for kwargs, message in [
        (dict(env="cartpole"), r"env must be one of \('navigation2d', 'point_velocity', 'halfcheetah_vel'"),
        (dict(algo="ppo"), "algo must be one of"),
        (dict(meta_batch=0), r"meta_batch must be an integer in \[1, inf\)"),
        (dict(episodes=0), "episodes must be an integer"),
        (dict(gamma=1.5), r"gamma must be a number in \[0.0, 1.0\]"),
        (dict(gae_lambda=-0.1), "gae_lambda must be"),
        (dict(alpha=0.0), "alpha must be a finite number"),
        (dict(max_kl=float("nan")), "max_kl must be"),
        (dict(meta_optimizer="sgd"), "meta_optimizer must be 'trpo' or 'adam'"),
        (dict(hvp="fisher"), r"hvp must be one of \('chain_rule', 'exact'\)"),
        (dict(algo="cavia"), r"context_dim must be an integer in \[1, inf\) for algo='cavia'"),
        (dict(algo="reptile"), "meta_optimizer must be 'adam' for algo='reptile'"),
        (dict(algo="reptile", meta_optimizer="trpo", steps=3), "meta_optimizer must be 'adam'"),
    ]:
        with pytest.raises(ValueError, match=message):
            RLConfig(**kwargs)
    # the per-algorithm defaults make the same algorithms valid
    assert default_rl_config("navigation2d", "cavia").context_dim == 2
    assert default_rl_config("navigation2d", "reptile").meta_optimizer == "adam"
    assert default_rl_config("point_velocity", "maml", meta_batch=7).meta_batch == 7


def test_maml_learns_on_point_velocity():
    """15 MAML-TRPO iterations lift the post-adaptation return on held-out targets a lot.

    Settings: 20 tasks × 5 episodes per iteration (more tasks rather than more episodes: the
    meta-gradient's noise comes mostly from the task mix) with a 2×16 policy and the paper's α = 0.1,
    δ = 0.01. Over seeds 0–5 this took the held-out one-step-adapted return from −117…−165 to
    −32…−40 (a larger δ = 0.03 was faster on some seeds but diverged on others). The thresholds below
    leave a wide margin: half the initial post-adaptation cost, and an adaptation gain of 30.
    """
    config = default_rl_config("point_velocity", "maml", iterations=15, meta_batch=20, episodes=5,
                               hidden=(16, 16), checkpoint_every=100, seed=0)
    init = train_rl(replace(config, iterations=0), progress=False)
    trained = train_rl(config, progress=False)
    # with the Fisher estimated on 5 of the 20 tasks (the default) a line search may occasionally
    # reject its step (θ is then kept); nearly all must be accepted
    assert sum(h["accepted"] for h in trained["history"]) >= 12
    tasks = held_out_tasks("point_velocity", 10)
    policy = build_policy(config)
    before = adaptation_returns(policy, init["theta"], config, tasks, steps=1, episodes=5).mean(1)
    after = adaptation_returns(policy, trained["theta"], config, tasks, steps=1, episodes=5).mean(1)
    assert after[1] > 0.5 * before[1], (before, after)            # returns are negative: cost halved
    assert after[1] > after[0] + 30, after                        # and one policy-gradient step helps a lot
    history = [h["return_after"] for h in trained["history"]]
    assert np.mean(history[-3:]) > np.mean(history[:3]) + 30


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("algo", ["maml", "cavia", "oracle"])
def test_adaptation_returns_shape_and_step_zero(env, algo):
    config = tiny(env, algo)
    policy = build_policy(config)
    torch.manual_seed(0)
    theta = parameters_of(policy)
    tasks = held_out_tasks(env, 4)
    returns = adaptation_returns(policy, theta, config, tasks, steps=2, episodes=3, seed=5)
    assert returns.shape == (3, 4) and torch.isfinite(returns).all()
    assert torch.equal(returns, adaptation_returns(policy, theta, config, tasks, steps=2, episodes=3, seed=5))
    # recomputed by hand with the same random stream: step 0 is the unadapted policy's mean return, step 1
    # that of θ − α ∇L^REINFORCE(θ) on step 0's episodes (only the context for CAVIA)
    env_ = make_batched_env(env, tasks, 3, oracle=algo == "oracle")
    if algo == "oracle":                                          # the oracle sees the task in every observation
        obs = env_.reset()
        torch.testing.assert_close(obs[..., -config_task_dim(env):], torch.as_tensor(tasks).reshape(4, 1, -1).expand(
            4, 3, -1))
    generator = torch.Generator().manual_seed(5)
    params = initial_params(theta, 4, config)
    episodes = sample_episodes(policy, params, env_, generator)
    torch.testing.assert_close(returns[0], episodes.total_return().mean(1))
    fast = [CONTEXT] if algo == "cavia" else [k for k in params if k != CONTEXT]
    leaves = {k: params[k].detach().clone().requires_grad_(True) for k in fast}
    loss = reinforce_loss(policy, {**params, **leaves}, with_advantages(episodes, config.gamma, config.gae_lambda))
    grads = torch.autograd.grad(loss.sum(), list(leaves.values()))
    adapted = {**params, **{k: (leaves[k] - config.alpha * g).detach() for k, g in zip(fast, grads)}}
    episodes = sample_episodes(policy, adapted, env_, generator)
    torch.testing.assert_close(returns[1], episodes.total_return().mean(1))


def test_held_out_tasks_are_fixed_and_checked():
    a, b = held_out_tasks("navigation2d", 5), held_out_tasks("navigation2d", 5)
    assert a.shape == (5, 2) and np.array_equal(a, b)
    assert held_out_tasks("point_velocity", 3).shape == (3,)
    with pytest.raises(ValueError, match="n_tasks must be an integer"):
        held_out_tasks("navigation2d", 0)


def _step0(env, method):
    return np.asarray(reference_returns(env)[method][0], dtype=np.float64)


def _direction_gap(tasks, returns):
    """Mean return on the forward tasks minus on the backward ones."""
    return returns[tasks > 0].mean() - returns[tasks < 0].mean()


def test_paper_test_tasks_are_the_reference_datas_tasks():
    """The reference's per-task returns follow the regenerated tasks: returns fall with the goal's
    distance or speed, and a policy that drifts forwards scores better on the forward tasks. Our own
    draw (seed 2017) shows none of it, so each check can fail."""
    goals = {env: paper_test_tasks(env) for env in PAPER_TEST_DRAWS}
    ours = {env: held_out_tasks(env, 40) for env in PAPER_TEST_DRAWS}
    paper_d, our_d = np.linalg.norm(goals["navigation2d"], axis=1), np.linalg.norm(ours["navigation2d"], axis=1)
    pre = _step0("navigation2d", "maml")           # before adaptation: −Σ‖x − g‖ grows with ‖g‖
    assert np.corrcoef(paper_d, pre)[0, 1] < -0.99 and abs(np.corrcoef(our_d, pre)[0, 1]) < 0.5
    for env in ("halfcheetah_vel", "ant_vel"):      # an untrained policy barely moves: −|v − v*| ≈ −v*
        r = _step0(env, "random_init")
        assert np.corrcoef(goals[env], r)[0, 1] < -0.99 and abs(np.corrcoef(ours[env], r)[0, 1]) < 0.5
    for env in ("halfcheetah_dir", "ant_dir"):      # the pretrained policy runs forwards a little
        r = _step0(env, "pretrained")
        assert _direction_gap(goals[env], r) > 50 and abs(_direction_gap(ours[env], r)) < 50
    assert _direction_gap(np.where(np.random.RandomState(1).uniform(0, 3, 40) < 1.5, -1, 1),
                          _step0("ant_dir", "pretrained")) < 50   # the Ant directions' seed is 2, not 1


def test_paper_test_tasks_shapes_and_checks():
    for env, (_, low, high, shape, directions) in PAPER_TEST_DRAWS.items():
        tasks = paper_test_tasks(env)
        assert tasks.shape == (40, *shape) and np.array_equal(tasks, paper_test_tasks(env))
        assert np.array_equal(paper_test_tasks(env, 5), tasks[:5])
        assert set(np.unique(tasks)) == {-1.0, 1.0} if directions else (tasks.min() >= low and tasks.max() <= high)
        assert np.array_equal(reproduction_tasks(env), tasks)
    assert np.array_equal(reproduction_tasks("point_velocity", 3), held_out_tasks("point_velocity", 3))
    assert np.array_equal(reproduction_tasks("navigation2d", 3, source=5), held_out_tasks("navigation2d", 3, seed=5))
    with pytest.raises(ValueError, match="env"):
        paper_test_tasks("point_velocity")
    with pytest.raises(ValueError, match="n_tasks"):
        paper_test_tasks("navigation2d", 41)
    with pytest.raises(ValueError, match="source"):
        reproduction_tasks("navigation2d", source="mine")


def test_reference_returns_navigation():
    ref = reference_returns("navigation2d")
    assert "maml" in ref and len(ref["maml"]) == 5 and all(len(row) == 40 for row in ref["maml"])
    assert all(math.isfinite(v) and v < 0 for row in ref["maml"] for v in row)   # rewards are −distances
    assert np.mean(ref["maml"][-1]) > np.mean(ref["maml"][0])                    # adaptation helped in the paper
    assert reference_returns("no_such_env") == {}


def test_a_checkpoint_must_say_every_setting_it_was_trained_with(tmp_path):
    """No back-filled defaults: a checkpoint lacking a setting (or with one this version does not know) is
    refused by name, by the loader and by --resume, before any work."""
    from course_lib.checkpoints import CheckpointError, save_checkpoint
    config = tiny("navigation2d", "maml", iterations=0)
    ckpt = train_rl(config, progress=False)
    save_checkpoint(ckpt, tmp_path / "new.pt")
    assert load_policy(tmp_path / "new.pt")[2] == config
    save_checkpoint({**ckpt, "config": {k: v for k, v in ckpt["config"].items() if k != "policy_init"}},
                    tmp_path / "old.pt")
    save_checkpoint({**ckpt, "config": {**ckpt["config"], "warp": 9}}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"old\.pt .*missing settings \['policy_init'\]"):
        load_policy(tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"odd\.pt .*unknown settings \['warp'\]"):
        load_policy(tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=r"different settings \(policy_init: None there, 'xavier' now\)"):
        train_rl(replace(config, iterations=1), out=tmp_path / "old.pt", resume=True, progress=False)


def test_policies_start_from_rllabs_xavier_init_unless_told_otherwise():
    assert default_rl_config("halfcheetah_dir").policy_init == default_rl_config("navigation2d").policy_init == "xavier"
    for init in ("torch", "xavier"):
        torch.manual_seed(0)
        policy = build_policy(default_rl_config("halfcheetah_vel", policy_init=init))
        first, last = policy.mean.net[0], policy.mean.net[-1]          # 17 → 100, …, 100 → 6
        fan_in, fan_out = first.in_features, first.out_features
        bound = math.sqrt(6 / (fan_in + fan_out)) if init == "xavier" else 1 / math.sqrt(fan_in)
        assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.95 * bound
        assert torch.allclose(first.weight.std(), torch.tensor(bound / math.sqrt(3)), rtol=0.05)
        assert (last.bias == 0).all() == (init == "xavier")
    with pytest.raises(ValueError, match="policy_init must be one of"):
        RLConfig(policy_init="he")


def test_the_command_line_sets_the_trust_region_for_rl_only(tmp_path, capsys):
    from course_lib.__main__ import main

    out = tmp_path / "nav.pt"
    assert main(["train", "navigation2d", "--iterations", "0", "--max-kl", "0.02", "--out", str(out)]) == 0
    assert load_checkpoint(out)["config"]["max_kl"] == 0.02
    with pytest.raises(SystemExit):
        main(["train", "sinusoid", "--iterations", "0", "--max-kl", "0.02", "--out", str(tmp_path / "s.pt")])
    assert "--max-kl" in capsys.readouterr().err


def test_the_command_line_sets_the_policy_init_for_rl_only(tmp_path, capsys):
    from course_lib.__main__ import main

    out = tmp_path / "nav.pt"
    assert main(["train", "navigation2d", "--iterations", "0", "--policy-init", "torch", "--out", str(out)]) == 0
    assert load_checkpoint(out)["config"]["policy_init"] == "torch"              # the default is xavier
    with pytest.raises(SystemExit):
        main(["train", "sinusoid", "--iterations", "0", "--policy-init", "xavier", "--out", str(tmp_path / "s.pt")])
    assert "--policy-init" in capsys.readouterr().err


def test_a_trpo_iteration_labels_its_phases_for_the_profiler():
    """bench/rl_speed.py --profile reads these record_function labels; each phase runs in every iteration."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_rl(tiny(iterations=2), progress=False)
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts.get("sampling") == 2 and counts.get("meta_gradient") == 2
    assert counts.get("conjugate_gradient", 0) >= 2 and counts.get("line_search", 0) >= 2
