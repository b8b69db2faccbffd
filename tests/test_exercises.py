"""The graded exercises keep their contract.

* exercises/ is exactly what `python -m course_lib.grading generate` makes from solutions/;
* every graded cell is graded on what it submits (`t.submit`), compared with `verdict` — as the grader
  does — against what the solution notebook submits for the same grading seed, for two seeds: the
  stub, and every realistic buggy answer kept in tests/buggy_answers/ (at least one per exercise),
  fail and print ✗, on their submitted values alone (the graded cell without its asserts fails them
  too); the solution passes and prints ✓; the submitted values change with the seed;
* an exercise notebook runs top to bottom with every exercise still a stub: every graded cell prints
  ✗ and the notebook goes on; later cells fall back to course_lib's implementation, with a notice;
* no graded cell depends on another exercise's answer or on course_lib.fallbacks, and every
  `# MUST NOT CALL:` line names real course_lib functions that the solution does not use;
* every solution notebook, graded by the real grader, scores full marks (skipped while the grader is
  rebuilt).

The contract runs in-process (the notebook's code cells exec'd in one namespace, the exercise cell
swapped per variant), which is much faster than a kernel per variant. The solution's expected values come
from its setup cell, exercise cells and graded cells, in order; the demo cells in between are skipped.
That they change nothing is checked too: the solution, swapped into the exercise notebook run top to
bottom (demo cells and all), must match those values.
"""
import ast
import copy
import importlib
import io
import os
import re
import types
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import jupytext
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

from course_lib import checks  # noqa: E402
from course_lib.checks import GRADING_ENV, SEED_ENV, fallback  # noqa: E402
from course_lib.grade.verdict import verdict  # noqa: E402
from course_lib.grading import (BEGIN_RUBRIC, BEGIN_SOLUTION, END_SOLUTION, EXERCISE_RE, HINT,  # noqa: E402
                                exercise_cell_id, exercises_in, generate, graded_test_of, strip_solutions)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.py"))
STEMS = [p.stem for p in SOLUTIONS]
BUGGY = Path(__file__).resolve().parent / "buggy_answers"
BUG_LINE = re.compile(r"^# %% BUG (ex\d+\.\d+): (.*)$")
MUST_NOT_CALL = re.compile(r"^#\s*MUST NOT CALL:\s*(?P<paths>.+)$")
SEEDS = ("0", "12345")                      # two grading seeds: the inputs of every graded cell differ
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


def function_names(nb) -> dict[str, str]:
    """{exercise id: the name of the student's function} from the `# EXERCISE exN.M: name` lines."""
    return {m["id"]: m["name"] for c in nb.cells if c.cell_type == "code"
            for m in [EXERCISE_RE.match(c.source.strip())] if m}


def graded_cells(nb) -> dict[str, str]:
    return {graded_test_of(c).id: c.source for c in nb.cells if graded_test_of(c)}


# --------------------------------------------------------------------------------------------------
# Running a notebook in-process
# --------------------------------------------------------------------------------------------------

def fresh_namespace():
    return {"__name__": "__main__", "get_ipython": lambda: types.SimpleNamespace(run_line_magic=lambda *a, **k: None)}


