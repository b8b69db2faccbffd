"""Meta-RL training: MAML-TRPO (and FOMAML, CAVIA, Reptile, baselines) on batched task environments.

    python -m course_lib train navigation2d --algo maml --iterations 120 --seed 0   # the shipped checkpoint

One iteration (MAML paper, Algorithm 3): sample T tasks; roll out N episodes per task with θ;
adapt θ'_i = θ − α ∇L_i^REINFORCE(θ) (cheaply, no graph); roll out N episodes with θ'_i; then the
learner recomputes θ'_i(θ) *with* the graph and takes a TRPO (or Adam) step on the surrogate of the
post-update episodes. Checkpoints hold θ, the optimizer, the RNG states and the history: resumable.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.profiler import record_function

from ..checkpoints import CheckpointError, checkpoint_kind, load_checkpoint, save_checkpoint
from ..functional import Params, batched, detached, parameters_of
from ..inner import inner_update
from ..meta import CONTEXT, adapt, adapt_context
from ..models import POLICY_INITS, GaussianPolicy
from ..train import TrainingDiverged, write_history
from ..validation import check_alpha, check_int, check_meaningful, check_range
from .curvature import meta_kl_curvature
from .envs import ENVS, make_batched_env
from .episodes import sample_episodes
from .losses import reinforce_loss
from .tasks import PolicyTaskBatch, SamplingPolicy, with_advantages
from .trpo import trpo_step

ALGOS = ("maml", "fomaml", "cavia", "reptile", "pretrain", "oracle", "random")
# TRPO's H·v of the meta-KL: the chain rule Σ J_i H'_i J_i v (exact at θ_old; one-step MAML/FOMAML) with
# products by the R-operator or by autograd; double backprop through θ'(θ) ("exact"); finite differences.
HVPS = ("chain_rule", "chain_rule_autograd", "exact", "finite_difference")


@dataclass
class RLConfig:
    """MAML paper settings for 2D navigation: 2×100 ReLU (initialised as in rllab, the paper's code),
    20 tasks × 20 episodes, α = 0.1, TRPO δ = 0.01."""
    env: str = "navigation2d"
    algo: str = "maml"
    iterations: int = 500
    meta_batch: int = 20
    episodes: int = 20
    alpha: float = 0.1
    steps: int = 1
    gamma: float = 0.99
    gae_lambda: float = 1.0
    meta_optimizer: str = "trpo"
    meta_lr: float = 1e-3
    max_kl: float = 0.01
    cg_iters: int = 10
    cg_damping: float = 1e-5
    ls_backtrack: float = 0.8
    ls_steps: int = 15
    hvp: str = "chain_rule"         # H·v of the meta-KL, see HVPS
    fisher_tasks: int = 5           # tasks in the KL-Hessian estimate (0: all; TRPO App. C subsamples)
    hidden: tuple[int, ...] = (100, 100)
    normalize_actions: bool = True   # policy acts in [−1, 1], scaled to the action bounds (rllab's normalize)
    policy_init: str = "xavier"      # rllab's Glorot-uniform weights, zero biases; "torch": nn.Linear's default
    context_dim: int = 0
    seed: int = 0
    checkpoint_every: int = 10

    def __post_init__(self):
        if self.env not in ENVS:
            raise ValueError(f"env must be one of {tuple(ENVS)}, got {self.env!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.policy_init not in POLICY_INITS:
            raise ValueError(f"policy_init must be one of {POLICY_INITS}, got {self.policy_init!r}")
        if self.meta_optimizer not in ("trpo", "adam"):
            raise ValueError(f"meta_optimizer must be 'trpo' or 'adam', got {self.meta_optimizer!r}")
        for name, low in (("iterations", 0), ("meta_batch", 1), ("episodes", 1), ("steps", 0),
                          ("cg_iters", 1), ("ls_steps", 1), ("checkpoint_every", 1), ("seed", 0),
                          ("context_dim", 0), ("fisher_tasks", 0)):
            check_int(getattr(self, name), name, low)
        check_alpha(self.alpha)
        check_alpha(self.meta_lr, "meta_lr")
        check_alpha(self.max_kl, "max_kl")
        check_range(self.gamma, "gamma", 0.0, 1.0)
        check_range(self.gae_lambda, "gae_lambda", 0.0, 1.0)
        self.hidden = tuple(self.hidden)
        if self.algo == "cavia" and self.context_dim < 1:
            raise ValueError("context_dim must be an integer in [1, inf) for algo='cavia'")
        check_meaningful(self.algo, self.steps, self.iterations)
        if self.hvp not in HVPS:
            raise ValueError(f"hvp must be one of {HVPS}, got {self.hvp!r}")
        if self.algo == "cavia" and ENVS[self.env].mujoco is not None:
            raise ValueError(f"algo 'cavia' is available for navigation2d and point_velocity, not for {self.env!r}")
        if self.algo == "reptile" and self.meta_optimizer != "adam":
            raise ValueError("meta_optimizer must be 'adam' for algo='reptile' (θ − φ is not a loss gradient)")


DEFAULTS: dict[str, dict] = {
    "cavia": dict(context_dim=2, alpha=1.0),
    "reptile": dict(steps=3, meta_optimizer="adam", meta_lr=1e-2),
    "pretrain": dict(steps=0),
    "oracle": dict(steps=0),
    "random": dict(iterations=0),
}


# MuJoCo locomotion (MAML paper §5.3 and its settings in ../reference): meta-batch 40 tasks, 20 rollouts
# per step (AntDir: 40), H = 200.
ENV_DEFAULTS: dict[str, dict] = {"halfcheetah_vel": dict(meta_batch=40, episodes=20),
                                 "halfcheetah_dir": dict(meta_batch=40, episodes=20),
                                 "ant_vel": dict(meta_batch=40, episodes=20),
                                 "ant_dir": dict(meta_batch=40, episodes=40)}


# Settings added after checkpoints were shipped: what a checkpoint without the key was trained with.
# (Before normalize_actions, policies acted in env units.)
OLDER = dict(normalize_actions=False, policy_init="torch")


def default_rl_config(env: str = "navigation2d", algo: str = "maml", **overrides) -> RLConfig:
    return RLConfig(env=env, algo=algo, **{**ENV_DEFAULTS.get(env, {}), **DEFAULTS.get(algo, {}), **overrides})


def build_policy(config: RLConfig) -> GaussianPolicy:
    spec = ENVS[config.env]
    obs_dim = spec.obs_dim + (spec.task_dim if config.algo == "oracle" else 0)
    return GaussianPolicy(obs_dim, spec.act_dim, config.hidden, config.context_dim if config.algo == "cavia" else 0,
                          init=config.policy_init)


def adapted(theta: Params, batch, config: RLConfig, first_order: bool, steps: int | None = None) -> Params:
    """θ'_i for every task (CAVIA: shared θ with each task's adapted context)."""
    steps = config.steps if steps is None else steps
    if config.algo == "cavia":
        return adapt_context(theta, batch, config.alpha, steps, first_order, config.context_dim)
    return adapt(theta, batch, config.alpha, steps, first_order)


def initial_params(theta: Params, n_tasks: int, config: RLConfig) -> Params:
    """θ for every task before adaptation (CAVIA: shared weights and a zero context)."""
    shared = batched(detached({k: v for k, v in theta.items() if k != CONTEXT}), n_tasks)
    if config.algo == "cavia":
        return {**shared, CONTEXT: torch.zeros(n_tasks, config.context_dim)}
    return shared


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
    """Mean surrogate and KL at θ'(θ), recomputed with the graph (second order unless FOMAML)."""
    first_order = config.algo == "fomaml" if first_order is None else first_order
    phi = adapted(theta, batch, config, first_order)
    loss, kl = batch.query_loss_and_kl(phi)
    return loss.mean(), kl.mean()


