"""Meta-training on few-shot character classification: MAML, FOMAML, Reptile, CAVIA and the pretrained
baseline, one loop, resumable, seeded.

    python -m course_lib.fewshot.train --algo maml --filters 32 --meta-batch 16 --iterations 6000 \
        --out course_lib/checkpoints/fewshot_maml_5w1s.pt [--resume]

Each iteration samples a meta-batch of N-way K-shot episodes from the meta-training characters, adapts
every task at once (params with a leading task dimension, the network under vmap) through the one
`inner_update`, and takes an Adam step on θ with the algorithm's meta-gradient of the query
cross-entropy. `pretrain` is ordinary supervised training: batches of drawings of all training classes
(characters × 4 turns) through a wide head, cross-entropy, Adam — fine-tuned on each task at test.
Bookkeeping (resume, progress, divergence guard, history, atomic save with the command line) is
course_lib.runs.Run's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..functional import Params, batched, detached, parameters_of
from ..inner import inner_update
from ..meta import meta_objective, reptile_direction, shared
from ..runs import Run, command_line
from ..validation import at_least
from .config import ALGOS, FewShotConfig, build_model, default_config, distribution, n_classes, sample_batch, splits
from .evaluate import meta_accuracy, prototype_accuracy
from .model import ClassificationBatch, model_spec


def maml_objective_partial(theta: Params, tasks, alpha, steps: int, second_order_steps: int) -> torch.Tensor:
    """MAML's objective with only the last `second_order_steps` inner steps differentiated to second order.

    The earlier steps are first order (their gradients are detached, so their graphs are freed at once):
    the meta-gradient keeps the Hessian term of the last steps only. Memory then grows with
    `second_order_steps`, not with `steps` (bench/fewshot.py --cost shows it).
    """
    params = batched(theta, tasks.n_tasks)
    loss = lambda p: tasks.support_loss(p).sum()
    early = steps - second_order_steps
    if early:
        params = inner_update(params, loss, alpha, early, first_order=True)
    params = inner_update(params, loss, alpha, second_order_steps, first_order=False)
    return tasks.query_loss(params).mean()


def meta_step(config: FewShotConfig, theta: Params, batch: ClassificationBatch) -> float:
    """Write the meta-gradient into .grad of θ; return the meta-loss (Reptile: |θ − φ|)."""
    if config.algo == "reptile":
        direction = reptile_direction(theta, batch.whole(), config.alpha, config.steps)
        for k, g in direction.items():
            theta[k].grad = g
        return float(sum(g.pow(2).sum() for g in direction.values()).sqrt())
    if config.algo == "maml" and config.second_order_steps not in (None, config.steps):
        loss = maml_objective_partial(theta, batch, config.alpha, config.steps, config.second_order_steps)
    else:
        loss = meta_objective(theta, batch, config.alpha, config.steps, config.algo, config.context_dim or None)
    loss.backward()
    return float(loss.detach())


def pretrain_step(config: FewShotConfig, model, theta: Params, images: np.ndarray, rng) -> float:
    """One supervised step on a batch of all-class drawings: class = character × 4 + quarter turns."""
    n = config.meta_batch * config.n_way * (config.k_shot + config.k_query)   # as many drawings as a meta-batch
    chars, drawers = images.shape[:2]
    label = rng.integers(0, chars * 4, n)
    x = images[label // 4, rng.integers(0, drawers, n)]
    x = np.stack([np.rot90(img, t) for img, t in zip(x, label % 4)]).astype(np.float32) / 255.0
    logits = torch.func.functional_call(model, theta, (torch.from_numpy(x).unsqueeze(1),))
    loss = F.cross_entropy(logits, torch.from_numpy(label))
    loss.backward()
    return float(loss.detach())


def train_fewshot(config: FewShotConfig, out: str | Path | None = None, resume: bool = False,
                  progress: bool = True, command: str | None = None, cache_dir=None) -> dict:
    """Meta-train (or pretrain) and return the final checkpoint dict (also written to `out` if given)."""
    torch.manual_seed(config.seed)
    train_chars, test_chars = splits(config, cache_dir)
    model = build_model(config, n_classes(train_chars) if config.algo == "pretrain" else None)
    theta = parameters_of(model)
    optimizer = torch.optim.Adam(list(shared(theta).values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    dist = distribution(config, train_chars)
    val_episodes = distribution(config, test_chars).sample_batch(config.val_tasks,
                                                                 np.random.default_rng(10_000 + config.seed))
    run = Run(config, out, resume, progress, f"fewshot {config.algo}", command)
    if run.resumed:
        _restore(run.resumed, theta, optimizer, rng)

    def save() -> dict:
        return run.save(model=model_spec(model), theta=detached(theta), optimizer=optimizer.state_dict(),
                        rng=dict(numpy=rng.bit_generator.state, torch=torch.get_rng_state()))

    for it in run.iterations():
        optimizer.zero_grad(set_to_none=True)
        if config.algo == "pretrain":
            loss = pretrain_step(config, model, theta, train_chars.images, rng)
        else:
            loss = meta_step(config, theta, sample_batch(model, dist, config.meta_batch, rng))
        grads_finite = all(p.grad is None or torch.isfinite(p.grad).all() for p in shared(theta).values())
        if not (np.isfinite(loss) and grads_finite):
            raise run.diverged(it, loss)
        optimizer.step()
        run.done(it, loss=f"{loss:.3f}")
        if run.due():
            val = validation_accuracy(config, model, theta, val_episodes)
            run.log(dict(iteration=it + 1, train_loss=loss, val_accuracy=val), loss=f"{loss:.3f}",
                    val_acc=f"{val:.1f}%")
            save()
    run.close()
    return save()


def validation_accuracy(config: FewShotConfig, model, theta: Params, episodes) -> float:
    """Mean query accuracy (%) on the fixed held-out episodes after test_steps (pretrain: prototypes)."""
    if config.algo == "pretrain":
        return float(100 * prototype_accuracy(model, theta, episodes).mean())
    return float(100 * meta_accuracy(model, theta, config, episodes)[-1].mean())


def _restore(ckpt: dict, theta: Params, optimizer, rng) -> None:
    with torch.no_grad():
        for k, v in ckpt["theta"].items():
            theta[k].copy_(v)
    optimizer.load_state_dict(ckpt["optimizer"])
    rng.bit_generator.state = ckpt["rng"]["numpy"]
    torch.set_rng_state(ckpt["rng"]["torch"])


# ------------------------------------------------------------------ command line
OPTIONS = ("n_way", "k_shot", "k_query", "alpha", "steps", "test_steps", "second_order_steps", "meta_batch",
           "meta_lr", "iterations", "filters", "context_dim", "seed", "checkpoint_every", "val_tasks",
           "data_seed", "alphabets", "characters_per_alphabet", "data_dir", "split_by", "split_seed")


PROG = "python -m course_lib.fewshot.train"


def main(argv=None, prog: str = PROG) -> int:
    """The command line; `prog` is how it was invoked (saved in the checkpoint with the arguments), so a
    `python -m course_lib train fewshot ...` subcommand can hand its remaining arguments here."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=ALGOS, default="maml")
    for name in ("n_way", "k_shot", "k_query", "meta_batch", "filters", "context_dim", "second_order_steps",
                 "alphabets", "characters_per_alphabet"):
        parser.add_argument("--" + name.replace("_", "-"), type=at_least(2 if name == "n_way" else 1))
    for name in ("steps", "test_steps", "iterations", "seed", "data_seed", "split_seed"):
        parser.add_argument("--" + name.replace("_", "-"), type=at_least(0))
    parser.add_argument("--checkpoint-every", type=at_least(1))
    parser.add_argument("--val-tasks", type=at_least(2))
    parser.add_argument("--alpha", type=at_least(1e-12, float), help="inner-loop step size α")
    parser.add_argument("--meta-lr", type=at_least(1e-12, float), help="Adam learning rate of the outer loop")
    parser.add_argument("--data-dir", help="a local Omniglot copy (images_background / images_evaluation)")
    parser.add_argument("--split-by", choices=("character", "alphabet"))
    parser.add_argument("--out", type=Path, help="checkpoint path (default runs/fewshot_<algo>.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    parser.add_argument("--threads", type=at_least(1), default=1, help="torch threads (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; give a checkpoint file name such as {args.out / 'model.pt'}")
    torch.set_num_threads(args.threads)
    overrides = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    out = args.out or Path("runs") / f"fewshot_{args.algo}.pt"
    command = command_line(prog, sys.argv[1:] if argv is None else list(argv), out)
    try:
        ckpt = train_fewshot(default_config(args.algo, **overrides), out=out, resume=args.resume,
                             progress=not args.quiet, command=command)
    except ValueError as err:
        parser.error(str(err))
    last = ckpt["history"][-1] if ckpt["history"] else {}
    shown = f", val_accuracy {last['val_accuracy']:.1f}%" if "val_accuracy" in last else ""
    print(f"saved {out}: iteration {ckpt['iteration']}, wall time {ckpt['wall_time']:.1f} s{shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
