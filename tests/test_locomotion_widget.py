"""The MuJoCo locomotion widget of notebook 08 (course_lib.ui.locomotion): the pure function's
numbers are the library's, the controls re-run it, bad input names the argument. Untrained
checkpoints keep it independent of the shipped weights; 2 episodes per step keep it fast."""
import shlex

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.ui import locomotion as L
from course_lib.ui import render as R
from course_lib.rl.evaluate import adaptation_returns, reference_returns
from course_lib.rl.config import default_rl_config, load_policy
from course_lib.rl.train import train_rl

needs_rendering = pytest.mark.skipif(not R.rendering_available(),
                                     reason=f"no off-screen rendering here: {R.rendering_available().reason}")
FAST = dict(episodes=2, every=50)       # 2 episodes per step, 5 frames per clip


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """Freshly initialised MAML policies (iteration 0, no sampling) for both cheetah tasks."""
    root = tmp_path_factory.mktemp("locomotion")
    paths = {}
    for env in ("halfcheetah_vel", "halfcheetah_dir"):
        config = default_rl_config(env, "maml", iterations=0, meta_batch=20, checkpoint_every=5)
        paths[env] = root / f"{env}_maml.pt"
        train_rl(config, out=paths[env], progress=False)
    return paths


@needs_rendering
def test_returns_clips_and_figure(untrained):
    r = L.locomotion_adaptation("halfcheetah_vel", 1.2, alpha=0.2, steps=2, seed=3,
                                checkpoint=untrained["halfcheetah_vel"], **FAST)
    assert r.returns.shape == (3, 2) and r.steps == 2 and r.alphas == (0.2, 0.1)
    assert r.rendered and r.render_note == ""
    assert list(r.clips) == ["before", "after 1 step"]
    for clip in r.clips.values():
        assert clip.frames.shape == (1 + 200 // 50, 160, 240, 3) and clip.task == 1.2
    html = r.show_clips().data
    assert html.count("<img") == 2 and "after 1 step" in html
    paper = reference_returns("halfcheetah_vel")["maml"]
    assert r.paper == pytest.approx([np.mean(paper[s]) for s in range(3)])
    assert isinstance(r.figure, plt.Figure)
    assert {ax.get_xlabel() for ax in r.figure.axes} == {"time (s)", L.PG_STEPS_LABEL}
    assert "step 2" in r.summary() and "target velocity 1.20 m/s" in r.summary()


def test_numbers_are_the_librarys_adaptation_returns(untrained):
    path = untrained["halfcheetah_dir"]
    r = L.locomotion_adaptation("halfcheetah_dir", -1, alpha=0.1, steps=1, seed=2, render_clips=False,
                                checkpoint=path, **FAST)
    policy, theta, config = load_policy(path)
    expected = adaptation_returns(policy, theta, config, np.array([-1.0]), 1, 2, alphas=(0.1,), seed=2)
    np.testing.assert_array_equal(r.mean_returns, expected[:, 0].numpy())
    assert not r.rendered and "switched off" in r.render_note and r.show_clips() is None
    assert r.clips["before"].frames.shape[0] == 0 and r.clips["before"].rewards.shape == (200,)
    assert "backwards" in r.summary() and "no video" in r.summary()


def test_alpha_changes_only_the_adapted_steps_and_the_task_changes_all(untrained):
    path = untrained["halfcheetah_vel"]
    args = dict(steps=1, seed=0, render_clips=False, checkpoint=path, **FAST)
    small, large = (L.locomotion_adaptation("halfcheetah_vel", 0.5, alpha=a, **args) for a in (0.01, 0.5))
    np.testing.assert_array_equal(small.returns[0], large.returns[0])           # the same episodes before
    assert not np.allclose(small.returns[1], large.returns[1])
    assert not np.allclose(small.clips["after 1 step"].rewards, large.clips["after 1 step"].rewards)
    other = L.locomotion_adaptation("halfcheetah_vel", 1.8, alpha=0.5, **args)
    assert not np.allclose(other.returns[0], large.returns[0])
    assert L.locomotion_adaptation("halfcheetah_vel", 0.5, alpha=0.5, **args) is large   # cached


def test_without_opengl_the_curves_remain(untrained, monkeypatch):
    monkeypatch.setattr(L, "rendering_available", lambda: R.RenderCheck(False, "no GL in this test"))
    r = L.locomotion_adaptation("halfcheetah_dir", 1, checkpoint=untrained["halfcheetah_dir"], **FAST)
    assert not r.rendered and r.render_note == "no GL in this test" and r.show_clips() is None
    assert r.clips["after 1 step"].x_velocity.shape == (200,) and isinstance(r.figure, plt.Figure)


def test_widget_controls_rerun_the_function(untrained):
    w = L.locomotion_widget("halfcheetah_vel", velocity=1.0, alpha=0.1, checkpoints=untrained, **FAST)
    ctl = L.controls(w)
    assert set(ctl) == {"env", "velocity", "direction", "alpha"} and w.result.task == 1.0
    assert ctl["direction"].disabled and not ctl["velocity"].disabled
    for name, value in (("velocity", 1.7), ("alpha", 0.3)):
        before = w.result
        ctl[name].value = value
        assert w.result is not before, f"setting {name} did not re-run the function"
    assert w.result.task == pytest.approx(1.7) and w.result.alphas[0] == pytest.approx(ctl["alpha"].value)
    expected = L.locomotion_adaptation("halfcheetah_vel", 1.7, ctl["alpha"].value,
                                       checkpoint=untrained["halfcheetah_vel"], **FAST)
    np.testing.assert_array_equal(w.result.returns, expected.returns)
    # the direction family: the direction buttons count, the velocity slider does not
    ctl["env"].value = "halfcheetah_dir"
    assert w.result.env == "halfcheetah_dir" and w.result.task == 1.0
    assert ctl["velocity"].disabled and not ctl["direction"].disabled
    assert sorted(ctl["direction"].options, key=lambda o: o[1]) == list(L.DIRECTIONS)
    ctl["direction"].value = -1.0
    assert w.result.task == -1.0
    before = w.result
    ctl["velocity"].value = 0.4
    assert w.result.task == -1.0 and w.result is before                          # cached: nothing to recompute
    plt.close("all")


def _blank_frames(clip) -> list[int]:
    flat = clip.frames.reshape(len(clip.frames), -1)
    return [i for i, f in enumerate(flat) if f.std() < 1.0]


def _in_thread(fn):
    """fn() on a new thread: ipykernel 7 runs a widget's callback on a subshell's thread when JupyterLab
    sends the widget's message on a subshell."""
    import threading
    errors = []

    def run():
        try:
            fn()
        except BaseException as err:
            errors.append(err)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@needs_rendering
def test_widget_clips_render_after_every_move_on_any_thread(untrained):
    """Notebook 08's clips turned black after a move in JupyterLab: the callback ran on a thread where no
    OpenGL context was current. Moves in both families, on the main thread and on others."""
    w = L.locomotion_widget("halfcheetah_dir", direction=1.0, velocity=1.5, alpha=0.1, checkpoints=untrained, **FAST)
    ctl = L.controls(w)
    moves = [("alpha", 10 ** -0.6, True), ("env", "halfcheetah_vel", True), ("velocity", 2.0, True),
             ("alpha", 10 ** -0.85, False), ("env", "halfcheetah_dir", False), ("direction", -1.0, True),
             ("alpha", 0.5, True)]
    for name, value, threaded in moves:
        before = w.result

        def move(name=name, value=value):
            ctl[name].value = value
        _in_thread(move) if threaded else move()
        assert w.result is not before, f"setting {name} did not re-run the function"
        for clip_name, clip in w.result.clips.items():
            assert clip.frames.shape[0] == 5 and not _blank_frames(clip), \
                f"after {name} = {value} ({'another' if threaded else 'the main'} thread): {clip_name} has blank " \
                f"frames {_blank_frames(clip)}"
    plt.close("all")


def test_widget_says_computing_while_it_recomputes(untrained):
    """A new setting takes seconds: a 'computing…' line shows until the new output is there; a setting
    from the cache shows none."""
    w = L.locomotion_widget("halfcheetah_vel", velocity=1.0, alpha=0.1, checkpoints=untrained, **FAST)
    ctl = L.controls(w)
    assert w.busy in w.children and w.children.index(w.busy) == len(w.children) - 2    # just above the output
    assert w.busy.value == ""
    shown = []
    w.busy.observe(lambda change: shown.append(change.new), "value")
    seen_while_computing = []
    original = L._adapt

    def spy(*args):
        seen_while_computing.append(w.busy.value)
        return original(*args)
    try:
        L._adapt = spy
        ctl["velocity"].value = 0.7                                       # new: computed
        assert len(seen_while_computing) == 1 and "computing" in seen_while_computing[0]
        assert shown == [seen_while_computing[0], ""] and w.busy.value == ""
        ctl["velocity"].value = 1.0                                       # tried before: from the cache
        assert len(seen_while_computing) == 1 and shown == [seen_while_computing[0], ""]
    finally:
        L._adapt = original
    assert L.is_cached("halfcheetah_vel", 1.0, 0.1, 1, checkpoint=untrained["halfcheetah_vel"], **FAST)
    assert not L.is_cached("halfcheetah_vel", 1.9, 0.1, 1, checkpoint=untrained["halfcheetah_vel"], **FAST)
    plt.close("all")


@pytest.mark.parametrize("env,task", [("halfcheetah_dir", 1.0), ("halfcheetah_dir", -1.0), ("halfcheetah_vel", 1.5)])
def test_figure_legends_cover_no_text_and_no_curve(untrained, env, task):
    """The legends sit under the panels: over neither the axes (curves, the rewarded band) nor a label."""
    r = L.locomotion_adaptation(env, task, checkpoint=untrained[env], render_clips=False, **FAST)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = r.figure
    canvas = FigureCanvasAgg(fig)            # the figure is closed: draw it as savefig would
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts,
                                             *ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_text()]
    for ax in fig.axes:
        legend = ax.get_legend()
        box = legend.get_window_extent(renderer)
        for other in fig.axes:
            assert not box.overlaps(other.get_window_extent(renderer)), f"a legend lies over the panel {other.get_title()!r}"
        for text in texts:
            assert not box.overlaps(text.get_window_extent(renderer)), f"a legend lies over the text {text.get_text()!r}"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    if env.endswith("_dir"):
        assert labels[0] == ("rewarded: forwards, $v_x > 0$" if task > 0 else "rewarded: backwards, $v_x < 0$")
    else:
        assert labels[0] == "target 1.50 m/s"


