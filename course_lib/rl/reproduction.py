"""The MAML paper's meta-RL protocol (§5.3) over the shipped policies: which checkpoints are shipped,
their cached loading, and the returns of each after 0..k policy-gradient steps on the paper's test
tasks, beside the paper's (bench/navigation.py prints it; ui/returns.py draws it)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import checkpoints
from ..evaluate import mean_and_stderr
from ..validation import check_choice, check_int
from .config import ALGOS, load_policy
from .envs import ENVS
from .evaluate import (HELD_OUT_SEED, PAPER_TEST_DRAWS, adaptation_returns, reference_returns,
                       reproduction_tasks)

NOT_SHIPPED = "not shipped yet"
NAVIGATION_MODELS = ("maml", "fomaml", "cavia", "reptile", "pretrain", "random", "oracle")  # table order
# our model name → the paper's (reference file) name; navigation's pretrained curve is the unconfirmed one
PAPER_NAMES = {"maml": ("maml",), "pretrain": ("pretrained", "pretrained_unconfirmed"), "random": ("random_init",),
               "oracle": ("oracle",)}
MAX_EPISODES = 1000

load_cached = checkpoints.cached(load_policy)    # (policy, θ, config), loaded again when the file changes


def paper_name(name: str, reference: dict) -> str | None:
    """The reference's name for our model `name` in this environment's reference, if it has one."""
    return next((n for n in PAPER_NAMES.get(name, ()) if n in reference), None)


def is_shipped(name: str) -> bool:
    """Whether course_lib/checkpoints/<name>.pt exists (e.g. is_shipped('navigation2d_fomaml'))."""
    return (Path(checkpoints.SHIPPED) / f"{name}.pt").exists()


def shipped_checkpoint(name: str) -> dict | None:
    """The shipped checkpoint `name` (e.g. 'navigation2d_fomaml') as a dict, or None if not shipped."""
    return checkpoints.load_checkpoint(checkpoints.shipped(name)) if is_shipped(name) else None


def shipped_policies(env: str = "navigation2d", models=NAVIGATION_MODELS) -> tuple[dict[str, Path], tuple[str, ...]]:
    """({name: checkpoint path} of the shipped ones, (names not shipped yet)) for `env`_<name>.pt.

    models: algorithm names (see course_lib.rl.config.ALGOS) or variants of one (`maml_lvc`: a second
    shipped MAML, <env>_maml_lvc.pt), or a dict name → checkpoint path (all of which must exist). An unknown name is an error; a known one without a checkpoint is "missing".
    """
    check_choice(env, "env", tuple(ENVS))
    if isinstance(models, (str, bytes)) or not isinstance(models, (Sequence, Mapping)) or not len(models):
        raise ValueError(f"models must be a non-empty list of algorithm names from {ALGOS} or a dict "
                         f"name → checkpoint path, got {models!r}")
    if isinstance(models, Mapping):
        paths = {str(k): Path(v) for k, v in models.items()}
        for name, path in paths.items():
            if not path.exists():
                raise ValueError(f"models[{name!r}] must be an existing checkpoint, got {str(path)!r}")
        return paths, ()
    unknown = [m for m in models if m.split("_", 1)[0] not in ALGOS]
    if unknown:
        raise ValueError(f"models must be algorithm names from {ALGOS}, or one with a variant "
                         f"(e.g. 'maml_lvc'), got {unknown[0]!r}")
    names = list(dict.fromkeys(models))     # de-duplicated, in order
    found = {m: checkpoints.shipped(f"{env}_{m}") for m in names if is_shipped(f"{env}_{m}")}
    return found, tuple(m for m in names if m not in found)


# --------------------------------------------------------------------------------------------------
@dataclass
class ReproductionTable:
    env: str
    steps: int
    episodes: int
    n_tasks: int
    seed: int
    returns: dict[str, np.ndarray]        # [steps + 1, n_tasks] mean return per task (oracle: [1, n_tasks])
    missing: tuple[str, ...]
    paper: dict[str, list[float]]         # the paper's mean over its 40 tasks, per step
    source: str | int = "paper"           # the test tasks: the paper's own, or the seed of our draw
    tasks: np.ndarray | None = field(default=None, repr=False)
    paired: dict[str, list[tuple[float, float]]] = field(default_factory=dict)   # ours − paper, task by task
    paired_with: dict[str, str] = field(default_factory=dict)   # … against which of the paper's rows
    figure: object = field(default=None, repr=False)             # ui.returns.reproduction_table draws it

    @property
    def on_paper_tasks(self) -> bool:
        return self.source == "paper" and self.env in PAPER_TEST_DRAWS

    def mean_and_stderr(self, name: str) -> list[tuple[float, float]]:
        """(mean, standard error over tasks) after each step."""
        return [mean_and_stderr(r) for r in self.returns[name]]

    def summary(self) -> str:
        """A markdown table: mean ± s.e. over tasks per step, beside the paper's means."""
        cols = self.steps + 1
        head = " | ".join(f"{f'{s} step' + ('s' if s != 1 else ''):>16}" for s in range(cols))
        paper_head = " / ".join(str(s) for s in range(cols))
        where = ("of the paper's own test tasks" if self.on_paper_tasks else
                 f"held-out tasks (seed {HELD_OUT_SEED if self.source == 'paper' else self.source})")
        lines = [f"{self.env}: mean return ± s.e. over {self.n_tasks} {where}, {self.episodes} episodes "
                 f"per step, α = 0.1 then 0.05 (CAVIA: its context α)\n",
                 f"| {'model':8} | {head} | {'paper ' + paper_head:>30} |",
                 "|" + "|".join("-" * w for w in [10] + [18] * cols + [32]) + "|"]
        for name in [m for m in NAVIGATION_MODELS if m in self.returns or m in self.missing] + \
                [m for m in [*self.returns, *self.missing] if m not in NAVIGATION_MODELS]:
            ref = " / ".join(f"{v:.2f}" for v in self.paper.get(name, [])) or "—"
            if name in self.missing:
                cells = [f"{NOT_SHIPPED:>16}"] + [f"{'':>16}"] * (cols - 1)
            else:
                cells = [f"{f'{m:7.2f} ± {s:5.2f}':>16}" for m, s in self.mean_and_stderr(name)]
                cells += [f"{'—':>16}"] * (cols - len(cells))
            lines.append(f"| {name:8} | " + " | ".join(cells) + f" | {ref:>30} |")
        if self.paired:
            lines.append(f"\nours − paper, task by task (mean ± s.e. of the {self.n_tasks} paired differences):")
            width = max(len(f"{n} − paper {p}") for n, p in self.paired_with.items())
            lines += [f"  {f'{name} − paper {self.paired_with[name]}':{width}} "
                      + "  ".join(f"{k} step{'s' if k != 1 else ''}: {m:+7.2f} ± {e:5.2f}" for k, (m, e) in enumerate(d))
                      for name, d in self.paired.items()]
        return "\n".join(lines)


