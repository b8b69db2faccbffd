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
# # 11 · What the MAML-RL gradient misses: the paper's estimator, DiCE and LVC on an MDP solved exactly
#
# **Learning objectives.** After this notebook you can
# 1. write the gradient of MAML-RL's objective as two terms — through the inner step, and through the
#    sampling of the pre-update episodes 𝒟 — and say which one the paper's estimator drops;
# 2. see the dropped term on a Markov decision process small enough to enumerate: the **exact**
#    meta-gradient against the exact expectation of the paper's estimator, DiCE's and LVC's;
# 3. tell bias from noise by Monte Carlo: DiCE's mean converges to the exact meta-gradient, the paper's
#    to a different vector, however many episodes you sample;
# 4. measure the price of being unbiased — the variance — on 2-D navigation, and explain why the
#    workbook's shipped MAML policies use the paper's estimator and what ProMP's LVC trades;
# 5. say what experiment would test notebook 08's explanation of FOMAML beating second-order MAML on
#    the cheetah directions.
#
# **Prerequisites.** Notebook 04, section 3 ("The meta-gradient in full"); notebook 05 (first-order
# MAML); notebook 08's paragraph "Why first order can win here and lose on navigation". Notation: the
# [formula sheet](../docs/formulas.md) (θ, θ′, α, J, L^RE, the episodes 𝒟 and 𝒟′).
#
# **Run time.** About 20–60 s on a 2-core CPU (measured: 23 s); the navigation measurement of section 4
# takes half of it.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.checkpoints import load_checkpoint, shipped
from course_lib.rl.config import load_policy
from course_lib.rl.estimator_noise import estimator_gradients, leave_one_out_cosine
from course_lib.rl.estimators import ESTIMATORS, magic_box, meta_surrogate
from course_lib.tasks import tabular as tb
from course_lib.ui.plots import COLORS, OTHER_COLORS, new_figure

torch.set_num_threads(1)          # small tensors: one thread is fastest, and leaves a core free
started = time.perf_counter()

# %% [markdown]
# ## 1. The objective, and the two halves of its gradient
#
# MAML-RL adapts on episodes that θ itself samples. With 𝒟 the K pre-update episodes of a task, sampled
# with $\pi_\theta$, and one REINFORCE step on them,
#
# $$\mathcal J(\theta) = \mathbb E_{\mathcal T}\;\mathbb E_{\mathcal D\sim\pi_\theta}\big[J_{\mathcal T}(\theta'(\theta, \mathcal D))\big],
# \qquad \theta'(\theta, \mathcal D) = \theta - \alpha\nabla_\theta\hat{\mathcal L}^{\text{RE}}(\theta; \mathcal D),$$
#
# and θ enters twice — through the step and through the distribution of 𝒟 (notebook 04, section 3):
#
# $$\nabla\mathcal J
# = \underbrace{\mathbb E\Big[\Big(\frac{\partial\theta'}{\partial\theta}\Big)^{\!\top}\nabla J_{\mathcal T}(\theta')\Big]}_{\text{through the step}}
# \;+\; \underbrace{\mathbb E\Big[J_{\mathcal T}(\theta')\,\nabla_\theta\log p_\theta(\mathcal D)\Big]}_{\text{through the sampling of }\mathcal D},
# \qquad \log p_\theta(\mathcal D) = \sum_{\tau\in\mathcal D}\sum_t \log\pi_\theta(a_t \mid s_t) + \text{(terms free of θ)} .$$
#
# The second term is a **score-function** term: it credits the pre-update policy for collecting
# episodes that make the inner step a good one — for exploring well. The estimator of the MAML paper's
# code (and of every PyTorch port, and of `course_lib.rl.train` by default) differentiates the
# post-update surrogate through the inner step *with 𝒟 held fixed*: it estimates the first term and
# leaves out the second. On 2-D navigation, with a 10 604-weight policy, nobody can compute ∇𝒥 to see
# what that costs. On a small enough problem we can.
#
# **The tabular MDP** (`course_lib.tasks.tabular.goal_mdp`): 3 states, 2 actions, deterministic moves,
# start in state 0, a horizon of H = 3 steps. Two tasks: task k pays a reward of 1 each time a step lands
# on its goal state (state 1 or state 2). The policy is a softmax table, $\pi_\theta(a \mid s) =
# \mathrm{softmax}(\theta[s])_a$, θ of shape 3 × 2. With K = 2 pre-update episodes per task there are
# 2³ = 8 trajectories and 8² = 64 possible batches 𝒟 per task, so $\mathcal J(\theta)$ is a finite
# sum, and autograd in float64 gives its exact gradient (`tb.exact_meta_gradient`). The inner step uses
# α = 2 (the REINFORCE loss is a mean over K·H steps of small rewards, so α must be large for the step to
# matter).

