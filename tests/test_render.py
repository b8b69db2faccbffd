"""Headless rendering of the locomotion tasks (course_lib.ui.render): frames, GIFs, the fallback without
OpenGL, and that a clip shows the very policy the sampler runs."""
import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.functional import batched, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.ui import render as R
from course_lib.rl.mujoco_sampler import MujocoSampler

AVAILABLE = R.rendering_available()
needs_rendering = pytest.mark.skipif(not AVAILABLE, reason=f"no off-screen rendering here: {AVAILABLE.reason}")


def cheetah_policy(n_tasks=None, log_std=0.0, seed=0):
    torch.manual_seed(seed)
    policy = GaussianPolicy(17, 6, hidden=(16, 16))
    theta = parameters_of(policy)
    theta = {k: (v + 0.5 * torch.randn_like(v)).detach() for k, v in theta.items()}   # a policy that moves
    theta["log_std"] = torch.full_like(theta["log_std"], log_std)
    return policy, theta if n_tasks is None else batched(theta, n_tasks)


def test_rendering_is_available_on_linux_with_osmesa():
    """The workbook's machines (and CI) render headless; where this fails, the notebook falls back."""
    if os.environ.get("MUJOCO_GL") != "osmesa":
        pytest.skip(f"MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} was chosen by the user")
    assert AVAILABLE, AVAILABLE.reason
    assert "osmesa" in AVAILABLE.reason


