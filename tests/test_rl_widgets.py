"""Headless checks of the meta-RL widgets (course_lib.ui.navigation, ui.returns, rl.reproduction): the pure functions' data, argument
errors, "not shipped yet" handling, and the ipywidgets layers (set a control's value → new result)."""
from __future__ import annotations

import shutil

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib import checkpoints  # noqa: E402
from course_lib.rl import reproduction as REPRO  # noqa: E402
from course_lib.rl.evaluate import adaptation_episodes  # noqa: E402
from course_lib.ui import interact, navigation as W, plots, returns  # noqa: E402
from course_lib.evaluate import mean_and_stderr  # noqa: E402
from course_lib.rl.evaluate import adaptation_returns, held_out_tasks, paper_test_tasks, reference_returns  # noqa: E402
from course_lib.rl.config import default_rl_config, load_policy  # noqa: E402
from course_lib.rl.train import train_rl
from course_lib.tasks.navigation import MAX_SPEED  # noqa: E402

torch.set_num_threads(1)

needs_nav_maml = pytest.mark.skipif(not REPRO.is_shipped("navigation2d_maml"),
                                    reason="navigation2d_maml.pt is not shipped")
needs_pv_maml = pytest.mark.skipif(not REPRO.is_shipped("point_velocity_maml"),
                                   reason="point_velocity_maml.pt is not shipped yet")


pytestmark = pytest.mark.usefixtures("no_figure_leaks")   # tests/conftest.py


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """Freshly initialised (0-iteration) checkpoints: navigation2d random/oracle and point_velocity random."""
    root = tmp_path_factory.mktemp("rl_widgets")
    paths = {}
    for env, algo in (("navigation2d", "random"), ("navigation2d", "oracle"), ("point_velocity", "random")):
        paths[f"{env}_{algo}"] = root / f"{env}_{algo}.pt"
        train_rl(default_rl_config(env, algo, iterations=0, hidden=(16, 16)), out=paths[f"{env}_{algo}"],
                 progress=False)
    return paths


