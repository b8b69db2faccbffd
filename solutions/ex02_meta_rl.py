# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 2 · Meta-RL building blocks: returns, GAE, REINFORCE, one-step adaptation, conjugate gradient
#
# **Learning objectives.** After these exercises you can
# 1. compute discounted returns and generalised advantage estimates (GAE) on batches of
#    variable-length episodes (tasks × episodes × steps, with a mask);
# 2. write the REINFORCE surrogate loss with a baseline, and see the baseline cut the variance of the
#    policy gradient;
# 3. write the reward of the 1-D target-velocity task and adapt a meta-trained policy to a new target
#    velocity with **one** policy-gradient step — the inner loop of MAML for RL;
# 4. solve $Hx = g$ with **conjugate gradient** from Hessian-vector products only, the heart of the
#    TRPO meta-update.
#
# **Prerequisites.** Exercises 1 (the inner step); a first look at policy gradients
# (REINFORCE: $\nabla J = \mathbb E[\nabla\log\pi(a|s)\,\hat A]$).
#
# **Run time.** About 1 minute on a 2-core CPU (a 60-iteration meta-training run takes ~15 s).
#
# **How the exercises work.** As in Exercises 1: replace each `# YOUR CODE HERE` line and run the
# `# GRADED TEST` cell below it, which prints ✓ or ✗ (with what went wrong) and never stops the
# notebook. Stuck? The collapsed hints right under each exercise cell open one at a time, each more
# specific than the last: open the next one only if the last did not help. The
# grader compares the values each graded cell submits with the model solution's, for inputs drawn at
# grading time, so editing a test cell or its asserts changes nothing; your function may not call
# the course_lib function named on the cell's `# MUST NOT CALL:` line. Later cells use course_lib's
# implementation (with a notice) until yours is done.
#
# | exercise | what | points |
# |---|---|---|
# | 2.1 | `discounted_returns`: reward-to-go on masked episodes | 2 |
# | 2.2 | `gae`: generalised advantage estimation | 3 |
# | 2.3 | `reinforce_loss_with_baseline`: the REINFORCE surrogate with a baseline | 3 |
# | 2.4 | `target_velocity_reward`: the reward of the 1-D target-velocity task | 2 |
# | 2.5 | `adapt_one_step`: one policy-gradient step per task (MAML's inner loop for RL) | 3 |
# | 2.6 | `conjugate_gradient`: solve Hx = g for the TRPO step | 3 |

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib import batched, detached, inner_update, parameters_of
from course_lib.checks import fallback, graded
from course_lib.fallbacks import reference
from course_lib.meta import adapt
from course_lib.models import GaussianPolicy
from course_lib.ui.plots import OTHER_COLORS, new_figure
from course_lib.rl.baseline import baseline_values, fit_linear_baseline
from course_lib.rl.episodes import Episodes, action_distribution, sample_episodes
from course_lib.rl import returns as course_returns
from course_lib.rl.losses import kl_from, log_prob, reinforce_loss
from course_lib.rl.tasks import PolicyTaskBatch, with_advantages
from course_lib.rl.config import build_policy, default_rl_config
from course_lib.rl.train import train_rl
from course_lib.rl.trpo import flat, hvp_double_backprop, unflat
from course_lib.tasks.velocity import DT, MAX_FORCE, BatchedPointVelocity1D

torch.set_num_threads(1)
VELOCITY_AXIS = "velocity v (units/s)"          # the task is dimensionless: distances in units
TIME_AXIS = f"time t (s; one step = {DT} s)"

# %% [markdown]
# ## The data: tasks × episodes × steps
#
# The 1-D target-velocity task (`course_lib.tasks.velocity`): a point mass starts at rest; the
# observation is its velocity $v_t$, the action a force $a_t$ (clipped to ±1), and
# $v_{t+1} = v_t + 0.1\,\mathrm{clip}(a_t)$. A task is a target velocity $v^* \in [-2, 2]$. The batched
# sampler rolls out T tasks × N episodes × H = 100 steps at once; every tensor has that layout, and a
# `mask` marks the steps taken while an episode was alive (navigation episodes end early at the goal).
# Here: an untrained policy on three targets, four episodes each.

# %%
torch.manual_seed(0)
policy = GaussianPolicy(1, 1, hidden=(32, 32))
theta0 = parameters_of(policy)
targets = np.array([-1.5, 0.5, 1.8], dtype=np.float32)
env = BatchedPointVelocity1D(targets, n_episodes=4)
episodes = sample_episodes(policy, batched(detached(theta0), 3), env, torch.Generator().manual_seed(0))
print({name: tuple(getattr(episodes, name).shape) for name in ("obs", "actions", "rewards", "mask")})
print("return per task (mean over episodes):", episodes.total_return().mean(1).numpy().round(1))

