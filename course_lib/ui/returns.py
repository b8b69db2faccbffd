"""Meta-RL returns drawn: the reproduction table's figure, the paper's returns against ours task by
task, and meta-training curves (return before / after adaptation)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..rl.evaluate import reference_returns
from ..rl.reproduction import NAVIGATION_MODELS, ReproductionTable, evaluate_reproduction
from . import plots
from .plots import PG_STEPS_LABEL, RETURN_AXIS_LABEL


def reproduction_table(env: str = "navigation2d", models=NAVIGATION_MODELS, steps: int = 3, episodes: int = 40,
                       seed: int = 0, n_tasks: int = 40, tasks: str | int = "paper") -> ReproductionTable:
    """course_lib.rl.reproduction.evaluate_reproduction, with its figure: returns against steps per model."""
    table = evaluate_reproduction(env, models, steps, episodes, seed, n_tasks, tasks)
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