@pytest.fixture
def only_maml_shipped(tmp_path, monkeypatch):
    """A shipped-checkpoints folder holding navigation2d_maml.pt only."""
    shutil.copy(checkpoints.SHIPPED / "navigation2d_maml.pt", tmp_path / "navigation2d_maml.pt")
    monkeypatch.setattr(checkpoints, "SHIPPED", tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------- adaptation loop
@needs_nav_maml
def test_adaptation_episodes_are_those_of_adaptation_returns():
    """The per-step episodes reproduce course_lib.rl.evaluate.adaptation_returns bit for bit."""
    policy, theta, config = load_policy(checkpoints.shipped("navigation2d_maml"))
    tasks = held_out_tasks("navigation2d", 3)
    batches = adaptation_episodes(policy, theta, config, tasks, steps=2, episodes=4, seed=5)
    ours = torch.stack([b.total_return().mean(1) for b in batches])
    assert torch.equal(ours, adaptation_returns(policy, theta, config, tasks, 2, 4, seed=5))


def test_adaptation_episodes_match_adaptation_returns_for_cavia(tmp_path):
    config = default_rl_config("navigation2d", "cavia", iterations=0, hidden=(8, 8))
    ckpt = train_rl(config, out=tmp_path / "cavia.pt", progress=False)
    policy, theta, config = load_policy(tmp_path / "cavia.pt")
    tasks = held_out_tasks("navigation2d", 2)
    batches = adaptation_episodes(policy, theta, config, tasks, steps=1, episodes=3)
    assert torch.equal(torch.stack([b.total_return().mean(1) for b in batches]),
                       adaptation_returns(policy, theta, config, tasks, 1, 3))
    assert ckpt["iteration"] == 0


# ------------------------------------------------------------------------------- navigation
@needs_nav_maml
def test_maml_improves_after_one_step_and_trajectories_start_at_the_origin():
    r = W.navigation_adaptation(0.4, -0.3, alpha=0.1, steps=1, episodes=40, seed=0, models=("maml",))
    before, after = r.mean_returns["maml"]
    assert after > before + 10, (before, after)
    assert r.final_distance["maml"][1] < r.final_distance["maml"][0]
    pos = r.positions["maml"]
    assert pos.shape == (2, 40, 101, 2)
    np.testing.assert_array_equal(pos[:, :, 0], 0.0)
    assert np.all(np.abs(np.diff(pos, axis=2)) <= MAX_SPEED + 1e-6)      # clipped velocity actions
    assert r.returns["maml"].shape == (2, 40) and r.alphas["maml"] == (0.1,)
    assert r.missing == () and isinstance(r.figure, plt.Figure)
    assert "MAML" in r.summary()


@needs_nav_maml
def test_positions_agree_with_the_observations():
    """The reconstructed path x_t equals the observation at every step the episode was alive."""
    policy, theta, config = load_policy(checkpoints.shipped("navigation2d_maml"))
    goal = np.array([[0.1, 0.2]], dtype=np.float32)
    batch = adaptation_episodes(policy, theta, config, goal, steps=0, episodes=8)[0]
    path = W._path_of(batch, config)[:, :, :-1]
    alive = batch.mask.bool()
    torch.testing.assert_close(path[alive], batch.obs[alive], atol=1e-5, rtol=0)


@needs_nav_maml
def test_navigation_steps_alphas_and_determinism():
    a = W.navigation_adaptation(-0.2, 0.35, alpha=0.2, steps=3, episodes=5, seed=3, models=("maml",))
    b = W.navigation_adaptation(-0.2, 0.35, alpha=0.2, steps=3, episodes=5, seed=3, models=("maml",))
    c = W.navigation_adaptation(-0.2, 0.35, alpha=0.2, steps=3, episodes=5, seed=4, models=("maml",))
    assert a.alphas["maml"] == (0.2, 0.1, 0.1)                        # α, then α/2 (paper §5.3)
    assert a.positions["maml"].shape[0] == 4 and len(a.mean_returns["maml"]) == 4
    np.testing.assert_array_equal(a.positions["maml"], b.positions["maml"])
    assert not np.array_equal(a.positions["maml"], c.positions["maml"])
    zero = W.navigation_adaptation(-0.2, 0.35, alpha=0.2, steps=0, episodes=5, seed=3, models=("maml",))
    np.testing.assert_array_equal(zero.positions["maml"][0], a.positions["maml"][0])   # same noise at step 0
    assert zero.alphas["maml"] == ()


def test_navigation_with_paths_own_alpha_and_oracle(untrained):
    models = {"random": untrained["navigation2d_random"], "oracle": untrained["navigation2d_oracle"]}
    r = W.navigation_adaptation(0.0, 0.5, alpha=None, steps=1, episodes=3, models=models)
    assert set(r.positions) == {"random", "oracle"} and r.alphas["random"] == (0.1,)
    assert r.positions["oracle"].shape == (2, 3, 101, 2)                 # positions, not the task inputs


def test_missing_models_are_listed_not_fatal(only_maml_shipped):
    r = W.navigation_adaptation(0.3, 0.3, steps=1, episodes=2, models=("maml", "fomaml", "cavia"))
    assert set(r.positions) == {"maml"} and r.missing == ("fomaml", "cavia")
    assert r.summary().count(REPRO.NOT_SHIPPED) == 2
    assert len([ax for ax in r.figure.axes if ax.get_visible()]) == 3
    paths, missing = REPRO.shipped_policies("navigation2d", ("oracle", "maml", "maml"))
    assert list(paths) == ["maml"] and missing == ("oracle",)
    assert REPRO.shipped_policies("navigation2d", ("maml", "maml_lvc"))[1] == ("maml_lvc",)   # a variant
    with pytest.raises(ValueError, match="variant"):
        REPRO.shipped_policies("navigation2d", ("nope_lvc",))
    assert not REPRO.is_shipped("navigation2d_fomaml") and REPRO.is_shipped("navigation2d_maml")


@pytest.mark.parametrize("kwargs,match", [
    (dict(goal_x=0.6), "goal_x"), (dict(goal_x=-0.51), "goal_x"), (dict(goal_y=1.0), "goal_y"),
    (dict(goal_y=float("nan")), "goal_y"), (dict(alpha=0.0), "alpha"), (dict(alpha=-0.1), "alpha"),
    (dict(alpha=float("inf")), "alpha"), (dict(steps=-1), "steps"), (dict(steps=4), "steps"),
    (dict(steps=1.0), "steps"), (dict(episodes=0), "episodes"), (dict(seed=-1), "seed"),
    (dict(models=()), "models"), (dict(models="maml"), "models"), (dict(models=("maml", "nope")), "models"),
    (dict(models={"x": "/no/such/file.pt"}), "models"),
])
def test_navigation_argument_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        W.navigation_adaptation(**{"goal_x": 0.1, "goal_y": 0.1, "episodes": 1, **kwargs})


@needs_nav_maml
def test_navigation_widget_controls_update_the_result():
    w = W.navigation_widget(models=("maml",), goal_x=0.2, goal_y=0.2, alpha=0.1, steps=1, episodes=3)
    ctl = interact.controls(w)
    assert set(ctl) == {"goal_x", "goal_y", "alpha", "steps", "models"}
    assert w.result.goal == pytest.approx((0.2, 0.2)) and w.result.steps == 1
    for name, value in (("goal_x", -0.35), ("goal_y", 0.45), ("alpha", 0.2), ("steps", 2),
                        ("models", ("maml", "random"))):
        before = w.result
        ctl[name].value = value
        assert w.result is not before, f"setting {name} did not re-run the function"
    r = w.result
    assert r.goal == pytest.approx((-0.35, 0.45)) and r.steps == 2
    assert r.alphas["maml"] == pytest.approx((0.2, 0.1))
    assert set(r.positions) | set(r.missing) == {"maml", "random"}
    expected = W.navigation_adaptation(-0.35, 0.45, ctl["alpha"].value, 2, 3, 0, ("maml", "random"))
    np.testing.assert_array_equal(r.positions["maml"], expected.positions["maml"])
    ctl["models"].value = ()
    assert w.result is None                                  # nothing selected: a message, no error
    plt.close("all")


def test_navigation_widget_fails_early_on_unknown_model():
    with pytest.raises(ValueError, match="models"):
        W.navigation_widget(models=("no_such_algo",))


def test_figures_label_their_axes_with_units(untrained):
    nav = W.navigation_adaptation(0.2, -0.2, alpha=0.1, steps=1, episodes=2, seed=0,
                                  models={"random": untrained["navigation2d_random"]})
    ax = nav.figure.axes[0]
    assert ax.get_xlabel() == "x position (units)" and ax.get_ylabel() == "y position (units)"
    vel = W.velocity_adaptation(1.0, alpha=0.1, steps=1, episodes=2, checkpoint=untrained["point_velocity_random"])
    left, right = vel.figure.axes
    assert "units/s" in left.get_ylabel() and right.get_ylabel() == plots.RETURN_AXIS_LABEL
    assert "sum of rewards" in plots.RETURN_AXIS_LABEL
    fig, ax = plt.subplots()
    returns.plot_training_returns(ax, {"maml": [{"iteration": 1, "return_before": -50.0, "return_after": -40.0}]})
    assert ax.get_xlabel() == "meta-training iteration" and "sum of rewards" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MAML, before adaptation", "MAML, after one step"]
    plt.close(fig)


# ------------------------------------------------------------------------------- target velocity
def test_velocity_adaptation_data(untrained):
    path = untrained["point_velocity_random"]
    r = W.velocity_adaptation(-1.5, alpha=0.1, steps=2, episodes=4, seed=1, checkpoint=path)
    assert r.velocities.shape == (3, 4, 101) and r.returns.shape == (3, 4)
    np.testing.assert_array_equal(r.velocities[:, :, 0], 0.0)           # episodes start at rest
    assert np.all(np.abs(np.diff(r.velocities, axis=2)) <= 0.1 + 1e-6)   # |Δv| ≤ dt · max force
    assert r.alphas == (0.1, 0.05) and r.time[-1] == pytest.approx(10.0)
    # the returns are −Σ (v_{t+1} − v*)²
    np.testing.assert_allclose(r.returns, -((r.velocities[:, :, 1:] + 1.5) ** 2).sum(-1), rtol=1e-4)
    assert "step 2" in r.summary() and isinstance(r.figure, plt.Figure)


def test_velocity_not_shipped_yet_and_errors(untrained, only_maml_shipped):
    r = W.velocity_adaptation(1.0, checkpoint="point_velocity_maml")
    assert r.missing == ("point_velocity_maml",) and REPRO.NOT_SHIPPED in r.summary()
    assert r.velocities.size == 0 and isinstance(r.figure, plt.Figure)
    for kwargs, match in ((dict(target=2.5), "target"), (dict(alpha=0), "alpha"), (dict(steps=5), "steps"),
                          (dict(episodes=0), "episodes"), (dict(checkpoint="/no/such.pt"), "checkpoint"),
                          (dict(checkpoint=untrained["navigation2d_random"]), "checkpoint")):
        with pytest.raises(ValueError, match=match):
            W.velocity_adaptation(**{"target": 1.0, "episodes": 1, **kwargs})


@needs_pv_maml
def test_shipped_velocity_policy_adapts_in_one_step():
    r = W.velocity_adaptation(1.5, alpha=0.1, steps=1, episodes=20, seed=0)
    assert r.mean_returns[1] > r.mean_returns[0] + 10
    assert abs(r.final_velocity[1] - 1.5) < abs(r.final_velocity[0] - 1.5)


def test_velocity_widget_controls_update_the_result(untrained):
    w = W.velocity_widget(target=1.0, alpha=0.1, steps=1, episodes=2, checkpoint=untrained["point_velocity_random"])
    ctl = interact.controls(w)
    assert set(ctl) == {"target", "alpha", "steps"}
    for name, value in (("target", -0.7), ("alpha", 0.3), ("steps", 3)):
        before = w.result
        ctl[name].value = value
        assert w.result is not before, f"setting {name} did not re-run the function"
    r = w.result
    assert r.target == pytest.approx(-0.7) and r.steps == 3 and r.velocities.shape[0] == 4
    assert r.alphas[0] == pytest.approx(ctl["alpha"].value)
    plt.close("all")
    with pytest.raises(ValueError, match="checkpoint"):
        W.velocity_widget(checkpoint="/no/such/policy.pt")


# ------------------------------------------------------------------------------- reproduction table
@needs_nav_maml
def test_reproduction_table_matches_adaptation_returns(only_maml_shipped):
    t = returns.reproduction_table(models=("maml", "oracle"), steps=1, episodes=3, n_tasks=4, seed=2)
    policy, theta, config = load_policy(checkpoints.shipped("navigation2d_maml"))
    expected = adaptation_returns(policy, theta, config, paper_test_tasks("navigation2d", 4), 1, 3, seed=2)
    np.testing.assert_array_equal(t.returns["maml"], expected.numpy())
    assert t.missing == ("oracle",)
    text = t.summary()
    assert "| maml" in text and "| oracle   |  not shipped yet" in text
    assert "the paper's own test tasks" in text and "ours − paper, task by task" in text
    theirs = np.asarray(reference_returns("navigation2d")["maml"], dtype=np.float64)[:2, :4]   # the same 4 tasks
    for k in range(2):
        assert t.paired["maml"][k] == pytest.approx(mean_and_stderr(expected[k].double().numpy() - theirs[k]))
    own = returns.reproduction_table(models=("maml",), steps=1, episodes=3, n_tasks=4, seed=2, tasks=2017)
    on_ours = adaptation_returns(policy, theta, config, held_out_tasks("navigation2d", 4), 1, 3, seed=2)
    np.testing.assert_array_equal(own.returns["maml"], on_ours.numpy())
    assert t.paired_with == {"maml": "maml"}
    assert own.paired == {} and "held-out tasks (seed 2017)" in own.summary()
    ax = returns.plot_paired_returns(plt.subplots()[1], t, step=1)
    points = ax.collections[0].get_offsets()                                   # (paper, ours) per task
    np.testing.assert_allclose(points[:, 0], theirs[1])
    np.testing.assert_allclose(points[:, 1], t.returns["maml"][1])
    with pytest.raises(ValueError, match="paper's own test tasks"):
        returns.plot_paired_returns(plt.subplots()[1], own)
    with pytest.raises(ValueError, match="step"):
        returns.plot_paired_returns(plt.subplots()[1], t, step=3)
    plt.close("all")
    no_paper_tasks = REPRO.ReproductionTable("point_velocity", 1, 2, 3, 0, {"maml": np.zeros((2, 3))}, (), {}, figure=None)
    assert not no_paper_tasks.on_paper_tasks and "held-out tasks (seed 2017)" in no_paper_tasks.summary()
    assert "-40.41 / -11.68" in text and "-2.29" in text                # the paper's means
    assert t.paper["maml"] == pytest.approx([-40.41, -11.68], abs=0.01)
    mean, se = t.mean_and_stderr("maml")[1]
    assert mean == pytest.approx(float(expected[1].mean())) and se > 0
    assert isinstance(t.figure, plt.Figure)


def test_reproduction_table_oracle_is_not_adapted(untrained, tmp_path, monkeypatch):
    shutil.copy(untrained["navigation2d_oracle"], tmp_path / "navigation2d_oracle.pt")
    monkeypatch.setattr(checkpoints, "SHIPPED", tmp_path)
    t = returns.reproduction_table(models=("oracle",), steps=2, episodes=2, n_tasks=3)
    assert t.returns["oracle"].shape == (1, 3)
    row = next(line for line in t.summary().splitlines() if line.startswith("| oracle"))
    assert "—" in row
    with pytest.raises(ValueError, match="n_tasks"):
        returns.reproduction_table(models=("oracle",), n_tasks=1)
    with pytest.raises(ValueError, match="env"):
        returns.reproduction_table(env="cartpole")


def test_paper_names_follow_each_environments_reference():
    from course_lib.rl.evaluate import reference_returns
    assert REPRO.paper_name("pretrain", reference_returns("navigation2d")) == "pretrained_unconfirmed"
    assert REPRO.paper_name("pretrain", reference_returns("halfcheetah_dir")) == "pretrained"
    assert REPRO.paper_name("random", reference_returns("halfcheetah_vel")) == "random_init"
    assert REPRO.paper_name("fomaml", reference_returns("halfcheetah_vel")) is None
