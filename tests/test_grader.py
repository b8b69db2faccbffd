"""The instructor grader (`python -m course_lib.grade`): nothing a submission does changes a verdict, a
report, or another student's grade.

On a small solution notebook built here (tests/grading_attacks.py): every attack of the grading issue —
swallowed errors, rewritten graded cells, forged records, patched comparisons, borrowed implementations,
exec'd solutions, detached processes, stolen expected values, writes outside its folder, a neighbour's
records under --jobs 2 — scores what a fair instructor expects; the ordinary faults (infinite loops,
syntax errors, dead kernels, deleted or edited tests, unreadable files) cost only their own exercise.
Then the command line: atomic reports, one row per student, Gradescope's results.json, Ctrl-C and
resume, content over file names; and the real ex01 (stub, solution, attacks)."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from course_lib.grade import grade_notebook
from course_lib.grade.notebooks import borrowed_names, load_references, match_reference, rebuild
from course_lib.grade.run import Runner
from course_lib.grade.sandbox import detect
from course_lib.grading import graded_test_of

from grading_attacks import ATTACKS, FAULTS, NAMES, notebook

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 15   # per-cell seconds here: every fixture cell takes well under 1 s


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("solutions")
    nbformat.write(notebook(solution=True), str(folder / "fixture9.ipynb"))
    nbformat.write(notebook(solution=True, prefix=8), str(folder / "fixture8.ipynb"))
    return folder


@pytest.fixture(scope="module")
def references(solutions):
    return load_references(solutions)


def test_the_sandbox_is_bubblewrap():
    """make system-deps installs bubblewrap; without it the grader falls back (loudly) and these tests
    of containment would not mean what they say."""
    assert detect().kind == "bubblewrap", detect().warning


def test_rebuild_reinserts_official_tests(references):
    ref = references["fixture9"]
    student = notebook(bodies={"ex9.4": "    return x"}, drop_tests=("ex9.3",), edited_tests={"ex9.4": "pass  # edited"})
    nb, roles = rebuild(student, ref.student)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    tests = [(r.exercise, src) for src, r in zip(code, roles) if r.kind == "test"]
    assert [e for e, _ in tests] == list(NAMES), "every official test, once, in order"
    assert all("t.submit" in src and "edited" not in src for _, src in tests), "the official source, not the edit"
    i_ex, i_test = (next(i for i, s in enumerate(code) if s.startswith(p)) for p in ("# EXERCISE ex9.3", "# GRADED TEST: ex9.3"))
    assert i_test == i_ex + 1, "a deleted test cell comes back right after the student's exercise cell"


def test_must_not_call_is_read_from_the_solution(references):
    ref = references["fixture9"]
    assert ref.forbid_map() == {"sgd_step": ["course_lib.inner.inner_update"]}
    assert borrowed_names("def sgd_step(w, a):\n    return course_lib.inner_update(w)", "sgd_step",
                          ["course_lib.inner.inner_update"]) == ["inner_update"]
    assert borrowed_names("def sgd_step(w, a):\n    return reference.sgd_step(w, a)", "sgd_step", []) == ["reference.sgd_step"]
    assert borrowed_names("def sgd_step(w, a):\n    return w - a * 2 * w", "sgd_step", ["course_lib.inner.inner_update"]) == []


def test_content_wins_over_the_file_name(references, tmp_path):
    nb = notebook()
    assert match_reference(tmp_path / "alice_fixture9.ipynb", nb, references) == ("fixture9", "")
    name, note = match_reference(tmp_path / "bob_fixture8.ipynb", nb, references)
    assert name == "fixture9" and "fixture8" in note
    assert match_reference(tmp_path / "renamed.ipynb", nb, references)[0] == "fixture9"


@pytest.fixture(scope="module")
def graded(references, tmp_path_factory):
    """Every attack and fault, graded two at a time by one runner; {name: SubmissionReport}."""
    import concurrent.futures

    folder = tmp_path_factory.mktemp("submissions")
    # the expected values are cached on disk (where steal_expected looks for them), outside every sandbox
    runner = Runner(seed=20261204, cell_timeout=TIMEOUT, sandbox=detect(), cache=tmp_path_factory.mktemp("cache"))
    paths = {}
    for name, (bodies, extra, _) in {**ATTACKS, **FAULTS}.items():
        extra = {k: [s.replace("SUBMISSIONS", repr(str(folder))) for s in v] for k, v in extra.items()}
        kwargs = dict(drop_tests=("ex9.3",), edited_tests={"ex9.4": "t.submit('value', -4.0)"}) if name == "broken" else {}
        paths[name] = folder / f"{name}_fixture9.ipynb"
        nbformat.write(notebook(bodies, extra, **kwargs), str(paths[name]))
    paths["unreadable"] = folder / "carol_fixture9.ipynb"
    paths["unreadable"].write_text("{ this is not a notebook")
    before = {p: p.stat().st_mtime for p in folder.iterdir()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(grade_notebook, path, references, runner) for name, path in paths.items()}
        reports = {name: f.result() for name, f in futures.items()}
    return reports, folder, before


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_scores_what_a_fair_instructor_expects(graded, name):
    report = graded[0][name]
    statuses = [r.status for r in report.results if r.kind == "auto"]
    assert statuses == ATTACKS[name][2], [(r.exercise, r.status, r.message) for r in report.results]


def test_borrowing_is_named_in_the_report(graded):
    for name in ("borrow_direct", "borrow_helper"):
        message = next(r.message for r in graded[0][name].results if r.exercise == "ex9.3")
        assert "inner_update" in message and "implementation" in message, message


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_fault_costs_only_its_own_exercise(graded, name):
    report = graded[0][name]
    statuses = [r.status for r in report.results if r.kind == "auto"]
    assert statuses == FAULTS[name][2], [(r.exercise, r.status, r.message) for r in report.results]


def test_fault_messages(graded):
    broken = {r.exercise: r for r in graded[0]["broken"].results}
    assert "Timeout" in broken["ex9.1"].message
    assert "SyntaxError" in broken["ex9.2"].message or "cube" in broken["ex9.2"].message
    assert "neg(4) must be -4" in broken["ex9.4"].message, "the official cell's self-check reaches the report"
    killer = {r.exercise: r for r in graded[0]["killer"].results}
    assert "kernel" in killer["ex9.2"].message and "kernel" in killer["ex9.4"].message
    assert "kernel" in {r.exercise: r for r in graded[0]["extra_cell_killer"].results}["ex9.1"].message


def test_an_infinite_loop_costs_one_timeout(graded):
    """The demo cell after ex9.1 calls the looping answer through fallback(): it must not wait again."""
    report = graded[0]["broken"]
    assert report.runs == 1 and report.seconds < 2 * TIMEOUT + 20, (report.runs, report.seconds)


def test_unreadable_submission_scores_zero_with_the_reason(graded):
    report = graded[0]["unreadable"]
    assert report.notebook == "fixture9" and report.score == 0 and len(report.results) == 6
    assert "could not read the notebook" in report.results[0].message


def test_nothing_was_written_outside_the_kernels_folder(graded):
    reports, folder, before = graded
    time.sleep(5)                                           # the detached writer would have woken up by now
    assert {p: p.stat().st_mtime for p in folder.iterdir()} == before, "submissions' folder changed"
    import course_lib
    assert not (Path(course_lib.__file__).parent / "pwned.txt").exists()
    assert not Path("/etc/pwned.txt").exists()
    leftovers = subprocess.run(["pgrep", "-f", "HACKED"], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "a student's detached process outlived its kernel"


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------

def _cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "course_lib.grade", *map(str, args)], capture_output=True,
                          text=True, timeout=900, **kwargs)


def test_reports_lms_rows_gradescope_and_a_victim_that_keeps_its_points(solutions, tmp_path):
    """--jobs 2: an attacker that writes failing rows wherever it can beside a correct submission."""
    victim = tmp_path / "victim_fixture9.ipynb"
    nbformat.write(notebook(), str(victim))
    attacker = tmp_path / "attacker_fixture9.ipynb"
    hostile = ("import glob, json, time\n"
               "for _ in range(20):\n"
               "    for p in glob.glob('/**/records*.jsonl', recursive=True):\n"
               "        try: open(p, 'a').write(json.dumps({'cell': 4, 'passed': False, 'data': []}) + '\\n')\n"
               "        except OSError: pass\n"
               "    time.sleep(0.2)")
    nbformat.write(notebook({"ex9.1": "stub"}, {"setup": [hostile]}), str(attacker))
    report = tmp_path / "out" / "grades.csv"
    result = _cli([victim, attacker, "--solutions", solutions, "--report", report, "--jobs", 2, "--timeout", TIMEOUT])
    assert result.returncode == 0, result.stdout + result.stderr
    students = list(csv.DictReader(report.with_suffix(".students.csv").open()))
    by_name = {Path(r["submission"]).stem: r for r in students}
    assert float(by_name["victim_fixture9"]["total"]) == 10 == float(by_name["victim_fixture9"]["max_total"])
    assert float(by_name["attacker_fixture9"]["ex9.1"]) == 0
    assert [k for k in students[0] if k.startswith("ex")] == list(NAMES)
    rows = list(csv.DictReader(report.open()))
    assert len(rows) == 12 and {r["exercise"] for r in rows} == set(NAMES) | {"ex9.6"}
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["complete"] is True and data["sandbox"] == "bubblewrap" and isinstance(data["seed"], int)
    assert not list(report.parent.glob(".*.tmp")), "reports are renamed into place"

    gradescope = tmp_path / "results.json"
    result = _cli([victim, "--solutions", solutions, "--gradescope", gradescope, "--timeout", TIMEOUT])
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(gradescope.read_text())
    assert results["score"] == 10 and len(results["tests"]) == 5
    assert all(set(t) >= {"name", "score", "max_score", "output"} and t["score"] == 2 for t in results["tests"])


def test_bad_arguments_are_refused_before_any_work(solutions, tmp_path):
    nbformat.write(notebook(), str(tmp_path / "a.ipynb"))
    for args, words in [([tmp_path / "missing.ipynb"], "no such submission"),
                        ([tmp_path / "a.ipynb", "--jobs", 0], "--jobs"),
                        ([tmp_path / "a.ipynb", "--timeout", -1], "--timeout"),
                        ([tmp_path / "a.ipynb", tmp_path / "a.ipynb", "--gradescope", tmp_path / "r.json"], "--gradescope"),
                        ([tmp_path / "a.ipynb", "--report", tmp_path / "grades.txt"], "--report"),
                        ([tmp_path / "a.ipynb", "--solutions", tmp_path / "nowhere"], "--solutions")]:
        result = _cli([*args, *(["--solutions", solutions] if "--solutions" not in args else [])])
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_ctrl_c_keeps_what_was_graded_and_a_rerun_resumes(solutions, tmp_path):
    subs = []
    for i in range(3):
        subs.append(tmp_path / f"s{i}_fixture9.ipynb")
        nbformat.write(notebook(), str(subs[-1]))
    report = tmp_path / "grades.csv"
    proc = subprocess.Popen([sys.executable, "-m", "course_lib.grade", *map(str, subs), "--solutions", str(solutions),
                             "--report", str(report), "--timeout", str(TIMEOUT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C as at a terminal, even where pytest itself ignores SIGINT (started with
                            # `&` or nohup, the grader would inherit SIG_IGN and never see it)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and not (report.with_suffix(".json").exists() and
                                          json.loads(report.with_suffix(".json").read_text())["submissions"]):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "interrupted" in err
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["complete"] is False and 1 <= len(data["submissions"]) < 3
    graded_first = {s["submission"] for s in data["submissions"]}

    result = _cli([*subs, "--solutions", solutions, "--report", report, "--timeout", TIMEOUT])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("unchanged since the last run") == len(graded_first)
    data2 = json.loads(report.with_suffix(".json").read_text())
    assert data2["complete"] is True and data2["seed"] == data["seed"] and len(data2["submissions"]) == 3


def test_fallback_without_bubblewrap_says_so_and_still_grades(solutions, tmp_path):
    good, bad = tmp_path / "good_fixture9.ipynb", tmp_path / "bad_fixture9.ipynb"
    nbformat.write(notebook(), str(good))
    nbformat.write(notebook({ex: "stub" for ex in NAMES}), str(bad))
    result = _cli([good, bad, "--solutions", solutions, "--no-bwrap", "--json", tmp_path / "g.json", "--timeout", TIMEOUT])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NO SANDBOX" in result.stdout
    data = json.loads((tmp_path / "g.json").read_text())
    assert [s["score"] for s in data["submissions"]] == [10, 0] and data["sandbox"] != "bubblewrap"


# --------------------------------------------------------------------------------------------------
# The real ex01: the stub, the solution, and attacks from the issue
# --------------------------------------------------------------------------------------------------

EX01_ATTACKS = {
    "custom_exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    "patched_allclose": ("import sys, numpy, torch\nsys.modules['torch'].allclose = lambda *a, **k: True\n"
                         "numpy.allclose = torch.equal = lambda *a, **k: True"),
}


def test_real_ex01_stub_attacks_and_solution(tmp_path):
    stub = jupytext.read(ROOT / "exercises" / "ex01_meta_gradients.py")
    solution = jupytext.read(ROOT / "solutions" / "ex01_meta_gradients.py")
    subs = {"stub": stub, "solution": solution}
    for name, source in EX01_ATTACKS.items():
        nb = jupytext.read(ROOT / "exercises" / "ex01_meta_gradients.py")
        nb.cells.insert(2, nbformat.v4.new_code_cell(source))
        subs[name] = nb
    borrow = jupytext.read(ROOT / "solutions" / "ex01_meta_gradients.py")      # right answers, borrowed
    for cell in borrow.cells:
        if cell.cell_type == "code" and cell.source.startswith("# EXERCISE ex1.1"):
            cell.source = ("# EXERCISE ex1.1: inner_step\nfrom course_lib import inner_update\n"
                           "def inner_step(params, loss_fn, alpha, first_order=False):\n"
                           "    return inner_update(params, loss_fn, alpha, 1, first_order)")
    subs["borrow"] = borrow
    paths = []
    for name, nb in subs.items():
        paths.append(tmp_path / f"{name}_ex01_meta_gradients.ipynb")
        nbformat.write(nb, str(paths[-1]))
    report = tmp_path / "grades.csv"
    result = _cli([*paths, "--report", report, "--jobs", 2])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    totals = {Path(r["submission"]).stem.split("_ex01")[0]: float(r["total"])
              for r in csv.DictReader(report.with_suffix(".students.csv").open())}
    assert totals == {"stub": 0, "solution": 12, "custom_exc": 0, "patched_allclose": 0, "borrow": 10}, totals
    assert [graded_test_of(c).id for c in stub.cells if graded_test_of(c)] == ["ex1.1", "ex1.2", "ex1.3", "ex1.4", "ex1.5"]
