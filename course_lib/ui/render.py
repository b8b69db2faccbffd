"""Seeing a locomotion policy: one rendered episode → frames → an animated GIF, headless on a CPU.

    rendering_available()                       can this machine render? (cached; False with a reason)
    render_episode(policy, params, env, task)   one episode of a Gaussian policy → Clip (frames, rewards)
    gif_bytes(frames, fps)                      frames [F, h, w, 3] → an animated GIF
    side_by_side({"before": clip, …})           clips next to each other, as IPython HTML

MuJoCo draws off-screen through OpenGL. Without a display (a server, CI, a container) the portable
choice is OSMesa, software OpenGL (Debian/Ubuntu: `apt-get install libosmesa6`): set below.
"""
from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import gc
import html
import io
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field

# Gymnasium's MuJoCo renderer reads MUJOCO_GL when it draws its first frame, so setting it here — before
# any frame — is enough for it; it need not precede `import mujoco`. (MuJoCo's own `mujoco.Renderer`,
# not used here, picks its backend at `import mujoco`: for that one, set MUJOCO_GL in the shell.)
# Only on Linux: MuJoCo rejects 'osmesa' on macOS (CGL) and Windows (WGL). A value you set yourself,
# e.g. MUJOCO_GL=egl on a machine with a GPU, is kept.
if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np

from ..functional import batched
from ..rl.envs import ENVS
from ..rl.mujoco_sampler import mlp_mean, policy_layers
from ..validation import check_choice, check_int, check_range

HORIZON = 200
SIZE = (240, 160)          # width × height of a frame, in pixels
CAMERA = "track"           # the cheetah's and the ant's side camera, following the centre of mass
MUJOCO_ENVS = tuple(name for name, spec in ENVS.items() if spec.mujoco is not None)


# --------------------------------------------------------------------------------------------------
# can we render?
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderCheck:
    """`bool(check)` is whether MuJoCo can render off-screen here; `reason` says why (not)."""
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


@functools.lru_cache(maxsize=1)
def rendering_available() -> RenderCheck:
    """Try once to render one small frame (cached: `rendering_available.cache_clear()` to retry)."""
    from ..tasks.locomotion import HalfCheetahVel

    backend = os.environ.get("MUJOCO_GL")
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _: None     # a viewer whose OpenGL context failed complains when collected,
    env = None
    with warnings.catch_warnings():         # and glfw warns when there is no display: the reason says it all
        warnings.simplefilter("ignore")
        try:
            env = HalfCheetahVel(task=1.0, render_mode="rgb_array", width=32, height=24, camera_name=CAMERA)
            env.reset(seed=0)
            frame = env.render()
            if not isinstance(frame, np.ndarray) or frame.shape != (24, 32, 3):
                raise RuntimeError(f"expected a 24×32 RGB frame, got {getattr(frame, 'shape', frame)!r}")
            check = RenderCheck(True, f"MuJoCo renders off-screen (MUJOCO_GL={backend!r})")
        except Exception as err:   # any failure means "no rendering here", never a crash
            check = RenderCheck(False, f"MuJoCo cannot render off-screen here (MUJOCO_GL={backend!r}): "
                                       f"{type(err).__name__}: {str(err).rstrip('.')}. Headless Linux needs "
                                       f"OSMesa (Debian/Ubuntu: apt-get install libosmesa6); with a GPU, "
                                       f"MUJOCO_GL=egl.")
        finally:
            _close(env)
            del env
            gc.collect()                    # the failed viewer goes now, while the hook is quiet
            sys.unraisablehook = hook
    return check


def _close(env) -> None:
    try:
        if env is not None:
            env.close()
    except Exception:
        pass


