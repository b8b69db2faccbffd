"""MAML-RL meta-gradient estimators (issue 22): bias where the truth is known, variance on 2-D navigation
and HalfCheetahDir.

    python bench/estimators.py [--episodes 5 10 20 40] [--repeats 8] [--meta-batch 20] [--seed 0]
    python bench/estimators.py --env halfcheetah_dir --episodes 5 10 20 --meta-batch 10   # the cheetah's
    python bench/estimators.py --bias-only                # the tabular bias table only (seconds)

1. Bias, on the tabular MDP of course_lib.tasks.tabular (goal_mdp(horizon=3), α = 2, 2 pre- and 2
   post-update episodes per task): the exact meta-gradient ∇J (every trajectory enumerated), each
   estimator's exact expectation (every (task, D, D') enumerated), and its Monte-Carlo mean over n sampled
   draws with the standard error. Errors are ‖· − ∇J‖ / ‖∇J‖; "max |z|" is the largest
   |MC mean − ∇J| / s.e. over the 6 components (above ~4: the mean is not ∇J).
2. Variance, on navigation2d (or `--env halfcheetah_dir`) at the shipped MAML checkpoint: for N episodes per task, `repeats`
   independent meta-batches (fresh tasks and episodes, as in training; all estimators on the same
   batch). Per estimator: the mean cosine of a batch's meta-gradient to the mean of the other batches'
   (leave-one-out; 1 = every batch points the same way) and the relative variance
   Σ_j Var(g_j) / ‖mean g‖² (the trace of the covariance over the squared norm of the mean); and the
   mean norm of its meta-gradient over the paper's (how large the added terms are).
"""
from __future__ import annotations

import argparse
import time

import torch

from course_lib import checkpoints
from course_lib.rl.config import load_policy
from course_lib.rl.estimator_noise import estimator_gradients, leave_one_out_cosine
from course_lib.rl.estimators import ESTIMATORS, meta_surrogate
from course_lib.tasks import tabular as tb
from course_lib.validation import at_least

H, ALPHA, N_PRE, N_POST = 3, 2.0, 2, 2


def tabular_table(draws=(1_000, 10_000, 100_000), seed: int = 0) -> None:
    mdp = tb.goal_mdp(H)
    theta = tb.initial_logits(mdp, seed=0)
    exact = -tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE) / H          # in the estimators' units
    step = -tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE, through_sampling=False) / H
    norm = float(exact.norm())
    print(f"Tabular MDP: goal_mdp(horizon={H}), α = {ALPHA}, {N_PRE} pre- / {N_POST} post-update episodes per task")
    print(f"‖∇J‖ = {norm * H:.4f}; the pre-update score-function term is {float((exact - step).norm()) / norm:.1%} of it\n")
    head = "".join(f"{'n = ' + format(n, ','):>26}" for n in draws)
    print(f"{'estimator':10}{'exact E[·] error':>18}{head}")
    print(f"{'':10}{'':>18}" + "".join(f"{'error ± s.e.   max |z|':>26}" for _ in draws))
    g = torch.Generator().manual_seed(seed)
    samples = {n: tb.sample_meta_batch(theta, mdp, n, N_PRE, N_POST, ALPHA, generator=g) for n in draws}
    for e in ESTIMATORS:
        loss = lambda rows, pre, post, old: meta_surrogate(e, rows, tb.log_prob, pre, post, old, ALPHA)
        expected = tb.expected_estimate(loss, theta, mdp, ALPHA, N_PRE, N_POST)
        cells = ""
        for n, (rows, pre, post, old) in samples.items():
            d = torch.autograd.grad(loss(rows, pre, post, old).sum(), rows["logits"])[0]
            mean, se = d.mean(0), d.std(0) / n ** 0.5
            z = float(((mean - exact) / se).abs().max())
            cells += f"{float((mean - exact).norm()) / norm:>12.1%} ± {float(se.norm()) / norm:5.1%}{z:>8.1f}"
        print(f"{e:10}{float((expected - exact).norm()) / norm:>18.2%}{cells}")


def spread(G: torch.Tensor) -> tuple[float, float]:
    """(leave-one-out cosine, total variance relative to the squared norm of the mean)."""
    return leave_one_out_cosine(G), float(G.var(0).sum() / G.mean(0).norm() ** 2)


def variance_table(env: str, episodes, repeats: int, meta_batch: int, seed: int) -> None:
    policy, theta, config = load_policy(checkpoints.shipped(f"{env}_maml"))
    print(f"\n{env}, shipped MAML checkpoint: {repeats} meta-batches of {meta_batch} tasks per row "
          f"(seed {seed})\n")
    print(f"{'episodes/task':>13}" + "".join(f"{e + ': cos, rel. var':>24}" for e in ESTIMATORS)
          + f"{'cos(mean, paper mean)':>24}{'norm / paper norm':>20}{'s':>6}")
    for n in episodes:
        start = time.time()
        grads = estimator_gradients(policy, theta, config, n, repeats, meta_batch, seed)
        cells = "".join(f"{c:>14.2f}{v:>10.2f}" for c, v in (spread(grads[e]) for e in ESTIMATORS))
        mean = {e: g.mean(0) for e, g in grads.items()}
        to_paper = " ".join(f"{float(torch.nn.functional.cosine_similarity(mean[e], mean['paper'], dim=0)):.2f}"
                            for e in ("dice", "lvc"))
        size = {e: float(g.norm(dim=1).mean()) for e, g in grads.items()}
        norms = " ".join(f"{size[e] / size['paper']:.1f}" for e in ("dice", "lvc"))
        print(f"{n:>13}{cells}{to_paper:>24}{norms:>20}{time.time() - start:>6.0f}")
    print("(the last two columns: dice, lvc)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=at_least(1), nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--repeats", type=at_least(2), default=8)
    parser.add_argument("--meta-batch", type=at_least(1), default=20)
    parser.add_argument("--seed", type=at_least(0), default=0)
    parser.add_argument("--env", nargs="+", default=["navigation2d"], choices=("navigation2d", "halfcheetah_dir"),
                        help="where to measure the variance (its shipped MAML checkpoint)")
    parser.add_argument("--bias-only", action="store_true", help="the tabular bias table only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tabular_table(seed=args.seed)
    if not args.bias_only:
        for env in args.env:
            variance_table(env, args.episodes, args.repeats, args.meta_batch, args.seed)


if __name__ == "__main__":
    main()
