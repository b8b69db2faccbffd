"""Meta-RL adaptation you can watch: a pure function returning numbers *and* a figure, and a thin
ipywidgets layer over it, for each of

    navigation_adaptation(gx, gy, α, steps, …)  shipped navigation2d policies adapted to one goal (04–07)
    navigation_widget()                          … sliders for the goal, α and steps, and the models shown
    velocity_adaptation(v*, α, steps, …)         the point_velocity MAML policy adapted to one target velocity (07)
    velocity_widget()                            … sliders for the target velocity, α and steps

Each result holds the data and a closed matplotlib figure (`display(result.figure)`); each widget is an
`ipywidgets.interactive` whose `.result` is the latest result. Adaptation follows the paper's test
protocol (§5.3, `course_lib.rl.evaluate.adaptation_episodes`): per step, fresh episodes with the current
policy, a linear baseline fitted to them, one REINFORCE step with `inner_update` — α, then α/2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import checkpoints
from ..rl.envs import ENVS
from ..rl.episodes import Episodes
from ..rl.evaluate import adaptation_episodes, step_alphas
from ..rl.reproduction import MAX_EPISODES, NAVIGATION_MODELS, NOT_SHIPPED, is_shipped, load_cached, shipped_policies
from ..tasks.velocity import DT
from ..validation import check_alpha, check_int, check_range
from . import plots
from .interact import STYLE, alpha_slider, show_result, steps_slider
from .plots import PG_STEPS_LABEL, RETURN_AXIS_LABEL, RETURN_LABEL

NAVIGATION_ALPHA_RANGE = (0.01, 0.5)   # the α slider's range; the pure functions accept any α > 0
MAX_STEPS = 3                          # adaptation steps in the widgets (the paper reports 0–3)
PLANE = 0.6                            # navigation panels show [−0.6, 0.6]²
POSITION_UNIT = "units"                # the plane is dimensionless; velocities are in units/s


def _path_of(episodes: Episodes, config) -> torch.Tensor:
    """Positions (navigation) or velocities (point velocity) at t = 0..H: [T, N, H + 1, d].

    Both envs integrate clipped actions from 0 and freeze once an episode has ended (mask 0), so the
    path is a cumulative sum; it agrees with the observations wherever they exist (tested).
    """
    bound = ENVS[config.env].max_action
    if config.normalize_actions:          # the policy acts in [−1, 1] (rl.envs.NormalizedActions)
        actions = bound * episodes.actions.clamp(-1.0, 1.0)
    else:
        actions = episodes.actions.clamp(-bound, bound)
    moves = (DT if config.env == "point_velocity" else 1.0) * actions * episodes.mask.unsqueeze(-1)
    start = torch.zeros_like(moves[:, :, :1])
    return torch.cat([start, moves.cumsum(2)], dim=2)


def _checks(alpha, steps: int, episodes: int, seed: int) -> None:
    if alpha is not None:
        check_alpha(alpha)
    check_int(steps, "steps", 0, MAX_STEPS)
    check_int(episodes, "episodes", 1, MAX_EPISODES)
    check_int(seed, "seed", 0)


# --------------------------------------------------------------------------------------------------
# (a) 2-D navigation: trajectories before and after adaptation to one goal
# --------------------------------------------------------------------------------------------------
@dataclass
class NavigationAdaptation:
    goal: tuple[float, float]
    steps: int
    episodes: int
    seed: int
    alphas: dict[str, tuple[float, ...]]    # the step size of every adaptation step, per model
    positions: dict[str, np.ndarray]        # [steps + 1, episodes, H + 1, 2]: x_t after 0..steps updates
    returns: dict[str, np.ndarray]          # [steps + 1, episodes]: undiscounted return of every episode
    missing: tuple[str, ...]                # requested models without a shipped checkpoint
    figure: plt.Figure = field(repr=False)
    models: tuple[str, ...] = ()            # every requested model, in order (shipped or not)

    @property
    def mean_returns(self) -> dict[str, np.ndarray]:
        """Mean return per episode after 0..steps policy-gradient steps, per model."""
        return {name: r.mean(1) for name, r in self.returns.items()}

    @property
    def final_distance(self) -> dict[str, np.ndarray]:
        """Mean distance from the goal at the end of the episodes, after 0..steps steps, per model."""
        goal = np.asarray(self.goal)
        return {name: np.linalg.norm(p[:, :, -1] - goal, axis=-1).mean(1) for name, p in self.positions.items()}

    def summary(self, decimals: int = 1) -> str:
        """Mean return per episode after each step, per model (rounded to `decimals`)."""
        w = decimals + 7
        lines = [f"goal ({self.goal[0]:+.2f}, {self.goal[1]:+.2f}); {self.episodes} episodes per step, "
                 f"seed {self.seed}; {RETURN_LABEL} after 0..{self.steps} step(s)",
                 f"{'model':>24}  {'α per step':>18}  " + "  ".join(f"{f'step {s}':>{w}}" for s in range(self.steps + 1))]
        means = self.mean_returns
        for name in self.models or [*means, *self.missing]:
            if name in self.missing:
                lines.append(f"{plots.label_for(name):>24}  {NOT_SHIPPED}")
                continue
            alphas = " / ".join(f"{a:.3f}" for a in self.alphas[name]) or "—"   # as the slider shows it
            lines.append(f"{plots.label_for(name):>24}  {alphas:>18}  " + "  ".join(f"{m:{w}.{decimals}f}" for m in means[name]))
        return "\n".join(lines)


def navigation_adaptation(goal_x: float = 0.3, goal_y: float = -0.3, alpha: float | None = 0.1, steps: int = 1,
                          episodes: int = 10, seed: int = 0, models=("maml", "pretrain")) -> NavigationAdaptation:
    """Adapt each shipped navigation2d policy to the goal (goal_x, goal_y); trajectories before/after.

    goal_x, goal_y ∈ [−0.5, 0.5] (the task distribution); alpha > 0 is the first step's size, α/2 the
    later ones' (None: each policy's own training α — 1.0 for CAVIA's context, 0.1 otherwise);
    steps ∈ [0, 3] policy-gradient steps, each on `episodes` ∈ [1, 1000] fresh episodes; `seed` fixes
    the action noise (the same for every model). models: algorithm names (their
    course_lib/checkpoints/navigation2d_<name>.pt; one not shipped yet is listed in `.missing` and
    drawn as an empty panel) or a dict name → checkpoint path.
    """
    check_range(goal_x, "goal_x", -0.5, 0.5)
    check_range(goal_y, "goal_y", -0.5, 0.5)
    _checks(alpha, steps, episodes, seed)
    paths, missing = shipped_policies("navigation2d", models)

    goal = np.array([[goal_x, goal_y]], dtype=np.float32)
    alphas, positions, returns = {}, {}, {}
    for name, path in paths.items():
        policy, theta, config = load_cached(path)
        schedule = step_alphas(config.alpha if alpha is None else float(alpha), steps)
        batches = adaptation_episodes(policy, theta, config, goal, steps, episodes, schedule or None, seed)
        alphas[name] = schedule
        positions[name] = torch.stack([_path_of(b, config)[0] for b in batches]).numpy()
        returns[name] = torch.stack([b.total_return()[0] for b in batches]).numpy()

    order = tuple(m for m in dict.fromkeys(models) if m in paths or m in missing)
    result = NavigationAdaptation((float(goal_x), float(goal_y)), steps, episodes, seed, alphas, positions,
                                  returns, missing, figure=None, models=order)
    result.figure = _navigation_figure(result, list(order))
    return result


def _navigation_figure(result: NavigationAdaptation, order: list[str]) -> plt.Figure:
    n = len(order)
    ncols = min(n, 4)
    fig, axes = plots.new_figure(ncols=ncols, nrows=math.ceil(n / ncols), width=3.7, height=4.3)
    axes = np.atleast_1d(axes).ravel()
    means = result.mean_returns
    after = f"after {result.steps} step{'s' * (result.steps != 1)}"
    for ax, name in zip(axes, order):
        color = plots.color_for(name)
        ax.add_patch(plt.Rectangle((-0.5, -0.5), 1.0, 1.0, fill=False, ls=":", lw=0.8, color="#7f7f7f"))
        ax.plot(0, 0, "o", color="black", ms=4, zorder=6)
        ax.plot(*result.goal, marker="*", color="black", ms=14, mec="white", ls="none", zorder=7, label="goal")
        if name in result.positions:
            pos = result.positions[name]
            shown = [(0, "before", 0.12, "--")] + ([(result.steps, after, 0.3, "-")] if result.steps else [])
            for s, label, faint, ls in shown:       # every episode thin, their average path thick
                for path in pos[s]:
                    ax.plot(path[:, 0], path[:, 1], color=color, lw=0.6, alpha=faint)
                mean_path = pos[s].mean(0)
                ax.plot(mean_path[:, 0], mean_path[:, 1], color=color, lw=2.4 if s else 1.6, ls=ls,
                        label=f"{label}: {means[name][s]:.1f}")
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=3, framealpha=0.85,
                      handlelength=1.5, columnspacing=0.8, title="mean return", title_fontsize=7)
        else:
            ax.text(0, 0.3, NOT_SHIPPED, ha="center", va="center", fontsize=10, color="#7f7f7f")
        ax.set_xlim(-PLANE, PLANE)
        ax.set_ylim(-PLANE, PLANE)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"x position ({POSITION_UNIT})")
        ax.set_ylabel(f"y position ({POSITION_UNIT})")
        ax.set_title(plots.label_for(name), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    when = f"before adaptation (dashed) and {after} (solid)" if result.steps else "no adaptation"
    fig.suptitle(f"goal ({result.goal[0]:+.2f}, {result.goal[1]:+.2f}), {when}\n{result.episodes} episodes "
                 f"per step (thin), their average path (thick)",
                 fontsize=10)
    plt.close(fig)
    return fig


def navigation_widget(models=("maml", "pretrain"), goal_x: float = 0.3, goal_y: float = -0.3, alpha: float = 0.1,
                      steps: int = 1, episodes: int = 10, seed: int = 0,
                      alpha_range: tuple[float, float] = NAVIGATION_ALPHA_RANGE):
    """Sliders for the goal, α (log scale over `alpha_range`) and the steps, and a choice of models."""
    import ipywidgets as w

    shipped_policies("navigation2d", models)   # fail now, not inside the callback, on an unknown name
    options = list(dict.fromkeys([*models, *NAVIGATION_MODELS]))

    def show(goal_x, goal_y, alpha, steps, models):
        if not models:
            print("select at least one model")
            return None
        result = navigation_adaptation(goal_x, goal_y, alpha, steps, episodes, seed, tuple(models))
        show_result(result)
        return result

    return w.interactive(
        show,
        goal_x=w.FloatSlider(value=goal_x, min=-0.5, max=0.5, step=0.05, description="goal x",
                             continuous_update=False, style=STYLE),
        goal_y=w.FloatSlider(value=goal_y, min=-0.5, max=0.5, step=0.05, description="goal y",
                             continuous_update=False, style=STYLE),
        alpha=alpha_slider(alpha, alpha_range),
        steps=steps_slider(steps, MAX_STEPS),
        models=w.SelectMultiple(options=[(plots.label_for(m), m) for m in options], value=tuple(models),
                                rows=len(options), description="models", style=STYLE),
    )


# --------------------------------------------------------------------------------------------------
# (b) 1-D target velocity: "adapt to a new velocity in one step"
# --------------------------------------------------------------------------------------------------
@dataclass
class VelocityAdaptation:
    target: float
    steps: int
    episodes: int
    seed: int
    alphas: tuple[float, ...]          # the step size of every adaptation step
    time: np.ndarray                   # [H + 1] seconds
    velocities: np.ndarray             # [steps + 1, episodes, H + 1]
    returns: np.ndarray                # [steps + 1, episodes]
    missing: tuple[str, ...]           # ("point_velocity_maml",) if that checkpoint is not shipped yet
    figure: plt.Figure = field(repr=False)

    @property
    def mean_returns(self) -> np.ndarray:
        return self.returns.mean(1) if self.returns.size else np.zeros(0)

    @property
    def final_velocity(self) -> np.ndarray:
        """Mean velocity over the last second of the episodes, after 0..steps steps."""
        return self.velocities[:, :, -10:].mean((1, 2)) if self.velocities.size else np.zeros(0)

    def summary(self, decimals: int = 1) -> str:
        head = f"target velocity {self.target:+.2f}; {self.episodes} episodes per step, seed {self.seed}"
        if self.missing:
            return f"{head}\n{self.missing[0]}: {NOT_SHIPPED}"
        lines = [head, f"{'':>6} {'α':>7} {RETURN_LABEL:>24} {'velocity at the end':>20}"]
        for s, (m, v) in enumerate(zip(self.mean_returns, self.final_velocity)):
            a = f"{self.alphas[s - 1]:.3g}" if s else "—"
            lines.append(f"{f'step {s}':>6} {a:>7} {m:24.{decimals}f} {v:+20.{decimals + 1}f}")
        return "\n".join(lines)


def velocity_adaptation(target: float = 1.0, alpha: float | None = 0.1, steps: int = 1, episodes: int = 10,
                        seed: int = 0, checkpoint="point_velocity_maml") -> VelocityAdaptation:
    """Adapt the shipped point_velocity MAML policy to the target velocity v* ∈ [−2, 2].

    alpha > 0 (first step; α/2 after; None: the policy's training α), steps ∈ [0, 3], episodes ∈
    [1, 1000], seed ≥ 0 as in `navigation_adaptation`. checkpoint: a shipped name (if not shipped yet,
    the result says so and holds no data) or a path to a point_velocity checkpoint.
    """
    check_range(target, "target", -2.0, 2.0)
    _checks(alpha, steps, episodes, seed)
    path = _velocity_checkpoint(checkpoint)
    if path is None:                                   # a shipped name, not shipped yet
        result = VelocityAdaptation(float(target), steps, episodes, seed, (), DT * np.arange(101),
                                    np.zeros((0, 0, 0)), np.zeros((0, 0)), (checkpoint,), figure=None)
        result.figure = _velocity_figure(result)
        return result
    policy, theta, config = load_cached(path)
    if config.env != "point_velocity":
        raise ValueError(f"checkpoint must be a point_velocity policy, got one for {config.env!r}")
    schedule = step_alphas(config.alpha if alpha is None else float(alpha), steps)
    batches = adaptation_episodes(policy, theta, config, np.array([target], dtype=np.float32), steps, episodes,
                                  schedule or None, seed)
    velocities = torch.stack([_path_of(b, config)[0, ..., 0] for b in batches]).numpy()
    returns = torch.stack([b.total_return()[0] for b in batches]).numpy()
    time = DT * np.arange(velocities.shape[-1])
    result = VelocityAdaptation(float(target), steps, episodes, seed, schedule, time, velocities, returns, (),
                                figure=None)
    result.figure = _velocity_figure(result)
    return result


def _velocity_checkpoint(checkpoint) -> Path | None:
    """A shipped name → its path (None if not shipped yet); a path → itself, which must exist."""
    if isinstance(checkpoint, str) and Path(checkpoint).suffix != ".pt":
        return checkpoints.shipped(checkpoint) if is_shipped(checkpoint) else None
    path = Path(checkpoint)
    if not path.exists():
        raise ValueError(f"checkpoint must be a shipped name or an existing .pt file, got {str(checkpoint)!r}")
    return path


def _velocity_figure(result: VelocityAdaptation) -> plt.Figure:
    fig, (left, right) = plots.new_figure(ncols=2, width=4.6, height=3.6)
    color = plots.color_for("maml")
    left.axhline(result.target, color="black", ls="--", lw=1.5, label=f"target v* = {result.target:+.2f}")
    if result.missing:
        for ax in (left, right):
            ax.text(0.5, 0.4, f"{result.missing[0]}:\n{NOT_SHIPPED}", ha="center", va="center", color="#7f7f7f",
                    transform=ax.transAxes)
        left.set_xlim(0, result.time[-1])
    else:
        means = result.mean_returns
        shown = [(0, dict(lw=0.8, alpha=0.35 if result.steps else 0.8), "before")]
        if result.steps:
            shown.append((result.steps, dict(lw=1.6, alpha=0.9), f"after {result.steps} step{'s' * (result.steps != 1)}"))
        for s, style, label in shown:
            for i, v in enumerate(result.velocities[s]):
                left.plot(result.time, v, color=color, label=f"{label} (return {means[s]:.1f})" if i == 0 else None,
                          **style)
        right.plot(np.arange(result.steps + 1), means, marker="o", color=color, label=plots.label_for("maml"))
        right.set_xticks(np.arange(result.steps + 1))
    left.set_xlabel("time (s)")
    left.set_ylabel(f"velocity v ({POSITION_UNIT}/s)")
    left.set_ylim(-2.6, 2.6)
    left.set_title("velocity while running an episode", fontsize=10)
    left.legend(fontsize=7, loc="lower right" if result.target > 0 else "upper right", framealpha=0.85)
    right.set_xlabel(PG_STEPS_LABEL)
    right.set_ylabel(RETURN_AXIS_LABEL)
    right.set_title(f"{result.episodes} episodes per step", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    plt.close(fig)
    return fig


def velocity_widget(target: float = 1.0, alpha: float = 0.1, steps: int = 1, episodes: int = 10, seed: int = 0,
                    checkpoint="point_velocity_maml", alpha_range: tuple[float, float] = NAVIGATION_ALPHA_RANGE):
    """Sliders for the target velocity, α (log scale) and the number of policy-gradient steps."""
    import ipywidgets as w

    _velocity_checkpoint(checkpoint)   # fail now, not inside the callback, on a missing file

    def show(target, alpha, steps):
        result = velocity_adaptation(target, alpha, steps, episodes, seed, checkpoint)
        show_result(result)
        return result

    return w.interactive(
        show,
        target=w.FloatSlider(value=target, min=-2.0, max=2.0, step=0.1, description="target v*",
                             continuous_update=False, style=STYLE),
        alpha=alpha_slider(alpha, alpha_range),
        steps=steps_slider(steps, MAX_STEPS),
    )
