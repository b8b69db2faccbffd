"""N-way K-shot classification episodes, the Omniglot protocol of the MAML paper (§5.2).

A task: N classes drawn from a split; a class is a character turned by 0, 90, 180 or 270° (each turn
counts as a new class, the paper's augmentation — `rotations=False` turns it off); K support and
K_query query drawings per class, by different drawers; labels 0..N−1 given to the classes in a new
random order every episode, and the drawings shuffled within support and query. Episodes of a meta-batch
are stacked, x shaped [B, N·K, 1, 28, 28], ready for vmap over tasks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_int
from .characters import CharacterSet


@dataclass(frozen=True)
class Episodes:
    """B episodes: x_* float32 [B, N·K, 1, 28, 28] in [0, 1], y_* int64 [B, N·K] in 0..N−1.

    classes[b, label] = (character index, quarter turns) of that label's class in episode b.
    """
    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    classes: np.ndarray

    @property
    def n_tasks(self) -> int:
        return self.x_support.shape[0]

    def episode(self, i: int) -> "Episodes":
        """Episode i alone, without the task dimension: x_support [N·K, 1, 28, 28] etc."""
        return Episodes(self.x_support[i], self.y_support[i], self.x_query[i], self.y_query[i], self.classes[i])


@dataclass(frozen=True)
class FewShotDistribution:
    """N-way K-shot tasks over the characters of `data` (a CharacterSet, or uint8 images [C, D, 28, 28])."""
    data: CharacterSet | np.ndarray
    n_way: int = 5
    k_shot: int = 1
    k_query: int = 1
    rotations: bool = True

    def __post_init__(self):
        images = self.images
        if images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise ValueError(f"data must hold images shaped (C, D, H, H), got {images.shape}")
        if not isinstance(self.rotations, bool):
            raise ValueError(f"rotations must be True or False, got {self.rotations!r}")
        check_int(self.n_way, "n_way", 2, self.n_classes)
        check_int(self.k_shot, "k_shot", 1)
        check_int(self.k_query, "k_query", 1)
        if self.k_shot + self.k_query > images.shape[1]:
            raise ValueError(f"k_shot + k_query must be at most the {images.shape[1]} drawers per character, "
                             f"got {self.k_shot} + {self.k_query}")

    @property
    def images(self) -> np.ndarray:
        return self.data.images if isinstance(self.data, CharacterSet) else np.asarray(self.data)

    @property
    def n_classes(self) -> int:
        """Characters × 4 turns (with rotations), else characters."""
        return len(self.images) * (4 if self.rotations else 1)

    def sample_tasks(self, n: int, rng) -> np.ndarray:
        """[n, N, 2] int: each task's classes as (character, quarter turns), row = label, no repeats in a task."""
        check_int(n, "n", 1)
        rng = as_numpy_rng(rng)
        turns = 4 if self.rotations else 1
        picked = np.stack([rng.choice(self.n_classes, self.n_way, replace=False) for _ in range(n)])
        return np.stack([picked // turns, picked % turns], axis=-1)

    def sample_batch(self, n_tasks: int, rng) -> Episodes:
        """A meta-batch of n_tasks fresh episodes (same rng state → same episodes)."""
        rng = as_numpy_rng(rng)
        classes = self.sample_tasks(n_tasks, rng)
        return self.episodes(classes, rng)

    def sample_episode(self, rng) -> Episodes:
        """One episode, without the task dimension: x_support [N·K, 1, 28, 28], y_support [N·K], ..."""
        return self.sample_batch(1, rng).episode(0)

    def episodes(self, classes: np.ndarray, rng) -> Episodes:
        """Episodes for given classes [B, N, 2] (character, quarter turns): draw drawers, turn, shuffle."""
        rng = as_numpy_rng(rng)
        images = self.images
        b, n = classes.shape[:2]
        k, q = self.k_shot, self.k_query
        drawers = rng.random((b, n, images.shape[1])).argsort(-1)[..., :k + q]       # distinct drawers
        x = images[classes[..., 0, None], drawers]                                     # [B, N, K+Q, H, W]
        for turn in (1, 2, 3):
            hit = classes[..., 1] == turn
            if hit.any():
                x[hit] = np.rot90(x[hit], turn, axes=(-2, -1))
        labels = np.broadcast_to(np.arange(n)[None, :, None], (b, n, k + q))
        xs, ys = _shuffled(x[:, :, :k], labels[:, :, :k], rng)
        xq, yq = _shuffled(x[:, :, k:], labels[:, :, k:], rng)
        return Episodes(xs, ys, xq, yq, classes)


def _shuffled(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """[B, N, K, H, W] drawings and their labels → tensors [B, N·K, 1, H, W], [B, N·K] in random order."""
    b, n, k, h, w = x.shape
    order = rng.random((b, n * k)).argsort(-1)
    x = np.take_along_axis(x.reshape(b, n * k, h, w), order[:, :, None, None], 1)
    y = np.take_along_axis(y.reshape(b, n * k), order, 1)
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32) / np.float32(scale)).unsqueeze(2)
    return xt, torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))


def as_numpy_rng(rng) -> np.random.Generator:
    """A numpy Generator from a numpy Generator (itself), a torch.Generator (seeded from it) or an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), generator=rng)))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator, a torch.Generator or a seed >= 0, got {rng!r}")
