"""Grades on paper: the table printed per submission, and the files an instructor or an LMS takes —
per-exercise CSV, one row per student CSV, JSON (also the state a re-run resumes from), Gradescope's
results.json. Every file is written to a temporary name and renamed: a crash never leaves half a report."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    note: str = ""          # e.g. "graded as ex01 although the file name says ex02"
    digest: str = ""        # sha256 of the submitted file (a re-run skips it when unchanged)

    @property
    def score(self) -> float:
        return sum(r.points or 0 for r in self.results if r.kind == "auto")

    @property
    def max_auto(self) -> float:
        return sum(r.max_points for r in self.results if r.kind == "auto")

    @property
    def max_hand(self) -> float:
        return sum(r.max_points for r in self.results if r.kind == "hand")

    def to_json(self) -> dict:
        return dict(submission=self.submission, notebook=self.notebook, score=self.score, max_auto=self.max_auto,
                    max_hand=self.max_hand, seconds=round(self.seconds, 1), runs=self.runs, error=self.error,
                    note=self.note, digest=self.digest, exercises=[asdict(x) for x in self.results],
                    answers=self.answers)

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionReport":
        report = cls(data["submission"], data["notebook"], [ExerciseResult(**x) for x in data["exercises"]],
                     data.get("answers", {}), data.get("seconds", 0.0), data.get("runs", 0), data.get("error", ""),
                     data.get("note", ""), data.get("digest", ""))
        return report


def format_table(report: SubmissionReport, width: int | None = None) -> str:
    """The per-exercise table printed for a submission (messages cut to the terminal width)."""
    width = width or max(shutil.get_terminal_size((140, 20)).columns, 100)
    hand = f" (+ {report.max_hand:g} graded by hand)" if report.max_hand else ""
    lines = [f"{report.submission}  [{report.notebook}]  score {report.score:g} / {report.max_auto:g}{hand}"
             f"  ({report.seconds:.0f} s, {report.runs} run{'s' if report.runs != 1 else ''})"]
    if report.note:
        lines.append(f"  note: {report.note}")
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


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


CSV_FIELDS = ["submission", "notebook", "exercise", "name", "kind", "points", "max_points", "status", "message"]


def exercises_csv(reports: list[SubmissionReport]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for report in reports:
        for r in report.results:
            row = asdict(r)
            row["points"] = "" if r.points is None else r.points
            writer.writerow({k: row[k] for k in CSV_FIELDS})
    return out.getvalue()


def students_csv(reports: list[SubmissionReport], complete: bool = True) -> str:
    """One row per submission: the points of every automatic exercise, the total and its maximum — the
    shape an LMS gradebook imports."""
    ids: list[str] = []
    for report in reports:
        ids += [r.exercise for r in report.results if r.kind == "auto" and r.exercise not in ids]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["submission", "notebook", *ids, "total", "max_total", "graded_by_hand_max", "complete"])
    for report in reports:
        points = {r.exercise: r.points for r in report.results if r.kind == "auto"}
        writer.writerow([report.submission, report.notebook, *[points.get(i, "") for i in ids],
                         report.score, report.max_auto, report.max_hand, "yes" if complete else "no"])
    return out.getvalue()


def report_json(reports: list[SubmissionReport], seed: int, sandbox: str, complete: bool, solutions: dict) -> str:
    data = {"complete": complete, "seed": seed, "sandbox": sandbox, "solutions": solutions,
            "submissions": [r.to_json() for r in reports]}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def gradescope_json(report: SubmissionReport, sandbox: str) -> str:
    """Gradescope's autograder results.json: a test per automatic exercise (score, max_score, output)."""
    tests = [{"name": f"{r.exercise} {r.name}", "score": r.points or 0, "max_score": r.max_points,
              "status": "passed" if r.status == "pass" else "failed", "output": r.message or "passed"}
             for r in report.results if r.kind == "auto"]
    hand = [f"{r.exercise} {r.name} ({r.max_points:g} points) is graded by hand" for r in report.results if r.kind == "hand"]
    output = "\n".join(filter(None, [report.note, report.error, *hand, f"sandbox: {sandbox}"]))
    return json.dumps({"score": report.score, "output": output, "tests": tests, "visibility": "visible"}, indent=1) + "\n"


def load_previous(path: Path | None) -> dict:
    """The JSON report of an earlier run of the same command ({} if none or unreadable)."""
    if path is None or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text())
        data["submissions"] = [SubmissionReport.from_json(s) for s in data.get("submissions", [])]
        return data
    except (ValueError, KeyError, TypeError):
        return {}
