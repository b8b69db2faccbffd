"""Few-shot character classification you can look at: the data set's figures, and a shipped model adapting
to one held-out task, as a pure function returning numbers *and* a figure, with a thin widget over it.

    alphabet_grid(data, alphabets, characters)   one row per alphabet: its first characters, one drawer (10)
    drawers_figure(data, character)               one character drawn by each of its 20 drawers (10)
    fewshot_adaptation(alphabet, K, α, steps, …)  a shipped checkpoint adapted to one N-way K-shot task whose
                                                  classes are held-out characters of one alphabet (10)
    fewshot_widget()                              … a dropdown for the alphabet, K, α (log scale), steps, seed

A task here follows course_lib.tasks.fewshot: N classes, each a held-out character of the alphabet turned
by 0/90/180/270° (rotations are new classes), K support and `k_query` query drawings per class by
different drawers, labels in a random order. Adaptation is the library's (`evaluate.adapted_params`: plain
gradient steps of size α on the support cross-entropy through `inner_update`); batch norm is transductive
(model.py), so the query set is classified together. The held-out characters are the checkpoint's own
meta-test split (`course_lib.fewshot.config.splits`): no character the model was meta-trained on appears.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import checkpoints
from ..checkpoints import SHIPPED, shipped
from ..evaluate import adapted_params
from ..fewshot.config import FewShotConfig, load_fewshot, splits
from ..fewshot.model import ClassificationBatch, ConvNet, with_head
from ..functional import detached
from ..tasks.characters import CharacterSet
from ..tasks.fewshot import FewShotDistribution
from ..validation import check_alpha, check_int, check_range
from . import plots
from .interact import STYLE, alpha_slider, show_result, steps_slider

FEWSHOT_ALPHA_RANGE = (0.01, 2.0)    # the α slider's range; the pure function accepts any α in (0, 10]
MAX_STEPS = 10                       # the pure function's limit (the widget offers 1..5)
WIDGET_STEPS = 5
CORRECT, WRONG = "#2ca02c", "#d62728"
TURNS = ("", " ↻90°", " ↻180°", " ↻270°")


# --------------------------------------------------------------------------------------------------
# (a) the data set
# --------------------------------------------------------------------------------------------------
def _check_data(data) -> CharacterSet:
    if not isinstance(data, CharacterSet):
        raise ValueError(f"data must be a course_lib.tasks.characters.CharacterSet, got {type(data).__name__}")
    return data


def _character_index(data: CharacterSet, character) -> int:
    if isinstance(character, str):
        if character not in data.names:
            raise ValueError(f"character must be an index or one of data.names (e.g. {data.names[0]!r}), "
                             f"got {character!r}")
        return data.names.index(character)
    check_int(character, "character", 0, data.n_characters - 1)
    return int(character)


def alphabet_grid(data: CharacterSet, alphabets=None, characters: int = 10, drawer: int = 0) -> plt.Figure:
    """A grid of alphabets, one row each: the alphabet's first `characters` characters by one `drawer`.

    alphabets: how many (the first ones of data.alphabets that have characters in `data`; None: up to 12),
    or a list of alphabet names. Ink is dark on white, as on paper.
    """
    data = _check_data(data)
    present = [a for a in range(len(data.alphabets)) if (data.alphabet == a).any()]
    if isinstance(alphabets, (list, tuple)):
        unknown = [a for a in alphabets if a not in data.alphabets or data.alphabets.index(a) not in present]
        if not alphabets or unknown:
            raise ValueError(f"alphabets must name alphabets present in data, got unknown {unknown or alphabets!r}")
        rows = [data.alphabets.index(a) for a in alphabets]
    else:
        alphabets = min(12, len(present)) if alphabets is None else alphabets
        check_int(alphabets, "alphabets", 1, len(present))
        rows = present[:alphabets]
    check_int(characters, "characters", 1, 40)
    check_int(drawer, "drawer", 0, data.n_drawers - 1)
    fig, axes = plt.subplots(len(rows), characters, figsize=(0.62 * characters + 2.2, 0.66 * len(rows)),
                             squeeze=False, layout="constrained")
    for r, a in enumerate(rows):
        chars = np.flatnonzero(data.alphabet == a)[:characters]
        for c in range(characters):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(chars):
                ax.imshow(data.images[chars[c], drawer], cmap="gray_r", vmin=0, vmax=255)
        axes[r, 0].set_ylabel(f"{data.alphabets[a]} ({int((data.alphabet == a).sum())})", rotation=0,
                              ha="right", va="center", fontsize=8)
    fig.suptitle(f"{len(rows)} of {len(present)} alphabets, first {characters} characters each, drawer {drawer} "
                 "(in brackets: characters in the alphabet)", fontsize=9)
    plt.close(fig)
    return fig


def drawers_figure(data: CharacterSet, character=0) -> plt.Figure:
    """One character (index or name) drawn by each of its drawers, in a 2-row grid."""
    data = _check_data(data)
    c = _character_index(data, character)
    n = data.n_drawers
    cols = (n + 1) // 2
    fig, axes = plt.subplots(2, cols, figsize=(0.8 * cols, 1.9), squeeze=False,
                             gridspec_kw=dict(wspace=0.05, hspace=0.25))
    for d, ax in enumerate(axes.ravel()):
        ax.set_xticks([]), ax.set_yticks([])
        if d < n:
            ax.imshow(data.images[c, d], cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(f"{d}", fontsize=7, pad=1)
        else:
            ax.set_visible(False)
    fig.suptitle(f"{data.names[c]}: one character by its {n} drawers", fontsize=9)
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------------------------------
# (b) a shipped model adapting to one held-out task
# --------------------------------------------------------------------------------------------------
@dataclass
class FewShotAdaptation:
    checkpoint: str
    alphabet: str
    n_way: int
    k_shot: int
    k_query: int
    alpha: float
    steps: int
    seed: int
    classes: list[str]                   # label → "character name ↻turn"
    support: np.ndarray                  # [N·K, 28, 28] float in [0, 1], ink bright
    support_labels: np.ndarray           # [N·K]
    query: np.ndarray                    # [N·Q, 28, 28]
    query_labels: np.ndarray             # [N·Q]
    predictions: np.ndarray              # [steps + 1, N·Q]: predicted labels after 0..steps inner steps
    accuracy: np.ndarray                 # [steps + 1]: fraction of the query set right after 0..steps steps
    figure: plt.Figure = field(repr=False)

    @property
    def before(self) -> float:
        return float(self.accuracy[0])

    @property
    def after(self) -> float:
        return float(self.accuracy[-1])

    def summary(self) -> str:
        steps = "  ".join(f"{s}: {a:5.1%}" for s, a in enumerate(self.accuracy))
        return "\n".join([
            f"{self.checkpoint}: {self.n_way}-way {self.k_shot}-shot on held-out characters of "
            f"{self.alphabet!r}, {self.k_query} query drawings per class, α = {self.alpha:.3g}, seed {self.seed}",
            f"query accuracy after 0..{self.steps} inner step(s): {steps}   (chance {1 / self.n_way:.0%})"])


def _checkpoint_path(checkpoint) -> Path:
    if isinstance(checkpoint, Path):
        if not checkpoint.exists():
            raise ValueError(f"checkpoint must be an existing file, got {str(checkpoint)!r}")
        return checkpoint
    if not isinstance(checkpoint, str) or not checkpoint.startswith("fewshot_"):
        raise ValueError(f"checkpoint must be a shipped few-shot checkpoint name such as 'fewshot_maml' (or a "
                         f"Path), got {checkpoint!r}")
    try:
        return shipped(checkpoint)
    except ValueError as error:
        raise ValueError(f"checkpoint: {error}") from None


def shipped_fewshot() -> list[str]:
    """Names of the shipped few-shot checkpoints (fewshot_maml first)."""
    names = sorted(p.stem for p in SHIPPED.glob("fewshot_*.pt"))
    return sorted(names, key=lambda n: (n != "fewshot_maml", n))


_load = checkpoints.cached(load_fewshot)       # (model, θ, config, ckpt), loaded again when the file changes


@lru_cache(maxsize=4)
def _heldout(config_items: tuple) -> CharacterSet:
    return splits(FewShotConfig(**dict(config_items)))[1]


def heldout_characters(checkpoint="fewshot_maml") -> CharacterSet:
    """The meta-test characters of a checkpoint's split (cached): the only ones `fewshot_adaptation` uses."""
    _, _, config, _ = _load(_checkpoint_path(checkpoint))
    return _heldout(tuple(sorted(vars(config).items())))


