# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
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
# # 04 · Meta-RL: MAML on 2-D navigation
#
# **Learning objectives.** After this notebook you can
# 1. describe the 2-D navigation task family of the MAML paper (§5.3) and its test protocol;
# 2. compute the pieces of a policy gradient — discounted returns, a linear baseline, GAE and the
#    REINFORCE loss — with `course_lib.rl`, and measure how much the baseline cuts the gradient's variance;
# 3. write MAML for reinforcement learning (the paper's Algorithm 3), state its meta-gradient in full —
#    what the usual surrogate keeps and what it drops — and say what **MAML-TRPO** optimises: the TRPO
#    surrogate *at the adapted policy*, under a KL trust region;
# 4. (optional deep dive, section 7) explain why the trust region's curvature *through the adaptation
#    step* is a third-order object, and how `course_lib.rl.curvature` gets it exactly at $\theta_{old}$ with
#    second derivatives only;
# 5. adapt shipped policies to a goal of your choice, and read the reproduction table — MAML against the
#    pretrained, random-init and oracle baselines — beside the paper's numbers.
#
# **Prerequisites.** Notebook 03 (MAML on sinusoids, the inner step and the meta-gradient); a first
# look at policy gradients helps ([`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb) practises each building block).
#
# **Run time.** 30–80 s on a 2-core CPU (measured: 28–37 s with two training runs sharing the
# machine; about 80 s on a busier day). Most of it is the reproduction table (section 5: 7 policies ×
# 4 steps × 40 tasks × 40 episodes, 15–30 s); the live training run takes 4–15 s.
#
# Notation (δ is the TD error, ε_KL the trust region, $H$ always a Hessian) and the formulas of the
# workbook: [the formula sheet](../docs/formulas.md).

# %%
# %matplotlib inline
import time

import gymnasium as gym
import numpy as np
import torch

import course_lib.envs  # noqa: F401  (registers the gymnasium ids "course_lib/Navigation2D-v0", …)
from course_lib.functional import num_parameters, parameters_of
from course_lib.meta import CONTEXT
from course_lib.ui.plots import new_figure
from course_lib.rl.baseline import baseline_values, fit_linear_baseline
from course_lib.rl.curvature import meta_kl_curvature
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.evaluate import held_out_tasks, reference_returns
from course_lib.rl.losses import reinforce_loss
from course_lib.rl.returns import discounted_returns, gae
from course_lib.rl.config import build_policy, default_rl_config, initial_params
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.rl.trpo import conjugate_gradient, flat, hvp_double_backprop
from course_lib.ui.navigation import navigation_adaptation, navigation_widget
from course_lib.ui.returns import plot_paired_returns, plot_training_returns, reproduction_table
from course_lib.rl.reproduction import shipped_checkpoint

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free

# %% [markdown]
# ## 1. The task family
#
# A point mass starts at the origin of the plane and must reach a goal $g \sim U[-0.5, 0.5]^2$; one goal
# is one task. The observation is the position $x_t$, the action a velocity, clipped to $\pm 0.1$ per
# coordinate, and the reward is the negative distance to the goal after the move:
#
# $$x_{t+1} = x_t + \operatorname{clip}(u_t, -0.1, 0.1), \qquad r_t = -\lVert x_{t+1} - g \rVert_2 .$$
#
# An episode ends within 0.01 of the goal, or after 100 steps (the horizon). The policy is not told the goal —
# it must infer it from the rewards of its own episodes, which is what the inner policy-gradient step
# does. The environment is an ordinary gymnasium env (`course_lib/tasks/navigation.py`):

# %% tags=["nbval-check-output"]
env = gym.make("course_lib/Navigation2D-v0", task=[0.3, -0.2])
obs, info = env.reset(seed=0)
print("start", obs, " goal", info["task"])
for action in ([0.1, 0.0], [0.5, -0.5], [0.1, -0.1]):     # the second one is clipped to (0.1, −0.1)
    obs, reward, terminated, truncated, _ = env.step(np.array(action, dtype=np.float32))
    print(f"action {action} → position {np.round(obs, 2)}, distance to the goal {-reward:.3f}, terminated {terminated}")