# %% tags=["nbval-check-output"]
H, ALPHA, N_PRE, N_POST = 3, 2.0, 2, 2
mdp = tb.goal_mdp(H)
theta = tb.initial_logits(mdp, seed=0)                    # a seeded random policy, θ = {"logits": [3, 2]}
print("policy π_θ(a|s), rows = states 0, 1, 2:\n", torch.softmax(theta["logits"], -1).detach().numpy().round(3))

j_before = tb.exact_objective(theta, mdp, ALPHA, N_PRE, steps=0).item()
j_after = tb.exact_objective(theta, mdp, ALPHA, N_PRE, steps=1).item()
print(f"\nexpected return per episode, mean over the two tasks: before the step {j_before:.4f}, "
      f"after one step on K = {N_PRE} episodes {j_after:.4f}")

full = tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE)                                  # ∇𝒥, exactly
step_term = tb.exact_meta_gradient(theta, mdp, ALPHA, N_PRE, through_sampling=False)     # 𝒟 held fixed
score_term = full - step_term
print("\n∂𝒥/∂θ[s, a], rows = states (columns: actions 0 and 1)")
for name, g in (("∇𝒥 (exact)", full), ("through the step", step_term), ("through the sampling of 𝒟", score_term)):
    print(f"  {name:28s}", np.array2string(g.numpy(), precision=4, separator=" ").replace("\n", ""))
score_share = float(score_term.norm() / full.norm())
print(f"\nquoted below: j_before = {j_before:.3f}, j_after = {j_after:.3f}, score_share = {100 * score_share:.1f}%")

# %% [markdown]
# One step on two episodes raises the expected return from <span data-out="j_before">1.215</span> to
# <span data-out="j_after">1.297</span> goal visits per episode: there is something to meta-learn. The
# score-function term is not a rounding error — it is <span data-out="score_share">25.2%</span> of ‖∇𝒥‖,
# and in state 0 it is larger than the term through the step.
#
# **Reading the table.** Each row sums to zero: a softmax only sees *differences* of logits, so raising
# both logits of a state changes nothing, and $\partial\mathcal J/\partial\theta[s,1] = -\partial\mathcal J/\partial\theta[s,0]$.
# From here on each state gets one number, $g_s = \partial\mathcal J/\partial\theta[s, 0]$: how the
# objective changes when state s prefers action 0 more (in goal visits per episode, per unit of logit).
#
# ## 2. Three estimators, and what each one estimates — exactly
#
# Each estimator is the gradient of a surrogate loss built from a sampled draw (a task, its pre-update
# episodes 𝒟 sampled with θ, post-update episodes 𝒟′ sampled with θ′); `course_lib.rl.estimators`
# holds them behind one switch, each beside its equation. With $\hat A$ the reward-to-go, $\pi_{old}$ the
# policy that sampled 𝒟′, ⊥ "stop gradient", and $S'(\theta) = -\operatorname{mean}_{\mathcal D'}\big[\pi_{\theta'(\theta)}(a \mid s)/\pi_{old}(a \mid s)\cdot\hat A'\big]$
# the paper's outer surrogate:
#
# | estimator | inner loss on 𝒟 | outer loss | its expectation |
# |---|---|---|---|
# | paper (Finn et al. 2017's code) | $-\operatorname{mean}[\log\pi_\theta\,\hat A]$ | $S'$ | the first term only: biased |
# | DiCE (Foerster et al. 2018) | as paper | $\mathcal X(W^{pre})\,(S' - \bot S' - g) + \bot S' + g$ | $\nabla\mathcal J$: unbiased |
# | LVC (ProMP, Rothfuss et al. 2019) | $-\operatorname{mean}[\pi_\theta/\bot\pi_\theta\cdot\hat A]$ | $S'$ | close to $\nabla\mathcal J$ (to first order in α, the score term without its cross-time-step products) |
#
# **DiCE's magic box** is $\mathcal X(W) = \exp(W - \bot W)$: its *value* is 1, and its gradient is
# $\mathcal X(W)\nabla W$ — at every order. Multiplying an estimate by $\mathcal X(W^{pre})$, with
# $W^{pre} = \sum_{\mathcal D}\log\pi_\theta(a_t \mid s_t) = \log p_\theta(\mathcal D)$ + const, changes no value
# but adds (estimate) × $\nabla\log p_\theta(\mathcal D)$ to the gradient: exactly the missing score-function
# term, with g the post-update return. Three lines show it:

