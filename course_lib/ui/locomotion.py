"""MuJoCo locomotion front-end (notebook 08): adapt the shipped half-cheetah policy to one task and watch it.

The same pattern as `course_lib.ui.navigation`: a pure function returns the numbers, the clips and a
closed matplotlib figure; the widget is a thin `ipywidgets.interactive` whose `.result` is the pure
function's latest return value.

    locomotion_adaptation(env, task, α, …)   returns after 0..k policy-gradient steps on one task, and
                                             clips of the cheetah before and after one step
    locomotion_widget(…)                     the task family, its task (velocity, or direction ±1) and α;
                                             a "computing…" line while a new setting is computed
    is_cached(env, task, α, …)               whether locomotion_adaptation would return at once
    training_command(checkpoint)             the command line that trained a checkpoint, to resume it

Adaptation is the paper's test protocol (`course_lib.rl.evaluate.adaptation_steps`): per step, fresh
episodes with the current policy, a linear baseline, one REINFORCE step — α first, α/2 after.
The clips show the policy's *mean* action μ(s) (no exploration noise), from one fixed start state.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .. import checkpoints
from ..rl.evaluate import adaptation_steps, reference_returns, step_alphas
from ..rl.reproduction import load_cached
from ..validation import check_alpha, check_choice, check_int, check_range
from . import plots, render
from .interact import alpha_slider, controls
from .plots import PG_STEPS_LABEL, RETURN_LABEL
from .render import Clip, check_task, render_episode, rendering_available, side_by_side

ALPHA_RANGE = (0.01, 1.0)     # the α slider's range (log scale); the pure function accepts any α > 0
MAX_STEPS = 3                 # the paper reports 0–3 steps
DIRECTIONS = (("backwards (−1)", -1.0), ("forwards (+1)", 1.0))
CHEETAH = ("halfcheetah_vel", "halfcheetah_dir")
VELOCITY_UNIT = "m/s"


def task_kind(env: str) -> str:
    """'velocity' or 'direction'."""
    return "direction" if env.endswith("_dir") else "velocity"


def _checkpoint_path(env: str, checkpoint) -> Path:
    """None → the shipped <env>_maml.pt; else an existing path (or a shipped name)."""
    if checkpoint is None:
        checkpoint = f"{env}_maml"
    if isinstance(checkpoint, str) and Path(checkpoint).suffix != ".pt":
        if not (checkpoints.SHIPPED / f"{checkpoint}.pt").exists():
            raise ValueError(f"checkpoint must be a shipped name or an existing .pt file, got {checkpoint!r} "
                             f"(not shipped yet; train it with: {training_command_for(env)})")
        return checkpoints.shipped(checkpoint)
    path = Path(checkpoint)
    if not path.exists():
        raise ValueError(f"checkpoint must be a shipped name or an existing .pt file, got {str(checkpoint)!r}")
    return path


# --------------------------------------------------------------------------------------------------
# the pure function
# --------------------------------------------------------------------------------------------------
@dataclass
class LocomotionAdaptation:
    env: str
    task: float
    alphas: tuple[float, ...]           # the step size of every adaptation step
    episodes: int
    seed: int
    returns: np.ndarray                 # [steps + 1, episodes] return of every episode after 0..steps steps
    clips: dict[str, Clip]              # "before" / "after 1 step": one episode with the mean action
    rendered: bool                      # whether the clips have frames (else only their velocities)
    render_note: str                    # why not, if not
    paper: list[float]                  # the paper's MAML mean return per step, over its 40 tasks
    checkpoint: str
    figure: plt.Figure = field(repr=False)

    @property
    def steps(self) -> int:
        return self.returns.shape[0] - 1

    @property
    def mean_returns(self) -> np.ndarray:
        """Mean return per episode after 0..steps policy-gradient steps."""
        return self.returns.mean(1)

    def task_text(self) -> str:
        if task_kind(self.env) == "direction":
            return dict((v, k) for k, v in DIRECTIONS)[self.task].replace("(", "(direction ")
        return f"target velocity {self.task:.2f} {VELOCITY_UNIT}"

    def summary(self, decimals: int = 1) -> str:
        lines = [f"{self.env}, {self.task_text()}; {self.episodes} episodes per step, seed {self.seed}",
                 f"{'':>6} {'α':>7} {RETURN_LABEL:>24} {'paper (40 tasks)':>17}"]
        for s, m in enumerate(self.mean_returns):
            a = f"{self.alphas[s - 1]:.3g}" if s else "—"
            p = f"{self.paper[s]:17.{decimals}f}" if s < len(self.paper) else f"{'—':>17}"
            lines.append(f"{f'step {s}':>6} {a:>7} {m:24.{decimals}f} {p}")
        for name, clip in self.clips.items():
            lines.append(f"clip {name}: return {clip.total_return:.{decimals}f}, mean forward velocity "
                         f"{clip.x_velocity.mean():+.2f} {VELOCITY_UNIT}")
        if not self.rendered:
            lines.append(f"no video: {self.render_note}")
        return "\n".join(lines)

    def show_clips(self):
        """The clips side by side (IPython HTML), or None without rendering."""
        if not self.rendered:
            return None
        return side_by_side({f"{name}: return {clip.total_return:.1f}": clip for name, clip in self.clips.items()})


def locomotion_adaptation(env: str = "halfcheetah_vel", task: float = 1.0, alpha: float | None = 0.1,
                          steps: int = 1, episodes: int = 20, seed: int = 0, render_clips: bool = True,
                          every: int = 4, checkpoint=None) -> LocomotionAdaptation:
    """Adapt the shipped MAML policy of `env` to one task; returns per step and clips before/after one step.

    env ∈ {'halfcheetah_vel', 'halfcheetah_dir', 'ant_vel', 'ant_dir'}; task: the goal velocity (m/s,
    halfcheetah_vel: [0, 2]) or the direction (−1 or +1); alpha > 0 the first step's size, α/2 the later
    ones' (None: the policy's training α); steps ∈ [1, 3], each on `episodes` ∈ [1, 200] fresh episodes;
    `seed` fixes the noise. render_clips: make GIF frames (needs OpenGL; without it the clips keep their
    velocities and rewards, and `render_note` says why). every: keep every k-th frame. checkpoint: None
    (the shipped <env>_maml.pt), a shipped name, or a path.
    """
    key = _key(env, task, alpha, steps, episodes, seed, render_clips, every, checkpoint)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    result = _adapt(*key)
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


# The last results, so that moving a slider back to an earlier value is instant (a result holds its clips'
# frames: about 12 MB each). The key holds the checkpoint's mtime: a retrained checkpoint is not stale.
CACHE_SIZE = 8
_CACHE: OrderedDict[tuple, LocomotionAdaptation] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _key(env, task, alpha, steps, episodes, seed, render_clips, every, checkpoint) -> tuple:
    """_adapt's arguments, checked: the cache key."""
    task, path = _checked(env, task, alpha, steps, episodes, seed, every, checkpoint)
    check = rendering_available() if render_clips else render.RenderCheck(False, "rendering was switched off")
    return (str(path), path.stat().st_mtime_ns, env, task, None if alpha is None else float(alpha), steps, episodes,
            seed, every, check)


