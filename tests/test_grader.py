"""The instructor grader (`python -m course_lib.grade`) on a tiny reference notebook built here, plus
one real exercise notebook: full marks for a correct submission; an infinite loop, a syntax error, a
kernel that dies, a loop that ignores interrupts, a deleted test cell and an edited assert each cost
only their own exercise; an unreadable file scores zero with the reason; the grader always finishes
and writes CSV and JSON. (Each solution notebook is graded for full marks in test_exercises.py.)"""
import concurrent.futures
import csv
import json
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from course_lib.grade import grade_notebook, load_references, main, match_reference, rebuild
from course_lib.grading import exercises_in, graded_test_of

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 15  # per-cell seconds in these tests: every fixture cell takes < 1 s (the first ~5 s on a busy machine)

SOLUTION = {
    "ex9.1": "def square(x):\n    return x * x",
    "ex9.2": "def cube(x):\n    return x ** 3",
    "ex9.3": "def add(a, b):\n    return a + b",
    "ex9.4": "def neg(x):\n    return -x",
    "ex9.5": "def halve(x):\n    return x / 2",
}
TESTS = {
    "ex9.1": "assert square(3) == 9, 'square(3) must be 9'",
    "ex9.2": "assert cube(2) == 8, 'cube(2) must be 8'",
    "ex9.3": "assert add(2, 3) == 5, 'add(2, 3) must be 5'",
    "ex9.4": "assert neg(4) == -4, 'neg(4) must be -4'",
    "ex9.5": "assert halve(3) == 1.5, 'halve(3) must be 1.5'",
}
NAMES = {"ex9.1": "square", "ex9.2": "cube", "ex9.3": "add", "ex9.4": "neg", "ex9.5": "halve"}


def exercise_cell(ex, body=None):
    """An exercise cell: the solution region (solution notebook) or the given body (a submission)."""
    name = NAMES[ex]
    head, solution = SOLUTION[ex].split("\n", 1)
    if body is None:
        body = f"    ### BEGIN SOLUTION\n    ### HINT: one line\n{solution}\n    ### END SOLUTION"
    return nbformat.v4.new_code_cell(f"# EXERCISE {ex}: {name}\n{head}\n{body}")


def graded_cell(ex, body=None):
    return nbformat.v4.new_code_cell(f"# GRADED TEST: {ex} {NAMES[ex]} (2 points)\n{body or TESTS[ex]}")