# %% tags=["nbval-check-output"]
w = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
W = (w ** 2).sum()                                        # any function of the parameters
box = magic_box(W)
(grad,) = torch.autograd.grad(5.0 * box, w)
print(f"𝒳(W) = {box.item():.1f} (whatever W = {W.item():.2f} is);  ∇(5·𝒳(W)) = {grad.numpy()} = 5·∇W = {(10 * w).detach().numpy()}")

# %% [markdown]
# **LVC** changes only the inner loss: $\pi_\theta/\bot\pi_\theta$ is 1 in value with gradient $\nabla\log\pi_\theta$,
# so θ′ is the same as the paper's. But its Hessian gains $\nabla\log\pi\,\nabla\log\pi^\top$ per time step,
# and through $\partial\theta'/\partial\theta$ that puts back, to first order in α, the part of the score
# term that pairs a time step with itself — without the products of scores at different time steps,
# which carry most of DiCE's noise.
#
# On the tabular MDP the *exact* expectation of each estimator is computable too: `tb.expected_estimate`
# enumerates every (task, 𝒟, 𝒟′) — 2 × 64 × 64 = 8 192 draws — weights each by its probability and
# takes one backward pass. The library's surrogates are losses averaged over the H steps, so
# $-H\times$ their gradient is in the units of ∇𝒥:

# %% tags=["nbval-check-output"]
def surrogate(estimator):
    """The estimator's per-draw surrogate loss, as tb.expected_estimate and tb.sample_meta_batch use it."""
    return lambda rows, pre, post, old: meta_surrogate(estimator, rows, tb.log_prob, pre, post, old, ALPHA)


expected = {e: -H * tb.expected_estimate(surrogate(e), theta, mdp, ALPHA, N_PRE, N_POST) for e in ESTIMATORS}
per_state = lambda g: g[:, 0].numpy()                     # g_s = ∂/∂θ[s, 0]; ∂/∂θ[s, 1] = −g_s
rows_ = {"∇𝒥 (exact)": full, **{f"E[{e}]": g for e, g in expected.items()}, "score term (exact)": score_term}
print(f"{'':22s}{'g_0':>9}{'g_1':>9}{'g_2':>9}   error ‖E − ∇𝒥‖ / ‖∇𝒥‖")
for name, g in rows_.items():
    error = f"{float((g - full).norm() / full.norm()):10.2%}" if name.startswith("E[") else ""
    print(f"{name:22s}" + "".join(f"{v:9.4f}" for v in per_state(g)) + error)
bias = {e: float((g - full).norm() / full.norm()) for e, g in expected.items()}
paper_is_step = float((expected["paper"] - step_term).abs().max())
print(f"\nE[paper] − (term through the step) is round-off (every entry below 1e-12): {paper_is_step < 1e-12}")
cos_paper = float((expected["paper"] * full).sum() / (expected["paper"].norm() * full.norm()))
print(f"quoted below: paper_bias = {100 * bias['paper']:.1f}%, lvc_bias = {100 * bias['lvc']:.1f}%, "
      f"dice_bias = {100 * bias['dice']:.1f}%, paper_angle = {np.degrees(np.arccos(cos_paper)):.0f}, "
      f"lvc_removed = {100 * (1 - bias['lvc'] / bias['paper']):.0f}%")

# %% [markdown]
# The three claims of the table hold to the last digit: E[DiCE] *is* ∇𝒥 (error
# <span data-out="dice_bias">0.0%</span>); E[paper] is the term through the step and nothing else, so it
# misses ∇𝒥 by the whole score term, <span data-out="paper_bias">25.2%</span> of its length (an angle of
# <span data-out="paper_angle">10</span>°); LVC is off by <span data-out="lvc_bias">3.5%</span> — it removes
# <span data-out="lvc_removed">86%</span> of the paper's bias. In a picture, on the two states whose
# components are largest:

# %% tags=["nbval-ignore-output"]
order = np.argsort(-np.abs(per_state(full)))[:2]           # the two largest components of ∇𝒥
sx, sy = (int(s) for s in order)
xy = lambda g: (float(per_state(g)[sx]), float(per_state(g)[sy]))
colors = {"paper": COLORS["maml"], "dice": OTHER_COLORS[0], "lvc": OTHER_COLORS[1]}
fig, (ax, bars) = new_figure(ncols=2, width=5.6, height=4.4)
ax.annotate("", xy=xy(full), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color="black", lw=3.5, alpha=0.35))
ax.plot([], [], color="black", lw=3.5, alpha=0.35, label="∇J, exact (enumeration)")
for e, style in (("paper", "-"), ("lvc", "-"), ("dice", ":")):
    ax.annotate("", xy=xy(expected[e]), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=colors[e], lw=1.8, ls=style))
    ax.plot([], [], color=colors[e], ls=style, label=f"E[{e}]")
