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
# 5. adapt a meta-trained policy to a **new target velocity in one policy-gradient step**.
#
# **Prerequisites.** Notebooks 04–06 (MAML-TRPO, first-order MAML, Reptile); CAVIA on the sinusoids
# (notebook 03).
#
# **Run time.** 10–30 s on a 2-core CPU (measured: 12–19 s with two training runs sharing the
# machine); most of it is the two-row reproduction table.

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.checkpoints import shipped
from course_lib.evaluate import sinusoid_benchmark
from course_lib.functional import detached, num_parameters, parameters_of
from course_lib.meta import CONTEXT, adapt_context
from course_lib.plots import label_for, new_figure
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.tasks import PolicyTaskBatch, with_advantages
from course_lib.rl.train import adapted, build_policy, default_rl_config, initial_params, load_policy
from course_lib.rl.widgets import (NOT_SHIPPED, is_shipped, navigation_adaptation, navigation_widget,
                                   reproduction_table, velocity_adaptation, velocity_widget)
from course_lib.train import load_trained

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
# Jacobian $\partial\phi_i/\partial\theta = -\alpha\nabla^2_{\theta\phi}\mathcal L_i$ is only
# $2 \times |\theta|$. It is the same `inner_update` as everywhere else, applied to `{"context": φ}`:

# %%
print(inspect.getsource(adapt_context))

# %% [markdown]
# ## 2. What is adapted, per task
#
# The navigation policies of the two methods are the same 2×100 ReLU network; CAVIA's first layer
# reads the 2-D position *and* a 2-D context.

# %%
# NBVAL_CHECK_OUTPUT
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
# **Where CAVIA is cheaper.** The per-task state is two numbers instead of a copy of all 10 604
# weights, so a meta-batch's adapted parameters take almost no memory, and the second-order term
# involves a 2 × 10 804 Jacobian instead of a 10 604 × 10 604 one (`course_lib` still computes the
# trust region's curvature by double backprop for CAVIA; the chain-rule shortcut of notebook 04 is
# written for all-weights MAML). **Where it is not:** φ is an *input*, so its gradient still
# backpropagates through every layer — an inner step costs about as much compute as MAML's. In RL,
# where sampling dominates, the wall time per iteration is similar (`python bench/rl_speed.py`
# measures all four methods).
#
# **Why fewer adapted parameters overfit less.** MAML's inner step moves all 10 604 weights along a
# gradient estimated from 20 noisy episodes; every direction the noise points in gets followed. CAVIA's
# step can only move the policy within a 2-D family of behaviours that the outer loop has shaped — it
# cannot fit noise it has no parameters for. The outer loop decides *what* the two numbers mean.
#
# The sinusoid benchmark shows the effect clearly (notebook 03; 600 held-out tasks, K = 5, query MSE
# ± 95% CI). The sinusoid CAVIA model adapts a 4-number context:

# %%
# NBVAL_CHECK_OUTPUT
for name in ("maml", "cavia"):
    model, theta, alpha, _ = load_trained(shipped(f"sinusoid_{name}"))
    adapted_count = model.context_dim or num_parameters(theta)
    print(f"{label_for(name):>6}: adapts {adapted_count:5,d} parameters per task, inner α = {alpha}")
bench = sinusoid_benchmark({name: shipped(f"sinusoid_{name}") for name in ("maml", "cavia")}, n_tasks=600, k=5,
                           report_steps=(1, 5, 10))
print(f"\n{'query MSE after':>15} {'0 steps':>13} {'1 step':>13} {'5 steps':>13} {'10 steps':>13}")
for name, row in bench.items():
    print(f"{label_for(name):>15} " + " ".join(f"{str(row[s]):>13}" for s in (0, 1, 5, 10)))

# %% [markdown]
# Both start from the same task-agnostic error. With five points to fit, MAML's 1 761 adapted weights
# gain less and less from further steps; CAVIA's four context numbers keep improving, to several times
# lower errors — four numbers cannot memorise five noisy-looking points, so every step moves towards
# the task's function rather than through the points.
#
# ## 3. CAVIA on 2-D navigation
#
# The same protocol as before (notebook 04): the paper's 40 test goals, 40 episodes per step; CAVIA adapts its
# context with its own α = 1 (then 0.5), MAML its weights with α = 0.1 (then 0.05).