# %% [markdown]
# Training never steps these one-task envs: `make_batched_env` builds a torch version that steps
# T tasks × N episodes at once (bitwise the same numbers), and `sample_episodes` rolls out a policy in it,
# returning tensors of shape `[T, N, steps, …]` (tasks, episodes, time steps) with a mask for episodes that have ended.
#
# **The paper's test protocol** (§5.3, `course_lib.rl.evaluate`): 40 held-out goals; per goal, 40
# episodes with the current policy, then one REINFORCE step on them (α = 0.1, then 0.05 for later steps);
# report the mean return after 0, 1, 2, 3 steps.
#
# ## 2. Policy gradients in four functions
#
# The inner step of MAML for RL is one **REINFORCE** step (Williams 1992). For a Gaussian policy
# $\pi_\theta(a \mid s) = \mathcal N(\mu_\theta(s), \sigma^2)$ (a 2×100 ReLU network for $\mu$, a learned
# $\log\sigma$ — `course_lib.models.GaussianPolicy`),
#
# $$\nabla_\theta J(\theta) = \mathbb E\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, \hat A_t\Big],
# \qquad \mathcal L^{\text{RE}}(\theta) = -\operatorname{mean}_t \big[\log \pi_\theta(a_t \mid s_t)\, \hat A_t\big]
# \quad (\texttt{reinforce\_loss}).$$
#
# The loss's gradient is *proportional* to $-\nabla_\theta J$, not equal to it: it averages over the
# task's valid steps instead of summing over each episode, and $\hat A_t$ is normalised per task (mean 0,
# standard deviation 1 — the mean is a constant baseline, the division a positive scale). So
# $-\nabla\mathcal L^{\text{RE}} = c\,\widehat{\nabla J}$ with a per-task factor $c > 0$ that depends on the number of
# steps and the spread of the returns. That is why the inner step size α = 0.1 belongs to *this*
# normalisation: with a summed loss or raw advantages the same α would be a very different step.
#
# What to use for the advantage $\hat A_t$?
#
# * the **return-to-go** $R_t = \sum_{k \ge t} \gamma^{k-t} r_k$ (`discounted_returns`, γ = 0.99) is unbiased
#   but noisy;
# * subtracting a **baseline** $V(s_t)$ keeps it unbiased and cuts the noise. The paper uses a *linear*
#   baseline (Duan et al. 2016): $V(s_t) = w^\top [s, s^2, t, t^2, t^3, 1]$, fitted per task by ridge
#   regression on that task's episodes (`fit_linear_baseline`, `baseline_values`);
# * **GAE** (Schulman et al. 2016) sums TD errors $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$:
#   $\hat A_t = \sum_{k \ge t} (\gamma\lambda)^{k-t} \delta_k$ (`gae`). With λ = 1 it is exactly
#   $R_t - V(s_t)$ — the paper's choice and the library's default; λ < 1 trades a little bias for less
#   variance.
#
# `course_lib.rl.tasks.with_advantages` does all of it (and normalises Â per task). To *see* what the
# baseline buys, take a freshly initialised policy on one goal, estimate the gradient from 20
# independent batches of 10 episodes, and compare the spread of the estimates with their mean:
# $\mathbb E\lVert \hat g - \bar g \rVert^2 / \lVert \bar g \rVert^2$ (smaller is better).

# %% tags=["nbval-check-output"]
config = default_rl_config("navigation2d", "maml")
torch.manual_seed(0)
policy = build_policy(config)                     # π_θ: 2 → 100 → 100 → 2 (ReLU) and log σ
theta = parameters_of(policy)
print(f"policy parameters: {num_parameters(theta):,}")

one_goal = make_batched_env("navigation2d", np.array([[0.3, -0.2]], dtype=np.float32), n_episodes=10)
generator = torch.Generator().manual_seed(0)
estimates = {"R_t (no baseline)": [], "R_t − V(s_t) (linear baseline)": [], "GAE, λ = 0.95": []}
for _ in range(20):
    params = {k: v.detach().clone().requires_grad_(True) for k, v in initial_params(theta, 1, config).items()}
    episodes = sample_episodes(policy, params, one_goal, generator)            # [1 task, 10, 100, …]
    R = discounted_returns(episodes.rewards, episodes.mask, gamma=0.99)
    V = baseline_values(fit_linear_baseline(episodes.obs, R, episodes.mask), episodes.obs, episodes.mask)
    for key, A in zip(estimates, (R, R - V, gae(episodes.rewards, V, episodes.mask, 0.99, 0.95))):
        loss = reinforce_loss(policy, params, episodes.with_(advantages=A)).sum()
        estimates[key].append(flat(torch.autograd.grad(loss, list(params.values()))))

assert torch.allclose(gae(episodes.rewards, V, episodes.mask, 0.99, 1.0), (R - V) * episodes.mask, atol=1e-4)
print("GAE with λ = 1 equals R_t − V(s_t): checked")
spreads = {}
for key, g in estimates.items():
    g = torch.stack(g)
    spreads[key] = (((g - g.mean(0)) ** 2).sum(1).mean() / g.mean(0).norm() ** 2).item()
    print(f"{key:>32}: relative variance of the gradient estimate {spreads[key]:.2g}")
no_baseline, linear, gae_095 = spreads.values()
print(f"quoted below: var_no_baseline = {no_baseline:.2g}, var_linear = {linear:.2g}, "
      f"var_ratio = {no_baseline / linear:.1f}")