def heldout_alphabets(checkpoint="fewshot_maml", n_way: int = 5) -> list[str]:
    """Alphabets with enough held-out characters for an n_way task (characters × 4 turns ≥ n_way)."""
    test = heldout_characters(checkpoint)
    counts = np.bincount(test.alphabet, minlength=len(test.alphabets))
    return [name for a, name in enumerate(test.alphabets) if 4 * counts[a] >= n_way]


def fewshot_adaptation(alphabet: str = "Hiragana", k_shot: int = 1, alpha: float | None = None, steps: int = 3,
                       seed: int = 0, checkpoint="fewshot_maml", k_query: int = 3) -> FewShotAdaptation:
    """Adapt a shipped few-shot model to one N-way K-shot task from the held-out characters of `alphabet`.

    alphabet: one of `heldout_alphabets(checkpoint)`; k_shot ∈ [1, 10] support and k_query ∈ [1, 10] query
    drawings per class (k_shot + k_query ≤ 20 drawers); alpha ∈ (0, 10] (None: the checkpoint's own, 0.4
    for MAML); steps ∈ [0, 10] inner steps on the support set; `seed` fixes the task. N is the
    checkpoint's (5). A pretrained checkpoint gets a fresh zero N-way head and fine-tunes every weight.
    """
    path = _checkpoint_path(checkpoint)
    check_int(k_shot, "k_shot", 1, 10)
    check_int(k_query, "k_query", 1, 10)
    if alpha is not None:
        check_alpha(alpha)
        check_range(alpha, "alpha", 0.0, 10.0)
    check_int(steps, "steps", 0, MAX_STEPS)
    check_int(seed, "seed", 0)
    model, theta, config, _ = _load(path)
    test = heldout_characters(path)
    if not isinstance(alphabet, str) or alphabet not in heldout_alphabets(path, config.n_way):
        raise ValueError(f"alphabet must be one of the held-out alphabets {heldout_alphabets(path, config.n_way)}, "
                         f"got {alphabet!r}")
    chars = np.flatnonzero(test.alphabet == test.alphabets.index(alphabet))
    dist = FewShotDistribution(test.images[chars], config.n_way, k_shot, k_query)
    episode = dist.sample_batch(1, np.random.default_rng([seed, 10]))
    if config.algo == "pretrain":
        model = ConvNet(config.n_way, model.filters, 0, model.in_channels)
        theta = with_head(detached(theta), config.n_way)
    batch = ClassificationBatch.of(model, episode)
    use_alpha = config.alpha if alpha is None else float(alpha)
    with torch.enable_grad():
        params = adapted_params(theta, batch, use_alpha, steps, config.context_dim)
    with torch.no_grad():
        predictions = torch.stack([batch.logits(p)[0].argmax(-1) for p in params]).numpy()
    labels = episode.y_query[0].numpy()
    accuracy = (predictions == labels).mean(1)
    classes = [f"{test.names[chars[c]].split('/')[-1]}{TURNS[t]}" for c, t in episode.classes[0]]
    result = FewShotAdaptation(path.stem, alphabet, config.n_way, k_shot, k_query, use_alpha, steps, seed, classes,
                               episode.x_support[0, :, 0].numpy(), episode.y_support[0].numpy(),
                               episode.x_query[0, :, 0].numpy(), labels, predictions, accuracy, figure=None)
    result.figure = _adaptation_figure(result)
    return result


