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
# # 06 · Reptile in meta-RL: move towards the adapted policy
#
# **Learning objectives.** After this notebook you can
# 1. write Reptile's update $\theta \leftarrow \theta + \varepsilon\,(\phi - \theta)$ and its batched form, and
#    say what it needs — and does not need — compared with MAML (no post-update gradient, no second
#    derivatives, no support/query split);
# 2. show that with **one** inner step Reptile is joint (multi-task) training, and explain why it needs
#    several steps to meta-learn;
# 3. explain why in RL every inner step needs **fresh episodes**, and what that costs;
# 4. compare the shipped Reptile policy with MAML and the pretrained baseline on the same held-out goals.
#
# **Prerequisites.** Notebooks 04 (MAML for RL) and 05 (first-order MAML); Reptile on the sinusoids
# and the toy (notebooks 02–03).
#
# **Run time.** 10–25 s on a 2-core CPU (measured: 12–16 s, partly with two training runs sharing the
# machine); most of it is the three-row reproduction table.

# %%
# %matplotlib inline
import inspect
import math
from dataclasses import replace

import torch

from course_lib.functional import batched, parameters_of
from course_lib.rl.envs import make_batched_env
from course_lib.rl.episodes import sample_episodes
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.losses import reinforce_loss
from course_lib.rl.tasks import with_advantages
from course_lib.rl.config import build_policy, default_rl_config, initial_params
from course_lib.rl.train import reptile_update
from course_lib.rl.trpo import flat
from course_lib.rl.reproduction import NOT_SHIPPED, shipped_checkpoint
from course_lib.ui.navigation import navigation_adaptation, navigation_widget
from course_lib.ui.returns import reproduction_table

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free

# %% [markdown]
# ## 1. The update
#
# Reptile (Nichol, Achiam & Schulman 2018) runs the inner loop — $k$ policy-gradient steps on task $i$,
# ending at the adapted parameters $\phi_i$ (θ′ in MAML's notation; in this workbook φ always denotes
# adapted parameters — Reptile's adapted weights here, CAVIA's adapted context in notebook 07) — and
# then simply moves the initialisation towards where the inner loop ended:
#
# $$\theta \leftarrow \theta + \varepsilon\,\frac1T\sum_i (\phi_i - \theta).$$
#
# There is no post-update loss, no gradient through the inner loop and no second derivatives: the inner
# loop is the *only* thing Reptile runs. The Reptile paper suggests treating $\theta - \phi$ as a gradient
# and handing it to Adam; `course_lib` does exactly that (`meta_lr = 0.01`, 3 inner steps of α = 0.1).
# TRPO does not fit as it stands: $\theta - \phi$ is not the gradient of a loss, so there is no surrogate
# whose improvement a line search could check, and no gradient $g$ for the natural-gradient direction
# $F^{-1}g$. A KL trust region could still *scale* the step: move along $\Delta = \mathrm{mean}_i(\phi_i - \theta)$
# by $\varepsilon = \sqrt{2\varepsilon_{KL}/\Delta^\top F\Delta}$, with $F$ the Fisher matrix (the KL's Hessian) at
# θ, so that the pre-update policy changes by at most $\varepsilon_{KL}$ in KL per meta-update. `course_lib`
# follows the paper and uses Adam. The whole update in `course_lib/rl/train.py`:

# %%
print(inspect.getsource(reptile_update))

# %% [markdown]
# ## 2. With one inner step, Reptile is joint training
#
# With $k = 1$, $\phi_i = \theta - \alpha\nabla\mathcal L^{\text{RE}}_i(\theta)$, so
#
# $$\frac1T\sum_i(\theta - \phi_i) = \alpha\,\nabla_\theta\,\frac1T\sum_i \mathcal L^{\text{RE}}_i(\theta),$$
#
# the gradient of the average *pre-update* loss over tasks: the multi-task pretraining objective of
# notebook 01, which does not ask for adaptability at all. Check it on 10 goals × 20 episodes with an
# untrained policy — the same generator seed gives the same episodes to both computations:

# %% tags=["nbval-check-output"]
config = default_rl_config("navigation2d", "reptile")
torch.manual_seed(0)
policy = build_policy(config)
theta = parameters_of(policy)
goals = held_out_tasks("navigation2d", 10, seed=1)
env = make_batched_env("navigation2d", goals, 20)

one_step = flat(reptile_update(policy, theta, env, replace(config, steps=1), torch.Generator().manual_seed(0)).values())

episodes = with_advantages(sample_episodes(policy, initial_params(theta, 10, config), env,
                                           torch.Generator().manual_seed(0)), config.gamma, config.gae_lambda)
