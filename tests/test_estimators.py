"""MAML-RL's meta-gradient estimators against the truth (issue 22), on a tabular MDP where it is known.

On `goal_mdp(horizon=3)` (3 states × 2 actions, two goal tasks), α = 2, two pre- and two post-update
episodes per task, the exact meta-gradient ∇J and the exact expectation of every estimator come from
enumerating every trajectory (course_lib.tasks.tabular). The theory (rl/estimators.py) says:
E[dice] = ∇J; E[paper] = the through-the-step term alone, ∇J minus the pre-update score-function term;
E[lvc] between, close to ∇J (to first order in α it keeps the score term's same-time-step products).
Estimates are losses in units of a mean over valid steps: E[estimate] = −∇J / H.
"""
from __future__ import annotations

import pytest
import torch

from course_lib.functional import batched
from course_lib.rl.config import RLConfig, default_rl_config, load_policy
from course_lib.rl.envs import make_batched_env
from course_lib.rl.estimators import ESTIMATORS, magic_box, meta_surrogate, score_weight
from course_lib.rl.losses import log_prob
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.tasks import tabular as tb

H, ALPHA, N_PRE, N_POST = 3, 2.0, 2, 2


@pytest.fixture(scope="module")
def mdp():
    return tb.goal_mdp(H)


@pytest.fixture(scope="module")
def theta(mdp):
    return tb.initial_logits(mdp, seed=0)


@pytest.fixture(scope="module")
def exact(mdp, theta):
    """(∇J, the through-the-step term alone) as −∇/H, the estimators' units."""
    full = tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE)
    step = tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE, through_sampling=False)
    return -full / H, -step / H


def surrogate(estimator, steps=1):
    return lambda rows, pre, post, old: meta_surrogate(estimator, rows, tb.log_prob, pre, post, old, ALPHA, steps)


def expectation(estimator, mdp, theta, steps=1):
    return tb.expected_estimate(surrogate(estimator, steps), theta, mdp, ALPHA, N_PRE, N_POST, steps)


def wrong_dice(rows, pre, post, old):
    """DiCE with the magic box on the post-update episodes only (the pre-update sampling ignored)."""
    return meta_surrogate("paper", rows, tb.log_prob, pre, post, old, ALPHA)


def test_exact_expectations_dice_unbiased_paper_biased_by_the_score_term(mdp, theta, exact):
    full, step = exact
    score = full - step                                   # E[J(θ') ∇log p_θ(D)], in the same units
    assert score.norm() > 0.2 * full.norm()               # the missing term is not small here
    torch.testing.assert_close(expectation("dice", mdp, theta), full, rtol=0, atol=1e-12)
    paper = expectation("paper", mdp, theta)
    torch.testing.assert_close(paper, step, rtol=0, atol=1e-12)     # exactly the first term
    assert (paper - full).norm() > 0.99 * score.norm()
    # LVC: its bias is O(α²) plus the score term's cross-time-step products; on this MDP it removes
    # 86% of the paper's bias (measured), asserted: at least 70%
    lvc = expectation("lvc", mdp, theta)
    assert (lvc - full).norm() < 0.3 * (paper - full).norm()


def test_the_exact_check_fails_for_a_wrong_estimator(mdp, theta, exact):
    full, _ = exact
    wrong = tb.expected_estimate(wrong_dice, theta, mdp, ALPHA, N_PRE, N_POST)
    assert (wrong - full).norm() > 1e-3
    doubled = lambda rows, pre, post, old: meta_surrogate("dice", rows, tb.log_prob, pre, post, old, ALPHA,
                                                          weight=2 * score_weight(post))
    assert (tb.expected_estimate(doubled, theta, mdp, ALPHA, N_PRE, N_POST) - full).norm() > 1e-3


@pytest.fixture(scope="module")
def monte_carlo(mdp, theta):
    """Per-draw estimates of 200,000 sampled (task, D, D') draws, seeded: {estimator: [R, S, A]}."""
    rows, pre, post, old = tb.sample_meta_batch(theta, mdp, 200_000, N_PRE, N_POST, ALPHA,
                                                generator=torch.Generator().manual_seed(0))
    return {e: torch.autograd.grad(meta_surrogate(e, rows, tb.log_prob, pre, post, old, ALPHA).sum(),
                                   rows["logits"])[0] for e in ESTIMATORS}


