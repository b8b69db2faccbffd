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
from course_lib.ui.plots import new_figure
from course_lib.rl.curvature import meta_kl_curvature
from course_lib.rl.envs import make_batched_env
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.train import curvature, meta_loss_and_kl, sample_meta_batch, train_rl
from course_lib.rl.config import default_rl_config, load_policy
from course_lib.rl.trpo import conjugate_gradient, flat
from course_lib.rl.reproduction import NOT_SHIPPED, shipped_checkpoint
from course_lib.ui.navigation import navigation_adaptation, navigation_widget
from course_lib.ui.returns import plot_training_returns, reproduction_table

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
# | KL curvature $F v$ | $\frac1T\sum_i J_i F'_i J_i\, v$ | $\frac1T\sum_i F'_i\, v$ |
#
# First order sets $J_i = I$ in **both**: the surrogate's gradient and the KL's Hessian are taken at the
# adapted parameters, as if $\theta'_i$ moved rigidly with $\theta$ ($F'_i$ is the Hessian of task $i$'s KL at
# $\theta'_i$, the Fisher matrix; $F$ for the KL's curvature, as in notebook 04). In code it is one flag: `inner_update(…,
# first_order=True)` detaches $\nabla\mathcal L$, so $\theta' = \theta - \alpha\,\mathrm{stop\_grad}(\nabla\mathcal L)$ and
# autograd sees $\partial\theta'/\partial\theta = I$ (`meta_loss_and_kl(…, first_order=True)`,
# `meta_kl_curvature(…, first_order=True)`). The *values* of $\theta'_i$, the surrogate and the KL are
# unchanged — only derivatives change.
#
# The dropped term is $-\alpha\nabla^2\mathcal L_i$, so its weight grows with α. On one real meta-batch
# (10 goals × 20 episodes, at the shipped MAML policy), compare the two meta-gradients, and the two
# curvatures on a random vector, for three step sizes:

# %% tags=["nbval-check-output"]
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
print(f"{'α':>5} {'cos(g_2nd, g_1st)':>18} {'|g_1st| / |g_2nd|':>18} {'|F_1st v − F_2nd v| / |F_2nd v|':>32}")
compared = {}
for alpha in (0.01, 0.1, 0.3):
    config, batch = meta_batch(alpha)
    g2, g1 = (flat(torch.autograd.grad(meta_loss_and_kl(theta, batch, config, first_order=fo)[0], params))
              for fo in (False, True))
    f2, f1 = (meta_kl_curvature(theta, names, batch, alpha, first_order=fo)(v) for fo in (False, True))
    compared[alpha] = (cosine(g2, g1), float(g1.norm() / g2.norm()), float((f1 - f2).norm() / f2.norm()))
    print(f"{alpha:5.2f} {compared[alpha][0]:18.3f} {compared[alpha][1]:18.2f} {compared[alpha][2]:32.2f}")
cos_01, ratio_01, curvature_01 = compared[0.1]
print(f"\nquoted below: cos_01 = {cos_01:.2f}, angle_01 = {np.degrees(np.arccos(cos_01)):.0f}, "
      f"ratio_01 = {ratio_01:.2f}, curvature_01 = {curvature_01:.2f}, cos_03 = {compared[0.3][0]:.2f}")

# %% [markdown]
# For a small α the two coincide — $J_i \to I$. At the training value α = 0.1 they already differ
# substantially: they are only moderately aligned — a cosine of <span data-out="cos_01">0.62</span> is an
# angle of about <span data-out="angle_01">52</span>°, not "the same direction" — the first-order
# gradient is only <span data-out="ratio_01">0.62</span> times as long, and the curvature differs by
# about half its size (<span data-out="curvature_01">0.53</span>). The inner step's Hessian is not small
# compared with $1/\alpha$ in every direction, and at α = 0.3 the two gradients are further apart
# still (cosine <span data-out="cos_03">0.43</span>). What matters in the end is TRPO's *step*, which combines both, $\Delta\theta \propto F^{-1}(-g)$,
# rescaled so that its KL is $\varepsilon_{KL}$ (`max_kl` = 0.01). At α = 0.1:

