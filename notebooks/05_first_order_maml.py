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
# # 05 · First-order MAML in meta-RL: what the Jacobian costs, and what dropping it loses
#
# **Learning objectives.** After this notebook you can
# 1. say exactly what first-order MAML (FOMAML) drops in MAML-TRPO: the Jacobian
#    $J_i = I - \alpha\nabla^2\mathcal L_i$ of the inner step, in the meta-gradient **and** in the trust
#    region's curvature;
# 2. measure, on the same meta-batch, how far the first-order meta-gradient and TRPO step are from the
#    second-order ones, and how that depends on α;
# 3. time a meta-iteration of both on this machine, and know the command for the full measurement;
# 4. compare the shipped MAML and FOMAML policies on the same held-out goals.
#
# **Prerequisites.** Notebook 04 (MAML-TRPO, the chain-rule curvature); notebook 02 (the first-order
# approximation on the quadratic toy).
#
# **Run time.** 20–70 s on a 2-core CPU (measured: 24–37 s with two training runs sharing the
# machine; about 70 s on a busier day); the timings of section 2 take 10–20 s, the two-row
# reproduction table 4–11 s.

# %%
# %matplotlib inline
import time
from dataclasses import replace

import numpy as np
import torch

from course_lib.checkpoints import shipped
from course_lib.meta import CONTEXT
from course_lib.plots import new_figure
from course_lib.rl.curvature import meta_kl_curvature
from course_lib.rl.envs import make_batched_env
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.train import curvature, default_rl_config, load_policy, meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.rl.trpo import conjugate_gradient, flat
from course_lib.rl.widgets import (NOT_SHIPPED, navigation_adaptation, navigation_widget, plot_training_returns,
                                   reproduction_table, shipped_checkpoint)

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free

# %% [markdown]
# ## 1. What is dropped
#
# With $\theta'_i = \theta - \alpha\nabla\mathcal L^{\text{RE}}_i(\theta)$ (one REINFORCE step on task $i$'s
# pre-update episodes) and $J_i = \partial\theta'_i/\partial\theta = I - \alpha\nabla^2\mathcal L^{\text{RE}}_i(\theta)$,
# MAML-TRPO needs two things at $\theta_{old}$ (notebook 04):
#
# | | second-order MAML | first-order MAML |
# |---|---|---|
# | meta-gradient $g$ | $\frac1T\sum_i J_i\,\nabla_{\theta'}\mathcal L_i(\theta'_i)$ | $\frac1T\sum_i \nabla_{\theta'}\mathcal L_i(\theta'_i)$ |
# | KL curvature $H v$ | $\frac1T\sum_i J_i H'_i J_i\, v$ | $\frac1T\sum_i H'_i\, v$ |
#
# First order sets $J_i = I$ in **both**: the surrogate's gradient and the KL's Hessian are taken at the
# adapted parameters, as if $\theta'_i$ moved rigidly with $\theta$. In code it is one flag: `inner_update(…,
# first_order=True)` detaches $\nabla\mathcal L$, so $\theta' = \theta - \alpha\,\mathrm{stop\_grad}(\nabla\mathcal L)$ and
# autograd sees $\partial\theta'/\partial\theta = I$ (`meta_loss_and_kl(…, first_order=True)`,
# `meta_kl_curvature(…, first_order=True)`). The *values* of $\theta'_i$, the surrogate and the KL are
# unchanged — only derivatives change.
#
# The dropped term is $-\alpha\nabla^2\mathcal L_i$, so its weight grows with α. On one real meta-batch
# (10 goals × 20 episodes, at the shipped MAML policy), compare the two meta-gradients, and the two
# curvatures on a random vector, for three step sizes:

# %%
# NBVAL_CHECK_OUTPUT
policy, theta_maml, maml_config = load_policy(shipped("navigation2d_maml"))
theta = {k: v.detach().clone().requires_grad_(True) for k, v in theta_maml.items()}
names = [k for k in theta if k != CONTEXT]
params = [theta[k] for k in names]
goals = held_out_tasks("navigation2d", 10, seed=1)