ax.annotate("", xy=xy(full), xytext=xy(expected["paper"]),
            arrowprops=dict(arrowstyle="-|>", color=COLORS["pretrain"], lw=1.5, ls="--"))
ax.plot([], [], color=COLORS["pretrain"], ls="--", label="the missing score term")
points = np.array([xy(g) for g in (full, *expected.values())] + [(0, 0)])
pad = 0.15 * np.ptp(points, axis=0).max()
ax.set_xlim(points[:, 0].min() - pad, points[:, 0].max() + pad)
ax.set_ylim(points[:, 1].min() - pad, points[:, 1].max() + pad)
ax.set_xlabel(f"g_{sx} = ∂J/∂θ[{sx}, 0]  (goal visits per episode per logit unit)")
ax.set_ylabel(f"g_{sy} = ∂J/∂θ[{sy}, 0]  (goal visits per episode per logit unit)")
ax.set_title("The meta-gradient: exact vs each estimator's mean", fontsize=10)
ax.legend(fontsize=8, loc="upper right")
width = 0.17
for i, (name, g, color) in enumerate([("∇J exact", full, "black"), ("E[paper]", expected["paper"], colors["paper"]),
                                      ("E[dice]", expected["dice"], colors["dice"]), ("E[lvc]", expected["lvc"], colors["lvc"]),
                                      ("score term", score_term, COLORS["pretrain"])]):
    bars.bar(np.arange(3) + (i - 2) * width, per_state(g), width, color=color, label=name, alpha=0.85)
bars.axhline(0, color="black", lw=0.5)
bars.set_xticks(range(3), [f"state {s}" for s in range(3)])
bars.set_ylabel("g_s = ∂J/∂θ[s, 0]  (goal visits per episode per logit unit)")
bars.set_title("Per state", fontsize=10)
bars.legend(fontsize=8)
plt.show()

# %% [markdown]
# The red dashed arrow is what the paper's estimator never sees: how moving θ changes *which* episodes the
# inner step learns from. It is largest in state 0, the start state — the state that decides
# which goal the pre-update episodes visit, and so how informative they are for the step.
#
# ## 3. Bias is not noise: Monte Carlo means as the sample grows
#
# A learner never has the expectation — it has estimates from sampled episodes. Draw
# (task, 𝒟 ∼ π_θ, 𝒟′ ∼ π_θ′) as the trainer does (`tb.sample_meta_batch`), evaluate each estimator on the
# *same* draws, and average the first n of them, with the standard error (s.e.) of the mean:

# %% tags=["nbval-ignore-output"]
n_draws = 200_000
rows, pre, post, old = tb.sample_meta_batch(theta, mdp, n_draws, N_PRE, N_POST, ALPHA,
                                            generator=torch.Generator().manual_seed(0))
draws = {e: -H * torch.autograd.grad(surrogate(e)(rows, pre, post, old).sum(), rows["logits"])[0] for e in ESTIMATORS}
sizes = [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, n_draws]
curve = {}                        # estimator → (means [n, 3, 2], standard errors [n, 3, 2]) for the first n draws
for e, d in draws.items():
    curve[e] = (torch.stack([d[:n].mean(0) for n in sizes]), torch.stack([d[:n].std(0) / n ** 0.5 for n in sizes]))

print(f"{'':8s}{'‖mean − ∇𝒥‖ / ‖∇𝒥‖ after n draws':^39}   largest |mean − ∇𝒥| / s.e.")
print(f"{'':8s}" + "".join(f"{f'n = {n:,}':>13}" for n in (1_000, 10_000, n_draws)) + f"{f'at n = {n_draws:,}':>26}")
z = {}
for e in ESTIMATORS:
    mean, se = curve[e]
    cells = "".join(f"{float((mean[list(sizes).index(n)] - full).norm() / full.norm()):13.1%}"
                    for n in (1_000, 10_000, n_draws))
    z[e] = float(((mean[-1] - full).abs() / se[-1]).max())
    print(f"{e:8s}{cells}{z[e]:>26.1f}")
variance = {e: float(d.var(0).sum()) for e, d in draws.items()}
print(f"\nvariance of one draw (trace of the covariance), relative to the paper's: "
      + ", ".join(f"{e} {variance[e] / variance['paper']:.1f}×" for e in ESTIMATORS))
print(f"quoted below: z_paper = {z['paper']:.0f}, z_dice = {z['dice']:.1f}, "
      f"var_dice = {variance['dice'] / variance['paper']:.1f}, var_lvc = {variance['lvc'] / variance['paper']:.1f}")