def is_cached(env: str = "halfcheetah_vel", task: float = 1.0, alpha: float | None = 0.1, steps: int = 1,
              episodes: int = 20, seed: int = 0, render_clips: bool = True, every: int = 4, checkpoint=None) -> bool:
    """Whether `locomotion_adaptation` with these arguments returns at once (from the cache)."""
    key = _key(env, task, alpha, steps, episodes, seed, render_clips, every, checkpoint)
    with _CACHE_LOCK:
        return key in _CACHE


def _checked(env, task, alpha, steps, episodes, seed, every, checkpoint) -> tuple[float, Path]:
    """(task as a float, checkpoint path), or a ValueError naming the bad argument and its range."""
    task = check_task(env, task)
    if alpha is not None:
        check_alpha(alpha)
    check_int(steps, "steps", 1, MAX_STEPS)
    check_int(episodes, "episodes", 1, 200)
    check_int(seed, "seed", 0)
    check_int(every, "every", 1, 200)
    return task, _checkpoint_path(env, checkpoint)


def _adapt(path: str, mtime_ns: int, env: str, task: float, alpha, steps: int, episodes: int, seed: int,
           every: int, check: render.RenderCheck) -> LocomotionAdaptation:
    policy, theta, config = load_cached(path)
    if config.env != env:
        raise ValueError(f"checkpoint must be a {env} policy, got one for {config.env!r} ({path})")
    schedule = step_alphas(config.alpha if alpha is None else alpha, steps)
    params, returns = [], []
    for p, batch in adaptation_steps(policy, theta, config, np.array([task]), steps, episodes, schedule, seed):
        params.append(p)
        returns.append(batch.total_return()[0].numpy())

    clips = {name: render_episode(policy, params[s], env, task, seed=seed, every=every,
                                  normalize_actions=config.normalize_actions, render_frames=bool(check))
             for name, s in (("before", 0), ("after 1 step", 1))}
    reference = reference_returns(env).get("maml", [])
    result = LocomotionAdaptation(env, task, schedule, episodes, seed, np.stack(returns), clips, bool(check),
                                  "" if check else check.reason, [float(np.mean(r)) for r in reference[:steps + 1]],
                                  str(path), figure=None)
    result.figure = _figure(result)
    return result