def meta_batch(alpha, episodes=20, seed=0):
    config = replace(maml_config, alpha=alpha, meta_batch=len(goals), episodes=episodes)
    env = make_batched_env("navigation2d", goals, episodes)
    return config, sample_meta_batch(policy, theta, env, config, torch.Generator().manual_seed(seed))


def cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


v = torch.randn(sum(p.numel() for p in params), generator=torch.Generator().manual_seed(1))
print(f"{'α':>5} {'cos(g_2nd, g_1st)':>18} {'|g_1st| / |g_2nd|':>18} {'|H_1st v − H_2nd v| / |H_2nd v|':>32}")
for alpha in (0.01, 0.1, 0.3):
    config, batch = meta_batch(alpha)
    g2, g1 = (flat(torch.autograd.grad(meta_loss_and_kl(theta, batch, config, first_order=fo)[0], params))
              for fo in (False, True))
    h2, h1 = (meta_kl_curvature(theta, names, batch, alpha, first_order=fo)(v) for fo in (False, True))
    print(f"{alpha:5.2f} {cosine(g2, g1):18.3f} {g1.norm() / g2.norm():18.2f} {(h1 - h2).norm() / h2.norm():32.2f}")

# %% [markdown]
# For a small α the two coincide — $J_i \to I$. At the training value α = 0.1 the gradients still point
# in similar directions, but the curvature already differs noticeably: the inner step's Hessian is not
# small compared with $1/\alpha$ in every direction. What matters in the end is TRPO's *step*, which
# combines both, $\Delta\theta \propto H^{-1}(-g)$. At α = 0.1:

# %%
# NBVAL_CHECK_OUTPUT
config, batch = meta_batch(0.1)
steps = {}
for first_order in (False, True):
    loss = meta_loss_and_kl(theta, batch, config, first_order=first_order)[0]
    g = flat(torch.autograd.grad(loss, params))
    H = meta_kl_curvature(theta, names, batch, config.alpha, first_order=first_order)
    x = conjugate_gradient(lambda u: H(u) + config.cg_damping * u, -g, config.cg_iters)
    steps[first_order] = x * torch.sqrt(2 * config.max_kl / (x @ H(x)))
print(f"cos(second-order TRPO step, first-order TRPO step) = {cosine(steps[False], steps[True]):.2f}")
print(f"step lengths: second order {steps[False].norm():.3f}, first order {steps[True].norm():.3f}")

# %% [markdown]
# ## 2. What it saves: time per meta-iteration
#
# Sampling — 2 × 20 goals × 20 episodes of 100 steps per iteration — is the same for both. The
# difference is in the learner: the second-order meta-gradient backpropagates through the inner
# gradient (a Hessian-vector product of the support loss per task), and every one of TRPO's ten
# conjugate-gradient products applies $J_i$ twice. First, the learner alone, on one full-size
# meta-batch (20 goals × 20 episodes; curvature on 5 of them, as in training):

# %%
# NBVAL_IGNORE_OUTPUT
full_goals = held_out_tasks("navigation2d", 20, seed=3)
full_config = replace(maml_config, meta_batch=20, episodes=20)
full_batch = sample_meta_batch(policy, theta, make_batched_env("navigation2d", full_goals, 20), full_config,
                               torch.Generator().manual_seed(0))


def learner_seconds(algo, repeats=2):
    """Meta-gradient + TRPO's curvature and 10 CG iterations (the line search excluded)."""
    config = replace(full_config, algo=algo)
    start = time.perf_counter()
    for _ in range(repeats):
        loss = meta_loss_and_kl(theta, full_batch, config)[0]
        g = flat(torch.autograd.grad(loss, params))
        hvp, _ = curvature(theta, full_batch, config, torch.Generator().manual_seed(0))
        conjugate_gradient(lambda u: hvp(u) + config.cg_damping * u, -g, config.cg_iters)
    return (time.perf_counter() - start) / repeats


learner = {algo: learner_seconds(algo) for algo in ("maml", "fomaml")}
for algo, seconds in learner.items():
    print(f"{algo:>7}: {seconds:.2f} s per learner step")
print(f"second order / first order: {learner['maml'] / learner['fomaml']:.1f}×")