joint = flat(torch.autograd.grad(reinforce_loss(policy, batched(theta, 10), episodes).mean(), list(theta.values())))
print("k = 1: mean(θ − φ) = α · ∇(mean pre-update loss):",
      bool(torch.allclose(one_step, config.alpha * joint, rtol=1e-4, atol=1e-7)))

cosines = {}
for k in (2, 3, 5):
    direction = flat(reptile_update(policy, theta, env, replace(config, steps=k), torch.Generator().manual_seed(0)).values())
    cos = cosines[k] = float(direction @ joint / (direction.norm() * joint.norm()))
    print(f"k = {k}: cos(Reptile direction, joint-training gradient) = {cos:.2f}, |θ − φ| / (kα|∇L|) = "
          f"{direction.norm() / (k * config.alpha * joint.norm()):.2f}")
print("\nquoted below: " + ", ".join(f"cos_k{k} = {c:.2f}" for k, c in cosines.items())
      + f", angle_k5 = {math.degrees(math.acos(cosines[5])):.0f}")

# %% [markdown]
# With more steps the direction stays close to the joint-training gradient, deviating only slightly: the
# cosine falls from <span data-out="cos_k2">0.98</span> at $k = 2$ to <span data-out="cos_k5">0.96</span>
# at $k = 5$ (an angle of about <span data-out="angle_k5">16</span>°). The joint-training term $k\alpha\nabla\mathcal L$ dominates
# $\theta - \phi$; the part that differs is of order $\alpha^2$ — small in norm, but it is the part that
# makes Reptile *meta*-learn (Nichol et al., §5): expand step $j$'s gradient around θ, $g_j \approx \nabla\mathcal L(\theta) - \alpha\nabla^2\mathcal L\,(g_1 + \dots + g_{j-1})$.
# Summed over the $k$ steps, $\theta - \phi$ contains, besides $k\alpha\nabla\mathcal L$, terms like
# $-\alpha^2\nabla^2\mathcal L_{(2)}\, g_{(1)}$ — and in expectation over the two independent batches
# $-\alpha^2 \nabla^2\mathcal L_{(2)}\,g_{(1)} = -\tfrac{\alpha^2}{2}\nabla\big(g_{(1)}\cdot g_{(2)}\big)$. Following $\theta - \phi$
# therefore also *increases the inner product between gradients of different batches of the same
# task*: it seeks an initialisation where a step on one batch of episodes also helps on the next — the
# same thing MAML's $(I - \alpha\nabla^2\mathcal L)$ term asks for. With one step there is no "next batch",
# and the term is gone.
#
# ## 3. In RL every inner step needs fresh episodes
#
# A REINFORCE gradient is an expectation over the episodes *of the current policy*,
# $\nabla\mathcal L(\phi) = -\mathbb E_{\tau\sim\pi_\phi}[\nabla\log\pi_\phi(a \mid s)\,\hat A]$. After one step the
# policy has changed, so the episodes sampled with θ no longer estimate the gradient at $\phi_1$
# (re-weighting them by $\pi_{\phi_1}/\pi_\theta$ is possible, but the weights' variance grows quickly as
# $\phi$ moves away). So Reptile in RL samples a fresh batch at every inner step — which also supplies
# the "different batches" that section 2's inner-product term needs. The cost, per meta-iteration, with
# the paper's 20 goals × 20 episodes:

# %% tags=["nbval-check-output"]
T, N = 20, 20
for name, batches in (("MAML / FOMAML (pre- and post-update)", 2), ("Reptile, k = 3 inner steps", 3),
                      ("Reptile, k = 5 inner steps", 5)):
    print(f"{name:>38}: {batches * T * N:5d} episodes, {batches} rounds of sampling one after the other")

# %% [markdown]
# The rounds cannot overlap: each needs the policy the previous round produced. Reptile saves the
# learner's work (no surrogate, no curvature, no conjugate gradient) and pays in sampling. The recorded
# training cost of the shipped checkpoints (on this shared machine; `python bench/rl_speed.py` measures
# all four methods at the same sizes):

# %% tags=["nbval-ignore-output"]
record = {}
for algo in ("maml", "reptile"):
    ckpt = shipped_checkpoint(f"navigation2d_{algo}")
    if ckpt is None:
        print(f"{algo:>8}: {NOT_SHIPPED}")
    else:
        record[algo] = ckpt["wall_time"] / ckpt["iteration"]
        print(f"{algo:>8}: {ckpt['iteration']} iterations in {ckpt['wall_time'] / 60:.1f} min "
              f"({record[algo]:.1f} s per meta-iteration)")
