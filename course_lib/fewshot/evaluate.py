"""Few-shot accuracy on held-out characters: the paper's protocol (§5.2) and the baselines.

Held-out tasks: N-way K-shot episodes (rotations as new classes) from the meta-test characters, drawn
from their own seed (default 600 tasks, seed 1234 — the same tasks for every model). A meta-learned
model adapts on each task's support set by `steps` plain gradient steps of size α (the model's own, the
paper's 3 at test for 5-way) and is scored on the task's query drawings; accuracy is reported in percent
as mean ± 95% CI over tasks (course_lib.evaluate.summarize: 1.96 σ/√n).

Baselines, from the pretrained checkpoint (supervised on all training classes × 4 turns):
- fine-tune: the body with a fresh zero N-way head, every weight fine-tuned on the support set;
- prototype: nearest class mean of the support features (the body's output) — 1-shot: nearest neighbour.
Batch norm is transductive everywhere (model.py): support and query are each normalised by their own
statistics.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, vmap

from ..evaluate import Summary, adapted_params, summarize
from ..functional import Params, batched, detached
from ..validation import check_int
from .config import FewShotConfig, distribution, load_fewshot, splits
from .model import ClassificationBatch, ConvNet, with_head

CHUNK = 50                 # tasks evaluated at once (memory)

# MAML paper, Table 1, Omniglot (accuracy %, mean ± 95% CI): (N-way, K-shot) → (MAML, MAML first-order)
PAPER_OMNIGLOT = {(5, 1): (98.7, 0.4), (5, 5): (99.9, 0.1), (20, 1): (95.8, 0.3), (20, 5): (98.9, 0.2)}
PAPER_OMNIGLOT_FIRST_ORDER = {(5, 1): (98.3, 0.5), (5, 5): (99.2, 0.2), (20, 1): (89.4, 0.5), (20, 5): (97.9, 0.1)}


def accuracy_curve(theta: Params, batch: ClassificationBatch, alpha: float, steps: int,
                   context_dim: int = 0) -> torch.Tensor:
    """Query accuracy per task after 0..steps inner steps on the support set: a [steps + 1, T] tensor."""
    with torch.enable_grad():
        params = adapted_params(theta, batch, alpha, steps, context_dim)
    return torch.stack([batch.query_accuracy(p) for p in params])


def heldout_tasks(config: FewShotConfig, n_tasks: int = 600, seed: int = 1234, n_way: int | None = None,
                  k_shot: int | None = None, k_query: int | None = None, cache_dir=None):
    """The held-out episodes (course_lib.tasks.fewshot.Episodes) from the meta-test characters."""
    check_int(n_tasks, "n_tasks", 2)
    check_int(seed, "seed", 0)
    _, test = splits(config, cache_dir)
    return distribution(config, test, n_way, k_shot, k_query).sample_batch(n_tasks, np.random.default_rng(seed))


def _chunks(model: ConvNet, episodes):
    for i in range(0, episodes.n_tasks, CHUNK):
        part = slice(i, i + CHUNK)
        yield ClassificationBatch(model, episodes.x_support[part], episodes.y_support[part],
                                  episodes.x_query[part], episodes.y_query[part])


def meta_accuracy(model: ConvNet, theta: Params, config: FewShotConfig, episodes, steps: int | None = None,
                  alpha: float | None = None) -> torch.Tensor:
    """[steps + 1, T] query accuracy of a meta-learned θ (MAML, FOMAML, Reptile, CAVIA) on `episodes`."""
    steps = config.test_steps if steps is None else steps
    alpha = config.alpha if alpha is None else alpha
    return torch.cat([accuracy_curve(theta, b, alpha, steps, config.context_dim) for b in _chunks(model, episodes)],
                     dim=1)


def finetune_accuracy(model: ConvNet, theta: Params, config: FewShotConfig, episodes, steps: int | None = None,
                      alpha: float | None = None) -> torch.Tensor:
    """[steps + 1, T]: the pretrained body with a fresh zero N-way head, all weights fine-tuned."""
    n_way = int(episodes.y_support.max()) + 1
    small = ConvNet(n_way, model.filters, 0, model.in_channels)
    return meta_accuracy(small, with_head(detached(theta), n_way), config, episodes, steps, alpha)


def prototype_accuracy(model: ConvNet, theta: Params, episodes) -> torch.Tensor:
    """[T]: each query drawing gets the label of the nearest support class mean of the body's features."""
    out = []
    theta = detached(theta)
    with torch.no_grad():
        for b in _chunks(model, episodes):
            params = batched(theta, b.n_tasks)
            features = lambda x: vmap(lambda p, xi: functional_call(model, p, (xi,), {"features": True}))(params, x)
            fs, fq = features(b.x_support), features(b.x_query)
            n_way = int(b.y_support.max()) + 1
            onehot = torch.nn.functional.one_hot(b.y_support, n_way).to(fs.dtype)             # [T, n, N]
            protos = onehot.transpose(1, 2) @ fs / onehot.sum(1)[..., None]                     # [T, N, F]
            pred = torch.cdist(fq, protos).argmin(-1)
            out.append((pred == b.y_query).double().mean(1))
    return torch.cat(out)


def evaluate_checkpoint(path, n_tasks: int = 600, seed: int = 1234, steps: int | None = None,
                        cache_dir=None, n_way: int | None = None, k_shot: int | None = None) -> dict[str, Summary]:
    """{row: accuracy % Summary} for one checkpoint at the settings it was trained for (N, K, K_query, α,
    test_steps). A meta-learned model gives one row, `<algo>`; a pretrained one gives
    `pretrain+fine-tune` and `pretrain+prototype`, and can be scored at any other `n_way` / `k_shot` (its
    head covers every training class, so the baselines stand beside every meta-learned setting)."""
    model, theta, config, _ = load_fewshot(path)
    if config.algo != "pretrain" and (n_way, k_shot) != (None, None):
        raise ValueError(f"n_way / k_shot: {path} is a {config.algo} checkpoint, scored only at the setting it "
                         f"was trained for ({config.n_way}-way {config.k_shot}-shot); only a pretrained one "
                         "can be scored at another")
    episodes = heldout_tasks(config, n_tasks, seed, n_way, k_shot, cache_dir=cache_dir)
    pct = lambda a: summarize(100.0 * a.numpy())
    if config.algo == "pretrain":
        return {"pretrain+fine-tune": pct(finetune_accuracy(model, theta, config, episodes, steps)[-1]),
                "pretrain+prototype": pct(prototype_accuracy(model, theta, episodes))}
    return {config.algo: pct(meta_accuracy(model, theta, config, episodes, steps)[-1])}
