"""Argument checks shared by every entry point: bad input fails early, naming the argument and its range."""
from __future__ import annotations

import math
from numbers import Real

import torch


def check_alpha(alpha, name: str = "alpha") -> None:
    """α must be a finite real > 0, or (Meta-SGD) a dict of finite tensors."""
    if isinstance(alpha, dict):
        for key, value in alpha.items():
            if not torch.is_tensor(value) or not torch.isfinite(value).all():
                raise ValueError(f"{name}[{key!r}] must be a tensor of finite values")
        return
    if torch.is_tensor(alpha) and alpha.numel() == 1:
        alpha = alpha.item()
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"{name} must be a finite number in (0, inf), got {alpha!r}")


def check_int(value, name: str, low: int, high: int | None = None) -> None:
    """An integer in [low, high] (high=None: unbounded)."""
    allowed = f"[{low}, inf)" if high is None else f"[{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer in {allowed}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {allowed}, got {value}")


def check_choice(value, name: str, choices) -> None:
    """One of `choices` (shown as given: a tuple, or a sorted list)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_range(value, name: str, low: float, high: float) -> None:
    """A finite real in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def check_shape(tensor: torch.Tensor, name: str, shape: tuple) -> None:
    """`shape` may hold None for a free dimension."""
    ok = tensor.dim() == len(shape) and all(s is None or s == t for s, t in zip(shape, tensor.shape))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(tensor.shape)}")


def check_meaningful(algo: str, steps: int, iterations: int) -> None:
    """Refuse settings that would train nothing, or train what should stay untrained."""
    if algo in ("maml", "fomaml", "reptile", "cavia", "cavia_fo", "metasgd") and steps < 1:
        raise ValueError(f"steps must be at least 1 for algo={algo!r}: with 0 inner steps there is no "
                         "adaptation to meta-learn (use algo='pretrain' for that)")
    if algo == "random" and iterations != 0:
        raise ValueError(f"algo='random' is the untrained initialisation: iterations must be 0, got {iterations}")


def at_least(low: float, kind=int):
    """An argparse `type`: a number of `kind` that is at least `low` (argparse names the flag on error)."""
    import argparse

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        if not value >= low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value
    return parse