if record:
    print("\nquoted below: " + ", ".join(f"{algo}_record = {seconds:.1f}" for algo, seconds in record.items()))

# %% [markdown]
# Recorded this way, Reptile's iterations look cheaper (<span data-out="reptile_record">1.1</span> s
# against MAML's <span data-out="maml_record">2.7</span> s): on 2-D navigation the batched sampler is
# fast, so three rounds of sampling cost less than MAML's learner. Treat it as a hint only — the two
# runs were trained at different times on a shared machine; `bench/rl_speed.py` times the methods side
# by side. On a task whose simulation is expensive (the MuJoCo tasks of notebook 08) the extra rounds
# of sampling would weigh much more.

# %% [markdown]
# ## 4. Adaptation on the same held-out goals
#
# The paper's protocol (notebook 04): its 40 test goals, 40 episodes per step, α = 0.1 then 0.05. Reptile
# was meta-trained with three steps of α = 0.1; it is evaluated like every other policy. The pretrained
# row is what Reptile would be with $k = 1$.

# %% tags=["nbval-check-output"]
table = reproduction_table("navigation2d", models=("maml", "reptile", "pretrain"), steps=3, episodes=40, seed=0)
print(table.summary())
means = {name: [m for m, _ in table.mean_and_stderr(name)] for name in ("maml", "reptile", "pretrain")}
print("\nquoted below: " + ", ".join(f"{name}_{s} = {means[name][s]:.2f}" for name in means for s in range(4)))

# %%
table.figure

# %% [markdown]
# What to look for: Reptile's return *before* adaptation (it is pulled towards policies that do well
# after several steps on *every* goal, so it may start better or worse than MAML's), how much of the gap
# the first step closes, and whether its curve keeps rising over steps 2 and 3 — the regime it was
# trained for — where MAML, trained for one step, flattens.
#
# One goal, the three policies side by side; then the sliders:

# %% tags=["nbval-check-output"]
one_goal = navigation_adaptation(goal_x=0.4, goal_y=0.3, alpha=0.1, steps=3, episodes=20, seed=0,
                                 models=("reptile", "maml", "pretrain"))
print(one_goal.summary())

# %%
one_goal.figure

# %% tags=["nbval-ignore-output"]
navigation_widget(models=("reptile", "maml"), goal_x=0.4, goal_y=0.3, alpha=0.1, steps=3, episodes=20)

