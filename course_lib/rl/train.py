"""Meta-RL training: MAML-TRPO (and FOMAML, CAVIA, Reptile, baselines) on batched task environments.

    python -m course_lib train navigation2d --algo maml --iterations 120 --seed 0   # the shipped checkpoint

One iteration (MAML paper, Algorithm 3): sample T tasks; roll out N episodes per task with θ;
adapt θ'_i = θ − α ∇L_i^REINFORCE(θ) (cheaply, no graph); roll out N episodes with θ'_i; then the
learner recomputes θ'_i(θ) *with* the graph and takes a TRPO (or Adam) step on the surrogate of the
post-update episodes — or, with meta_optimizer="promp", several Adam steps on ProMP's clipped objective
(promp.py). Settings and the loader are in config.py; checkpoints (course_lib.runs) hold θ, the
optimizer (ProMP: with its KL coefficient), the RNG states and the history: resumable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.profiler import record_function

from ..functional import Params, batched, detached, parameters_of
from ..inner import inner_update
from ..meta import shared
from ..runs import Run
from .config import RLConfig, adapted, build_policy, initial_params
from .curvature import meta_kl_curvature
from .envs import ENVS, check_sampler, make_batched_env
from .episodes import sample_episodes
from .estimators import meta_surrogate, score_weight
from .losses import log_prob, reinforce_loss
from .promp import ProMP
from .tasks import PolicyTaskBatch, SamplingPolicy, with_advantages
from .trpo import trpo_step


def sample_meta_batch(policy, theta: Params, env, config: RLConfig, generator) -> PolicyTaskBatch:
    """Pre-update episodes with θ, one cheap (first-order) adaptation, post-update episodes with θ'_i."""
    pre = sample_episodes(policy, initial_params(theta, env.n_tasks, config), env, generator)
    pre = with_advantages(pre, config.gamma, config.gae_lambda)
    if config.steps == 0:
        phi, post = initial_params(theta, env.n_tasks, config), pre
    else:
        with torch.enable_grad():
            phi = detached(adapted(detached(theta, True), PolicyTaskBatch(policy, pre), config, first_order=True))
        if all(torch.isfinite(v).all() for v in phi.values()):
            post = with_advantages(sample_episodes(policy, phi, env, generator), config.gamma, config.gae_lambda)
        else:  # a non-finite θ'_i (e.g. NaN rewards) cannot be rolled out; its meta-loss is NaN → TrainingDiverged
            post = pre
    return PolicyTaskBatch(policy, pre, post, SamplingPolicy.of(policy, phi, post))


def meta_loss_and_kl(theta: Params, batch: PolicyTaskBatch, config: RLConfig, first_order: bool | None = None):
    """Mean surrogate and KL at θ'(θ), recomputed with the graph (second order unless FOMAML). Second-order
    MAML with estimator "dice" or "lvc" takes its loss from rl/estimators.py (the same value, another
    gradient); the KL, and so TRPO's curvature, is the paper's in every case."""
    first_order = config.algo == "fomaml" if first_order is None else first_order
    phi = adapted(theta, batch, config, first_order)
    loss, kl = batch.query_loss_and_kl(phi)
    if config.estimator != "paper" and not first_order:
        loss = meta_surrogate(config.estimator, batched(theta, batch.n_tasks),
                              lambda p, e: log_prob(batch.policy, p, e), batch.support, batch.query,
                              batch.old.log_prob, config.alpha, config.steps,
                              score_weight(batch.query, config.gamma, config.gae_lambda))
    return loss.mean(), kl.mean()


def curvature(theta: Params, batch: PolicyTaskBatch, config: RLConfig, generator):
    """TRPO's (hvp, fisher_kl) arguments: H·v of the mean KL, on a random subset of `fisher_tasks`
    tasks (all if 0; TRPO App. C), by the chain rule for one-step MAML/FOMAML, else by autograd."""
    if config.fisher_tasks and config.fisher_tasks < batch.n_tasks:
        batch = batch.subset(torch.randperm(batch.n_tasks, generator=generator)[:config.fisher_tasks])
    if config.hvp == "chain_rule" and config.algo in ("maml", "fomaml") and config.steps == 1:
        return meta_kl_curvature(theta, list(shared(theta)), batch, config.alpha, config.algo == "fomaml"), None
    return "exact", lambda th: meta_loss_and_kl(th, batch, config)[1]