# %% tags=["nbval-check-output"]
config, batch = meta_batch(0.1)
steps = {}
for first_order in (False, True):
    loss = meta_loss_and_kl(theta, batch, config, first_order=first_order)[0]
    g = flat(torch.autograd.grad(loss, params))
    F = meta_kl_curvature(theta, names, batch, config.alpha, first_order=first_order)
    x = conjugate_gradient(lambda u: F(u) + config.cg_damping * u, -g, config.cg_iters)
    steps[first_order] = x * torch.sqrt(2 * config.max_kl / (x @ F(x)))
print(f"cos(second-order TRPO step, first-order TRPO step) = {cosine(steps[False], steps[True]):.2f}")
print(f"step lengths: second order {steps[False].norm():.2f}, first order {steps[True].norm():.2f}")
print(f"\nquoted below: step_cos = {cosine(steps[False], steps[True]):.2f}, "
      f"step_len_2nd = {steps[False].norm():.2f}, step_len_1st = {steps[True].norm():.2f}")

# %% [markdown]
# The two TRPO steps agree better than the two gradients (cosine <span data-out="step_cos">0.73</span>
# against <span data-out="cos_01">0.62</span>) but are still far from the same step, and they differ in length too: each is rescaled to the trust region measured
# with its *own* curvature.
#
# ## 2. What it saves: time per meta-iteration
#
# Sampling — 2 × 20 goals × 20 episodes of 100 steps per iteration — is the same for both. The
# difference is in the learner: the second-order meta-gradient backpropagates through the inner
# gradient (a Hessian-vector product of the support loss per task), and every one of TRPO's ten
# conjugate-gradient products applies $J_i$ twice. First, the sampling of one full-size meta-batch
# (20 goals × 20 episodes, before and after the inner step), then the learner alone on it (curvature
# on 5 of the goals, as in training), both measured one after the other in this process:

# %% tags=["nbval-ignore-output"]
full_goals = held_out_tasks("navigation2d", 20, seed=3)
full_config = replace(maml_config, meta_batch=20, episodes=20)
start = time.perf_counter()
full_batch = sample_meta_batch(policy, theta, make_batched_env("navigation2d", full_goals, 20), full_config,
                               torch.Generator().manual_seed(0))
sampling = time.perf_counter() - start


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
print(f"sampling one meta-batch (both methods): {sampling:.2f} s")
for algo, seconds in learner.items():
    print(f"{algo:>7}: {seconds:.2f} s per learner step")
print(f"second order / first order: {learner['maml'] / learner['fomaml']:.1f}×")
print(f"whole iteration at this size, sampling + learner: at most {(sampling + learner['maml']) / sampling:.1f}× "
      f"faster with any learner, {(sampling + learner['maml']) / (sampling + learner['fomaml']):.1f}× with first order")

# %% [markdown]
# Then whole meta-iterations, sampling included, with `train_rl` at a reduced size (10 goals × 10
# episodes, 4 iterations; the first is a warm-up and not counted):

# %% tags=["nbval-ignore-output"]
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
# The machine is shared, so these timings wobble: three iterations on two busy cores are a small
# sample, and a run during which another job starts can even show first order *slower* — rerun the
# cell, or better, use the bench. The full measurement at the paper's sizes (20 goals ×
# 20 episodes, several iterations of MAML, FOMAML, CAVIA and Reptile, plus the sampler's speed) is
#
# ```bash
# python bench/rl_speed.py          # seconds per meta-iteration, and the second-/first-order ratio
# ```
#
# The shipped checkpoints also record their own training cost — but as a *record*, not a measurement:
# each was trained on this 2-core machine at a different time, while other jobs were running:

# %% tags=["nbval-ignore-output"]
record = {}
for algo in ("maml", "fomaml"):
    ckpt = shipped_checkpoint(f"navigation2d_{algo}")
    if ckpt is None:
        print(f"{algo:>7}: {NOT_SHIPPED}")
    else:
        single = np.diff([h["wall_time"] for h in ckpt["history"]])
        record[algo] = ckpt["wall_time"] / ckpt["iteration"]
        print(f"{algo:>7}: {ckpt['iteration']} iterations in {ckpt['wall_time'] / 60:.1f} min "
              f"({record[algo]:.1f} s per meta-iteration; single iterations "
              f"from {single.min():.1f} to {single.max():.1f} s)")