def test_widget_checkpoint_choices(untrained):
    with pytest.raises(ValueError, match="env"):
        L.locomotion_widget("halfcheetah_dir", checkpoints={"halfcheetah_vel": untrained["halfcheetah_vel"]})
    with pytest.raises(ValueError, match="checkpoints"):
        L.locomotion_widget("halfcheetah_vel", checkpoints={"halfcheetah_vel": None, "ant_vel": None})
    with pytest.raises(ValueError, match="checkpoint"):
        L.locomotion_widget("halfcheetah_vel", checkpoints={"halfcheetah_vel": "/no/such.pt"})
    with pytest.raises(ValueError, match="direction"):
        L.locomotion_widget("halfcheetah_dir", direction=0.0,
                            checkpoints={"halfcheetah_dir": untrained["halfcheetah_dir"]})


@pytest.mark.parametrize("kwargs,match", [
    (dict(env="ant"), "env"), (dict(task=2.1), "task"), (dict(task=-0.5), "task"),
    (dict(env="halfcheetah_dir", task=0.3), "task"),
    (dict(alpha=0.0), "alpha"), (dict(alpha=-0.1), "alpha"), (dict(alpha=float("inf")), "alpha"),
    (dict(steps=0), "steps"), (dict(steps=4), "steps"), (dict(episodes=0), "episodes"), (dict(seed=-1), "seed"),
    (dict(every=0), "every"), (dict(checkpoint="/no/such/policy.pt"), "checkpoint"),
    (dict(checkpoint="no_such_shipped_name"), "checkpoint"),
])
def test_bad_arguments_name_the_argument(kwargs, match, untrained):
    args = dict(env="halfcheetah_vel", task=1.0, checkpoint=untrained["halfcheetah_vel"], render_clips=False) | kwargs
    with pytest.raises(ValueError, match=match):
        L.locomotion_adaptation(**args)
    if "env" not in kwargs and "checkpoint" not in kwargs:
        args["velocity"], checkpoint = args.pop("task"), args.pop("checkpoint")
        args.pop("render_clips")
        with pytest.raises(ValueError, match=match.replace("task", "velocity")):
            L.locomotion_widget(**args, checkpoints={"halfcheetah_vel": checkpoint})


