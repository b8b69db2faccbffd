"""Few-shot character classification: the accuracy table, and what second order costs.

    python bench/fewshot.py --table [--tasks 600] [--seed 1234] [--only fewshot_maml ...]
    python bench/fewshot.py --cost [--meta-batch 8] [--filters 64] [--repeats 5]
    python bench/fewshot.py --speed [--meta-batch 32] [--filters 64] [--repeats 5]

--table: every shipped `course_lib/checkpoints/fewshot_*.pt` at the settings it was trained for (its N-way,
K-shot, K query drawings, α and test steps) — a pretrained one also at the N-way K-shot of every shipped
meta-learned checkpoint on its split, so a baseline stands beside each — on the same held-out tasks (N-way K-shot episodes from the
held-out characters, seed `--seed`): accuracy %, mean ± 95% CI (1.96 σ/√n). The MAML paper's Omniglot
numbers stand beside them — another data set: ours are the generated Hershey characters.

--cost: one meta-iteration (meta-gradient and Adam step, course_lib.fewshot.train.meta_step) of MAML,
FOMAML and Reptile at 1, 3 and 5 inner steps on one 5-way 1-shot meta-batch, and the fix that keeps
second order only for the last inner step (`second_order_steps=1`, FOMAML's cost for the early steps).
Each setting runs in a fresh interpreter, so its numbers are its own. Memory is measured two ways:
- peak RSS: the process's high-water mark (resource.getrusage ru_maxrss) after the iterations minus the
  one before the first (setup done). tracemalloc does not see torch's tensor memory, and torch has no
  CPU allocator statistics; RSS does see it (plus allocator slack), so it is an upper bound;
- saved for backward: the peak bytes of the distinct tensors autograd holds for backward at once
  (counted through torch.autograd.graph.saved_tensors_hooks) — exact and deterministic: the part of
  memory that second order multiplies, since MAML keeps every inner step's graph until the outer pass.
Time: median over `--repeats` iterations after one warm-up, one torch thread.

--speed: one second-order MAML meta-iteration at the paper's 5-way 1-shot sizes (meta-batch 32, 64 filters,
α = 0.4; 1 and 5 inner steps), ours (the tasks under vmap, meta_step) against a plain per-task Python loop
over the same net and params dict (`per_task_objective`) and, when it is installed, `higher`'s MAML on the
same nn.Module; each on its own copy of the same θ and batch, timed in alternation in a fresh interpreter per
number of steps (after a warm-up each); the ratio to ours, and how far each meta-gradient is from ours
(tests/test_fewshot.py checks the loop's and higher's equal ours in float64).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checkpoints import SHIPPED, load_checkpoint
from course_lib.fewshot.config import FewShotConfig, default_config
from course_lib.fewshot.evaluate import PAPER_OMNIGLOT, PAPER_OMNIGLOT_FIRST_ORDER, evaluate_checkpoint
from course_lib.memory import saved_for_backward
from course_lib.validation import at_least

ORDER = ["maml", "fomaml", "reptile", "cavia", "pretrain"]
COST_SETTINGS = [(algo, steps, None) for algo in ("maml", "fomaml", "reptile") for steps in (1, 3, 5)
                 if not (algo == "reptile" and steps == 1)] + [("maml", 3, 1), ("maml", 5, 1)]


def shipped_fewshot() -> list[Path]:
    found = sorted(SHIPPED.glob("fewshot_*.pt"))
    rank = lambda p: next((i for i, a in enumerate(ORDER) if p.stem.startswith(f"fewshot_{a}")), len(ORDER))
    return sorted(found, key=lambda p: (rank(p), p.stem))


def settings(config: FewShotConfig, shipped: list[FewShotConfig]) -> list[tuple[int, int]]:
    """(N, K) to score a checkpoint at: a meta-learned one at its own; a pretrained one also at every
    setting of a shipped meta-learned checkpoint on the same split, so a baseline stands beside each."""
    own = {(config.n_way, config.k_shot)}
    if config.algo == "pretrain":
        own |= {(c.n_way, c.k_shot) for c in shipped if c.algo != "pretrain" and c.split_by == config.split_by}
    return sorted(own)


def table(n_tasks: int, seed: int, only: list[str] | None = None) -> None:
    paths = shipped_fewshot()
    if only:
        unknown = sorted(set(only) - {p.stem for p in paths})
        if unknown:
            raise SystemExit(f"--only: no shipped checkpoint named {unknown}; shipped: {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in only]
    if not paths:
        print("no few-shot checkpoint shipped yet (course_lib/checkpoints/fewshot_*.pt)")
        return
    print(f"Few-shot classification, {n_tasks} held-out tasks (seed {seed}) per row, from the characters its "
          "checkpoint never saw (held out: characters across all alphabets, or whole alphabets): "
          "accuracy %, mean ± 95% CI\n")
    head = ("checkpoint", "row", "task", "held out", "K query", "α × steps", "accuracy (ours)",
            "MAML paper, Omniglot (ours: generated Hershey characters)", "filters", "iters", "train time")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    configs = {path: FewShotConfig(**load_checkpoint(path)["config"]) for path in shipped_fewshot()}
    for path in paths:
        ckpt = load_checkpoint(path)
        c = configs[path]
        for n_way, k_shot in settings(c, configs.values()):
            rows = evaluate_checkpoint(path, n_tasks, seed, **({} if c.algo != "pretrain" else
                                                              {"n_way": n_way, "k_shot": k_shot}))
            for row, summary in rows.items():
                paper = {"maml": PAPER_OMNIGLOT, "fomaml": PAPER_OMNIGLOT_FIRST_ORDER}.get(row, {}).get((n_way, k_shot))
                paper = f"{paper[0]} ± {paper[1]} ({'first order' if row == 'fomaml' else 'MAML'})" if paper else "—"
                steps = "—" if row.endswith("prototype") else f"{c.alpha:g} × {c.test_steps}"
                print(f"| {path.stem} | {row} | {n_way}-way {k_shot}-shot | {c.split_by}s | {c.k_query} | {steps} | "
                      f"{summary.mean:.1f} ± {summary.ci95:.1f} | {paper} | {c.filters} | "
                      f"{ckpt['iteration']} | {ckpt['wall_time'] / 60:.1f} min |", flush=True)
    print("\nPaper: MAML paper Table 1 (Omniglot; ours: generated Hershey characters — another data set, so "
          "the columns are not a like-for-like comparison). Chance: 1/N. Train time: wall clock on a shared "
          "2-core machine.")


# ------------------------------------------------------------------ cost
def cost_one(algo: str, steps: int, second_order_steps, meta_batch: int, filters: int, repeats: int) -> dict:
    """One setting, in this (fresh) process: time per meta-iteration, peak RSS growth, saved bytes."""
    from course_lib.fewshot.train import meta_step      # the trainer's own meta-iteration

    extra = dict(second_order_steps=second_order_steps) if second_order_steps else {}
    config = default_config(algo, steps=steps, meta_batch=meta_batch, filters=filters, **extra)
    _, theta, batch = one_batch(config)
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = median_time(lambda: meta_step(config, theta, batch), optimizer, repeats)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(time_s=seconds, peak_rss_mb=(rss1 - rss0) / 1024,
                saved_mb=saved_bytes(config, theta, batch) / 2 ** 20)


def one_batch(config: FewShotConfig):
    """(model, θ, one meta-batch) from seed 0: the same in every fresh interpreter."""
    from course_lib.fewshot.config import build_model, distribution, sample_batch
    from course_lib.functional import parameters_of

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = ((rng.random((50, 20, 28, 28)) < 0.2) * 255).astype(np.uint8)      # content does not matter here
    model = build_model(config)
    return model, parameters_of(model), sample_batch(model, distribution(config, images), config.meta_batch, rng)


def median_time(gradient, optimizer, repeats: int) -> float:
    """Median seconds of zero_grad + `gradient()` + Adam step over `repeats` iterations after one warm-up."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        gradient()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def saved_bytes(config, theta, batch) -> int:
    """Peak bytes autograd holds for backward during one meta-iteration (course_lib.memory)."""
    from course_lib.fewshot.train import meta_step

    peak = saved_for_backward(lambda: meta_step(config, theta, batch))
    for p in theta.values():
        p.grad = None
    return peak


