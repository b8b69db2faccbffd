"""Every notebook reads the same way for a student (issue 6, "student experience").

* It opens with a markdown cell holding the learning objectives, the prerequisites and the run time
  (with a number: "About 1 minute on a 2-core CPU").
* It ends with a "Check your understanding" section — numbered questions, no code after it — that
  names the exercise to do next by its real path (`exercises/ex03_fomaml_navigation.ipynb`; every path
  it names must exist) or says explicitly that there is no exercise.
* Its "**Next:**" pointer, if it names a notebook, names the next one of the curriculum map.
* Every call that meta-trains (`train_sinusoid`, `train_rl`) shows a progress bar.
* Its executed .ipynb has no warning, deprecation message or traceback on stderr.

Generic over notebooks/*.py, so a new notebook (08) is checked as soon as it lands. The checks are
plain functions of the cell texts, tested on bad examples below so that they can be seen to fail.
"""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
EXECUTED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CURRICULUM = [f"{i:02d}" for i in range(1, 10)]        # 01 … 09, /work/shared/CURRICULUM.md

EXERCISE_PATH = re.compile(r"\b((?:exercises|solutions)/ex\d\d_[A-Za-z0-9_]+\.(?:ipynb|py))\b")
NO_EXERCISE = re.compile(r"\bno (?:graded )?exercise\b", re.IGNORECASE)
CHECK_HEADING = re.compile(r"^#+\s*check your understanding\s*$", re.IGNORECASE | re.MULTILINE)
QUESTION = re.compile(r"^\s*\d+\.\s+\S", re.MULTILINE)
NEXT = re.compile(r"\*\*Next:?\*\*:?\s*(.*)", re.IGNORECASE | re.DOTALL)
TRAINING_CALL = re.compile(r"\b(train_sinusoid|train_rl)\(")
STDERR_PROBLEM = re.compile(r"warning|deprecat|traceback", re.IGNORECASE)


# ------------------------------------------------------------------------------------------ checks
def opening_problems(cells) -> list[str]:
    """What the first cell lacks: title, objectives, prerequisites, a run time with a number."""
    if not cells or cells[0].cell_type != "markdown":
        return ["the first cell is not a markdown cell"]
    text = cells[0].source
    problems = []
    if not re.search(r"^#\s+\S", text, re.MULTILINE):
        problems.append("no '# title' line")
    if not re.search(r"learning objectives", text, re.IGNORECASE):
        problems.append("no learning objectives")
    if not re.search(r"prerequisites", text, re.IGNORECASE):
        problems.append("no prerequisites")
    run_time = re.search(r"run time\W+(.*)", text, re.IGNORECASE)
    if not run_time:
        problems.append("no run time")
    elif not re.search(r"\d.*\b(s|sec|seconds?|min|minutes?)\b", run_time.group(1)):
        problems.append(f"the run time has no number and unit: {run_time.group(1)[:60]!r}")
    return problems


def closing_section(cells) -> tuple[int | None, str]:
    """(index of the cell with the 'Check your understanding' heading, the markdown from there to the end)."""
    for i in range(len(cells) - 1, -1, -1):
        if cells[i].cell_type == "markdown" and CHECK_HEADING.search(cells[i].source):
            text = cells[i].source[CHECK_HEADING.search(cells[i].source).start():]
            return i, "\n".join([text] + [c.source for c in cells[i + 1:] if c.cell_type == "markdown"])
    return None, ""


def closing_problems(cells, root: Path = ROOT) -> list[str]:
    """What the end lacks: the heading, questions, nothing runnable after them, an existing exercise path."""
    index, text = closing_section(cells)
    if index is None:
        return ["no '## Check your understanding' section"]
    problems = []
    if any(c.cell_type == "code" for c in cells[index + 1:]):
        problems.append("code cells after 'Check your understanding' (it must close the notebook)")
    if len(QUESTION.findall(text)) < 2:
        problems.append("fewer than two numbered questions in 'Check your understanding'")
    paths = EXERCISE_PATH.findall(text)
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        problems.append(f"names exercise files that do not exist: {missing}")
    if not paths and not NO_EXERCISE.search(text):
        problems.append("names no exercise file (exercises/exNN_….ipynb) and does not say 'no exercise'")
    return problems


def next_problems(cells, number: str) -> list[str]:
    """A '**Next:** notebook NN' pointer must name the notebook after `number` in the curriculum."""
    _, text = closing_section(cells)
    match = NEXT.search(text)
    if not match:
        return []
    named = re.findall(r"\bnotebook (\d\d)\b", match.group(1))
    if not named:
        return []
    position = CURRICULUM.index(number) if number in CURRICULUM else None
    expected = CURRICULUM[position + 1] if position is not None and position + 1 < len(CURRICULUM) else None
    return [] if named[0] == expected else [f"'Next:' names notebook {named[0]}, expected {expected}"]


def progress_problems(cells) -> list[str]:
    """Meta-training calls must show a progress bar (progress=False only for a 0-iteration 'random' run)."""
    problems = []
    for cell in cells:
        if cell.cell_type != "code" or not TRAINING_CALL.search(cell.source):
            continue
        for statement in _calls(cell.source):
            if "progress=False" in statement and 'default_config("random")' not in statement:
                problems.append(f"training without a progress bar: {statement.strip()[:80]!r}")
    return problems


def stderr_problems(notebook) -> list[str]:
    """stderr outputs that carry a warning, a deprecation message or a traceback; any error output."""
    problems = []
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {i}: error output {output.get('ename')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", ""))
                if STDERR_PROBLEM.search(text):
                    problems.append(f"cell {i}: stderr {text.strip()[:120]!r}")
    return problems


def _calls(source: str) -> list[str]:
    """Each training call with its arguments (to the matching parenthesis)."""
    calls = []
    for match in TRAINING_CALL.finditer(source):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(source)):
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            if depth == 0:
                break
        calls.append(source[match.start():end + 1])
    return calls


