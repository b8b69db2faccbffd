"""The 2D-navigation ablation (notebook 09): its stored results, and mean ± standard error over seeds.

`bench/ablation_navigation.py` meta-trains one policy per (algorithm, meta-batch size, episodes per
task, seed) and records, per run, the held-out return after one adaptation step. The results live in
a small JSON file (shipped as `course_lib/checkpoints/ablation_navigation.json`):

    {"settings": {...}, "runs": [{"algo", "meta_batch", "episodes", "seed", "return_after", ...}, ...]}

`aggregate` groups the runs by cell of the grid and gives the mean over seeds and its standard error
s/√n (sample standard deviation s, n seeds); a cell with one seed has standard error 0, a cell with
none is absent — a partially finished grid is still a valid result.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .checkpoints import SHIPPED, atomic_write
from .evaluate import mean_and_stderr

ABLATION_JSON = SHIPPED / "ablation_navigation.json"
CELL = ("algo", "meta_batch", "episodes")          # what distinguishes one cell of the grid
RUN_KEY = CELL + ("seed",)                          # what distinguishes one run


def run_key(run: dict) -> tuple:
    """(algo, meta_batch, episodes, seed) of a run record."""
    return tuple(run[k] for k in RUN_KEY)


def load_ablation(path: str | os.PathLike = ABLATION_JSON) -> dict:
    """The stored ablation, or an empty one ({"settings": {}, "runs": []}) if there is no file yet."""
    path = Path(path)
    if not path.exists():
        return {"settings": {}, "runs": []}
    return json.loads(path.read_text())


def save_ablation(results: dict, path: str | os.PathLike = ABLATION_JSON) -> Path:
    """Write the JSON atomically (checkpoints.atomic_write)."""
    return atomic_write(path, lambda f: (json.dump(results, f, indent=1), f.write("\n")), mode="w")


def aggregate(runs: list[dict], value: str = "return_after") -> dict[tuple, dict]:
    """{(algo, meta_batch, episodes): {"mean", "stderr", "n", "seeds"}} over the seeds of each cell."""
    cells: dict[tuple, list[dict]] = {}
    for run in runs:
        cells.setdefault(tuple(run[k] for k in CELL), []).append(run)
    out = {}
    for cell, members in sorted(cells.items()):
        mean, stderr = mean_and_stderr([r[value] for r in members])
        out[cell] = dict(mean=mean, stderr=stderr, n=len(members), seeds=sorted(r["seed"] for r in members))
    return out
