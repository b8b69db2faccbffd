"""The MAML paper's Omniglot network (§5.2, App. A.1), written over a params dict, and the task batch that
scores it on few-shot episodes.

    4 × [3×3 conv, `filters` channels, stride 2, padding 1 → batch norm → ReLU]   28 → 14 → 7 → 4 → 2
    → mean over the 2×2 positions → linear head to the N classes

Strided convolutions replace max-pooling, as the paper does for Omniglot; the spatial mean before the
head is cbfinn/maml's (`reduce_mean` over the last feature map). The paper uses 64 filters; a smaller
width (e.g. 32) keeps CPU runs short.

Batch norm as in the paper's code: **transductive, current-batch statistics, no running statistics**.
Every forward pass normalises each channel by the mean and variance of the images it is given — the
support set in the inner loop, the query set for the meta-loss, at training and at test alike — and
keeps no running averages (there is no train/eval mode). A query set is therefore classified together,
not one image at a time. Only BN's scale and shift (`bn{i}.weight`, `bn{i}.bias`) are parameters, and
they adapt in the inner loop like every other weight.

CAVIA (`context_dim > 0`): the model also owns a context vector φ (the parameter named `context`, always
supplied per task, starting at 0) that modulates the third block by FiLM (Perez et al. 2018, as in the
CAVIA authors' classification network): [γ, β] = W φ + b, h ← h·(1 + γ) + β after that block's batch
norm (on the first block, a shared head left the context too little to say: 31% against 49% after 300
iterations, docs/notes/2026-12-05-fewshot.md).
b starts at 0 and W at nn.Linear's random initialisation: φ = 0 leaves the network unchanged, and the
support loss still has a gradient in φ (∂γ/∂φ = W; with W = 0 too, neither φ nor W would ever move, since
each one's gradient is proportional to the other). The inner loop adapts
only φ (course_lib.meta.cavia), through the same `inner_update`.

The module's own weights are only a template (their shapes and initial values); every call goes through
`functional.forward` / `torch.func.functional_call`, and under `torch.func.vmap` over the leading task
dimension of both params and images (tested against a per-task loop).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..functional import Params, forward
from ..validation import check_int

BLOCKS = 4
FILM_BLOCK = 2        # CAVIA's context modulates the third block (as in the CAVIA authors' classification net)
EPS = 1e-5


class ConvNet(nn.Module):
    """The 4-block conv net: images [n, 1, 28, 28] → logits [n, n_out] (see the module docstring)."""

    def __init__(self, n_out: int = 5, filters: int = 64, context_dim: int = 0, in_channels: int = 1):
        super().__init__()
        check_int(n_out, "n_out", 1)
        check_int(filters, "filters", 1)
        check_int(context_dim, "context_dim", 0)
        check_int(in_channels, "in_channels", 1)
        self.n_out, self.filters, self.context_dim, self.in_channels = n_out, filters, context_dim, in_channels
        channels = in_channels
        for i in range(BLOCKS):
            conv = nn.Conv2d(channels, filters, 3, stride=2, padding=1)
            nn.init.xavier_uniform_(conv.weight)          # cbfinn/maml: xavier conv weights, zero biases
            nn.init.zeros_(conv.bias)
            setattr(self, f"conv{i}", conv)
            setattr(self, f"bn{i}", _Affine(filters))
            channels = filters
        if context_dim:
            self.context = nn.Parameter(torch.zeros(context_dim))
            self.film = nn.Linear(context_dim, 2 * filters)
            nn.init.zeros_(self.film.bias)
        self.head = nn.Linear(filters, n_out)
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 4 blocks and the spatial mean: [n, 1, 28, 28] → [n, filters] (what the head sees)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (n, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h = x
        for i in range(BLOCKS):
            conv, bn = getattr(self, f"conv{i}"), getattr(self, f"bn{i}")
            h = batch_norm(F.conv2d(h, conv.weight, conv.bias, stride=2, padding=1), bn.weight, bn.bias)
            if i == FILM_BLOCK and self.context_dim:
                gamma, beta = F.linear(self.context, self.film.weight, self.film.bias).chunk(2, dim=-1)
                h = h * (1 + gamma)[:, None, None] + beta[:, None, None]
            h = F.relu(h)
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        """Logits [n, n_out]; with features=True the head's input [n, filters] (the baselines' embedding)."""
        h = self.features(x)
        return h if features else F.linear(h, self.head.weight, self.head.bias)


class _Affine(nn.Module):
    """Batch norm's learned scale and shift (no running statistics: see batch_norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))