def z_max(draws, target):
    """Largest |mean − target| / standard error over the 6 components."""
    mean, se = draws.mean(0), draws.std(0) / draws.shape[0] ** 0.5
    return float(((mean - target) / se).abs().max())


def test_monte_carlo_means_converge_where_the_theory_says(monte_carlo, exact):
    """With sampled episodes: DiCE's mean within 4.5 standard errors of ∇J in every component (6 of them);
    the paper's mean within 4.5 of the through-the-step term and more than 8 away from ∇J."""
    full, step = exact
    assert z_max(monte_carlo["dice"], full) < 4.5
    assert z_max(monte_carlo["paper"], step) < 4.5
    assert z_max(monte_carlo["paper"], full) > 8
    lvc_mean = monte_carlo["lvc"].mean(0)
    assert (lvc_mean - full).norm() < 0.3 * (monte_carlo["paper"].mean(0) - full).norm()
    # DiCE pays for its unbiasedness in variance (measured: 16× the paper's total variance, LVC 2.2×)
    var = {e: float(d.var(0).sum()) for e, d in monte_carlo.items()}
    assert var["dice"] > 5 * var["lvc"] and var["lvc"] < 3 * var["paper"]


def test_without_adaptation_all_three_are_the_policy_gradient(mdp, theta):
    """α = 0 (as steps = 0: inner_update refuses α = 0, and no step gives the same θ' = θ): paper and LVC
    are, draw by draw, the REINFORCE gradient of the post-update episodes; DiCE adds a score term of the
    pre-update episodes whose expectation is 0. All three expectations are −∇J_pre / H."""
    pg = torch.autograd.grad(tb.expected_return(batched(theta, mdp.n_tasks), mdp, torch.arange(mdp.n_tasks)).mean(),
                             theta["logits"])[0]
    torch.testing.assert_close(tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE, steps=0), pg, rtol=0, atol=1e-12)
    for e in ESTIMATORS:
        torch.testing.assert_close(expectation(e, mdp, theta, steps=0), -pg / H, rtol=0, atol=1e-12)
    rows, pre, post, old = tb.sample_meta_batch(theta, mdp, 64, N_PRE, N_POST, ALPHA, steps=0,
                                                generator=torch.Generator().manual_seed(1))
    grads = {e: torch.autograd.grad(meta_surrogate(e, rows, tb.log_prob, pre, post, old, ALPHA, steps=0).sum(),
                                    rows["logits"])[0] for e in ESTIMATORS}
    reinforce = torch.autograd.grad(tb.inner_loss(rows, post).sum(), rows["logits"])[0]
    torch.testing.assert_close(grads["paper"], reinforce, rtol=0, atol=1e-14)
    torch.testing.assert_close(grads["lvc"], reinforce, rtol=0, atol=1e-14)
    assert not torch.allclose(grads["dice"], reinforce)


def test_magic_box_is_one_with_the_gradient_of_its_exponent():
    w = torch.tensor([0.3, -2.0], dtype=torch.float64, requires_grad=True)
    x = magic_box((w ** 2).sum())
    assert x.item() == 1.0
    (g,) = torch.autograd.grad(x, w, create_graph=True)
    torch.testing.assert_close(g, 2 * w)
    (h,) = torch.autograd.grad(g.sum(), w)                   # ∇²𝒳 = ∇²W + ∇W∇Wᵀ
    torch.testing.assert_close(h, 2 + 2 * w * (2 * w).sum())


def tiny(**overrides):
    return default_rl_config("navigation2d", "maml", meta_batch=3, episodes=2, hidden=(8, 8), **overrides)


