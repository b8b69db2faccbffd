"""Grade submitted exercise notebooks with the official tests, under nbval, one fresh kernel each.

    python -m course_lib.grade alice.ipynb bob.ipynb ... --report grades.csv [--json grades.json]
                               [--timeout 180] [--reference-dir exercises/] [--jobs 1]
    python -m course_lib.grade alice.ipynb --rebuild-only rebuilt/     # the notebook that would be run

For every submission:
1. find its reference notebook (exercises/<name>.ipynb): by file name, else by the exercise ids it
   contains (`--reference NAME` forces one);
2. rebuild it: the student's cells, with every `# GRADED TEST: exN.M` cell replaced by the official
   one — edited or deleted test cells come back as they were; a missing one is put after the
   student's exercise cell, or where it stood in the reference;
3. run it with `pytest --nbval-lax --nbval-cell-timeout=T` in a fresh kernel (a subprocess); a small
   pytest plugin (nbval_records.py, loaded by a generated conftest.py) records every cell's outcome;
4. score: an exercise gets its points if and only if its official test cell passes. A crash, a syntax
   error or a missing function fails that exercise's test only. An infinite loop is interrupted after
   T seconds and fails only the cell it is in (nbval interrupts the kernel and goes on). If the kernel
   dies or cannot be interrupted, the run is repeated with the culprit's cells replaced by the stubs
   (an exercise) or skipped (any other cell), so the remaining exercises are still graded;
5. written answers ("GRADED BY HAND") are collected into the report for the instructor.

It prints a table per submission (exercise, points, pass/fail, the assertion message) and writes one
CSV row per exercise and submission (and a JSON report with totals and written answers). It always
finishes: an unreadable notebook scores zero with the reason, never stops the others.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..grading import (EXERCISES, Exercise, answer_text, exercise_cell_id, exercises_in, graded_test_of,
                      strip_solutions)

RECORDS_ENV = "COURSE_LIB_GRADE_RECORDS"   # where the plugin writes one JSON line per cell
PLUGIN = Path(__file__).resolve().parent / "nbval_records.py"
# The grading run's conftest loads the plugin file directly (no `import course_lib`, hence no torch,
# in the pytest process: only the kernel needs the library).
CONFTEST = """import importlib.util
_spec = importlib.util.spec_from_file_location("course_lib_nbval_records", {plugin!r})
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)
pytest_runtest_makereport = _plugin.pytest_runtest_makereport
"""
DEFAULT_TIMEOUT = 180


@dataclass
class ExerciseResult:
    submission: str
    notebook: str
    exercise: str
    name: str
    kind: str               # "auto" | "hand"
    max_points: float
    points: float | None    # None: graded by hand
    status: str             # "pass" | "fail" | "by hand"
    message: str = ""


@dataclass
class SubmissionReport:
    submission: str
    notebook: str
    results: list[ExerciseResult] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    runs: int = 0
    error: str = ""

    @property
    def score(self) -> float:
        return sum(r.points or 0 for r in self.results if r.kind == "auto")

    @property
    def max_auto(self) -> float:
        return sum(r.max_points for r in self.results if r.kind == "auto")

    @property
    def max_hand(self) -> float:
        return sum(r.max_points for r in self.results if r.kind == "hand")


# --------------------------------------------------------------------------------------------------
# Loading and matching
# --------------------------------------------------------------------------------------------------

def load_notebook(path: Path):
    """A notebook from .ipynb (or a Jupytext .py/.md)."""
    import jupytext
    import nbformat

    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(str(path), as_version=4)
    return jupytext.read(path)


def load_references(reference_dir: Path = EXERCISES) -> dict:
    """{name: student version of the reference notebook} (solution regions are stubbed in any case)."""
    reference_dir = Path(reference_dir)
    refs = {}
    for path in sorted(reference_dir.glob("*.ipynb")) or sorted(reference_dir.glob("*.py")):
        nb = strip_solutions(load_notebook(path))
        if exercises_in(nb):
            refs[path.stem] = nb
    if not refs:
        raise FileNotFoundError(f"no reference notebooks with graded exercises in {reference_dir}")
    return refs


def match_reference(path: Path, nb, references: dict, forced: str | None = None) -> str | None:
    """The reference a submission answers: forced, by file name, or by the exercise ids it contains."""
    if forced:
        if forced not in references:
            raise ValueError(f"--reference must be one of {sorted(references)}, got {forced!r}")
        return forced
    stem = Path(path).stem
    by_name = [name for name in references if name == stem or name in stem]
    if len(by_name) == 1:
        return by_name[0]
    if nb is not None:
        ids = {graded_test_of(c).id for c in nb.cells if graded_test_of(c)} | \
              {exercise_cell_id(c) for c in nb.cells if exercise_cell_id(c)}
        overlap = {name: len(ids & {e.id for e in exercises_in(ref)}) for name, ref in references.items()}
        best = max(overlap, key=overlap.get)
        if overlap[best] > 0:
            return best
    return by_name[0] if by_name else None


# --------------------------------------------------------------------------------------------------
# Rebuilding the notebook with the official tests
# --------------------------------------------------------------------------------------------------

@dataclass
class Role:
    kind: str               # "test" | "exercise" | "other"
    exercise: str | None
    origin: int | None      # index of the cell in the student's notebook (None: inserted by the grader)


def rebuild(student, reference, stubbed: frozenset = frozenset(), skipped: frozenset = frozenset()):
    """(notebook to run, role of each code cell in order): the student's cells with the official tests.

    `stubbed` exercises get the reference's (stub) exercise cell instead of the student's; `skipped`
    student cells (indices) are left out — used to re-run after a cell killed the kernel.
    """
    import nbformat

    official = {graded_test_of(c).id: c for c in reference.cells if graded_test_of(c)}
    stubs = {exercise_cell_id(c): c for c in reference.cells if exercise_cell_id(c)}
    order = [e for e in official]
    cells: list[tuple[object, Role]] = []
    placed: set[str] = set()
    for i, cell in enumerate(student.cells):
        if cell.get("cell_type") == "code" and i in skipped:
            continue
        test = graded_test_of(cell)
        if test is not None:
            if test.id in official and test.id not in placed:
                cells.append((official[test.id], Role("test", test.id, None)))
                placed.add(test.id)
            continue                                      # a duplicate or unknown test cell: dropped
        ex = exercise_cell_id(cell)
        if ex is not None and ex in stubbed:
            if ex in stubs and not any(r.kind == "exercise" and r.exercise == ex for _, r in cells):
                cells.append((stubs[ex], Role("exercise", ex, None)))
            continue
        cells.append((cell, Role("exercise" if ex else "other", ex, i)))
    for ex in order:                                      # official tests the student deleted
        if ex in placed:
            continue
        after = [k for k, (_, r) in enumerate(cells) if r.kind == "exercise" and r.exercise == ex]
        if after:
            at = after[-1] + 1
        else:                                             # before the next exercise's test, else at the end
            later = order[order.index(ex) + 1:]
            at = next((k for k, (_, r) in enumerate(cells) if r.kind == "test" and r.exercise in later), len(cells))
        cells.insert(at, (official[ex], Role("test", ex, None)))
        placed.add(ex)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    roles = []
    for cell, role in cells:
        if cell.get("cell_type") == "code":
            nb.cells.append(nbformat.v4.new_code_cell(cell.get("source", "")))
            roles.append(role)
        elif cell.get("cell_type") == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.get("source", "")))
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i}"
    return nb, roles


# --------------------------------------------------------------------------------------------------
# Running under nbval
# --------------------------------------------------------------------------------------------------

def run_nbval(nb, workdir: Path, cell_timeout: float, n_code: int) -> list[dict]:
    """Run `nb` with pytest --nbval-lax in a subprocess; the per-cell records of our plugin."""
    import nbformat

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "submission.ipynb"
    nbformat.write(nb, str(path))
    # the records live outside the kernel's working directory, under a random name, and the plugin
    # removes their path from the environment before the kernel starts: student code cannot forge them
    fd, records = tempfile.mkstemp(prefix="records_", suffix=".jsonl")
    os.close(fd)
    records = Path(records)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    (workdir / "conftest.py").write_text(CONFTEST.format(plugin=str(PLUGIN)))
    cmd = [sys.executable, "-m", "pytest", str(path), "-p", "no:cacheprovider",
           "-c", str(workdir / "pytest.ini"), "--rootdir", str(workdir), "-q", "--no-header",
           "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout:g}"]
    env = {**os.environ, RECORDS_ENV: str(records), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    limit = 120 + (cell_timeout + 15) * max(n_code, 1)
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    (workdir / "pytest.log").write_bytes(output or b"")
    rows = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    records.unlink()
    for row in rows:                                     # never leave a student's kernel behind
        if row.get("kernel_pid"):
            _kill_kernel(row["kernel_pid"])
    return [r for r in rows if "cell" in r]


def _kill_kernel(pid: int) -> None:
    """SIGKILL the grading run's kernel if it is still alive (and still an ipykernel process)."""
    try:
        if "ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def _kernel_lost(record: dict) -> bool:
    text = record.get("message", "")
    return "Kernel dead" in text or "Failed to interrupt kernel" in text or "waiting for output" in text \
        or "Timed out waiting for idle kernel" in text