# %% [markdown]
# The linear baseline — eight weights per task, fitted in closed form — cuts the relative variance
# several-fold on this task (from <span data-out="var_no_baseline">12</span> to
# <span data-out="var_linear">1.6</span>, <span data-out="var_ratio">7.4</span>×), and GAE with λ < 1 a
# little more. In MAML the inner step sees only 20
# episodes per task, so this matters twice: a noisy inner gradient gives a noisy adapted policy, and the
# meta-gradient differentiates *through* that step.
#
# ## 3. MAML for RL: Algorithm 3, and MAML-TRPO
#
# The paper's Algorithm 3, and where each line lives in `course_lib/rl/train.py`:
#
# | Algorithm 3 (MAML for RL) | `course_lib` |
# |---|---|
# | sample a batch of tasks $\mathcal T_i \sim p(\mathcal T)$ (20 goals) | `train_rl` |
# | sample K = 20 trajectories $\mathcal D_i$ with $f_\theta$ in each $\mathcal T_i$ | `sample_meta_batch` (`pre`) |
# | $\theta'_i = \theta - \alpha \nabla_\theta \mathcal L^{\text{RE}}_{\mathcal T_i}(f_\theta)$ on $\mathcal D_i$ | `adapted` → `inner_update` (α = 0.1) |
# | sample trajectories $\mathcal D'_i$ with $f_{\theta'_i}$ | `sample_meta_batch` (`post`) |
# | $\theta \leftarrow \theta - \beta \nabla_\theta \sum_i \mathcal L_{\mathcal T_i}(f_{\theta'_i})$ on $\mathcal D'_i$ | `meta_loss_and_kl` + `trpo_step` |
#
# The sampler adapts cheaply (no graph) just to roll out $\theta'_i$; the learner then *recomputes*
# $\theta'_i(\theta)$ with the graph kept, so that the meta-gradient flows through the inner step (the same
# $(I - \alpha\nabla^2\mathcal L_i)$ factor as in notebook 02).
#
# **The meta-gradient in full — what this estimator keeps and what it drops.** MAML-RL's objective is
# the return *after* adapting on episodes that θ itself sampled:
#
# $$\mathcal J(\theta) = \mathbb E_{\mathcal T}\;\mathbb E_{\tau \sim \pi_\theta}\big[J_{\mathcal T}(\theta'(\theta, \tau))\big],
# \qquad \theta'(\theta, \tau) = \theta - \alpha\nabla_\theta\mathcal L^{\text{RE}}(\theta; \tau).$$
#
# θ enters twice — through the step and through the distribution of the pre-update episodes τ — so
#
# $$\nabla_\theta\,\mathbb E_{\tau\sim\pi_\theta}\big[J(\theta')\big]
# = \underbrace{\mathbb E_\tau\Big[\Big(\frac{\partial\theta'}{\partial\theta}\Big)^{\!\top}\nabla J(\theta')\Big]}_{\text{through the step}}
# \;+\; \underbrace{\mathbb E_\tau\Big[J(\theta')\sum_t \nabla_\theta\log\pi_\theta(a_t \mid s_t)\Big]}_{\text{through the sampling of }\tau} .$$
#
# What the paper's estimator — and this library's — computes:
#
# * **It keeps** the first term, *with the pre-update episodes held fixed*: $\nabla J(\theta')$ estimated from
#   the post-update episodes $\mathcal D'_i$, and $\partial\theta'/\partial\theta = I - \alpha\nabla^2\mathcal L^{\text{RE}}$ by
#   differentiating the REINFORCE surrogate through the inner step.
# * **It drops** the second, score-function term: the credit the pre-update episodes deserve for making
#   the inner step informative (learning to *explore* for the adaptation).
# * **Its Jacobian is incomplete too.** The surrogate treats the sampled actions as data, so its Hessian
#   is $-\operatorname{mean}_t \hat A_t\nabla^2\log\pi_\theta(a_t \mid s_t)$. The Hessian of the return is
#   $\nabla^2 J = \mathbb E_\tau\big[R(\tau)\,(\nabla^2\log p_\theta(\tau) + \nabla\log p_\theta(\tau)\,\nabla\log p_\theta(\tau)^\top)\big]$
#   with $\log p_\theta(\tau) = \sum_t\log\pi_\theta(a_t \mid s_t)$ + terms free of θ: the surrogate misses the
#   $\mathbb E[\hat A\,\nabla\log\pi\,\nabla\log\pi^\top]$ part.
#
# So the usual MAML-RL gradient is biased. **Who fixed it:** E-MAML (Stadie et al. 2018; Al-Shedivat et
# al. 2018 derive the same term) adds the score-function term; DiCE (Foerster et al. 2018) builds a
# surrogate whose derivatives of every order are unbiased estimators, so both missing pieces appear —
# at a high variance; ProMP (Rothfuss et al. 2019) uses a low-variance curvature estimator (LVC) that
# keeps the outer-product term within each time step (a little bias, far less variance). On 2-D
# navigation the biased estimator still reproduces the paper's numbers (section 5); notebook 05 returns
# to what the dropped terms are worth.
#
# **MAML-TRPO.** The paper replaces the last line's plain gradient step by a TRPO step (Schulman et al.
# 2015). With $\pi_{old,i}$ the policy that sampled $\mathcal D'_i$ (that is, $\theta'_i(\theta_{old})$):
#
# $$\min_\theta\; \mathcal L(\theta) = -\frac1T \sum_i \mathbb E_{\mathcal D'_i}\Big[\frac{\pi_{\theta'_i(\theta)}(a \mid s)}{\pi_{old,i}(a \mid s)}\,\hat A\Big]
# \quad \text{s.t.} \quad \overline{\mathrm{KL}}(\theta) = \frac1T \sum_i \mathbb E_{\mathcal D'_i}\,
# \mathrm{KL}\big(\pi_{old,i} \,\Vert\, \pi_{\theta'_i(\theta)}\big) \le \varepsilon_{\mathrm{KL}} = 0.01 .$$
#
# Both the surrogate and the KL are evaluated at the **adapted** policies $\theta'_i(\theta)$; at $\theta_{old}$
# the surrogate's gradient is the first term above. Each meta-iteration moves θ as far as the KL
# budget allows in the direction that raises the post-update surrogate. *How* that step is computed —
# conjugate gradient, a curvature that passes through the adaptation step, the R-operator — is the
# optional deep dive of section 7; the rest of the notebook does not need it.
#
# ## 4. Adapting to one goal
#
# `navigation_adaptation` is the pure function behind the widget. For a goal you choose, it rolls out
# each shipped policy (the same action noise for every model), adapts it with REINFORCE steps exactly as
# the test protocol does (α for the first step, α/2 after), and returns the trajectories, the returns and
# a figure. The pretrained baseline is trained on all goals without an inner step (`--algo pretrain`), and
# "random init" is an untrained policy. A model whose checkpoint is not shipped says so.