def cost(meta_batch: int, filters: int, repeats: int) -> None:
    print(f"Cost of one meta-iteration: 5-way 1-shot, 5 query drawings per class, meta-batch {meta_batch}, "
          f"{filters} filters, one torch thread, a fresh interpreter per row (median of {repeats})\n")
    head = ("algorithm", "inner steps", "time / iteration", "peak RSS growth", "saved for backward")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    for algo, steps, sos in COST_SETTINGS:
        r = fresh("--cost-one", [algo, steps, sos, meta_batch, filters, repeats])
        name = f"MAML, 2nd order last {sos} step only" if sos else {"maml": "MAML", "fomaml": "FOMAML",
                                                                      "reptile": "Reptile"}[algo]
        print(f"| {name} | {steps} | {r['time_s'] * 1000:.0f} ms | {r['peak_rss_mb']:.0f} MB | "
              f"{r['saved_mb']:.0f} MB |", flush=True)
    print("\nThe fix: `--second-order-steps 1` (FewShotConfig.second_order_steps) differentiates only the last "
          "inner step to second order; the earlier steps are first order and their graphs are freed as soon "
          "as their gradient is taken.")


def fresh(flag: str, spec: list) -> dict:
    """Run this script's `flag` mode on `spec` in a fresh interpreter; its last printed line, as JSON."""
    out = subprocess.run([sys.executable, __file__, flag, json.dumps(spec)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    if out.returncode:
        raise RuntimeError(f"{flag} {spec} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ speed
SPEED_STEPS = (1, 5)
SPEED_ROWS = {"ours": "ours: the tasks under vmap (meta_step)",
              "loop": "plain per-task loop (same net, inner_update per task)",
              "higher": "higher: innerloop_ctx per task (its MAML example)"}


def per_task_objective(batch, theta, alpha, steps: int) -> torch.Tensor:
    """MAML's objective (second order) with the tasks in a Python loop: each task adapted alone by
    inner_update on its support loss through the same functional forward, the query losses added; divided
    by the number of tasks, as meta_step's vmapped objective (mean over the meta-batch)."""
    from course_lib.functional import forward
    from course_lib.inner import inner_update

    loss = lambda p, x, y: F.cross_entropy(forward(batch.model, p, x), y)
    total = 0
    for x_s, y_s, x_q, y_q in zip(batch.x_support, batch.y_support, batch.x_query, batch.y_query):
        adapted = inner_update(theta, lambda p: loss(p, x_s, y_s), alpha, steps)
        total = total + loss(adapted, x_q, y_q)
    return total / batch.n_tasks


def higher_meta_gradient(batch, alpha, steps: int) -> None:
    """MAML through `higher` on the nn.Module itself (batch.model), as higher's examples/maml-omniglot.py:
    per task a differentiable SGD inner loop at α (second order), the query loss backward at once; the
    meta-gradient (mean over tasks) lands in .grad of the module's parameters."""
    import higher

    inner = torch.optim.SGD(batch.model.parameters(), lr=alpha)
    for x_s, y_s, x_q, y_q in zip(batch.x_support, batch.y_support, batch.x_query, batch.y_query):
        with higher.innerloop_ctx(batch.model, inner, copy_initial_weights=False) as (fmodel, diffopt):
            for _ in range(steps):
                diffopt.step(F.cross_entropy(fmodel(x_s), y_s))
            (F.cross_entropy(fmodel(x_q), y_q) / batch.n_tasks).backward()


def speed_one(steps: int, meta_batch: int, filters: int, repeats: int, impls: list[str]) -> dict:
    """Every implementation in this (fresh) process, each on its own copy of the same θ and the same batch:
    one warm-up iteration each (their meta-gradients, all at θ's initial value, compared with ours), then
    `repeats` rounds that time one meta-iteration (meta-gradient + Adam step) of each, in rotating order,
    so a change of load on a shared machine hits every implementation alike. Medians, and the median of
    the per-round ratios to ours."""
    from course_lib.fewshot.train import meta_step
    from course_lib.functional import detached

    config = default_config("maml", steps=steps, meta_batch=meta_batch, filters=filters)
    model, theta, batch = one_batch(config)
    params, gradient = {}, {}
    for impl in impls:
        if impl == "higher":                        # the nn.Module's own weights: the same initial values
            params[impl] = dict(model.named_parameters())
            gradient[impl] = lambda: higher_meta_gradient(batch, config.alpha, steps)
        else:
            params[impl] = th = detached(theta, requires_grad=True)
            gradient[impl] = ((lambda th=th: per_task_objective(batch, th, config.alpha, steps).backward())
                              if impl == "loop" else (lambda th=th: meta_step(config, th, batch)))
    optimizer = {i: torch.optim.Adam(list(params[i].values()), lr=config.meta_lr) for i in impls}

    def iteration(impl: str) -> float:
        start = time.perf_counter()
        optimizer[impl].zero_grad(set_to_none=True)
        gradient[impl]()
        optimizer[impl].step()
        return time.perf_counter() - start

    grads = {}
    for impl in impls:                              # warm-up
        optimizer[impl].zero_grad(set_to_none=True)
        gradient[impl]()
        grads[impl] = {k: v.grad.clone() for k, v in params[impl].items()}
        optimizer[impl].step()
    times = {impl: [] for impl in impls}
    for r in range(repeats):
        for impl in impls[r % len(impls):] + impls[:r % len(impls)]:
            times[impl].append(iteration(impl))
    return dict(ms={i: 1000 * statistics.median(t) for i, t in times.items()},
                ratio={i: statistics.median(a / b for a, b in zip(t, times["ours"])) for i, t in times.items()},
                gap={i: max(float((grads[i][k] - g).abs().max()) for k, g in grads["ours"].items()) for i in impls},
                scale=max(float(g.abs().max()) for g in grads["ours"].values()))


def speed(meta_batch: int, filters: int, repeats: int) -> None:
    try:
        import higher  # noqa: F401
        missing = None
    except ImportError as err:
        missing = f"higher: row skipped, not importable ({err}); `pip install --no-deps higher` adds it"
    impls = [i for i in SPEED_ROWS if not (i == "higher" and missing)]
    print(f"One MAML meta-iteration (second order, meta-gradient + Adam step): 5-way 1-shot, 5 query drawings "
          f"per class, meta-batch {meta_batch}, {filters} filters, α = 0.4; each implementation on its own copy "
          f"of the same θ and batch, one torch thread, a fresh interpreter per number of inner steps, a "
          f"warm-up each, then {repeats} rounds in rotating order: median ms, median of the per-round ratios\n")
    head = ("implementation", "inner steps", "ms / meta-iteration", "ratio to ours (time ÷ ours)")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    agreement = []
    for steps in SPEED_STEPS:
        r = fresh("--speed-one", [steps, meta_batch, filters, repeats, impls])
        for impl in impls:
            print(f"| {SPEED_ROWS[impl]} | {steps} | {r['ms'][impl]:.0f} | {r['ratio'][impl]:.2f} |", flush=True)
        agreement.append(f"{steps} step{'s' * (steps > 1)}: " + ", ".join(
            f"max |{i} − ours| = {r['gap'][i]:.1e}" for i in impls[1:]) + f" (max |ours| = {r['scale']:.1e})")
    print("\nMeta-gradients of the warm-up iteration (same θ, same batch), float32: " + "; ".join(agreement)
          + ". These are float32 rounding, amplified by how sensitive this random problem is to the adapted "
          "weights; tests/test_fewshot.py checks the loop and higher against meta_step in float64.")
    if missing:
        print(missing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", action="store_true", help="accuracy of every shipped checkpoint")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="--table for these checkpoints only (e.g. fewshot_maml)")
    parser.add_argument("--cost", action="store_true", help="time and memory per meta-iteration")
    parser.add_argument("--tasks", type=at_least(2), default=600, help="held-out tasks (--table)")
    parser.add_argument("--seed", type=at_least(0), default=1234, help="seed of the held-out tasks (--table)")
    parser.add_argument("--meta-batch", type=at_least(1),
                        help="tasks per meta-batch (default: 8 for --cost, the paper's 32 for --speed)")
    parser.add_argument("--filters", type=at_least(1), default=64, help="conv width (--cost, --speed; the paper's 64)")
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed iterations per setting (--cost, --speed)")
    parser.add_argument("--speed", action="store_true", help="ours against a per-task loop and higher (if installed)")
    parser.add_argument("--cost-one", help=argparse.SUPPRESS)
    parser.add_argument("--speed-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.cost_one:
        print(json.dumps(cost_one(*json.loads(args.cost_one))))
        return
    if args.speed_one:
        print(json.dumps(speed_one(*json.loads(args.speed_one))))
        return
    if not (args.table or args.cost or args.speed):
        parser.error("pass --table, --cost and/or --speed")
    if args.table:
        table(args.tasks, args.seed, args.only)
    if args.cost:
        print() if args.table else None
        cost(args.meta_batch or 8, args.filters, args.repeats)
    if args.speed:
        print() if args.table or args.cost else None
        speed(args.meta_batch or 32, args.filters, args.repeats)


if __name__ == "__main__":
    main()
