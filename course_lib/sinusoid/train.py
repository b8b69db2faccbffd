"""Meta-training on sinusoid regression: every algorithm, one loop, resumable, seeded.

    python -m course_lib train sinusoid --algo maml --iterations 30000 --seed 0

Each iteration samples a meta-batch of tasks (K support + K query points each), forms the
algorithm's meta-gradient and takes an Adam step on θ. Checkpoints (atomic, course_lib.runs) hold θ,
the optimizer, both RNG states and the history, so an interrupted run resumes to identical numbers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..functional import Params, detached, parameters_of
from ..meta import init_alpha, meta_objective, reptile_direction, shared
from ..runs import Run
from .config import SinusoidConfig, build_model, model_spec, sample_batch


def method_of(config: SinusoidConfig) -> str:
    return {"cavia": "cavia", "fomaml": "fomaml", "reptile": "reptile"}.get(config.algo, "maml")


def meta_step(config: SinusoidConfig, theta: Params, alpha, batch) -> float:
    """Write the meta-gradient into .grad of θ (and of α for Meta-SGD); return the meta-loss."""
    if config.algo == "reptile":
        direction = reptile_direction(theta, batch, alpha, config.steps)
        for k, g in direction.items():
            theta[k].grad = g
        return float(sum(g.pow(2).sum() for g in direction.values()).sqrt())  # |θ − φ|, for the log
    loss = meta_objective(theta, batch, alpha, config.steps, method_of(config), config.context_dim)
    loss.backward()
    return float(loss.detach())


def trainable(config, theta: Params, alpha) -> list[torch.Tensor]:
    """What Adam updates: θ without the context, and Meta-SGD's per-parameter α."""
    return list(shared(theta).values()) + (list(alpha.values()) if isinstance(alpha, dict) else [])


def train_sinusoid(config: SinusoidConfig, out: str | Path | None = None, resume: bool = False,
                   progress: bool = True, command: str | None = None) -> dict:
    """Meta-train and return the final checkpoint dict (also written to `out` if given)."""
    torch.manual_seed(config.seed)
    model = build_model(config)
    theta = parameters_of(model)
    alpha = init_alpha(shared(theta), config.alpha) if config.algo == "metasgd" else config.alpha
    optimizer = torch.optim.Adam(trainable(config, theta, alpha), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    val_batch = sample_batch(config, model, np.random.default_rng(10_000 + config.seed), config.val_tasks)
    run = Run(config, out, resume, progress, f"sinusoid {config.algo}", command)
    if run.resumed:
        _restore(run.resumed, theta, alpha, optimizer, rng)

    def save() -> dict:
        return run.save(model=model_spec(model), theta=detached(theta),
                        alpha=detached(alpha) if isinstance(alpha, dict) else alpha,
                        optimizer=optimizer.state_dict(),
                        rng=dict(numpy=rng.bit_generator.state, torch=torch.get_rng_state()))

    for it in run.iterations():
        batch = sample_batch(config, model, rng)
        optimizer.zero_grad(set_to_none=True)
        meta_loss = meta_step(config, theta, alpha, batch)
        grads_finite = all(p.grad is None or torch.isfinite(p.grad).all() for p in trainable(config, theta, alpha))
        if not (np.isfinite(meta_loss) and grads_finite):
            raise run.diverged(it, meta_loss)
        optimizer.step()
        run.done(it)
        if run.due():
            val = validation_loss(config, theta, alpha, val_batch)
            run.log(dict(iteration=it + 1, train_meta_loss=meta_loss, val_loss=val), val_loss=f"{val:.3f}")
            save()
    run.close()
    return save()


def validation_loss(config: SinusoidConfig, theta: Params, alpha, batch) -> float:
    """Mean query MSE after the algorithm's own adaptation (Reptile: one step) on fixed held-out tasks."""
    method = method_of(config)
    steps = 1 if method == "reptile" else config.steps
    loss = meta_objective(theta, batch, alpha, steps, "fomaml" if method == "reptile" else method,
                          config.context_dim)
    return float(loss.detach())


def _restore(ckpt: dict, theta: Params, alpha, optimizer, rng) -> None:
    with torch.no_grad():
        for k, v in ckpt["theta"].items():
            theta[k].copy_(v)
        if isinstance(alpha, dict):
            for k, v in ckpt["alpha"].items():
                alpha[k].copy_(v)
    optimizer.load_state_dict(ckpt["optimizer"])
    rng.bit_generator.state = ckpt["rng"]["numpy"]
    torch.set_rng_state(ckpt["rng"]["torch"])