def curvature(theta: Params, batch: PolicyTaskBatch, config: RLConfig, generator):
    """TRPO's (hvp, fisher_kl) arguments: H·v of the mean KL, on a random subset of `fisher_tasks`
    tasks (all if 0; TRPO App. C), by the chain rule for one-step MAML/FOMAML, else by autograd."""
    if config.fisher_tasks and config.fisher_tasks < batch.n_tasks:
        batch = batch.subset(torch.randperm(batch.n_tasks, generator=generator)[:config.fisher_tasks])
    if config.hvp.startswith("chain_rule") and config.algo in ("maml", "fomaml") and config.steps == 1:
        names = [k for k in theta if k != CONTEXT]
        method = "autograd" if config.hvp == "chain_rule_autograd" else "r_operator"
        return meta_kl_curvature(theta, names, batch, config.alpha, config.algo == "fomaml", method), None
    hvp = "finite_difference" if config.hvp == "finite_difference" else "exact"
    return hvp, lambda th: meta_loss_and_kl(th, batch, config)[1]


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
    return {k: (theta[k].detach() - phi[k]).mean(0) for k in theta if k != CONTEXT}


def train_rl(config: RLConfig, out: str | Path | None = None, resume: bool = False,
             progress: bool = True) -> dict:
    """Meta-train a policy; returns the final checkpoint dict (also written to `out` if given)."""
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    policy = build_policy(config)
    theta = parameters_of(policy)
    trainable = [v for k, v in theta.items() if k != CONTEXT]
    optimizer = torch.optim.Adam(trainable, lr=config.meta_lr) if config.meta_optimizer == "adam" else None
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    spec = ENVS[config.env]
    state = dict(iteration=0, history=[], wall_time=0.0)
    saved_config = asdict(config) | {"hidden": list(config.hidden)}

    out = Path(out) if out else None
    if resume and out is not None and out.exists():
        ckpt = load_checkpoint(out)
        if config.iterations < ckpt["iteration"]:
            raise ValueError(f"resume: the checkpoint at {out} has {ckpt['iteration']} iterations done; "
                             f"--iterations must be at least that, got {config.iterations}")
        how_long = dict(iterations=0, checkpoint_every=0)        # may change between runs; the rest may not
        if {**OLDER, **ckpt["config"], **how_long} != {**saved_config, **how_long}:
            raise ValueError(f"resume: the checkpoint at {out} was trained with a different config "
                             f"({ckpt['config']}); pass the same settings or a new --out")
        with torch.no_grad():
            for k, v in ckpt["theta"].items():
                theta[k].copy_(v)
        if optimizer is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = ckpt["rng"]["numpy"]
        generator.set_state(ckpt["rng"]["generator"])
        state = dict(iteration=ckpt["iteration"], history=ckpt["history"], wall_time=ckpt["wall_time"])

    def checkpoint() -> dict:
        ckpt = dict(config=saved_config, theta={k: v.detach().clone() for k, v in theta.items()},
                    optimizer=optimizer.state_dict() if optimizer is not None else {},
                    rng=dict(numpy=rng.bit_generator.state, generator=generator.get_state()), **state)
        if out is not None:
            save_checkpoint(ckpt, out)
            write_history(state["history"], out.with_suffix(".csv"))
        return ckpt

    bar = tqdm(total=config.iterations, initial=state["iteration"], disable=not progress,
               desc=f"{config.env} {config.algo}", unit="it")
    started = time.perf_counter() - state["wall_time"]
    for it in range(state["iteration"], config.iterations):
        tasks = spec.distribution.sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, tasks, config.episodes, oracle=config.algo == "oracle",
                               normalize_actions=config.normalize_actions)
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
            if optimizer is None:
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
            bar.close()
            where = f"the last checkpoint ({out}) is intact" if out is not None and out.exists() \
                else "no checkpoint was written"
            raise TrainingDiverged(f"meta-loss/meta-gradient became non-finite at iteration {it}; stopped "
                                   f"before the update; {where}.")
        state["iteration"] = it + 1
        state["wall_time"] = time.perf_counter() - started
        state["history"].append(record | dict(wall_time=state["wall_time"]))
        bar.update(1)
        if "return_after" in record:
            bar.set_postfix(before=f"{record['return_before']:.1f}", after=f"{record['return_after']:.1f}")
        if state["iteration"] % config.checkpoint_every == 0:
            checkpoint()
    bar.close()
    return checkpoint()


def load_policy(path) -> tuple[GaussianPolicy, Params, RLConfig]:
    """(policy template, θ, config) from a meta-RL checkpoint.

    Checkpoints older than a setting lack its key and load with the value they were trained with (OLDER)."""
    ckpt = load_checkpoint(path)
    if checkpoint_kind(ckpt) == "sinusoid":
        raise CheckpointError(f"checkpoint {path} is a sinusoid checkpoint, not a meta-RL one: load it with "
                              "course_lib.train.load_trained")
    config = RLConfig(**{**OLDER, **ckpt["config"],
                         "hidden": tuple(ckpt["config"]["hidden"])})
    return build_policy(config), ckpt["theta"], config