if record:
    print("\nquoted below: " + ", ".join(f"{algo}_record = {seconds:.1f}" for algo, seconds in record.items()))

# %% [markdown]
# **Why the shipped FOMAML run looks *slower* (<span data-out="fomaml_record">4.2</span> s against
# <span data-out="maml_record">2.7</span> s per iteration).** Not because first order costs more: the
# two runs shared the machine with different amounts of other work, and within each run single
# iterations vary by a factor of three to five (the ranges printed above). Recorded
# training times of runs made at different times cannot compare methods; only timings taken side by
# side, on the same data, can — the live measurements above, or `python bench/rl_speed.py` on an idle
# machine, which at the paper's sizes gives 0.99 s per iteration for MAML against 0.57 s for FOMAML, a
# ratio of 1.74 ([docs/performance.md](../docs/performance.md)).
#
# What first order saves is the learner's backward pass through the inner step — and memory: second
# order keeps the graph of every task's inner gradient (`create_graph=True`) until the meta-gradient is
# taken, first order does not build it. With navigation's 10 604 weights the memory hardly matters; with
# a large network or several inner steps it decides whether a meta-batch fits at all. Sampling costs
# the same in both, so at equal sizes the saving on a whole iteration is smaller than on
# the learner alone, by the sampler's share of the time. On 2-D navigation that share is small — the
# batched sampler is fast and, at the paper's sizes, the learner is most of an iteration — so first
# order saves a good part of the iteration. (On the MuJoCo tasks of notebook 08 the simulation is much
# more expensive, and the saving on a whole iteration shrinks accordingly.) The two ratios above are not
# measured at equal sizes, though: the whole iterations run at 10 goals × 10 episodes and include TRPO's
# line search; on a shared machine both ratios also wobble from run to run. For comparison, the paper
# reports a "roughly 33% speed-up in network computation" for first-order MAML on MiniImagenet (§5.2).
# Here the learner's second-order work — a Hessian-vector product of the support loss inside the
# meta-gradient, and two more inside every conjugate-gradient product — is a large part of an
# iteration.
#
# ## 3. What it loses: adaptation on the same held-out goals
#
# The paper's protocol (notebook 04): the paper's own 40 test goals, 40 episodes per step, α = 0.1 then
# 0.05, both policies with the same action noise.

# %% tags=["nbval-check-output"]
table = reproduction_table("navigation2d", models=("maml", "fomaml"), steps=3, episodes=40, seed=0)
print(table.summary())
maml_row, fomaml_row = table.mean_and_stderr("maml"), table.mean_and_stderr("fomaml")
print(f"\nquoted below: maml_0 = {maml_row[0][0]:.1f}, maml_1 = {maml_row[1][0]:.1f}, "
      f"maml_2 = {maml_row[2][0]:.2f}, fomaml_2 = {fomaml_row[2][0]:.2f}, maml_3 = {maml_row[3][0]:.2f}, "
      f"fomaml_3 = {fomaml_row[3][0]:.2f}")

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

# %% tags=["nbval-check-output"]
one_goal = navigation_adaptation(goal_x=-0.3, goal_y=0.4, alpha=0.1, steps=1, episodes=20, seed=0,
                                 models=("maml", "fomaml"))
print(one_goal.summary())

# %%
one_goal.figure

# %% tags=["nbval-ignore-output"]
navigation_widget(models=("maml", "fomaml"), goal_x=-0.3, goal_y=0.4, alpha=0.1, steps=1, episodes=20)