def grade_notebook(path: Path, references: dict, cell_timeout: float = DEFAULT_TIMEOUT,
                   forced: str | None = None, max_runs: int = 6, workdir: Path | None = None) -> SubmissionReport:
    """Grade one submission (never raises for a broken submission)."""
    started = time.perf_counter()
    path = Path(path)
    try:
        student, load_error = load_notebook(path), ""
    except Exception as err:                              # unreadable JSON, missing file, ...
        student, load_error = None, f"could not read the notebook: {type(err).__name__}: {err}"
    name = match_reference(path, student, references, forced)
    report = SubmissionReport(str(path), name or "?")
    if name is None:
        report.error = load_error or "no reference notebook matches this submission (use --reference NAME)"
        report.results.append(ExerciseResult(str(path), "?", "-", "-", "auto", 0, 0, "fail", report.error))
        return report
    reference = references[name]
    exercises = exercises_in(reference)
    if student is None:
        report.error = load_error
        report.results = [ExerciseResult(str(path), name, e.id, e.name, e.kind, e.points,
                                         0 if e.kind == "auto" else None,
                                         "fail" if e.kind == "auto" else "by hand", load_error) for e in exercises]
        return report

    stubbed: dict[str, str] = {}
    skipped: set[int] = set()
    outcome: dict[str, tuple[bool, str]] = {}
    own_cell_errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="grade_") as tmp:
        base = Path(workdir or tmp)
        for run in range(1, max_runs + 1):
            report.runs = run
            nb, roles = rebuild(student, reference, frozenset(stubbed), frozenset(skipped))
            records = {r["cell"]: r for r in run_nbval(nb, base / f"run{run}", cell_timeout, len(roles))}
            if not records:                               # nothing ran at all: no kernel, broken pytest, ...
                log = (base / f"run{run}" / "pytest.log").read_text(errors="replace").strip().splitlines()
                report.error = "the notebook could not be run: " + (log[-1] if log else "no output")
                break
            lost = next((i for i in range(len(roles)) if i not in records or _kernel_lost(records[i])), None)
            for i, role in enumerate(roles):
                if lost is not None and i >= lost and not (i == lost and i in records):
                    break                                 # cells after the kernel was lost: re-run below
                rec = records.get(i)
                if rec is None:
                    continue
                if role.kind == "test":
                    outcome[role.exercise] = (rec["passed"], rec.get("message", ""))
                elif role.kind == "exercise" and not rec["passed"] and not rec.get("skipped"):
                    own_cell_errors.setdefault(role.exercise, rec.get("message", ""))
            if lost is None:
                break
            # a missing record: the run was stopped inside cell `lost`; "Kernel dead on test start": the
            # cell before it killed the kernel; otherwise cell `lost` could not be interrupted
            dead_on_start = lost in records and "Kernel dead" in records[lost].get("message", "")
            culprit = max(lost - 1 if dead_on_start else lost, 0)
            role = roles[culprit]
            why = records.get(culprit, {}).get("message") or "the kernel died or stopped responding"
            if role.exercise and role.exercise not in stubbed:
                stubbed[role.exercise] = f"{'test' if role.kind == 'test' else 'exercise'} cell: {why}"
                outcome.pop(role.exercise, None)
            elif role.kind == "other" and role.origin is not None and role.origin not in skipped:
                skipped.add(role.origin)
            else:
                break                                     # nothing left to isolate

    for e in exercises:
        if e.kind == "hand":
            text = answer_text(student, e.id)
            report.answers[e.id] = text
            summary = f"{len(text.split())} words" if text else "no answer"
            report.results.append(ExerciseResult(str(path), name, e.id, e.name, "hand", e.points, None, "by hand", summary))
            continue
        if e.id in stubbed:
            passed, message = False, f"killed or hung the kernel ({stubbed[e.id]})"
        elif e.id in outcome:
            passed, message = outcome[e.id]
        else:
            passed, message = False, report.error or "the test cell did not run"
        if not passed and e.id in own_cell_errors and "NameError" in message:
            message = f"{message} — your exercise cell failed: {own_cell_errors[e.id]}"
        report.results.append(ExerciseResult(str(path), name, e.id, e.name, "auto", e.points,
                                             e.points if passed else 0, "pass" if passed else "fail",
                                             "" if passed else message))
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------