# %% tags=["nbval-check-output"]
one_goal = navigation_adaptation(goal_x=0.35, goal_y=-0.25, alpha=0.1, steps=1, episodes=20, seed=0,
                                 models=("maml", "pretrain", "random"))
print(one_goal.summary())

# %%
one_goal.figure

# %% [markdown]
# Before adaptation (dashed) the MAML policy has not been told the goal, and its paths do not head for
# it; after **one** policy-gradient step on its own 20 episodes (solid) they do. The pretrained policy,
# trained on the same goals to do well *on average*, has no reason to be easy to adapt, and the random
# policy mostly wanders. Numbers on one goal are noisy — the table in section 5 averages 40 goals.
#
# **Explore.** Move the goal (the dotted square is the task distribution), take up to three steps, and
# change α (log scale). Things to try: α = 0.5 or 0.01 for MAML (meta-trained with 0.1); a goal in a
# corner; 0 steps to compare the unadapted policies; more steps for the pretrained policy.

# %% tags=["nbval-ignore-output"]
navigation_widget(models=("maml", "pretrain"), goal_x=0.35, goal_y=-0.25, alpha=0.1, steps=1, episodes=20)

# %% [markdown]
# ## 5. The reproduction table
#
# Every shipped policy on **the paper's own 40 test goals** (`paper_test_tasks`: regenerated the way
# the authors' test script drew them), 40 episodes per goal and step, α = 0.1 then 0.05, the same
# action noise for every policy (`reproduction_table`, the function behind `python bench/navigation.py`).
# Entries are the mean return ± its standard error over the 40 goals. The oracle is given the goal as an
# extra input and is not adapted. The last column is the paper's means over the same 40 goals
# (`reference_returns`, from the authors' data; their "pretrained" curve is unconfirmed — see
# `course_lib/reference/README.md`). Because the goals are the same, the table also compares task by
# task: the mean of the 40 differences ours − paper, with the standard error of that mean.
#
# It takes 15–30 s: 7 policies × 4 steps × 1 600 episodes of 100 steps.

# %% tags=["nbval-check-output"]
table = reproduction_table("navigation2d", steps=3, episodes=40, seed=0)
print(table.summary())
ours, paper_means = table.mean_and_stderr("maml"), table.paper
print(f"\nquoted below: maml_0 = {ours[0][0]:.1f}, maml_1 = {ours[1][0]:.1f}, maml_2 = {ours[2][0]:.1f}, "
      f"paper_maml_0 = {paper_means['maml'][0]:.1f}, paper_maml_1 = {paper_means['maml'][1]:.1f}, "
      f"paper_maml_2 = {paper_means['maml'][2]:.1f}, paper_pretrain_0 = {paper_means['pretrain'][0]:.1f}, "
      f"paper_oracle = {paper_means['oracle'][0]:.1f}")

# %%
table.figure

# %% [markdown]
# Same goals, same order: so we can compare **goal by goal**. Each point below is one goal — the
# paper's MAML return after one step (x) against ours (y); above the dashed diagonal ours did better on
# that goal. Far goals cost both policies more (bottom left): that spread is what makes the returns'
# own standard errors large, and what the paired differences cancel.