@pytest.fixture(scope="module")
def navigation_batch():
    config = tiny()
    torch.manual_seed(0)
    from course_lib.rl.config import build_policy
    from course_lib.functional import parameters_of
    import numpy as np
    from course_lib.rl.envs import ENVS
    policy = build_policy(config)
    theta = parameters_of(policy)
    tasks = ENVS[config.env].distribution.sample_tasks(config.meta_batch, np.random.default_rng(0))
    env = make_batched_env(config.env, tasks, config.episodes)
    return theta, sample_meta_batch(policy, theta, env, config, torch.Generator().manual_seed(0)), config


def test_paper_estimator_is_what_the_trainer_differentiates(navigation_batch):
    theta, batch, config = navigation_batch
    params = list(theta.values())
    trainer = torch.autograd.grad(meta_loss_and_kl(theta, batch, config)[0], params)
    mine = meta_surrogate("paper", batched(theta, batch.n_tasks), lambda p, e: log_prob(batch.policy, p, e),
                          batch.support, batch.query, batch.old.log_prob, config.alpha, config.steps).mean()
    for a, b in zip(trainer, torch.autograd.grad(mine, params)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("estimator", ["dice", "lvc"])
def test_the_switch_changes_the_gradient_not_the_loss_nor_the_kl(navigation_batch, estimator):
    theta, batch, config = navigation_batch
    params = list(theta.values())
    paper_loss, paper_kl = meta_loss_and_kl(theta, batch, config)
    other = RLConfig(**{**config.__dict__, "estimator": estimator})
    loss, kl = meta_loss_and_kl(theta, batch, other)
    torch.testing.assert_close(loss, paper_loss, rtol=1e-6, atol=1e-7)      # TRPO's line search compares values
    assert torch.equal(kl, paper_kl)
    g_paper = torch.cat([g.flatten() for g in torch.autograd.grad(paper_loss, params)])
    g = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])
    assert torch.isfinite(g).all() and not torch.allclose(g, g_paper)
    cosine = float(g @ g_paper / (g.norm() * g_paper.norm()))
    assert cosine > (0.9 if estimator == "lvc" else -1.0)                    # LVC: a small correction


@pytest.mark.parametrize("estimator", ["dice", "lvc"])
def test_training_runs_with_each_estimator(tmp_path, estimator):
    ckpt = train_rl(tiny(iterations=2, estimator=estimator), out=tmp_path / "e.pt", progress=False)
    assert ckpt["config"]["estimator"] == estimator and all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert load_policy(tmp_path / "e.pt")[2].estimator == estimator


def test_the_estimator_setting_is_checked_and_on_the_command_line(tmp_path, capsys):
    from course_lib.__main__ import main
    from course_lib.checkpoints import load_checkpoint
    with pytest.raises(ValueError, match="estimator must be one of"):
        tiny(estimator="reinforce")
    with pytest.raises(ValueError, match="estimator 'dice' is for algo='maml'"):
        default_rl_config("navigation2d", "fomaml", estimator="dice")
    out = tmp_path / "nav.pt"
    assert main(["train", "navigation2d", "--iterations", "0", "--estimator", "lvc", "--out", str(out)]) == 0
    assert load_checkpoint(out)["config"]["estimator"] == "lvc"
    with pytest.raises(SystemExit):
        main(["train", "sinusoid", "--iterations", "0", "--estimator", "dice", "--out", str(tmp_path / "s.pt")])
    assert "--estimator" in capsys.readouterr().err


def test_every_shipped_rl_checkpoint_loads_with_the_estimator_its_name_says():
    """`halfcheetah_dir_maml_lvc.pt` was trained with LVC; every checkpoint without such a suffix with the paper's."""
    from course_lib.checkpoints import SHIPPED, checkpoint_kind, load_checkpoint
    paths = [p for p in sorted(SHIPPED.glob("*.pt")) if checkpoint_kind(load_checkpoint(p)).startswith("rl:")]
    assert len(paths) >= 19
    for path in paths:
        named = next((e for e in ("lvc", "dice") if path.stem.endswith("_" + e)), "paper")
        assert load_policy(path)[2].estimator == named, path
    assert any(load_policy(p)[2].estimator == "lvc" for p in paths)
