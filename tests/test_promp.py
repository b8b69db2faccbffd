"""ProMP's meta-optimizer (course_lib/rl/promp.py, issue 22 item 3): the clipped objective against TRPO's
surrogate at θ_old, what the clip does to the gradient, the adaptive KL coefficient, training (every
algorithm and estimator, learning on navigation2d, exact resume, divergence), settings, command line and
the shipped checkpoints."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import course_lib.rl.train as rl_train
from course_lib.checkpoints import load_checkpoint
from course_lib.functional import parameters_of
from course_lib.meta import CONTEXT, shared
from course_lib.rl.config import RLConfig, build_policy, default_rl_config, initial_params, load_policy
from course_lib.rl.envs import ENVS, make_batched_env
from course_lib.rl.evaluate import adaptation_returns, held_out_tasks
from course_lib.rl.promp import adapt_kl_coef, clipped_surrogate, promp_objective
from course_lib.rl.tasks import SamplingPolicy
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.runs import TrainingDiverged

TINY = dict(meta_batch=3, episodes=2, hidden=(8, 8), meta_optimizer="promp")


def tiny(algo="maml", **overrides):
    return default_rl_config("navigation2d", algo, **{**TINY, **overrides})


def same_theta(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def strip_wall_time(history):
    return [{k: v for k, v in h.items() if k != "wall_time"} for h in history]


def a_batch(config, seed=0):
    """θ_o and one sampled meta-batch (pre- and post-update episodes), as train_rl makes them."""
    torch.manual_seed(seed)
    policy = build_policy(config)
    theta = parameters_of(policy)
    tasks = ENVS[config.env].distribution.sample_tasks(config.meta_batch, np.random.default_rng(seed))
    env = make_batched_env(config.env, tasks, config.episodes)
    batch = sample_meta_batch(policy, theta, env, config, torch.Generator().manual_seed(seed))
    return theta, batch, SamplingPolicy.of(policy, initial_params(theta, batch.n_tasks, config), batch.support)


@pytest.mark.parametrize("algo,estimator", [("maml", "paper"), ("maml", "lvc"), ("maml", "dice"),
                                            ("fomaml", "paper"), ("cavia", "paper")])
def test_at_theta_old_the_objective_and_its_gradient_are_trpos_surrogate(algo, estimator):
    """r = 1 on every post-update step at θ = θ_o: the clip is inactive, so the clipped objective is the
    paper's surrogate (or the estimator's), value and gradient; the KL penalty's gradient vanishes there."""
    config = tiny(algo, estimator=estimator, **(dict(context_dim=2, alpha=1.0) if algo == "cavia" else {}))
    theta, batch, pre_old = a_batch(config)
    trainable = list(shared(theta).values())
    loss, _ = meta_loss_and_kl(theta, batch, config)
    want = torch.autograd.grad(loss, trainable)
    for coef in (0.0, 1.0):
        parts = promp_objective(theta, batch, config, pre_old, coef)
        got = torch.autograd.grad(parts["loss"], trainable)
        torch.testing.assert_close(parts["clipped"], loss, rtol=1e-6, atol=1e-7)
        assert float(parts["inner_kl"].detach()) < 1e-10 and float(parts["outer_kl"].detach()) < 1e-10
        assert any(float(g.abs().max()) > 1e-4 for g in want)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7)


def test_away_from_theta_old_the_penalty_is_the_pre_update_kl():
    """loss = clipped + η · KL(π_θo ‖ π_θ) on the pre-update episodes; both KLs grow as θ moves away."""
    config = tiny(estimator="lvc")
    theta, batch, pre_old = a_batch(config)
    kls = []
    for scale in (0.01, 0.03):
        torch.manual_seed(1)
        moved = {k: (v + scale * torch.randn_like(v)).detach().requires_grad_(True) for k, v in theta.items()}
        parts = {k: v.detach() for k, v in promp_objective(moved, batch, config, pre_old, 0.25).items()}
        torch.testing.assert_close(parts["loss"], parts["clipped"] + 0.25 * parts["inner_kl"])
        policy_kl = promp_objective(moved, batch, config, pre_old, 0.0)
        torch.testing.assert_close(policy_kl["loss"].detach(), parts["clipped"])
        kls.append((float(parts["inner_kl"]), float(parts["outer_kl"])))
    assert 0 < kls[0][0] < kls[1][0] and 0 < kls[0][1] < kls[1][1]


