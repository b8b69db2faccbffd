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
# # 07 · CAVIA: adapt a context, not the weights — and a new velocity in one step
#
# **Learning objectives.** After this notebook you can
# 1. state CAVIA's split (Zintgraf et al. 2019): a small **context vector** φ, reset to 0 for every task
#    and adapted in the inner loop, and **shared weights** θ, learned only in the outer loop (φ is the
#    context throughout this notebook, as in the CAVIA paper — not the sine's phase of notebooks 01–03,
#    nor Reptile's adapted weights of notebook 06);
# 2. count what each method adapts per task, and say where CAVIA is cheaper — and where it is not;
# 3. explain why few adapted parameters overfit less, and check it on the sinusoid benchmark;
# 4. adapt the shipped CAVIA policy to a navigation goal, read its row of the reproduction table, and see
#    what its context has learned;
# 5. meta-train a small CAVIA policy and adapt it to a **new target velocity in one or two
#    policy-gradient steps**.
#
# **Prerequisites.** Notebooks 04–06 (MAML-TRPO, first-order MAML, Reptile); CAVIA on the sinusoids
# (notebook 03).
#
# **Run time.** 20–60 s on a 2-core CPU (measured: 21–28 s); most of it is the small CAVIA velocity policy
# meta-trained in section 4 and the two-row reproduction table.

# %%
# %matplotlib inline
import inspect
import tempfile
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.checkpoints import shipped
from course_lib.sinusoid.evaluate import sinusoid_benchmark
from course_lib.functional import detached, num_parameters, parameters_of
from course_lib.meta import CONTEXT, adapt_context
from course_lib.ui.plots import label_for, new_figure
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.tasks import PolicyTaskBatch, with_advantages
from course_lib.rl.config import adapted, build_policy, default_rl_config, initial_params, load_policy
from course_lib.rl.train import meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.rl.trpo import flat
from course_lib.rl.reproduction import NOT_SHIPPED, is_shipped
from course_lib.ui.navigation import (navigation_adaptation, navigation_widget, velocity_adaptation,
                                      velocity_widget)
from course_lib.ui.returns import reproduction_table
from course_lib.sinusoid.config import load_trained

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free

# %% [markdown]
# ## 1. Context adaptation
#
# CAVIA's policy takes the context as an extra input, $\pi_\theta(a \mid s, \phi)$. For every task the
# context starts at $\phi = 0$, and **only φ** is adapted, with one REINFORCE step on the task's
# pre-update episodes; the shared weights θ are learned by the outer loop (TRPO here, as for MAML),
# through the inner step:
#
# $$\phi_i = 0 - \alpha\,\nabla_\phi \mathcal L^{\text{RE}}_i(\theta, 0), \qquad
# \min_\theta\; \frac1T\sum_i \mathcal L_i\big(\theta, \phi_i(\theta)\big).$$
#
# The outer gradient is second order — $\phi_i$ depends on θ through $\nabla_\phi\mathcal L_i$ — but the
# Jacobian $\partial\phi_i/\partial\theta = -\alpha\nabla^2_{\theta\phi}\mathcal L^{\text{RE}}_i$ is only
# $2 \times |\theta|$. By the chain rule, with $\mathcal L_s$ the pre-update (support) loss and $\mathcal L_q$
# the post-update one,
#
# $$\frac{d}{d\theta}\mathcal L_q\big(\theta, \phi_i(\theta)\big)
#   = \underbrace{\nabla_\theta\mathcal L_q(\theta, \phi_i)}_{\text{first order keeps}}
#   \;\underbrace{-\,\alpha\,\nabla^2_{\theta\phi}\mathcal L_s(\theta, 0)\,\nabla_\phi\mathcal L_q(\theta, \phi_i)}_{\text{first order drops}}.$$
#
# The first term is taken at the *adapted* context $\phi_i \ne 0$, so even first-order CAVIA trains how
# the shared weights use the context (the first layer's context weights get a gradient through it). What
# first order drops is the second term: how θ should change so that the context step itself lands
# somewhere better. The inner step is the same `inner_update` as everywhere else, applied to
# `{"context": φ}`:

# %%
print(inspect.getsource(adapt_context))

# %% [markdown]
# How large is the dropped term? On one meta-batch of the shipped navigation CAVIA policy (10 held-out
# goals × 20 episodes), compare the two meta-gradients with respect to the shared weights, as
# notebook 05 did for MAML:

# %% tags=["nbval-check-output"]
if is_shipped("navigation2d_cavia"):
    nav_policy, nav_theta, nav_config = load_policy(shipped("navigation2d_cavia"))
    nav_theta = {k: v.detach().clone().requires_grad_(True) for k, v in nav_theta.items()}
    nav_shared = [v for k, v in nav_theta.items() if k != CONTEXT]
    nav_goals = held_out_tasks("navigation2d", 10, seed=1)
    nav_config = replace(nav_config, meta_batch=len(nav_goals), episodes=20)
    nav_batch = sample_meta_batch(nav_policy, nav_theta, make_batched_env("navigation2d", nav_goals, 20), nav_config,
                                  torch.Generator().manual_seed(0))
    g2, g1 = (flat(torch.autograd.grad(meta_loss_and_kl(nav_theta, nav_batch, nav_config, first_order=fo)[0],
                                       nav_shared)) for fo in (False, True))
    print(f"cos(second-order, first-order CAVIA meta-gradient) = {float(g1 @ g2 / (g1.norm() * g2.norm())):.2f}")
    print(f"|first order| / |second order|                    = {float(g1.norm() / g2.norm()):.2f}")
    print(f"|dropped term| / |second order|                   = {float((g2 - g1).norm() / g2.norm()):.2f}")
    fo_cos = float(g1 @ g2 / (g1.norm() * g2.norm()))
    print(f"\nquoted below: fo_cos = {fo_cos:.2f}, fo_angle = {np.degrees(np.arccos(fo_cos)):.0f}, "
          f"fo_ratio = {float(g1.norm() / g2.norm()):.2f}, dropped_ratio = {float((g2 - g1).norm() / g2.norm()):.2f}")
else:
    print(f"navigation2d_cavia: {NOT_SHIPPED}")

# %% [markdown]
# The first-order meta-gradient is far from zero — the shared weights still learn how to use the
# context — but it is only about half as long as the second-order one
# (<span data-out="fo_ratio">0.47</span> times) and points <span data-out="fo_angle">43</span>° away from
# it (cosine <span data-out="fo_cos">0.73</span>): the dropped term is almost three quarters
# (<span data-out="dropped_ratio">0.73</span>) the size of the whole meta-gradient. On this
# problem first-order CAVIA would be a different algorithm, not a cheap approximation; `course_lib`
# meta-trains CAVIA with second order (`method="cavia_fo"` gives the first-order variant on sinusoids).
#
# ## 2. What is adapted, per task
#
# The navigation policies of the two methods are the same 2×100 ReLU network; CAVIA's first layer
# reads the 2-D position *and* a 2-D context.

# %% tags=["nbval-check-output"]
T = 20                                           # tasks per meta-batch
print(f"{'':>8} {'weights':>8} {'adapted per task':>17} {'adapted state of a meta-batch':>31}")
for algo in ("maml", "cavia"):
    config = default_rl_config("navigation2d", algo)
    theta = parameters_of(build_policy(config))
    shared = num_parameters({k: v for k, v in theta.items() if k != CONTEXT})
    per_task = config.context_dim if algo == "cavia" else shared
    print(f"{algo:>8} {shared:8,d} {per_task:17,d} {T * per_task:>22,d} numbers")
print(f"inner step size: CAVIA α = {default_rl_config('navigation2d', 'cavia').alpha} (on the context), "
      f"MAML α = {default_rl_config('navigation2d', 'maml').alpha} (on the weights)")

# %% [markdown]
# **Where CAVIA is cheaper: memory, and the size of ∂φ/∂θ.** The per-task state is two numbers instead
# of a copy of all 10 604 weights, so a meta-batch's adapted parameters take almost no memory, and the
# second-order term involves a 2 × 10 804 Jacobian instead of a 10 604 × 10 604 one. **Where it is
# not: compute.** φ is an *input*, so its gradient still backpropagates through every layer — an
# inner step costs about as much compute as MAML's — and the second-order outer gradient
# back-propagates through that backward pass, through every layer, just as MAML's does. `course_lib`
# also computes CAVIA's trust-region curvature by double backprop (the chain-rule shortcut of
# notebook 04 is written for all-weights MAML), so on 2-D navigation a CAVIA iteration is in fact
# *slower*: 1.38 s against MAML's 0.99 s at the paper's sizes on an idle machine (`python
# bench/rl_speed.py`, [docs/performance.md](../docs/performance.md)).
#
# **Why fewer adapted parameters overfit less.** MAML's inner step moves all 10 604 weights along a
# gradient estimated from 20 noisy episodes; every direction the noise points in gets followed. CAVIA's
# step can only move the policy within a 2-D family of behaviours that the outer loop has shaped — it
# cannot fit noise it has no parameters for. The outer loop decides *what* the two numbers mean.
#
# The sinusoid benchmark shows the effect clearly (notebook 03; 600 held-out tasks, K = 5, query MSE
# ± 95% CI). The sinusoid CAVIA model adapts a 4-number context:

