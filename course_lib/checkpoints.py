"""Checkpoints that survive interruption: written to a temporary file, then atomically renamed;
loaded with `weights_only=True` (tensors and plain Python values only, no arbitrary code)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """torch.save to a temp file in the same directory, fsync, then os.replace (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)          # mkstemp creates 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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
