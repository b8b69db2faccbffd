"""The graded exercises keep their contract.

* exercises/ is exactly what `python -m course_lib.grading generate` makes from solutions/;
* every graded test cell fails on the stub, passes on the solution and fails on every realistic
  buggy answer kept in tests/buggy_answers/ (at least one per exercise);
* an exercise notebook runs top to bottom with every exercise still a stub (later cells fall back
  to course_lib's reference implementation, with a notice), and no graded test depends on another
  exercise's answer (each solution is checked in a notebook whose other exercises are stubs);
* every solution notebook, graded by the real grader (nbval, fresh kernel), scores full marks.

The contract runs in-process (the notebook's code cells exec'd in one namespace, the exercise cell
swapped per variant), which is much faster than a kernel per variant.
"""
import concurrent.futures
import io
import re
import types
from contextlib import redirect_stdout
from pathlib import Path

import jupytext
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

from course_lib.grade import grade_notebook, load_references  # noqa: E402
from course_lib.grading import (BEGIN_RUBRIC, BEGIN_SOLUTION, END_SOLUTION, HINT, exercise_cell_id,  # noqa: E402
                                exercises_in, fallback, generate, graded_test_of, strip_solutions)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.py"))
STEMS = [p.stem for p in SOLUTIONS]
BUGGY = Path(__file__).resolve().parent / "buggy_answers"
BUG_LINE = re.compile(r"^# %% BUG (ex\d+\.\d+): (.*)$")
TO_PYTHON = TransformerManager()


def solution(stem):
    return jupytext.read(ROOT / "solutions" / f"{stem}.py")


def buggy_answers(stem) -> dict[str, list[tuple[str, str]]]:
    """{exercise id: [(what is wrong, cell source), ...]} from tests/buggy_answers/<stem>.py."""
    path = BUGGY / f"{stem}.py"
    bugs: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (path.read_text().splitlines() if path.exists() else []):
        m = BUG_LINE.match(line)
        if m:
            current = [m[2], []]
            bugs.setdefault(m[1], []).append(current)
        elif current is not None:
            current[1].append(line)
    return {ex: [(why, "\n".join(src).strip() + "\n") for why, src in items] for ex, items in bugs.items()}


AUTO = [(stem, e.id) for stem in STEMS for e in exercises_in(solution(stem)) if e.kind == "auto"]
BUGS = [(stem, ex, i, why) for stem in STEMS for ex, items in buggy_answers(stem).items()
        for i, (why, _) in enumerate(items)]


# --------------------------------------------------------------------------------------------------
# Running a notebook in-process
# --------------------------------------------------------------------------------------------------

def fresh_namespace():
    return {"__name__": "__main__", "get_ipython": lambda: types.SimpleNamespace(run_line_magic=lambda *a, **k: None)}


def run(source, ns, name):
    exec(compile(TO_PYTHON.transform_cell(source), name, "exec"), ns)


def outcome(source, ns, name):
    """(passed, message) of running a cell."""
    try:
        run(source, ns, name)
        return True, ""
    except Exception as err:
        return False, f"{type(err).__name__}: {err}"


def check_contract(stem):
    """Run the exercise (stub) version of a notebook top to bottom; at each exercise cell, try the
    solution and every buggy answer in a copy of the namespace, each followed by its graded test."""
    sol = solution(stem)
    answers = {exercise_cell_id(c): c.source for c in sol.cells if exercise_cell_id(c)}
    bugs = buggy_answers(stem)
    code = [c for c in strip_solutions(sol).cells if c.cell_type == "code"]
    ns, results, errors, printed = fresh_namespace(), {}, [], io.StringIO()
    with redirect_stdout(printed):
        for i, cell in enumerate(code):
            ex, test = exercise_cell_id(cell), graded_test_of(cell)
            if ex is not None:
                j = next(k for k in range(i + 1, len(code)) if graded_test_of(code[k]) and graded_test_of(code[k]).id == ex)
                variants = [("solution", answers[ex])] + [(f"bug{n}", src) for n, (_, src) in enumerate(bugs.get(ex, []))]
                for variant, source in variants:
                    scratch = dict(ns)
                    ok, message = outcome(source, scratch, f"{ex} {variant}")
                    if ok:
                        for k in range(i + 1, j):
                            outcome(code[k].source, scratch, f"cell {k}")
                        ok, message = outcome(code[j].source, scratch, f"test {ex}")
                    else:
                        message = f"the answer cell itself raised {message}"
                    results[(ex, variant)] = (ok, message)
            if test is not None:
                results[(test.id, "stub")] = outcome(cell.source, ns, f"test {test.id}")
                continue
            ok, message = outcome(cell.source, ns, f"cell {i}")
            if not ok:
                errors.append(f"code cell {i} ({cell.source.splitlines()[0][:60]}): {message}")
    plt.close("all")
    return dict(results=results, errors=errors, printed=printed.getvalue())


@pytest.fixture(scope="module")
def solution_grades(request):
    """The solution notebooks graded by the real grader (kernels), started in the background as soon
    as a test asks for the contract, so that they run alongside the in-process checks."""
    wanted = any("full_marks" in item.name for item in request.session.items)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    references = load_references(ROOT / "exercises")
    futures = {stem: pool.submit(grade_notebook, ROOT / "solutions" / f"{stem}.ipynb", references, 300)
               for stem in (STEMS if wanted else [])}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def contract(solution_grades):
    cache = {}

    def get(stem):
        if stem not in cache:
            cache[stem] = check_contract(stem)
        return cache[stem]
    return get


# --------------------------------------------------------------------------------------------------
# One source, two outputs
# --------------------------------------------------------------------------------------------------