# %% tags=["nbval-check-output"]
for name in ("maml", "cavia"):
    model, theta, alpha, _ = load_trained(shipped(f"sinusoid_{name}"))
    adapted_count = model.context_dim or num_parameters(theta)
    print(f"{label_for(name):>6}: adapts {adapted_count:5,d} parameters per task, inner α = {alpha}")
bench = sinusoid_benchmark({name: shipped(f"sinusoid_{name}") for name in ("maml", "cavia")}, n_tasks=600, k=5,
                           report_steps=(1, 5, 10))
print(f"\n{'query MSE after':>15} {'0 steps':>13} {'1 step':>13} {'5 steps':>13} {'10 steps':>13}")
for name, row in bench.items():
    print(f"{label_for(name):>15} " + " ".join(f"{str(row[s]):>13}" for s in (0, 1, 5, 10)))
print("\nquoted below: " + ", ".join(f"sine_{name}_{s} = {bench[name][s].mean:.2f}"
                                   for name in ("maml", "cavia") for s in (5, 10)))

# %% [markdown]
# Both start from the same task-agnostic error. With five points to fit, MAML's 1 761 adapted weights
# gain less and less from further steps; CAVIA's four context numbers keep improving, to several times
# lower errors. The points are noise-free samples of the sine, so this is not about fitting noise: five
# points are consistent with many functions, and 1 761 free weights can pass through them with a curve
# that is wrong between them (the query loss stops falling). Four context numbers can only pick a
# member of the family of functions the shared network has learned to produce — nearly all of them
# sines — and five points pin that choice down, so every step moves towards the task's function.
#
# ## 3. CAVIA on 2-D navigation
#
# The same protocol as before (notebook 04): the paper's 40 test goals, 40 episodes per step; CAVIA adapts its
# context with its own α = 1 (then 0.5), MAML its weights with α = 0.1 (then 0.05).

# %% tags=["nbval-check-output"]
table = reproduction_table("navigation2d", models=("maml", "cavia"), steps=3, episodes=40, seed=0)
print(table.summary())
means = {name: [m for m, _ in table.mean_and_stderr(name)] for name in ("maml", "cavia")}
print("\nquoted below: " + ", ".join(f"{name}_{s} = {means[name][s]:.2f}" for name in means for s in range(4)))

# %%
table.figure

# %% [markdown]
# CAVIA's context step adapts the policy — from <span data-out="cavia_0">−41.85</span> to
# <span data-out="cavia_1">−12.09</span> in one step, close to MAML's <span data-out="maml_1">−10.52</span>
# given the standard errors — but the next steps gain less: after two steps it is at
# <span data-out="cavia_2">−6.35</span> against MAML's <span data-out="maml_2">−3.32</span>, and the third
# step adds nothing.
#
# One goal, each policy with its own step size (`alpha=None`):

# %% tags=["nbval-check-output"]
one_goal = navigation_adaptation(goal_x=-0.4, goal_y=-0.2, alpha=None, steps=2, episodes=20, seed=0,
                                 models=("cavia", "maml"))
print(one_goal.summary())

# %%
one_goal.figure

# %% [markdown]
# **What has the context learned?** Adapt CAVIA's context once on each of the 40 held-out goals (40
# episodes each) and ask how well a *linear* map from the two context numbers predicts the goal's two
# coordinates ($R^2$ = 1: the context is a perfect linear goal code). A reference point is needed: even
# an *untrained* network's context gradient carries some information about the goal (the rewards depend
# on it), so we compute the same number for a freshly initialised CAVIA policy.

# %% tags=["nbval-check-output"]
goals = held_out_tasks("navigation2d", 40)
env = make_batched_env("navigation2d", goals, 40)