time_s = DT * np.arange(episodes.obs.shape[2])
fig, ax = new_figure(width=7.0, height=3.4)
for i, target in enumerate(targets):                       # tasks, not methods: colours no method uses
    ax.plot(time_s, episodes.obs[i, :, :, 0].T, color=OTHER_COLORS[i], lw=0.8, alpha=0.5)
    ax.axhline(target, color=OTHER_COLORS[i], ls="--", label=f"target v* = {target:+.1f}")
ax.plot([], [], color="grey", lw=0.8, label="one episode (4 per target)")
ax.set(xlabel=TIME_AXIS, ylabel=VELOCITY_AXIS, title="an untrained policy: velocities per episode")
ax.grid(alpha=0.3)
ax.legend(fontsize=7, loc="best", framealpha=0.85)
plt.show()

# %% [markdown]
# ## Exercise 2.1 — discounted returns (2 points)
#
# The reward-to-go $R_t = \sum_{k \ge t} \gamma^{k-t} r_k = r_t + \gamma R_{t+1}$ for every step of
# every episode: `rewards` and `mask` are `[T, N, H]`. Steps after the end of an episode (mask 0)
# contribute nothing, and their return is 0.

# %%
# EXERCISE ex2.1: discounted_returns
def discounted_returns(rewards, mask, gamma):
    """R_t = Σ_{k≥t} γ^{k−t} r_k along the last dimension, 0 where mask is 0."""
    ### BEGIN SOLUTION
    ### HINT: Use the recursion of Exercise 2.1, R_t = r_t + γR_{t+1}: the return at t needs the one at t + 1, so the computation runs from the last step backwards.
    ### HINT: Loop backwards over the last (time) dimension with a running sum that starts at 0 after the last step; masked steps add no reward, and the result is multiplied by the mask at the end.
    ### HINT: `running = r[..., t]·mask[..., t] + γ·running`, then `returns[..., t] = running`: the `[..., t]` slice handles every task and episode at once.
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in reversed(range(rewards.shape[-1])):
        running = rewards[..., t] * mask[..., t] + gamma * running
        returns[..., t] = running
    return returns * mask
    ### END SOLUTION


# %%
# GRADED TEST: ex2.1 discounted_returns (2 points)
# MUST NOT CALL: course_lib.rl.returns.discounted_returns, course_lib.rl.returns.discount_cumsum
with graded("ex2.1") as t:
    # a batch of tasks × episodes × steps with episodes of different lengths, drawn at random
    r = torch.tensor(t.rng.normal(size=(3, 4, 12)), dtype=torch.float32)
    m = torch.tensor(np.arange(12) < t.rng.integers(1, 13, size=(3, 4, 1)), dtype=torch.float32)
    gamma = float(t.rng.uniform(0.8, 0.99))
    R_batch = discounted_returns(r * m, m, gamma)
    t.submit("returns of a random batch", R_batch, rtol=1e-5, atol=1e-5)
    # self-checks: one episode you can check by hand, then the batch against course_lib
    rewards = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    R = discounted_returns(rewards, torch.ones_like(rewards), 0.5)
    expected = torch.tensor([[[1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4, 4.0]]])
    assert R.shape == rewards.shape, f"returns must have the shape of rewards {tuple(rewards.shape)}, got {tuple(R.shape)}"
    assert torch.allclose(R, expected), f"expected {expected.tolist()}, got {R.tolist()}"
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])                      # the episode ended after two steps
    assert torch.allclose(discounted_returns(rewards * mask, mask, 0.5), torch.tensor([[[2.0, 2.0, 0.0, 0.0]]])), \
        "steps after the end of an episode (mask 0) must not count, and their return must be 0"
    assert torch.allclose(R_batch, course_returns.discounted_returns(r * m, m, gamma), rtol=1e-5, atol=1e-5), \
        "wrong on a batch of tasks × episodes × steps with different episode lengths"

# %% [markdown]
# ## Exercise 2.2 — generalised advantage estimation (3 points)
#
# With a value estimate $V(s_t)$ (the baseline), the TD errors $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$
# and GAE (Schulman et al. 2016, eq. 16)
#
# $$\hat A_t = \sum_{k \ge t} (\gamma\lambda)^{k-t}\, \delta_k .$$
#
# λ = 1 gives $R_t - V(s_t)$ (unbiased, high variance), λ = 0 the one-step TD error. Conventions (as
# in rllab and the MAML code): $V = 0$ after the end of an episode and after the last step (no
# bootstrap), so first **zero the values where the mask is 0** — the baseline's output there is junk.