# %%
fig, ax = new_figure(width=5.0, height=4.6)
plot_paired_returns(ax, table, step=1, models=("maml",));

# %% [markdown]
# How to read it:
#
# * **Step 0 is task-agnostic.** Before adaptation no policy knows the goal; MAML's return there is about
#   that of the pretrained policy (the paper: <span data-out="paper_maml_0">−40.4</span> and
#   <span data-out="paper_pretrain_0">−40.8</span>).
# * **One step does most of the work for MAML.** The paper's MAML goes from −40.4 to
#   <span data-out="paper_maml_1">−11.7</span> in one step and to about <span data-out="paper_maml_2">−3.3</span>
#   in two; ours from <span data-out="maml_0">−40.3</span> to <span data-out="maml_1">−10.5</span> and
#   <span data-out="maml_2">−3.3</span>. The pretrained and random-init policies improve slowly with the same
#   step size and the same episodes.
# * **The oracle** is told the goal: its return is what perfect task identification buys (the paper:
#   <span data-out="paper_oracle">−2.3</span>, the same scale as MAML after two or three steps).
# * **Our numbers and the paper's** come from the same goals but other episodes. A goal far from the
#   start costs every policy more, so the paired differences vary much less than the returns do: read
#   "ours − paper" with its own standard error. The reference PyTorch reproduction (pytorch-maml-rl)
#   reaches −14.1 ± 1.5 after one step with its own test script (`course_lib/reference/README.md`).
#
# ## 6. Meta-training: a short live run and the shipped checkpoint
#
# `train_rl` runs Algorithm 3 with TRPO and writes an atomic, resumable checkpoint (with a CSV history
# beside it). A live run with the paper's settings costs several seconds per meta-iteration on this
# machine, so we run **6 iterations** at a quarter of the size (10 goals × 10 episodes) — enough to see the
# loop working, not to learn much.

# %% tags=["nbval-ignore-output"]
live_config = default_rl_config("navigation2d", "maml", iterations=6, meta_batch=10, episodes=10,
                                checkpoint_every=100)
live = train_rl(live_config, out=None, progress=True)
print(f"{live['iteration']} iterations in {live['wall_time']:.1f} s "
      f"({live['wall_time'] / live['iteration']:.1f} s per meta-iteration)")

# %% tags=["nbval-ignore-output"]
print("live run, mean return before / after the inner step, per iteration:")
for h in live["history"]:
    print(f"  iteration {h['iteration']}: {h['return_before']:7.1f} → {h['return_after']:7.1f}"
          f"   (TRPO step accepted: {bool(h['accepted'])}, KL {h['kl']:.4f})")

# %% tags=["nbval-check-output"]
# Six TRPO steps amplify the CPU's last-bit rounding into the first decimal; what the run shows does not change:
print("the inner step raised the return in every iteration:",
      all(h["return_after"] > h["return_before"] for h in live["history"]))
print("every TRPO step was accepted within the KL radius:",
      all(h["accepted"] and h["kl"] <= live_config.max_kl for h in live["history"]))

# %% [markdown]
# Every iteration the return after the inner step is higher than before it (the inner step helps even
# from a random policy), and TRPO's step stays within the KL radius $\varepsilon_{\mathrm{KL}}$ = 0.01. The
# shipped checkpoint is the full configuration (20 goals × 20 episodes, 2×100 policy, α = 0.1,
# $\varepsilon_{\mathrm{KL}}$ = 0.01, rllab's Glorot-uniform initialisation) after 110 iterations. How it was
# chosen among training seeds, and what other initialisations and longer training do, is in
# [docs/reproduction.md](../docs/reproduction.md) (navigation). To reproduce it, and each baseline:
#
# ```bash
# python -m course_lib train navigation2d --algo maml --iterations 110 --seed 2
# python -m course_lib train navigation2d --algo fomaml --iterations 150   # the others' iterations: docs/reproduction.md
# ```
#
# Its training curve — the mean return of the pre- and post-update episodes of each meta-batch (the
# training goals, not the held-out ones) — and its cost on this project's 2-core machine:

# %% tags=["nbval-ignore-output"]
shipped_maml = shipped_checkpoint("navigation2d_maml")
print(f"shipped MAML: {shipped_maml['iteration']} iterations, {shipped_maml['wall_time'] / 60:.1f} min of "
      f"training ({shipped_maml['wall_time'] / shipped_maml['iteration']:.1f} s per meta-iteration)")

# %%
paper = reference_returns("navigation2d")["maml"]
fig, ax = new_figure(width=7.0, height=4.2)
plot_training_returns(ax, {"maml": shipped_maml["history"]},
                      reference={"paper, before adaptation (held-out)": float(np.mean(paper[0])),
                                 "paper, after one step (held-out)": float(np.mean(paper[1]))},
                      title="shipped MAML-TRPO run on 2-D navigation");