def test_the_clip_stops_the_gradient_only_where_it_would_push_the_ratio_further_out():
    eps = 0.3
    r = torch.tensor([1.5, 0.5, 1.5, 0.5, 1.1, 0.8, 1.3])
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0, -2.0, 0.5])
    log_ratio = r.log().view(1, 1, -1).requires_grad_(True)
    loss = clipped_surrogate(log_ratio, adv.view(1, 1, -1), torch.ones(1, 1, len(r)), eps)
    expected = -torch.minimum(r * adv, r.clamp(1 - eps, 1 + eps) * adv).mean()
    torch.testing.assert_close(loss, expected.view(1))
    (grad,) = torch.autograd.grad(loss.sum(), log_ratio)
    grad = grad.view(-1)
    # r > 1 + ε with Â > 0 and r < 1 − ε with Â < 0: the objective would rise by moving r further out: no gradient
    assert grad[0] == 0 and grad[1] == 0
    # out of range the other way, or inside it: the unclipped gradient, d(−r Â / n)/d log r = −r Â / n
    unclipped = -(r * adv) / len(r)
    torch.testing.assert_close(grad[2:6], unclipped[2:6])
    assert -grad[2] < 0 and -grad[3] > 0        # a descent step moves those ratios back towards [1 − ε, 1 + ε]
    assert grad[6] != 0                          # on the boundary (r = 1 + ε) the gradient is still there (a tie)


def test_the_kl_coefficient_doubles_above_and_halves_below_the_target():
    assert adapt_kl_coef(1.0, 0.016, 0.01) == 2.0
    assert adapt_kl_coef(1.0, 0.006, 0.01) == 0.5
    for kl in (0.01, 0.015, 0.01 / 1.5, 0.007):
        assert adapt_kl_coef(1.0, kl, 0.01) == 1.0, kl
    assert adapt_kl_coef(0.0, 1.0, 0.01) == 0.0    # η = 0: the penalty stays off


@pytest.mark.parametrize("target,direction", [(1e-5, 2.0), (0.01, 0.5)])
def test_training_adapts_the_kl_coefficient_from_the_pre_update_kl(tmp_path, target, direction):
    config = tiny(iterations=4, promp_kl_target=target, checkpoint_every=4)
    ckpt = train_rl(config, out=tmp_path / "p.pt", progress=False)
    coefs = [h["kl_coef"] for h in ckpt["history"]] + [ckpt["optimizer"]["kl_coef"]]
    assert coefs[0] == config.promp_kl_coef
    for h, after in zip(ckpt["history"], coefs[1:]):
        assert after == adapt_kl_coef(h["kl_coef"], h["inner_kl"], target)
    assert direction in {b / a for a, b in zip(coefs, coefs[1:])}
    assert load_checkpoint(tmp_path / "p.pt")["optimizer"]["kl_coef"] == coefs[-1]


@pytest.mark.parametrize("algo,extra", [("maml", {}), ("maml", dict(estimator="lvc")), ("maml", dict(estimator="dice")),
                                        ("fomaml", {}), ("cavia", dict(context_dim=2, alpha=1.0)), ("pretrain", {})])
