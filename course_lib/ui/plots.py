"""One plot style for the whole workbook: the same colour per method, labelled axes, legends.

Every helper draws on an `ax` you pass in and returns it, so notebooks compose figures freely:

    fig, ax = plt.subplots(figsize=FIGSIZE)
    plot_sinusoid_fit(ax, x, y_true, {"MAML, 1 step": y_maml}, support=(xs, ys))

`new_figure()` makes a figure through pyplot; helpers never call `plt.show()`. Functions that build a
figure to *return* it (the widgets' pure functions) close it with `plt.close(fig)` so that figures do
not pile up; a closed figure still displays with `IPython.display.display(fig)`.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

FIGSIZE = (6.4, 4.0)

# One colour per method, everywhere in the workbook (matplotlib's tab10 palette).
COLORS = {
    "maml": "#1f77b4", "fomaml": "#ff7f0e", "reptile": "#2ca02c", "cavia": "#9467bd",
    "metasgd": "#8c564b", "pretrain": "#d62728", "oracle": "#7f7f7f", "random": "#bcbd22",
    "true": "black", "support": "black",
}
LABELS = {
    "maml": "MAML", "fomaml": "first-order MAML", "reptile": "Reptile", "cavia": "CAVIA",
    "metasgd": "Meta-SGD", "pretrain": "pretrained (multi-task)", "oracle": "oracle", "random": "random init",
}
# Lines that are not a method (a task, a live run, a reference) never borrow a method's colour.
OTHER_COLORS = ("#e377c2", "#17becf", "#e7ba52", "#393b79", "#7b4173", "#637939")
# Settings of one hyperparameter (α values, meta-batch sizes, …) are shades of one colormap, dark to
# light in the order given, so that they cannot be mistaken for methods either.
SETTINGS_CMAP = "viridis"

X_LABEL = "input x (dimensionless, x ∈ [−5, 5])"
Y_LABEL = "output y = A sin(x − b)"
STEPS_LABEL = "inner gradient steps on the K support points"
MSE_LABEL = "query MSE (units of y²)"
ITERATION_LABEL = "meta-training iteration"
RETURN_LABEL = "mean return per episode"                     # in the printed summaries
RETURN_AXIS_LABEL = "mean return per episode (sum of rewards)"  # on the figures' axes
PG_STEPS_LABEL = "policy-gradient steps at test time"


def color_for(name: str, index: int = 0):
    """The method's colour if `name` starts with a known method key, else the index-th of OTHER_COLORS.

    "MAML, live run" → MAML's colour; "live run" → a colour that no method uses.
    """
    words = str(name).lower().replace(",", " ").split()
    key = words[0] if words else ""
    for method, color in COLORS.items():
        if key and key in (method, LABELS.get(method, method).lower().split()[0]):
            return color
    return OTHER_COLORS[index % len(OTHER_COLORS)]


def setting_colors(n: int) -> list:
    """n colours for n settings of one hyperparameter (e.g. five values of α): viridis, dark to light."""
    return [tuple(c) for c in plt.get_cmap(SETTINGS_CMAP)(np.linspace(0.0, 0.85, n))]


def label_for(name: str) -> str:
    return LABELS.get(name, name)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = FIGSIZE[0], height: float = FIGSIZE[1]):
    """(fig, axes) with one panel of size width × height inches per cell; axes squeezed like plt.subplots."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=True,
                             constrained_layout=True)
    return fig, axes


def _np(v) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)