def notebook(bodies=None, drop_tests=(), edited_tests=None, answer="### BEGIN SOLUTION\nA model answer.\n### END SOLUTION\n"
             "### BEGIN RUBRIC\n* 1 pt\n### END RUBRIC"):
    bodies, edited_tests = bodies or {}, edited_tests or {}
    cells = [nbformat.v4.new_markdown_cell("# Fixture 9"),
             nbformat.v4.new_code_cell("from course_lib.grading import fallback\nimport os, time")]
    for ex in SOLUTION:
        cells.append(exercise_cell(ex, bodies.get(ex)))
        if ex not in drop_tests:
            cells.append(graded_cell(ex, edited_tests.get(ex)))
        if ex == "ex9.1":   # a later cell that uses the student's function through the fallback
            cells.append(nbformat.v4.new_code_cell("print(fallback(square, lambda x: x * x, 'ex9.1')(4))"))
    cells += [nbformat.v4.new_markdown_cell("**GRADED BY HAND: ex9.6 essay (3 points)**\n\nExplain."),
              nbformat.v4.new_markdown_cell(f"**Your answer (ex9.6):**\n\n{answer}")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    ref_dir = tmp_path_factory.mktemp("reference")
    nbformat.write(notebook(), str(ref_dir / "fixture9.ipynb"))
    return load_references(ref_dir)


def write(nb, path):
    nbformat.write(nb, str(path))
    return path


def by_exercise(report):
    return {r.exercise: r for r in report.results}


def test_rebuild_reinserts_official_tests(references):
    ref = references["fixture9"]
    student = notebook(bodies={"ex9.4": "    return x"}, drop_tests=("ex9.3",),
                       edited_tests={"ex9.4": "assert True  # edited"})
    nb, roles = rebuild(student, ref)
    tests = [(r.exercise, c.source) for c, r in zip([c for c in nb.cells if c.cell_type == "code"], roles)
             if r.kind == "test"]
    assert [e for e, _ in tests] == list(SOLUTION), "every official test, once, in order"
    assert all(TESTS[e] in src for e, src in tests), "the official source, not the student's edit"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    i_ex, i_test = (next(i for i, s in enumerate(code) if s.startswith(p)) for p in
                    ("# EXERCISE ex9.3", "# GRADED TEST: ex9.3"))
    assert i_test == i_ex + 1, "a deleted test cell comes back right after the student's exercise cell"


def test_match_reference_by_name_or_content(references, tmp_path):
    nb = notebook()
    assert match_reference(tmp_path / "alice_fixture9.ipynb", nb, references) == "fixture9"
    assert match_reference(tmp_path / "renamed.ipynb", nb, references) == "fixture9"


@pytest.fixture(scope="module")
def graded(references, tmp_path_factory):
    """Every fixture submission graded at once (they mostly wait on timeouts), and meanwhile the
    command line on the real ex01 exercise notebook: {name: SubmissionReport} and the CLI's result."""
    tmp = tmp_path_factory.mktemp("submissions")
    stubborn = ("    while True:\n        try:\n            time.sleep(0.01)\n"
                "        except KeyboardInterrupt:\n            pass")
    submissions = {
        "good": notebook(),
        # infinite loop in 9.1 (also hit by the later fallback cell), syntax error in 9.2, test cell
        # of 9.3 deleted (correct answer), 9.4 wrong with its assert edited to pass
        "broken": notebook(bodies={"ex9.1": "    while True:\n        pass", "ex9.2": "    return x **\n",
                                   "ex9.4": "    return x"}, drop_tests=("ex9.3",),
                           edited_tests={"ex9.4": "assert True  # I edited the test"}, answer="YOUR ANSWER HERE"),
        # 9.2 kills the kernel when tested; 9.4 loops and swallows KeyboardInterrupt, so nbval must stop the kernel
        "killer": notebook(bodies={"ex9.2": "    os._exit(3)", "ex9.4": stubborn}),
    }
    paths = {name: write(nb, tmp / f"{name}.ipynb") for name, nb in submissions.items()}
    paths["unreadable"] = tmp / "carol_fixture9.ipynb"
    paths["unreadable"].write_text("{ this is not a notebook")

    cli_dir = tmp / "cli"
    cli_dir.mkdir()
    stub = cli_dir / "dave_ex01_meta_gradients.ipynb"
    stub.write_text((ROOT / "exercises" / "ex01_meta_gradients.ipynb").read_text())
    broken = cli_dir / "erin_ex01_meta_gradients.ipynb"
    broken.write_text("not json")
    cli = subprocess.Popen([sys.executable, "-m", "course_lib.grade", str(stub), str(broken), "--report",
                            str(cli_dir / "grades.csv"), "--json", str(cli_dir / "grades.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths)) as pool:
        futures = {name: pool.submit(grade_notebook, path, references, TIMEOUT) for name, path in paths.items()}
        reports = {name: f.result() for name, f in futures.items()}
    output, _ = cli.communicate(timeout=900)
    return reports, dict(returncode=cli.returncode, output=output, dir=cli_dir, stub=stub, broken=broken)


def test_correct_submission_gets_full_marks(graded):
    report = graded[0]["good"]
    results = by_exercise(report)
    assert all(results[e].status == "pass" and results[e].points == 2 for e in SOLUTION), report.results
    assert report.score == report.max_auto == 10 and report.runs == 1
    assert results["ex9.6"].status == "by hand" and results["ex9.6"].points is None
    assert "A model answer" in report.answers["ex9.6"]


def test_broken_submission_costs_only_the_broken_exercises(graded):
    """Infinite loop, syntax error, edited assert: only those fail; a deleted test cell comes back."""
    report = graded[0]["broken"]
    results = by_exercise(report)
    assert [results[e].status for e in SOLUTION] == ["fail", "fail", "pass", "fail", "pass"], report.results
    assert "Timeout" in results["ex9.1"].message
    assert "SyntaxError" in results["ex9.2"].message or "cube" in results["ex9.2"].message
    assert "neg(4) must be -4" in results["ex9.4"].message
    assert report.score == 4
    assert results["ex9.6"].message == "no answer" and report.answers["ex9.6"] == ""


def test_dead_kernel_and_uninterruptible_loop_cost_only_their_exercise(graded):
    """The grader re-runs without the exercise that killed the kernel and grades the rest."""
    report = graded[0]["killer"]
    results = by_exercise(report)
    assert [results[e].status for e in SOLUTION] == ["pass", "fail", "pass", "fail", "pass"], report.results
    assert "kernel" in results["ex9.2"].message and "kernel" in results["ex9.4"].message
    assert report.runs == 3


def test_unreadable_submission_scores_zero_with_the_reason(graded):
    report = graded[0]["unreadable"]
    assert report.notebook == "fixture9" and report.score == 0
    assert all(r.status in ("fail", "by hand") for r in report.results) and len(report.results) == 6
    assert "could not read the notebook" in report.results[0].message


def test_command_line_writes_csv_and_json_for_every_submission(graded):
    """The real ex01 exercise notebook (all stubs) through `python -m course_lib.grade`, plus an
    unreadable file: the grader finishes, reports both, and writes CSV and JSON."""
    cli = graded[1]
    assert cli["returncode"] == 0, cli["output"]
    assert "NotImplementedError: Exercise 1.1" in cli["output"] and "could not read the notebook" in cli["output"]
    rows = list(csv.DictReader((cli["dir"] / "grades.csv").open()))
    expected_ids = [e.id for e in exercises_in(jupytext.read(ROOT / "exercises" / "ex01_meta_gradients.py"))]
    for who in (cli["stub"], cli["broken"]):
        mine = [r for r in rows if r["submission"] == str(who)]
        assert [r["exercise"] for r in mine] == expected_ids
        assert all(r["status"] in ("fail", "by hand") for r in mine)
        assert sum(float(r["points"] or 0) for r in mine) == 0
    stub_rows = [r for r in rows if r["submission"] == str(cli["stub"]) and r["status"] == "fail"]
    assert all("NotImplementedError" in r["message"] for r in stub_rows), "the stubs' hints reach the report"
    data = json.loads((cli["dir"] / "grades.json").read_text())
    assert [s["submission"] for s in data["submissions"]] == [str(cli["stub"]), str(cli["broken"])]
    assert data["submissions"][0]["max_auto"] == 12 and data["submissions"][0]["max_hand"] == 4


def test_rebuild_only_writes_a_notebook_for_plain_nbval(tmp_path, capsys):
    sub = tmp_path / "frank_ex01_meta_gradients.ipynb"
    sub.write_text((ROOT / "exercises" / "ex01_meta_gradients.ipynb").read_text())
    assert main([str(sub), "--rebuild-only", str(tmp_path / "rebuilt")]) == 0
    nb = nbformat.read(str(tmp_path / "rebuilt" / sub.name), as_version=4)
    assert [graded_test_of(c).id for c in nb.cells if graded_test_of(c)] == ["ex1.1", "ex1.2", "ex1.3", "ex1.4", "ex1.5"]
    assert "Cell 2 = ex1.1" in capsys.readouterr().out
