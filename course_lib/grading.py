"""The graded exercises: one source (solutions/), two outputs (solutions/ and exercises/), and the
helpers the exercise notebooks use.

    python -m course_lib.grading generate            # exercises/*.py + *.ipynb from solutions/*.py
    python -m course_lib.grading generate --check    # exit 1 if exercises/ differs (CI runs this as a test)
    python -m course_lib.grading execute solutions/ex01_meta_gradients.py   # save the .ipynb with outputs

Markers in the solution notebooks (nbgrader-compatible solution regions):

    # EXERCISE ex1.2: maml_meta_gradient          first line of an exercise cell
        ### BEGIN SOLUTION                          inside a function body; replaced in exercises/ by
        ### HINT: one line shown to stuck students   `raise NotImplementedError("Exercise 1.2: <hint>")`
        ...
        ### END SOLUTION
    # GRADED TEST: ex1.2 maml_meta_gradient (3 points)     first line of an official test cell
    **GRADED BY HAND: ex1.6 name (4 points)**              in the markdown cell asking a written question
    **Your answer (ex1.6):**                               first line of the markdown answer cell; its
        ### BEGIN SOLUTION … ### END SOLUTION              model answer becomes "YOUR ANSWER HERE" and
        ### BEGIN RUBRIC … ### END RUBRIC                  the rubric is removed from exercises/

`fallback(student_fn, reference_fn, exercise)` lets later cells run while an exercise is still a stub,
and `reference` holds course_lib's implementation of every exercise, with the exercises' signatures.
The grader (`python -m course_lib.grade`) lives in course_lib/grade/
"""
from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

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

def _stub_code(source: str, exercise_id: str | None) -> str:
    """Replace each solution region by `raise NotImplementedError("Exercise N: <hint>")`."""
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
            region, hints = number, []
        elif marker == END_SOLUTION:
            if region is None:
                raise ValueError(f"{END_SOLUTION} without {BEGIN_SOLUTION} at line {number}")
            hint = " ".join(hints) or "replace this line with your code."
            out += [f"{indent}# YOUR CODE HERE",
                    f"{indent}raise NotImplementedError({json.dumps(f'{label}: {hint}', ensure_ascii=False)})"]
            region = None
        elif region is not None:
            if marker.startswith(HINT):
                hints.append(marker[len(HINT):].strip())
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"{BEGIN_SOLUTION} at line {region} is never closed")
    return "\n".join(out)


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
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _stub_code(cell.source, exercise_cell_id(cell))
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = _strip_region(cell.source, BEGIN_SOLUTION, END_SOLUTION, ANSWER_PLACEHOLDER)
            cell.source = _strip_region(cell.source, BEGIN_RUBRIC, END_RUBRIC, None)
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


def execute(script: Path, timeout: int = 600) -> Path:
    """Run a .py notebook top to bottom in a fresh kernel; save the paired .ipynb with its outputs."""
    import jupytext
    from nbclient import NotebookClient

    script = Path(script)
    nb = jupytext.read(script)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3 (ipykernel)"}
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(script.parent)}}).execute()
    out = script.with_suffix(".ipynb")
    import nbformat

    nb.nbformat, nb.nbformat_minor = 4, 5
    out.write_text(nbformat.writes(set_cell_ids(nb, script.stem)) + "\n")
    print(f"executed {script} in {time.perf_counter() - start:.0f} s -> {out}")
    return out


# --------------------------------------------------------------------------------------------------
# Students who get stuck
# --------------------------------------------------------------------------------------------------

def fallback(student_fn, reference_fn, exercise: str):
    """`student_fn`, or — while it still raises NotImplementedError — `reference_fn`, with a notice.

    Later cells call exercises through this, so a notebook runs top to bottom even when an exercise
    is not done yet. The graded test cells call the student's function directly, never this.
    """
    label = exercise if exercise.startswith("Exercise") else f"Exercise {exercise.removeprefix('ex')}"
    name = getattr(reference_fn, "__name__", "this function")
    noticed = False

    @functools.wraps(reference_fn)
    def call(*args, **kwargs):
        nonlocal noticed
        if student_fn is not None:
            try:
                return student_fn(*args, **kwargs)
            except NotImplementedError:
                pass
        if not noticed:
            print(f"⚠ {label} ({name}) is not done yet — using course_lib's reference implementation "
                  "so the notebook keeps running.", flush=True)
            noticed = True
        return reference_fn(*args, **kwargs)

    return call


# --------------------------------------------------------------------------------------------------
# course_lib's implementation of every exercise, with the exercises' signatures
# --------------------------------------------------------------------------------------------------

def _inner_step(params, loss_fn, alpha, first_order=False):
    from .inner import inner_update
    return inner_update(params, loss_fn, alpha, 1, first_order)


def _maml_meta_gradient(theta, support_loss, query_loss, alpha):
    import torch
    from .inner import inner_update
    adapted = inner_update(theta, support_loss, alpha, 1, first_order=False)
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))