# --------------------------------------------------------------------------------------------------
# one rendered episode
# --------------------------------------------------------------------------------------------------
@dataclass
class Clip:
    """One rendered episode: every `every`-th frame, and the reward and forward velocity of every step."""
    env: str
    task: float
    frames: np.ndarray = field(repr=False)      # [F, height, width, 3] uint8: the start, then every `every` steps
    rewards: np.ndarray                         # [steps] reward of every step
    x_velocity: np.ndarray                      # [steps] forward velocity v_x (m/s) of every step
    dt: float                                   # seconds of simulated time per step
    every: int

    @property
    def total_return(self) -> float:
        return float(self.rewards.sum())

    @property
    def fps(self) -> float:
        """Frames per second that play the clip in real time."""
        return 1.0 / (self.dt * self.every)

    def gif(self) -> bytes:
        return gif_bytes(self.frames, self.fps)

    def html(self, caption: str = "") -> str:
        """An <img> with the GIF inline (and a caption under it)."""
        src = "data:image/gif;base64," + base64.b64encode(self.gif()).decode("ascii")
        h, w = self.frames.shape[1:3]
        text = f"<figcaption style='font-size:90%'>{html.escape(caption)}</figcaption>" if caption else ""
        return (f"<figure style='display:inline-block;margin:0 12px 8px 0;vertical-align:top'>"
                f"<img src='{src}' width='{w}' height='{h}'>{text}</figure>")

    def _repr_html_(self) -> str:
        return self.html(f"return {self.total_return:.1f}")


def render_episode(policy, params: dict, env: str, task, *, index: int = 0, deterministic: bool = True,
                   seed: int = 0, every: int = 4, size: tuple[int, int] = SIZE, horizon: int = HORIZON,
                   normalize_actions: bool = True, render_frames: bool = True) -> Clip:
    """Roll out one episode of a GaussianPolicy in MuJoCo task `task` of `env`, rendering every `every`-th step.

    params: the policy's parameters, single or task-batched (leading dim T; `index` picks the task's).
    deterministic: act with the mean μ(s) (True) or sample a ~ N(μ(s), σ²) (False, with `seed`).
    env ∈ MUJOCO_ENVS; task: a velocity in the env's range (halfcheetah_vel: [0, 2]) or a direction
    ±1; `seed` also fixes the initial state (reset(seed=seed), as the sampler's episode 0 with seed 0).
    normalize_actions: the policy acts in [−1, 1], the env gets max_action · clip(a, −1, 1), as in training.
    An oracle policy (one more input than the env's observation) is shown its task.
    render_frames=False: the same episode without frames (no OpenGL needed), e.g. for its velocities.
    """
    task = check_task(env, task)
    spec = ENVS[env]
    check_int(every, "every", 1)
    check_int(horizon, "horizon", 1)
    check_int(seed, "seed", 0)
    if not (isinstance(size, tuple) and len(size) == 2):
        raise ValueError(f"size must be a (width, height) tuple, got {size!r}")
    check_int(size[0], "size[0] (width)", 16, 1024)
    check_int(size[1], "size[1] (height)", 16, 1024)
    single = params["log_std"].dim() == 1
    n_tasks = 1 if single else params["log_std"].shape[0]
    check_int(index, "index", 0, n_tasks - 1)
    if render_frames and not rendering_available():
        raise RuntimeError(rendering_available().reason)

    layers, log_std = policy_layers(batched(params, 1) if single else params, n_tasks)
    layers = [(w[index:index + 1], b[index:index + 1]) for w, b in layers]
    std = np.exp(log_std[index])
    oracle = policy.obs_dim == spec.obs_dim + 1
    rng = np.random.default_rng(seed)

    with _LOCK:                           # one episode at a time on the shared env, whichever thread asks
        sim = _render_env(spec.mujoco, *size)
        with _drawing(sim) if render_frames else contextlib.nullcontext():
            sim.set_task(task)
            obs, _ = sim.reset(seed=seed)
            frames, rewards, velocities = [sim.render()] if render_frames else [], [], []
            for t in range(horizon):
                x = np.append(obs, task) if oracle else obs
                action = mlp_mean(layers, x[None, None])[0, 0]
                if not deterministic:
                    action = action + std * rng.standard_normal(action.shape)
                if normalize_actions:
                    action = spec.max_action * np.clip(action, -1.0, 1.0)
                obs, reward, terminated, _, info = sim.step(action)
                rewards.append(reward)
                velocities.append(info["x_velocity"])
                if render_frames and ((t + 1) % every == 0 or terminated or t == horizon - 1):
                    frames.append(sim.render())
                if terminated:
                    break
    frames = np.stack(frames) if frames else np.zeros((0, size[1], size[0], 3), np.uint8)
    return Clip(env, task, frames, np.array(rewards), np.array(velocities), float(sim.dt), every)