# %%
# NBVAL_CHECK_OUTPUT
table = reproduction_table("navigation2d", models=("maml", "cavia"), steps=3, episodes=40, seed=0)
print(table.summary())

# %%
table.figure

# %% [markdown]
# One goal, each policy with its own step size (`alpha=None`):

# %%
# NBVAL_CHECK_OUTPUT
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

# %%
# NBVAL_CHECK_OUTPUT
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
print(f"{'freshly initialised CAVIA':>26}: R² = {linear_r2(contexts_after_one_step(fresh_policy, parameters_of(fresh_policy), fresh_config)):.2f}")
contexts = None
if is_shipped("navigation2d_cavia"):
    contexts = contexts_after_one_step(*load_policy(shipped("navigation2d_cavia")))
    print(f"{'meta-trained CAVIA':>26}: R² = {linear_r2(contexts):.2f}")
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
# radians.)
#
# **Explore.** The sliders choose the goal, CAVIA's context step size (log scale around its training
# value 1) and up to three steps. Try α = 0.1 and α = 5: how far does one step move a context that
# starts at 0, and what does the policy do with it?

# %%
# NBVAL_IGNORE_OUTPUT
navigation_widget(models=("cavia",), goal_x=-0.4, goal_y=-0.2, alpha=1.0, steps=1, episodes=20,
                  alpha_range=(0.1, 10.0))

# %% [markdown]
# ## 4. A new velocity in one step
#
# The 1-D target-velocity task (`course_lib/tasks/velocity.py`) is the simplest "locomotion" problem:
# a point mass starts at rest, the action is a force (|a| ≤ 1, dt = 0.1), the observation is its
# velocity, and the reward is $-(v_{t+1} - v^*)^2$ with a target $v^* \sim U[-2, 2]$ that the policy is
# not told — the 1-D analogue of the paper's half-cheetah goal-velocity task. A policy meta-trained with
# MAML-TRPO on this family (`python -m course_lib train point_velocity --algo maml`; the shipped
# `point_velocity_maml.pt`) must discover both the direction and the speed from the rewards of 10
# episodes, with **one** policy-gradient step:

# %%
# NBVAL_CHECK_OUTPUT
one_velocity = velocity_adaptation(target=1.5, alpha=0.1, steps=1, episodes=10, seed=0)
print(one_velocity.summary())

# %%
one_velocity.figure

# %% [markdown]
# Before adaptation the policy cannot know whether to speed up forwards or backwards, and it hedges by
# staying near $v = 0$ — the best a task-agnostic policy can do when targets are symmetric around 0.
# One step on its own ten episodes sends it towards the target. Move the target, the step size and the
# number of steps (a CAVIA version of this task trains with `--algo cavia`):

# %%
# NBVAL_IGNORE_OUTPUT
velocity_widget(target=1.5, alpha=0.1, steps=1, episodes=10)

# %% [markdown]
# ## Check your understanding
#
# 1. CAVIA's context starts at 0 for every task. Why would a *learned* initial context add nothing that
#    the shared weights cannot already represent?
# 2. The context is an input to the first layer. Why does the inner gradient with respect to it still
#    cost a full backward pass through the network? What, then, makes CAVIA cheaper than MAML?
# 3. Why does CAVIA need a much larger inner step size (α = 1) than MAML (α = 0.1)?
# 4. On the sinusoids CAVIA keeps improving up to 10 steps on 5 points while MAML stalls. Explain with
#    the number of adapted parameters. Would you expect the same if CAVIA's context had 1 000 numbers?
# 5. What does the $R^2$ of the context → goal map measure? Could CAVIA adapt well with an $R^2$ far
#    below 1?
# 6. In the velocity task, why is "stay at v = 0" the best *unadapted* behaviour, and what single piece
#    of information does the first policy-gradient step have to extract from the ten episodes?
#
# **Exercises.** Exercise 1.5 of [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (worked solution:
# `solutions/ex01_meta_gradients.ipynb`) writes CAVIA's context step and adapts the shipped sinusoid
# CAVIA model. Exercises 2.4 and 2.5 of [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb) (solutions:
# `solutions/ex02_meta_rl.ipynb`) write the target-velocity reward and the one-step adaptation of
# section 4, and meta-train a small velocity policy in about 15 seconds.
#
# **Next:** [notebook 08 · *MuJoCo locomotion*](08_mujoco_locomotion.ipynb) — the paper's half-cheetah tasks.