# %% [markdown]
# **When is first order enough?** When α is small relative to the curvature of the inner loss (so
# $J_i \approx I$), and when compute is dominated by something the learner does not touch — the
# simulation of the MuJoCo tasks (notebook 08), not the fast sampler of 2-D navigation (section 2). It
# is *not* enough when the meta-objective depends on how the inner step's direction changes with θ —
# for example with several inner steps and a large α (notebook 02's toy shows the directions diverging as
# α grows). For CAVIA-style context adaptation (notebook 07), first order still trains the shared
# weights θ, including how they use the context: the gradient $\nabla_\theta\mathcal L_q(\theta, \phi_i)$ is
# taken at the *adapted* context $\phi_i \neq 0$. What it drops is the path through $\phi_i(\theta)$, the
# term $-\alpha\,\nabla^2_{\theta\phi}\mathcal L_s\,\nabla_\phi\mathcal L_q$ — how θ should change so that the
# *next* context step lands somewhere better. Notebook 07 (section 1) measures it on navigation: the
# first-order CAVIA meta-gradient is about half as long as the second-order one, at a cosine of 0.73 —
# θ is still trained, but the dropped term is large.
#
# **What "second order" means in MAML-RL.** Even second-order MAML-TRPO does not compute the exact
# gradient of the RL meta-objective $\mathbb E_{\tau\sim\pi_\theta}\big[J(\theta'(\theta, \tau))\big]$ (notebook 04,
# section 3, states it in full). The usual surrogate holds the pre-update episodes τ fixed, so it drops
# (a) their dependence on θ, the score-function term $\mathbb E\big[J(\theta')\,\sum_t\nabla_\theta\log\pi_\theta(a_t \mid s_t)\big]$,
# and (b) in the Hessian of the REINFORCE loss, the term $\mathbb E\big[\hat A\,\nabla\log\pi\,\nabla\log\pi^\top\big]$;
# and what it keeps is estimated from the same 20 episodes per task. E-MAML (Stadie et al. 2018) adds
# term (a); DiCE (Foerster et al. 2018) gives a surrogate whose derivatives of every order are unbiased;
# ProMP (Rothfuss et al. 2019) with its low-variance curvature estimator (LVC) corrects the Hessian
# with less variance. So "first against second order" in RL compares two approximations, and which one
# wins depends on the problem: on 2-D navigation above, second order is ahead after two and three
# steps; on the half-cheetah directions our first-order run ended ahead (notebook 08; notebook 09
# weighs the two). The training runs, seeds and full tables behind these statements are in
# [docs/reproduction.md](../docs/reproduction.md).
#
# ## Check your understanding
#
# 1. TRPO's step is $\Delta\theta = x\,\sqrt{2\varepsilon_{KL} / x^\top F x}$ with $x = F^{-1}(-g)$. Suppose the
#    curvature were a multiple of the identity, $F = cI$. Which change — dropping $J_i$ in the gradient
#    $g$, or in the curvature $F$ — would then alter only the step's *direction*, and which only its
#    *length*? Why does this clean split fail for a general $F$, as in section 1?
#
#    <details><summary>Answer</summary>
#
#    With $F = cI$: $x = -g/c$ and $\Delta\theta = -\frac{g}{|g|}\sqrt{2\varepsilon_{KL}/c}$. The direction is
#    that of $-g$, whatever $c$ is, and the length is $\sqrt{2\varepsilon_{KL}/c}$, whatever $g$ is. So
#    changing $g$ would change only the direction, and changing (the scale of) $F$ only the length. For a
#    general $F$ both change both: $F^{-1}$ re-weights the components of $g$ along $F$'s eigenvectors
#    (so a different $F$ turns the step), and the Euclidean length $\sqrt{2\varepsilon_{KL}/\hat x^\top F\hat x}$
#    depends on the curvature along the step's direction $\hat x$ (so a different $g$ changes the length).
#    What stays fixed is the step's KL *as measured by the F used*,
#    $\tfrac12\Delta\theta^\top F\Delta\theta = \varepsilon_{KL}$. Section 1 shows both effects at once: cosine
#    <span data-out="step_cos">0.73</span> between the steps, lengths <span data-out="step_len_2nd">0.09</span>
#    and <span data-out="step_len_1st">0.10</span>.
#
#    </details>
#
# 2. Why are the *values* of the surrogate and of the KL the same in first and second order, and why
#    does that let the line search use first-order evaluations even for second-order MAML?
#
#    <details><summary>Answer</summary>
#
#    First order only detaches the inner gradient: $\theta' = \theta - \alpha\,\mathrm{stop\_grad}(\nabla\mathcal L)$
#    has the same value as $\theta - \alpha\nabla\mathcal L$, and the surrogate and the KL are functions of
#    $\theta'$. Only their derivatives differ. The line search needs values only — does the candidate θ
#    improve the surrogate, and is its KL within $\varepsilon_{KL}$? — so building the second-order graph
#    for it would cost time and memory for nothing; `course_lib` evaluates with `first_order=True`.
#
#    </details>
#
# 3. At α = 0.01 the two meta-gradients nearly coincide. Would you then meta-train with α = 0.01? What
#    would the *adapted* policies lose?
#
#    <details><summary>Answer</summary>
#
#    No. They coincide because $J_i = I - \alpha\nabla^2\mathcal L_i \approx I$, i.e. because the inner step
#    barely changes anything: one step of α = 0.01 moves the policy a tenth as far as the trained α = 0.1
#    does, so the adapted policy stays close to the pre-update one and the one-step gain (<span data-out="maml_0">−40.3</span> →
#    <span data-out="maml_1">−10.5</span> with α = 0.1 in section 3) largely disappears. As α → 0 the meta-objective becomes the plain
#    multi-task loss — there is nothing left to meta-learn, so it is no surprise that first order is exact
#    there.
#
#    </details>
#
# 4. An iteration is sampling plus learner (plus TRPO's line search). Section 2 times both on the same
#    full-size meta-batch. What is the largest speed-up that *any* cheaper learner could give, and how
#    much of it does first order get?
#
#    <details><summary>Answer</summary>
#
#    Amdahl's law: if sampling takes $t_s$ and the second-order learner $t_2$, no learner can make an
#    iteration faster than $t_s$, so the bound is $(t_s + t_2)/t_s$. First order does not remove the
#    learner — it still needs the gradient, the curvature and ten conjugate-gradient products, in
#    $t_1$ — so it gets $(t_s + t_2)/(t_s + t_1)$. Section 2's first cell prints both from its own
#    timings: a bound of several-fold, of which first order gets a good part, because sampling is
#    cheap on 2-D navigation. The numbers move from run to run on a shared machine; the reasoning does
#    not.
#
#    </details>
#
# 5. Reptile (notebook 06) is also "first order". What does it use instead of the post-update
#    episodes' gradient?
#
#    <details><summary>Answer</summary>
#
#    The displacement of the inner loop itself: after $k$ policy-gradient steps, each on freshly sampled
#    episodes, it moves θ towards the adapted parameters,
#    $\theta \leftarrow \theta + \varepsilon\,\mathrm{mean}_i(\phi_i - \theta)$. There is no post-update (query) loss and no gradient through the inner loop; the
#    meta-learning signal comes from successive inner steps on different batches (notebook 06, section 2).
#
#    </details>
#
# ## Takeaways
#
# * First-order MAML sets $J_i = I - \alpha\nabla^2\mathcal L_i$ to $I$ in the meta-gradient **and** in TRPO's
#   curvature; the values of θ′, the surrogate and the KL are unchanged — only derivatives change.
# * The dropped term grows with α. At the trained α = 0.1 on navigation it is not small: cosine
#   <span data-out="cos_01">0.62</span> between the meta-gradients (moderately aligned, not the same
#   direction), <span data-out="step_cos">0.73</span> between the TRPO steps.
# * It saves learner time (several times less learner work here); how much of a whole iteration that
#   is depends on the sampler's share. Compare methods only with timings taken side by side — recorded
#   training times from a shared machine cannot (the FOMAML run's <span data-out="fomaml_record">4.2</span> s
#   against MAML's <span data-out="maml_record">2.7</span> s).
# * On navigation the shipped first-order policy is behind after two and three steps
#   (<span data-out="fomaml_2">−4.65</span> against <span data-out="maml_2">−3.32</span> after two); whether first order is enough depends on the problem (notebooks 08 and 09).
# * Even "second-order" MAML-TRPO is exact only for its surrogate with the pre-update episodes held
#   fixed; E-MAML, DiCE and ProMP/LVC add what it leaves out.
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