# %% tags=["nbval-ignore-output"]
s = int(np.argmax(np.abs(per_state(score_term))))         # the state where the score term is largest
fig, (ax, err) = new_figure(ncols=2, width=5.6, height=4.2)
for e in ESTIMATORS:
    mean, se = curve[e]
    m, band = mean[:, s, 0].numpy(), 2 * se[:, s, 0].numpy()
    ax.plot(sizes, m, color=colors[e], marker="o", ms=3, label=f"{e}: mean ± 2 s.e.")
    ax.fill_between(sizes, m - band, m + band, color=colors[e], alpha=0.15)
    err.loglog(sizes, [float((mean[i] - full).norm() / full.norm()) for i in range(len(sizes))],
               color=colors[e], marker="o", ms=3, label=e)
ax.axhline(float(per_state(full)[s]), color="black", lw=2, alpha=0.5, label="∇J, exact")
ax.axhline(float(per_state(expected["paper"])[s]), color=colors["paper"], ls="--", lw=1, label="E[paper], exact")
ax.set_xscale("log")
levels = [float(per_state(full)[s]), float(per_state(expected["paper"])[s])]
ax.set_ylim(min(levels) - 0.015, max(levels) + 0.015)
ax.set_xlabel("sampled draws n (task, D, D′)")
ax.set_ylabel(f"g_{s} = ∂J/∂θ[{s}, 0]  (goal visits per episode per logit unit)")
ax.set_title(f"One component (state {s}) of the Monte-Carlo mean", fontsize=10)
ax.legend(fontsize=8)
err.axhline(bias["paper"], color=colors["paper"], ls="--", lw=1, label="the paper's exact bias")
err.loglog(sizes, float(draws["dice"].var(0).sum() ** 0.5 / full.norm()) / np.sqrt(sizes), color="gray", lw=0.8,
           ls=":", label="DiCE's s.e. (∝ 1/√n)")
err.set_xlabel("sampled draws n (task, D, D′)")
err.set_ylabel("‖mean − ∇J‖ / ‖∇J‖  (relative error, 1 = 100%)")
err.set_title("Distance of the Monte-Carlo mean from the truth", fontsize=10)
err.legend(fontsize=8)
plt.show()

# %% [markdown]
# The paper's mean settles, quickly and confidently, on the wrong vector: after 200 000 draws it is
# <span data-out="z_paper">46</span> standard errors from ∇𝒥 in one component, and its error stops
# falling at the bias of section 2. DiCE's mean wanders more but keeps closing in (its largest
# deviation, <span data-out="z_dice">1.3</span> s.e., is what chance gives); LVC sits in between, close
# to ∇𝒥 but — given enough draws — measurably not on it. **More episodes shrink noise, never bias.**
#
# The price shows in the spread of a single draw: DiCE's variance is
# <span data-out="var_dice">16.2</span> times the paper's, LVC's <span data-out="var_lvc">2.2</span> times.
# To reach the paper's standard error, DiCE needs about 16 times as many episodes. And this is an MDP
# with two episodes of three steps per task.
#
# ## 4. The price on 2-D navigation: variance against episodes per task
#
# DiCE's score term multiplies the post-update return by $\nabla\log p_\theta(\mathcal D)$, a sum of score
# vectors over *every step of every pre-update episode* — K × 100 steps per task on navigation. Its noise
# grows with the horizon and with K. A small live version of `python bench/estimators.py`: at the shipped
# MAML policy, for N = 5, 10 and 20 episodes per task, 8 independent meta-batches of 10 goals (fresh goals
# and episodes each time, as in training); on each batch all three estimators are evaluated on the same
# episodes. For each estimator: its mean norm relative to the paper's, the total variance across batches
# (the trace of the covariance, relative to the paper's), and the mean cosine between one batch's
# meta-gradient and the mean of the other seven (1 would mean every batch points the same way).

# %% tags=["nbval-ignore-output"]
policy, theta_nav, config = load_policy(shipped("navigation2d_maml"))


def navigation_gradients(episodes):
    """{estimator: [8, n_weights]}: the three meta-gradients on 8 fresh meta-batches of 10 goals."""
    return estimator_gradients(policy, theta_nav, config, episodes, repeats=8, meta_batch=10, seed=0)


nav = {}
start = time.perf_counter()
for n in (5, 10, 20):
    G = navigation_gradients(n)
    size = {e: float(g.norm(dim=1).mean()) for e, g in G.items()}
    spread = {e: float(g.var(0).sum()) for e, g in G.items()}
    nav[n] = {e: (size[e] / size["paper"], spread[e] / spread["paper"], leave_one_out_cosine(G[e]), spread[e])
              for e in ESTIMATORS}
