"""The grader's view of notebooks: reading submissions, matching them to a solution notebook, rebuilding
them with the official graded cells, and what each exercise may not call. Markers only, no algorithms."""
from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..grading import exercise_cell_id, exercises_in, graded_test_of, strip_solutions

MUST_NOT_CALL = re.compile(r"^#\s*MUST NOT CALL:\s*(?P<paths>.+)$", re.M)
EXERCISE_NAME = re.compile(r"^#\s*EXERCISE\s+(?P<id>ex\d+\.\d+)\s*:\s*(?P<name>\w+)")


def load_notebook(path: Path):
    """A notebook from .ipynb (or a Jupytext .py/.md)."""
    import jupytext
    import nbformat

    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(str(path), as_version=4)
    return jupytext.read(path)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Reference:
    """One solution notebook: its student version (what submissions are rebuilt against), the solution
    itself (what the expected values are computed from) and the exercises' rules."""
    name: str
    path: Path
    solution: object
    student: object
    digest: str
    exercises: list = field(default_factory=list)
    functions: dict = field(default_factory=dict)     # exercise id -> the function the student writes
    forbidden: dict = field(default_factory=dict)     # exercise id -> dotted paths it must not call

    def forbid_map(self) -> dict[str, list[str]]:
        """{student function name: [dotted paths]} for the kernel's borrow guard."""
        return {self.functions[ex]: paths for ex, paths in self.forbidden.items() if ex in self.functions and paths}


def load_references(solutions_dir: Path) -> dict[str, Reference]:
    """{name: Reference} for every solution notebook (solutions/<name>.py, or .ipynb) with graded exercises."""
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"--solutions must be a folder of solution notebooks, got {solutions_dir}")
    refs = {}
    paths = sorted(solutions_dir.glob("*.py")) or sorted(solutions_dir.glob("*.ipynb"))
    for path in paths:
        solution = load_notebook(path)
        exercises = exercises_in(solution)
        if not exercises:
            continue
        ref = Reference(path.stem, path, solution, strip_solutions(solution), file_digest(path), exercises)
        for cell in solution.cells:
            m = EXERCISE_NAME.match(cell.get("source", "").lstrip()) if cell.get("cell_type") == "code" else None
            if m:
                ref.functions[m["id"]] = m["name"]
            test = graded_test_of(cell)
            if test is not None:
                found = MUST_NOT_CALL.search(cell.source)
                ref.forbidden[test.id] = [p.strip() for p in found["paths"].split(",") if p.strip()] if found else []
        refs[path.stem] = ref
    if not refs:
        raise FileNotFoundError(f"no solution notebooks with graded exercises in {solutions_dir}")
    return refs


def exercise_ids(nb) -> set[str]:
    return {graded_test_of(c).id for c in nb.cells if graded_test_of(c)} | \
           {exercise_cell_id(c) for c in nb.cells if exercise_cell_id(c)}


def match_reference(path: Path, nb, references: dict, forced: str | None = None) -> tuple[str | None, str]:
    """(reference name, note): forced; else by the exercise ids the notebook contains (content wins over
    the file name when they disagree, and the note says so); else by file name."""
    if forced:
        if forced not in references:
            raise ValueError(f"--reference must be one of {sorted(references)}, got {forced!r}")
        return forced, ""
    stem = Path(path).stem
    by_name = [name for name in references if name == stem or name in stem]
    by_content = None
    if nb is not None:
        ids = exercise_ids(nb)
        overlap = {name: len(ids & {e.id for e in ref.exercises}) for name, ref in references.items()}
        best = max(overlap, key=overlap.get)
        by_content = best if overlap[best] > 0 else None
    if by_content and by_name and by_content not in by_name:
        return by_content, (f"the file name says {by_name[0]}, but its exercises are those of {by_content}: "
                            f"graded as {by_content}")
    if by_content:
        return by_content, ""
    return (by_name[0], "") if by_name else (None, "")


# --------------------------------------------------------------------------------------------------
# Rebuilding a submission with the official graded cells
# --------------------------------------------------------------------------------------------------

@dataclass
class Role:
    kind: str               # "test" | "exercise" | "other"
    exercise: str | None
    origin: int | None      # index of the cell in the student's notebook (None: inserted by the grader)


def rebuild(student, reference, stubbed=frozenset(), skipped=frozenset(), dropped=frozenset()):
    """(notebook to run, role of each code cell in order): the student's cells with the official tests.

    Edited or deleted test cells come back as they were; a missing one goes right after the student's
    exercise cell. `stubbed` exercises get the stub instead of the student's cell, `skipped` student
    cells (indices) and the test cells of `dropped` exercises are left out — to re-run after a cell
    killed the kernel. `reference` is the student version of the solution notebook.
    """
    import nbformat

    official = {graded_test_of(c).id: c for c in reference.cells if graded_test_of(c)}
    stubs = {exercise_cell_id(c): c for c in reference.cells if exercise_cell_id(c)}
    order = list(official)
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
    cells = [(c, r) for c, r in cells if not (r.kind == "test" and r.exercise in dropped)]
    return _notebook(cells), [r for c, r in cells if c.get("cell_type") == "code"]


def solution_probe(reference: Reference):
    """The solution's set-up cells (before the first exercise), exercise cells and graded cells: what the
    expected values are computed from (the demonstrations in between are not needed)."""
    cells, started = [], False
    for cell in reference.solution.cells:
        if cell.get("cell_type") != "code":
            continue
        ex, test = exercise_cell_id(cell), graded_test_of(cell)
        started = started or ex is not None
        if not started or ex is not None or test is not None:
            cells.append((cell, Role("test" if test else "exercise" if ex else "other", (test.id if test else ex), None)))
    return _notebook(cells), [r for _, r in cells]


def _notebook(cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    for cell, _ in cells:
        if cell.get("cell_type") == "code":
            nb.cells.append(nbformat.v4.new_code_cell(cell.get("source", "")))
        elif cell.get("cell_type") == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.get("source", "")))
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i}"
    return nb


# --------------------------------------------------------------------------------------------------
# What an answer may not call, read from its source (the kernel's guard catches the rest at run time)
# --------------------------------------------------------------------------------------------------

def borrowed_names(source: str, function: str, forbidden: list[str]) -> list[str]:
    """What the student's `function` (in an exercise cell's source) borrows: calls, attribute reads and
    imports of the forbidden library functions, and of course_lib.fallbacks' `reference` (local variables
    that happen to share a name do not count; aliases are the kernel guard's job)."""
    try:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return []
    banned = {p.rsplit(".", 1)[-1] for p in forbidden} | {"fallbacks"}
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function):
            continue
        for inner in ast.walk(node):
            name = None
            if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == "reference":
                name = f"reference.{inner.attr}"
            elif isinstance(inner, ast.Attribute) and inner.attr in banned:
                name = inner.attr
            elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in banned:
                name = inner.func.id
            elif isinstance(inner, ast.alias) and inner.name.rsplit(".", 1)[-1] in banned:
                name = inner.name.rsplit(".", 1)[-1]
            if name and name not in found:
                found.append(name)
    return found