def format_table(report: SubmissionReport, width: int | None = None) -> str:
    """The per-exercise table printed for a submission (messages cut to the terminal width)."""
    import shutil

    width = width or max(shutil.get_terminal_size((140, 20)).columns, 100)
    hand = f" (+ {report.max_hand:g} graded by hand)" if report.max_hand else ""
    lines = [f"{report.submission}  [{report.notebook}]  score {report.score:g} / {report.max_auto:g}{hand}"
             f"  ({report.seconds:.0f} s, {report.runs} run{'s' if report.runs != 1 else ''})"]
    name_width = max([len(r.name) for r in report.results] + [4])
    lines.append(f"  {'exercise':8s}  {'name':{name_width}s}  {'points':>6s}  {'result':7s}  message")
    for r in report.results:
        pts = f"-/{r.max_points:g}" if r.points is None else f"{r.points:g}/{r.max_points:g}"
        msg = " ".join(r.message.split())
        room = max(width - name_width - 32, 30)
        msg = msg if len(msg) <= room else msg[: room - 1] + "…"
        status = r.status.upper() if r.status == "fail" else r.status
        lines.append(f"  {r.exercise:8s}  {r.name:{name_width}s}  {pts:>6s}  {status:7s}  {msg}")
    return "\n".join(lines)


