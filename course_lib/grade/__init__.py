"""Grade submitted exercise notebooks with the official graded cells, under nbval, in a sandbox.

    python -m course_lib.grade submissions/*.ipynb --report grades.csv [--timeout 180] [--jobs 1]
                               [--gradescope results.json] [--seed N] [--solutions solutions/]

For every submission:
1. find its solution notebook (solutions/<name>.py): by the exercise ids it contains — content wins over
   the file name, and the report says when they disagree (`--reference NAME` forces one);
2. rebuild it: the student's cells, with every `# GRADED TEST: exN.M` cell replaced by the official one;
3. run it with `pytest --nbval-lax` in a fresh kernel inside the sandbox (sandbox.py: bubblewrap — uid
   65534, read-only system, no network, an empty home, nothing of the grader's; kernel.py: resource
   limits and the borrow guard). A pytest plugin in the grader's process (nbval_records.py) records, per
   cell, the values the graded cells submitted;
4. decide, in the grader's process (verdict.py): an exercise passes iff its graded cell submitted every
   value the solution's graded cell submits for the same seed, within the solution's tolerances, and the
   answer does not call course_lib's implementation of the exercise (the `# MUST NOT CALL:` line; checked
   in the answer's source here and by the kernel's guard at run time). The seed of the cells' inputs is
   drawn per grading run. Nothing the kernel prints or patches counts: asserts, allclose, IPython hooks;
5. isolate faults: a timeout fails its own cell (nbval interrupts and goes on; later cells skip an
   answer that failed); if a cell kills or hangs the kernel, the run is repeated without it (an
   exercise cell is stubbed, a graded cell dropped, any other cell skipped), so the culprit alone pays;
6. collect written answers ("GRADED BY HAND") for the instructor.

Reports (written atomically after every submission, so Ctrl-C or a crash keeps what was graded; a re-run
of the same command resumes, re-grading only new or changed submissions): the per-exercise CSV
(--report), one row per student (<report>.students.csv), JSON (<report>.json, or --json), and Gradescope's
results.json (--gradescope, for one submission).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..grading import answer_text, exercise_cell_id
from .kernel import BORROWED_MIME
from .notebooks import Reference, borrowed_names, file_digest, load_notebook, load_references, match_reference, rebuild
from .reports import ExerciseResult, SubmissionReport
from .run import Runner
from .verdict import submissions_in, verdict

DEFAULT_TIMEOUT = 180


def _kernel_lost(record: dict) -> bool:
    text = record.get("message", "")
    return "Kernel dead" in text or "Failed to interrupt kernel" in text or "waiting for output" in text \
        or "Timed out waiting for idle kernel" in text or "Kernel didn't respond" in text


def _borrowed(record: dict) -> str:
    """The guard's notice in a graded cell's output: "inner_step calls course_lib.inner.inner_update"."""
    for data in record.get("data") or ():
        if isinstance(data, dict) and BORROWED_MIME in data:
            try:
                notice = json.loads(data[BORROWED_MIME])
                return f"{notice['function']} calls {notice['calls']}"[:300]
            except (TypeError, ValueError, KeyError):
                return "calls course_lib's implementation"
    return ""


def _run_isolated(student, ref: Reference, runner: Runner, label: str, max_runs: int):
    """Run the rebuilt notebook, re-running without any cell that kills or hangs the kernel.
    Returns ({exercise: test-cell record}, {exercise: why it was stubbed/dropped}, runs, error)."""
    stubbed: dict[str, str] = {}
    dropped: set[str] = set()
    skipped: set[int] = set()
    outcome: dict[str, dict] = {}
    for run in range(1, max_runs + 1):
        nb, roles = rebuild(student, ref.student, frozenset(stubbed), frozenset(skipped), frozenset(dropped))
        records, log = runner.run(nb, ref.forbid_map(), label)
        records = {r["cell"]: r for r in records}
        if not records:                                   # nothing ran at all: no kernel, broken pytest, ...
            lines = log.strip().splitlines()
            return outcome, stubbed, run, "the notebook could not be run: " + (lines[-1] if lines else "no output")
        lost = next((i for i in range(len(roles)) if i not in records or _kernel_lost(records[i])), None)
        for i, role in enumerate(roles):
            if lost is not None and i >= lost and not (i == lost and i in records):
                break                                     # cells after the kernel was lost: re-run below
            if role.kind == "test" and i in records:
                outcome[role.exercise] = records[i]
        if lost is None:
            return outcome, stubbed, run, ""
        # a missing record: the run was stopped inside cell `lost`; "Kernel dead on test start": the cell
        # before it killed the kernel; otherwise cell `lost` could not be interrupted
        dead_on_start = lost in records and "Kernel dead" in records[lost].get("message", "")
        culprit = max(lost - 1 if dead_on_start else lost, 0)
        role = roles[culprit]
        why = records.get(culprit, {}).get("message") or "the kernel died or stopped responding"
        if role.kind == "test":
            stubbed[role.exercise] = f"graded cell: {why}"
            dropped.add(role.exercise)                    # its answer pays, wherever the answer's code is
            outcome.pop(role.exercise, None)
        elif role.kind == "exercise" and role.exercise not in stubbed:
            stubbed[role.exercise] = f"exercise cell: {why}"
            outcome.pop(role.exercise, None)
        elif role.origin is not None and role.origin not in skipped:
            skipped.add(role.origin)
        else:
            return outcome, stubbed, run, f"the kernel kept dying ({why})"
    return outcome, stubbed, max_runs, "too many kernel deaths"


def grade_notebook(path: Path, references: dict[str, Reference], runner: Runner, forced: str | None = None,
                   max_runs: int = 8) -> SubmissionReport:
    """Grade one submission (never raises for a broken submission)."""
    started = time.perf_counter()
    path = Path(path)
    try:
        student, load_error = load_notebook(path), ""
    except Exception as err:                              # unreadable JSON, missing file, ...
        student, load_error = None, f"could not read the notebook: {type(err).__name__}: {err}"
    name, note = match_reference(path, student, references, forced)
    report = SubmissionReport(str(path), name or "?", note=note)
    try:
        report.digest = file_digest(path)
    except OSError:
        pass
    if name is None:
        report.error = load_error or "no solution notebook matches this submission (use --reference NAME)"
        report.results.append(ExerciseResult(str(path), "?", "-", "-", "auto", 0, 0, "fail", report.error))
        return report
    ref = references[name]
    expected, setup_error = runner.expected(ref)
    outcome, stubbed, report.runs, report.error = ({}, {}, 0, load_error) if student is None else \
        _run_isolated(student, ref, runner, path.stem, max_runs)
    sources = {}
    for cell in (student.cells if student is not None else ()):
        ex = exercise_cell_id(cell)
        if ex and ex not in sources:
            sources[ex] = cell.source

    for e in ref.exercises:
        if e.kind == "hand":
            text = answer_text(student, e.id) if student is not None else ""
            report.answers[e.id] = text
            summary = f"{len(text.split())} words" if text else "no answer"
            report.results.append(ExerciseResult(str(path), name, e.id, e.name, "hand", e.points, None, "by hand", summary))
            continue
        passed, message = _judge(e.id, ref, expected, setup_error, outcome, stubbed, sources, report.error)
        report.results.append(ExerciseResult(str(path), name, e.id, e.name, "auto", e.points,
                                             e.points if passed else 0, "pass" if passed else "fail",
                                             "" if passed else message))
    report.seconds = time.perf_counter() - started
    return report


def _judge(ex, ref, expected, setup_error, outcome, stubbed, sources, run_error) -> tuple[bool, str]:
    if setup_error and not expected.get(ex):
        return False, f"grader set-up error: {setup_error}"
    function = ref.functions.get(ex, "")
    names = borrowed_names(sources.get(ex, ""), function, ref.forbidden.get(ex, []))
    if names:
        return False, (f"{function} uses {', '.join(names)}: course_lib's implementation of this exercise "
                       "(write it yourself)")
    if ex in stubbed:
        return False, f"killed or hung the kernel ({stubbed[ex]})"
    record = outcome.get(ex)
    if record is None:
        return False, run_error or "the graded cell did not run"
    borrowed = _borrowed(record)
    if borrowed:
        return False, f"{borrowed}: course_lib's implementation of this exercise (write it yourself)"
    got = {k: [p["value"] for p in v] for k, v in submissions_in(record.get("data")).get(ex, {}).items()}
    passed, why = verdict(expected.get(ex, {}), got)
    if passed:
        return True, ""
    said = record.get("checks") or ""                    # the kernel's own words: shown as such, never decisive
    error = record.get("message") or ""
    if error:
        return False, f"{why} — {error}" + (f" (the cell printed: {said})" if said else "")
    return False, f"{why} (the cell printed: {said})" if said else why
