"""`python -m course_lib.grade`: grade a class, write the reports as it goes, resume after an interruption."""
from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import shutil
import sys
from pathlib import Path

from ..grading import SOLUTIONS
from ..validation import at_least
from . import DEFAULT_TIMEOUT, __doc__ as GRADE_DOC, grade_notebook
from .notebooks import load_notebook, load_references, match_reference, rebuild
from .reports import (atomic_write, exercises_csv, format_table, gradescope_json, load_previous, report_json,
                      students_csv)
from .run import Runner, stop_all
from .sandbox import Limits, detect


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade", description=GRADE_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", nargs="+", type=Path, help="student notebooks (.ipynb, or Jupytext .py)")
    parser.add_argument("--report", type=Path, help="per-exercise grades (.csv); also writes <report>.students.csv "
                                                    "(one row per student) and <report>.json (unless --json)")
    parser.add_argument("--json", type=Path, help="the JSON report (totals, written answers; a re-run resumes from it)")
    parser.add_argument("--gradescope", type=Path, metavar="RESULTS_JSON",
                        help="write Gradescope's autograder results.json (one submission)")
    parser.add_argument("--timeout", type=at_least(1, float), default=DEFAULT_TIMEOUT, help="per-cell timeout, seconds")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, help="the solution notebooks (solutions/)")
    parser.add_argument("--reference", help="grade every submission against this solution notebook (its name)")
    parser.add_argument("--jobs", type=at_least(1), default=1, help="submissions graded in parallel")
    parser.add_argument("--seed", type=at_least(0),
                        help="seed of the graded cells' inputs (default: drawn per class, kept when resuming)")
    parser.add_argument("--fresh", action="store_true", help="re-grade every submission, even if an earlier run did")
    parser.add_argument("--memory-mb", type=at_least(512), default=Limits.memory_mb, help="kernel address-space limit")
    parser.add_argument("--cpu-seconds", type=at_least(10), default=Limits.cpu_seconds, help="kernel CPU-time limit")
    parser.add_argument("--no-bwrap", action="store_true", help="do not use bubblewrap (the weaker fallback; for tests)")
    parser.add_argument("--rebuild-only", type=Path, metavar="DIR",
                        help="only write the rebuilt notebooks (official graded cells inserted) to DIR")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.submissions if not p.exists()]
    if missing:
        parser.error(f"no such submission file: {', '.join(missing)}")
    if args.gradescope and len(args.submissions) != 1:
        parser.error(f"--gradescope writes one submission's results.json; got {len(args.submissions)} submissions")
    if args.json is None and args.report is not None:
        args.json = args.report.with_suffix(".json")
    if args.report is not None and args.report.suffix != ".csv":
        parser.error(f"--report must name a .csv file, got {args.report}")
    for out in (args.report, args.json, args.gradescope):
        if out is not None and out.is_dir():
            parser.error(f"{out} is a folder; give a file name")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        references = load_references(args.solutions)
    except FileNotFoundError as err:
        print(f"python -m course_lib.grade: {err}", file=sys.stderr)
        return 2
    if args.reference and args.reference not in references:
        print(f"python -m course_lib.grade: --reference must be one of {sorted(references)}, got {args.reference!r}",
              file=sys.stderr)
        return 2

    if args.rebuild_only:
        import nbformat
        args.rebuild_only.mkdir(parents=True, exist_ok=True)
        for path in args.submissions:
            nb = load_notebook(path)
            name, _ = match_reference(path, nb, references, args.reference)
            rebuilt, roles = rebuild(nb, references[name].student)
            out = args.rebuild_only / f"{path.stem}.ipynb"
            nbformat.write(rebuilt, str(out))
            tests = ", ".join(f"Cell {i} = {r.exercise}" for i, r in enumerate(roles) if r.kind == "test")
            print(f"{out}  [{name}]  {tests}")
        return 0

    solutions = {name: ref.digest for name, ref in references.items()}
    previous = {} if args.fresh else load_previous(args.json)
    same_setup = previous.get("solutions") == solutions and (args.seed is None or args.seed == previous.get("seed"))
    seed = args.seed if args.seed is not None else (previous["seed"] if same_setup else secrets.randbelow(2**31))
    kept = {r.submission: r for r in previous.get("submissions", [])} if same_setup else {}

    sandbox = detect(args.no_bwrap)
    print(f"sandbox: {sandbox.kind}" + (f"\n{'!' * 100}\n{sandbox.warning}\n{'!' * 100}" if sandbox.warning else ""),
          flush=True)
    runner = Runner(seed, args.timeout, sandbox, Limits(args.memory_mb, args.cpu_seconds))
    order = [str(p) for p in args.submissions]
    done = {}
    for path in args.submissions:
        old = kept.get(str(path))
        if old is not None and old.digest and old.digest == _digest(path):
            done[str(path)] = old
            print(f"{path}: unchanged since the last run — kept ({old.score:g} / {old.max_auto:g})", flush=True)
    todo = [p for p in args.submissions if str(p) not in done]

    def write(complete: bool) -> None:
        reports = [done[p] for p in order if p in done]
        if args.report:
            atomic_write(args.report, exercises_csv(reports))
            atomic_write(args.report.with_suffix(".students.csv"), students_csv(reports, complete))
        if args.json:
            atomic_write(args.json, report_json(reports, seed, sandbox.kind, complete, solutions))
        if args.gradescope and reports:
            atomic_write(args.gradescope, gradescope_json(reports[0], sandbox.kind))

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    futures = {pool.submit(grade_notebook, path, references, runner, args.reference): str(path) for path in todo}
    try:
        return _collect(futures, pool, done, order, write, args, seed, sandbox)
    finally:
        shutil.rmtree(runner.root, ignore_errors=True)


def _collect(futures, pool, done, order, write, args, seed, sandbox) -> int:
    """Print and write each report as it comes; on Ctrl-C stop the runs, keep what was graded."""
    try:
        for future in concurrent.futures.as_completed(futures):
            report = future.result()
            done[futures[future]] = report
            print(format_table(report) + "\n", flush=True)
            write(complete=len(done) == len(order))
    except KeyboardInterrupt:
        stop_all()
        pool.shutdown(wait=False, cancel_futures=True)
        write(complete=False)
        print(f"\ninterrupted: {len(done)} of {len(order)} submissions graded and written"
              f"{' to ' + str(args.report or args.json) if (args.report or args.json) else ''} (marked incomplete); "
              "run the same command again to grade the rest", file=sys.stderr, flush=True)
        return 130
    pool.shutdown()
    write(complete=True)
    for out in (args.report, args.json, args.gradescope):
        if out:
            print(f"wrote {out}")
    total = sum(r.score for r in done.values())
    print(f"graded {len(done)} submission(s); mean score {total / max(len(done), 1):.1f}; seed {seed}; "
          f"sandbox {sandbox.kind}")
    return 0


def _digest(path: Path) -> str:
    from .notebooks import file_digest
    try:
        return file_digest(path)
    except OSError:
        return ""