CSV_FIELDS = ["submission", "notebook", "exercise", "name", "kind", "points", "max_points", "status", "message"]


def write_csv(reports: list[SubmissionReport], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for report in reports:
            for r in report.results:
                row = asdict(r)
                row["points"] = "" if r.points is None else r.points
                writer.writerow({k: row[k] for k in CSV_FIELDS})


def write_json(reports: list[SubmissionReport], path: Path) -> None:
    data = {"submissions": [dict(submission=r.submission, notebook=r.notebook, score=r.score, max_auto=r.max_auto,
                                 max_hand=r.max_hand, seconds=round(r.seconds, 1), runs=r.runs, error=r.error,
                                 exercises=[asdict(x) for x in r.results], answers=r.answers) for r in reports]}
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", nargs="+", type=Path, help="student notebooks (.ipynb, or Jupytext .py)")
    parser.add_argument("--report", type=Path, help="write the grades here (.csv; a .json name writes JSON)")
    parser.add_argument("--json", type=Path, help="also write a JSON report (totals and written answers)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per-cell timeout in seconds")
    parser.add_argument("--reference-dir", type=Path, default=EXERCISES, help="where the reference notebooks are")
    parser.add_argument("--reference", help="grade every submission against this reference notebook (its name)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--rebuild-only", type=Path, metavar="DIR",
                        help="only write the rebuilt notebooks (official tests inserted) to DIR, for plain pytest --nbval-lax")
    args = parser.parse_args(argv)
    references = load_references(args.reference_dir)

    if args.rebuild_only:
        args.rebuild_only.mkdir(parents=True, exist_ok=True)
        import nbformat
        for path in args.submissions:
            nb = load_notebook(path)
            name = match_reference(path, nb, references, args.reference)
            rebuilt, roles = rebuild(nb, references[name])
            out = args.rebuild_only / f"{path.stem}.ipynb"
            nbformat.write(rebuilt, str(out))
            tests = ", ".join(f"Cell {i} = {r.exercise}" for i, r in enumerate(roles) if r.kind == "test")
            print(f"{out}  [{name}]  {tests}")
        return 0

    def grade(path):
        report = grade_notebook(path, references, args.timeout, args.reference)
        print(format_table(report) + "\n", flush=True)
        return report

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        reports = list(pool.map(grade, args.submissions))
    if args.report:
        (write_json if args.report.suffix == ".json" else write_csv)(reports, args.report)
        print(f"wrote {args.report}")
    if args.json:
        write_json(reports, args.json)
        print(f"wrote {args.json}")
    total = sum(r.score for r in reports)
    print(f"graded {len(reports)} submission(s); mean score {total / len(reports):.1f}")
    return 0