def reptile_update(policy, theta: Params, env, config: RLConfig, generator, returns: list | None = None) -> Params:
    """mean_i (θ − φ_i), φ_i after `steps` policy-gradient steps, each on freshly sampled episodes.
    The mean return of each inner step's episodes is appended to `returns` if given."""
    phi = initial_params(theta, env.n_tasks, config)
    for _ in range(config.steps):
        if not all(torch.isfinite(v).all() for v in phi.values()):
            break  # cannot be rolled out; the non-finite direction stops training (TrainingDiverged)
        episodes = with_advantages(sample_episodes(policy, phi, env, generator), config.gamma, config.gae_lambda)
        if returns is not None:
            returns.append(float(episodes.total_return().mean()))
        with torch.enable_grad():
            phi = detached(inner_update(detached(phi, True), lambda p: reinforce_loss(policy, p, episodes).sum(),
                                        config.alpha, 1, first_order=True))
    return {k: (theta[k].detach() - phi[k]).mean(0) for k in shared(theta)}


def train_rl(config: RLConfig, out: str | Path | None = None, resume: bool = False,
             progress: bool = True, command: str | None = None, sampler: str = "local",
             ray_address: str | None = None) -> dict:
    """Meta-train a policy; returns the final checkpoint dict (also written to `out` if given).

    `sampler`, `ray_address`: where the MuJoCo episodes are sampled (see envs.check_sampler), an execution
    setting like the thread count, so not in the config: both backends give the same episodes with as many
    workers (one per core here, one per CPU of the Ray cluster there)."""
    check_sampler(config.env, sampler, ray_address)
    if sampler == "ray":         # start or reach Ray now: a bad address fails before any work
        from .mujoco_sampler import shared_sampler
        shared_sampler(ENVS[config.env].mujoco, sampler=sampler, ray_address=ray_address)
    torch.manual_seed(config.seed)
    policy = build_policy(config)
    theta = parameters_of(policy)
    trainable = list(shared(theta).values())
    optimizer = torch.optim.Adam(trainable, lr=config.meta_lr) if config.meta_optimizer == "adam" else None
    if config.meta_optimizer == "promp":
        optimizer = ProMP(trainable, config)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    spec = ENVS[config.env]
    run = Run(config, out, resume, progress, f"{config.env} {config.algo}", command)
    if run.resumed:
        ckpt = run.resumed
        with torch.no_grad():
            for k, v in ckpt["theta"].items():
                theta[k].copy_(v)
        if optimizer is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = ckpt["rng"]["numpy"]
        generator.set_state(ckpt["rng"]["generator"])

    def save() -> dict:
        return run.save(theta=detached(theta), optimizer=optimizer.state_dict() if optimizer is not None else {},
                        rng=dict(numpy=rng.bit_generator.state, generator=generator.get_state()))

    for it in run.iterations():
        tasks = spec.distribution.sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, tasks, config.episodes, oracle=config.algo == "oracle",
                               normalize_actions=config.normalize_actions, sampler=sampler, ray_address=ray_address)
        record = dict(iteration=it + 1)
        if config.algo == "reptile":
            inner_returns = []
            direction = reptile_update(policy, theta, env, config, generator, inner_returns)
            if inner_returns:   # before adaptation, and after the inner steps but the last
                record.update(return_before=inner_returns[0], return_after=inner_returns[-1])
            finite = all(torch.isfinite(g).all() for g in direction.values())
            if finite:
                optimizer.zero_grad(set_to_none=True)
                for k, g in direction.items():
                    theta[k].grad = g
                optimizer.step()
        else:
            with record_function("sampling"):
                batch = sample_meta_batch(policy, theta, env, config, generator)
            record.update(return_before=float(batch.support.total_return().mean()),
                          return_after=float(batch.query.total_return().mean()))
            objective = lambda th: meta_loss_and_kl(th, batch, config)
            if config.meta_optimizer == "promp":
                with record_function("promp"):
                    info = optimizer.step(theta, batch)
                finite = info.pop("finite")
                record.update(info)
            elif optimizer is None:
                with record_function("conjugate_gradient"):       # its setup; trpo_step labels the rest
                    hvp, fisher_kl = curvature(theta, batch, config, generator)
                info = trpo_step(theta, objective, config.max_kl, config.cg_damping, config.cg_iters,
                                 config.ls_backtrack, config.ls_steps, hvp, fisher_kl=fisher_kl,
                                 evaluate=lambda th: meta_loss_and_kl(th, batch, config, first_order=True))
                finite = np.isfinite(info["loss_before"])
                record.update(loss=info["loss_before"], kl=info["kl"], accepted=int(info["accepted"]))
            else:
                optimizer.zero_grad(set_to_none=True)
                loss, kl = objective(theta)
                loss.backward()
                finite = bool(torch.isfinite(loss)) and all(torch.isfinite(p.grad).all() for p in trainable)
                if finite:
                    optimizer.step()
                record.update(loss=float(loss.detach()), kl=float(kl.detach()))
        if not finite:
            raise run.diverged(it, record.get("loss"))
        after = dict(before=f"{record['return_before']:.1f}", after=f"{record['return_after']:.1f}") \
            if "return_after" in record else {}
        run.done(it, record, **after)
        if run.due():
            save()
    run.close()
    return save()