# %% [markdown]
# Both curves rise at first: the policy learns to move at all, and to stay inside the goal square. Then
# the return *before* adaptation levels off near −40 — about what a policy that does not know the goal
# can get, and not what MAML optimises — while the return *after* one step settles far above it. That
# gap is what meta-training buys: an initialisation from which one noisy policy-gradient step on 20
# episodes goes a long way. (The curves are measured on each iteration's own training goals, so they
# are noisier than the held-out table.)

# %% [markdown]
# ## 7. Deep dive (optional): the TRPO step and its curvature
#
# This section explains how `trpo_step` solves section 3's MAML-TRPO problem. Skip it on a first read.
#
# TRPO linearises the surrogate ($g = \nabla \mathcal L$) and takes the KL to second order
# ($H = \nabla^2 \overline{\mathrm{KL}}$ at $\theta_{old}$), so the step is
#
# $$x = H^{-1}(-g) \;\text{(conjugate gradient, 10 iterations)}, \qquad
# \Delta\theta = \sqrt{2\varepsilon_{\mathrm{KL}} / x^\top H x}\; x,$$
#
# followed by a backtracking line search that checks the real surrogate and KL. Conjugate gradient never
# forms $H$ (10 604 × 10 604 here): it only needs products $v \mapsto Hv$.
#
# **Why the curvature is a third-order object.** Write $J_i = \partial\theta'_i/\partial\theta = I - \alpha\nabla^2\mathcal L^{\text{RE}}_i(\theta)$
# (a Jacobian; in this section only, $J$ is not the return) and $H'_i$ for the KL's Hessian with respect to the adapted parameters. The chain rule, applied twice, gives
#
# $$\nabla^2_\theta \overline{\mathrm{KL}}\, v = \sum_i J_i^\top H'_i J_i\, v \;+\; \sum_i \big(\partial_\theta J_i[v]\big)^\top \nabla_{\theta'}\overline{\mathrm{KL}} .$$
#
# The second term contains $\partial J_i / \partial\theta$, a **third** derivative of the inner loss;
# differentiating the KL twice through the inner step (plain double backprop) builds exactly that
# graph. But TRPO only needs $H$ at $\theta_{old}$, where each adapted policy *is* the sampling policy:
# the KL sits at its minimum, zero, so $\nabla_{\theta'}\overline{\mathrm{KL}} = 0$ and the third-order term
# vanishes. What is left, $\sum_i J_i H'_i J_i v$ ($J_i$ is symmetric), needs only Hessian-vector products
# of the support loss and of the KL — `course_lib.rl.curvature.meta_kl_curvature`. It takes both by
# Pearlmutter's R-operator (`course_lib/rl/r_operator.py`): one forward pass that carries each layer's
# tangent $\frac{d}{d\varepsilon} z_l(\theta + \varepsilon v)$ and one backward pass that carries the gradient's,
# with no graph of the backward pass to record and differentiate. At $\theta'_{old}$ the KL's Hessian
# $H'_i$ is the policy's Fisher matrix. With a learned $\log\sigma$ it has two blocks: $J_\mu^\top \Sigma^{-1} J_\mu$
# for the mean network's weights ($J_\mu = \partial\mu/\partial\theta$), and a $\log\sigma$ block, 2 per action
# dimension (averaged over the steps); the cross terms between them, and every term with
# $\mu - \mu_{old}$, vanish at $\theta_{old}$ (`course_lib/rl/r_operator.py`, `fisher_vp`).
# Let us check it against double backprop on a real meta-batch (5 goals × 20 episodes, the full-size policy).

# %% tags=["nbval-check-output"]
small = default_rl_config("navigation2d", "maml", meta_batch=5, episodes=20)
goals = held_out_tasks("navigation2d", 5, seed=1)
batch = sample_meta_batch(policy, theta, make_batched_env("navigation2d", goals, 20), small,
                          torch.Generator().manual_seed(0))
names = [k for k in theta if k != CONTEXT]
params = [theta[k] for k in names]
loss, kl = meta_loss_and_kl(theta, batch, small)                  # surrogate and KL at θ'_i(θ), second order
g = flat(torch.autograd.grad(loss, params, retain_graph=True))
print(f"at θ_old: KL = {kl.item():.1g}, |g| = {g.norm():.3f}")

double_backprop = hvp_double_backprop(kl, params)                  # differentiates through θ'(θ) twice
chain_rule = meta_kl_curvature(theta, names, batch, small.alpha)   # Σ J_i H'_i J_i v
v = torch.randn(g.numel(), generator=torch.Generator().manual_seed(1))
a, b = double_backprop(v), chain_rule(v)
print("chain rule = double backprop at θ_old (relative difference < 1e-4):", bool((a - b).norm() / a.norm() < 1e-4))