def test_a_checkpoint_of_another_env_is_refused(untrained):
    with pytest.raises(ValueError, match="checkpoint"):
        L.locomotion_adaptation("halfcheetah_vel", 1.0, checkpoint=untrained["halfcheetah_dir"], render_clips=False)


def test_training_command_is_the_one_saved_in_the_checkpoint(tmp_path):
    """`python -m course_lib train` saves its own command line; training_command gives it back to resume."""
    import torch
    from course_lib.__main__ import main
    out, threads = tmp_path / "kl.pt", torch.get_num_threads()
    try:
        assert main(["train", "halfcheetah_vel", "--algo", "maml", "--iterations", "0", "--max-kl", "0.02",
                     "--threads", "2", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)        # main() sets the process's thread count
    assert L.training_command(out) == shlex.join(["python", "-m", "course_lib", "train", "halfcheetah_vel", "--algo",
                                                  "maml", "--iterations", "0", "--max-kl", "0.02", "--out",
                                                  str(out)]) + " --resume"


def test_every_shipped_checkpoint_says_how_it_was_trained():
    from course_lib.checkpoints import SHIPPED
    for path in sorted(SHIPPED.glob("*.pt")):
        args = shlex.split(L.training_command(path.stem))
        assert args[:4] == ["python", "-m", "course_lib", "train"] and args[-1] == "--resume", path.name
        assert "--algo" in args and "--out" in args, path.name


def test_training_command_refuses_a_checkpoint_without_one(untrained, tmp_path):
    from course_lib.checkpoints import load_checkpoint, save_checkpoint
    ckpt = load_checkpoint(untrained["halfcheetah_dir"])
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("command", "sha256")}, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match=r"bare\.pt holds no command line"):
        L.training_command(tmp_path / "bare.pt")
