"""Interactive front-ends: thin `ipywidgets.interactive` layers over pure functions.

Each pure function validates its arguments, computes with the library, and returns a result object
holding the numbers *and* a matplotlib figure (already closed, so nothing leaks; show it with
`display(result.figure)`). Tests call the pure functions directly, or build a widget and set its
controls' `.value`; the widget's `.result` is the pure function's latest return value.

    toy_directions(alpha)            MAML / FOMAML / Reptile directions on the 2-D quadratic toy (02)
    toy_directions_widget()          … with sliders for α and the numbers of inner steps
    sinusoid_adaptation(A, b, α, …)  shipped checkpoints adapted to one sine task (01, 03)
    sinusoid_widget()                … with sliders for α, amplitude, phase, steps, K and the seed
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import checkpoints, toy
from ..checkpoints import shipped
from ..evaluate import adapted_params
from ..meta import meta_gradient
from ..sinusoid.config import load_trained
from ..tasks.sinusoid import RegressionBatch, SinusoidDistribution, sine
from ..validation import check_alpha, check_int, check_range
from . import plots
from .interact import STYLE, alpha_slider, show_result, steps_slider

TOY_THETA = (-1.5, -1.0)
TOY_EXTENT = (-2.5, 2.5)
TOY_ALPHA_MAX = 1.0
SINUSOID_ALPHA_RANGE = (1e-3, 1e-1)   # the slider's range; the pure function accepts any α in (0, 1]


# --------------------------------------------------------------------------------------------------
# (a) the 2-D toy: MAML, FOMAML and Reptile directions
# --------------------------------------------------------------------------------------------------
@dataclass
class ToyDirections:
    alpha: float
    steps: int
    reptile_steps: int
    theta: np.ndarray                     # [2], where the directions are taken
    adapted: np.ndarray                   # [2], θ_k after `steps` inner steps on L_s
    directions: dict[str, np.ndarray]     # from course_lib.meta_gradient: maml, fomaml, reptile
    closed_form: dict[str, np.ndarray]    # the same from course_lib.toy's formulas
    maml_optimum: np.ndarray | None       # argmin of the meta-objective for this α (None if not unique)
    figure: plt.Figure = field(repr=False)

    def angle(self, a: str, b: str = "maml") -> float:
        """Angle in degrees between two directions (0 = same direction)."""
        u, v = self.directions[a], self.directions[b]
        cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
        return math.degrees(math.acos(max(-1.0, min(1.0, cos))))

    def summary(self) -> str:
        lines = [f"α = {self.alpha:.3f}, MAML/FOMAML steps = {self.steps}, Reptile steps = {self.reptile_steps}",
                 f"θ = {_fmt(self.theta)}  →  θ_k = {_fmt(self.adapted)}"]
        for name, g in self.directions.items():
            extra = "" if name == "maml" else f"   angle to MAML {self.angle(name):5.1f}°"
            lines.append(f"{plots.label_for(name):>17}: {_fmt(g)}{extra}")
        opt = "none (meta-objective flat in one direction)" if self.maml_optimum is None else _fmt(self.maml_optimum)
        lines.append(f"MAML optimum θ*(α) = {opt}")
        return "\n".join(lines)


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:+.4f}" for x in np.asarray(v).ravel()) + ")"


def toy_directions(alpha: float = 0.25, steps: int = 1, reptile_steps: int = 5, theta=TOY_THETA,
                   tasks: toy.QuadraticTasks | None = None, grid: int = 61) -> ToyDirections:
    """The three meta-learning directions at θ on the quadratic toy task, from `meta_gradient`.

    alpha: inner learning rate in (0, 1] (the default task's inner loop diverges above ≈ 1.03).
    steps: inner steps for MAML / FOMAML (1–10); reptile_steps: inner steps for Reptile (1–20).
    """
    check_alpha(alpha)
    check_range(alpha, "alpha", 0.0, TOY_ALPHA_MAX)
    check_int(steps, "steps", 1, 10)
    check_int(reptile_steps, "reptile_steps", 1, 20)
    check_int(grid, "grid", 5, 400)
    theta_np = toy.check_theta(theta).numpy()
    tasks = tasks or toy.toy_task()
    params = {toy.PARAM: torch.tensor(theta_np, dtype=toy.DTYPE, requires_grad=True)}
    directions = {}
    for method, k in (("maml", steps), ("fomaml", steps), ("reptile", reptile_steps)):
        directions[method] = meta_gradient(params, tasks, alpha, k, method)[toy.PARAM].detach().numpy()
    closed = toy.closed_form_directions(tasks, theta_np, alpha, steps, reptile_steps)
    path = np.stack([theta_np] + [toy.adapted_point(tasks, theta_np, alpha, s).mean(0) for s in range(1, steps + 1)])
    optimum = toy.maml_minimizer(tasks, alpha, steps)

    gx, gy = np.meshgrid(np.linspace(*TOY_EXTENT, grid), np.linspace(*TOY_EXTENT, grid))
    fig, (left, right) = plots.new_figure(ncols=2, width=6.0, height=5.2)
    support_min, query_min = toy.support_minimizer(tasks).mean(0), toy.query_minimizer(tasks).mean(0)
    plots.plot_contours_2d(
        left, gx, gy,
        {"support loss L_s": toy.loss_grid(tasks.A[0], tasks.b[0], gx, gy),
         "query loss L_q": toy.loss_grid(tasks.C[0], tasks.d[0], gx, gy)},
        points={"θ": theta_np, "support min A⁻¹b": support_min, "query min C⁻¹d": query_min},
        path=path, title=f"the task, and {steps} inner step(s) θ → θ_k on L_s (α = {alpha:.2f})")
    points = {"query min C⁻¹d": query_min}
    if optimum is not None:
        inside = bool(np.all((optimum >= TOY_EXTENT[0]) & (optimum <= TOY_EXTENT[1])))
        points["MAML optimum θ*(α)" + ("" if inside else " (off the plot)")] = optimum
    plots.plot_directions_2d(
        right, gx, gy, toy.meta_objective_grid(tasks, alpha, steps, gx, gy), theta_np, directions,
        points=points, title="meta-objective L_q(θ_k(θ)) and the three directions at θ",
        value_label="meta-objective L_q(θ_k)")
    for ax in (left, right):
        ax.set_xlim(*TOY_EXTENT)
        ax.set_ylim(*TOY_EXTENT)
    plt.close(fig)
    return ToyDirections(float(alpha), steps, reptile_steps, theta_np, path[-1], directions, closed,
                         optimum, fig)


def toy_directions_widget(alpha: float = 0.25, steps: int = 1, reptile_steps: int = 5):
    """Sliders for α, the MAML/FOMAML inner steps and Reptile's inner steps over `toy_directions`."""
    import ipywidgets as w

    def show(alpha, steps, reptile_steps):
        result = toy_directions(alpha, steps, reptile_steps)
        show_result(result)
        return result

    return w.interactive(
        show,
        alpha=w.FloatSlider(value=alpha, min=0.01, max=TOY_ALPHA_MAX, step=0.01, description="α",
                            continuous_update=False, readout_format=".2f"),
        steps=steps_slider(steps, 5, low=1, description="MAML steps"),
        reptile_steps=w.IntSlider(value=reptile_steps, min=1, max=10, description="Reptile steps",
                                  continuous_update=False, style=STYLE),
    )


# --------------------------------------------------------------------------------------------------
# (b) sinusoid: shipped checkpoints adapting to one task
# --------------------------------------------------------------------------------------------------
@dataclass
class SinusoidAdaptation:
    amplitude: float
    phase: float
    steps: int
    k: int
    seed: int
    alphas: dict[str, float]                # the inner learning rate used for each model
    x: np.ndarray                           # [n_grid] evaluation inputs, uniform on [−5, 5]
    y_true: np.ndarray                      # [n_grid]
    x_support: np.ndarray                   # [K]
    y_support: np.ndarray                   # [K]
    before: dict[str, np.ndarray]           # predictions on x before adaptation
    after: dict[str, np.ndarray]            # … after `steps` inner steps on the support points
    curves: dict[str, np.ndarray]           # MSE on x after 0, 1, …, steps inner steps
    figure: plt.Figure = field(repr=False)

    @property
    def mse_before(self) -> dict[str, float]:
        return {name: float(c[0]) for name, c in self.curves.items()}

    @property
    def mse_after(self) -> dict[str, float]:
        return {name: float(c[-1]) for name, c in self.curves.items()}

    def summary(self, decimals: int = 4) -> str:
        """A table of α and the MSE before/after per model, rounded to `decimals`."""
        w = decimals + 6
        lines = [f"task A = {self.amplitude:.2f}, phase b = {self.phase:.2f};  K = {self.k}, seed = {self.seed}, "
                 f"{self.steps} step(s)", f"{'model':>24}  {'α':>7}  {'MSE before':>{w}}  {'MSE after':>{w}}"]
        for name in self.curves:
            lines.append(f"{plots.label_for(name):>24}  {self.alphas[name]:7.4f}  "
                         f"{self.mse_before[name]:{w}.{decimals}f}  {self.mse_after[name]:{w}.{decimals}f}")
        return "\n".join(lines)


_load = checkpoints.cached(load_trained)   # (model, θ, α, config), loaded again when the file changes


def _model_paths(models) -> dict[str, Path]:
    if isinstance(models, (str, bytes)) or not isinstance(models, (Sequence, Mapping)) or not len(models):
        raise ValueError(f"models must be a non-empty list of shipped checkpoint names (e.g. ['maml', "
                         f"'pretrain']) or a dict name → path, got {models!r}")
    if isinstance(models, Mapping):
        return {str(k): Path(v) for k, v in models.items()}
    return {name: shipped(f"sinusoid_{name}") for name in models}


def sinusoid_adaptation(amplitude: float = 2.0, phase: float = 1.0, alpha: float | None = None,
                        steps: int = 1, k: int = 10, seed: int = 0, models=("maml", "pretrain"),
                        n_grid: int = 200) -> SinusoidAdaptation:
    """Adapt each model to the task y = A sin(x − b) from K random support points; compare.

    amplitude ∈ [0.1, 5] and phase ∈ [0, π] (the training distribution); alpha ∈ (0, 1] is the inner
    learning rate for every model (None: each checkpoint's own α, e.g. 0.01 for MAML); steps ∈ [0, 100]
    plain gradient steps (evaluate.adapted_params); k ∈ [1, 100] support points drawn with `seed`.
    MSEs are measured against the true function on `n_grid` evenly spaced inputs in [−5, 5].
    models: shipped checkpoint names (sinusoid_<name>.pt) or a dict name → checkpoint path.
    """
    dist = SinusoidDistribution()
    check_range(amplitude, "amplitude", *dist.amplitude)
    check_range(phase, "phase", *dist.phase)
    if alpha is not None:
        check_alpha(alpha)
        check_range(alpha, "alpha", 0.0, 1.0)
    check_int(steps, "steps", 0, 100)
    check_int(k, "k", 1, 100)
    check_int(seed, "seed", 0)
    check_int(n_grid, "n_grid", 2, 10_000)
    paths = _model_paths(models)

    task = np.array([[amplitude, phase]], dtype=np.float64)
    xs, ys = dist.sample_points(task, k, np.random.default_rng(seed))
    grid = np.linspace(*dist.x_range, n_grid).reshape(1, n_grid, 1)
    xq = torch.as_tensor(grid, dtype=torch.float32)
    yq = torch.as_tensor(sine(task, grid), dtype=torch.float32)

    alphas, before, after, curves = {}, {}, {}, {}
    for name, path in paths.items():
        model, theta, model_alpha, config = _load(path)
        batch = RegressionBatch(model, xs, ys, xq, yq, task, oracle=config.algo == "oracle")
        use_alpha = model_alpha if alpha is None else float(alpha)
        params = adapted_params(theta, batch, use_alpha, steps, model.context_dim)
        with torch.no_grad():
            curves[name] = torch.stack([batch.query_loss(p) for p in params])[:, 0].numpy()
            before[name] = batch.predict(params[0], batch.x_query)[0, :, 0].numpy()
            after[name] = batch.predict(params[-1], batch.x_query)[0, :, 0].numpy()
        alphas[name] = float(use_alpha) if not isinstance(use_alpha, dict) else float("nan")

    fig, (left, right) = plots.new_figure(ncols=2, width=6.0, height=4.2)
    fit = {}
    for name in paths:
        fit[f"{plots.label_for(name)}, before"] = before[name]
        if steps:
            fit[f"{plots.label_for(name)}, after {steps} step{'s' * (steps != 1)}"] = after[name]
    plots.plot_sinusoid_fit(left, grid.ravel(), yq.numpy().ravel(), fit, support=(xs.ravel(), ys.ravel()),
                            title=f"A = {amplitude:.2f}, b = {phase:.2f}, K = {k}")
    plots.plot_adaptation_curve(right, np.arange(steps + 1), curves,
                                title="MSE on [−5, 5] while adapting")
    plt.close(fig)
    return SinusoidAdaptation(float(amplitude), float(phase), steps, k, seed, alphas, grid.ravel(),
                              yq.numpy().ravel(), xs.numpy().ravel(), ys.numpy().ravel(), before, after,
                              curves, fig)


def sinusoid_widget(models=("maml", "pretrain"), amplitude: float = 2.0, phase: float = 1.0,
                    alpha: float = 0.01, steps: int = 1, k: int = 10, seed: int = 0):
    """Sliders for α (log scale, 0.001–0.1), amplitude, phase, steps, K and the seed."""
    import ipywidgets as w

    _model_paths(models)  # fail now, not inside the callback, if a checkpoint is missing

    def show(alpha, amplitude, phase, steps, k, seed):
        result = sinusoid_adaptation(amplitude, phase, alpha, steps, k, seed, models)
        show_result(result)
        return result

    return w.interactive(
        show,
        alpha=alpha_slider(alpha, SINUSOID_ALPHA_RANGE, step=0.1, decimals=4),
        amplitude=w.FloatSlider(value=amplitude, min=0.1, max=5.0, step=0.1, description="amplitude A",
                                continuous_update=False, style=STYLE),
        phase=w.FloatSlider(value=phase, min=0.0, max=math.pi, step=0.05, description="phase b",
                            continuous_update=False, style=STYLE),
        steps=steps_slider(steps, 10, description="inner steps"),
        k=w.IntSlider(value=k, min=1, max=20, description="K points", continuous_update=False, style=STYLE),
        seed=w.IntSlider(value=seed, min=0, max=20, description="seed", continuous_update=False, style=STYLE),
    )


__all__ = ["ToyDirections", "toy_directions", "toy_directions_widget", "SinusoidAdaptation",
           "sinusoid_adaptation", "sinusoid_widget"]