# %%
# EXERCISE ex2.2: gae
def gae(rewards, values, mask, gamma, lam=1.0):
    """Â_t = Σ_{k≥t} (γλ)^{k−t} δ_k with δ_t = r_t + γV_{t+1} − V_t; V = 0 past the end; 0 where mask is 0."""
    ### BEGIN SOLUTION
    ### HINT: Two stages (Exercise 2.2, GAE): first the TD errors δ_t = r_t + γV(s_{t+1}) − V(s_t), then a discounted sum of them — the backward recursion of Exercise 2.1, with factor γλ instead of γ.
    ### HINT: Zero the values where the mask is 0 first; V(s_{t+1}) is the values shifted one step left with a 0 appended (`torch.cat` along the last dimension): no bootstrap after the last step.
    ### HINT: δ = (r + γ·next_values − values)·mask; then Â_t = δ_t + γλ·Â_{t+1}, backwards over t; mask the result.
    values = values * mask
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = (rewards + gamma * next_values - values) * mask
    advantages = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[..., 0])
    for t in reversed(range(deltas.shape[-1])):
        running = deltas[..., t] + gamma * lam * running
        advantages[..., t] = running
    return advantages * mask
    ### END SOLUTION


# %%
# GRADED TEST: ex2.2 gae (3 points)
# MUST NOT CALL: course_lib.rl.returns.gae, course_lib.rl.returns.discount_cumsum
with graded("ex2.2") as t:
    # a batch of tasks × episodes × steps with episodes of different lengths and junk values past their end
    r_batch = torch.tensor(t.rng.normal(size=(3, 4, 12)), dtype=torch.float32)
    V_batch = torch.tensor(t.rng.normal(size=(3, 4, 12)), dtype=torch.float32)
    m = torch.tensor(np.arange(12) < t.rng.integers(1, 13, size=(3, 4, 1)), dtype=torch.float32)
    gamma, lam = float(t.rng.uniform(0.8, 0.99)), float(t.rng.uniform(0.5, 0.95))
    lams = {"λ": lam, "λ = 0": 0.0, "λ = 1": 1.0}
    A_batch = {name: gae(r_batch * m, V_batch, m, gamma, lam_) for name, lam_ in lams.items()}
    for name, A in A_batch.items():
        t.submit(f"advantages of a random batch, {name}", A, rtol=1e-5, atol=1e-5)
    # self-checks: one episode you can check by hand, then the batch against course_lib
    r = torch.tensor([[[1.0, 0.0, 2.0]]])
    V = torch.tensor([[[0.5, 1.0, -1.0]]])
    ones = torch.ones_like(r)
    # δ = (1 + 0.9·1 − 0.5, 0 + 0.9·(−1) − 1, 2 − (−1)) = (1.4, −1.9, 3);  γλ = 0.45
    expected = torch.tensor([[[1.4 + 0.45 * (-1.9 + 0.45 * 3), -1.9 + 0.45 * 3, 3.0]]])
    A = gae(r, V, ones, 0.9, 0.5)
    assert A.shape == r.shape, f"advantages must have the shape of rewards {tuple(r.shape)}, got {tuple(A.shape)}"
    assert torch.allclose(A, expected), f"expected {expected.tolist()}, got {A.tolist()}"
    assert torch.allclose(gae(r, V, ones, 0.9, 0.0), torch.tensor([[[1.4, -1.9, 3.0]]])), "λ = 0 must give the TD errors δ_t"
    R = torch.tensor([[[1.0 + 0.9 * 1.8, 0.0 + 0.9 * 2.0, 2.0]]])          # R_t = r_t + γR_{t+1}
    assert torch.allclose(gae(r, V, ones, 0.9, 1.0), R - V), "λ = 1 must give R_t − V(s_t)"
    mask = torch.tensor([[[1.0, 1.0, 0.0]]])                                # ended after two steps
    junk = torch.tensor([[[0.5, 1.0, 7.0]]])                                # the baseline's value past the end
    assert torch.allclose(gae(r * mask, junk, mask, 0.9, 0.5), torch.tensor([[[1.4 + 0.45 * -1.0, -1.0, 0.0]]])), \
        "values past the end of an episode must count as 0 (no bootstrap from junk), and Â = 0 there"
    for name, lam_ in lams.items():
        assert torch.allclose(A_batch[name], course_returns.gae(r_batch * m, V_batch, m, gamma, lam_), rtol=1e-5, atol=1e-5), \
            f"wrong on a batch of tasks × episodes × steps with different episode lengths ({name})"

# %% [markdown]
# ## Exercise 2.3 — the REINFORCE surrogate loss with a baseline (3 points)
#
# The policy gradient is $\nabla J = \mathbb E\big[\nabla\log\pi_\theta(a_t|s_t)\,(R_t - b(s_t))\big]$.
# A **surrogate loss** whose gradient is $-\nabla J$ is
#
# $$L(\theta) = -\frac{1}{\#\text{valid steps}} \sum_{\text{valid } t} \log\pi_\theta(a_t|s_t)\,\big(R_t - b(s_t)\big),$$
#
# per task (a `[T]` tensor), averaged over each task's own valid steps. The advantage $R_t - b(s_t)$
# is a **constant** in this loss: no gradient may flow into the returns or the baseline. Subtracting a
# baseline leaves the expected gradient unchanged and (a good one) reduces its variance.