# %% [markdown]
# Then whole meta-iterations, sampling included, with `train_rl` at a reduced size (10 goals × 10
# episodes, 4 iterations; the first is a warm-up and not counted):

# %%
# NBVAL_IGNORE_OUTPUT
def seconds_per_iteration(algo, iterations=3):
    config = default_rl_config("navigation2d", algo, iterations=iterations + 1, meta_batch=10, episodes=10,
                               checkpoint_every=100)
    history = train_rl(config, out=None, progress=True)["history"]
    return (history[-1]["wall_time"] - history[0]["wall_time"]) / iterations


whole = {algo: seconds_per_iteration(algo) for algo in ("maml", "fomaml")}
for algo, seconds in whole.items():
    print(f"{algo:>7}: {seconds:.2f} s per meta-iteration")
print(f"second order / first order: {whole['maml'] / whole['fomaml']:.1f}×")

# %% [markdown]
# The machine is shared, so these timings wobble; the full measurement at the paper's sizes (20 goals ×
# 20 episodes, several iterations of MAML, FOMAML, CAVIA and Reptile, plus the sampler's speed) is
#
# ```bash
# python bench/rl_speed.py          # seconds per meta-iteration, and the second-/first-order ratio
# ```
#
# The shipped checkpoints also record their own training cost (each trained on this machine, while
# other jobs were running):

# %%
# NBVAL_IGNORE_OUTPUT
for algo in ("maml", "fomaml"):
    ckpt = shipped_checkpoint(f"navigation2d_{algo}")
    if ckpt is None:
        print(f"{algo:>7}: {NOT_SHIPPED}")
    else:
        print(f"{algo:>7}: {ckpt['iteration']} iterations in {ckpt['wall_time'] / 60:.1f} min "
              f"({ckpt['wall_time'] / ckpt['iteration']:.1f} s per meta-iteration)")

# %% [markdown]
# Sampling costs the same in both, so at equal sizes the saving on a whole iteration is smaller than on
# the learner alone, by the sampler's share of the time. The two ratios above are not measured at equal
# sizes, though: the whole iterations run at 10 goals × 10 episodes, where sampling is cheap and the
# learner's share large, and they include TRPO's line search; on a shared machine both ratios also
# wobble from run to run (`python bench/rl_speed.py` measures at the paper's sizes). For comparison, the paper reports a "roughly 33% speed-up in network
# computation" for first-order MAML on MiniImagenet (§5.2). Here the learner's second-order work — a
# Hessian-vector product of the support loss inside the meta-gradient, and two more inside every
# conjugate-gradient product — is a large part of an iteration.
#
# ## 3. What it loses: adaptation on the same held-out goals
#
# The paper's protocol (notebook 04): the paper's own 40 test goals, 40 episodes per step, α = 0.1 then
# 0.05, both policies with the same action noise.

# %%
# NBVAL_CHECK_OUTPUT
table = reproduction_table("navigation2d", models=("maml", "fomaml"), steps=3, episodes=40, seed=0)
print(table.summary())

# %%
table.figure

# %% [markdown]
# Read the difference against the standard errors (about ±1 after one step). Section 1 showed that the
# two methods take visibly different TRPO steps from the same point; whether those differences add up
# to a worse initialisation after many iterations is what this table measures. Note that the two
# shipped runs did not train for the same number of iterations (printed in section 2): the table
# compares two finished models, not two equal budgets — [`exercises/ex03_fomaml_navigation.ipynb`](../exercises/ex03_fomaml_navigation.ipynb) makes
# that comparison at equal budgets, and notebook 09's ablation does it over seeds. The training
# curves show the same comparison during meta-training (return on each iteration's own training goals,
# before and after the inner step):

# %%
histories = {algo: ckpt["history"] for algo in ("maml", "fomaml")
             if (ckpt := shipped_checkpoint(f"navigation2d_{algo}")) is not None}
fig, ax = new_figure(width=7.0, height=4.2)
plot_training_returns(ax, histories, title="shipped runs: mean return on the training goals");

# %% [markdown]
# Both policies on one goal (change the goal, α and the steps with the sliders below):