def test_every_meta_gradient_trains_with_promp(tmp_path, algo, extra):
    config = tiny(algo, iterations=2, checkpoint_every=1, **extra)
    ckpt = train_rl(config, out=tmp_path / "p.pt", progress=False)
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    adam = ckpt["optimizer"]["adam"]["state"]                       # promp_steps Adam steps per meta-batch
    assert {int(s["step"]) for s in adam.values()} == {config.iterations * config.promp_steps}
    for h in ckpt["history"]:
        assert {"return_before", "return_after", "loss", "loss_after", "kl", "inner_kl", "kl_coef"} <= set(h)
        assert all(math.isfinite(v) for v in h.values())
    init = train_rl(replace(config, iterations=0), progress=False)["theta"]
    assert any(not torch.equal(init[k], ckpt["theta"][k]) for k in init if k != CONTEXT)
    if algo == "cavia":
        assert torch.equal(init[CONTEXT], ckpt["theta"][CONTEXT])
    assert load_policy(tmp_path / "p.pt")[2] == config


def test_promp_learns_on_navigation():
    """15 ProMP iterations (LVC, 10 tasks × 5 episodes, 2×16 policy, the defaults: 5 Adam steps at 10⁻³, ε = 0.3)
    lift the held-out one-step-adapted return, and every iteration's steps lower its own clipped loss.

    Over seeds 0–3 the held-out post-update return went from −89…−140 to −42…−53 (its cost fell to
    0.38–0.53 of the initial one) and the mean post-update return of the last 3 iterations beat the first 3
    by 29–66; the thresholds (cost below 0.75 of the initial, a gain of 15) leave a wide margin."""
    config = tiny(iterations=15, meta_batch=10, episodes=5, hidden=(16, 16), estimator="lvc", checkpoint_every=100,
                  seed=0)
    init, trained = train_rl(replace(config, iterations=0), progress=False), train_rl(config, progress=False)
    assert all(torch.isfinite(v).all() for v in trained["theta"].values())
    assert all(h["loss_after"] < h["loss"] for h in trained["history"])
    tasks, policy = held_out_tasks("navigation2d", 10), build_policy(config)
    before = adaptation_returns(policy, init["theta"], config, tasks, steps=1, episodes=5).mean(1)
    after = adaptation_returns(policy, trained["theta"], config, tasks, steps=1, episodes=5).mean(1)
    assert after[1] > 0.75 * before[1], (before, after)           # returns are negative: the cost fell by a quarter
    history = [h["return_after"] for h in trained["history"]]
    assert np.mean(history[-3:]) > np.mean(history[:3]) + 15, history


def test_resume_is_exact(tmp_path):
    """6 iterations straight == 3, stop, resume to 6: θ, Adam's moments, η, RNG streams, history."""
    config = tiny(iterations=6, checkpoint_every=3, estimator="lvc")
    straight = train_rl(config, out=tmp_path / "straight.pt", progress=False)
    assert len({h["kl_coef"] for h in straight["history"]}) > 1            # η moved: the resume must restore it
    path = tmp_path / "resumed.pt"
    train_rl(replace(config, iterations=3), out=path, progress=False)
    resumed = train_rl(replace(config, checkpoint_every=2), out=path, resume=True, progress=False)
    assert resumed["iteration"] == 6 and same_theta(resumed["theta"], straight["theta"])
    assert strip_wall_time(resumed["history"]) == strip_wall_time(straight["history"])
    assert resumed["optimizer"]["kl_coef"] == straight["optimizer"]["kl_coef"]
    with pytest.raises(ValueError, match=r"different settings \(promp_steps: 5 there, 3 now\)"):
        train_rl(replace(config, iterations=8, promp_steps=3), out=path, resume=True, progress=False)


