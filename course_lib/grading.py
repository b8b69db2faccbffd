"""The graded exercises: one source (solutions/), two outputs (solutions/ and exercises/), and the
helpers the exercise notebooks use.

    python -m course_lib.grading generate            # exercises/*.py + *.ipynb from solutions/*.py
    python -m course_lib.grading generate --check    # exit 1 if exercises/ differs (CI runs this as a test)
    python tools/execute_notebooks.py solutions/ex01_meta_gradients.py      # save the .ipynb with outputs

Markers in the solution notebooks (nbgrader-compatible solution regions):

    # EXERCISE ex1.2: maml_meta_gradient          first line of an exercise cell
        ### BEGIN SOLUTION                          inside a function body; replaced in exercises/ by
        ### HINT: a nudge                            `raise NotImplementedError("Exercise 1.2: …")`;
        ### HINT: more specific                     each HINT line is one tier of a collapsed "Hint 1,
        ...                                          Hint 2, …" markdown cell right after the exercise
        ### END SOLUTION                            cell, opened by a learner who wants it
    # GRADED TEST: ex1.2 maml_meta_gradient (3 points)     first line of an official test cell
    **GRADED BY HAND: ex1.6 name (4 points)**              in the markdown cell asking a written question
    **Your answer (ex1.6):**                               first line of the markdown answer cell; its
        ### BEGIN SOLUTION … ### END SOLUTION              model answer becomes "YOUR ANSWER HERE" and
        ### BEGIN RUBRIC … ### END RUBRIC                  the rubric is removed from exercises/

The notebook side of a graded cell (`graded`, `fallback`) is course_lib/checks.py; the grader
(`python -m course_lib.grade`) is course_lib/grade/. Nothing here imports an algorithm.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_RUBRIC, END_RUBRIC = "### BEGIN RUBRIC", "### END RUBRIC"
HINT = "### HINT:"
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"

EXERCISE_RE = re.compile(r"^#\s*EXERCISE\s+(?P<id>ex\d+\.\d+)\s*:\s*(?P<name>\w+)")
TEST_RE = re.compile(r"^#\s*GRADED TEST:\s*(?P<id>ex\d+\.\d+)\s+(?P<name>\w+)\s*"
                     r"\((?P<points>\d+(?:\.\d+)?)\s*points?\)")
HAND_RE = re.compile(r"GRADED BY HAND:\s*(?P<id>ex\d+\.\d+)\s+(?P<name>\w+)\s*"
                     r"\((?P<points>\d+(?:\.\d+)?)\s*points?\)")
ANSWER_RE = re.compile(r"^\W*Your answer \((?P<id>ex\d+\.\d+)\)")


# --------------------------------------------------------------------------------------------------
# Reading the markers
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exercise:
    id: str             # "ex1.2"
    name: str           # "maml_meta_gradient"
    points: float
    kind: str           # "auto" (an official test cell) or "hand" (a written answer)

    @property
    def number(self) -> str:
        """ "1.2" for "ex1.2"."""
        return self.id[2:]


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def graded_test_of(cell) -> Exercise | None:
    """The exercise an official test cell grades (None for any other cell)."""
    if cell.get("cell_type") != "code":
        return None
    m = TEST_RE.match(_first_line(cell.get("source", "")))
    return Exercise(m["id"], m["name"], _number(m["points"]), "auto") if m else None


def exercise_cell_id(cell) -> str | None:
    """The exercise id of a cell that holds (the student's part of) an exercise."""
    if cell.get("cell_type") != "code":
        return None
    m = EXERCISE_RE.match(_first_line(cell.get("source", "")))
    return m["id"] if m else None


def hand_graded_exercise(cell) -> Exercise | None:
    if cell.get("cell_type") != "markdown":
        return None
    m = HAND_RE.search(cell.get("source", ""))
    return Exercise(m["id"], m["name"], _number(m["points"]), "hand") if m else None


def answer_cell_id(cell) -> str | None:
    if cell.get("cell_type") != "markdown":
        return None
    m = ANSWER_RE.match(_first_line(cell.get("source", "")))
    return m["id"] if m else None


def exercises_in(nb) -> list[Exercise]:
    """Every graded exercise of a notebook, in order: official test cells and hand-graded questions."""
    found = []
    for cell in nb.cells:
        ex = graded_test_of(cell) or hand_graded_exercise(cell)
        if ex is not None:
            found.append(ex)
    ids = [e.id for e in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"exercise ids must be unique within a notebook, got duplicates {duplicates}")
    return found


def answer_text(nb, exercise_id: str) -> str:
    """A student's written answer, '' if none: the answer cell without its first line and without the
    placeholder, plus any markdown cells the student added right after it (up to the next heading,
    code cell or graded question)."""
    cells = list(nb.cells)
    for i, cell in enumerate(cells):
        if answer_cell_id(cell) == exercise_id:
            parts = ["\n".join(cell.source.splitlines()[1:])]
            for extra in cells[i + 1:]:
                if (extra.get("cell_type") != "markdown" or extra.get("source", "").lstrip().startswith("#")
                        or hand_graded_exercise(extra) or answer_cell_id(extra)):
                    break
                parts.append(extra.get("source", ""))
            text = "\n\n".join(p.replace(ANSWER_PLACEHOLDER, "").strip() for p in parts)
            return text.strip()
    return ""


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


# --------------------------------------------------------------------------------------------------
# Solutions -> exercises
# --------------------------------------------------------------------------------------------------

def _stub_code(source: str, exercise_id: str | None) -> tuple[str, list[str]]:
    """(source with each solution region replaced by `raise NotImplementedError(...)`, its hints in order)."""
    lines, out, region, hints, indent = source.split("\n"), [], None, [], ""
    label = f"Exercise {exercise_id[2:]}" if exercise_id else "Exercise"
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if region is not None:
                raise ValueError(f"nested {BEGIN_SOLUTION} at line {number}")
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ValueError(f"{BEGIN_SOLUTION} at line {number} is not inside a function body: the "
                                 "stub would make the whole exercise cell raise")
            region = number
        elif marker == END_SOLUTION:
            if region is None:
                raise ValueError(f"{END_SOLUTION} without {BEGIN_SOLUTION} at line {number}")
            message = f"{label}: replace this line with your code"
            message += " (stuck? the hints under this cell open one at a time)." if hints else "."
            out += [f"{indent}# YOUR CODE HERE",
                    f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"]
            region = None
        elif region is not None:
            if marker.startswith(HINT):
                hints.append(marker[len(HINT):].strip())
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"{BEGIN_SOLUTION} at line {region} is never closed")
    return "\n".join(out), hints


def hint_cell(exercise_id: str | None, hints: list[str]):
    """A markdown cell of collapsed hints, one `<details>` per tier: the learner opens the next only if
    the last did not help."""
    import nbformat

    label = f"exercise {exercise_id[2:]}" if exercise_id else "this exercise"
    tiers = [f"<details><summary>Hint {i} of {len(hints)}{' (click to open)' if i == 1 else ''}</summary>\n\n"
             f"{text}\n\n</details>" for i, text in enumerate(hints, 1)]
    return nbformat.v4.new_markdown_cell(f"**Stuck on {label}?** Open one hint at a time, and try again "
                                         "before opening the next.\n\n" + "\n".join(tiers))


def _strip_region(source: str, begin: str, end: str, replacement: str | None) -> str:
    pattern = re.compile(rf"^[ \t]*{re.escape(begin)}[ \t]*\n.*?^[ \t]*{re.escape(end)}[ \t]*$", re.M | re.S)
    if source.count(begin) != source.count(end):
        raise ValueError(f"unbalanced {begin} / {end} in a markdown cell")
    if replacement is None:
        source = pattern.sub("", source)
        source = re.sub(r"\n{3,}", "\n\n", source)
        return source.strip("\n")
    return pattern.sub(replacement, source)


def strip_solutions(nb):
    """The student version of a solution notebook (a deep copy; outputs cleared)."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code":
            cell.source, hints = _stub_code(cell.source, exercise_cell_id(cell))
            cell.outputs, cell.execution_count = [], None
            if hints:
                cells.append(hint_cell(exercise_cell_id(cell), hints))
        elif cell.cell_type == "markdown":
            cell.source = _strip_region(cell.source, BEGIN_SOLUTION, END_SOLUTION, ANSWER_PLACEHOLDER)
            cell.source = _strip_region(cell.source, BEGIN_RUBRIC, END_RUBRIC, None)
    nb.cells = cells
    return nb


def set_cell_ids(nb, stem: str):
    """Deterministic cell ids, so regenerating a notebook gives the same bytes."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = hashlib.sha1(f"{stem}:{i}".encode()).hexdigest()[:8]
    return nb


def ipynb_text(nb, stem: str) -> str:
    import jupytext
    import nbformat

    nb = jupytext.reads(jupytext.writes(nb, fmt="ipynb"), fmt="ipynb")
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(set_cell_ids(nb, stem)) + "\n"


def check_notebook(nb, path) -> None:
    """The structural rules every solution notebook follows (raises ValueError otherwise)."""
    tests = {e.id for e in exercises_in(nb) if e.kind == "auto"}
    hand = {e.id for e in exercises_in(nb) if e.kind == "hand"}
    cells = {exercise_cell_id(c) for c in nb.cells} - {None}
    answers = {answer_cell_id(c) for c in nb.cells} - {None}
    if tests != cells:
        raise ValueError(f"{path}: every exercise cell needs a graded test cell and vice versa "
                         f"(exercise cells {sorted(cells)}, test cells {sorted(tests)})")
    if hand != answers:
        raise ValueError(f"{path}: every hand-graded question needs an answer cell "
                         f"(questions {sorted(hand)}, answer cells {sorted(answers)})")
    for cell in nb.cells:
        if exercise_cell_id(cell) and BEGIN_SOLUTION not in cell.source:
            raise ValueError(f"{path}: exercise cell {exercise_cell_id(cell)} has no {BEGIN_SOLUTION} region")


def generate(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES, check: bool = False) -> list[Path]:
    """Write exercises/<name>.py and .ipynb for every solutions/<name>.py; return the files that
    changed (with check=True nothing is written: the list says which files are out of date)."""
    import jupytext

    solutions, exercises = Path(solutions), Path(exercises)
    sources = sorted(solutions.glob("*.py"))
    if not sources:
        raise FileNotFoundError(f"no solution notebooks (*.py) in {solutions}")
    expected: dict[Path, str] = {}
    for source in sources:
        nb = jupytext.read(source)
        check_notebook(nb, source)
        student = strip_solutions(nb)
        expected[exercises / source.name] = jupytext.writes(student, fmt="py:percent")
        expected[exercises / f"{source.stem}.ipynb"] = ipynb_text(student, source.stem)
    stale = [p for p in sorted(exercises.glob("*.py")) + sorted(exercises.glob("*.ipynb")) if p not in expected]
    changed = [p for p, text in expected.items() if not p.exists() or p.read_text() != text] + stale
    if not check:
        exercises.mkdir(parents=True, exist_ok=True)
        for p, text in expected.items():
            if not p.exists() or p.read_text() != text:
                p.write_text(text)
        for p in stale:
            p.unlink()
    return changed


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write exercises/ from solutions/")
    gen.add_argument("--solutions", type=Path, default=SOLUTIONS)
    gen.add_argument("--exercises", type=Path, default=EXERCISES)
    gen.add_argument("--check", action="store_true", help="only compare; exit 1 if exercises/ is out of date")
    args = parser.parse_args(argv)
    if args.command == "generate":
        changed = generate(args.solutions, args.exercises, check=args.check)
        verb = "out of date" if args.check else "written"
        for p in changed:
            print(f"{verb}: {p}")
        if args.check and changed:
            print("exercises/ differs from solutions/: run `python -m course_lib.grading generate`", file=sys.stderr)
            return 1
        print(f"{len(changed)} file(s) {verb}" if changed else "exercises/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
