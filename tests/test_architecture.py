"""The library's layout rules (docs/architecture.md), checked on the imports themselves.

- the grader (course_lib/grade, grading.py) imports no algorithm, RL or training module;
- the read side (evaluation, widgets, renderers, reproduction, bench scripts that only evaluate) imports
  no trainer, and loading a shipped checkpoint into a widget never imports one;
- no plotting or widget code outside course_lib/ui (the grader and the exercise checks display ✓/✗);
- no module over 400 lines; every module lives in a known room;
- Ray is imported by the Ray sampler only (and there only when one is made).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "course_lib"
MODULES = sorted(p for p in LIB.rglob("*.py"))
TRAINERS = {"course_lib.sinusoid.train", "course_lib.rl.train", "course_lib.fewshot.train", "course_lib.runs"}
ALGORITHMS = {"course_lib.inner", "course_lib.meta", "course_lib.rl", "course_lib.sinusoid", "course_lib.tasks",
              "course_lib.fewshot",
              "course_lib.evaluate", "course_lib.fallbacks", "course_lib.models", "course_lib.functional"}
UI_LIBRARIES = ("matplotlib", "ipywidgets", "IPython")
ROOMS = {"": "core", "meta": "algorithms", "tasks": "task distributions", "rl": "meta-RL", "sinusoid": "regression",
         "ui": "plots and widgets", "grade": "the grader", "checkpoints": "shipped weights",
         "reference": "the paper's numbers", "fewshot": "few-shot classification"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports (relative imports resolved), at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}      # `from . import plots` imports a module
    return found


def hits(found: set[str], forbidden) -> set[str]:
    return {i for i in found if any(i == f or i.startswith(f + ".") for f in forbidden)}


def test_the_grader_knows_no_algorithm():
    grader = [LIB / "grading.py", *sorted((LIB / "grade").glob("*.py"))]
    for path in grader:
        assert not hits(imports(path), ALGORITHMS | TRAINERS), f"{path.relative_to(ROOT)} imports an algorithm"


READ_SIDE = [LIB / "evaluate.py", LIB / "sinusoid" / "evaluate.py", LIB / "sinusoid" / "config.py",
             LIB / "rl" / "config.py", LIB / "rl" / "evaluate.py", LIB / "rl" / "reproduction.py",
             *(LIB / "fewshot" / f for f in ("__init__.py", "config.py", "model.py", "evaluate.py")),
             *sorted((LIB / "ui").glob("*.py")), ROOT / "bench" / "navigation.py", ROOT / "bench" / "sinusoid.py",
             ROOT / "bench" / "mujoco_speed.py"]


@pytest.mark.parametrize("path", READ_SIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_read_side_imports_no_trainer(path):
    assert not hits(imports(path), TRAINERS), f"{path.relative_to(ROOT)} imports a trainer"


def test_loading_shipped_checkpoints_into_the_widgets_never_loads_a_trainer():
    code = ("import sys, course_lib\n"
            "from course_lib.ui import sinusoid, navigation, returns, locomotion, fewshot\n"
            "sinusoid.sinusoid_adaptation(models=('maml',))\n"
            "navigation.navigation_adaptation(models=('maml',), episodes=2)\n"
            "loaded = sorted(m for m in sys.modules if m in %r)\n"
            "print('TRAINERS', loaded)\n" % (sorted(TRAINERS),))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TRAINERS []" in out.stdout, out.stdout


DISPLAYS = ("ui", "grade", "checks.py")      # the widgets, and the grader's and the exercise checks' ✓/✗ output


@pytest.mark.parametrize("path", [p for p in MODULES if p.relative_to(LIB).parts[0] not in DISPLAYS],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_plotting_or_widget_code_outside_ui(path):
    assert not hits(imports(path), UI_LIBRARIES), f"{path.relative_to(ROOT)} imports {UI_LIBRARIES}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_short_and_each_lives_in_a_room(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines (at most 400: split it by job)"
    room = path.relative_to(LIB).parts[0] if len(path.relative_to(LIB).parts) > 1 else ""
    assert room in ROOMS, f"{path.relative_to(ROOT)} is in no known room ({sorted(ROOMS)}); add it to docs/architecture.md"


def test_ray_is_imported_by_the_ray_sampler_only():
    """`--sampler ray` is the only user of Ray: nothing else imports it, and ray_sampler.py only in RaySampler."""
    assert [p for p in MODULES if hits(imports(p), {"ray"})] == [LIB / "rl" / "ray_sampler.py"]
    top_level = {a.name for n in ast.parse((LIB / "rl" / "ray_sampler.py").read_text()).body
                 if isinstance(n, ast.Import) for a in n.names}
    assert not hits(top_level, {"ray"})


def test_import_course_lib_registers_the_gymnasium_ids():
    code = "import gymnasium as gym, course_lib; gym.make('course_lib/Navigation2D-v0'); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_rules_can_fail():
    """The checker sees a trainer import (relative or absolute) where there is one."""
    assert hits(imports(LIB / "sinusoid" / "train.py"), {"course_lib.runs"})
    assert hits(imports(LIB / "doctor.py"), TRAINERS)