# %% [markdown]
# Away from $\theta_{old}$ the two differ — the third-order term is real, it just vanishes where TRPO needs
# the curvature. Is the chain rule cheaper? Time the three ways of getting $Hv$ — plain double backprop,
# the chain rule with autograd's double backprop for its two products (`method="autograd"`), and the
# chain rule with R-operator products. Expect modest, noisy differences, not a step change: over the
# recorded runs of this cell the R-operator product was 1.2–1.9× faster than plain double backprop, and
# in one run *slower* than the autograd chain rule (153 against 127 ms). Timings of one product on a
# shared 2-core machine vary from run to run; in full training the R-operator saves about 17% of an
# iteration (`docs/performance.md`).

# %% tags=["nbval-check-output"]
moved = {k: (t.detach() + 0.05 * torch.randn(t.shape, generator=torch.Generator().manual_seed(2)))
         .requires_grad_(True) for k, t in theta.items()}
a_moved = hvp_double_backprop(meta_loss_and_kl(moved, batch, small)[1], [moved[k] for k in names])(v)
b_moved = meta_kl_curvature(moved, names, batch, small.alpha)(v)
print("moved away from θ_old, the two differ (relative difference > 1e-3):",
      bool((a_moved - b_moved).norm() / a_moved.norm() > 1e-3))

# %% tags=["nbval-ignore-output"]
chain_rule_autograd = meta_kl_curvature(theta, names, batch, small.alpha, method="autograd")
for label, hvp in (("double backprop", double_backprop), ("chain rule, autograd", chain_rule_autograd),
                   ("chain rule, R-operator", chain_rule)):
    hvp(v)                                                      # a first call warms up
    start = time.perf_counter()
    for _ in range(3):
        hvp(v)
    print(f"{label:>22}: {1e3 * (time.perf_counter() - start) / 3:.0f} ms per Hessian-vector product")

# %% [markdown]
# TRPO's conjugate gradient then solves $Hx = -g$ with ten of these products (plus a small damping
# $10^{-5} I$). Conjugate gradient minimises the quadratic model, not the residual, so the residual need
# not fall at every iteration — but after ten it is small:

# %% tags=["nbval-check-output"]
damped = lambda u: chain_rule(u) + small.cg_damping * u
for iters in (1, 3, 10):
    x = conjugate_gradient(damped, -g, iters)
    print(f"{iters:2d} CG iterations: |Hx + g| / |g| = {((damped(x) + g).norm() / g.norm()):.2f}")
step = x * torch.sqrt(2 * small.max_kl / (x @ damped(x)))
print(f"TRPO step length |Δθ| = {step.norm():.2f}  (predicted KL = ½ ΔθᵀHΔθ = {0.5 * step @ damped(step):.3f})")

# %% [markdown]
# In training (`curvature` in `course_lib/rl/train.py`) the products use 5 of the 20 tasks, as TRPO's
# Appendix C suggests for the Fisher matrix, and the line search evaluates candidates with first-order
# adapted parameters — the *values* of $\theta'_i$ are the same, only their derivatives differ.