def check_task(env: str, task) -> float:
    """`task` as a float if it is one of `env`'s tasks, else a ValueError naming `task` and the allowed values."""
    from ..tasks.locomotion import LOCOMOTION_ENVS, VelocityGoals

    check_choice(env, "env", MUJOCO_ENVS)
    distribution = LOCOMOTION_ENVS[ENVS[env].mujoco].distribution
    if isinstance(distribution, VelocityGoals):
        check_range(task, "task", distribution.low, distribution.high)
    return distribution.check(task)          # a direction: -1 or +1 (the error names `task`)


_ENVS: dict[tuple, object] = {}
_LOCK = threading.RLock()


def _render_env(name: str, width: int, height: int):
    """One rendering env per (class, size), kept: its OpenGL context is the slow part to create."""
    key = (name, width, height)
    if key not in _ENVS:
        from ..tasks.locomotion import LOCOMOTION_ENVS
        if not _ENVS:
            atexit.register(lambda: [_close(e) for e in _ENVS.values()])
        _ENVS[key] = LOCOMOTION_ENVS[name](render_mode="rgb_array", width=width, height=height, camera_name=CAMERA)
    return _ENVS[key]


@contextlib.contextmanager
def _drawing(sim):
    """Make `sim`'s own OpenGL context current on this thread while it draws; afterwards the thread's
    previous context (or none) is current again.

    An OpenGL context is current per *thread*, and gymnasium makes a viewer's context current once, on the
    thread that creates it (and then only if the env has viewers of several render modes). Drawing on
    any other thread — as when ipykernel ≥ 7 runs a widget's callback on a subshell's thread, which
    JupyterLab uses for widget messages — finds no context current: MuJoCo then draws nothing and reads
    back black frames, without an error. And with two envs, the second one's context stays current while
    the first one draws (which works only because both contexts happen to hold the same objects).
    """
    renderer = sim.unwrapped.mujoco_renderer
    if renderer.viewer is None:
        sim.render()                      # creates the viewer and its context (current on this thread)
    context = renderer.viewer.opengl_context
    current = getattr(context, "as_current", None)     # mujoco's GLContexts; without it, make_current
    if current is None:
        context.make_current()
        yield
    else:
        with current():
            yield


# --------------------------------------------------------------------------------------------------
# frames → GIF → notebook
# --------------------------------------------------------------------------------------------------
def gif_bytes(frames: np.ndarray, fps: float = 10.0, colors: int = 128) -> bytes:
    """An animated, looping GIF of frames [F, height, width, 3] (uint8), shown at `fps` frames per second.

    One palette of `colors` colours for all frames (from a sample of them, no dithering): about half the
    bytes of a palette per frame, and no flicker between frames.
    """
    from PIL import Image   # imageio's image backend

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be a uint8 array [F ≥ 1, height, width, 3], got {frames.dtype} "
                         f"{frames.shape}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 100:
        raise ValueError(f"fps must be a number in (0, 100], got {fps!r}")
    check_int(colors, "colors", 2, 256)
    sample = frames[:: max(1, len(frames) // 8)]
    palette = Image.fromarray(np.concatenate(list(sample), axis=0)).quantize(colors, dither=Image.Dither.NONE)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0, optimize=True)
    return buffer.getvalue()


def side_by_side(clips: dict):
    """IPython HTML showing the clips {caption: Clip} in a row, each with its caption."""
    from IPython.display import HTML

    return HTML("<div>" + "".join(clip.html(caption) for caption, clip in clips.items()) + "</div>")