# ---------------------------------------------------------------------------- the shipped notebooks
def _id(path: Path) -> str:
    return path.name


def test_there_are_notebooks():
    assert len(SCRIPTS) >= 8, [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_notebook_opens_with_objectives_prerequisites_and_run_time(script):
    assert not opening_problems(jupytext.read(script).cells), opening_problems(jupytext.read(script).cells)


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_notebook_ends_with_questions_and_an_existing_exercise(script):
    problems = closing_problems(jupytext.read(script).cells)
    assert not problems, f"{script.name}: {problems}"


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_next_pointer_follows_the_curriculum(script):
    problems = next_problems(jupytext.read(script).cells, script.name[:2])
    assert not problems, f"{script.name}: {problems}"


@pytest.mark.parametrize("script", SCRIPTS, ids=_id)
def test_training_cells_show_a_progress_bar(script):
    problems = progress_problems(jupytext.read(script).cells)
    assert not problems, f"{script.name}: {problems}"


@pytest.mark.parametrize("notebook", EXECUTED, ids=_id)
def test_executed_notebook_has_no_warnings_on_stderr(notebook):
    problems = stderr_problems(jupytext.read(notebook))
    assert not problems, f"{notebook.name}: {problems}"


# ------------------------------------------------------------------------ the checks can fail
def _cells(*specs):
    """Notebook cells from ('markdown' | 'code', source) pairs."""
    make = {"markdown": new_markdown_cell, "code": new_code_cell}
    return [make[kind](source) for kind, source in specs]


GOOD_OPENING = ("markdown", "# 0X · Title\n\n**Learning objectives.** …\n\n**Prerequisites.** Notebook 01.\n\n"
                            "**Run time.** About 2 minutes on a 2-core CPU.")
GOOD_CLOSING = ("markdown", "## Check your understanding\n\n1. Why?\n2. How?\n\n"
                            "**Exercises.** `exercises/ex01_meta_gradients.ipynb`.\n\n**Next:** notebook 03 · …")


def test_good_example_passes():
    cells = _cells(GOOD_OPENING, ("code", "x = 1"), GOOD_CLOSING)
    assert opening_problems(cells) == []
    assert closing_problems(cells) == []
    assert next_problems(cells, "02") == []


@pytest.mark.parametrize("drop, expected", [("**Run time.** About 2 minutes on a 2-core CPU.", "no run time"),
                                            ("**Prerequisites.** Notebook 01.", "no prerequisites"),
                                            ("**Learning objectives.** …", "no learning objectives")])
def test_opening_without_a_part_fails(drop, expected):
    cells = _cells(("markdown", GOOD_OPENING[1].replace(drop, "")), GOOD_CLOSING)
    assert expected in opening_problems(cells)


def test_run_time_without_a_number_fails():
    cells = _cells(("markdown", GOOD_OPENING[1].replace("About 2 minutes", "Quick")), GOOD_CLOSING)
    assert any("number" in p for p in opening_problems(cells))


def test_opening_code_cell_fails():
    assert opening_problems(_cells(("code", "import torch"), GOOD_CLOSING))


def test_closing_problems_are_found():
    assert closing_problems(_cells(GOOD_OPENING)) == ["no '## Check your understanding' section"]
    missing_file = GOOD_CLOSING[1].replace("ex01_meta_gradients", "ex07_no_such_exercise")
    assert any("do not exist" in p for p in closing_problems(_cells(GOOD_OPENING, ("markdown", missing_file))))
    vague = GOOD_CLOSING[1].replace("`exercises/ex01_meta_gradients.ipynb`", "the matching exercise in exercises/")
    assert any("names no exercise" in p for p in closing_problems(_cells(GOOD_OPENING, ("markdown", vague))))
    explicit = vague.replace("the matching exercise in exercises/", "No exercise for this notebook")
    assert closing_problems(_cells(GOOD_OPENING, ("markdown", explicit))) == []
    one_question = GOOD_CLOSING[1].replace("2. How?", "")
    assert any("questions" in p for p in closing_problems(_cells(GOOD_OPENING, ("markdown", one_question))))
    trailing_code = _cells(GOOD_OPENING, GOOD_CLOSING, ("code", "cleanup()"))
    assert any("code cells after" in p for p in closing_problems(trailing_code))


def test_wrong_next_pointer_fails():
    cells = _cells(GOOD_OPENING, GOOD_CLOSING)
    assert next_problems(cells, "05") == ["'Next:' names notebook 03, expected 06"]


def test_training_without_progress_bar_fails():
    bad = _cells(("code", 'live = train_rl(default_rl_config("navigation2d", "maml"), out=None,\n'
                          '                progress=False)'))
    assert progress_problems(bad)
    random_init = _cells(("code", 'train_sinusoid(default_config("random"), out=WORK / "r.pt", progress=False)'))
    assert progress_problems(random_init) == []


def test_warning_on_stderr_fails():
    nb = jupytext.reads("# %%\nimport warnings\n", fmt="py:percent")
    nb.cells[0]["outputs"] = [{"output_type": "stream", "name": "stderr",
                               "text": "/x.py:3: UserWarning: Attempting to set identical low and high xlims\n"}]
    assert stderr_problems(nb)
    nb.cells[0]["outputs"] = [{"output_type": "stream", "name": "stderr", "text": "sinusoid maml: 100%|███| 1500/1500\n"}]
    assert stderr_problems(nb) == []
