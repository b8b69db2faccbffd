"""Headless checks of the widgets' pure functions, the widgets themselves, the toy problem and the plots."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib import meta_gradient  # noqa: E402
from course_lib.ui import plots, sinusoid as widgets  # noqa: E402
from course_lib import toy
from course_lib.ui.interact import controls
from course_lib.checkpoints import SHIPPED  # noqa: E402

torch.set_num_threads(1)

needs_maml = pytest.mark.skipif(not (SHIPPED / "sinusoid_maml.pt").exists() or
                                not (SHIPPED / "sinusoid_pretrain.pt").exists(),
                                reason="shipped sinusoid_maml / sinusoid_pretrain checkpoints not present")


pytestmark = pytest.mark.usefixtures("no_figure_leaks")   # tests/conftest.py


# ---------------------------------------------------------------------------------------------- toy
def test_toy_closed_form_matches_hand_computation():
    """MAML direction = (I − αA)∇L_q(θ'), FOMAML = ∇L_q(θ'), Reptile (1 step) = α∇L_s(θ)."""
    task = toy.toy_task()
    A, b, C, d = task.A[0].numpy(), task.b[0].numpy(), task.C[0].numpy(), task.d[0].numpy()
    theta, alpha = np.array([0.3, -0.7]), 0.2
    adapted = theta - alpha * (A @ theta - b)
    query_grad = C @ adapted - d
    cf = toy.closed_form_directions(task, theta, alpha, steps=1, reptile_steps=1)
    np.testing.assert_allclose(cf["maml"], (np.eye(2) - alpha * A) @ query_grad, atol=1e-14)
    np.testing.assert_allclose(cf["fomaml"], query_grad, atol=1e-14)
    np.testing.assert_allclose(cf["reptile"], alpha * (A @ theta - b), atol=1e-14)
    np.testing.assert_allclose(toy.adapted_point(task, theta, alpha, 1)[0], adapted, atol=1e-14)


@pytest.mark.parametrize("alpha,steps,reptile_steps", [(0.05, 1, 1), (0.25, 1, 5), (0.5, 3, 10), (1.0, 2, 3)])
def test_toy_directions_agree_with_closed_form(alpha, steps, reptile_steps):
    r = widgets.toy_directions(alpha, steps, reptile_steps, grid=5)
    assert set(r.directions) == {"maml", "fomaml", "reptile"}
    for m in r.directions:
        np.testing.assert_allclose(r.directions[m], r.closed_form[m], atol=1e-12)
    # Hand-written one-step formula for MAML: (I − αA)^k (Cθ_k − d).
    task = toy.toy_task()
    M = np.linalg.matrix_power(np.eye(2) - alpha * task.A[0].numpy(), steps)
    theta_k = toy.adapted_point(task, r.theta, alpha, steps)[0]
    np.testing.assert_allclose(r.directions["maml"], M @ (task.C[0].numpy() @ theta_k - task.d[0].numpy()),
                               atol=1e-12)
    np.testing.assert_allclose(r.adapted, theta_k, atol=1e-12)
    assert isinstance(r.figure, plt.Figure)


def test_toy_maml_optimum_adapts_onto_query_minimum():
    task = toy.toy_task()
    for alpha in (0.1, 0.3, 0.8):
        opt = toy.maml_minimizer(task, alpha, 1)
        np.testing.assert_allclose(toy.adapted_point(task, opt, alpha, 1)[0], toy.query_minimizer(task)[0], atol=1e-10)
        np.testing.assert_allclose(toy.closed_form_directions(task, opt, alpha)["maml"], 0, atol=1e-10)
    # α = 1/λ_max(A): one step collapses a direction, the optimum is not unique.
    lam = np.linalg.eigvalsh(task.A[0].numpy()).max()
    assert toy.maml_minimizer(task, float(1 / lam), 1) is None


def test_toy_small_alpha_first_order_is_nearly_exact():
    r = widgets.toy_directions(1e-3, grid=5)
    assert r.angle("fomaml") < 0.5
    assert r.angle("maml", "maml") == pytest.approx(0.0, abs=1e-6)


def test_quadratic_tasks_batch_of_several_tasks():
    one = toy.toy_task()
    two = toy.QuadraticTasks(torch.cat([one.A, 2 * one.A]), torch.cat([one.b, one.b]),
                             torch.cat([one.C, one.C]), torch.cat([one.d, -one.d]))
    theta = {toy.PARAM: torch.tensor([0.5, 0.5], dtype=toy.DTYPE, requires_grad=True)}
    for method in ("maml", "fomaml", "reptile"):
        lib = meta_gradient(theta, two, 0.1, 2, method)[toy.PARAM].detach().numpy()
        np.testing.assert_allclose(lib, toy.closed_form_directions(two, [0.5, 0.5], 0.1, 2)[method], atol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=0.0), "alpha"), (dict(alpha=-0.1), "alpha"), (dict(alpha=float("nan")), "alpha"),
    (dict(alpha=1.5), "alpha"), (dict(alpha=True), "alpha"), (dict(steps=0), "steps"), (dict(steps=1.5), "steps"),
    (dict(reptile_steps=0), "reptile_steps"), (dict(theta=(1.0, 2.0, 3.0)), "theta"),
    (dict(theta=(float("inf"), 0.0)), "theta"),
])
def test_toy_directions_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.toy_directions(**{"alpha": 0.25, **kwargs})


def test_quadratic_tasks_validation():
    one = toy.toy_task()
    with pytest.raises(ValueError, match="symmetric"):
        toy.QuadraticTasks(torch.tensor([[[1.0, 0.5], [0.0, 1.0]]]), one.b, one.C, one.d)
    with pytest.raises(ValueError, match="positive definite"):
        toy.QuadraticTasks(-one.A, one.b, one.C, one.d)
    with pytest.raises(ValueError, match="shape"):
        toy.QuadraticTasks(one.A, one.b[:, :1], one.C, one.d)


def test_toy_widget_controls_update_the_result():
    w = widgets.toy_directions_widget(alpha=0.25)
    ctl = controls(w)
    assert set(ctl) == {"alpha", "steps", "reptile_steps"}
    assert w.result.alpha == pytest.approx(0.25)
    first = w.result
    ctl["alpha"].value = 0.5
    assert w.result is not first and w.result.alpha == pytest.approx(0.5)
    expected = widgets.toy_directions(0.5, grid=5)
    np.testing.assert_allclose(w.result.directions["maml"], expected.directions["maml"], atol=1e-14)
    ctl["steps"].value = 3
    assert w.result.steps == 3 and len(w.result.adapted) == 2
    ctl["reptile_steps"].value = 2
    assert w.result.reptile_steps == 2
    np.testing.assert_allclose(w.result.directions["reptile"],
                               widgets.toy_directions(0.5, 3, 2, grid=5).directions["reptile"], atol=1e-14)


# ----------------------------------------------------------------------------------------- sinusoid
@needs_maml
def test_maml_adapts_and_improves_on_a_typical_task():
    r = widgets.sinusoid_adaptation(amplitude=2.0, phase=1.0, alpha=0.01, steps=1, k=10, seed=0)
    assert set(r.curves) == {"maml", "pretrain"}
    assert r.mse_after["maml"] < 0.5 * r.mse_before["maml"]
    assert r.mse_after["maml"] < r.mse_after["pretrain"]
    assert r.curves["maml"].shape == (2,)
    assert r.x.shape == r.y_true.shape == r.before["maml"].shape == r.after["maml"].shape == (200,)
    assert r.x_support.shape == r.y_support.shape == (10,)
    np.testing.assert_allclose(r.y_support, 2.0 * np.sin(r.x_support - 1.0), rtol=1e-5, atol=1e-5)
    # The reported MSE is the MSE of the returned predictions against the true curve.
    assert r.mse_after["maml"] == pytest.approx(float(np.mean((r.after["maml"] - r.y_true) ** 2)), rel=1e-4)
    assert "MAML" in r.summary()


@needs_maml
def test_sinusoid_adaptation_zero_steps_and_own_alpha():
    r = widgets.sinusoid_adaptation(1.0, 0.5, alpha=None, steps=0, k=5, seed=1, models=("maml",))
    np.testing.assert_array_equal(r.before["maml"], r.after["maml"])
    assert r.mse_before == r.mse_after
    assert r.alphas["maml"] == pytest.approx(0.01)


@needs_maml
def test_sinusoid_adaptation_is_deterministic_and_seeded():
    a = widgets.sinusoid_adaptation(3.0, 2.0, 0.01, 3, 5, seed=4, models=("maml",))
    b = widgets.sinusoid_adaptation(3.0, 2.0, 0.01, 3, 5, seed=4, models=("maml",))
    c = widgets.sinusoid_adaptation(3.0, 2.0, 0.01, 3, 5, seed=5, models=("maml",))
    np.testing.assert_array_equal(a.after["maml"], b.after["maml"])
    assert not np.array_equal(a.x_support, c.x_support)


@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=0.0), "alpha"), (dict(alpha=-1e-3), "alpha"), (dict(alpha=2.0), "alpha"),
    (dict(amplitude=0.0), "amplitude"), (dict(amplitude=5.5), "amplitude"), (dict(phase=-0.1), "phase"),
    (dict(phase=4.0), "phase"), (dict(steps=-1), "steps"), (dict(steps=101), "steps"), (dict(k=0), "k"),
    (dict(seed=-1), "seed"), (dict(models="maml"), "models"), (dict(models=()), "models"),
    (dict(models=("no_such_algo",)), "shipped checkpoints"),
])
def test_sinusoid_adaptation_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.sinusoid_adaptation(**{"amplitude": 2.0, "phase": 1.0, "alpha": 0.01, **kwargs})


@needs_maml
def test_sinusoid_widget_controls_update_the_result():
    w = widgets.sinusoid_widget(models=("maml", "pretrain"))
    ctl = controls(w)
    assert set(ctl) == {"alpha", "amplitude", "phase", "steps", "k", "seed"}
    assert w.result.steps == 1 and w.result.k == 10
    new = dict(alpha=0.05, amplitude=4.0, phase=math.pi / 2, steps=4, k=7, seed=3)
    for name, value in new.items():
        before = w.result
        ctl[name].value = value
        assert w.result is not before, f"setting {name} did not re-run the function"
    r = w.result
    assert (r.amplitude, r.steps, r.k, r.seed) == (4.0, 4, 7, 3)
    assert r.phase == pytest.approx(math.pi / 2, abs=0.03)      # the slider snaps to its step
    assert r.alphas["maml"] == pytest.approx(ctl["alpha"].value)
    expected = widgets.sinusoid_adaptation(r.amplitude, r.phase, ctl["alpha"].value, 4, 7, 3)
    np.testing.assert_allclose(r.curves["maml"], expected.curves["maml"], rtol=1e-6)
    assert len(r.curves["maml"]) == 5
    # Slider ranges as specified: α log-scale 0.001–0.1, amplitude [0.1, 5], phase [0, π], steps [0, 10].
    assert ctl["alpha"].min == pytest.approx(-3) and ctl["alpha"].max == pytest.approx(-1)
    assert (ctl["amplitude"].min, ctl["amplitude"].max) == (0.1, 5.0)
    assert (ctl["phase"].min, ctl["phase"].max) == (0.0, pytest.approx(math.pi))
    assert (ctl["steps"].min, ctl["steps"].max) == (0, 10)


def test_sinusoid_widget_fails_early_on_missing_checkpoint():
    with pytest.raises(ValueError, match="shipped checkpoints"):
        widgets.sinusoid_widget(models=("no_such_algo",))


# -------------------------------------------------------------------------------------------- plots
def test_plot_helpers_label_axes_and_legends():
    fig, axes = plots.new_figure(ncols=3)
    x = np.linspace(-5, 5, 50)
    plots.plot_sinusoid_fit(axes[0], x, np.sin(x), {"maml, after 1 step": np.cos(x), "pretrain, before": 0 * x},
                            support=(x[:5], np.sin(x[:5])))
    plots.plot_adaptation_curve(axes[1], np.arange(4), {"maml": np.random.default_rng(0).random((4, 10)),
                                                        "fomaml": np.arange(4.0)},
                                reference={"maml": {1: 0.67}})
    gx, gy = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5))
    plots.plot_directions_2d(axes[2], gx, gy, gx ** 2 + gy ** 2, (0.2, 0.1), {"maml": (1.0, 0.0), "reptile": (0.0, 2.0)})
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    assert "MSE" in axes[1].get_ylabel()
    labels = [t.get_text() for t in axes[2].get_legend().get_texts()]
    assert any("+90°" in t for t in labels), labels
    line_colors = {l.get_label(): l.get_color() for l in axes[0].lines}
    assert line_colors["maml, after 1 step"] == plots.COLORS["maml"]
    assert line_colors["pretrain, before"] == plots.COLORS["pretrain"]
    plt.close(fig)


def test_color_for_is_consistent():
    assert plots.color_for("maml") == plots.color_for("MAML, before") == plots.COLORS["maml"]
    assert plots.color_for("pretrained (multi-task), after 3 steps") == plots.COLORS["pretrain"]
    assert plots.color_for("first-order MAML") == plots.COLORS["fomaml"]
    assert plots.color_for("something else", 2) is not None


def test_lines_that_are_not_methods_never_take_a_methods_colour():
    method_colors = set(plots.COLORS.values())
    assert {plots.color_for("live run", i) for i in range(10)}.isdisjoint(method_colors)
    shades = plots.setting_colors(5)
    assert len(set(shades)) == 5 and not set(shades) & method_colors
    fig, ax = plots.new_figure()
    plots.plot_tasks(ax, np.linspace(-5, 5, 20), np.zeros((8, 20)))
    assert {line.get_color() for line in ax.lines}.isdisjoint(method_colors)
    plt.close(fig)


def test_training_history_uses_the_method_colour_and_styles():
    fig, ax = plots.new_figure()
    history = [{"iteration": i, "val_loss": 1.0 / i} for i in (1, 2, 3)]
    plots.plot_training_history(ax, {"MAML, shipped run": history, "MAML, live run": history},
                                styles={"MAML, live run": dict(ls="--", color="#aec7e8")})
    shipped_line, live_line = ax.lines
    assert shipped_line.get_color() == plots.COLORS["maml"] and shipped_line.get_linestyle() == "-"
    assert live_line.get_color() == "#aec7e8" and live_line.get_linestyle() == "--"
    assert ax.get_xlabel() == plots.ITERATION_LABEL and "MSE" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MAML, shipped run", "MAML, live run"]
    plt.close(fig)