def contexts_after_one_step(policy, theta, config):
    """φ_i after one REINFORCE step on 40 episodes of each held-out goal: [40, context_dim]."""
    pre = with_advantages(sample_episodes(policy, initial_params(theta, 40, config), env,
                                          torch.Generator().manual_seed(0)), config.gamma, config.gae_lambda)
    with torch.enable_grad():
        phi = adapted(detached(theta, True), PolicyTaskBatch(policy, pre), config, first_order=True)[CONTEXT]
    return phi.detach().numpy()


def linear_r2(contexts):
    features = np.hstack([contexts, np.ones((len(contexts), 1))])
    fit, *_ = np.linalg.lstsq(features, goals, rcond=None)
    return 1 - ((features @ fit - goals) ** 2).sum() / ((goals - goals.mean(0)) ** 2).sum()


fresh_config = default_rl_config("navigation2d", "cavia")
torch.manual_seed(0)
fresh_policy = build_policy(fresh_config)
r2_fresh = linear_r2(contexts_after_one_step(fresh_policy, parameters_of(fresh_policy), fresh_config))
print(f"{'freshly initialised CAVIA':>26}: R² = {r2_fresh:.2f}")
contexts = None
if is_shipped("navigation2d_cavia"):
    contexts = contexts_after_one_step(*load_policy(shipped("navigation2d_cavia")))
    r2_trained = linear_r2(contexts)
    print(f"{'meta-trained CAVIA':>26}: R² = {r2_trained:.2f}")
    print(f"\nquoted below: r2_fresh = {r2_fresh:.2f}, r2_trained = {r2_trained:.2f}")
else:
    print(f"{'meta-trained CAVIA':>26}: {NOT_SHIPPED}")

# %%
context_figure = None
if contexts is not None:
    context_figure, (left, right) = new_figure(ncols=2, width=4.2, height=3.9)
    angle = np.arctan2(goals[:, 1], goals[:, 0])
    left.scatter(goals[:, 0], goals[:, 1], c=angle, cmap="twilight", s=30)
    left.set(xlabel="goal x (units)", ylabel="goal y (units)", title="40 held-out goals", aspect="equal")
    dots = right.scatter(contexts[:, 0], contexts[:, 1], c=angle, cmap="twilight", s=30)
    right.set(xlabel="context φ₁ (dimensionless)", ylabel="context φ₂ (dimensionless)",
              title="meta-trained CAVIA: contexts after one step")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    context_figure.colorbar(dots, ax=right, label="goal direction atan2(y, x) (rad)")
    plt.close(context_figure)                    # shown once, by the line below
context_figure

# %% [markdown]
# (Colour = the goal's direction from the origin, the same in both panels; the colour bar gives it in
# radians.) Meta-training turns the context into a near-linear goal code: $R^2$ rises from
# <span data-out="r2_fresh">0.44</span> for the untrained network to <span data-out="r2_trained">0.91</span>,
# and the colours, which go round the circle of goals, go round in the same order in the contexts.
#
# **Explore.** The sliders choose the goal, CAVIA's context step size (log scale around its training
# value 1) and up to three steps. Try α = 0.1 and α = 5: how far does one step move a context that
# starts at 0, and what does the policy do with it?

# %% tags=["nbval-ignore-output"]
navigation_widget(models=("cavia",), goal_x=-0.4, goal_y=-0.2, alpha=1.0, steps=1, episodes=20,
                  alpha_range=(0.1, 10.0))

# %% [markdown]
# ## 4. A new velocity in one step
#
# The 1-D target-velocity task (`course_lib/tasks/velocity.py`) is the simplest "locomotion" problem:
# a point mass starts at rest, the action is a force (|a| ≤ 1, dt = 0.1), the observation is its
# velocity, and the reward is $-(v_{t+1} - v^*)^2$ with a target $v^* \sim U[-2, 2]$ that the policy is
# not told — the 1-D analogue of the paper's half-cheetah goal-velocity task. The policy must discover
# both the direction and the speed from the rewards of 10 episodes.
#
# No CAVIA checkpoint is shipped for this task (only `point_velocity_maml.pt`, six minutes of
# training), so we meta-train a small CAVIA policy here: a 32×32 network with a 2-D context, 40
# meta-iterations of 10 targets × 10 episodes, about 20 seconds:

# %% tags=["nbval-ignore-output"]
velocity_config = default_rl_config("point_velocity", "cavia", iterations=40, meta_batch=10, episodes=10,
                                    hidden=(32, 32), checkpoint_every=100)
