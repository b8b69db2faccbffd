"""One training-run skeleton for every trainer: resume, progress bar, divergence guard, history, save.

    run = Run(config, out, resume, progress, desc="sinusoid maml")
    if run.resumed: restore θ, optimizer and RNG states from run.resumed
    for it in run.iterations():
        ... one meta-iteration; if the loss or gradient is not finite: raise run.diverged(it, loss)
        run.done(it, record)                # bar, history (record optional; or later: run.log(record))
        if run.due(): run.save(theta=..., optimizer=..., rng=...)
    return run.save(...)

A checkpoint holds what the trainer passes to save(), the config, the command that trained it and the
run's state (iteration, history, wall time); it is written atomically with its checksum, and its
history is written beside it as CSV.
"""
from __future__ import annotations

import csv
import shlex
import time
from dataclasses import asdict
from pathlib import Path

from .checkpoints import atomic_write, load_checkpoint, save_checkpoint

RESUMABLE = ("iterations", "checkpoint_every")   # settings a resumed run may change; the rest may not


class TrainingDiverged(FloatingPointError):
    """The meta-loss or meta-gradient stopped being finite; the last good checkpoint is untouched."""


def config_dict(config) -> dict:
    """A config dataclass as the plain dict a checkpoint stores (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def command_line(prog: str, argv: list[str], out: Path | None = None) -> str:
    """How a run was started, as saved in its checkpoint: `prog` and `argv` without the flags that do
    not change what is trained or are this machine's (--resume, --quiet, --threads N, --sampler S,
    --ray-address A), with `--out out` if argv lacks it."""
    valued = ("--threads", "--sampler", "--ray-address")
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in valued:
            skip = True
        elif a not in ("--resume", "--quiet") and not a.startswith(tuple(f"{v}=" for v in valued)):
            kept.append(a)
    given = any(a == "--out" or a.startswith("--out=") for a in kept)
    return shlex.join([*shlex.split(prog), *kept, *([] if given or out is None else ["--out", str(out)])])


def write_history(history: list[dict], path: Path) -> None:
    """The metrics log beside a checkpoint, as CSV (written atomically)."""
    if not history:
        return
    columns = list(dict.fromkeys(key for record in history for key in record))

    def write(f):
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(history)
    atomic_write(path, write, mode="w")


class Run:
    """The bookkeeping of one training run (see the module docstring)."""

    def __init__(self, config, out=None, resume: bool = False, progress: bool = True, desc: str = "",
                 command: str | None = None):
        self.config, self.command = config, command
        self.out = Path(out) if out else None
        self.state = dict(iteration=0, history=[], wall_time=0.0)
        self.saved_at = None          # iteration of the checkpoint on disk at `out` (None: none written)
        self.resumed = None
        if resume and self.out is not None and self.out.exists():
            self.resumed = self._check_resume(load_checkpoint(self.out))
            self.state = {k: self.resumed[k] for k in self.state}
            self.saved_at = self.state["iteration"]
        from tqdm.auto import tqdm
        self.bar = tqdm(total=config.iterations, initial=self.state["iteration"], disable=not progress,
                        desc=desc, unit="it")
        self._started = time.perf_counter() - self.state["wall_time"]

    def _check_resume(self, ckpt: dict) -> dict:
        done, wanted = ckpt["iteration"], self.config.iterations
        if wanted < done:
            raise ValueError(f"resume: the checkpoint at {self.out} has {done} iterations done; "
                             f"--iterations must be at least that, got {wanted}")
        fixed = lambda c: {k: v for k, v in c.items() if k not in RESUMABLE}
        if fixed(ckpt["config"]) != fixed(config_dict(self.config)):
            old, new = ckpt["config"], config_dict(self.config)
            changed = ", ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in sorted(fixed(old) | fixed(new))
                                if old.get(k) != new.get(k))
            raise ValueError(f"resume: the checkpoint at {self.out} was trained with different settings "
                             f"({changed}); pass the same settings or a new --out")
        return ckpt

    def iterations(self) -> range:
        return range(self.state["iteration"], self.config.iterations)

    def done(self, it: int, record: dict | None = None, **postfix) -> None:
        """Iteration `it` is done: advance the bar, and log `record` if given."""
        self.state["iteration"] = it + 1
        self.state["wall_time"] = time.perf_counter() - self._started
        self.bar.update(1)
        if record is not None or postfix:
            self.log(record, **postfix)

    def log(self, record: dict | None = None, **postfix) -> None:
        """Append `record` (with the run's wall time) to the history; show `postfix` on the bar."""
        if record is not None:
            self.state["history"].append(record | dict(wall_time=self.state["wall_time"]))
        if postfix:
            self.bar.set_postfix(postfix)

    def due(self) -> bool:
        """A checkpoint is due: every `checkpoint_every` iterations and after the last."""
        it = self.state["iteration"]
        return it % self.config.checkpoint_every == 0 or it == self.config.iterations

    def save(self, **contents) -> dict:
        """The checkpoint dict of `contents`, config, command and state; written to `out` if given."""
        ckpt = dict(config=config_dict(self.config), command=self.command, **contents, **self.state)
        if self.out is not None:
            save_checkpoint(ckpt, self.out)
            write_history(self.state["history"], self.out.with_suffix(".csv"))
            self.saved_at = self.state["iteration"]
        return ckpt

    def close(self) -> None:
        self.bar.close()

    def diverged(self, it: int, value) -> TrainingDiverged:
        """The error to raise when iteration `it`'s meta-loss or meta-gradient is not finite."""
        self.close()
        where = (f"the last good checkpoint ({self.out}, iteration {self.saved_at}) is intact"
                 if self.saved_at is not None else "no checkpoint was written")
        value = "" if value is None else f" ({value})"
        return TrainingDiverged(f"meta-loss/meta-gradient became non-finite{value} at iteration {it}; "
                                f"stopped before the update; {where}. Lower meta_lr or alpha.")
