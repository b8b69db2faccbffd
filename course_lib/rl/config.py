"""Meta-RL settings and what the read side needs: the config, each algorithm's defaults, the policy,
θ'_i for a task batch, θ before adaptation, and the checkpoint loader. The loop is in train.py."""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import torch

from ..checkpoints import CheckpointError, checkpoint_kind, load_checkpoint
from ..functional import Params, batched, detached
from ..meta import CONTEXT, adapt, adapt_context, shared
from ..models import POLICY_INITS, GaussianPolicy
from ..validation import check_alpha, check_choice, check_int, check_meaningful, check_range
from .envs import ENVS
from .estimators import ESTIMATORS   # the meta-gradient of second-order MAML: the paper's, DiCE's or ProMP's LVC

ALGOS = ("maml", "fomaml", "cavia", "reptile", "pretrain", "oracle", "random")
# TRPO's H·v of the meta-KL: the chain rule Σ J_i H'_i J_i v, exact at θ_old for one-step MAML/FOMAML,
# with R-operator products (rl/curvature.py); or autograd's double backprop through θ'(θ) ("exact").
HVPS = ("chain_rule", "exact")
# The outer loop: one TRPO or Adam step per meta-batch, or ProMP's (rl/promp.py: several Adam steps on the
# clipped likelihood-ratio objective with an adaptive KL penalty on the pre-update policy).
META_OPTIMIZERS = ("trpo", "adam", "promp")


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
    estimator: str = "paper"         # the meta-gradient estimator of second-order MAML, see ESTIMATORS
    promp_steps: int = 5             # ProMP (meta_optimizer="promp"): Adam steps per meta-batch, same episodes
    promp_clip: float = 0.3          # ProMP: ε, the post-update likelihood ratio is clipped to [1 − ε, 1 + ε]
    promp_kl_coef: float = 5e-4      # ProMP: initial η of the pre-update KL penalty (0: no penalty)
    promp_kl_target: float = 0.01    # ProMP: η doubles when that KL > 1.5·target, halves when < target/1.5
    seed: int = 0
    checkpoint_every: int = 10

    def __post_init__(self):
        check_choice(self.env, "env", tuple(ENVS))
        check_choice(self.algo, "algo", ALGOS)
        check_choice(self.policy_init, "policy_init", POLICY_INITS)
        if self.meta_optimizer not in META_OPTIMIZERS:
            raise ValueError(f"meta_optimizer must be 'trpo' or 'adam' (one step per meta-batch) or 'promp' "
                             f"(ProMP's clipped objective), got {self.meta_optimizer!r}")
        for name, low in (("iterations", 0), ("meta_batch", 1), ("episodes", 1), ("steps", 0),
                          ("cg_iters", 1), ("ls_steps", 1), ("checkpoint_every", 1), ("seed", 0),
                          ("context_dim", 0), ("fisher_tasks", 0), ("promp_steps", 1)):
            check_int(getattr(self, name), name, low)
        check_alpha(self.alpha)
        check_alpha(self.meta_lr, "meta_lr")
        check_alpha(self.max_kl, "max_kl")
        check_range(self.gamma, "gamma", 0.0, 1.0)
        check_range(self.gae_lambda, "gae_lambda", 0.0, 1.0)
        real = lambda v: isinstance(v, Real) and not isinstance(v, bool)
        if not (real(self.promp_clip) and 0 < self.promp_clip < 1):
            raise ValueError(f"promp_clip must be a number in (0, 1), got {self.promp_clip!r}")
        if not (real(self.promp_kl_coef) and 0 <= self.promp_kl_coef < math.inf):
            raise ValueError(f"promp_kl_coef must be a finite number in [0, inf), got {self.promp_kl_coef!r}")
        check_alpha(self.promp_kl_target, "promp_kl_target")
        self.hidden = tuple(self.hidden)
        if self.algo == "cavia" and self.context_dim < 1:
            raise ValueError("context_dim must be an integer in [1, inf) for algo='cavia'")
        check_meaningful(self.algo, self.steps, self.iterations)
        check_choice(self.hvp, "hvp", HVPS)
        check_choice(self.estimator, "estimator", ESTIMATORS)
        if self.estimator != "paper" and self.algo != "maml":
            raise ValueError(f"estimator {self.estimator!r} is for algo='maml' (second order); algo {self.algo!r} "
                             "takes estimator='paper'")
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
    common = batched(detached(shared(theta)), n_tasks)
    if config.algo == "cavia":
        return {**common, CONTEXT: torch.zeros(n_tasks, config.context_dim)}
    return common


def load_policy(path) -> tuple[GaussianPolicy, Params, RLConfig]:
    """(policy template, θ, config) from a meta-RL checkpoint (refused if it lacks a setting or has an
    unknown one: a checkpoint says how it was trained)."""
    ckpt = load_checkpoint(path)
    if not checkpoint_kind(ckpt).startswith("rl:"):
        raise CheckpointError(f"checkpoint {path} is a {checkpoint_kind(ckpt)} checkpoint, not a meta-RL one: load "
                              "it with course_lib.sinusoid.config.load_trained or course_lib.fewshot.config.load_fewshot")
    fields = set(RLConfig.__dataclass_fields__)
    missing, unknown = sorted(fields - set(ckpt["config"])), sorted(set(ckpt["config"]) - fields)
    if missing or unknown:
        raise CheckpointError(f"checkpoint {path} does not match this version's RLConfig (missing settings "
                              f"{missing}, unknown settings {unknown}); retrain it with its command")
    config = RLConfig(**{**ckpt["config"], "hidden": tuple(ckpt["config"]["hidden"])})
    return build_policy(config), ckpt["theta"], config
