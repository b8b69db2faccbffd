"""ProMP's meta-optimizer (Rothfuss et al. 2019, "ProMP: Proximal Meta-Policy Search", Algorithm 1), beside TRPO.

    python -m course_lib train navigation2d --algo maml --estimator lvc --meta-optimizer promp --promp-steps 5

Per meta-batch (pre-update episodes D_i sampled with θ_o, post-update episodes D'_i with θ'_o,i), starting
from θ = θ_o, `promp_steps` Adam steps (lr `meta_lr`) on the SAME episodes descend the loss

    L(θ) = mean_i [ − mean_{D'_i} min( r_i Â', clip(r_i, 1 − ε, 1 + ε) Â' ) ]  +  η · mean_i KL_i(θ)
    r_i  = π_θ'_i(θ)(a|s) / π_θ'_o,i(a|s)                      (the post-update likelihood ratio)
    KL_i = mean_{D_i} KL( π_θo(·|s) ‖ π_θ(·|s) )                 (the pre-update policy's move)

where θ'_i(θ) is recomputed with the graph at every step by the library's one inner loop
(course_lib.inner.inner_update): the paper's REINFORCE inner step for `estimator="paper"` and "dice"
(via config.adapted; first order for FOMAML, the context only for CAVIA), ProMP's LVC inner loss
(rl/estimators.py) for "lvc"; with "dice" the per-task clipped term C_i is put under the magic box exactly as
rl/estimators.meta_surrogate does with the unclipped one: 𝒳(W^pre_i)(C_i − ⊥C_i − g_i) + ⊥C_i + g_i. The clip
is ε = `promp_clip` (0.3, ProMP's); it is this "min" that keeps the several steps near the sampling policy
(PPO, Schulman et al. 2017). After the steps, the pre-update KL at the final θ adapts η for the next batch as
in PPO / ProMP's `adapt_kl_coeff`: η ← 2η if KL > 1.5·target, η ← η/2 if KL < target/1.5 (target
`promp_kl_target` = 0.01, initial η `promp_kl_coef` = 5·10⁻⁴, ProMP's run scripts; η = 0 switches the
penalty off for good). Adam's moments and η persist across meta-batches (saved in the checkpoint).

Where this differs from ProMP's code (TensorFlow, `ProMP/meta_algos/pro_mp.py`):
* ProMP's inner step at θ ≠ θ_o weights the pre-update samples by π_θ/π_θo (its LVC inner objective is
  the likelihood ratio against the *sampling* policy); here the inner step is the library's at every ProMP
  step (LVC: π_θ/⊥π_θ, value 1; paper: log π_θ), i.e. not importance-corrected after the first step.
* ProMP keeps one η and one KL per inner step (its inner steps sample new episodes); here every inner step
  reuses D (the library's inner loop), so there is one pre-update KL and one η.
* ProMP's MuJoCo run script (`run_scripts/pro-mp_run_mujoco.py`) keeps η fixed at 5·10⁻⁴
  (`adaptive_inner_kl_penalty=False`; the class default adapts, from η = 10⁻², with ε = 0.2); here η always
  adapts, from the run script's 5·10⁻⁴, with its ε = 0.3 and target 0.01. No annealing of ε, no minibatches.
* ProMP pairs the clipped objective with the LVC inner step only; here any --estimator may be used.
Everything else (the min-clip on the post-update ratio against π_θ'_o, the task mean of the per-task means,
η times the task-mean pre-update KL, Adam with lr 10⁻³ for 5 steps without re-sampling, η adapted after the
steps from the KL at the final θ) follows the paper's Algorithm 1 and ProMP's `optimize_policy`.
"""
from __future__ import annotations

import math

import torch

from ..functional import Params, batched
from ..inner import inner_update
from ..meta import CONTEXT, shared
from .config import RLConfig, adapted, initial_params
from .episodes import action_distribution
from .estimators import inner_loss, magic_box, score_weight
from .losses import gaussian_kl, gaussian_log_prob, kl_from, log_prob, masked_mean
from .tasks import PolicyTaskBatch, SamplingPolicy


def clipped_surrogate(log_ratio: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                      clip: float) -> torch.Tensor:
    """−mean[min(r Â, clip(r, 1 − ε, 1 + ε) Â)] per task [T], r = exp(log_ratio) (PPO's clipped surrogate)."""
    ratio = log_ratio.exp()
    return -masked_mean(torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages), mask)


def adapt_kl_coef(coef: float, kl: float, target: float) -> float:
    """η for the next meta-batch: doubled when the KL overshoots 1.5·target, halved below target/1.5."""
    if kl > 1.5 * target:
        return coef * 2
    if kl < target / 1.5:
        return coef / 2
    return coef