# %%
# EXERCISE ex2.3: reinforce_loss_with_baseline
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    """−mean over each task's valid steps of log π(a|s)·(R − b), advantages detached: shape [T]."""
    ### BEGIN SOLUTION
    ### HINT: The advantage R_t − b(s_t) is a constant in the surrogate loss (Exercise 2.3): the gradient may flow through log π only, and minimising the loss must raise log π of actions with a positive advantage.
    ### HINT: Detach the advantage; the loss is one value per task: the mean over that task's own valid steps, i.e. a sum over dims (1, 2) of (… · mask) divided by the sum of the mask over the same dims, with a minus sign.
    advantages = (returns - baseline).detach()
    return -(log_prob * advantages * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp(min=1)
    ### END SOLUTION


# %%
# GRADED TEST: ex2.3 reinforce_loss_with_baseline (3 points)
# MUST NOT CALL: course_lib.rl.losses.masked_mean
with graded("ex2.3") as t:
    logp = torch.tensor(t.rng.normal(size=(2, 3, 5)), dtype=torch.float32, requires_grad=True)
    returns = torch.tensor(t.rng.normal(size=(2, 3, 5)), dtype=torch.float32)
    baseline = torch.tensor(t.rng.normal(size=(2, 3, 5)), dtype=torch.float32, requires_grad=True)
    mask = torch.tensor(np.arange(5) < t.rng.integers(1, 6, size=(2, 3, 1)), dtype=torch.float32)
    mask[:, 0] = 1                                                           # every task has a full episode
    mask[0, 1, 2:] = 0                                                       # and task 0 one that ended early
    logp_junk = logp + 1e3 * (1 - mask)                                      # junk where the mask is 0
    loss = reinforce_loss_with_baseline(logp_junk, returns, baseline, mask)
    assert loss.shape == (2,), f"one loss per task: shape (2,), got {tuple(loss.shape)}"
    grad_logp, grad_b = torch.autograd.grad(loss.sum(), [logp, baseline], allow_unused=True, materialize_grads=True)
    t.submit("loss per task", loss, rtol=1e-5, atol=1e-6)
    t.submit("∂(loss.sum())/∂log π", grad_logp, rtol=1e-5, atol=1e-6)
    t.submit("∂(loss.sum())/∂baseline", grad_b, rtol=1e-5, atol=1e-6)
    adv = (returns - baseline).detach() * mask
    expected = torch.stack([-(logp[i] * adv[i]).sum() / mask[i].sum() for i in range(2)])
    hint = "  (the sign: minimising the loss must increase log π of actions with positive advantage)" \
        if torch.allclose(loss, -expected) else ""
    assert torch.allclose(loss, expected, rtol=1e-5, atol=1e-6), f"expected {expected.tolist()}, got {loss.tolist()}{hint}"
    assert torch.allclose(grad_logp, -adv / mask.sum((1, 2), keepdim=True), rtol=1e-5, atol=1e-6), \
        "∂L/∂log π must be −(R − b)/#valid steps"
    assert torch.count_nonzero(grad_b) == 0, \
        "no gradient may flow into the baseline: the advantage R − b is a constant (detach it)"

# %% [markdown]
# **What the baseline buys.** For one task and a fixed policy, 30 independent batches of 5 episodes;
# on each, the policy gradient from your loss with $b = 0$ and with course_lib's linear feature baseline
# (fitted per batch, as in the MAML paper). Same mean direction, much smaller spread.

# %%
loss_fn = fallback(reinforce_loss_with_baseline, reference.reinforce_loss_with_baseline, "ex2.3")
returns_fn = fallback(discounted_returns, reference.discounted_returns, "ex2.1")
one_task = BatchedPointVelocity1D(np.array([1.0], dtype=np.float32), n_episodes=5)
generator = torch.Generator().manual_seed(3)
params = batched(theta0, 1)
estimates = {"no baseline": [], "linear baseline": []}
for _ in range(30):
    ep = sample_episodes(policy, batched(detached(theta0), 1), one_task, generator)
    R = returns_fn(ep.rewards, ep.mask, 0.99)
    b = baseline_values(fit_linear_baseline(ep.obs, R, ep.mask), ep.obs, ep.mask)
    for name, base in (("no baseline", torch.zeros_like(R)), ("linear baseline", b)):
        loss = loss_fn(log_prob(policy, params, ep), R, base, ep.mask).sum()
        estimates[name].append(flat(torch.autograd.grad(loss, list(theta0.values()))))
mean_no = torch.stack(estimates["no baseline"]).mean(0)
for name, gs in estimates.items():
    G = torch.stack(gs)
    cos = torch.nn.functional.cosine_similarity(G.mean(0), mean_no, dim=0).item()
    print(f"{name:16s} |mean gradient| {G.mean(0).norm():8.2f}   total variance {G.var(0).sum():10.1f}   "
          f"cos(mean, mean without baseline) {cos:.2f}")

# %% [markdown]
# ## Exercise 2.4 — the target-velocity reward (2 points)
#
# Write the task's reward from what the sampler records: the observation $v_t$ (before the step),
# the action $a_t$ and the task's target $v^*$. The environment applies the clipped force, then
# scores the **new** velocity:
#
# $$v_{t+1} = v_t + \Delta t\cdot\mathrm{clip}(a_t, -1, 1), \qquad r_t = -\big(v_{t+1} - v^*\big)^2,$$
#
# with $\Delta t$ = `DT` = 0.1 and the clip at `MAX_FORCE` = 1. `obs` and `actions` are `[T, N, H, 1]`,
# `targets` is `[T]`; return `[T, N, H]`. (The paper's half-cheetah goal-velocity task has the same
# shape of reward, $-|v - v^*|$ minus a control cost.)

# %%
# EXERCISE ex2.4: target_velocity_reward
def target_velocity_reward(obs, actions, targets):
    """r_t = −(v_t + DT·clip(a_t, ±MAX_FORCE) − v*)² for obs, actions [T, N, H, 1] and targets [T]."""
    ### BEGIN SOLUTION
    ### HINT: The environment scores the velocity AFTER the step (the two equations of Exercise 2.4): apply the dynamics v_{t+1} = v_t + Δt·clip(a_t) before computing the reward.
    ### HINT: Drop the trailing dimension of obs and actions (`[..., 0]`), clip with `.clamp(-MAX_FORCE, MAX_FORCE)`, and broadcast the targets over episodes and steps with `targets[:, None, None]`.
    v_next = obs[..., 0] + DT * actions[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
    return -(v_next - targets[:, None, None]) ** 2
    ### END SOLUTION


# %%
# GRADED TEST: ex2.4 target_velocity_reward (2 points)
with graded("ex2.4") as t:
    # random velocities, forces (many beyond ±1) and targets
    obs = torch.tensor(t.rng.normal(0.0, 1.5, size=(3, 4, 6, 1)), dtype=torch.float32)
    actions = torch.tensor(t.rng.normal(0.0, 2.0, size=(3, 4, 6, 1)), dtype=torch.float32)
    goals = torch.tensor(t.rng.uniform(-2, 2, size=3), dtype=torch.float32)
    mine_random = target_velocity_reward(obs, actions, goals)
    t.submit("rewards for random velocities and forces", mine_random, rtol=1e-5, atol=1e-5)
    # episodes sampled from the environment with a noisy policy: your rewards must be the environment's
    torch.manual_seed(t.torch_seed)
    noisy = GaussianPolicy(1, 1, hidden=(8,), init_log_std=0.7)             # σ ≈ 2: many actions beyond ±1
    ep = sample_episodes(noisy, batched(detached(parameters_of(noisy)), 3), BatchedPointVelocity1D(goals, 4),
                         torch.Generator().manual_seed(int(t.rng.integers(2**31 - 1))))
    mine = target_velocity_reward(ep.obs, ep.actions, goals)
    t.submit("rewards of sampled episodes", mine, rtol=1e-5, atol=1e-5)
    # self-checks
    r = target_velocity_reward(torch.tensor([[[[0.5]]]]), torch.tensor([[[[2.0]]]]), torch.tensor([1.0]))
    assert r.shape == (1, 1, 1), f"rewards must be [T, N, H] = (1, 1, 1) here, got {tuple(r.shape)}"
    assert torch.allclose(r, torch.tensor(-0.16)), \
        f"v = 0.5, a = 2 (clipped to 1), v* = 1: v' = 0.6 and r = −(0.6 − 1)² = −0.16, got {r.item():.4f}"
    assert mine_random.shape == (3, 4, 6), f"rewards must be [T, N, H] = (3, 4, 6), got {tuple(mine_random.shape)}"
    assert mine.shape == ep.rewards.shape, f"rewards must be [T, N, H] = {tuple(ep.rewards.shape)}, got {tuple(mine.shape)}"
    assert torch.allclose(mine, ep.rewards, rtol=1e-5, atol=1e-5), "your rewards differ from the environment's on sampled episodes"

# %% [markdown]
# ## Exercise 2.5 — one-step adaptation (3 points)
#
# MAML's inner loop for RL: from the same θ, every task i gets its **own** adapted policy after one
# REINFORCE step on its own episodes, $\theta'_i = \theta - \alpha \nabla_\theta L_i^\text{REINFORCE}(\theta)$.
# Adapt all tasks at once: expand θ along a leading task dimension with `batched(theta, T)`; the loss
# `reinforce_loss(policy, params, episodes)` returns one value per task — take its **sum**, so that
# slice i of the gradient is task i's own gradient (a mean would divide every step by T). Return the
# task-batched θ′ (every tensor `[T, ...]`), detached: it is only used to sample new episodes.

# %%
# EXERCISE ex2.5: adapt_one_step
def adapt_one_step(policy, theta, episodes, alpha):
    """θ'_i = θ − α∇L_i(θ) for every task of `episodes` (which carry advantages): task-batched, detached."""
    ### BEGIN SOLUTION
    ### HINT: MAML's inner loop for RL (Exercise 2.5): every task gets its OWN θ′_i from the same θ, so you need one copy of θ per task, and each copy must see only its own task's gradient.
    ### HINT: `batched(theta, T)` (T = `episodes.n_tasks`) gives one copy of θ per task; `reinforce_loss(policy, params, episodes)` returns one loss per task: differentiate their SUM (a mean would divide every step by T).
    ### HINT: Then `p − α·g` for every tensor, `.detach()`-ed: the result is only used to sample new episodes.
    params = batched(theta, episodes.n_tasks)
    loss = reinforce_loss(policy, params, episodes).sum()
    grads = torch.autograd.grad(loss, list(params.values()))
    return {k: (p - alpha * g).detach() for (k, p), g in zip(params.items(), grads)}
    ### END SOLUTION


# %%
# GRADED TEST: ex2.5 adapt_one_step (3 points)
# MUST NOT CALL: course_lib.meta.maml.adapt
with graded("ex2.5") as t:
    torch.manual_seed(t.torch_seed)
    small = GaussianPolicy(1, 1, hidden=(8, 8))
    theta_s = parameters_of(small)
    goals = t.rng.uniform(-2, 2, size=3).astype(np.float32)
    ep = with_advantages(sample_episodes(small, batched(detached(theta_s), 3), BatchedPointVelocity1D(goals, 5),
                                         torch.Generator().manual_seed(int(t.rng.integers(2**31 - 1)))))
    alpha = float(t.rng.uniform(0.05, 0.2))
    new = adapt_one_step(small, theta_s, ep, alpha)
    assert isinstance(new, dict) and set(new) == set(theta_s), "return a dict with the same keys as theta"
    for k, v in theta_s.items():
        assert new[k].shape == (3, *v.shape), f"{k!r} must be task-batched, shape {(3, *v.shape)}, got {tuple(new[k].shape)}"
    t.submit("θ'", new, rtol=1e-5, atol=1e-6)
    t.submit("θ' requires grad", [v.requires_grad for v in new.values()])
    # course_lib's inner loop, one first-order step on the sum of the per-task losses
    expected = detached(inner_update(batched(theta_s, 3), lambda p: reinforce_loss(small, p, ep).sum(), alpha,
                                     first_order=True))
    for k, v in theta_s.items():
        step, right = new[k] - v.detach(), expected[k] - v.detach()
        hint = ("  (your step is 1/T of the right one: sum the per-task losses, do not average them)"
                if torch.allclose(step, right / 3, atol=1e-6) else
                "  (your step goes uphill on the loss: θ − α∇L)" if torch.allclose(step, -right, atol=1e-6) else "")
        assert torch.allclose(new[k], expected[k], rtol=1e-5, atol=1e-6), (
            f"θ'_i is wrong for {k!r}: each task takes one step θ − α∇L_i(θ) on its own loss{hint}")
    assert not any(v.requires_grad for v in new.values()), "return detached tensors"

# %% [markdown]
# **One step to a new target velocity.** Meta-train a small policy with first-order MAML for 60
# iterations (~15 s; `course_lib.rl.train.train_rl`), then, on four held-out targets: roll out 20
# episodes, score them with **your reward**, compute advantages, adapt with **your one step**, and
# roll out again. For comparison, the same single step from the untrained initialisation.

# %%
config = default_rl_config("point_velocity", "fomaml", iterations=60, meta_batch=10, episodes=10, hidden=(32, 32),
                           meta_optimizer="adam", meta_lr=0.01, seed=0)
start = time.perf_counter()
ckpt = train_rl(config, progress=True)
print(f"meta-trained {config.iterations} iterations in {time.perf_counter() - start:.0f} s")

reward_fn = fallback(target_velocity_reward, reference.target_velocity_reward, "ex2.4")
adapt_fn = fallback(adapt_one_step, reference.adapt_one_step, "ex2.5")
test_targets = torch.tensor([-1.8, -0.6, 0.7, 1.9])
test_env = BatchedPointVelocity1D(test_targets, n_episodes=20)


def one_step(theta, seed=1):
    """Episodes before and after one adaptation step from θ, on the four test targets."""
    generator = torch.Generator().manual_seed(seed)
    pre = sample_episodes(policy_meta, batched(detached(theta), 4), test_env, generator)
    pre = with_advantages(pre.with_(rewards=reward_fn(pre.obs, pre.actions, test_targets) * pre.mask), config.gamma)
    post = sample_episodes(policy_meta, adapt_fn(policy_meta, detached(theta, True), pre, config.alpha), test_env, generator)
    return pre, post


policy_meta = build_policy(config)
results = {"meta-trained (FOMAML, 60 it.)": one_step(ckpt["theta"]),
           "untrained": one_step(parameters_of(build_policy(config)))}
fig, axes = new_figure(ncols=2, width=5.5, height=3.6)
axes[1].sharey(axes[0])
time_s = DT * np.arange(test_env.horizon)
for ax, (name, (pre, post)) in zip(axes, results.items()):
    print(f"{name:30s} return before {pre.total_return().mean():7.1f}   after one step {post.total_return().mean():7.1f}")
    for i, target in enumerate(test_targets):              # tasks, not methods: colours no method uses
        ax.plot(time_s, pre.obs[i, :, :, 0].mean(0), color=OTHER_COLORS[i], ls=":", lw=1)
        ax.plot(time_s, post.obs[i, :, :, 0].mean(0), color=OTHER_COLORS[i], lw=2, label=f"target v* = {target:+.1f}")
        ax.axhline(target, color=OTHER_COLORS[i], ls="--", lw=0.8)
    ax.set(title=name, xlabel=TIME_AXIS)
    ax.grid(alpha=0.3)
axes[0].set_ylabel(f"{VELOCITY_AXIS},\nmean over 20 episodes")
for style, label in ((":", "before adapting"), ("-", "after one step (your reward and update)"), ("--", "target")):
    axes[0].plot([], [], color="grey", ls=style, label=label)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=7)
plt.show()

# %% [markdown]
# ## Exercise 2.6 — conjugate gradient for the TRPO step (3 points)
#
# TRPO's meta-update (used by MAML for RL) needs $x = H^{-1}g$, where $H$ is the Hessian of the KL
# divergence — far too large to form or invert (one row per parameter). Conjugate gradient solves
# $Hx = b$ for symmetric positive-definite H using only products $v \mapsto Hv$, which autograd gives
# cheaply (Hessian-vector products). Implement it (Nocedal & Wright, Algorithm 5.2):
#
# ```
# x = 0, r = b, p = b, rr = r·r              (if rr = 0, return x: b = 0 has the solution 0)
# repeat iters times:
#     Ap = Avp(p);  step = rr / (p·Ap)
#     x = x + step·p;  r = r − step·Ap
#     rr_new = r·r;  stop if rr_new < tol
#     p = r + (rr_new / rr)·p;  rr = rr_new
# ```

# %%
# EXERCISE ex2.6: conjugate_gradient
def conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    """Solve A x = b for symmetric positive-definite A, given only the function v ↦ A v."""
    ### BEGIN SOLUTION
    ### HINT: Conjugate gradient (Nocedal & Wright, Algorithm 5.2) needs only the products v ↦ Av, never A itself: follow the pseudo-code of Exercise 2.6 line by line.
    ### HINT: Start from `x = torch.zeros_like(b)`, r and p clones of b, `rr = r @ r` (return x at once when it is 0); in the loop `step = rr / (p @ Ap)`, and stop when the new `r @ r` falls below `tol`.
    ### HINT: The next search direction mixes the new residual with the old direction, `p = r + (rr_new / rr)·p`; then `rr = rr_new`.
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    if rr == 0:
        return x
    for _ in range(iters):
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x, r = x + step * p, r - step * Ap
        rr_new = r @ r
        if rr_new < tol:
            break
        p, rr = r + (rr_new / rr) * p, rr_new
    return x
    ### END SOLUTION


# %%
# GRADED TEST: ex2.6 conjugate_gradient (3 points)
# MUST NOT CALL: course_lib.rl.trpo.conjugate_gradient, course_lib.rl.trpo.conjugate_gradient_with_product
with graded("ex2.6") as t:
    Q, _ = torch.linalg.qr(torch.tensor(t.rng.normal(size=(30, 30))))
    H = Q @ torch.diag(torch.logspace(0, 2, 30, dtype=torch.float64)) @ Q.T    # SPD, condition number 100
    b = torch.tensor(t.rng.normal(size=30))
    calls = []
    Avp = lambda v: calls.append(1) or H @ v
    x = conjugate_gradient(Avp, b, iters=60, tol=1e-20)
    n_calls = len(calls)
    assert x.shape == b.shape, f"x must have the shape of b {tuple(b.shape)}, got {tuple(x.shape)}"
    t.submit("x after up to 60 iterations", x, rtol=1e-6, atol=1e-8)
    residual = ((H @ x - b).norm() / b.norm()).item()
    assert residual < 1e-8, f"‖Hx − b‖/‖b‖ = {residual:.2e} after up to 60 iterations on a 30×30 system: CG should have converged"
    # the first iterates of CG are the same for every correct implementation (and not steepest descent's)
    for k in (1, 2, 5):
        t.submit(f"x after {k} iteration(s)", conjugate_gradient(lambda v: H @ v, b, iters=k, tol=1e-30), rtol=1e-6, atol=1e-8)
    # CG needs at most as many iterations as A has distinct eigenvalues: 3 here (steepest descent does not)
    D = torch.diag(torch.tensor(t.rng.permutation([1.0, 1.0, 4.0, 4.0, 9.0])))
    b5 = torch.tensor(t.rng.normal(size=5))
    x5 = conjugate_gradient(lambda v: D @ v, b5, iters=3, tol=1e-30)
    t.submit("x after 3 iterations, 3 distinct eigenvalues", x5, rtol=1e-6, atol=1e-8)
    assert torch.allclose(x5, b5 / D.diagonal(), rtol=1e-6, atol=1e-8), \
        f"3 iterations must solve a system with 3 distinct eigenvalues exactly: got {x5.tolist()}; are the directions conjugate?"
    x0 = conjugate_gradient(lambda v: H @ v, torch.zeros(30, dtype=torch.float64), iters=5)
    t.submit("x for b = 0", x0, rtol=0, atol=1e-12)
    assert torch.isfinite(x0).all() and torch.count_nonzero(x0) == 0, "b = 0 must give x = 0 (not 0/0 = NaN)"
    assert 0 < n_calls <= 61, f"use Avp once per iteration (called {n_calls} times for 60 iterations)"

# %% [markdown]
# **A TRPO step with your conjugate gradient.** On the meta-trained policy's pre-update episodes
# (in float64, so that rounding does not blur the picture): $g$ = the policy-gradient loss's
# gradient, $H$ = the Hessian of the mean KL between the old and the new policy (by double backprop —
# never formed), $x = H^{-1}(-g)$ by your CG, and TRPO's step $s = \sqrt{2\delta / x^\top H x}\;x$, on
# which the quadratic model of the KL, ½sᵀHs, equals the trust region δ = 0.01. The true KL of a
# ReLU policy is not quadratic that far out, which is why TRPO then backtracks along s until the
# KL is within δ (and the loss improved).

# %%
cg = fallback(conjugate_gradient, reference.conjugate_gradient, "ex2.6")
pre, _ = results["meta-trained (FOMAML, 60 it.)"]
pre = with_advantages(pre, config.gamma)
pre = Episodes(*(t.double() for t in (pre.obs, pre.actions, pre.rewards, pre.mask, pre.advantages)))
policy64 = build_policy(config).double()
theta_t = {k: v.double().requires_grad_(True) for k, v in detached(ckpt["theta"]).items()}
g = flat(torch.autograd.grad(reinforce_loss(policy64, batched(theta_t, 4), pre).mean(), list(theta_t.values())))
with torch.no_grad():
    old_mean, old_log_std = action_distribution(policy64, batched(theta_t, 4), pre.obs)
mean_kl = lambda th: kl_from(policy64, batched(th, 4), pre, old_mean, old_log_std).mean()
hvp = hvp_double_backprop(mean_kl(theta_t), list(theta_t.values()))
Hv = lambda v: hvp(v) + 1e-5 * v                                         # TRPO's damping
iterations = [1, 2, 3, 5, 10, 20, 50]
residuals = [((Hv(x) + g).norm() / g.norm()).item() for x in (cg(Hv, -g, k) for k in iterations)]
x = cg(Hv, -g, 10)                                                       # TRPO uses 10 iterations
step = x * torch.sqrt(2 * 0.01 / (x @ Hv(x)))
print(f"{g.numel()} parameters; quadratic model of the KL at the full step: {0.5 * (step @ Hv(step)).item():.4f}")
for k in range(15):                                                      # TRPO's backtracking line search
    fraction = 0.8 ** k
    moved = {name: (theta_t[name] + fraction * s).detach()
             for name, s in zip(theta_t, unflat(step, list(theta_t.values())))}
    kl_now = mean_kl(moved).item()
    print(f"  step fraction {fraction:.3f}: true KL {kl_now:.4f}")
    if kl_now <= 0.01:
        break
fig, ax = new_figure(width=5.5, height=3.4)
ax.semilogy(iterations, residuals, "o-", color=OTHER_COLORS[0])     # not a method: a colour no method uses
ax.set(xlabel="conjugate-gradient iterations (Hessian-vector products)",
       ylabel="relative residual ‖Hx + g‖ / ‖g‖\n(dimensionless)", title="your conjugate gradient on the KL Hessian")
ax.grid(alpha=0.3, which="both")
plt.show()
