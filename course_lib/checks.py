"""The student's side of a graded test cell: self-checks a learner can read, values the grader compares.

    # GRADED TEST: ex1.1 inner_step (2 points)
    # MUST NOT CALL: course_lib.inner.inner_update
    with graded("ex1.1") as t:
        params = {"w": torch.tensor(t.rng.normal(size=2), requires_grad=True)}   # inputs drawn from t.rng
        new = inner_step(params, loss_fn, 0.1)
        assert torch.allclose(new["w"], expected), "θ' must be θ − α∇L(θ)"          # a self-check
        t.submit("w", new["w"], atol=1e-10)                                       # what is graded

* **Self-checks** (`assert`) are for the learner: a failed one prints "✗ Exercise 1.1: <message>" and the
  notebook goes on to its next cell (Run All reaches the end). They decide nothing.
* **Submissions** (`t.submit(key, value, rtol, atol)`) are what is graded. In a grading run
  (`python -m course_lib.grade`) they leave the kernel as display data; the grader compares them, in its
  own process, with the values the solution notebook submits for the same inputs, with the solution's
  tolerances. A missing or different value fails the exercise, whatever the cell printed.
* **Inputs** come from `t.rng` (NumPy) and `t.torch_seed`: seed 0 in your own notebook, a seed drawn for
  each grading run there, so graded values cannot be written down in advance.

Nothing here imports an algorithm: the graded cell's code does the computing.
"""
from __future__ import annotations

import functools
import json
import os
import traceback

import numpy as np

SUBMISSION_MIME = "application/vnd.course-lib.submission+json"
SEED_ENV = "COURSE_LIB_GRADING_SEED"     # the seed of the graded cells' inputs (the grader draws one per run)
GRADING_ENV = "COURSE_LIB_GRADING"       # "1" in a grading run's kernels: submissions leave as display data
FAILED: set[str] = set()                 # exercises whose graded cell failed in this kernel (fallback() reads it)
SUBMITTED: dict[str, dict[str, dict]] = {}   # {exercise: {key: payload}} of this kernel's last run of each cell


def grading_run() -> bool:
    return os.environ.get(GRADING_ENV) == "1"


def _plain(value):
    """JSON-ready nested lists of float/int/bool from tensors, arrays, numbers and (nested) dicts/lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "detach"):                                  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"submit() takes numbers, arrays, tensors and dicts/lists of them, got {type(value).__name__}")
    if array.dtype.kind == "b":
        return array.tolist()
    return np.asarray(array, dtype=np.float64).tolist()


class graded:
    """Context manager for a graded test cell (see the module docstring)."""

    def __init__(self, exercise: str):
        if not (isinstance(exercise, str) and exercise.startswith("ex")):
            raise ValueError(f"exercise must be an id like 'ex1.1', got {exercise!r}")
        self.exercise = exercise
        self.label = f"Exercise {exercise[2:]}"
        self.seed = int(os.environ.get(SEED_ENV, "0"))
        numbers = [int(n) for n in exercise[2:].split(".") if n.isdigit()]
        self.rng = np.random.default_rng([self.seed, *numbers])
        self.torch_seed = int(self.rng.integers(2**31 - 1))

    def submit(self, key: str, value, rtol: float = 1e-5, atol: float = 1e-8) -> None:
        """Hand `value` to the grader under `key` (the solution's rtol/atol decide, never these)."""
        payload = {"exercise": self.exercise, "key": key, "value": _plain(value), "rtol": rtol, "atol": atol}
        SUBMITTED.setdefault(self.exercise, {})[key] = payload
        if grading_run():
            from IPython.display import display
            display({SUBMISSION_MIME: json.dumps(payload), "text/plain": f"[submitted {self.exercise} {key}]"},
                    raw=True)

    def __enter__(self):
        FAILED.discard(self.exercise)
        SUBMITTED[self.exercise] = {}
        return self

    def __exit__(self, kind, error, tb):
        if kind is None:
            print(f"✓ {self.label}: all checks passed", flush=True)
            return False
        if not issubclass(kind, Exception):                      # KeyboardInterrupt (a timeout), SystemExit
            FAILED.add(self.exercise)
            return False
        if kind is not NotImplementedError:                      # a stub is cheap to call again
            FAILED.add(self.exercise)
        message = str(error).strip() or kind.__name__
        if kind is AssertionError:
            print(f"✗ {self.label}: {message}", flush=True)
        elif kind is NotImplementedError:
            print(f"✗ {self.label} is not done yet ({message})", flush=True)
        else:
            try:
                where = "".join(traceback.format_tb(tb)[-2:]).rstrip()
            except Exception:                                    # a grading run hides some frames
                where = ""
            print(f"✗ {self.label}: {kind.__name__}: {message}\n{where}", flush=True)
        return True                                              # the notebook goes on


def fallback(student_fn, reference_fn, exercise: str):
    """`student_fn`, or `reference_fn` (with a notice) while the student's raises NotImplementedError or
    has failed its graded cell in this kernel — so a notebook runs top to bottom, and an answer that hangs
    costs one timeout, not one per later cell. Graded cells call the student's function directly.
    After a call, `.used_reference` says whose function ran (for a plot's title)."""
    label = exercise if exercise.startswith("Exercise") else f"Exercise {exercise.removeprefix('ex')}"
    exercise_id = "ex" + label.removeprefix("Exercise ").strip()
    name = getattr(reference_fn, "__name__", "this function")
    noticed = False

    @functools.wraps(reference_fn)
    def call(*args, **kwargs):
        nonlocal noticed
        if student_fn is not None and exercise_id not in FAILED:
            try:
                result = student_fn(*args, **kwargs)
                call.used_reference = False
                return result
            except NotImplementedError:
                pass
        call.used_reference = True
        if not noticed:
            why = "failed its graded cell" if exercise_id in FAILED else "is not done yet"
            print(f"⚠ {label} ({name}) {why} — using course_lib's implementation so the notebook keeps running.",
                  flush=True)
            noticed = True
        return reference_fn(*args, **kwargs)

    call.used_reference = False
    return call