@needs_rendering
def test_frames_have_the_right_shape_and_show_motion():
    policy, theta = cheetah_policy()
    clip = R.render_episode(policy, theta, "halfcheetah_vel", 1.0, every=5, size=(64, 48), horizon=20)
    assert clip.frames.shape == (1 + 20 // 5, 48, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.rewards.shape == (20,) and clip.x_velocity.shape == (20,)
    assert clip.frames.std() > 10                                            # not a blank image
    assert np.abs(np.diff(clip.frames.astype(int), axis=0)).mean() > 0.5       # the cheetah moves
    assert clip.fps == pytest.approx(1 / (clip.dt * 5)) and clip.dt == pytest.approx(0.01)   # the paper's 0.01 s step
    # the last step is always shown, also when the horizon is not a multiple of `every`
    short = R.render_episode(policy, theta, "halfcheetah_vel", 1.0, every=8, size=(32, 24), horizon=10)
    assert short.frames.shape[0] == 3                                          # t = 0, 8, 10


@needs_rendering
def test_gif_is_an_animation_of_the_frames():
    policy, theta = cheetah_policy()
    clip = R.render_episode(policy, theta, "halfcheetah_dir", -1, every=4, size=(64, 48), horizon=16)
    data = clip.gif()
    assert data[:6] == b"GIF89a" and len(data) > 1000
    image = Image.open(io.BytesIO(data))
    assert image.n_frames == clip.frames.shape[0] == 5 and image.size == (64, 48)
    assert image.info["duration"] == round(1000 / clip.fps) and image.info["loop"] == 0
    image.seek(2)
    decoded = np.asarray(image.convert("RGB"), dtype=int)
    assert np.abs(decoded - clip.frames[2]).mean() < 12                       # 128 colours, close to the frame
    html = R.side_by_side({"before": clip, "after": clip}).data
    assert html.count("data:image/gif;base64,") == 2 and "before" in html and "after" in html


@needs_rendering
def test_clip_is_the_samplers_policy_on_the_samplers_start_state():
    """Mean actions (σ ≈ 0 in the sampler) from reset(seed=0): the same rewards, step for step."""
    policy, theta = cheetah_policy(n_tasks=2, log_std=-30.0)
    theta = {k: v + torch.arange(2.0).view(2, *[1] * (v.dim() - 1)) * 0.1 for k, v in theta.items()}  # 2 policies
    with MujocoSampler("HalfCheetahVel", workers=1, horizon=15) as sampler:
        episodes = sampler.sample(theta, [0.5, 1.5], 1, seed=0, max_action=1.0)
    for i, task in enumerate((0.5, 1.5)):
        clip = R.render_episode(policy, theta, "halfcheetah_vel", task, index=i, size=(32, 24), horizon=15)
        np.testing.assert_allclose(clip.rewards, episodes.rewards[i, 0].numpy(), rtol=1e-4, atol=1e-4)
    other = R.render_episode(policy, theta, "halfcheetah_vel", 1.5, index=0, size=(32, 24), horizon=15)
    assert not np.allclose(other.rewards, episodes.rewards[1, 0].numpy(), atol=1e-3)   # index matters


def _blank_frames(clip) -> list[int]:
    """Indices of the clip's frames that are one flat colour (black: nothing was drawn)."""
    flat = clip.frames.reshape(len(clip.frames), -1)
    return [i for i, f in enumerate(flat) if f.std() < 1.0]


def _in_thread(fn):
    """fn() in a new thread, as ipykernel 7 runs a widget's callback when JupyterLab sends the widget's
    message on a subshell: a thread where no OpenGL context is current."""
    import threading
    result = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as err:   # re-raised in the caller
            result["error"] = err
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


@needs_rendering
def test_repeated_episodes_render_in_any_thread_and_any_order():
    """Notebook 08's widget renders one family, then the other, then again — each call possibly on another
    thread (JupyterLab's widget messages may arrive on an ipykernel subshell). OpenGL contexts are current per
    thread and gymnasium makes a viewer's context current only when it creates it: without care, a clip drawn
    on another thread (or after the other family's viewer was created) was silently black."""
    policy, theta = cheetah_policy()
    calls = [("halfcheetah_dir", 1.0, False), ("halfcheetah_vel", 1.5, False), ("halfcheetah_dir", -1.0, True),
             ("halfcheetah_vel", 2.0, True), ("halfcheetah_vel", 1.0, False), ("halfcheetah_dir", 1.0, True),
             ("halfcheetah_dir", 1.0, False)]
    reference = {}
    for env, task, threaded in calls:
        def render(env=env, task=task):
            return R.render_episode(policy, theta, env, task, every=5, size=(64, 48), horizon=20)
        clip = _in_thread(render) if threaded else render()
        where = f"{env} task {task} {'in another thread' if threaded else 'in the main thread'}"
        assert not _blank_frames(clip), f"{where}: blank frames {_blank_frames(clip)} of {len(clip.frames)}"
        # the same episode gives the same pictures, whichever thread and order drew it
        if (env, task) in reference:
            assert np.abs(clip.frames.astype(int) - reference[env, task]).mean() < 1.0, where
        reference[env, task] = clip.frames.astype(int)


def test_without_frames_the_episode_needs_no_opengl(monkeypatch):
    policy, theta = cheetah_policy(log_std=0.5)
    monkeypatch.setattr(R, "rendering_available", lambda: R.RenderCheck(False, "no GL in this test"))
    with pytest.raises(RuntimeError, match="no GL in this test"):
        R.render_episode(policy, theta, "halfcheetah_vel", 1.0, horizon=5)
    a = R.render_episode(policy, theta, "halfcheetah_vel", 1.0, horizon=12, render_frames=False, deterministic=False)
    b = R.render_episode(policy, theta, "halfcheetah_vel", 1.0, horizon=12, render_frames=False, deterministic=False,
                         seed=1)
    assert a.frames.shape == (0, 160, 240, 3) and a.rewards.shape == (12,)
    assert not np.allclose(a.rewards, b.rewards)                                 # sampled actions follow the seed
    # the paper's reward: −|v_x − v*| − 0.05‖a‖² ≤ −|v_x − v*|
    assert np.all(a.rewards <= -np.abs(a.x_velocity - 1.0) + 1e-12)


def test_a_failing_backend_is_reported_not_raised(monkeypatch):
    R.rendering_available.cache_clear()
    monkeypatch.setenv("MUJOCO_GL", "no_such_backend")
    try:
        check = R.rendering_available()
        assert not check and "no_such_backend" in check.reason and "libosmesa6" in check.reason
    finally:
        monkeypatch.undo()
        R.rendering_available.cache_clear()
    assert bool(R.rendering_available()) == bool(AVAILABLE)


@pytest.mark.parametrize("env,task,kwargs,match", [
    ("halfcheetah_vel", 2.5, {}, "task"), ("halfcheetah_vel", -0.1, {}, "task"),
    ("halfcheetah_vel", float("nan"), {}, "task"), ("halfcheetah_dir", 0.5, {}, "task"),
    ("halfcheetah_dir", 0, {}, "task"), ("cheetah", 1.0, {}, "env"), ("navigation2d", 1.0, {}, "env"),
    ("halfcheetah_vel", 1.0, dict(every=0), "every"), ("halfcheetah_vel", 1.0, dict(horizon=0), "horizon"),
    ("halfcheetah_vel", 1.0, dict(size=(8, 48)), "width"), ("halfcheetah_vel", 1.0, dict(size=64), "size"),
    ("halfcheetah_vel", 1.0, dict(index=1), "index"), ("halfcheetah_vel", 1.0, dict(seed=-1), "seed"),
])
def test_bad_arguments_name_the_argument(env, task, kwargs, match):
    policy, theta = cheetah_policy()
    with pytest.raises(ValueError, match=match):
        R.render_episode(policy, theta, env, task, **kwargs)


@pytest.mark.parametrize("frames,fps,match", [
    (np.zeros((3, 8, 8, 3), np.float32), 10, "frames"), (np.zeros((0, 8, 8, 3), np.uint8), 10, "frames"),
    (np.zeros((3, 8, 8), np.uint8), 10, "frames"), (np.zeros((3, 8, 8, 3), np.uint8), 0, "fps"),
    (np.zeros((3, 8, 8, 3), np.uint8), float("inf"), "fps"),
])
def test_gif_bad_arguments(frames, fps, match):
    with pytest.raises(ValueError, match=match):
        R.gif_bytes(frames, fps)