def plot_sinusoid_fit(ax, x, y_true, curves: Mapping[str, object], support=None, title: str | None = None,
                      styles: Mapping[str, dict] | None = None):
    """The true sine (black), model predictions (`curves`: label → y on x) and the K support points.

    Labels may start with a method key ("maml after 1 step") to get that method's colour; labels
    containing "before" are drawn dashed. `styles` overrides line keywords per label.
    """
    x = _np(x).ravel()
    order = np.argsort(x)
    if y_true is not None:
        ax.plot(x[order], _np(y_true).ravel()[order], color=COLORS["true"], lw=2.0, label="true function")
    for i, (label, y) in enumerate(curves.items()):
        style = dict(color=color_for(label, i + 1), lw=1.6, ls="--" if "before" in label.lower() else "-")
        style.update((styles or {}).get(label, {}))
        ax.plot(x[order], _np(y).ravel()[order], label=label, **style)
    if support is not None:
        xs, ys = support
        ax.scatter(_np(xs).ravel(), _np(ys).ravel(), s=36, marker="^", color=COLORS["support"], zorder=5,
                   label=f"K = {_np(xs).size} support points")
    _sinusoid_axes(ax, title)
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return ax


def _sinusoid_axes(ax, title: str | None) -> None:
    """Labels, range and grid of a plot of y = A sin(x − b) over x ∈ [−5, 5]."""
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_xlim(-5, 5)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_tasks(ax, x, ys: Mapping[str, object] | np.ndarray, title: str | None = None, mean=None):
    """Several task functions on the same inputs (rows of `ys`), optionally their mean (thick)."""
    x = _np(x).ravel()
    order = np.argsort(x)
    rows = ys.values() if isinstance(ys, Mapping) else _np(ys)
    labels = list(ys.keys()) if isinstance(ys, Mapping) else [None] * len(rows)
    for i, (label, y) in enumerate(zip(labels, rows)):
        ax.plot(x[order], _np(y).ravel()[order], lw=1.0, alpha=0.7, color=OTHER_COLORS[i % len(OTHER_COLORS)],
                label=label)
    if mean is not None:
        ax.plot(x[order], _np(mean).ravel()[order], color="black", lw=2.5, label="mean over the task family")
    _sinusoid_axes(ax, title)
    if mean is not None or any(label is not None for label in labels):
        ax.legend(fontsize=8, loc="best")
    return ax


def plot_adaptation_curve(ax, steps, results: Mapping[str, object], title: str | None = None,
                          log_y: bool = False, reference: Mapping[str, Mapping[int, float]] | None = None):
    """Query loss against the number of inner steps, one line per method.

    `results[name]` is either a [len(steps)] array of means or a [len(steps), T] array of per-task
    losses (e.g. from `adaptation_curve`), drawn as the mean with a shaded 95% confidence band.
    `reference` (name → {step: value}) adds published numbers as open markers.
    """
    steps = _np(steps).ravel()
    for i, (name, values) in enumerate(results.items()):
        v = _np(values)
        color = color_for(name, i)
        if v.ndim == 2:
            mean = v.mean(1)
            half = 1.96 * v.std(1, ddof=1) / np.sqrt(v.shape[1]) if v.shape[1] > 1 else np.zeros_like(mean)
            ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2, lw=0)
        else:
            mean = v.ravel()
        ax.plot(steps, mean, marker="o", ms=3, color=color, label=label_for(name))
    for name, points in (reference or {}).items():
        ax.scatter(list(points), list(points.values()), marker="s", facecolors="none",
                   edgecolors=color_for(name), s=50, label=f"{label_for(name)} (paper)")
    ax.set_xlabel(STEPS_LABEL)
    ax.set_ylabel(MSE_LABEL)
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_training_history(ax, histories: Mapping[str, list], key: str = "val_loss", title: str | None = None,
                          styles: Mapping[str, dict] | None = None):
    """A checkpoint's `history` (list of dicts with 'iteration' and `key`) per run.

    Names starting with a method key get that method's colour ("MAML, live run" is drawn in MAML's
    colour); `styles` overrides line keywords per name (e.g. a dashed line for a second run).
    """
    for i, (name, history) in enumerate(histories.items()):
        its = [h["iteration"] for h in history]
        style = dict(marker="o", ms=3, color=color_for(name, i))
        style.update((styles or {}).get(name, {}))
        ax.plot(its, [h[key] for h in history], label=label_for(name), **style)
    ax.set_xlabel(ITERATION_LABEL)
    ax.set_ylabel("validation " + MSE_LABEL if key == "val_loss" else key)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_contours_2d(ax, grid_x, grid_y, surfaces: Mapping[str, np.ndarray], points: Mapping[str, object] = (),
                     path=None, levels: int = 12, title: str | None = None):
    """Contour lines of several 2-D functions (label → values on the grid), marked points, a path.

    `points`: label → (θ₁, θ₂); `path`: [n, 2] sequence of points joined by arrows (an inner loop).
    """
    handles = []
    for i, (label, z) in enumerate(surfaces.items()):
        color = _SURFACE_COLORS[i % len(_SURFACE_COLORS)]
        ax.contour(grid_x, grid_y, z, levels=levels, colors=[color], linewidths=0.8,
                   linestyles="--" if i else "-")
        handles.append(plt.Line2D([], [], color=color, ls="--" if i else "-", label=label))
    _points(ax, points)
    if path is not None:
        path = _np(path).reshape(-1, 2)
        for a, b in zip(path[:-1], path[1:]):
            ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", color="black", lw=1.2))
        ax.plot(path[:, 0], path[:, 1], ".", color="black", ms=4)
    _decorate_2d(ax, title, extra_handles=handles)
    return ax