def _fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    import torch
    from .functional import detached
    from .inner import inner_update
    adapted = detached(inner_update(theta, support_loss, alpha, 1, first_order=True), requires_grad=True)
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(adapted.values()))))


def _reptile_update(theta, task_losses, alpha, steps, epsilon):
    from .functional import detached
    from .inner import inner_update
    phis = [detached(inner_update(theta, loss, alpha, steps, first_order=True)) for loss in task_losses]
    return {k: (v.detach() + epsilon * sum(phi[k] - v.detach() for phi in phis) / len(phis)).requires_grad_(True)
            for k, v in theta.items()}


def _cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    import torch
    from .inner import inner_update
    from .meta import CONTEXT
    dtype = next(iter(theta.values())).dtype
    phi0 = {CONTEXT: torch.zeros(context_dim, dtype=dtype, requires_grad=True)}
    shared = {k: v for k, v in theta.items() if k != CONTEXT}
    phi = inner_update(phi0, lambda c: support_loss({**shared, **c}), alpha, 1, first_order)
    return {**shared, **phi}


def _reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    from .rl.losses import masked_mean
    return -masked_mean(log_prob * (returns - baseline).detach(), mask)


def _target_velocity_reward(obs, actions, targets):
    from .tasks.velocity import DT, MAX_FORCE
    velocity = obs[..., 0] + DT * actions[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
    return -(velocity - targets.view(-1, *([1] * (velocity.dim() - 1)))) ** 2


def _adapt_one_step(policy, theta, episodes, alpha):
    from .functional import detached
    from .meta import adapt
    from .rl.tasks import PolicyTaskBatch
    return detached(adapt(theta, PolicyTaskBatch(policy, episodes), alpha, 1, first_order=True))


def _rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    import torch
    from .rl.train import default_rl_config, meta_loss_and_kl, sample_meta_batch
    config = default_rl_config("navigation2d", "fomaml" if first_order else "maml", alpha=alpha, gamma=gamma)
    batch = sample_meta_batch(policy, theta, env, config, generator)
    loss, _ = meta_loss_and_kl(theta, batch, config)
    grads = torch.autograd.grad(loss, list(theta.values()))
    return (dict(zip(theta, grads)), float(batch.support.total_return().mean()),
            float(batch.query.total_return().mean()))


def _meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    """Adam on θ (in place) for config.iterations meta-iterations, with a progress bar; history of
    returns and timings."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm
    from .rl.envs import make_batched_env
    from .rl.evaluate import adaptation_returns
    from .tasks.navigation import NavigationDistribution
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    bar = tqdm(total=config.iterations, desc=f"{config.env} {config.algo}", unit="it")
    for it in range(config.iterations + 1):
        if eval_tasks is not None and (it % eval_every == 0 or it == config.iterations):
            r = adaptation_returns(policy, theta, config, eval_tasks, steps=1, episodes=10, seed=0)
            history["eval_iteration"].append(it)
            history["eval_before"].append(float(r[0].mean()))
            history["eval_after"].append(float(r[1].mean()))
        if it == config.iterations:
            break
        tasks = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, tasks, config.episodes, normalize_actions=config.normalize_actions)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order,
                                                config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
        bar.update()
    bar.close()
    return history


def _conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    from .rl.trpo import conjugate_gradient
    return conjugate_gradient(Avp, b, iters, tol)


def _discounted_returns(rewards, mask, gamma):
    from .rl.returns import discounted_returns
    return discounted_returns(rewards, mask, gamma)


def _gae(rewards, values, mask, gamma, lam=1.0):
    from .rl.returns import gae
    return gae(rewards, values, mask, gamma, lam)


def _named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn


reference = SimpleNamespace(**{name: _named(fn, name) for name, fn in {
    "inner_step": _inner_step,                                   # ex1.1
    "maml_meta_gradient": _maml_meta_gradient,                   # ex1.2
    "fomaml_meta_gradient": _fomaml_meta_gradient,               # ex1.3
    "reptile_update": _reptile_update,                           # ex1.4
    "cavia_context_step": _cavia_context_step,                   # ex1.5
    "discounted_returns": _discounted_returns,                   # ex2.1
    "gae": _gae,                                                 # ex2.2
    "reinforce_loss_with_baseline": _reinforce_loss_with_baseline,  # ex2.3
    "target_velocity_reward": _target_velocity_reward,           # ex2.4
    "adapt_one_step": _adapt_one_step,                           # ex2.5
    "conjugate_gradient": _conjugate_gradient,                   # ex2.6
    "rl_meta_gradient": _rl_meta_gradient,                       # ex3.1
    "meta_train": _meta_train,                                   # ex3.2
}.items()})


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
    run = sub.add_parser("execute", help="execute .py notebooks and save their .ipynb with outputs")
    run.add_argument("scripts", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
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
    for script in args.scripts:
        execute(script, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
