"""Checkpoints that survive interruption: written to a temporary file, then atomically renamed;
loaded with `weights_only=True` (tensors and plain Python values only, no arbitrary code), and
verified: each carries the SHA-256 of its contents (tensors' bytes, dtypes and shapes, and every other
value), so a truncated, corrupted or foreign file is refused with its name before any work is done."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from functools import lru_cache
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


CHECKSUM = "sha256"


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint of the kind asked for."""


def _feed(h, value) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for k in sorted(value, key=repr):
            _feed(h, k)
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(f"L{type(value).__name__}{len(value)}".encode())
        for v in value:
            _feed(h, v)
    else:
        h.update(f"V{type(value).__name__}:{value!r}".encode())


def state_digest(state: dict) -> str:
    """SHA-256 of a checkpoint's contents (without its own checksum entry)."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM})
    return h.hexdigest()


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """torch.save, with the checksum of the contents, atomically (see atomic_write)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint path {path} is a folder; give a file name such as {path / 'model.pt'}")
    state = {**state, CHECKSUM: state_digest(state)}
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint at `path`, verified against its checksum (CheckpointError if it is not one)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, expected a .pt file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:                     # zip, pickle, EOF, ... all mean the same to the user
        raise CheckpointError(f"checkpoint {path} is corrupted or truncated, or not a checkpoint "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})") from None
    if not isinstance(state, dict) or CHECKSUM not in state:
        raise CheckpointError(f"checkpoint {path} is not a course_lib checkpoint (no {CHECKSUM} checksum)")
    if state_digest(state) != state[CHECKSUM]:
        raise CheckpointError(f"checkpoint {path} is corrupted: its contents do not match the checksum "
                              "it was saved with")
    return state


def checkpoint_kind(state: dict) -> str:
    """"rl:<env>" for a meta-RL checkpoint, "fewshot" for a few-shot classifier, "sinusoid" for a sinusoid one."""
    config = state.get("config") or {}
    if config.get("task") == "fewshot":
        return "fewshot"
    return f"rl:{config['env']}" if "env" in config else "sinusoid"


def shipped(name: str) -> Path:
    """Path of a checkpoint shipped with the workbook, e.g. shipped('sinusoid_maml')."""
    path = SHIPPED / f"{name}.pt"
    if not path.exists():
        available = sorted(p.stem for p in SHIPPED.glob("*.pt"))
        raise ValueError(f"name must be one of the shipped checkpoints {available}, got {name!r}")
    return path


def cached(loader: Callable[[str], object], size: int = 32) -> Callable[[str | os.PathLike], object]:
    """loader(path), remembered until the file changes (a retrained checkpoint is loaded again)."""
    remembered = lru_cache(maxsize=size)(lambda path, mtime_ns, nbytes: loader(path))

    def load(path):
        stat = Path(path).stat()
        return remembered(str(path), stat.st_mtime_ns, stat.st_size)
    load.__doc__ = f"{loader.__name__}(path), cached until the file changes."
    return load