def _adaptation_figure(r: FewShotAdaptation) -> plt.Figure:
    """Support set (a column per label), the query set by true label with before → after predictions,
    and the query accuracy after each step."""
    n, k, q = r.n_way, r.k_shot, r.k_query
    rows = max(k, q)
    fig = plt.figure(figsize=(2.0 * n + 4.2, 1.0 * rows + 1.0), constrained_layout=True)
    left, middle, right = fig.subfigures(1, 3, width_ratios=[n, n, 4.2], wspace=0.02)
    after = f"after {r.steps} step{'s' * (r.steps != 1)}"
    for sub, title, images, labels, used in (
            (left, f"support set: K = {k} per class", r.support, r.support_labels, k),
            (middle, f"query: prediction before → {after}", r.query, r.query_labels, q)):
        axes = sub.subplots(rows, n, squeeze=False, gridspec_kw=dict(wspace=0.08, hspace=0.5))
        sub.suptitle(title, fontsize=8)
        for label in range(n):
            where = np.flatnonzero(labels == label)
            for row in range(rows):
                ax = axes[row, label]
                ax.set_xticks([]), ax.set_yticks([])
                if row >= used:
                    ax.set_visible(False)
                    continue
                i = where[row]
                ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
                if sub is left:
                    if row == 0:
                        ax.set_title(f"label {label}", fontsize=7, pad=2)
                else:
                    before, now = r.predictions[0, i], r.predictions[-1, i]
                    color = CORRECT if now == label else WRONG
                    ax.set_title(f"{before} → {now}", fontsize=7, pad=2, color=color)
                    for side in ax.spines.values():
                        side.set_edgecolor(color), side.set_linewidth(1.5)
    ax = right.subplots()
    name = r.checkpoint.removeprefix("fewshot_")
    ax.plot(np.arange(r.steps + 1), 100 * r.accuracy, marker="o", color=plots.color_for(name),
            label=plots.label_for(name))
    ax.axhline(100 / n, color="#7f7f7f", ls=":", lw=1, label=f"chance (1/{n})")
    ax.set_xlabel("inner gradient steps on the support set", fontsize=8)
    ax.set_ylabel("query accuracy (%)", fontsize=8)
    ax.set_ylim(-3, 103)
    ax.set_xticks(np.arange(r.steps + 1))
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{r.alphabet}, α = {r.alpha:.3g}, seed {r.seed}", fontsize=8)
    plt.close(fig)
    return fig