def test_exercises_are_exactly_what_the_generator_makes(tmp_path):
    """CI fails when exercises/ drifts from solutions/: regenerate and compare byte for byte."""
    generate(ROOT / "solutions", tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    shipped = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.suffix in (".py", ".ipynb"))
    assert made == shipped, f"exercises/ should hold exactly {made}: run `python -m course_lib.grading generate`"
    for name in made:
        assert (tmp_path / name).read_bytes() == (ROOT / "exercises" / name).read_bytes(), \
            f"exercises/{name} differs from solutions/: run `python -m course_lib.grading generate`"
    assert generate(ROOT / "solutions", ROOT / "exercises", check=True) == []


@pytest.mark.parametrize("stem", STEMS)
def test_exercise_notebooks_hold_no_solutions(stem):
    text = (ROOT / "exercises" / f"{stem}.py").read_text()
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_RUBRIC, HINT, "Model answer"):
        assert marker not in text, f"exercises/{stem}.py contains {marker!r}"
    nb = jupytext.read(ROOT / "exercises" / f"{stem}.py")
    for cell in nb.cells:
        ex = exercise_cell_id(cell)
        if ex:
            m = re.search(r'raise NotImplementedError\("Exercise (\d+\.\d+): (.+)"\)', cell.source)
            assert m and m[1] == ex[2:] and len(m[2]) > 20, f"{ex}: the stub must name the exercise and give a hint"


def test_the_workbook_has_the_required_graded_exercises():
    found = [e for stem in STEMS for e in exercises_in(solution(stem))]
    auto = [e for e in found if e.kind == "auto"]
    hand = [e for e in found if e.kind == "hand"]
    assert len(found) >= 10 and all(e.points > 0 for e in found)
    required = {"inner_step", "maml_meta_gradient", "fomaml_meta_gradient", "reptile_update", "cavia_context_step",
                "reinforce_loss_with_baseline", "discounted_returns", "gae", "target_velocity_reward",
                "adapt_one_step", "conjugate_gradient", "rl_meta_gradient", "meta_train"}
    assert required <= {e.name for e in auto}
    assert {"why_maml_fine_tunes", "first_vs_second_order"} <= {e.name for e in hand}
    for stem in STEMS:                       # every hand-graded answer has a rubric in the solution
        sol = (ROOT / "solutions" / f"{stem}.py").read_text()
        assert sol.count(BEGIN_RUBRIC) == sum(e.kind == "hand" for e in exercises_in(solution(stem)))


def test_generator_refuses_broken_markers():
    import nbformat

    def nb(source):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with pytest.raises(ValueError, match="not inside a function"):
        strip_solutions(nb(f"{BEGIN_SOLUTION}\nx = 1\n{END_SOLUTION}"))
    with pytest.raises(ValueError, match="never closed"):
        strip_solutions(nb(f"def f():\n    {BEGIN_SOLUTION}\n    return 1"))
    stub = strip_solutions(nb(f"# EXERCISE ex7.3: f\ndef f():\n    {BEGIN_SOLUTION}\n    {HINT} add one\n"
                              f"    return 1\n    {END_SOLUTION}")).cells[0].source
    assert stub.endswith('    raise NotImplementedError("Exercise 7.3: add one")')


def test_fallback_uses_the_reference_only_while_the_stub_raises(capsys):
    def stub(x):
        raise NotImplementedError("Exercise 9.9: hint")
    ref = lambda x: x + 1
    f = fallback(stub, ref, "ex9.9")
    assert f(1) == 2 and f(2) == 3
    out = capsys.readouterr().out
    assert out.count("Exercise 9.9") == 1 and "reference implementation" in out, "one visible notice"
    assert fallback(lambda x: 10 * x, ref, "ex9.9")(2) == 20 and capsys.readouterr().out == ""
    with pytest.raises(ZeroDivisionError):      # other errors are the student's to see
        fallback(lambda x: 1 / 0, ref, "ex9.9")(1)


# --------------------------------------------------------------------------------------------------
# The contract of every graded test cell
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_exercise_notebook_runs_top_to_bottom_with_stubs(stem, contract):
    """Only the graded test cells fail when nothing is done; the rest falls back, visibly."""
    result = contract(stem)
    assert not result["errors"], "\n".join(result["errors"])
    assert "is not done yet — using course_lib's reference implementation" in result["printed"]


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_graded_test_fails_on_the_stub(stem, ex, contract):
    passed, message = contract(stem)["results"][(ex, "stub")]
    assert not passed and "NotImplementedError" in message, message


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_graded_test_passes_on_the_solution(stem, ex, contract):
    passed, message = contract(stem)["results"][(ex, "solution")]
    assert passed, message


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_every_graded_test_has_a_buggy_answer(stem, ex):
    assert buggy_answers(stem).get(ex), f"add at least one realistic wrong answer for {ex} to tests/buggy_answers/{stem}.py"


@pytest.mark.parametrize("stem,ex,n,why", BUGS, ids=[f"{ex}-{why[:40]}" for _, ex, _, why in BUGS])
def test_graded_test_fails_on_a_buggy_answer(stem, ex, n, why, contract):
    passed, message = contract(stem)["results"][(ex, f"bug{n}")]
    assert not passed, f"the graded test of {ex} passes on a wrong answer ({why})"
    assert "the answer cell itself raised" not in message, f"the buggy answer should define its function: {message}"


# --------------------------------------------------------------------------------------------------
# Each solution notebook once through the real grader
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_solution_notebook_gets_full_marks_from_the_grader(stem, solution_grades):
    report = solution_grades[stem].result()
    failed = [(r.exercise, r.message) for r in report.results if r.status == "fail"]
    assert not failed and report.score == report.max_auto > 0, failed
    assert report.runs == 1