velocity_checkpoint = Path(tempfile.mkdtemp()) / "point_velocity_cavia.pt"
velocity_run = train_rl(velocity_config, out=velocity_checkpoint, progress=True)
last = velocity_run["history"][-1]
print(f"iteration {last['iteration']}: training return {last['return_before']:.1f} before, "
      f"{last['return_after']:.1f} after the context step")

# %% [markdown]
# Adapt its context — zero before the first step — to the target $v^* = 1.5$, with its own step sizes
# (α = 1, then 0.5):

# %% tags=["nbval-ignore-output"]
cavia_velocity = velocity_adaptation(target=1.5, alpha=None, steps=2, episodes=10, seed=0,
                                     checkpoint=velocity_checkpoint)
print(cavia_velocity.summary())

# %% [markdown]
# Before adaptation the policy cannot know whether to speed up forwards or backwards, and it hedges by
# staying near $v = 0$ — the best a task-agnostic policy can do when targets are symmetric around 0.
# One step on the two context numbers, from its own ten episodes, sends it towards the target; a
# second step brings it close. Everything the policy learned about *how* to reach a velocity sits in
# the shared weights; the context only has to say which velocity.
#
# For comparison, the shipped MAML policy (all 10 604 weights adapted, α = 0.1 then 0.05, trained six
# minutes at the paper's sizes), on the same target, with the figure:

# %% tags=["nbval-check-output"]
one_velocity = velocity_adaptation(target=1.5, alpha=0.1, steps=2, episodes=10, seed=0)
print(one_velocity.summary())

# %%
one_velocity.figure

# %% [markdown]
# Move the target, the step size and the number of steps of the MAML policy (pass
# `checkpoint=velocity_checkpoint, alpha=1.0, alpha_range=(0.1, 10.0)` to drive the CAVIA policy
# instead; its figure is labelled MAML, as the plotting helper labels every policy of this task so):

# %% tags=["nbval-ignore-output"]
velocity_widget(target=1.5, alpha=0.1, steps=1, episodes=10)

