"""Submissions that try to fool the grader, and the faults it must survive, on a small solution notebook
built here (tests/test_grader.py grades them; the real ex01 gets a few of the same in that file too).

Each entry: (name, {exercise: answer body}, extra cells {after exercise: source}, deleted tests,
edited tests, expected status of ex9.1..ex9.5). "stub" leaves an exercise unanswered.
"""
import nbformat

NAMES = {"ex9.1": "square", "ex9.2": "cube", "ex9.3": "sgd_step", "ex9.4": "neg", "ex9.5": "halve"}
ARGS = {"ex9.3": "w, alpha"}
SOLUTION = {"ex9.1": "return x * x", "ex9.2": "return x ** 3", "ex9.3": "return w - alpha * 2 * w",
            "ex9.4": "return -x", "ex9.5": "return x / 2"}
STUB = "raise NotImplementedError('Exercise {n}: write it')"
TESTS = {
    "ex9.1": "x = float(t.rng.uniform(2, 9))\n    assert square(3) == 9, 'square(3) must be 9'\n    t.submit('value', square(x))",
    "ex9.2": "x = float(t.rng.uniform(2, 9))\n    assert cube(2) == 8, 'cube(2) must be 8'\n    t.submit('value', cube(x))",
    "ex9.3": "import torch\n    w = torch.tensor(t.rng.normal(size=3))\n    t.submit('w', sgd_step(w, 0.1), rtol=1e-9)",
    "ex9.4": "x = float(t.rng.uniform(2, 9))\n    assert neg(4) == -4, 'neg(4) must be -4'\n    t.submit('value', neg(x))",
    "ex9.5": "x = float(t.rng.uniform(2, 9))\n    assert halve(3) == 1.5, 'halve(3) must be 1.5'\n    t.submit('value', halve(x))",
}
MUST_NOT_CALL = {"ex9.3": "course_lib.inner.inner_update"}
SETUP = "import os, sys, time\nfrom course_lib.checks import fallback, graded"
LATER = "print(fallback(square, lambda x: x * x, 'ex9.1')(4))"        # a demo cell after ex9.1


def exercise_cell(ex, body=None, solution=True):
    name, args = NAMES[ex], ARGS.get(ex, "x")
    if body is None:
        body = (f"    ### BEGIN SOLUTION\n    ### HINT: one line\n    {SOLUTION[ex]}\n    ### END SOLUTION" if solution
                else f"    {SOLUTION[ex]}")
    elif body == "stub":
        body = "    " + STUB.format(n=ex[2:])
    return nbformat.v4.new_code_cell(f"# EXERCISE {ex}: {name}\ndef {name}({args}):\n{body}")


def graded_cell(ex, body=None):
    forbid = f"# MUST NOT CALL: {MUST_NOT_CALL[ex]}\n" if ex in MUST_NOT_CALL else ""
    return nbformat.v4.new_code_cell(f"# GRADED TEST: {ex} {NAMES[ex]} (2 points)\n{forbid}"
                                     f"with graded({ex!r}) as t:\n    {body or TESTS[ex]}")