print(f"{'episodes':>8}" + "".join(f"{e + ': norm, var, cos':>27}" for e in ESTIMATORS) + "   (norm, var: / paper's)")
for n, row in nav.items():
    print(f"{n:>8}" + "".join(f"{a:9.1f}{b:9.1f}{c:9.2f}" for a, b, c, _ in row.values()))
print(f"({time.perf_counter() - start:.0f} s)")
print(f"quoted below: dice_norm_5 = {nav[5]['dice'][0]:.0f}, dice_norm_20 = {nav[20]['dice'][0]:.0f}, "
      f"dice_var_20 = {nav[20]['dice'][1]:.0f}, lvc_norm_20 = {nav[20]['lvc'][0]:.1f}, "
      f"lvc_var_5 = {nav[5]['lvc'][1]:.1f}, lvc_var_20 = {nav[20]['lvc'][1]:.1f}")

# %% tags=["nbval-ignore-output"]
fig, ax = new_figure(width=6.0, height=4.0)
for e in ESTIMATORS:
    ax.semilogy(list(nav), [row[e][3] for row in nav.values()], color=colors[e], marker="o", label=e)
ax.set_xticks(list(nav))
ax.set_xlabel("pre- and post-update episodes per task, N")
ax.set_ylabel("total variance of the meta-gradient\n(trace of its covariance, loss units²)")
ax.set_title("navigation2d, shipped MAML policy: 8 meta-batches of 10 goals per point", fontsize=10)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# On navigation the picture of section 3 gets much worse for DiCE: its meta-gradient is about
# <span data-out="dice_norm_5">30</span> times as long as the paper's at N = 5 and still
# <span data-out="dice_norm_20">40</span> times at N = 20 — almost all of it the score term's noise, which
# more episodes per task do not tame (its sum runs over more steps too) — and its variance across batches
# is <span data-out="dice_var_20">2259</span> times the paper's at N = 20. At the trained policy even the
# paper's batches agree only weakly (leave-one-out cosines of 0.1–0.25: the true gradient there is small,
# so noise is a large part of every estimate), but DiCE's do not agree at all (negative cosines). LVC's
# gradient is <span data-out="lvc_norm_20">1.4</span> times the paper's at N = 20, and its variance
# relative to the paper's falls with N, from <span data-out="lvc_var_5">6.9</span> to
# <span data-out="lvc_var_20">2.4</span> times; its cosines jump around — eight batches are too few to
# measure them.
# (Eight batches make every variance here a rough number; the bench's full measurement, 20 goals per batch
# and N up to 40, is in the [lab note](../docs/notes/2026-12-05-estimators.md): DiCE 24–52× the paper's
# norm, its direction mostly noise at every N up to 40; LVC 1.1–2.3×, its mean pointing with the paper's
# mean.)
#
# **Why the shipped MAML policies use the paper's estimator.** Three reasons, in order of weight:
# 1. *It is what the paper did.* The workbook reproduces the paper's tables; its numbers were obtained
#    with this estimator (Finn et al.'s code, and every PyTorch port since), so a reproduction must use it
#    first. The shipped checkpoints record it (`estimator: "paper"` in their configs).
# 2. *The unbiased alternative is unusable at this size.* TRPO moves θ a fixed KL distance (0.01) along the
#    estimated direction; an unbiased direction that is mostly noise moves θ at random. DiCE is right *on
#    average*, but one meta-batch is far from its average.
# 3. *The bias is mild where it has been measured.* On navigation second-order MAML with the paper's
#    estimator reproduces the paper's returns and beats first order (notebooks 05 and 09).
#
# **What LVC trades.** It keeps the paper's θ′ and outer surrogate, and adds only the same-time-step
# products of the score term (through the inner Hessian). It gives up exactness — a bias that is
# <span data-out="lvc_bias">3.5%</span> of ‖∇𝒥‖ on the MDP, from the cross-time-step products it leaves out
# and from higher orders in α — for a variance of the paper's order (2.2 × per draw on the MDP; on
# navigation 1.4–2.6 × the paper's norm here, 1.1–2.3 × in the lab note) instead of DiCE's. Whether that
# trade *trains* better than the paper's estimator is not shown by anything above: it is a claim about
# learning curves, and it has to be measured as one.
#
# ## 5. Back to the cheetah directions
#
# [Notebook 08](08_mujoco_locomotion.ipynb) ended with a puzzle: on HalfCheetahDir the shipped
# first-order MAML reaches about 305 after one step on the paper's 40 test tasks, above the paper's MAML
# (293.2), while the shipped second-order MAML stalls near 180 — although on navigation second order wins
# (notebook 09). The suspect: the "second-order" term is the paper's estimator's, biased (this
# notebook's section 2, in miniature) and noisy (200 steps, 6 action dimensions, 20 episodes per task).
#
# This notebook shows the bias is real and of what kind. Whether it is what stalls the cheetah is a
# learning-curve question, so we ran it: second-order MAML on HalfCheetahDir with LVC in place of the
# paper's estimator, and nothing else changed (TRPO, δ = 0.01, meta-batch 40, 20 episodes per task, seed 0,
# the shipped run's settings):
#
# ```bash
# python -m course_lib train halfcheetah_dir --algo maml --estimator lvc --iterations 300 \
#     --checkpoint-every 5 --out runs/mujoco/halfcheetah_dir_maml_lvc.pt --resume    # 50 min on 2 cores
# ```
#
# It ships as `halfcheetah_dir_maml_lvc`. Its training curve, beside the two shipped cheetah-direction runs
# (the post-update return on each iteration's own 40 training tasks — monitoring, not the test protocol):