def batch_norm(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-channel normalisation by this batch's own mean and (biased) variance, then scale and shift.

    Written out (not F.batch_norm) so it is plainly stateless, differentiates twice, and batches under vmap.
    """
    mean = h.mean(dim=(0, 2, 3), keepdim=True)
    var = (h - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True)
    return (h - mean) * torch.rsqrt(var + EPS) * weight[:, None, None] + bias[:, None, None]


def model_spec(model: ConvNet) -> dict:
    return dict(n_out=model.n_out, filters=model.filters, context_dim=model.context_dim,
                in_channels=model.in_channels)


def with_head(params: Params, n_out: int) -> Params:
    """params with a fresh zero N-way head (fine-tuning a pretrained body on a new task)."""
    w = params["head.weight"]
    return {**{k: v for k, v in params.items() if not k.startswith("head.")},
            "head.weight": w.new_zeros(*w.shape[:-2], n_out, w.shape[-1]),
            "head.bias": w.new_zeros(*w.shape[:-2], n_out)}


# ------------------------------------------------------------------ episodes as a task batch
@dataclass
class ClassificationBatch:
    """T episodes for the meta-learners (course_lib.tasks.base.TaskBatch): cross-entropy per task.

    Losses take task-batched params (leading dim T) and return a [T] tensor; the network runs under
    vmap over the tasks. x_* [T, n, 1, 28, 28], y_* [T, n] (labels 0..N−1).
    """
    model: ConvNet
    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor

    @classmethod
    def of(cls, model: ConvNet, episodes, dtype: torch.dtype | None = None) -> "ClassificationBatch":
        """From course_lib.tasks.fewshot.Episodes (optionally cast, e.g. to float64 for gradient checks)."""
        cast = (lambda x: x.to(dtype)) if dtype is not None else (lambda x: x)
        return cls(model, cast(episodes.x_support), episodes.y_support, cast(episodes.x_query), episodes.y_query)

    def __post_init__(self):
        t = self.x_support.shape[0]
        for x, y in (("x_support", "y_support"), ("x_query", "y_query")):
            xs, ys = getattr(self, x), getattr(self, y)
            if xs.dim() != 5 or xs.shape[0] != t or ys.shape != xs.shape[:2]:
                raise ValueError(f"{x} must be [T, n, C, H, W] and {y} [T, n] with T = {t}, "
                                 f"got {tuple(xs.shape)} and {tuple(ys.shape)}")

    @property
    def n_tasks(self) -> int:
        return self.x_support.shape[0]

    def logits(self, params: Params, query: bool = True) -> torch.Tensor:
        return forward(self.model, params, self.x_query if query else self.x_support, task_batched=True)

    def _loss(self, params: Params, query: bool) -> torch.Tensor:
        logits = self.logits(params, query)
        y = self.y_query if query else self.y_support
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(1)

    def support_loss(self, params: Params) -> torch.Tensor:
        return self._loss(params, query=False)

    def query_loss(self, params: Params) -> torch.Tensor:
        return self._loss(params, query=True)

    def whole(self) -> "ClassificationBatch":
        """Every drawing of each task as its support set: Reptile has no query set and adapts on all of
        a task's drawings (Nichol et al. 2018 also train on more shots than a task gives at test)."""
        return ClassificationBatch(self.model, torch.cat([self.x_support, self.x_query], 1),
                                   torch.cat([self.y_support, self.y_query], 1), self.x_query, self.y_query)

    def query_accuracy(self, params: Params) -> torch.Tensor:
        """Fraction of each task's query images classified right: [T]."""
        with torch.no_grad():
            return (self.logits(params).argmax(-1) == self.y_query).double().mean(1)
