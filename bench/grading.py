"""How long the grader takes for a class: N submissions of an exercise notebook, graded with --jobs J.

    python bench/grading.py [--submissions 15] [--jobs 1] [--notebook ex01_meta_gradients] [--seed 0]

The class: a third correct (the solution), a third untouched stubs, a third half done (the solution
with every other exercise stubbed). Prints the wall time, the time per submission and the scores.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=positive, default=15)
    parser.add_argument("--jobs", type=positive, default=1)
    parser.add_argument("--notebook", default="ex01_meta_gradients")
    parser.add_argument("--seed", type=int, default=0, help="the graded cells' seed (the grader's --seed)")
    args = parser.parse_args()
    solution_path = ROOT / "solutions" / f"{args.notebook}.py"
    if not solution_path.is_file():
        parser.error(f"--notebook: no {solution_path}")
    solution = jupytext.read(solution_path)
    stub = jupytext.read(ROOT / "exercises" / f"{args.notebook}.py")
    half = jupytext.read(solution_path)
    stub_cells = {c.source.splitlines()[0]: c.source for c in stub.cells if c.source.startswith("# EXERCISE")}
    for k, cell in enumerate(c for c in half.cells if c.source.startswith("# EXERCISE")):
        if k % 2:
            cell.source = stub_cells[cell.source.splitlines()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.submissions):
            nb = (solution, stub, half)[i % 3]
            paths.append(Path(tmp) / f"student{i:02d}_{args.notebook}.ipynb")
            nbformat.write(nb, str(paths[-1]))
        report = Path(tmp) / "grades.csv"
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "course_lib.grade", *map(str, paths), "--report", str(report),
                                 "--jobs", str(args.jobs), "--seed", str(args.seed), "--fresh"],
                                capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": tmp})
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:])
            return 1
        totals = [float(r["total"]) for r in csv.DictReader(report.with_suffix(".students.csv").open())]
    print(f"{args.submissions} submissions of {args.notebook}, --jobs {args.jobs}: {seconds:.0f} s "
          f"({seconds / args.submissions:.1f} s per submission, expected values included)")
    print(f"scores: {sorted(totals)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
