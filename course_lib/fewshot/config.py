"""Few-shot character classification (MAML paper §5.2): each algorithm's settings, the data, the model,
episodes, the loader.

The read side (evaluation, bench, widgets) needs only this module to use a checkpoint; the training loop
lives in train.py. A few-shot checkpoint's config carries `task="fewshot"`, which is how the loader
tells it from a sinusoid or meta-RL checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checkpoints import CheckpointError, checkpoint_kind, load_checkpoint
from ..functional import Params
from ..tasks.characters import CharacterSet, load_characters, load_omniglot, split
from ..tasks.fewshot import FewShotDistribution
from ..validation import check_alpha, check_int, check_meaningful
from .model import ClassificationBatch, ConvNet

ALGOS = ("maml", "fomaml", "reptile", "cavia", "pretrain")
TASK = "fewshot"          # the marker in every few-shot checkpoint's config


@dataclass
class FewShotConfig:
    """The paper's Omniglot settings (§5.2, App. A.1): 5-way 1-shot, α = 0.4, one inner step in training
    and three at test, meta-batch 32, Adam 1e-3, 64 filters.

    k_query: query drawings per class (cbfinn/maml uses K; more query images make each task's accuracy
    less coarse). `second_order_steps` (MAML only): how many of the last inner steps keep the Hessian
    term; the earlier ones are first order — the memory fix of bench/fewshot.py (None: all of them).
    Data: the generated Hershey characters of `data_seed` (`alphabets` / `characters_per_alphabet`: the
    first few only, for quick tests), or the real Omniglot under `data_dir`; split by `split_by` as the
    paper does (`split_seed`). Validation: `val_tasks` fixed episodes from the held-out characters,
    logged at every checkpoint for monitoring only (the last checkpoint is the one kept).
    """
    algo: str = "maml"
    n_way: int = 5
    k_shot: int = 1
    k_query: int = 5
    alpha: float = 0.4
    steps: int = 1
    test_steps: int = 3
    second_order_steps: int | None = None
    meta_batch: int = 32
    meta_lr: float = 1e-3
    iterations: int = 60_000
    filters: int = 64
    context_dim: int = 0
    seed: int = 0
    checkpoint_every: int = 500
    val_tasks: int = 100
    data_seed: int = 0
    alphabets: int | None = None
    characters_per_alphabet: int | None = None
    data_dir: str | None = None
    split_by: str = "character"
    split_seed: int = 0
    task: str = TASK

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.task != TASK:
            raise ValueError(f"task must be {TASK!r} (the few-shot checkpoint marker), got {self.task!r}")
        check_int(self.n_way, "n_way", 2)
        check_int(self.k_shot, "k_shot", 1)
        check_int(self.k_query, "k_query", 1)
        check_alpha(self.alpha)
        check_int(self.steps, "steps", 0)
        check_int(self.test_steps, "test_steps", 0)
        if self.second_order_steps is not None:
            check_int(self.second_order_steps, "second_order_steps", 1, max(self.steps, 1))
            if self.algo != "maml":
                raise ValueError(f"second_order_steps applies to algo='maml' only, got algo={self.algo!r}")
        check_int(self.meta_batch, "meta_batch", 1)
        check_alpha(self.meta_lr, "meta_lr")
        check_int(self.iterations, "iterations", 0)
        check_int(self.filters, "filters", 1)
        check_int(self.context_dim, "context_dim", 0)
        if self.algo == "cavia" and self.context_dim < 1:
            raise ValueError("context_dim must be an integer in [1, inf) for algo='cavia'")
        if self.algo != "cavia" and self.context_dim:
            raise ValueError(f"context_dim must be 0 unless algo='cavia', got {self.context_dim}")
        for name in ("seed", "data_seed", "split_seed"):
            check_int(getattr(self, name), name, 0)
        check_int(self.checkpoint_every, "checkpoint_every", 1)
        check_int(self.val_tasks, "val_tasks", 2)
        for name in ("alphabets", "characters_per_alphabet"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, 1)
        if self.split_by not in ("character", "alphabet"):
            raise ValueError(f"split_by must be 'character' or 'alphabet', got {self.split_by!r}")
        if self.algo == "pretrain" and self.steps != 0:
            raise ValueError(f"steps must be 0 for algo='pretrain' (plain supervised training), got {self.steps}")
        check_meaningful(self.algo, self.steps, self.iterations)
        if self.algo == "reptile" and self.steps < 2:
            raise ValueError(f"steps must be at least 2 for algo='reptile' (with one step Reptile is joint "
                             f"training), got {self.steps}")


# Where an algorithm's standard settings differ from MAML's.
DEFAULTS: dict[str, dict] = {
    "fomaml": dict(),
    "reptile": dict(steps=5, alpha=0.1),              # Reptile needs k > 1 inner steps (its paper: 5 on Omniglot)
    "cavia": dict(alpha=1.0, context_dim=100),        # CAVIA paper, classification: 100 context parameters, lr 1.0
    "pretrain": dict(steps=0, test_steps=10),         # supervised on all training classes; fine-tuned at test
}


def default_config(algo: str = "maml", **overrides) -> FewShotConfig:
    return FewShotConfig(**{"algo": algo, **DEFAULTS.get(algo, {}), **overrides})


# ------------------------------------------------------------------ data
def load_data(config: FewShotConfig, cache_dir=None) -> CharacterSet:
    """The character set the config names (generated, cached; or the local Omniglot under data_dir)."""
    if config.data_dir is not None:
        return load_omniglot(config.data_dir)
    return load_characters(config.data_seed, cache_dir, config.alphabets, config.characters_per_alphabet)


def splits(config: FewShotConfig, cache_dir=None) -> tuple[CharacterSet, CharacterSet]:
    """(meta-train, meta-test) characters."""
    return split(load_data(config, cache_dir), by=config.split_by, seed=config.split_seed)


def distribution(config: FewShotConfig, data: CharacterSet, n_way: int | None = None,
                 k_shot: int | None = None, k_query: int | None = None) -> FewShotDistribution:
    return FewShotDistribution(data, n_way or config.n_way, k_shot or config.k_shot, k_query or config.k_query)


def n_classes(data: CharacterSet) -> int:
    """Training classes of the pretrained baseline's wide head: characters × 4 turns."""
    return data.n_characters * 4


# ------------------------------------------------------------------ model and batches
def build_model(config: FewShotConfig, n_out: int | None = None) -> ConvNet:
    """The conv net for the config (pretrain: pass n_out = the number of training classes)."""
    return ConvNet(n_out or config.n_way, config.filters, config.context_dim)


def sample_batch(model: ConvNet, dist: FewShotDistribution, n_tasks: int, rng: np.random.Generator,
                 dtype=None) -> ClassificationBatch:
    return ClassificationBatch.of(model, dist.sample_batch(n_tasks, rng), dtype)


# ------------------------------------------------------------------ the loader
def load_fewshot(path) -> tuple[ConvNet, Params, FewShotConfig, dict]:
    """(model template, θ, config, checkpoint) from a few-shot checkpoint; any other kind is refused."""
    ckpt = load_checkpoint(path)
    if (ckpt.get("config") or {}).get("task") != TASK:
        raise CheckpointError(f"checkpoint {path} is a {checkpoint_kind(ckpt)} checkpoint, not a few-shot one: "
                              "load it with course_lib.sinusoid.config.load_trained or "
                              "course_lib.rl.config.load_policy")
    config = FewShotConfig(**ckpt["config"])
    model = ConvNet(**ckpt["model"])
    return model, ckpt["theta"], config, ckpt
