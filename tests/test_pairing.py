"""Every notebook is a Jupytext pair, and the two halves say the same thing.

The .py (percent format) is what is reviewed; the .ipynb is what JupyterLab opens and nbval runs.
If this fails: `make sync-notebooks` (or `jupytext --sync FILE`), then re-execute the notebook.
"""
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "exercises", "solutions")
NOTEBOOKS = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.ipynb"))
SCRIPTS = sorted(p for d in FOLDERS for p in (ROOT / d).glob("*.py"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_ipynb_matches_its_py(notebook):
    script = notebook.with_suffix(".py")
    assert script.exists(), f"{notebook.name} has no paired {script.name}"
    as_py = jupytext.writes(jupytext.read(notebook), fmt="py:percent")
    assert as_py == script.read_text(), f"{notebook.name} and {script.name} differ: run jupytext --sync"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_py_has_its_ipynb(script):
    assert script.with_suffix(".ipynb").exists(), f"{script.name} has no paired .ipynb"


EXECUTED = [p for p in NOTEBOOKS if p.parent.name != "exercises"]
EXERCISES = [p for p in NOTEBOOKS if p.parent.name == "exercises"]


@pytest.mark.parametrize("notebook", EXECUTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_executed_and_clean(notebook):
    """Shipped notebooks show their outputs, and none of them is an error."""
    nb = jupytext.read(notebook)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.get("outputs") for c in code), f"{notebook.name} was saved without outputs"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{notebook.name} was saved with an error output: {errors[0].get('ename')}"


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: str(p.relative_to(ROOT)))
def test_exercise_notebook_is_saved_without_outputs(notebook):
    """Exercise notebooks are generated (their stubs raise): no outputs, nothing executed."""
    code = [c for c in jupytext.read(notebook).cells if c.cell_type == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), \
        f"{notebook.name} has outputs: regenerate it with `python -m course_lib.grading generate`"