def test_nan_rewards_stop_promp_and_keep_the_last_checkpoint(tmp_path, monkeypatch):
    real, calls = rl_train.sample_episodes, {"n": 0}

    def patched(policy, params, env, generator=None):
        episodes = real(policy, params, env, generator)
        if calls["n"] == 3 * 2 + 1:                       # the post-update episodes of iteration 3 (from 0)
            rewards = episodes.rewards.clone()
            rewards[1, 0, 3] = float("nan")
            episodes = episodes.with_(rewards=rewards)
        calls["n"] += 1
        return episodes

    monkeypatch.setattr(rl_train, "sample_episodes", patched)
    path = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match=r"at iteration 3; .*\(.*run\.pt, iteration 2\) is intact"):
        train_rl(tiny(iterations=6, checkpoint_every=2), out=path, progress=False)
    monkeypatch.undo()
    clean = train_rl(tiny(iterations=2), progress=False)
    assert same_theta(load_checkpoint(path)["theta"], clean["theta"])


def test_bad_promp_settings_are_rejected_by_name():
    for kwargs, message in [
        (dict(meta_optimizer="ppo"), r"meta_optimizer must be 'trpo' or 'adam' .* or 'promp'"),
        (dict(promp_steps=0), r"promp_steps must be an integer in \[1, inf\)"),
        (dict(promp_steps=2.5), "promp_steps must be an integer"),
        (dict(promp_clip=0.0), r"promp_clip must be a number in \(0, 1\), got 0.0"),
        (dict(promp_clip=1), r"promp_clip must be a number in \(0, 1\)"),
        (dict(promp_clip=float("nan")), "promp_clip must be"),
        (dict(promp_clip=True), "promp_clip must be"),
        (dict(promp_kl_coef=-1e-3), r"promp_kl_coef must be a finite number in \[0, inf\)"),
        (dict(promp_kl_coef=float("inf")), "promp_kl_coef must be a finite number"),
        (dict(promp_kl_target=0.0), r"promp_kl_target must be a finite number in \(0, inf\)"),
        (dict(algo="reptile", meta_optimizer="promp", steps=3), "meta_optimizer must be 'adam' for algo='reptile'"),
    ]:
        with pytest.raises(ValueError, match=message):
            RLConfig(**kwargs)
    assert RLConfig(promp_kl_coef=0.0).promp_kl_coef == 0.0           # no penalty is allowed
    defaults = RLConfig()
    assert (defaults.meta_optimizer, defaults.promp_steps, defaults.promp_clip) == ("trpo", 5, 0.3)
    assert (defaults.promp_kl_coef, defaults.promp_kl_target) == (5e-4, 0.01)


def test_the_command_line_selects_promp(tmp_path, capsys):
    from course_lib.__main__ import main
    out = tmp_path / "nav.pt"
    assert main(["train", "navigation2d", "--iterations", "0", "--meta-optimizer", "promp", "--promp-steps", "3",
                 "--estimator", "lvc", "--out", str(out)]) == 0
    config = load_checkpoint(out)["config"]
    assert (config["meta_optimizer"], config["promp_steps"], config["estimator"]) == ("promp", 3, "lvc")
    for args in (["navigation2d", "--promp-steps", "3"],                                   # without promp
                 ["navigation2d", "--meta-optimizer", "promp", "--promp-steps", "0"],
                 ["sinusoid", "--promp-steps", "3"]):
        with pytest.raises(SystemExit):
            main(["train", *args, "--iterations", "0", "--out", str(tmp_path / "x.pt")])
        assert "--promp-steps" in capsys.readouterr().err


def test_every_shipped_rl_checkpoint_states_the_promp_defaults():
    """The shipped checkpoints were re-saved with the new settings at their defaults (θ unchanged); they load."""
    from course_lib.checkpoints import SHIPPED, checkpoint_kind
    paths = [p for p in sorted(SHIPPED.glob("*.pt")) if checkpoint_kind(load_checkpoint(p)).startswith("rl:")]
    assert len(paths) >= 18
    for path in paths:
        config = load_policy(path)[2]
        assert config.meta_optimizer in ("trpo", "adam"), path
        assert (config.promp_steps, config.promp_clip, config.promp_kl_coef, config.promp_kl_target) == \
            (5, 0.3, 5e-4, 0.01), path
