"""Meta-RL front-ends: pure functions returning numbers *and* a figure, thin ipywidgets layers over them.

The same pattern as `course_lib.widgets` (sinusoids): each pure function validates its arguments,
computes with the library, and returns a result object holding the data and a matplotlib figure that
is already closed (show it with `display(result.figure)`); each widget is an `ipywidgets.interactive`
whose `.result` is the pure function's latest return value.

    navigation_adaptation(gx, gy, α, steps, …)  shipped navigation2d policies adapted to one goal (04–07)
    navigation_widget()                          … sliders for the goal, α and steps, and the models shown
    velocity_adaptation(v*, α, steps, …)         the point_velocity MAML policy adapted to one target velocity (07)
    velocity_widget()                            … sliders for the target velocity, α and steps
    reproduction_table(env, models, …)           the MAML paper's meta-RL protocol for every shipped policy
                                                 (40 held-out tasks, 40 episodes per step; bench/navigation.py)
    plot_training_returns(ax, histories)         meta-training curves: return before / after adaptation
    shipped_policies(env, models)                which named policies are shipped; the rest are "not shipped yet"
    is_shipped(name), shipped_checkpoint(name)   the same for one checkpoint (None if not shipped yet)

Adaptation follows the paper's test protocol (§5.3, as in `course_lib.rl.evaluate.adaptation_returns`):
per step, fresh episodes with the current policy, a linear baseline fitted to them, one REINFORCE step
with `inner_update` — α for the first step, α/2 after.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import checkpoints, plots
from ..tasks.velocity import DT
from ..validation import check_alpha, check_int, check_range
from ..widgets import controls
from .envs import ENVS
from .episodes import Episodes
from .evaluate import (HELD_OUT_SEED, PAPER_TEST_DRAWS, adaptation_episodes, mean_and_stderr, reference_returns,
                       reproduction_tasks)
from .train import ALGOS, load_policy

NOT_SHIPPED = "not shipped yet"
NAVIGATION_MODELS = ("maml", "fomaml", "cavia", "reptile", "pretrain", "random", "oracle")  # table order
# our model name → the paper's (reference file) name; navigation's pretrained curve is the unconfirmed one
PAPER_NAMES = {"maml": ("maml",), "pretrain": ("pretrained", "pretrained_unconfirmed"), "random": ("random_init",),
               "oracle": ("oracle",)}


def paper_name(name: str, reference: dict) -> str | None:
    """The reference's name for our model `name` in this environment's reference, if it has one."""
    return next((n for n in PAPER_NAMES.get(name, ()) if n in reference), None)
NAVIGATION_ALPHA_RANGE = (0.01, 0.5)   # the α slider's range; the pure functions accept any α > 0
MAX_STEPS = 3                          # adaptation steps in the widgets (the paper reports 0–3)
MAX_EPISODES = 1000
PLANE = 0.6                            # navigation panels show [−0.6, 0.6]²
RETURN_LABEL = "mean return per episode"                     # in the printed summaries
RETURN_AXIS_LABEL = "mean return per episode (sum of rewards)"  # on the figures' axes
POSITION_UNIT = "units"                # the plane is dimensionless; velocities are in units/s
PG_STEPS_LABEL = "policy-gradient steps at test time"


# --------------------------------------------------------------------------------------------------
# shipped checkpoints, and the per-step adaptation loop
# --------------------------------------------------------------------------------------------------
def is_shipped(name: str) -> bool:
    """Whether course_lib/checkpoints/<name>.pt exists (e.g. is_shipped('navigation2d_fomaml'))."""
    return (Path(checkpoints.SHIPPED) / f"{name}.pt").exists()


def shipped_checkpoint(name: str) -> dict | None:
    """The shipped checkpoint `name` (e.g. 'navigation2d_fomaml') as a dict, or None if not shipped yet."""
    return checkpoints.load_checkpoint(checkpoints.shipped(name)) if is_shipped(name) else None


def shipped_policies(env: str = "navigation2d", models=NAVIGATION_MODELS) -> tuple[dict[str, Path], tuple[str, ...]]:
    """({name: checkpoint path} of the shipped ones, (names not shipped yet)) for `env`_<name>.pt.

    models: algorithm names (see course_lib.rl.train.ALGOS), or a dict name → checkpoint path (all of
    which must exist). An unknown name is an error; a known one without a checkpoint is "missing".
    """
    if env not in ENVS:
        raise ValueError(f"env must be one of {tuple(ENVS)}, got {env!r}")
    if isinstance(models, (str, bytes)) or not isinstance(models, (Sequence, Mapping)) or not len(models):
        raise ValueError(f"models must be a non-empty list of algorithm names from {ALGOS} or a dict "
                         f"name → checkpoint path, got {models!r}")
    if isinstance(models, Mapping):
        paths = {str(k): Path(v) for k, v in models.items()}
        for name, path in paths.items():
            if not path.exists():
                raise ValueError(f"models[{name!r}] must be an existing checkpoint, got {str(path)!r}")
        return paths, ()
    unknown = [m for m in models if m not in ALGOS]
    if unknown:
        raise ValueError(f"models must be algorithm names from {ALGOS}, got {unknown[0]!r}")
    names = list(dict.fromkeys(models))     # de-duplicated, in order
    found = {m: checkpoints.shipped(f"{env}_{m}") for m in names if is_shipped(f"{env}_{m}")}
    return found, tuple(m for m in names if m not in found)


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, size: int):
    return load_policy(path)


def _load(path) -> tuple:
    """load_policy(path) → (policy, θ, config), cached until the file changes (checkpoints get retrained)."""
    stat = Path(path).stat()
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


def _step_alphas(alpha: float, steps: int) -> tuple[float, ...]:
    """The paper's schedule: α for the first step, α/2 for every later one."""
    return tuple(alpha if s == 0 else alpha / 2 for s in range(steps))


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
        policy, theta, config = _load(path)
        schedule = _step_alphas(config.alpha if alpha is None else float(alpha), steps)
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
    lo, hi = (math.log10(v) for v in alpha_range)

    def show(goal_x, goal_y, alpha, steps, models):
        if not models:
            print("select at least one model")
            return None
        result = navigation_adaptation(goal_x, goal_y, alpha, steps, episodes, seed, tuple(models))
        _display(result)
        return result

    return w.interactive(
        show,
        goal_x=w.FloatSlider(value=goal_x, min=-0.5, max=0.5, step=0.05, description="goal x",
                             continuous_update=False, style=_STYLE),
        goal_y=w.FloatSlider(value=goal_y, min=-0.5, max=0.5, step=0.05, description="goal y",
                             continuous_update=False, style=_STYLE),
        alpha=w.FloatLogSlider(value=alpha, base=10, min=lo, max=hi, step=0.05, description="α",
                               continuous_update=False, readout_format=".3f"),
        steps=w.IntSlider(value=steps, min=0, max=MAX_STEPS, description="PG steps", continuous_update=False,
                          style=_STYLE),
        models=w.SelectMultiple(options=[(plots.label_for(m), m) for m in options], value=tuple(models),
                                rows=len(options), description="models", style=_STYLE),
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
    policy, theta, config = _load(path)
    if config.env != "point_velocity":
        raise ValueError(f"checkpoint must be a point_velocity policy, got one for {config.env!r}")
    schedule = _step_alphas(config.alpha if alpha is None else float(alpha), steps)
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
    lo, hi = (math.log10(v) for v in alpha_range)

    def show(target, alpha, steps):
        result = velocity_adaptation(target, alpha, steps, episodes, seed, checkpoint)
        _display(result)
        return result

    return w.interactive(
        show,
        target=w.FloatSlider(value=target, min=-2.0, max=2.0, step=0.1, description="target v*",
                             continuous_update=False, style=_STYLE),
        alpha=w.FloatLogSlider(value=alpha, base=10, min=lo, max=hi, step=0.05, description="α",
                               continuous_update=False, readout_format=".3f"),
        steps=w.IntSlider(value=steps, min=0, max=MAX_STEPS, description="PG steps", continuous_update=False,
                          style=_STYLE),
    )


# --------------------------------------------------------------------------------------------------
# (c) the reproduction table (MAML paper §5.3): every shipped policy on the same held-out tasks
# --------------------------------------------------------------------------------------------------
@dataclass
class ReproductionTable:
    env: str
    steps: int
    episodes: int
    n_tasks: int
    seed: int
    returns: dict[str, np.ndarray]        # [steps + 1, n_tasks] mean return per task (oracle: [1, n_tasks])
    missing: tuple[str, ...]
    paper: dict[str, list[float]]         # the paper's mean over its 40 tasks, per step
    figure: plt.Figure = field(repr=False)
    source: str | int = "paper"           # the test tasks: the paper's own, or the seed of our draw
    tasks: np.ndarray | None = field(default=None, repr=False)
    paired: dict[str, list[tuple[float, float]]] = field(default_factory=dict)   # ours − paper, task by task
    paired_with: dict[str, str] = field(default_factory=dict)   # … against which of the paper's rows

    @property
    def on_paper_tasks(self) -> bool:
        return self.source == "paper" and self.env in PAPER_TEST_DRAWS

    def mean_and_stderr(self, name: str) -> list[tuple[float, float]]:
        """(mean, standard error over tasks) after each step."""
        return [mean_and_stderr(r) for r in self.returns[name]]

    def summary(self) -> str:
        """A markdown table: mean ± s.e. over tasks per step, beside the paper's means."""
        cols = self.steps + 1
        head = " | ".join(f"{f'{s} step' + ('s' if s != 1 else ''):>16}" for s in range(cols))
        paper_head = " / ".join(str(s) for s in range(cols))
        where = ("of the paper's own test tasks" if self.on_paper_tasks else
                 f"held-out tasks (seed {HELD_OUT_SEED if self.source == 'paper' else self.source})")
        lines = [f"{self.env}: mean return ± s.e. over {self.n_tasks} {where}, {self.episodes} episodes "
                 f"per step, α = 0.1 then 0.05 (CAVIA: its context α)\n",
                 f"| {'model':8} | {head} | {'paper ' + paper_head:>30} |",
                 "|" + "|".join("-" * w for w in [10] + [18] * cols + [32]) + "|"]
        for name in [m for m in NAVIGATION_MODELS if m in self.returns or m in self.missing] + \
                [m for m in [*self.returns, *self.missing] if m not in NAVIGATION_MODELS]:
            ref = " / ".join(f"{v:.2f}" for v in self.paper.get(name, [])) or "—"
            if name in self.missing:
                cells = [f"{NOT_SHIPPED:>16}"] + [f"{'':>16}"] * (cols - 1)
            else:
                cells = [f"{f'{m:7.2f} ± {s:5.2f}':>16}" for m, s in self.mean_and_stderr(name)]
                cells += [f"{'—':>16}"] * (cols - len(cells))
            lines.append(f"| {name:8} | " + " | ".join(cells) + f" | {ref:>30} |")
        if self.paired:
            lines.append(f"\nours − paper, task by task (mean ± s.e. of the {self.n_tasks} paired differences):")
            width = max(len(f"{n} − paper {p}") for n, p in self.paired_with.items())
            lines += [f"  {f'{name} − paper {self.paired_with[name]}':{width}} "
                      + "  ".join(f"{k} step{'s' if k != 1 else ''}: {m:+7.2f} ± {e:5.2f}" for k, (m, e) in enumerate(d))
                      for name, d in self.paired.items()]
        return "\n".join(lines)


def reproduction_table(env: str = "navigation2d", models=NAVIGATION_MODELS, steps: int = 3, episodes: int = 40,
                       seed: int = 0, n_tasks: int = 40, tasks: str | int = "paper") -> ReproductionTable:
    """Returns after 0..steps policy-gradient steps on `n_tasks` test tasks, with `episodes` per task and
    step (`adaptation_returns`, α then α/2), for every shipped `env`_<model>.pt; the oracle is told the
    goal and is not adapted (step 0 only). The paper's numbers come from `reference_returns(env)`.

    tasks: "paper", the paper's own test tasks where it has them (`paper_test_tasks`; then every model
    is also compared task by task, `paired`: with its own row of the paper's, an adapted model without
    one with the paper's MAML), or the seed of a `held_out_tasks` draw. The function behind
    `bench/navigation.py`'s table.
    """
    from .evaluate import adaptation_returns

    check_int(steps, "steps", 0, 10)
    check_int(episodes, "episodes", 1, MAX_EPISODES)
    check_int(seed, "seed", 0)
    check_int(n_tasks, "n_tasks", 2)
    paths, missing = shipped_policies(env, models)
    task_array = reproduction_tasks(env, n_tasks, source=tasks)
    returns = {}
    for name, path in paths.items():
        policy, theta, config = _load(path)
        k = 0 if config.algo == "oracle" else steps
        returns[name] = adaptation_returns(policy, theta, config, task_array, k, episodes, seed=seed).numpy()
    reference = reference_returns(env)
    paper = {name: [float(np.mean(r)) for r in reference[paper_name(name, reference)][:steps + 1]]
             for name in [*paths, *missing] if paper_name(name, reference)}
    table = ReproductionTable(env, steps, episodes, n_tasks, seed, returns, missing, paper, figure=None,
                              source=tasks, tasks=task_array)
    if table.on_paper_tasks:     # the same tasks in the same order: compare task by task
        # each model with its own row in the paper; the other adapted ones (FOMAML, …) with the paper's MAML
        table.paired_with = {name: paper_name(name, reference) or "maml" for name, r in returns.items()
                             if paper_name(name, reference) or (len(r) > 1 and "maml" in reference)}
        table.paired = {name: [mean_and_stderr(ours - np.asarray(theirs[:n_tasks], dtype=np.float64))
                               for ours, theirs in zip(returns[name], reference[row])]
                        for name, row in table.paired_with.items()}
    table.figure = _table_figure(table)
    return table


def _table_figure(table: ReproductionTable) -> plt.Figure:
    fig, ax = plots.new_figure(width=6.4, height=4.4)
    steps = np.arange(table.steps + 1)
    curves = {name: r for name, r in table.returns.items() if r.shape[0] > 1}
    reference = {name: dict(enumerate(v)) for name, v in table.paper.items() if len(v) > 1}
    if curves or reference:
        plots.plot_adaptation_curve(ax, steps, curves, reference=reference)
    for name, r in table.returns.items():
        if r.shape[0] == 1:        # not adapted (the oracle): a horizontal line
            ax.axhline(r.mean(), color=plots.color_for(name), ls="--", lw=1.2, label=f"{plots.label_for(name)} (no adaptation)")
    for name, v in table.paper.items():
        if len(v) == 1:
            ax.axhline(v[0], color=plots.color_for(name), ls=":", lw=1.0, label=f"{plots.label_for(name)} (paper)")
    ax.set_ylabel(f"{RETURN_AXIS_LABEL}\n(± 95% CI over tasks)")
    ax.set_xlabel(PG_STEPS_LABEL)
    ax.set_xticks(steps)
    ax.autoscale(enable=True, axis="y")      # plot_adaptation_curve pins y ≥ 0 (losses); returns are < 0
    ax.relim()
    ax.autoscale_view()
    ax.set_ylim(*sorted(ax.get_ylim()))      # … and keep the axis the right way up
    which = "of the paper's test tasks" if table.on_paper_tasks else "held-out tasks"
    ax.set_title(f"{table.env}: {table.n_tasks} {which}, {table.episodes} episodes per step", fontsize=10)
    ax.legend(fontsize=7, loc="lower right", ncols=2, framealpha=0.85)
    plt.close(fig)
    return fig


def plot_paired_returns(ax, table: ReproductionTable, step: int = 1, models: Sequence[str] | None = None):
    """Task by task on the paper's own test tasks: the paper's return (x) against ours (y) after `step`
    policy-gradient steps, one point per task and model; above the diagonal, ours is better there."""
    if not table.paired:
        raise ValueError("table: task-by-task returns need the paper's own test tasks (reproduction_table(tasks='paper'))")
    names = [n for n in (models or table.paired) if n in table.paired and table.returns[n].shape[0] > step]
    if not names:
        raise ValueError(f"step must be a step every chosen model was evaluated at (0–{table.steps}), got {step}")
    reference = reference_returns(table.env)
    lows, highs = [], []
    for i, name in enumerate(names):
        theirs = np.asarray(reference[table.paired_with[name]][step][:table.n_tasks], dtype=np.float64)
        ours = table.returns[name][step]
        ax.scatter(theirs, ours, s=14, color=plots.color_for(name, i), alpha=0.8,
                   label=f"{plots.label_for(name)} against the paper's {plots.label_for(table.paired_with[name])}")
        lows.append(min(theirs.min(), ours.min())), highs.append(max(theirs.max(), ours.max()))
    lo, hi = min(lows), max(highs)
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="equal")
    ax.set_xlabel(f"paper: return after {step} step{'s' if step != 1 else ''}, per task")
    ax.set_ylabel(f"ours: return after {step} step{'s' if step != 1 else ''}, per task")
    ax.set_title(f"{table.env}: {table.n_tasks} of the paper's test tasks, task by task", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    return ax


# --------------------------------------------------------------------------------------------------
def plot_training_returns(ax, histories: Mapping[str, list], reference: Mapping[str, float] | None = None,
                          title: str | None = None):
    """Meta-training curves of RL checkpoints: return before (dashed) and after (solid) adaptation.

    histories: name → a checkpoint's `history` (dicts with iteration, return_before, return_after);
    reference: label → a horizontal line (e.g. the paper's returns before/after one step).
    """
    for i, (name, history) in enumerate(histories.items()):
        color = plots.color_for(name, i)
        rows = [h for h in history if "return_before" in h]
        its = [h["iteration"] for h in rows]
        ax.plot(its, [h["return_before"] for h in rows], ls="--", lw=1.0, color=color,
                label=f"{plots.label_for(name)}, before adaptation")
        if any(h["return_after"] != h["return_before"] for h in rows):
            ax.plot(its, [h["return_after"] for h in rows], lw=1.5, color=color,
                    label=f"{plots.label_for(name)}, after one step")
    for j, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(value, color="black", ls=":" if j % 2 else "-.", lw=1.0, label=label)
    ax.set_xlabel(plots.ITERATION_LABEL)
    ax.set_ylabel(f"{RETURN_AXIS_LABEL}\non the training tasks")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    return ax


_STYLE = {"description_width": "initial"}


def _display(result) -> None:
    from IPython.display import display
    display(result.figure)
    print(result.summary())


__all__ = ["NOT_SHIPPED", "NAVIGATION_MODELS", "is_shipped", "shipped_checkpoint", "shipped_policies", "adaptation_episodes",
           "NavigationAdaptation", "navigation_adaptation", "navigation_widget", "VelocityAdaptation",
           "velocity_adaptation", "velocity_widget", "ReproductionTable", "reproduction_table",
           "plot_paired_returns", "plot_training_returns", "controls"]