# %% [markdown]
# ## Check your understanding
#
# 1. CAVIA's context starts at 0 for every task. Why would a *learned* initial context add nothing that
#    the shared weights cannot already represent?
#
#    <details><summary>Answer</summary>
#
#    The context enters the first layer linearly: $W_x s + W_\phi\phi + b$. A fixed initial context
#    $\phi_0$ contributes the constant $W_\phi\phi_0$, which the bias can absorb ($b' = b + W_\phi\phi_0$);
#    the network and its gradient with respect to φ are then exactly the same as with $\phi_0 = 0$. A
#    learned $\phi_0$ is a reparametrisation, not extra capacity.
#
#    </details>
#
# 2. The context is an input to the first layer. Why does the inner gradient with respect to it still
#    cost a full backward pass through the network? What, then, makes CAVIA cheaper than MAML?
#
#    <details><summary>Answer</summary>
#
#    $\nabla_\phi\mathcal L = W_\phi^\top\delta_1$ needs the error signal $\delta_1$ at the first layer, and that is
#    obtained only by back-propagating from the output through every layer (the weight gradients
#    themselves are not needed, but the backward pass through the activations is). The second-order
#    outer gradient then back-propagates through that pass, again through every layer. What is cheaper
#    is memory and the size of the second-order object: two adapted numbers per task instead of a copy of
#    the weights (40 against 212 080 numbers for a meta-batch), and a 2 × |θ| Jacobian $\partial\phi/\partial\theta$
#    instead of |θ| × |θ|. Compute per iteration is not smaller — in `course_lib` CAVIA is even slower on
#    navigation (section 2).
#
#    </details>
#
# 3. Why does CAVIA need a much larger inner step size (α = 1) than MAML (α = 0.1)?
#
#    <details><summary>Answer</summary>
#
#    To first order a step changes the loss by $-\alpha|\nabla\mathcal L|^2$. MAML's gradient has 10 604
#    components that all contribute; CAVIA's has two, each scaled by the small first-layer context
#    weights $W_\phi$, so the same α would barely move the policy. A larger α compensates. (The outer loop
#    can also scale $W_\phi$ up, which trades off against α — the two are not independent.)
#
#    </details>
#
# 4. On the sinusoids CAVIA keeps improving up to 10 steps on 5 points while MAML stalls. Explain with
#    the number of adapted parameters. Would you expect the same if CAVIA's context had 1 000 numbers?
#
#    <details><summary>Answer</summary>
#
#    Five noise-free points are consistent with many functions. MAML's 1 761 adapted weights can reduce
#    the loss on the five points in directions that do not generalise — curves through the points that
#    are wrong between them — so the query error stalls (<span data-out="sine_maml_5">0.38</span> after 5
#    steps, <span data-out="sine_maml_10">0.33</span> after 10). CAVIA's
#    four numbers can only select a function from the low-dimensional family the shared network learned
#    (nearly all sines); five points over-determine four numbers, so further steps keep moving towards
#    the task's sine (<span data-out="sine_cavia_5">0.07</span>, then <span data-out="sine_cavia_10">0.05</span>). With 1 000 context numbers the five points would no longer pin
#    the context down, and you would expect part of that protection to go — how much depends on how
#    the outer loop learns to use the extra dimensions, so measure it rather than assume it.
#
#    </details>
#
# 5. What does the $R^2$ of the context → goal map measure? Could CAVIA adapt well with an $R^2$ far
#    below 1?
#
#    <details><summary>Answer</summary>
#
#    How much of the variation of the goals' coordinates a *linear* function of the adapted context
#    explains: whether the context is a linear code for the goal (<span data-out="r2_trained">0.91</span>
#    after meta-training, against <span data-out="r2_fresh">0.44</span> for an untrained network whose context gradient already carries some goal information).
#    CAVIA could adapt well with a low $R^2$: the policy needs a context that *identifies* the goal, in
#    any form its network can decode — for example a non-linear code such as direction and distance. A
#    high $R^2$ is evidence of a goal code, not a requirement for good returns.
#
#    </details>
#
# 6. In the velocity task, why is "stay at v = 0" the best *unadapted* behaviour, and what single piece
#    of information does the first policy-gradient step have to extract from the ten episodes?
#
#    <details><summary>Answer</summary>
#
#    For a constant velocity $v$ the expected reward per step is
#    $-\mathbb E[(v - v^*)^2] = -(v^2 + \mathrm{Var}\,v^*)$ when $\mathbb E[v^*] = 0$, which is largest at $v = 0$: with targets symmetric around
#    0, any commitment to a direction loses on average. The first step has to extract the target — above
#    all its sign (forwards or backwards), and then roughly its size. In section 4 both policies get the
#    direction right in one step and most of the speed in two.
#
#    </details>
#
# ## Takeaways
#
# * CAVIA adapts only a context φ, reset to 0 for every task; the shared weights θ are meta-trained
#   through the context step. Its meta-gradient adds $-\alpha\nabla^2_{\theta\phi}\mathcal L_s\nabla_\phi\mathcal L_q$ to
#   $\nabla_\theta\mathcal L_q$; first order keeps the latter (θ still learns to use the context) and drops the
#   former, which on navigation is a large part of the meta-gradient (section 1).
# * CAVIA is cheaper in memory and in the size of $\partial\phi/\partial\theta$ — not in compute: every gradient
#   still runs through every layer.
# * Few adapted parameters overfit the support set less: on the sinusoids CAVIA's four numbers reach
#   <span data-out="sine_cavia_10">0.05</span> after ten steps where MAML's 1 761 weights stall at
#   <span data-out="sine_maml_10">0.33</span>.
# * On 2-D navigation our CAVIA policy adapts, and its context becomes a near-linear goal code
#   ($R^2$ = <span data-out="r2_trained">0.91</span>), but it is behind MAML after two and three steps
#   (<span data-out="cavia_2">−6.35</span> against <span data-out="maml_2">−3.32</span> after two).
# * A small CAVIA policy meta-trained in about 20 seconds adapts to a new target velocity in one or two
#   steps on two context numbers.
#
# **Exercises.** Exercise 1.5 of [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (worked solution:
# `solutions/ex01_meta_gradients.ipynb`) writes CAVIA's context step and adapts the shipped sinusoid
# CAVIA model. Exercises 2.4 and 2.5 of [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb) (solutions:
# `solutions/ex02_meta_rl.ipynb`) write the target-velocity reward and the one-step adaptation of
# section 4, and meta-train a small velocity policy in about 15 seconds.
#
# **Next:** [notebook 08 · *MuJoCo locomotion*](08_mujoco_locomotion.ipynb) — the paper's half-cheetah tasks.
