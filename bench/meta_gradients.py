"""How large MAML's second-order term is, and how consistently it points, across meta-batches.

    python bench/meta_gradients.py --env halfcheetah_dir [--checkpoint PATH] [--batches 4] [--seed 0]

At a checkpoint (default: the shipped MAML one), sample B independent meta-batches at the training
sizes; on each, the meta-gradient of the same post-update surrogate with the inner step's Jacobian
(MAML) and without it (FOMAML). Their difference is the second-order term, −α ∇²L_support · g.
Printed: the norms; the cosine of MAML and FOMAML on the same batch; and each part's mean cosine
between batches — near 1 means every batch points the same way, near 0 means the part is mostly
sampling noise.
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from course_lib import checkpoints
from course_lib.meta import CONTEXT
from course_lib.rl.envs import ENVS, make_batched_env
from course_lib.rl.config import load_policy
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch
from course_lib.rl.trpo import flat
from course_lib.validation import at_least


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def meta_gradients(path, batches: int, seed: int) -> dict[str, list[torch.Tensor]]:
    policy, theta, config = load_policy(path)
    theta = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    params = [theta[k] for k in theta if k != CONTEXT]
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    grads = {"maml": [], "fomaml": []}
    for _ in range(batches):
        tasks = ENVS[config.env].distribution.sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, tasks, config.episodes, normalize_actions=config.normalize_actions)
        batch = sample_meta_batch(policy, theta, env, config, generator)
        for name in grads:
            loss = meta_loss_and_kl(theta, batch, config, first_order=name == "fomaml")[0]
            grads[name].append(flat(torch.autograd.grad(loss, params)))
    grads["second-order term"] = [m - f for m, f in zip(grads["maml"], grads["fomaml"])]
    return grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="halfcheetah_dir", choices=tuple(ENVS))
    parser.add_argument("--checkpoint", help="a MAML checkpoint (default: the shipped <env>_maml)")
    parser.add_argument("--batches", type=at_least(2), default=4)
    parser.add_argument("--seed", type=at_least(0), default=0)
    args = parser.parse_args()
    if args.batches < 2:
        parser.error(f"--batches must be an integer in [2, inf), got {args.batches}")
    torch.set_num_threads(1)
    path = args.checkpoint or checkpoints.shipped(f"{args.env}_maml")
    grads = meta_gradients(path, args.batches, args.seed)
    print(f"{path}: {args.batches} meta-batches (seed {args.seed})\n")
    print(f"{'':18} {'norm per batch':>34}   mean cosine between batches")
    for name, gs in grads.items():
        norms = ", ".join(f"{float(g.norm()):.3f}" for g in gs)
        between = np.mean([cosine(a, b) for a, b in itertools.combinations(gs, 2)])
        print(f"{name:18} {norms:>34}   {between:6.2f}")
    same = ", ".join(f"{cosine(m, f):.2f}" for m, f in zip(grads["maml"], grads["fomaml"]))
    print(f"\ncosine of MAML and FOMAML on the same batch: {same}")


if __name__ == "__main__":
    main()