# %%
# NBVAL_CHECK_OUTPUT
one_goal = navigation_adaptation(goal_x=-0.3, goal_y=0.4, alpha=0.1, steps=1, episodes=20, seed=0,
                                 models=("maml", "fomaml"))
print(one_goal.summary())

# %%
one_goal.figure

# %%
# NBVAL_IGNORE_OUTPUT
navigation_widget(models=("maml", "fomaml"), goal_x=-0.3, goal_y=0.4, alpha=0.1, steps=1, episodes=20)

# %% [markdown]
# **When is first order enough?** When α is small relative to the curvature of the inner loss (so
# $J_i \approx I$), and when compute is dominated by something else (here: sampling episodes). It
# is *not* enough when the meta-objective depends on how the inner step's direction changes with θ —
# for example with several inner steps and a large α (notebook 02's toy shows the directions diverging as
# α grows), or for CAVIA-style context adaptation, where the context starts at 0 and only second-order
# terms tell the shared weights how the context will be used (notebook 07).
#
# **A surprise on the half-cheetah.** In RL the second-order term is itself an estimate, from the same
# 20 episodes per task: the Hessian of the REINFORCE surrogate. It is noisy, and it leaves out how θ
# changes the distribution the pre-update episodes are drawn from (Foerster et al. 2018, *DiCE*;
# Rothfuss et al. 2019, *ProMP*). It is not mainly noise: `python bench/meta_gradients.py --env
# halfcheetah_dir` finds it about as large as the first-order part and pointing the same way from one
# meta-batch to the next (mean cosine 0.64 between four batches at the shipped MAML checkpoint) — so
# where it misleads, the left-out term is the likelier culprit. On HalfCheetahDir (notebook 08; [docs/reproduction.md](../docs/reproduction.md) for the 40-task table) our
# first-order run did *better* than the second-order one: 219 against 184 on the validation tasks after
# the same 75 iterations; then MAML levelled off while FOMAML kept improving, to 300 against MAML's 178
# after one step on the paper's 40 test tasks (means over four evaluation seeds; the paper's MAML: 293). A second training seed gave
# the same order, more starkly (164 against 41 after 75 iterations). Two seeds are a hint, not a
# verdict. On HalfCheetahVel, trained about equally long (500 and 480 iterations), the two ended level
# (−96.9 and −94.7 on our own earlier draw of test tasks); MAML continued to 780 iterations is ahead,
# −75.7 against FOMAML's −82.3 on the paper's tasks (the paper's MAML: −78.6). On 2-D navigation above,
# second order is ahead after two steps.
#
# ## Check your understanding
#
# 1. FOMAML drops $J_i$ in the curvature as well as in the gradient. Which of the two changes the TRPO
#    *step length*, and which only its direction?
# 2. Why are the *values* of the surrogate and of the KL the same in first and second order, and why
#    does that let the line search use first-order evaluations even for second-order MAML?
# 3. At α = 0.01 the two meta-gradients nearly coincide. Would you then meta-train with α = 0.01? What
#    would the *adapted* policies lose?
# 4. Sampling costs the same in both. Using the timings above, estimate the largest speed-up that
#    removing the whole learner could give.
# 5. Reptile (notebook 06) is also "first order". What does it use instead of the post-update
#    episodes' gradient?
#
# **Exercises.** [`exercises/ex03_fomaml_navigation.ipynb`](../exercises/ex03_fomaml_navigation.ipynb) (worked solutions:
# `solutions/ex03_fomaml_navigation.ipynb`) is this notebook's exercise and the curriculum's practice
# run: write the meta-RL gradient in its first- and second-order forms (3.1) and the meta-training loop
# (3.2), train first-order MAML on 2-D navigation for 200 meta-iterations with a curve of the held-out
# return after one step, then second-order MAML on the same budget, and explain from your own
# measurements when the Hessian term is worth its cost (3.3, written). It builds on Exercise 1.3 of
# [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (the first-order approximation on sinusoids) and on
# [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb).
#
# **Next:** [notebook 06 · *Reptile in meta-RL: move towards the adapted policy*](06_reptile.ipynb) — a method that needs
# no post-update gradient at all.