def pre_update_params(theta: Params, n_tasks: int, config: RLConfig) -> Params:
    """θ for every task, differentiable (CAVIA: shared θ with a zero context)."""
    common = batched(shared(theta), n_tasks)
    if config.algo == "cavia":
        some = next(iter(common.values()))
        return {**common, CONTEXT: some.new_zeros(n_tasks, config.context_dim)}
    return common


def post_update_params(theta: Params, batch: PolicyTaskBatch, config: RLConfig, first_order: bool) -> Params:
    """θ'_i(θ) with the graph: LVC's inner loss for second-order MAML with estimator "lvc", else the paper's."""
    if config.estimator == "lvc" and not first_order:
        inner = inner_loss("lvc", lambda p, e: log_prob(batch.policy, p, e), batch.support)
        return inner_update(batched(theta, batch.n_tasks), lambda p: inner(p).sum(), config.alpha, config.steps,
                            first_order=False)
    return adapted(theta, batch, config, first_order)


def promp_objective(theta: Params, batch: PolicyTaskBatch, config: RLConfig, pre_old: SamplingPolicy,
                    kl_coef: float, first_order: bool | None = None) -> dict:
    """The ProMP loss at θ and its parts (scalars): loss = clipped + η·inner_kl; outer_kl = KL(π_θ'_o ‖ π_θ'(θ))
    on D' (TRPO's constraint, reported only). `pre_old`: π_θo on D (SamplingPolicy.of at θ_o)."""
    first_order = config.algo == "fomaml" if first_order is None else first_order
    q, old = batch.query, batch.old
    phi = post_update_params(theta, batch, config, first_order)
    mean, log_std = action_distribution(batch.policy, phi, q.obs)
    clipped = clipped_surrogate(gaussian_log_prob(mean, log_std, q.actions) - old.log_prob, q.advantages, q.mask,
                                config.promp_clip)
    if config.estimator == "dice" and not first_order:
        g = score_weight(q, config.gamma, config.gae_lambda)
        w_pre = (log_prob(batch.policy, batched(theta, batch.n_tasks), batch.support) * batch.support.mask).sum((1, 2))
        clipped = magic_box(w_pre) * (clipped - clipped.detach() - g) + clipped.detach() + g
    outer_kl = masked_mean(gaussian_kl(old.mean, old.log_std, mean, log_std), q.mask)
    inner_kl = kl_from(batch.policy, pre_update_params(theta, batch.n_tasks, config), batch.support, pre_old.mean,
                       pre_old.log_std)
    clipped, inner_kl = clipped.mean(), inner_kl.mean()
    loss = clipped + kl_coef * inner_kl if kl_coef else clipped
    return dict(loss=loss, clipped=clipped, inner_kl=inner_kl, outer_kl=outer_kl.mean())


class ProMP:
    """Adam on θ's trainable tensors plus the adaptive KL coefficient η; `step` runs one meta-batch."""

    def __init__(self, params: list[torch.Tensor], config: RLConfig):
        self.params, self.config = params, config
        self.adam = torch.optim.Adam(params, lr=config.meta_lr)
        self.kl_coef = float(config.promp_kl_coef)

    def state_dict(self) -> dict:
        return dict(adam=self.adam.state_dict(), kl_coef=self.kl_coef)

    def load_state_dict(self, state: dict) -> None:
        self.adam.load_state_dict(state["adam"])
        self.kl_coef = float(state["kl_coef"])

    def step(self, theta: Params, batch: PolicyTaskBatch) -> dict:
        """`promp_steps` Adam steps on the same batch, then η's adaptation. Returns the iteration's record
        (loss: the clipped surrogate at θ_o, as TRPO's loss_before; loss_after, kl (post-update, outer),
        inner_kl (pre-update, penalised) at the final θ; kl_coef: the η used) and `finite`: False if a
        loss or gradient stopped being finite (the step that saw it is not taken)."""
        config, coef = self.config, self.kl_coef
        pre_old = SamplingPolicy.of(batch.policy, initial_params(theta, batch.n_tasks, config), batch.support)
        record = dict(kl_coef=coef)
        for n in range(config.promp_steps):
            self.adam.zero_grad(set_to_none=True)
            parts = promp_objective(theta, batch, config, pre_old, coef)
            parts["loss"].backward()
            if n == 0:
                record["loss"] = float(parts["clipped"].detach())
            if not (torch.isfinite(parts["loss"]) and all(torch.isfinite(p.grad).all() for p in self.params)):
                return dict(record, loss=float(parts["loss"].detach()), finite=False)
            self.adam.step()
        self.adam.zero_grad(set_to_none=True)
        parts = {k: float(v.detach()) for k, v in promp_objective(theta, batch, config, pre_old, coef, True).items()}
        if not all(math.isfinite(v) for v in parts.values()):
            return dict(record, finite=False)
        self.kl_coef = adapt_kl_coef(coef, parts["inner_kl"], config.promp_kl_target)
        return dict(record, loss_after=parts["clipped"], kl=parts["outer_kl"], inner_kl=parts["inner_kl"], finite=True)