# %% [markdown]
# ## Check your understanding
#
# 1. Why must the policy infer the goal from rewards? What would change if the goal were part of the
#    observation (hint: the oracle)?
#
# <details><summary>Answer</summary>
#
# The observation is the position only; the goal enters nothing but the reward, so rewards of the
# policy's own episodes are the only evidence of which task it faces — and the inner policy-gradient
# step is how MAML turns that evidence into behaviour. With the goal in the observation one policy could
# head for any goal with no adaptation at all: that is the oracle, whose return (−0.56 in our table,
# −2.3 in the paper) bounds what task identification can buy.
#
# </details>
#
# 2. The linear baseline is fitted on the same episodes whose gradient it corrects. Why does that keep
#    the gradient (nearly) unbiased, and why is it fitted *per task*?
#
# <details><summary>Answer</summary>
#
# A baseline that depends on the state (and time) but not on the action adds zero in expectation,
# $\mathbb E_{a\sim\pi}[\nabla\log\pi(a \mid s)\,b(s)] = b(s)\,\nabla\!\int\!\pi(a \mid s)\,da = 0$. Fitting its eight
# weights on the same episodes makes $b$ depend slightly on those episodes' actions, hence a small bias
# ("nearly"), negligible with eight weights and thousands of steps. Per task, because the value of a
# state depends on the goal: one baseline for all goals could only fit the task-average value and would
# remove much less variance.
#
# </details>
#
# 3. In MAML-TRPO, the surrogate's ratio $\pi_{\theta'_i(\theta)}/\pi_{old,i}$ equals 1 at $\theta_{old}$. Why is
#    its gradient there still the policy gradient of the post-update return, *with the pre-update
#    episodes held fixed* — and what does it leave out?
#
# <details><summary>Answer</summary>
#
# $\nabla r = r\,\nabla\log\pi_{\theta'(\theta)}$ and $r = 1$ at $\theta_{old}$, so the surrogate's gradient is
# $-(\partial\theta'/\partial\theta)^\top\,\mathbb E_{\mathcal D'}[\nabla_{\theta'}\log\pi_{\theta'}(a \mid s)\,\hat A]$; $\mathcal D'$ was sampled by
# $\pi_{\theta'_{old}}$, so the expectation is the REINFORCE estimate of $\nabla J(\theta')$, carried back to θ through
# the inner step computed on fixed pre-update episodes. It leaves out the score-function term
# $\mathbb E[J(\theta')\sum_t\nabla_\theta\log\pi_\theta(a_t \mid s_t)]$ of the pre-update episodes, and the
# $\mathbb E[\hat A\,\nabla\log\pi\,\nabla\log\pi^\top]$ part of the inner Hessian (section 3; E-MAML, DiCE, ProMP's LVC).
#
# </details>
#
# 4. (Deep dive.) Which term of $\nabla^2_\theta\overline{\mathrm{KL}}$ contains third derivatives, and why is it
#    exactly zero at $\theta_{old}$? Would the chain-rule shortcut still be exact if TRPO's line search
#    needed the curvature at a trial point?
#
# <details><summary>Answer</summary>
#
# $\sum_i(\partial_\theta J_i[v])^\top\nabla_{\theta'}\overline{\mathrm{KL}}$: $J_i$ already holds the inner loss's second
# derivatives, so its derivative holds third ones. At $\theta_{old}$ every adapted policy is the policy that
# sampled the data, the KL is at its minimum (zero) as a function of θ′, so $\nabla_{\theta'}\overline{\mathrm{KL}} = 0$
# and the term vanishes. At a trial point the adapted policies differ from the sampling ones, the
# gradient is not zero, and the shortcut is no longer exact — section 7's "moved away" check shows the
# two disagree. (The line search needs only values of the surrogate and the KL, not curvature.)
#
# </details>
#
# 5. The sampler adapts with a first-order step, the learner with a second-order one. Do the two give
#    the same $\theta'_i$? The same gradient?
#
# <details><summary>Answer</summary>
#
# The same values: both compute $\theta - \alpha\nabla\mathcal L^{\text{RE}}_i(\theta)$ on the same episodes. Not the same
# derivatives: the sampler's step treats $\nabla\mathcal L$ as a constant (Jacobian $I$, no graph), the
# learner's keeps the graph, so its $\partial\theta'_i/\partial\theta = I - \alpha\nabla^2\mathcal L^{\text{RE}}_i$.
#
# </details>
#
# 6. Why does the table report steps 2 and 3 although MAML was meta-trained with one step?
#
# <details><summary>Answer</summary>
#
# Because the paper's protocol (§5.3, its figure) does, and because it shows whether the initialisation
# keeps adapting beyond what it was trained for: ours goes −10.5 → −3.3 → −3.2 with α halved after the
# first step, while the pretrained policy is still far behind after three. It also exposes overshooting
# (a policy whose later steps make things worse).
#
# </details>
#
# **Exercises.** [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb) (worked solutions: `solutions/ex02_meta_rl.ipynb`)
# practises the building blocks of this notebook: discounted returns (2.1), GAE (2.2), the REINFORCE
# loss with a baseline (2.3), one-step adaptation — MAML's inner loop for RL (2.5) — and the conjugate
# gradient of the TRPO step (2.6). Then [`exercises/ex03_fomaml_navigation.ipynb`](../exercises/ex03_fomaml_navigation.ipynb) (solutions:
# `solutions/ex03_fomaml_navigation.ipynb`) is the curriculum's practice run: you write the meta-RL
# gradient and the meta-training loop, train first-order MAML on 2-D navigation for 200
# meta-iterations with a curve of the held-out return after one inner step, then second-order MAML on
# the same budget.
#
# ## Takeaways
#
# * In meta-RL the inner step is one REINFORCE step on the task's own episodes; the task (the goal)
#   is never observed, only inferred from rewards. A per-task linear baseline cut the gradient's relative
#   variance from 12 to 1.6 here.
# * The REINFORCE loss's gradient is proportional to $-\nabla J$ (a mean over steps, normalised
#   advantages): the inner α is tied to that scale.
# * The usual MAML-RL meta-gradient holds the pre-update episodes fixed: it drops the score-function
#   term and part of the inner Hessian. E-MAML, DiCE and ProMP's LVC put them back.
# * On the paper's 40 test goals the shipped MAML matches the paper (about −40 before adaptation,
#   −10.5 after one step, −3.3 after two); the pretrained and random policies improve far less.
# * (Deep dive) MAML-TRPO's trust region needs curvature through the inner step; at $\theta_{old}$ the
#   third-order term vanishes, so Hessian-vector products suffice.
#
# **Next:** [notebook 05 · *First-order MAML in meta-RL: what the Jacobian costs, and what dropping it
# loses*](05_first_order_maml.ipynb) — drop the Jacobian $J_i$ and measure what that saves and what it costs.