# %%
fig, ax = new_figure(width=6.4, height=3.6)
for name, color, label in [("halfcheetah_dir_maml", COLORS["maml"], "second order, paper's estimator"),
                           ("halfcheetah_dir_maml_lvc", OTHER_COLORS[0], "second order, LVC"),
                           ("halfcheetah_dir_fomaml", COLORS["fomaml"], "first order")]:
    history = load_checkpoint(shipped(name))["history"]
    ax.plot([h["iteration"] for h in history], [h["return_after"] for h in history], color=color, lw=1, label=label)
ax.axhline(293.19, color="black", ls=":", lw=1, label="paper's MAML after one step (test tasks)")
ax.set_xlabel("meta-training iteration")
ax.set_ylabel("return after one step (training tasks)")
ax.set_title("HalfCheetahDir: which meta-gradient gets second order there", fontsize=10)
ax.legend(fontsize=8);

# %% [markdown]
# On the paper's 40 test tasks (`python bench/navigation.py --env halfcheetah_dir --seeds 4`: 20 episodes
# per step, evaluation seeds 0–3), after one step:
#
# | meta-gradient | iterations | one step, mean of 4 seeds | seeds 0 / 1 / 2 / 3 |
# |---|---|---|---|
# | second order, paper's estimator | 75 | 178.1 | 179.1 / 195.2 / 178.3 / 159.7 |
# | **second order, LVC** | 300 | **310.1** | 322.6 / 325.6 / 290.8 / 301.4 |
# | first order | 470 | 299.8 | 305.1 / 326.9 / 278.9 / 288.4 |
# | the paper's MAML | — | 293.2 | — |
#
# Task by task on seed 0, the LVC run is +29.4 ± 12.8 above the paper's MAML after one step. The shipped
# paper's-estimator run stopped at 75 iterations, but it is not a matter of length: the same command run
# to 310 iterations stayed near 180 ([lab
# note](../docs/notes/2026-11-22-halfcheetah-what-moved-the-returns.md)), while LVC passed 180 on its
# training tasks within 50 iterations. With one change — the term the paper's estimator leaves out,
# restored for the same time step — second order goes from the worst of the three to the best after one
# step, and does so in fewer iterations than first order. One training seed, so this is one run's
# curve, not a distribution over runs; the evaluation seeds measure only how much one evaluation varies.
#
# And the noise? `python bench/estimators.py --env halfcheetah_dir --episodes 5 10 20 --meta-batch 10`
# measures section 4's quantities at the shipped paper's-estimator checkpoint, 8 meta-batches per row:
# at 20 episodes per task the relative variance is 3.4 for the paper's estimator, 7.3 for LVC and 8.0 for
# DiCE (leave-one-out cosines 0.29, 0.04, 0.01; LVC's gradient 1.5 × the paper's norm, DiCE's 12 ×). So
# LVC is the *noisier* of the two here, by about 2 ×, and still trains better: on this task the paper's
# estimator's bias, not its noise, was what held second order back.