def fewshot_widget(alphabet: str = "Hiragana", k_shot: int = 1, alpha: float = 0.4, steps: int = 3,
                   seed: int = 0, checkpoint="fewshot_maml"):
    """A dropdown for the held-out alphabet, K (1 or 5), α (log scale, 0.01–2), steps (1–5) and the seed;
    `.result` is the latest `fewshot_adaptation`."""
    import ipywidgets as w

    path = _checkpoint_path(checkpoint)          # fail now, not inside the callback
    names = heldout_alphabets(path)
    check_int(steps, "steps", 1, WIDGET_STEPS)
    if k_shot not in (1, 5):
        raise ValueError(f"k_shot must be 1 or 5 in the widget, got {k_shot!r}")
    if alphabet not in names:
        raise ValueError(f"alphabet must be one of the held-out alphabets {names}, got {alphabet!r}")

    def show(alphabet, k_shot, alpha, steps, seed):
        result = fewshot_adaptation(alphabet, k_shot, alpha, steps, seed, path)
        show_result(result)
        return result

    return w.interactive(
        show,
        alphabet=w.Dropdown(options=names, value=alphabet, description="held-out alphabet", style=STYLE),
        k_shot=w.ToggleButtons(options=[1, 5], value=k_shot, description="K (shots)", style=STYLE),
        alpha=alpha_slider(alpha, FEWSHOT_ALPHA_RANGE, step=0.1, decimals=3),
        steps=steps_slider(steps, WIDGET_STEPS, low=1, description="inner steps"),
        seed=w.IntSlider(value=seed, min=0, max=20, description="seed (task)", continuous_update=False, style=STYLE),
    )


__all__ = ["alphabet_grid", "drawers_figure", "FewShotAdaptation", "fewshot_adaptation", "fewshot_widget",
           "heldout_alphabets", "heldout_characters", "shipped_fewshot"]