@contextmanager
def grading_seed(seed):
    """COURSE_LIB_GRADING_SEED set to `seed` (COURSE_LIB_GRADING stays unset: submissions stay in-process)."""
    saved = {k: os.environ.get(k) for k in (SEED_ENV, GRADING_ENV)}
    os.environ[SEED_ENV] = str(seed)
    os.environ.pop(GRADING_ENV, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(source, ns, name) -> tuple[bool, str, str]:
    """(ran without raising, error message, what it printed)."""
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            exec(compile(TO_PYTHON.transform_cell(source), name, "exec"), ns)
        return True, "", printed.getvalue()
    except Exception as err:
        return False, f"{type(err).__name__}: {err}", printed.getvalue()


class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()


def without_asserts(source: str) -> str:
    """A graded cell with its self-checks removed: what it submits must grade an answer on its own."""
    return ast.unparse(_NoAsserts().visit(ast.parse(TO_PYTHON.transform_cell(source))))


def graded_run(cells, ns, ex, name) -> dict:
    """Run `cells` (the last one is ex's graded cell) in `ns`: what the graded cell printed and submitted."""
    checks.SUBMITTED.pop(ex, None)
    for k, source in enumerate(cells):
        ok, message, printed = run(source, ns, f"{name} cell {k}")
        if not ok:
            where = "the answer cell itself" if k == 0 and len(cells) > 1 else f"cell {k}"
            return dict(error=f"{where} raised {message}", printed=printed, got={})
    return dict(error="", printed=printed,
                got={k: [copy.deepcopy(p["value"])] for k, p in checks.SUBMITTED.get(ex, {}).items()})


def expected_submissions(stem) -> dict[str, dict[str, dict]]:
    """{seed: {exercise: the solution's payloads}}: the solution notebook's setup cell, exercise cells
    and graded cells, run in order in a fresh namespace for each seed."""
    code = [c for c in solution(stem).cells if c.cell_type == "code"]
    keep = [c for i, c in enumerate(code) if i == 0 or exercise_cell_id(c) or graded_test_of(c)]
    expected = {}
    for seed in SEEDS:
        ns, found = fresh_namespace(), {}
        with grading_seed(seed):
            for k, cell in enumerate(keep):
                checks.SUBMITTED.pop(getattr(graded_test_of(cell), "id", None), None)
                ok, message, printed = run(cell.source, ns, f"solution {stem} cell {k}")
                assert ok, f"solutions/{stem}.py: a cell raised {message}"
                if graded_test_of(cell):
                    ex = graded_test_of(cell).id
                    assert "✓" in printed and "✗" not in printed, f"{ex}: the solution fails its own graded cell:\n{printed}"
                    found[ex] = copy.deepcopy(checks.SUBMITTED.get(ex, {}))
        expected[seed] = found
    plt.close("all")
    return expected


def check_contract(stem):
    """Run the exercise (stub) version of a notebook top to bottom; at each exercise cell, for each seed,
    try the solution and every buggy answer in a copy of the namespace, each followed by the cells up to
    and including its graded cell."""
    sol = solution(stem)
    answers = {exercise_cell_id(c): c.source for c in sol.cells if exercise_cell_id(c)}
    bugs = buggy_answers(stem)
    code = [c for c in strip_solutions(sol).cells if c.cell_type == "code"]
    ns, results, errors, printed = fresh_namespace(), {}, [], []
    failed_before = set(checks.FAILED)
    checks.FAILED.clear()
    with grading_seed(SEEDS[0]):
        for i, cell in enumerate(code):
            ex, test = exercise_cell_id(cell), graded_test_of(cell)
            if ex is not None:
                j = next(k for k in range(i + 1, len(code)) if graded_test_of(code[k]) and graded_test_of(code[k]).id == ex)
                variants = [("solution", answers[ex])] + [(f"bug{n}", src) for n, (_, src) in enumerate(bugs.get(ex, []))]
                failed = set(checks.FAILED)
                for variant, source in variants:
                    cells = [source] + [code[k].source for k in range(i + 1, j + 1)]
                    for seed in SEEDS:
                        with grading_seed(seed):
                            results[(ex, variant, seed)] = graded_run(cells, dict(ns), ex, f"{ex} {variant}")
                            results[(ex, variant, seed, "values only")] = graded_run(
                                cells[:-1] + [without_asserts(cells[-1])], dict(ns), ex, f"{ex} {variant} (no asserts)")
                checks.FAILED.clear()
                checks.FAILED.update(failed)
            if test is not None:
                for seed in SEEDS[1:]:                               # the stub with the other seed, in a copy
                    with grading_seed(seed):
                        results[(test.id, "stub", seed)] = graded_run([cell.source], dict(ns), test.id, f"{test.id} stub")
                results[(test.id, "stub", SEEDS[0])] = result = graded_run([cell.source], ns, test.id, f"{test.id} stub")
                printed.append(result["printed"])
                if result["error"]:
                    errors.append(f"graded cell {test.id} raised {result['error']}")
                continue
            ok, message, out = run(cell.source, ns, f"cell {i}")
            printed.append(out)
            if not ok:
                errors.append(f"code cell {i} ({cell.source.splitlines()[0][:60]}): {message}")
    checks.FAILED.clear()
    checks.FAILED.update(failed_before)
    plt.close("all")
    return dict(results=results, errors=errors, printed="".join(printed), expected=expected_submissions(stem))


@pytest.fixture(scope="module")
def contract():
    cache = {}

    def get(stem):
        if stem not in cache:
            cache[stem] = check_contract(stem)
        return cache[stem]
    return get


def label(ex):
    return f"Exercise {ex[2:]}"


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
    for i, cell in enumerate(nb.cells):
        ex = exercise_cell_id(cell)
        if ex:
            m = re.search(r'raise NotImplementedError\("Exercise (\d+\.\d+): (.+)"\)', cell.source)
            assert m and m[1] == ex[2:], f"{ex}: the stub must name the exercise"
            assert "hints under this cell" in m[2], f"{ex}: the stub's message points to the hints, not at the answer"
            hints = nb.cells[i + 1]
            tiers = re.findall(r"<details><summary>Hint (\d+) of (\d+)", hints.source)
            assert hints.cell_type == "markdown" and len(tiers) >= 2, \
                f"{ex}: the cell after the exercise holds at least two collapsed hint tiers"
            assert [int(k) for k, _ in tiers] == list(range(1, len(tiers) + 1))
            for k in range(len(tiers) - 1):      # a later tier says more than the one before
                bodies = re.findall(r"</summary>\n\n(.*?)\n\n</details>", hints.source, re.S)
                assert bodies[k] not in bodies[k + 1:], f"{ex}: hint {k + 1} repeats"


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
    student = strip_solutions(nb(f"# EXERCISE ex7.3: f\ndef f():\n    {BEGIN_SOLUTION}\n    {HINT} add one\n"
                                 f"    {HINT} return x + 1\n    return 1\n    {END_SOLUTION}"))
    stub, hints = student.cells[0].source, student.cells[1]
    assert stub.endswith('    raise NotImplementedError("Exercise 7.3: replace this line with your code '
                         '(stuck? the hints under this cell open one at a time).")')
    assert "add one" not in stub and hints.cell_type == "markdown"
    assert hints.source.index("Hint 1 of 2") < hints.source.index("add one") < hints.source.index("Hint 2 of 2") \
        < hints.source.index("return x + 1")


def test_fallback_uses_the_reference_only_while_the_stub_raises_or_has_failed(capsys):
    def stub(x):
        raise NotImplementedError("Exercise 9.9: hint")
    ref = lambda x: x + 1
    checks.FAILED.discard("ex9.9")
    f = fallback(stub, ref, "ex9.9")
    assert f(1) == 2 and f(2) == 3
    out = capsys.readouterr().out
    assert out.count("Exercise 9.9") == 1 and "course_lib's implementation" in out, "one visible notice"
    assert fallback(lambda x: 10 * x, ref, "ex9.9")(2) == 20 and capsys.readouterr().out == ""
    with pytest.raises(ZeroDivisionError):      # other errors are the student's to see
        fallback(lambda x: 1 / 0, ref, "ex9.9")(1)
    checks.FAILED.add("ex9.9")                  # an answer that failed its graded cell is not called again
    try:
        assert fallback(lambda x: 10 * x, ref, "ex9.9")(2) == 3
        assert "failed its graded cell" in capsys.readouterr().out
    finally:
        checks.FAILED.discard("ex9.9")


# --------------------------------------------------------------------------------------------------
# What a graded cell may use
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_graded_cells_use_no_fallback_and_no_other_exercise(stem):
    """In a grading run course_lib.fallbacks raises, and each verdict depends on its own exercise alone."""
    nb = solution(stem)
    names = function_names(nb)
    for ex, source in graded_cells(nb).items():
        assert "reference." not in source and "fallback(" not in source and "course_lib.fallbacks" not in source, \
            f"{ex}: a graded cell must not use course_lib.fallbacks (it raises in a grading run)"
        assert re.search(rf'with graded\("{re.escape(ex)}"\) as t:', source), f"{ex}: the cell must grade inside `with graded(\"{ex}\")`"
        assert "t.submit(" in source, f"{ex}: the cell must submit values to grade"
        for other, name in names.items():
            if other != ex:
                assert not re.search(rf"(?<![\w.]){name}\s*\(", source), f"the graded cell of {ex} calls {name} ({other})"


def _forbidden_names_used(source: str, function: str, paths: list[str]) -> list[str]:
    """The last components of `paths` that appear as a name or attribute inside `function` (as the
    grader's source check reads an answer)."""
    banned = {p.rsplit(".", 1)[-1] for p in paths}
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for inner in ast.walk(node):
                name = inner.id if isinstance(inner, ast.Name) else inner.attr if isinstance(inner, ast.Attribute) else None
                if name in banned:
                    found.add(name)
    return sorted(found)


@pytest.mark.parametrize("stem", STEMS)
def test_must_not_call_lines_name_real_functions_the_solution_does_not_use(stem):
    nb = solution(stem)
    names = function_names(nb)
    answers = {exercise_cell_id(c): c.source for c in nb.cells if exercise_cell_id(c)}
    lines = {}
    for ex, source in graded_cells(nb).items():
        second = source.splitlines()[1] if len(source.splitlines()) > 1 else ""
        m = MUST_NOT_CALL.match(second)
        assert m or "MUST NOT CALL" not in source, f"{ex}: `# MUST NOT CALL:` must be the second line of the graded cell"
        if not m:
            continue
        paths = [p.strip() for p in m["paths"].split(",")]
        lines[ex] = paths
        for path in paths:
            assert re.fullmatch(r"course_lib(\.\w+)+", path), f"{ex}: {path!r} is not a dotted course_lib path"
            module, attr = path.rsplit(".", 1)
            fn = getattr(importlib.import_module(module), attr, None)
            assert isinstance(fn, types.FunctionType) and fn.__module__ == module and not fn.__code__.co_freevars, \
                f"{ex}: {path} must be a plain function, named by the module that defines it"
        used = _forbidden_names_used(answers[ex], names[ex], paths)
        assert not used, f"{ex}: the solution's {names[ex]} uses {used}, which its graded cell forbids"
    assert lines, f"{stem}: no graded cell names the functions its answer must not call"


# --------------------------------------------------------------------------------------------------
# The contract of every graded cell
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_exercise_notebook_runs_top_to_bottom_with_stubs(stem, contract):
    """Nothing raises when nothing is done: every graded cell prints ✗ and the notebook goes on; the rest
    falls back, visibly."""
    result = contract(stem)
    assert not result["errors"], "\n".join(result["errors"])
    assert "— using course_lib's implementation so the notebook keeps running" in result["printed"]
    for s, ex in AUTO:
        if s == stem:
            assert f"✗ {label(ex)} is not done yet" in result["printed"], f"{ex}: the graded cell must print ✗ for a stub"
    assert "✓" not in result["printed"], "a graded cell prints ✓ for a stub"


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_submissions_depend_on_the_grading_seed(stem, ex, contract):
    """Inputs come from t.rng / t.torch_seed: values computed at home for one seed are worth nothing."""
    expected = contract(stem)["expected"]
    first, second = (expected[seed][ex] for seed in SEEDS)
    assert first and set(first) == set(second), f"{ex}: the solution must submit the same keys for every seed"
    changed = [k for k in first if first[k]["value"] != second[k]["value"]]
    assert changed, f"{ex}: no submitted value depends on the grading seed"


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_graded_cell_fails_on_the_stub(stem, ex, contract):
    result = contract(stem)
    for seed in SEEDS:
        run_ = result["results"][(ex, "stub", seed)]
        assert not run_["error"], f"seed {seed}: the graded cell raised {run_['error']} (it must catch and print ✗)"
        assert f"✗ {label(ex)} is not done yet" in run_["printed"], run_["printed"]
        passed, _ = verdict(result["expected"][seed][ex], run_["got"])
        assert not passed, f"seed {seed}: the stub passes {ex}"


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_graded_cell_passes_on_the_solution(stem, ex, contract):
    result = contract(stem)
    for seed in SEEDS:
        run_ = result["results"][(ex, "solution", seed)]
        assert not run_["error"], f"seed {seed}: {run_['error']}"
        assert f"✓ {label(ex)}" in run_["printed"] and "✗" not in run_["printed"], run_["printed"]
        passed, message = verdict(result["expected"][seed][ex], run_["got"])
        assert passed, f"seed {seed}: {message}"
        passed, message = verdict(result["expected"][seed][ex], result["results"][(ex, "solution", seed, "values only")]["got"])
        assert passed, f"seed {seed}, the graded cell without its asserts: {message}"


@pytest.mark.parametrize("stem,ex", AUTO, ids=[f"{s}-{e}" for s, e in AUTO])
def test_every_graded_test_has_a_buggy_answer(stem, ex):
    assert buggy_answers(stem).get(ex), f"add at least one realistic wrong answer for {ex} to tests/buggy_answers/{stem}.py"


@pytest.mark.parametrize("stem,ex,n,why", BUGS, ids=[f"{ex}-{why[:40]}" for _, ex, _, why in BUGS])
def test_graded_cell_fails_on_a_buggy_answer(stem, ex, n, why, contract):
    result = contract(stem)
    for seed in SEEDS:
        run_ = result["results"][(ex, f"bug{n}", seed)]
        assert "the answer cell itself raised" not in run_["error"], f"the buggy answer should define its function: {run_['error']}"
        assert not run_["error"], f"seed {seed}: the graded cell raised {run_['error']} (it must catch and print ✗)"
        assert f"✗ {label(ex)}" in run_["printed"] and "✓" not in run_["printed"], \
            f"seed {seed}: the graded cell of {ex} does not print ✗ for a wrong answer ({why}):\n{run_['printed']}"
        passed, _ = verdict(result["expected"][seed][ex], run_["got"])
        assert not passed, f"seed {seed}: the grader passes a wrong answer to {ex} ({why})"
        values_only = result["results"][(ex, f"bug{n}", seed, "values only")]
        passed, _ = verdict(result["expected"][seed][ex], values_only["got"])
        assert not passed, (f"seed {seed}: only the asserts catch this wrong answer to {ex} ({why}); the values "
                            "it submits must be wrong too (asserts decide nothing in a grading run)")


# --------------------------------------------------------------------------------------------------
# Each solution notebook once through the real grader
# --------------------------------------------------------------------------------------------------

def test_solution_notebooks_get_full_marks_from_the_grader(tmp_path):
    """Every solution notebook through `python -m course_lib.grade` (sandboxed kernels, verdicts from the
    submitted values): full marks, in one run each."""
    import json
    import subprocess
    import sys

    report = tmp_path / "grades.json"
    result = subprocess.run([sys.executable, "-m", "course_lib.grade", *(str(ROOT / "solutions" / f"{s}.py") for s in STEMS),
                             "--json", str(report), "--jobs", "2", "--timeout", "300"],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for sub in json.loads(report.read_text())["submissions"]:
        failed = [(e["exercise"], e["message"]) for e in sub["exercises"] if e["status"] == "fail"]
        assert not failed and sub["score"] == sub["max_auto"] > 0, (sub["submission"], failed)
        assert sub["runs"] == 1