LEGEND = dict(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.17), frameon=False, borderaxespad=0.0)


def _figure(result: LocomotionAdaptation) -> plt.Figure:
    """Left: v_x during the clips' episodes; right: the returns after 0..k steps. The legends sit under the
    panels, so that they cover neither a curve nor the text that says what is rewarded."""
    fig, (left, right) = plots.new_figure(ncols=2, width=4.6, height=4.3)
    color = plots.color_for("maml")
    if task_kind(result.env) == "velocity":
        left.axhline(result.task, color="black", ls="--", lw=1.5, label=f"target {result.task:.2f} {VELOCITY_UNIT}")
    for (name, clip), style in zip(result.clips.items(), (dict(lw=1.0, alpha=0.6, ls="--"), dict(lw=1.6))):
        t = clip.dt * np.arange(1, len(clip.x_velocity) + 1)
        left.plot(t, clip.x_velocity, color=color, label=f"{name} (return {clip.total_return:.1f})", **style)
    if task_kind(result.env) == "direction":     # the rewarded half, shaded (in the legend, not over the curves)
        left.axhline(0.0, color="black", lw=0.8)
        low, high = left.get_ylim()
        forwards = result.task > 0
        left.axhspan(0.0, high if forwards else low, color="tab:green", alpha=0.12, lw=0, zorder=0,
                     label=f"rewarded: {'forwards, $v_x > 0$' if forwards else 'backwards, $v_x < 0$'}")
        left.set_ylim(low, high)
    left.set_xlabel("time (s)")
    left.set_ylabel(f"forward velocity $v_x$ ({VELOCITY_UNIT})")
    left.set_title("the clips' episodes (mean action)", fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    first = len(handles) - 1 if task_kind(result.env) == "direction" else 0     # the task's line or band first
    order = [first] + [i for i in range(len(handles)) if i != first]
    left.legend([handles[i] for i in order], [labels[i] for i in order], **LEGEND)

    steps = np.arange(result.steps + 1)
    jitter = np.linspace(-0.08, 0.08, result.returns.shape[1])
    for s in steps:
        right.scatter(s + jitter, result.returns[s], s=6, color=color, alpha=0.35, lw=0,
                      label="one episode (sampled actions)" if s == 0 else None)
    right.plot(steps, result.mean_returns, marker="o", color=color, label="mean over the episodes")
    if result.paper:
        right.plot(np.arange(len(result.paper)), result.paper, marker="s", mfc="none", ls=":", color="black",
                   label="paper: MAML, mean of its 40 tasks")
    right.set_xticks(steps)
    right.set_xlabel(PG_STEPS_LABEL)
    right.set_ylabel(f"{RETURN_LABEL} (sum of rewards)")
    right.set_title(f"{result.task_text()}: {result.episodes} episodes per step", fontsize=10)
    right.legend(**LEGEND)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------------------------------
# the widget
# --------------------------------------------------------------------------------------------------
def locomotion_widget(env: str = "halfcheetah_vel", velocity: float = 1.0, direction: float = 1.0,
                      alpha: float = 0.1, steps: int = 1, episodes: int = 20, seed: int = 0, every: int = 4,
                      checkpoints: Mapping | None = None, alpha_range: tuple[float, float] = ALPHA_RANGE):
    """Buttons for the task family, a slider for the target velocity, buttons for the direction, and a
    log-scale slider for α over `alpha_range`; each change re-runs `locomotion_adaptation`, and while a
    setting not in its cache is computed (seconds) the line `.busy` above the output says "computing…".

    checkpoints: task family → checkpoint (a path or shipped name; at most one velocity and one direction
    family); default: the shipped MAML policies of both half-cheetah families. The other arguments are
    the initial values and `locomotion_adaptation`'s.
    """
    import ipywidgets as w

    paths = dict(checkpoints) if checkpoints is not None else {name: None for name in CHEETAH}
    kinds = [task_kind(name) for name in paths]
    if not paths or len(set(kinds)) != len(kinds):
        raise ValueError(f"checkpoints must map at most one velocity and one direction task family to a "
                         f"checkpoint, got {list(paths)}")
    check_choice(env, "env", tuple(paths))
    by_kind = dict(zip(kinds, paths))
    low, high = (0.0, 0.0) if "velocity" not in by_kind else _velocity_range(by_kind["velocity"])
    if "velocity" in by_kind:
        check_range(velocity, "velocity", low, high)
    if "direction" in by_kind and direction not in (-1, 1):
        raise ValueError(f"direction must be -1 or +1, got {direction!r}")
    for name, checkpoint in paths.items():       # fail now, not inside the callback
        _checked(name, direction if task_kind(name) == "direction" else velocity, alpha, steps, episodes, seed,
                 every, checkpoint)
    style = {"description_width": "initial"}
    family = w.ToggleButtons(options=[(f"{task_kind(n)} ({n})", n) for n in paths], value=env,
                             description="task family", style=style)
    velocity_slider = w.FloatSlider(value=velocity, min=low, max=high, step=0.1, continuous_update=False,
                                    description=f"target velocity ({VELOCITY_UNIT})", style=style)
    direction_buttons = w.ToggleButtons(options=list(DIRECTIONS), value=float(direction), description="direction",
                                        style=style)

    # While a new setting is computed (seconds; a setting tried before comes from the cache at once), the
    # old output stays until the new one replaces it: this line says that work is under way.
    busy = w.HTML(value="", layout=w.Layout(min_height="1.8em"))
    busy.add_class("locomotion-busy")

    def show(env, velocity, direction, alpha):
        from IPython.display import display
        is_direction = task_kind(env) == "direction"
        velocity_slider.disabled, direction_buttons.disabled = is_direction, not is_direction
        args = (env, direction if is_direction else velocity, alpha, steps, episodes, seed, True, every, paths[env])
        if not is_cached(*args):
            busy.value = BUSY_HTML.format(steps=steps, episodes=episodes)
        try:
            result = locomotion_adaptation(*args)
        finally:
            busy.value = ""
        clips = result.show_clips()
        if clips is not None:
            display(clips)
        display(result.figure)
        print(result.summary())
        return result

    ui = w.interactive(
        show, env=family, velocity=velocity_slider, direction=direction_buttons,
        alpha=alpha_slider(alpha, alpha_range),
    )
    ui.children = (*ui.children[:-1], busy, ui.children[-1])      # between the controls and the output
    ui.busy = busy
    return ui


BUSY_HTML = ("<span style='color:#8a5a00'>⏳ <b>computing…</b> adapting the policy ({steps} steps × {episodes} "
             "episodes) and rendering two clips: a few seconds. The output below is the previous setting's "
             "until then.</span>")


def _velocity_range(env: str) -> tuple[float, float]:
    from ..tasks.locomotion import LOCOMOTION_ENVS
    goals = LOCOMOTION_ENVS[render.ENVS[env].mujoco].distribution
    return goals.low, goals.high


# --------------------------------------------------------------------------------------------------
# how a checkpoint was trained
# --------------------------------------------------------------------------------------------------
def training_command(checkpoint) -> str:
    """The command line that trained `checkpoint` (a shipped name or a path; saved in it by
    `python -m course_lib train`), with `--resume`: it continues the run from its `--out`. A run repeats
    bit for bit only with the torch thread count it had (`--threads`, default 1)."""
    path = checkpoints.shipped(checkpoint) if isinstance(checkpoint, str) and Path(checkpoint).suffix != ".pt" \
        else Path(checkpoint)
    command = checkpoints.load_checkpoint(path).get("command")
    if not command:
        raise ValueError(f"checkpoint {path} holds no command line (it was not trained by "
                         "`python -m course_lib train`)")
    return command if " --resume" in command else f"{command} --resume"


def training_command_for(env: str, algo: str = "maml") -> str:
    """The command for a checkpoint that does not exist yet (the paper's settings, the defaults)."""
    return f"python -m course_lib train {env} --algo {algo} --out runs/mujoco/{env}_{algo}.pt --resume"


__all__ = ["LocomotionAdaptation", "locomotion_adaptation", "locomotion_widget", "is_cached", "training_command",
           "training_command_for", "task_kind", "controls"]
