"""The few-shot figures and widget (course_lib/ui/fewshot.py): shapes, the held-out split, adaptation through
the library's inner step, argument checks naming the argument, the widget's controls, no figure leaks.

Uses the shipped fewshot_maml / fewshot_pretrain checkpoints and the generated character set (cached under
~/.cache/course_lib/characters; ~1 min to draw on 2 cores the first time). The data-set figures use a small
generated subset (3 alphabets × 4 characters × 6 drawers) in a temporary cache.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("pyhershey")           # the character set is drawn from its stroke data (then cached)

from course_lib.checkpoints import SHIPPED  # noqa: E402
from course_lib.evaluate import adapted_params  # noqa: E402
from course_lib.fewshot.config import load_fewshot, splits  # noqa: E402
from course_lib.fewshot.evaluate import accuracy_curve  # noqa: E402
from course_lib.fewshot.model import ClassificationBatch  # noqa: E402
from course_lib.tasks.characters import load_characters  # noqa: E402
from course_lib.ui import fewshot as ui  # noqa: E402
from course_lib.ui.interact import controls  # noqa: E402

torch.set_num_threads(1)

needs_maml = pytest.mark.skipif(not (SHIPPED / "fewshot_maml.pt").exists(),
                                reason="shipped fewshot_maml checkpoint not present")
needs_pretrain = pytest.mark.skipif(not (SHIPPED / "fewshot_pretrain.pt").exists(),
                                    reason="shipped fewshot_pretrain checkpoint not present")


pytestmark = pytest.mark.usefixtures("no_figure_leaks")   # tests/conftest.py


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load_characters(0, tmp_path_factory.mktemp("chars"), alphabets=3, characters_per_alphabet=4, drawers=6)


# ------------------------------------------------------------------------------------ data figures
def test_alphabet_grid_has_one_row_per_alphabet(small):
    fig = ui.alphabet_grid(small, alphabets=3, characters=5)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 3 * 5
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 * 4                                  # 4 characters per alphabet, 5 columns
    assert shown[0].images[0].get_array().shape == (28, 28)
    np.testing.assert_array_equal(shown[0].images[0].get_array(), small.images[0, 0])
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert [lab.split(" (")[0] for lab in labels] == list(small.alphabets[:3])
    by_name = ui.alphabet_grid(small, alphabets=[small.alphabets[2]], characters=2, drawer=5)
    assert len(by_name.axes) == 2
    np.testing.assert_array_equal(by_name.axes[0].images[0].get_array(), small.images[8, 5])


def test_drawers_figure_shows_every_drawer_of_one_character(small):
    fig = ui.drawers_figure(small, 5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == small.n_drawers == 6
    for d, ax in enumerate(shown):
        np.testing.assert_array_equal(ax.images[0].get_array(), small.images[5, d])
    by_name = ui.drawers_figure(small, small.names[5])
    np.testing.assert_array_equal([ax.images[0].get_array() for ax in by_name.axes if ax.images],
                                  small.images[5])


@pytest.mark.parametrize("call,match", [
    (lambda s: ui.alphabet_grid(s, alphabets=0), "alphabets"),
    (lambda s: ui.alphabet_grid(s, alphabets=4), "alphabets"),
    (lambda s: ui.alphabet_grid(s, alphabets=["Klingon"]), "alphabets"),
    (lambda s: ui.alphabet_grid(s, characters=0), "characters"),
    (lambda s: ui.alphabet_grid(s, drawer=6), "drawer"),
    (lambda s: ui.alphabet_grid(s.images), "data"),
    (lambda s: ui.drawers_figure(s, 12), "character"),
    (lambda s: ui.drawers_figure(s, -1), "character"),
    (lambda s: ui.drawers_figure(s, "no/such"), "character"),
    (lambda s: ui.drawers_figure(s, 1.5), "character"),
])
def test_data_figures_reject_bad_arguments(small, call, match):
    with pytest.raises(ValueError, match=match):
        call(small)


# ------------------------------------------------------------------------------------ adaptation
@needs_maml
def test_adaptation_shapes_and_held_out_characters_only():
    r = ui.fewshot_adaptation("Hiragana", k_shot=5, alpha=0.4, steps=2, seed=3, k_query=2)
    assert r.support.shape == (25, 28, 28) and r.query.shape == (10, 28, 28)
    assert r.predictions.shape == (3, 10) and r.accuracy.shape == (3,)
    assert np.bincount(r.support_labels, minlength=5).tolist() == [5] * 5
    assert np.bincount(r.query_labels, minlength=5).tolist() == [2] * 5
    assert 0 <= r.support.min() and r.support.max() <= 1
    _, _, config, _ = load_fewshot(SHIPPED / "fewshot_maml.pt")
    train, test = splits(config)
    held = ui.heldout_characters("fewshot_maml")
    assert held.names == test.names
    names = {c.split("↻")[0].strip() for c in r.classes}
    train_hiragana = {n.split("/")[-1] for n in train.names if n.startswith("Hiragana/")}
    test_hiragana = {n.split("/")[-1] for n in test.names if n.startswith("Hiragana/")}
    assert names <= test_hiragana and not names & train_hiragana
    assert set(ui.heldout_alphabets()) <= set(test.alphabets)
    assert "Hiragana" in r.summary() and "%" in r.summary()
    assert isinstance(r.figure, plt.Figure)


@needs_maml
def test_adaptation_goes_through_the_library_and_matches_accuracy_curve():
    """Recompute one task with the library pieces directly: the same episode, the same accuracies."""
    r = ui.fewshot_adaptation("Katakana", k_shot=1, alpha=0.3, steps=3, seed=5, k_query=3)
    model, theta, config, _ = load_fewshot(SHIPPED / "fewshot_maml.pt")
    held = ui.heldout_characters()
    chars = np.flatnonzero(held.alphabet == held.alphabets.index("Katakana"))
    from course_lib.tasks.fewshot import FewShotDistribution
    episode = FewShotDistribution(held.images[chars], 5, 1, 3).sample_batch(1, np.random.default_rng([5, 10]))
    np.testing.assert_array_equal(r.support, episode.x_support[0, :, 0].numpy())
    batch = ClassificationBatch.of(model, episode)
    curve = accuracy_curve(theta, batch, 0.3, 3)[:, 0].numpy()
    np.testing.assert_allclose(r.accuracy, curve, atol=1e-12)
    with torch.enable_grad():
        last = adapted_params(theta, batch, 0.3, 3)[-1]
    np.testing.assert_array_equal(r.predictions[-1], batch.logits(last)[0].argmax(-1).detach().numpy())


@needs_maml
def test_maml_accuracy_after_steps_beats_before_on_average():
    """Over 8 seeded tasks from 4 held-out alphabets: chance-level before, far better after 3 steps."""
    before, after = [], []
    for seed, alphabet in enumerate(["Hiragana", "Latin capitals", "Kanji 5", "Mathematics"] * 2):
        r = ui.fewshot_adaptation(alphabet, k_shot=1, steps=3, seed=seed, k_query=3)
        before.append(r.before), after.append(r.after)
        assert r.alpha == pytest.approx(0.4)                    # the checkpoint's own α by default
    assert np.mean(after) >= np.mean(before) + 0.4, (before, after)
    assert np.mean(after) >= 0.8


@needs_maml
def test_same_seed_same_task_and_result():
    a = ui.fewshot_adaptation("Digits", 1, 0.4, 2, seed=7)
    b = ui.fewshot_adaptation("Digits", 1, 0.4, 2, seed=7)
    c = ui.fewshot_adaptation("Digits", 1, 0.4, 2, seed=8)
    np.testing.assert_array_equal(a.support, b.support)
    np.testing.assert_array_equal(a.predictions, b.predictions)
    assert not np.array_equal(a.support, c.support)


@needs_pretrain
def test_pretrained_checkpoint_fine_tunes_a_fresh_head():
    r = ui.fewshot_adaptation("Latin capitals", 1, None, steps=2, seed=1, checkpoint="fewshot_pretrain")
    assert r.accuracy[0] == pytest.approx(0.2)                   # a zero head predicts label 0 everywhere
    assert r.after > r.before


@needs_maml
@pytest.mark.parametrize("kwargs,match", [
    (dict(alphabet="Klingon"), "alphabet"), (dict(alphabet=3), "alphabet"),
    (dict(k_shot=0), "k_shot"), (dict(k_shot=11), "k_shot"), (dict(k_shot=1.5), "k_shot"),
    (dict(k_query=0), "k_query"),
    (dict(alpha=0.0), "alpha"), (dict(alpha=-0.1), "alpha"), (dict(alpha=float("nan")), "alpha"),
    (dict(alpha=11.0), "alpha"), (dict(alpha=True), "alpha"),
    (dict(steps=-1), "steps"), (dict(steps=11), "steps"), (dict(steps=2.0), "steps"),
    (dict(seed=-1), "seed"), (dict(checkpoint="sinusoid_maml"), "checkpoint"),
    (dict(checkpoint="fewshot_nonexistent"), "checkpoint"),
])
def test_adaptation_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ui.fewshot_adaptation(**{"alphabet": "Hiragana", **kwargs})


# ------------------------------------------------------------------------------------ the widget
@needs_maml
def test_widget_controls_update_the_result():
    w = ui.fewshot_widget(alphabet="Hiragana", k_shot=1, alpha=0.4, steps=1)
    ctl = controls(w)
    assert set(ctl) == {"alphabet", "k_shot", "alpha", "steps", "seed"}
    assert ctl["alphabet"].options == tuple(ui.heldout_alphabets())
    assert ctl["k_shot"].options == (1, 5) and (ctl["steps"].min, ctl["steps"].max) == (1, 5)
    assert w.result.alphabet == "Hiragana" and w.result.k_shot == 1 and w.result.steps == 1
    ctl["alphabet"].value = "Katakana"
    assert w.result.alphabet == "Katakana"
    ctl["k_shot"].value = 5
    assert w.result.k_shot == 5 and w.result.support.shape[0] == 25
    ctl["steps"].value = 4
    assert w.result.steps == 4 and w.result.accuracy.shape == (5,)
    ctl["alpha"].value = 0.1
    assert w.result.alpha == pytest.approx(0.1)
    first = w.result.support
    ctl["seed"].value = 3
    assert w.result.seed == 3 and not np.array_equal(first, w.result.support)
    plt.close("all")


@needs_maml
@pytest.mark.parametrize("kwargs,match", [(dict(k_shot=2), "k_shot"), (dict(steps=0), "steps"),
                                          (dict(steps=6), "steps"), (dict(alphabet="Klingon"), "alphabet"),
                                          (dict(checkpoint="nope"), "checkpoint")])
def test_widget_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ui.fewshot_widget(**kwargs)