def notebook(bodies=None, extra=None, drop_tests=(), edited_tests=None, solution=False, prefix=9,
             answer="A model answer.") -> "nbformat.NotebookNode":
    """The fixture notebook: the solution (solution=True, with solution regions) or a submission."""
    bodies, extra, edited_tests = bodies or {}, extra or {}, edited_tests or {}
    cells = [nbformat.v4.new_markdown_cell(f"# Fixture {prefix}"), nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(src) for src in extra.get("setup", [])]
    for ex in NAMES:
        cells.append(exercise_cell(ex, bodies.get(ex), solution))
        cells += [nbformat.v4.new_code_cell(src) for src in extra.get(ex, [])]
        if ex not in drop_tests:
            cells.append(graded_cell(ex, edited_tests.get(ex)))
        if ex == "ex9.1":
            cells.append(nbformat.v4.new_code_cell(LATER))
    text = f"### BEGIN SOLUTION\n{answer}\n### END SOLUTION\n### BEGIN RUBRIC\n* 1 pt\n### END RUBRIC" if solution else answer
    cells += [nbformat.v4.new_markdown_cell("**GRADED BY HAND: ex9.6 essay (3 points)**\n\nExplain."),
              nbformat.v4.new_markdown_cell(f"**Your answer (ex9.6):**\n\n{text}")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    if prefix != 9:                                        # a second solution notebook with other ids
        for cell in nb.cells:
            cell.source = cell.source.replace("ex9.", f"ex{prefix}.").replace("Exercise 9.", f"Exercise {prefix}.")
    return nb


ALL_STUBS = {ex: "stub" for ex in NAMES}
P, F = "pass", "fail"

# name: (bodies, extra cells, expected statuses of ex9.1 .. ex9.5)
ATTACKS = {
    # every error swallowed: nbval sees no error message
    "custom_exc": (ALL_STUBS, {"setup": ["get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"]},
                   [F] * 5),
    # the graded cells' source rewritten before it runs: to nothing, or to submit a forged constant
    "input_transformer": (ALL_STUBS, {"setup": [
        "def _rewrite(lines):\n"
        "    if lines and lines[0].startswith('# GRADED TEST'):\n"
        "        ex = lines[0].split()[3]\n"
        "        return [f'with graded({ex!r}) as t:\\n', '    t.submit(\"value\", 9.0)\\n', '    t.submit(\"w\", [0.0, 0.0, 0.0])\\n']\n"
        "    return lines\n"
        "get_ipython().input_transformers_post.append(_rewrite)"]}, [F] * 5),
    # rows appended to any records file the kernel can find (environment of every visible process, /tmp)
    "forged_records": (ALL_STUBS, {"setup": [
        "import glob, json\n"
        "paths = set(glob.glob('/tmp/**/records*', recursive=True))\n"
        "for env in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        for item in open(env, 'rb').read().split(b'\\0'):\n"
        "            if item.startswith(b'COURSE_LIB_GRADE_RECORDS='): paths.add(item.split(b'=', 1)[1].decode())\n"
        "    except OSError: pass\n"
        "for p in paths:\n"
        "    try:\n"
        "        with open(p, 'a') as f:\n"
        "            for cell in range(40): f.write(json.dumps({'cell': cell, 'passed': True, 'message': '', 'data': []}) + '\\n')\n"
        "    except OSError: pass\n"
        "print('records files found:', sorted(paths))"]}, [F] * 5),
    # comparison helpers patched to always pass, in the kernel's modules and in the answer cells
    "patched_allclose": ({**{ex: "    import numpy, torch\n    torch.allclose = numpy.allclose = lambda *a, **k: True\n"
                                 "    return 0" for ex in NAMES}},
                         {"setup": ["import sys, numpy, torch\nsys.modules['torch'].allclose = lambda *a, **k: True\n"
                                    "numpy.allclose = torch.equal = lambda *a, **k: True\n"
                                    "import course_lib.checks as c\nc.graded.__exit__ = lambda self, *a: True"]},
                         [F] * 5),
    # ex9.3 borrows course_lib.inner_update: directly (seen in the source), through a helper in another
    # cell (caught at run time), or through importlib.reload; the other answers are right
    "borrow_direct": ({"ex9.3": "    from course_lib import inner_update\n"
                                "    return inner_update({'w': w.clone().requires_grad_(True)}, lambda p: (p['w'] ** 2).sum(), alpha)['w']"},
                      {}, [P, P, F, P, P]),
    "borrow_helper": ({"ex9.3": "    return helper(w, alpha)"},
                      {"ex9.2": ["import course_lib\n"
                                 "def helper(w, alpha):\n"
                                 "    fn = getattr(course_lib, 'inner_' + 'update')\n"
                                 "    return fn({'w': w.clone().requires_grad_(True)}, lambda p: (p['w'] ** 2).sum(), alpha)['w']"]},
                      [P, P, F, P, P]),
    "borrow_reload": ({"ex9.3": "    return helper(w, alpha)"},
                      {"ex9.2": ["import importlib, course_lib.inner as m\n"
                                 "def helper(w, alpha):\n"
                                 "    fresh = importlib.reload(m)\n"
                                 "    return fresh.inner_update({'w': w.clone().requires_grad_(True)}, lambda p: (p['w'] ** 2).sum(), alpha)['w']"]},
                      [P, P, F, P, P]),
    # the solution notebook's code, wherever it might be, exec'd into the kernel
    "exec_solutions": (ALL_STUBS, {"setup": [
        "import glob, json\n"
        "for path in glob.glob('/**/solutions/*', recursive=True) + glob.glob('/**/fixture9*', recursive=True):\n"
        "    try:\n"
        "        for cell in json.load(open(path))['cells']:\n"
        "            if cell['cell_type'] == 'code' and cell['source'].startswith('# EXERCISE'):\n"
        "                exec(cell['source'].replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))\n"
        "    except Exception: pass"]}, [F] * 5),
    # a detached process that rewrites every report it can find after the grader exits
    "detached_writer": (ALL_STUBS, {"setup": [
        "import subprocess\n"
        "script = ('import glob, os, time\\n'\n"
        "          'time.sleep(4)\\n'\n"
        "          'for p in glob.glob(\"/**/grades*\", recursive=True) + glob.glob(\"/tmp/**/*.csv\", recursive=True):\\n'\n"
        "          '    try: open(p, \"w\").write(\"HACKED\")\\n'\n"
        "          '    except OSError: pass\\n')\n"
        "subprocess.Popen([sys.executable, '-c', script], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(4)\n"
        "    os._exit(0)"]}, [F] * 5),
    # look for the expected values anywhere (the grader's cache and folders) and answer with them
    "steal_expected": ({ex: f"    return STOLEN({ex!r})" for ex in NAMES}, {"setup": [
        "import glob, json\n"
        "stolen = {}\n"
        "for root in ('/tmp', '/root/.cache', '/home', os.path.expanduser('~')):\n"
        "  for path in glob.glob(root + '/**/expected-*.json', recursive=True):\n"
        "    try: stolen.update(json.load(open(path))[0])\n"
        "    except Exception: pass\n"
        "print('stolen:', sorted(stolen))\n"
        "def STOLEN(ex):\n"
        "    return next(iter(stolen[ex].values()))['value']"]}, [F] * 5),
    # writes outside its own folder: the library, the solutions, the submissions' folder, /etc
    "write_outside": (ALL_STUBS, {"setup": [
        "import course_lib, pathlib\n"
        "for folder in [pathlib.Path(course_lib.__file__).parent, pathlib.Path('/etc'), pathlib.Path(SUBMISSIONS)]:\n"
        "    try: (folder / 'pwned.txt').write_text('x')\n"
        "    except OSError as err: print('refused:', folder, type(err).__name__)"]}, [F] * 5),
}

FAULTS = {
    "good": ({}, {}, [P] * 5),
    # infinite loop in 9.1 (also reached by the later demo cell), syntax error in 9.2, test cell of 9.3
    # deleted (correct answer), 9.4 wrong with its test edited to pass
    "broken": ({"ex9.1": "    while True:\n        pass", "ex9.2": "    return x **\n", "ex9.4": "    return x"},
               {}, [F, F, P, F, P]),
    # 9.2 kills the kernel when tested; 9.4 loops and swallows KeyboardInterrupt
    "killer": ({"ex9.2": "    os._exit(3)",
                "ex9.4": "    while True:\n        try:\n            time.sleep(0.01)\n        except KeyboardInterrupt:\n            pass"},
               {}, [P, F, P, F, P]),
    # the answer to 9.1 lives in an extra cell and kills the kernel: only 9.1 pays
    "extra_cell_killer": ({"ex9.1": "stub"}, {"ex9.1": ["def square(x):\n    os._exit(1)"]}, [F, P, P, P, P]),
}