# %% [markdown]
# ## Check your understanding
#
# 1. Show that for $k = 1$ Reptile's direction is α times the joint-training gradient. What is the
#    analogous statement for MAML with zero inner steps?
#
#    <details><summary>Answer</summary>
#
#    With one step, $\phi_i = \theta - \alpha\nabla\mathcal L^{\text{RE}}_i(\theta)$, so
#    $\theta - \phi_i = \alpha\nabla\mathcal L^{\text{RE}}_i(\theta)$ and the mean over tasks is
#    $\alpha\nabla\frac1T\sum_i\mathcal L^{\text{RE}}_i(\theta)$ — section 2 checks it to numerical precision on the same episodes. MAML with
#    zero inner steps has $\theta'_i = \theta$, so its meta-gradient is $\nabla\frac1T\sum_i\mathcal L_i(\theta)$:
#    also the multi-task (pretraining) gradient. Both reduce to joint training when there is no
#    adaptation to learn through.
#
#    </details>
#
# 2. Reptile's update has no support/query split. Where, then, does the "test on new data" of MAML's
#    objective hide in Reptile (hint: the batches of section 2)?
#
#    <details><summary>Answer</summary>
#
#    In the later inner steps: step $j$'s gradient is computed on a *new* batch, at parameters already
#    moved by the steps on earlier batches. In expectation the $\alpha^2$ terms of $\theta - \phi$ equal
#    $-\tfrac{\alpha^2}{2}\nabla\big(g_{(1)}\cdot g_{(2)}\big)$, so following them increases the agreement
#    between gradients of different batches of the same task — "a step on one batch also helps on the
#    next", which is MAML's "adapt on support, test on query". In RL those batches are the fresh episodes
#    of each inner step.
#
#    </details>
#
# 3. Why can Reptile not reuse the first batch of episodes for its second inner step in RL, although in
#    supervised learning it may loop over the same K examples?
#
#    <details><summary>Answer</summary>
#
#    A policy-gradient estimate is an expectation over episodes of the *current* policy. After the first
#    step the policy is $\phi_1$, and episodes drawn from θ are off-policy for it: reusing them as they are
#    estimates the wrong gradient, and re-weighting them by $\pi_{\phi_1}/\pi_\theta$ gives weights whose
#    variance grows quickly as $\phi$ moves. In supervised learning the data $(x, y)$ do not depend on the
#    parameters, so the loss on the same K examples is still the right loss at $\phi_1$ (it may
#    overfit them, but it is not biased by where it was sampled).
#
#    </details>
#
# 4. Why does Reptile not use TRPO in `course_lib`? If you wanted a KL trust region anyway, what would
#    it constrain, and how would you size the step?
#
#    <details><summary>Answer</summary>
#
#    TRPO needs a surrogate loss: its direction is $F^{-1}g$ for the surrogate's gradient $g$, and its
#    line search checks that the surrogate improves. $\theta - \phi$ is not the gradient of any loss, so
#    neither exists. A trust region can still bound the step: it would constrain how much the
#    *pre-update* policy $\pi_\theta$ changes per meta-update, measured by the KL averaged over the visited
#    states. Along $\Delta = \mathrm{mean}_i(\phi_i - \theta)$ the KL is about $\tfrac12\varepsilon^2\Delta^\top F\Delta$, so
#    $\varepsilon = \sqrt{2\varepsilon_{KL}/\Delta^\top F\Delta}$ (one Fisher-vector product), optionally followed by
#    a backtracking search on the measured KL alone. The Reptile paper hands $\theta - \phi$ to Adam
#    instead, and so does `course_lib`.
#
#    </details>
#
# 5. Reptile was trained with three inner steps of α = 0.1 but is evaluated with α = 0.1 then 0.05. How
#    would you check whether this mismatch hurts it (try the widget)?
#
#    <details><summary>Answer</summary>
#
#    Evaluate it both ways on the *same* goals, episodes and seed, and compare the returns after three
#    steps against their standard errors. The widget (and `navigation_adaptation`) halves α after the
#    first step, so with α = 0.2 it runs 0.2 / 0.1 / 0.1 — the trained size for steps 2 and 3; for exactly
#    0.1 / 0.1 / 0.1, call `course_lib.rl.evaluate.adaptation_episodes` with that schedule. Look at
#    several goals (the 40 of the table, not one): a difference on one goal with 20 episodes is mostly
#    sampling noise.
#
#    </details>
#
# ## Takeaways
#
# * Reptile moves θ towards the adapted parameters,
#   $\theta \leftarrow \theta + \varepsilon\,\mathrm{mean}_i(\phi_i - \theta)$: only the inner loop runs — no post-update loss, no gradient through the inner loop, no
#   second derivatives.
# * With one inner step it *is* joint training (checked exactly above). Meta-learning enters with
#   $k \ge 2$ through the $\alpha^2$ terms that reward agreement between gradients of different batches —
#   small next to the joint-training term (cosine <span data-out="cos_k5">0.96</span>–<span data-out="cos_k2">0.98</span>
#   here), but the whole point.
# * In RL every inner step needs fresh episodes of the current policy: $k$ rounds of sampling, one after
#   the other. Reptile saves the learner's work and pays in sampling.
# * On the paper's navigation goals the shipped Reptile policy is behind MAML after one and two steps
#   (<span data-out="reptile_1">−11.86</span> and <span data-out="reptile_2">−4.70</span> against
#   <span data-out="maml_1">−10.52</span> and <span data-out="maml_2">−3.32</span>) and ahead after three
#   (<span data-out="reptile_3">−2.53</span> against <span data-out="maml_3">−3.24</span>): it was
#   trained for three steps, MAML for one.
# * With no surrogate, TRPO does not apply as it stands; Adam is the usual outer optimiser, and a KL
#   bound could still scale the step.
#
# **Exercises.** Exercise 1.4 of [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (worked solution:
# `solutions/ex01_meta_gradients.ipynb`) writes Reptile's meta-update θ ← θ + ε·mean(φ − θ) and trains
# it on sinusoids in a few seconds. For RL, Exercise 2.5 of [`exercises/ex02_meta_rl.ipynb`](../exercises/ex02_meta_rl.ipynb) (solutions:
# `solutions/ex02_meta_rl.ipynb`), one-step adaptation, is the building block of Reptile's inner loop:
# run it three times, on fresh episodes each time, and you have `reptile_update` above.
#
# **Next:** [notebook 07 · *CAVIA: adapt a context, not the weights — and a new velocity in one step*](07_cavia.ipynb) —
# adapt only a small context vector.