# %% tags=["nbval-ignore-output"]
print(f"notebook run time: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Check your understanding
#
# 1. The paper's estimator is the exact gradient of *something*. Of what? Why does sampling more
#    episodes per task not bring it closer to ∇𝒥?
#
#    <details><summary>Answer</summary>
#
#    Of the objective with the pre-update distribution frozen: $\sum_{\mathcal D} \bot p_\theta(\mathcal D)\,J(\theta'(\theta,\mathcal D))$
#    (`tb.exact_objective(…, through_sampling=False)`), whose gradient is the term through the step alone.
#    More episodes make its estimate of *that* term precise — in section 3 the paper's mean settles
#    <span data-out="z_paper">46</span> standard errors from ∇𝒥 — but the missing score term is not in
#    the estimator at any sample size: it is bias, not noise.
#
#    </details>
#
# 2. What are the value and the gradient of $\mathcal X(W) = \exp(W - \bot W)$? Why would
#    $1 + W - \bot W$ give DiCE's first derivative but not its second?
#
#    <details><summary>Answer</summary>
#
#    Value $e^0 = 1$; gradient $\exp(W - \bot W)\nabla W = \mathcal X(W)\nabla W$, which is again a
#    magic box times something, so differentiating again gives $\mathcal X(W)(\nabla W\nabla W^\top + \nabla^2 W)$.
#    $1 + W - \bot W$ has value 1 and gradient $\nabla W$ too, but its gradient is no longer boxed: the
#    second derivative is $\nabla^2 W$, missing the $\nabla W\nabla W^\top$ term — exactly the kind of term
#    (products of scores) that the second-order MAML gradient needs. Exercise 5.1 checks this.
#
#    </details>
#
# 3. In section 2 the score term is largest in state 0. Why the start state?
#
#    <details><summary>Answer</summary>
#
#    Every episode starts there, and its first action sends it towards state 1 or state 2 — the two goals.
#    What the inner step can learn from 𝒟 depends on which goal the pre-update episodes happened to reach,
#    and that is decided mostly in state 0. The score term measures how changing θ changes *which episodes*
#    the step learns from, so it is largest where the episodes are decided.
#
#    </details>
#
# 4. DiCE is unbiased. Why is it not the default for training?
#
#    <details><summary>Answer</summary>
#
#    Its variance. The score term multiplies a return by a sum of score vectors over all K·H pre-update
#    steps: <span data-out="var_dice">16.2</span> times the paper's variance on a 3-step MDP, and on
#    navigation (100 steps, 10–20 episodes per task) a meta-gradient about 30–40 times as long as the
#    paper's whose direction changes from batch to batch. TRPO takes a fixed-size step in the estimated
#    direction, so an unbiased but noisy direction is a random walk. LVC keeps most of the correction
#    (it removes <span data-out="lvc_removed">86%</span> of the bias on the MDP) at a variance near the paper's.
#
#    </details>
#
# 5. Someone reports that LVC did not help second-order MAML on the cheetah directions after 20
#    iterations with one seed. What would you need before concluding anything?
#
#    <details><summary>Answer</summary>
#
#    The same budget as the runs it is compared with (the shipped second-order MAML ran 75 iterations,
#    FOMAML 470 — compare at equal iterations and at equal seconds), more than one training seed, the
#    evaluation on the paper's 40 test tasks with ≥ 4 evaluation seeds and standard errors (one
#    evaluation of the shipped FOMAML ranges from 278 to 327 across seeds), and ideally the variance
#    measurement of section 4 on the cheetah, to tell "LVC's direction is better but too noisy" from
#    "the bias was not the problem".
#
#    </details>
#
# **Exercises.** [`exercises/ex05_estimators.ipynb`](../exercises/ex05_estimators.ipynb) (worked solutions:
# `solutions/ex05_estimators.ipynb`): write the magic box (5.1), the DiCE objective of this MDP and
# check its expected gradient against the exact meta-gradient (5.2), the paper's bias as the
# score-function term (5.3, optional), and a written answer on which estimator to train with (5.4).
#
# ## Takeaways
#
# * MAML-RL's gradient has two terms: through the inner step, and through the sampling of the pre-update
#   episodes (a score-function term). The paper's estimator — and the workbook's default — keeps the first
#   only: on the exact MDP it misses <span data-out="paper_bias">25.2%</span> of ∇𝒥.
# * Bias does not average out: the paper's Monte-Carlo mean converges, confidently, to the wrong vector;
#   DiCE's converges to ∇𝒥.
# * DiCE's magic box $\exp(W - \bot W)$ adds the score term without changing any value; the price is
#   variance that grows with the horizon and the number of episodes — unusable for training at
#   navigation's size.
# * LVC (ProMP) adds the score term's same-time-step part through the inner Hessian: a small bias for a
#   variance near the paper's.
# * On the cheetah directions it mattered: with LVC, second-order MAML reaches 310 after one step on the
#   paper's test tasks (paper 293.2; the paper's estimator 178, first order 300) — although LVC's
#   meta-gradient is the noisier one there. One training seed.
#
# **Next:** this is the last notebook. `bench/` holds the reproduction tables of the whole workbook
# (`sinusoid.py`, `navigation.py`, `fewshot.py`, `estimators.py`, `rl_speed.py`).