def evaluate_reproduction(env: str = "navigation2d", models=NAVIGATION_MODELS, steps: int = 3, episodes: int = 40,
                       seed: int = 0, n_tasks: int = 40, tasks: str | int = "paper") -> ReproductionTable:
    """Returns after 0..steps policy-gradient steps on `n_tasks` test tasks, with `episodes` per task and
    step (`adaptation_returns`, α then α/2), for every shipped `env`_<model>.pt; the oracle is told the
    goal and is not adapted (step 0 only). The paper's numbers come from `reference_returns(env)`.

    tasks: "paper", the paper's own test tasks where it has them (`paper_test_tasks`; then every model
    is also compared task by task, `paired`: with its own row of the paper's, an adapted model without
    one with the paper's MAML), or the seed of a `held_out_tasks` draw. The function behind
    `bench/navigation.py`'s table (its figure: course_lib.ui.returns.reproduction_table).
    """
    check_int(steps, "steps", 0, 10)
    check_int(episodes, "episodes", 1, MAX_EPISODES)
    check_int(seed, "seed", 0)
    check_int(n_tasks, "n_tasks", 2)
    paths, missing = shipped_policies(env, models)
    task_array = reproduction_tasks(env, n_tasks, source=tasks)
    returns = {}
    for name, path in paths.items():
        policy, theta, config = load_cached(path)
        k = 0 if config.algo == "oracle" else steps
        returns[name] = adaptation_returns(policy, theta, config, task_array, k, episodes, seed=seed).numpy()
    reference = reference_returns(env)
    paper = {name: [float(np.mean(r)) for r in reference[paper_name(name, reference)][:steps + 1]]
             for name in [*paths, *missing] if paper_name(name, reference)}
    table = ReproductionTable(env, steps, episodes, n_tasks, seed, returns, missing, paper, source=tasks,
                              tasks=task_array)
    if table.on_paper_tasks:     # the same tasks in the same order: compare task by task
        # each model with its own row in the paper; the other adapted ones (FOMAML, …) with the paper's MAML
        table.paired_with = {name: paper_name(name, reference) or "maml" for name, r in returns.items()
                             if paper_name(name, reference) or (len(r) > 1 and "maml" in reference)}
        table.paired = {name: [mean_and_stderr(ours - np.asarray(theirs[:n_tasks], dtype=np.float64))
                               for ours, theirs in zip(returns[name], reference[row])]
                        for name, row in table.paired_with.items()}
    return table