def plot_directions_2d(ax, grid_x, grid_y, values, origin, directions: Mapping[str, object],
                       points: Mapping[str, object] = (), levels: int = 20, arrow_length: float | None = None,
                       title: str | None = None, value_label: str = "meta-objective"):
    """Filled contours of `values` and, from `origin`, one arrow per direction (label → 2-vector g).

    Arrows show the *descent* step −g, all scaled to the same length (a fraction of the plot width)
    because the methods' directions differ in magnitude (Reptile's θ − φ is ≈ kα times a gradient);
    the legend gives each |g| and its angle to the first direction.
    """
    grid_x, grid_y, values = _np(grid_x), _np(grid_y), _np(values)
    cs = ax.contourf(grid_x, grid_y, values, levels=levels, cmap="Greys", alpha=0.55)
    ax.figure.colorbar(cs, ax=ax, label=value_label)
    origin = _np(origin).ravel()
    length = arrow_length or 0.25 * float(grid_x.max() - grid_x.min())
    first = None
    for i, (label, g) in enumerate(directions.items()):
        g = _np(g).ravel()
        norm = float(np.linalg.norm(g))
        if first is None:
            first = g
        angle = _angle(first, g)
        step = -g / norm * length if norm > 0 else np.zeros(2)
        color = color_for(label, i)
        ax.annotate("", xy=origin + step, xytext=origin,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=2.2, mutation_scale=14))
        ax.plot([], [], color=color, lw=2.2,
                label=f"−{label_for(label)}  |g| = {norm:.3f}" + (f", {angle:+.0f}°" if i else ""))
    _points(ax, points)
    ax.plot(*origin, "o", color="black", ms=6, zorder=6)
    _decorate_2d(ax, title)
    return ax


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Signed angle from a to b in degrees."""
    return float(np.degrees(np.arctan2(a[0] * b[1] - a[1] * b[0], a @ b)))


_SURFACE_COLORS = ("#7f7f7f", "#17becf", "#9467bd", "#8c564b")
_POINT_STYLE = {"θ": ("o", "black"), "support min": ("X", "#7f7f7f"), "query min": ("*", "#17becf"),
                "MAML optimum": ("P", "#1f77b4")}


def _points(ax, points):
    for i, (label, p) in enumerate(dict(points).items()):
        marker, color = next(((m, c) for key, (m, c) in _POINT_STYLE.items() if label.startswith(key)),
                             ("D", plt.get_cmap("Dark2")(i % 8)))
        p = _np(p).ravel()
        ax.plot(p[0], p[1], marker=marker, color=color, ms=10, ls="none", mec="white", mew=0.8,
                zorder=7, label=label)


def _decorate_2d(ax, title, extra_handles=()):
    ax.set_xlabel("θ₁ (parameter 1)")
    ax.set_ylabel("θ₂ (parameter 2)")
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles=list(extra_handles) + handles, fontsize=7, loc="upper left", framealpha=0.85)
    return ax


__all__ = ["COLORS", "LABELS", "OTHER_COLORS", "FIGSIZE", "ITERATION_LABEL", "MSE_LABEL", "STEPS_LABEL",
           "color_for", "setting_colors", "label_for", "new_figure", "plot_sinusoid_fit",
           "plot_tasks", "plot_adaptation_curve", "plot_training_history", "plot_contours_2d",
           "plot_directions_2d"]


# ------------------------------------------------------------------ the loss landscape (issue 19, outcome 5)
def plot_loss_vs_step_size(ax, alphas, curves: Mapping[str, object], alpha_train: float | None = None,
                           before: Mapping[str, float] | None = None, title: str | None = None):
    """Mean query loss after one step against the step size α (`course_lib.landscape.loss_after_one_step`).

    `curves`: method → ℓ(α) on the `alphas` grid; both axes are logarithmic, and a curve stops where its
    loss is infinite. `before` (method → loss at α = 0) draws dotted levels; `alpha_train` a vertical line.
    """
    alphas = _np(alphas)
    for i, (name, values) in enumerate(curves.items()):
        values = _np(values)
        color = color_for(name, i)
        ax.plot(alphas, np.where(np.isfinite(values), values, np.nan), "o-", ms=3.5, color=color,
                label=f"{label_for(name)}, one step")
        if before and name in before:
            ax.axhline(before[name], color=color, ls=":", lw=1.2, label=f"{label_for(name)}, no step (α = 0)")
    if alpha_train is not None:
        ax.axvline(alpha_train, color="black", ls="--", lw=0.9, label=f"meta-training α = {alpha_train:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("inner step size α (log scale)")
    ax.set_ylabel("mean query MSE after one step (log scale)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_loss_slice(ax, a, b, values, points: Mapping[str, object] = (), levels=None, title: str | None = None,
                    xlabel: str = "a: along −∇L_s (unit)", ylabel: str = "b: top Hessian eigenvector, ⊥ (unit)",
                    value_label: str = "query MSE"):
    """Filled log-spaced contours of a 2-D loss slice, values[j, i] at (a_i, b_j)
    (`course_lib.landscape.loss_slice`), with marked points (label → (a, b)) and a colour bar.

    Pass the same `levels` to several panels to compare them on one colour scale; the default is 15
    log-spaced levels between the slice's minimum and maximum.
    """
    from matplotlib.colors import LogNorm

    a, b, values = _np(a), _np(b), _np(values)
    if levels is None:
        levels = np.geomspace(max(values.min(), 1e-6), values.max(), 15)
    cs = ax.contourf(a, b, np.clip(values, levels[0], levels[-1]), levels=levels, cmap="viridis",
                     norm=LogNorm(levels[0], levels[-1]))
    ax.contour(a, b, values, levels=levels, colors="white", linewidths=0.3, alpha=0.6)
    cbar = ax.figure.colorbar(cs, ax=ax, label=f"{value_label} (log scale)")
    cbar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.3g}"))
    markers = ("o", "*", "X", "P", "D")
    for i, (label, p) in enumerate(dict(points).items()):
        p = _np(p).ravel()
        ax.plot(p[0], p[1], marker=markers[i % len(markers)], color="white" if i == 0 else "#ff7f0e",
                ms=9 if i == 0 else 15, ls="none", mec="black", mew=0.9, zorder=7, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    if points:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    return ax


__all__ += ["plot_loss_vs_step_size", "plot_loss_slice"]
