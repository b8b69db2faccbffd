"""The verdict on one exercise, decided in the grader's process: the student's submitted values against the
solution's, for the same grading seed, with the solution's tolerances. Knows values, not algorithms.

A payload is what `course_lib.checks.graded.submit` sends: {"exercise", "key", "value", "rtol", "atol"}.
"""
from __future__ import annotations

import json

import numpy as np

from ..checks import SUBMISSION_MIME


def submissions_in(data_items) -> dict[str, dict[str, list[dict]]]:
    """{exercise: {key: [payload, ...]}} from a cell's display data ({mime: text} dicts, as the grading
    plugin records them); anything malformed is ignored — it can only make a submission incomplete."""
    found: dict[str, dict[str, list[dict]]] = {}
    for data in data_items or ():
        if not isinstance(data, dict) or SUBMISSION_MIME not in data:
            continue
        try:
            payload = data[SUBMISSION_MIME]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            found.setdefault(str(payload["exercise"]), {}).setdefault(str(payload["key"]), []).append(
                {"value": payload["value"], "rtol": float(payload.get("rtol", 1e-5)),
                 "atol": float(payload.get("atol", 1e-8))})
        except (TypeError, ValueError, KeyError):
            continue
    return found


def _same(expected, got, rtol: float, atol: float) -> tuple[bool, str]:
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return False, f"expected entries {sorted(expected)}, got {sorted(got) if isinstance(got, dict) else type(got).__name__}"
        for k in expected:
            ok, why = _same(expected[k], got[k], rtol, atol)
            if not ok:
                return False, f"[{k!r}] {why}"
        return True, ""
    try:
        e = np.asarray(expected, dtype=np.float64)
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False, "not a number or an array of numbers"
    if e.shape != g.shape:
        return False, f"shape {g.shape}, expected {e.shape}"
    if not np.all(np.isfinite(g) | ~np.isfinite(e)) or not np.array_equal(np.isnan(e), np.isnan(g)):
        return False, "not finite"
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        err = float(np.max(np.abs(g - e) - rtol * np.abs(e))) if e.size else 0.0
        return False, f"off by up to {err:.3g} beyond the tolerance (rtol {rtol:g}, atol {atol:g})"
    return True, ""


def verdict(expected: dict[str, dict], got: dict[str, list]) -> tuple[bool, str]:
    """(passed, message): every key the solution submitted ({key: payload}), submitted by the student
    ({key: [value, ...]}) with values that all match the solution's within the solution's
    tolerances."""
    if not expected:
        return False, "the solution submitted nothing for this exercise (grader set-up error)"
    for key, payload in expected.items():
        values = got.get(key)
        if not values:
            return False, f"no value for {key!r} was submitted (the graded cell stopped before it)"
        for value in values:
            ok, why = _same(payload["value"], value, float(payload.get("rtol", 1e-5)), float(payload.get("atol", 1e-8)))
            if not ok:
                return False, f"{key!r} differs from the expected value: {why}"
    return True, ""
