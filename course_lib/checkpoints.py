"""Checkpoints that survive interruption: written to a temporary file, then atomically renamed;
loaded with `weights_only=True` (tensors and plain Python values only, no arbitrary code)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

import torch

SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], mode: str = "wb") -> Path:
    """Call write(f) on a temporary file beside `path`, fsync, then os.replace it over `path`.

    A reader never sees a half-written file, and an interruption leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)          # mkstemp creates 0600; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """torch.save, atomically (see atomic_write)."""
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def shipped(name: str) -> Path:
    """Path of a checkpoint shipped with the workbook, e.g. shipped('sinusoid_maml')."""
    path = SHIPPED / f"{name}.pt"
    if not path.exists():
        available = sorted(p.stem for p in SHIPPED.glob("*.pt"))
        raise ValueError(f"name must be one of the shipped checkpoints {available}, got {name!r}")
    return path
