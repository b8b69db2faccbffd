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
# # 09 · Pitfalls and ablations: step sizes, noisy meta-gradients, batch sizes, second order
#
# **Learning objectives.** After this notebook you can
# 1. show what a badly chosen inner step size α does at test time — too small: hardly any adaptation;
#    too large: overshoot and divergence — and explain with the curvature of the support loss why
#    MAML's good range of α is narrow;
# 2. describe the **learned-α fix** (Meta-SGD), what it buys after one step, and why its learned
#    rates must not be reused for more steps than they were trained for;
# 3. measure the **variance of the meta-gradient**, show that it falls like 1/B with the number B of
#    tasks per meta-update, and say why MAML needs several tasks per update;
# 4. read an **ablation** over meta-batch size, trajectories per task and first vs second order on
#    2-D navigation, with mean ± standard error over seeds;
# 5. say what second order costs and when first order is enough.
#
# **Prerequisites.** Notebooks 03 (MAML on sinusoids, Meta-SGD) and 04 (meta-RL on 2-D navigation);
# notebook 05 (first-order MAML) helps for section 5.
#
# **Run time.** 10–30 s on a 2-core CPU (measured: 10–20 s, partly with two training runs sharing the
# machine). Everything on sinusoids is computed live from the shipped checkpoints; the navigation
# ablation (about 15 minutes of training) is loaded from a shipped results file, with the command that
# reproduces it.

# %%
# %matplotlib inline
import time

import numpy as np
import torch

from course_lib.ablation import aggregate, load_ablation
from course_lib.checkpoints import shipped
from course_lib.evaluate import adapted_params, adaptation_curve, summarize
from course_lib.sinusoid.evaluate import benchmark_tasks
from course_lib.functional import batched, detached, parameters_of
from course_lib.meta import meta_gradient
from course_lib.ui.plots import COLORS, ITERATION_LABEL, MSE_LABEL, label_for, new_figure, setting_colors
from course_lib.tasks.sinusoid import RegressionBatch, SinusoidDistribution
from course_lib.sinusoid.config import build_model, default_config, load_trained

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free

# %% [markdown]
# ## 1. The inner step size α: too small, too large
#
# MAML was meta-trained with one step of $\alpha = 0.01$. At test time nothing stops us from using
# another α, or more steps. We take the shipped MAML checkpoint and the **600 held-out tasks of the
# paper's protocol** (the same tasks and points as `sinusoid_benchmark` in notebooks 01 and 03: K = 5
# support points, 100 query points each) and adapt with five step sizes, each ten times in a row.
# A task *diverges* when its loss overflows (inf or NaN); a mean over tasks is then meaningless, so the
# table shows "div. n" instead.

# %% tags=["nbval-check-output"]
dist = SinusoidDistribution()
held_tasks, support, query = benchmark_tasks()   # the same 600 tasks and points as sinusoid_benchmark


def held_out(name):
    """(θ, α, batch) of a shipped sinusoid checkpoint on the 600 held-out tasks."""
    model, theta, alpha, _ = load_trained(shipped(f"sinusoid_{name}"))
    return theta, alpha, RegressionBatch(model, *support, *query, held_tasks)


def cell(losses):
    """Mean over tasks (≥ 1000: order of magnitude only), or the number of diverged tasks."""
    diverged, mean = summarize(losses).diverged, float(losses.mean())
    return f"div. {diverged}" if diverged else f"{mean:.2f}" if mean < 1000 else f"{mean:.0e}"


STEPS, ALPHAS = 10, (0.001, 0.003, 0.01, 0.03, 0.1)
theta_maml, _, batch = held_out("maml")
by_alpha = {a: adaptation_curve(theta_maml, batch, a, STEPS) for a in ALPHAS}      # each [11, 600]
print(f"{'query MSE after':>16} " + " ".join(f"{s:>9}" for s in (0, 1, 2, 5, 10)) + "  steps")
for a, c in by_alpha.items():
    print(f"{'α = ' + str(a):>16} " + " ".join(f"{cell(c[s]):>9}" for s in (0, 1, 2, 5, 10)))


def removed(a, step):
    """Fraction of the mean error before adapting that `step` steps at α = a remove."""
    return 1 - float(by_alpha[a][step].mean() / by_alpha[a][0].mean())


first_diverged = {a: next((s for s in range(STEPS + 1) if summarize(c[s]).diverged), None) for a, c in by_alpha.items()}
print(f"\nquoted below: removed_a0001_1 = {removed(0.001, 1):.0%}, removed_a001_1 = {removed(0.01, 1):.0%}, "
      f"mse_a0001_10 = {by_alpha[0.001][10].mean():.2f}, mse_a001_1 = {by_alpha[0.01][1].mean():.2f}, "
      f"first_diverged_a003 = {first_diverged[0.03]}, diverged_a01_10 = {summarize(by_alpha[0.1][10]).diverged}")

# %% [markdown]
# Means hide what happens to single tasks, and a single diverged task makes them infinite. The
# median over tasks (left) stays finite while fewer than half diverge; the right panel counts the tasks
# whose query loss has become *worse than before adaptation* (diverged tasks included).

# %%
fig, (left, right) = new_figure(ncols=2)
for color, (a, c) in zip(setting_colors(len(ALPHAS)), by_alpha.items()):
    c = torch.nan_to_num(c, nan=float("inf"))
    median = c.median(dim=1).values
    left.plot(range(STEPS + 1), torch.where(torch.isfinite(median), median, torch.nan), "o-", ms=3,
              color=color, label=f"α = {a}")
    right.plot(range(STEPS + 1), (c > c[0]).sum(dim=1), "o-", ms=3, color=color, label=f"α = {a}")
left.set(yscale="log", xlabel="inner gradient steps on the K = 5 support points",
         ylabel=f"median {MSE_LABEL}, 600 tasks", title="MAML at test time: the step size")
right.set(xlabel="inner gradient steps on the K = 5 support points",
          ylabel="tasks worse than before adapting (of 600)", title="overshoot: tasks made worse")
for ax in (left, right):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
c03 = torch.nan_to_num(by_alpha[0.03], nan=float("inf"))
print(f"α = 0.03, quoted below: worse_a003_1 = {int((c03[1] > c03[0]).sum())}, "
      f"better_a003_3 = {int((c03[3] < c03[0]).sum())}, better_a003_10 = {int((c03[10] < c03[0]).sum())}; "
      f"α = 0.1: worse_a01_1 = {int((by_alpha[0.1][1] > by_alpha[0.1][0]).sum())} (of 600)")

# %% [markdown]
# * **Too small** (α = 0.001, 0.003): nothing goes wrong, but little happens. One step at α = 0.001
#   removes a fifth of the error (<span data-out="removed_a0001_1">22%</span>) where one step at the
#   trained α removes four fifths (<span data-out="removed_a001_1">78%</span>), and even ten small steps
#   do not get where one step of the right size gets (<span data-out="mse_a0001_10">0.84</span> against
#   <span data-out="mse_a001_1">0.64</span>). For a method
#   whose point is *one-step* adaptation, that is a failure.
# * **The trained value** (α = 0.01) is the best one-step size, and further steps keep helping.
# * **Too large**: at α = 0.03 — only three times the trained value — one step already makes two thirds
#   of the tasks *worse* than no adaptation (<span data-out="worse_a003_1">409</span> of 600), the mean
#   error explodes at the second step, and from step <span data-out="first_diverged_a003">4</span> on
#   tasks overflow; at α = 0.1 every task is made worse at the first step
#   (<span data-out="worse_a01_1">600</span> of 600) and almost all diverge
#   (<span data-out="diverged_a01_10">573</span> after ten steps).
#
# The usable range is narrow: a factor of about three either way. Why so narrow? For gradient descent
# on a quadratic with curvature λ, a step of size α multiplies the error along that direction by
# $1 - \alpha\lambda$: it shrinks only if $\alpha < 2/\lambda$. So the largest eigenvalue
# $\lambda_{\max}$ of the support loss's Hessian at θ sets the largest safe step. We estimate it for
# every task by **power iteration with Hessian-vector products** (notebook 02), all 600 tasks at once:
# the tasks' parameter copies are separate, so the Hessian of the summed loss is block-diagonal, one
# block per task.

# %%
def sharpest_curvature(theta, batch, iterations=20, seed=0):
    """λ_max of each task's support-loss Hessian at θ (power iteration on Hessian-vector products): [T]."""
    p = detached(batched(theta, batch.n_tasks), requires_grad=True)           # one copy of θ per task
    grads = torch.autograd.grad(batch.support_loss(p).sum(), list(p.values()), create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    v = [torch.randn(x.shape, generator=generator) for x in p.values()]
    for _ in range(iterations):
        norm = torch.sqrt(sum(x.flatten(1).pow(2).sum(1) for x in v))          # per task
        v = [x / norm.view(-1, *[1] * (x.dim() - 1)) for x in v]
        hv = torch.autograd.grad(grads, list(p.values()), grad_outputs=v, retain_graph=True)
        rayleigh = sum((a * b).flatten(1).sum(1) for a, b in zip(v, hv))       # vᵀHv with |v| = 1
        v = [h.detach() for h in hv]
    return rayleigh.detach()


# %% tags=["nbval-check-output"]
print(f"{'':>24} {'λ_max: 10% / 50% / 90% of tasks':>34} {'2/λ_max (median)':>17}   "
      "support loss up after 10 steps at α = 0.003 / 0.01 / 0.03")
curvatures = {}
for name in ("maml", "pretrain"):
    theta, _, b = held_out(name)
    curvatures[name] = lam = sharpest_curvature(theta, b)
    q10, q50, q90 = np.quantile(lam.numpy(), [0.1, 0.5, 0.9])
    went_up = []
    for a in (0.003, 0.01, 0.03):
        first, last = adapted_params(theta, b, a, 10)[::10]
        with torch.no_grad():
            went_up.append(int((~(b.support_loss(last) < b.support_loss(first))).sum()))
    print(f"{label_for(name):>24} {q10:10.0f} / {q50:5.0f} / {q90:5.0f} {' ':>6} {2 / q50:17.4f}   "
          + " / ".join(map(str, went_up)))
    if name == "maml":
        up_a003 = went_up[-1]
median = {name: float(lam.median()) for name, lam in curvatures.items()}
print(f"\nquoted below: lam_maml = {median['maml']:.0f}, lam_pretrain = {median['pretrain']:.0f}, "
      f"two_over_lam_maml = {2 / median['maml']:.3f}, two_over_lam_pretrain = {2 / median['pretrain']:.3f}, "
      f"sharper = {median['maml'] / median['pretrain']:.1f}, alpha_lam_a003 = {0.03 * median['maml']:.0f}, "
      f"up_a003 = {up_a003}")

# %% [markdown]
# MAML's initialisation is about **three times sharper** than the pretrained network's (median
# $\lambda_{\max}$ <span data-out="lam_maml">232</span> against <span data-out="lam_pretrain">69</span>, a
# factor of <span data-out="sharper">3.4</span>), and its median $2/\lambda_{\max}$ is
# ≈ <span data-out="two_over_lam_maml">0.009</span> — close to the α = 0.01 it was trained with. The sharpening has a
# reason: the meta-objective rewards a θ from which one step of size α moves the prediction a lot
# (notebook 03, "sensitivity in task-relevant directions"). That $\lambda_{\max}$ lands near $2/\alpha$,
# though, is an *observation* about this checkpoint, not a law: the one-step quadratic model does not
# predict it. Along a direction of curvature λ, one step leaves the factor $(1 - \alpha\lambda)^2$ of the
# loss, which is smallest at $\alpha\lambda = 1$ — λ = 1/α = 100, half of 2/α — and a one-step objective
# has no term at all for the sharpest direction if the tasks' gradients barely use it. (Checkpoints
# trained with other values of α would be needed to see whether the relation holds.) At α = 0.03, $\alpha\lambda_{\max} \approx$ <span data-out="alpha_lam_a003">7</span> for
# the median task: along that direction every step multiplies the error by about −6, and a third of the
# tasks (<span data-out="up_a003">213</span> of 600) end up with a *larger support loss* — the loss on
# the very points being fitted — after ten steps.
# The pretrained network, three times flatter, tolerates α = 0.03 much better (and adapts little with
# any α). (The quadratic rule is a local guide, not a verdict: at α = 0.01 most tasks are slightly past
# $2/\lambda_{\max}$ along one direction, yet almost none diverges within ten steps — the gradient has
# little component along that direction, and a ReLU network is not a quadratic.)
#
# The same sharpness explains a choice made for the shipped checkpoint (see `SinusoidConfig`'s
# docstring): trained for the paper's 70 000 iterations instead of 30 000, MAML became sensitive enough
# that **one of the 600 tasks diverged after ten steps at α = 0.01** — a large-amplitude task whose five
# support points bunch together, so its gradient is large. Meta-training only ever checks *one* step;
# nothing stops the curvature of the rare task from creeping past what ten steps survive. Training
# longer improved the one-step error a little and broke the ten-step one; 30 000 iterations already
# match the paper's 1/5/10-step numbers.
#
# ## 2. The learned-α fix: Meta-SGD
#
# If the right α is so delicate, learn it. **Meta-SGD** (Li et al. 2017) makes α a vector, one rate per
# weight, and trains it in the outer loop with θ (`course_lib/meta/meta_sgd.py`):
#
# $$\theta'_i = \theta - \boldsymbol\alpha \circ \nabla_\theta \mathcal L^{\text{support}}_i(\theta),
#   \qquad \min_{\theta,\, \boldsymbol\alpha} \sum_i \mathcal L^{\text{query}}_i(\theta'_i).$$
#
# Here are the learned rates of the shipped checkpoint, layer by layer (it started from α = 0.01
# everywhere):

# %% tags=["nbval-check-output"]
theta_msgd, alpha_msgd, batch_msgd = held_out("metasgd")
print(f"{'layer':>12} {'shape':>9} {'mean α':>8} {'mean |α|':>9} {'min α':>7} {'max α':>7} {'negative':>9}")
for name, a in alpha_msgd.items():
    print(f"{name:>12} {str(tuple(a.shape)):>9} {a.mean():8.3f} {a.abs().mean():9.3f} {a.min():7.2f} "
          f"{a.max():7.2f} {(a < 0).float().mean():9.0%}")
all_rates = torch.cat([a.flatten() for a in alpha_msgd.values()])
print(f"\nquoted below: metasgd_max_abs = {all_rates.abs().max():.2f}, "
      f"metasgd_negative = {(all_rates < 0).float().mean():.0%} of {all_rates.numel()} rates")

# %% [markdown]
# The learned "rates" are not step sizes in any ordinary sense: they range over
# ±<span data-out="metasgd_max_abs">1.7</span> — a hundred times MAML's α — and about a third of them
# (<span data-out="metasgd_negative">36%</span>) are negative (on those weights the step *climbs* the support
# loss). What the outer loop learned is a whole update direction $\boldsymbol\alpha \circ \nabla\mathcal L$,
# tuned to work from θ in one step. Compare it with MAML on the same 600 tasks, and with the learned
# rates shrunk by a constant factor:

# %% tags=["nbval-check-output"]
rows = {"MAML, α = 0.01": adaptation_curve(theta_maml, batch, 0.01, STEPS)}
for scale in (1.0, 0.5, 0.25):
    rows[f"Meta-SGD, {scale} × learned α"] = adaptation_curve(
        theta_msgd, batch_msgd, {k: scale * v for k, v in alpha_msgd.items()}, STEPS)
print(f"{'query MSE after':>26} " + " ".join(f"{s:>9}" for s in (0, 1, 2, 3, 5, 10)) + "  steps")
for name, c in rows.items():
    print(f"{name:>26} " + " ".join(f"{cell(c[s]):>9}" for s in (0, 1, 2, 3, 5, 10)))
learned = rows["Meta-SGD, 1.0 × learned α"]
print(f"\nquoted below: msgd_1 = {learned[1].mean():.2f}, maml_1 = {rows['MAML, α = 0.01'][1].mean():.2f}, "
      f"msgd_diverged_5 = {summarize(learned[5]).diverged}")

# %% [markdown]
# * **After one step**, the step it was trained for, Meta-SGD beats MAML clearly
#   (≈ <span data-out="msgd_1">0.43</span> against <span data-out="maml_1">0.64</span>):
#   learning α fixes the *choice* of step size, and does better than any single scalar could.
# * **After more steps** it falls apart: the error jumps at the second step, and by five steps
#   <span data-out="msgd_diverged_5">35</span> of the 600 tasks have diverged (`python bench/sinusoid.py`
#   reports the same count). The learned rates are tuned to θ, where they were trained, and not to θ′.
# * **Shrinking them** does not rescue multi-step use: half the rates gives a worse first step and still
#   diverges later; a quarter is worse than MAML at every step count before it, too, blows up.
#
# The lesson: a learned α is part of the *model*, tied to the number of inner steps it was meta-trained
# with. If you will adapt with five steps at test time, meta-train with five (try it: the end of this notebook), or
# learn one scalar α per layer, which cannot go this far from a step size.
#
# ## 3. The meta-gradient is noisy: why several tasks per meta-update
#
# Each meta-update estimates $\nabla_\theta \mathbb E_{\mathcal T}[\mathcal L_{\mathcal T}(\theta'_{\mathcal T})]$
# from a meta-batch of B sampled tasks (and their sampled points). The estimate $g_B$ is the mean of B
# independent per-task meta-gradients, so its covariance is the per-task covariance divided by B:
#
# $$\mathbb E\,\|g_B - \bar g\|^2 = \frac{\operatorname{tr}\operatorname{Cov}[g_1]}{B},
#   \qquad \bar g = \mathbb E[g_1].$$
#
# We check it: at the untrained initialisation and at the shipped MAML θ, draw 100 meta-batches of each
# size B ∈ {1, 5, 25} (K = 10, as in meta-training), compute `meta_gradient` for each, and compare with
# $\bar g$, estimated from one very large batch of 5 000 tasks.

# %%
def flat(grads):
    return torch.cat([g.flatten() for g in grads.values()])


torch.manual_seed(0)
model = build_model(default_config("maml"))          # a fresh, untrained network: the initialisation
thetas = {"initialisation": parameters_of(model), "trained MAML θ": detached(theta_maml, requires_grad=True)}
reference_tasks = dist.sample_batch(5000, 10, 10, np.random.default_rng(99), model)
g_bar = {(where, m): flat(meta_gradient(theta, reference_tasks, 0.01, method=m))
         for where, theta in thetas.items() for m in ("maml", "fomaml")}

BATCH_SIZES, DRAWS = (1, 5, 25), 100
spread = {}
for where, theta in thetas.items():
    rng = np.random.default_rng(0)
    for B in BATCH_SIZES:
        g = torch.stack([flat(meta_gradient(theta, dist.sample_batch(B, 10, 10, rng, model), 0.01))
                         for _ in range(DRAWS)])                                # [draws, parameters]
        spread[where, B] = dict(
            sq_dev=float((g - g_bar[where, "maml"]).pow(2).sum(1).mean()),
            cosine=float(torch.nn.functional.cosine_similarity(g, g_bar[where, "maml"][None], dim=1).mean()))

# %% tags=["nbval-check-output"]
for where in thetas:
    print(f"{where}: |ḡ|² = {g_bar[where, 'maml'].pow(2).sum():.2g}")
    print(f"   {'B':>3} {'E|g_B − ḡ|²':>12} {'B · E|g_B − ḡ|²':>16} {'mean cos(g_B, ḡ)':>18}")
    for B in BATCH_SIZES:
        s = spread[where, B]
        print(f"   {B:>3} {s['sq_dev']:12.2g} {B * s['sq_dev']:16.2g} {s['cosine']:18.2f}")
print("\nquoted below: " + ", ".join(f"cos_{short}_{B} = {spread[where, B]['cosine']:.2f}"
                                   for short, where in (("init", "initialisation"), ("trained", "trained MAML θ"))
                                   for B in (1, 25)))

# %%
fig, ax = new_figure()
for where, color in zip(thetas, (COLORS["random"], COLORS["maml"])):   # untrained = a random init
    sq = [spread[where, B]["sq_dev"] for B in BATCH_SIZES]
    ax.plot(BATCH_SIZES, sq, "o-", color=color, label=f"at the {where}")
    ax.plot(BATCH_SIZES, [sq[0] / B for B in BATCH_SIZES], ":", color=color, label="1/B from B = 1")
    ax.axhline(g_bar[where, "maml"].pow(2).sum(), color=color, ls="--", lw=0.8, label="|ḡ|² (the signal)")
ax.set(xscale="log", yscale="log", xlabel="tasks per meta-update B", ylabel="E |g_B − ḡ|²  (100 draws)",
       title="meta-gradient noise falls like 1/B")
ax.set_xticks(BATCH_SIZES, [str(B) for B in BATCH_SIZES])
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=7);

# %% [markdown]
# $B \cdot \mathbb E\|g_B - \bar g\|^2$ is roughly constant: the noise falls like 1/B, as it must. What
# matters is the noise *relative to the signal* $\|\bar g\|^2$:
#
# * At the **initialisation** the mean gradient is large (everything is still to be learned): with one
#   task the estimate points only loosely the right way (cosine ≈ <span data-out="cos_init_1">0.4</span>),
#   with 25 tasks it is good (≈ <span data-out="cos_init_25">0.9</span>).
# * At the **trained θ** the mean gradient is tiny — training has nearly converged — while the per-task
#   gradients are as large as ever: every task would like θ moved its own way. Even 25 tasks give a
#   cosine of only about <span data-out="cos_trained_25">0.27</span>; a single task's meta-gradient is
#   almost pure noise (cosine ≈ <span data-out="cos_trained_1">0.04</span>).
#
# So a meta-update from one task is a random kick; averaging over B tasks divides the variance by B,
# which is why the paper uses 25 tasks per update on sinusoids, 20 for 2-D navigation and 40 for
# locomotion. The other levers against noise are a smaller meta learning rate β (averaging over
# *iterations* instead of tasks) and, in RL, more trajectories per task — there the support and query
# losses are themselves Monte-Carlo estimates, which adds a second layer of noise. The next section
# measures both levers on 2-D navigation.
#
# ## 4. An ablation on 2-D navigation: tasks per update, trajectories per task, first vs second order
#
# In RL the meta-batch costs simulation: one meta-iteration rolls out B tasks × N episodes twice
# (before and after adaptation). Is it better to spend it on many tasks or on many trajectories per
# task? And does second order matter? `bench/ablation_navigation.py` meta-trains MAML-TRPO from scratch
# for every cell of the grid
#
# * meta-batch B ∈ {5, 20} tasks × N ∈ {5, 20} episodes per task × {MAML, first-order MAML},
# * 3 seeds per cell (seeds change the training tasks, the initialisation and the sampled episodes),
#
# with the paper's settings otherwise (α = 0.1, TRPO with $\varepsilon_{KL}$ = 0.01, horizon H = 100), but a smaller policy
# (2 × 32 instead of 2 × 100) and only 40 meta-iterations, so that the 24 runs fit in about 15 minutes
# of one core. One more difference from the shipped checkpoints: these runs let the policy act directly
# in velocity units (`normalize_actions=False`), whereas the shipped policies act in [−1, 1], scaled to
# the ±0.1 bounds as in the authors' code — the comparison *between* cells is what matters here. After 10, 20 and 40 meta-iterations the policy is evaluated on 20 fixed held-out goals,
# 20 episodes per goal: the return after one adaptation step (`adaptation_returns`, notebook 04). To
# reproduce (or extend: runs already in the file are skipped, so `--seeds 0 1 2 3 4` adds two seeds):
#
# ```bash
# python bench/ablation_navigation.py     # writes course_lib/checkpoints/ablation_navigation.json
# ```

# %% tags=["nbval-ignore-output"]
ablation = load_ablation()
settings, runs = ablation["settings"], ablation["runs"]
grid_size = len(settings["algos"]) * len(settings["meta_batches"]) * len(settings["episodes"]) * len(settings["seeds"])
print(f"{len(runs)} of {grid_size} runs in the file; {settings['base_config']['iterations']} meta-iterations each, "
      f"policy {tuple(settings['base_config']['hidden'])}; command: {settings['command']}")
print(f"training + evaluation wall time of all runs: {ablation.get('total_wall_time', 0) / 60:.1f} min "
      f"on {settings['machine']} (one thread, on a busy machine)")

# %% [markdown]
# The table: held-out return after one adaptation step (higher is better; the return is minus the
# summed distance to the goal over 100 steps), after 10, 20 and 40 meta-iterations, mean ± standard
# error over seeds, s.e. = s/√n with the sample standard deviation s of the n seeds
# (`course_lib.ablation.aggregate`). A cell not (yet) in the file shows "—"; a cell with fewer seeds
# than the grid's says how many in brackets.

# %% tags=["nbval-check-output"]
def at_iteration(runs, iteration):
    """The runs with return_before/return_after replaced by the held-out evaluation at `iteration`."""
    return [{**r, **c} for r in runs for c in r["held_out_curve"] if c["iteration"] == iteration]


EVAL_AT = settings["evaluation"]["at_iterations"]
held_out = {k: aggregate(at_iteration(runs, k)) for k in EVAL_AT}     # {iteration: {cell: stats}}


def entry(iteration, cell_key):
    c = held_out[iteration].get(cell_key)
    if c is None:
        return "—"
    return f"{c['mean']:.1f} ± {c['stderr']:.1f}" + (f" ({c['n']})" if c["n"] < len(settings["seeds"]) else "")


complete = all(c["n"] == len(settings["seeds"]) for c in held_out[EVAL_AT[-1]].values())
col = 13 if complete else 17                                  # room for "(n)" in a partial grid
print(f"grid: {len(settings['seeds'])} seeds per cell; held-out return after one step, after k meta-iterations")
print(f"{'tasks':>6} {'episodes':>9} |{'MAML':^{col * len(EVAL_AT)}}|{'first-order MAML':^{col * len(EVAL_AT)}}")
print(f"{'B':>6} {'N':>9} |" + ("".join(f"{f'k = {k}':>{col}}" for k in EVAL_AT) + "|") * 2)
for B in settings["meta_batches"]:
    for N in settings["episodes"]:
        print(f"{B:>6} {N:>9} |" + "|".join("".join(f"{entry(k, (a, B, N)):>{col}}" for k in EVAL_AT)
                                         for a in ("maml", "fomaml")))
returns_before = [r["return_before"] for r in runs]
print(f"\nbefore adaptation, k = {EVAL_AT[-1]}, all runs: {np.mean(returns_before):.1f} "
      f"(from {min(returns_before):.1f} to {max(returns_before):.1f})")
gaps = [held_out[k][("maml", B, N)]["mean"] - held_out[k][("fomaml", B, N)]["mean"]
        for k in EVAL_AT[1:] for B in settings["meta_batches"] for N in settings["episodes"]
        if ("maml", B, N) in held_out[k] and ("fomaml", B, N) in held_out[k]]
quoted = {"maml_20x20_10": ("maml", 20, 20, 10), "maml_5x20_40": ("maml", 5, 20, 40),
          "maml_20x5_40": ("maml", 20, 5, 40), "maml_5x5_40": ("maml", 5, 5, 40),
          "maml_20x20_20": ("maml", 20, 20, 20), "fomaml_20x20_40": ("fomaml", 20, 20, 40)}
print("quoted below: " + ", ".join(f"{key} = {held_out[k][a, B, N]['mean']:.1f}" for key, (a, B, N, k) in quoted.items()
                                   if (a, B, N) in held_out.get(k, {}))
      + (f", gap_min = {min(gaps):.1f}, gap_max = {max(gaps):.1f}" if gaps else ""))

# %% [markdown]
# The same numbers as learning curves — against meta-iterations (top) and against the number of
# episodes sampled so far (bottom: 2 × B × N per iteration, the simulation cost):

# %%
fig, axes = new_figure(ncols=2, nrows=2, width=5.4, height=3.6)
cells = [(B, N) for B in settings["meta_batches"] for N in settings["episodes"]]
cell_colors = dict(zip(cells, setting_colors(len(cells))))     # settings, not methods: viridis shades
for col, algo in enumerate(("maml", "fomaml")):
    for (B, N), color in cell_colors.items():
        points = [(k, held_out[k][algo, B, N]) for k in EVAL_AT if (algo, B, N) in held_out[k]]
        if not points:
            continue
        its = np.array([k for k, _ in points])
        means, errs = [c["mean"] for _, c in points], [c["stderr"] for _, c in points]
        n = min(c["n"] for _, c in points)
        for row, x in enumerate((its, 2 * B * N * its)):
            axes[row, col].errorbar(x, means, yerr=errs, color=color, marker="o", ms=4, capsize=3,
                                    ls="-" if B == max(settings["meta_batches"]) else "--",
                                    label=f"B = {B}, N = {N} ({n} seeds)")
    axes[0, col].set(xlabel=ITERATION_LABEL, title=label_for(algo))
    axes[1, col].set(xlabel="episodes sampled in meta-training", xscale="log")
for ax in axes.flat:
    ax.set_ylabel("held-out return after 1 step\n(sum of rewards; ± s.e. over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
axes[0, 1].sharey(axes[0, 0])
axes[1, 1].sharey(axes[1, 0]);

# %% [markdown]
# What the grid says (differences smaller than about two standard errors are not resolved by three
# seeds):
#
# * **Too little data per update is slow and erratic.** With B = 5 tasks × N = 5 episodes (25
#   episodes per update on each side of the inner step) MAML is far behind after 10 iterations and
#   still behind after 40, with the largest spread between seeds. Each meta-gradient there is a
#   noisy estimate twice over: few tasks (section 3) and few episodes inside every task's inner
#   policy-gradient step and post-update loss.
# * **Beyond that, more data per update hardly helps at this budget.** B = 5 × N = 20, B = 20 × N = 5
#   and B = 20 × N = 20 end at about the same return after 40 iterations; the largest cell costs four
#   times the simulation of the other two (bottom row) for no measurable gain. With only two levels
#   per factor and three seeds, tasks and episodes per task come out as equally good levers here; the
#   paper's 20 × 20 buys stability over its 500 iterations more than speed over our 40.
# * **Per sampled episode** (bottom row), several cheap updates beat one expensive one: 20 × 20 after
#   10 iterations has sampled as many episodes as 5 × 20 or 20 × 5 after 40, and is far behind them;
#   even the noisy 5 × 5 after 40 iterations is ahead of every larger cell at the same 2 000 episodes.
#   Only the iterations themselves (one TRPO step each) are then the bottleneck.
# * **Second order beats first order** in every cell after 20 and after 40 iterations, by
#   <span data-out="gap_min">0.4</span> to <span data-out="gap_max">6</span> in return; the gap is beyond two standard errors for B = 5, N = 20 (both times) and for B = 20 after
#   20 iterations. First-order MAML learns more slowly here. Section 5 weighs this against its cost.
#
# ## 5. The price of second order, and when first order is enough
#
# Second-order MAML backpropagates through the inner step: the graph of the inner gradient is kept
# (`create_graph=True`) and the meta-gradient needs a Hessian-vector product on top of the gradients.
# On sinusoids, one meta-gradient of a 25-task meta-batch:

# %% tags=["nbval-ignore-output"]
timing_batch = dist.sample_batch(25, 10, 10, np.random.default_rng(1), model)
seconds = {}
for method in ("maml", "fomaml"):
    meta_gradient(thetas["trained MAML θ"], timing_batch, 0.01, method=method)           # warm-up
    start = time.perf_counter()
    for _ in range(50):
        meta_gradient(thetas["trained MAML θ"], timing_batch, 0.01, method=method)
    seconds[method] = (time.perf_counter() - start) / 50
    print(f"{label_for(method):>17}: {1e3 * seconds[method]:.2f} ms per meta-gradient")
print(f"second / first order: {seconds['maml'] / seconds['fomaml']:.1f}×")

# %% [markdown]
# And on 2-D navigation, from the ablation's own timings (seconds per meta-iteration, mean over seeds;
# the machine was busy, so treat them as ±30 %):

# %% tags=["nbval-ignore-output"]
speed = aggregate(runs, "seconds_per_iteration")
print(f"{'tasks B':>7} {'episodes N':>10} {'MAML s/it':>10} {'FOMAML s/it':>12} {'ratio':>6}")
for B in settings["meta_batches"]:
    for N in settings["episodes"]:
        if ("maml", B, N) in speed and ("fomaml", B, N) in speed:
            so, fo = speed["maml", B, N]["mean"], speed["fomaml", B, N]["mean"]
            print(f"{B:>7} {N:>10} {so:10.2f} {fo:12.2f} {so / fo:6.1f}")
ratios = [speed["maml", B, N]["mean"] / speed["fomaml", B, N]["mean"] for B in settings["meta_batches"]
          for N in settings["episodes"] if ("maml", B, N) in speed and ("fomaml", B, N) in speed]
if ratios and ("maml", 20, 20) in speed and ("fomaml", 20, 20) in speed:
    print(f"\nquoted below: ratio_min = {min(ratios):.1f}, ratio_max = {max(ratios):.1f}, "
          f"maml_20x20_20_seconds = {20 * speed['maml', 20, 20]['mean']:.0f}, "
          f"fomaml_20x20_40_seconds = {40 * speed['fomaml', 20, 20]['mean']:.0f}")

# %% [markdown]
# Second order costs <span data-out="ratio_min">1.3</span>–<span data-out="ratio_max">1.6</span> times the
# time of first order per iteration here — less than twice,
# because much of an iteration is work both pay (sampling the episodes, the surrogate's gradient,
# TRPO's curvature products and line search), and with a 32×32 policy the extra Hessian-vector products
# are cheap (the cost grows with larger networks and with more inner steps, whose whole graph second
# order must keep). At the paper's sizes,
# `python bench/rl_speed.py` prints the second-/first-order ratio for MAML-TRPO on 2-D navigation, and
# notebook 05 times the learner and whole meta-iterations of both.
#
# When is first order enough? FOMAML drops the term $-\alpha\nabla^2\mathcal L\,\nabla\mathcal L(\theta')$
# from the meta-gradient, which makes it **biased**; the question is whether that bias matters next to
# the noise we already live with. From section 3:

# %% tags=["nbval-check-output"]
bias_quoted = []
for short, where in (("init", "initialisation"), ("trained", "trained MAML θ")):
    so, fo = g_bar[where, "maml"], g_bar[where, "fomaml"]
    bias = (so - fo).norm()
    noise = spread[where, 25]["sq_dev"] ** 0.5
    print(f"{where:>16}: |ḡ_MAML − ḡ_FOMAML| = {bias:.2f}   cos(ḡ_MAML, ḡ_FOMAML) = "
          f"{torch.nn.functional.cosine_similarity(so, fo, dim=0):.2f}   noise of a 25-task estimate "
          f"√E|g_25 − ḡ|² = {noise:.2f}")
    bias_quoted.append(f"bias_{short} = {bias:.2f}, noise_{short} = {noise:.2f}, bias_over_noise_{short} = {bias / noise:.2f}")
print("\nquoted below: " + ", ".join(bias_quoted))

# %% [markdown]
# On sinusoids the first-order bias is smaller than the sampling noise of a 25-task meta-gradient —
# less than half of it at the initialisation (<span data-out="bias_over_noise_init">0.40</span>), a fifth
# at the trained θ (<span data-out="bias_over_noise_trained">0.21</span>): one meta-update cannot tell
# the two gradients apart, and over many updates the bias shows only as a slightly different end
# point (notebook 03's table: FOMAML close behind MAML after one step). On 2-D navigation it is the other way
# round: the ablation's second-order runs learn faster in every cell, and the gain outweighs the cost
# even per second of training — for B = 20, N = 20, MAML after 20 iterations
# (≈ <span data-out="maml_20x20_20_seconds">36</span> s, return <span data-out="maml_20x20_20">−16.1</span>)
# is already ahead of FOMAML after 40 (≈ <span data-out="fomaml_20x20_40_seconds">56</span> s,
# <span data-out="fomaml_20x20_40">−17.0</span>). The inner step there is a large one (α = 0.1 on a policy-gradient loss),
# so θ′ depends on θ through much more than the identity. Rules of thumb:
#
# * **First order is enough** when the inner step does little work relative to the curvature (one
#   step, small α, as on sinusoids, where the bias measured above stays below the noise), and when the meta-gradient is so noisy that its bias drowns — in
#   the noisiest cell of the ablation (B = 5, N = 5) the two are not told apart. Then spend the saved
#   time on more tasks or more iterations.
# * **Second order pays** when the inner loop does a lot of work — several steps, a large α, a sharp
#   loss — when the meta-batch is large enough that the bias, not the noise, is the largest error, and
#   when the second-order term itself can be estimated well. Adapting few parameters makes it cheaper
#   in *memory*, not in compute: CAVIA (notebook 07) adapts only a context vector, so its per-task state
#   and $\partial\phi/\partial\theta$ (2 × |θ|) are small, but its second-order gradient still
#   back-propagates through every layer, and in `course_lib` a CAVIA iteration is no faster than MAML's.
#
# **Why notebook 08 found the opposite.** On the half-cheetah directions ([notebook 08](08_mujoco_locomotion.ipynb))
# our first-order run ended *ahead* of the second-order one; here on navigation second order wins in
# every cell, even per second. Both can hold, because the second-order term is an estimate whose
# quality depends on the problem. On 2-D navigation the policy's inputs and actions are 2-D, the term
# (the inner step's Hessian-vector product) is cheap and computed exactly for the surrogate, and the
# large inner step makes it matter. On the half-cheetah, a high-dimensional locomotion task, the same
# term is a Hessian estimated from 20 noisy episodes per task — high variance, and biased by what the
# surrogate leaves out (the pre-update episodes' dependence on θ; notebook 05) — and first order spends
# the same samples on a lower-variance if biased gradient. Two training seeds there are a hint, not a
# verdict ([docs/reproduction.md](../docs/reproduction.md)); the rule is to measure, per problem.
#
# Whatever you choose, measure it as here: same tasks, same budget, several seeds, mean ± standard
# error. [`exercises/ex03_fomaml_navigation.ipynb`](../exercises/ex03_fomaml_navigation.ipynb) asks exactly this for 200 meta-iterations (at small
# sizes: 10 goals × 10 episodes, a 32-32 policy).

# %% [markdown]
# ## Check your understanding
#
# 1. At α = 0.03 the number of tasks made worse *falls* after the third step (right panel), while more
#    and more tasks diverge. What happens to the others? Why do the tables count diverged tasks
#    separately instead of averaging them in?
#
#    <details><summary>Answer</summary>
#
#    Some of them recover: after overshooting for a few steps, a task whose large steps carry it into a
#    flatter region (ReLU units switch on or off, and the curvature along the step drops below 2/α)
#    converges from there, and its query loss falls below where it started —
#    <span data-out="better_a003_3">90</span> of the 600 tasks are better than before adapting after
#    three steps, <span data-out="better_a003_10">241</span> after ten. The rest keep growing and
#    eventually overflow. A single infinite or NaN loss makes the mean infinite or NaN, which hides the
#    finite tasks entirely; counting diverged tasks keeps both facts visible — how well the typical task
#    does, and how often adaptation blows up (a failure in its own right).
#
#    </details>
#
# 2. Using $1 - \alpha\lambda$, explain why MAML's good range of α is narrow and the pretrained
#    network's is wide. The trained MAML θ has a median $2/\lambda_{\max}$ close to its α: does the
#    one-step model say that meta-training must put it there?
#
#    <details><summary>Answer</summary>
#
#    A step multiplies the error along a direction of curvature λ by $1 - \alpha\lambda$: too small an α
#    leaves it near 1 (little progress), and α above $2/\lambda$ makes it larger than 1 in size (overshoot).
#    MAML's θ is sharp (median $\lambda_{\max}$ ≈ <span data-out="lam_maml">232</span>), so steps become
#    unstable above about <span data-out="two_over_lam_maml">0.009</span>, while
#    steps much smaller than the trained 0.01 adapt slowly: a window of about a factor of three either
#    way. The pretrained network is three times flatter ($\lambda_{\max}$ ≈ <span data-out="lam_pretrain">69</span>,
#    $2/\lambda_{\max}$ ≈ <span data-out="two_over_lam_pretrain">0.029</span>), so
#    larger steps stay stable — but it also adapts little with any α. The one-step model does *not*
#    predict $\lambda_{\max}$ ≈ 2/α: one step reduces the loss along a direction most at $\alpha\lambda = 1$ (the
#    factor $(1 - \alpha\lambda)^2$ is then 0), i.e. it favours curvature about 1/α in the directions the
#    tasks use, and it says nothing about the sharpest direction if gradients barely point along it.
#    Here λ_max ≈ 2/α is an observation on one checkpoint; testing it would take models trained with
#    other α.
#
#    </details>
#
# 3. Meta-SGD's learned rates are excellent for one step and diverge after five. Give two ways to get a
#    learned α that can be used for five steps.
#
#    <details><summary>Answer</summary>
#
#    (a) Meta-train with the number of steps you will use: Meta-SGD with `steps=5` back-propagates
#    through five inner steps, so the learned rates are tuned for θ and the four points after it (one
#    set of rates per step is a further option). (b) Restrict what α can be so that it stays a step
#    size: one positive scalar per layer (or per layer and step), e.g. parametrised as $e^{s}$, instead of
#    a free sign-changing rate per weight. Either way, check the divergence count at the number of steps
#    you intend to use.
#
#    </details>
#
# 4. At the trained θ, the cosine between a 25-task meta-gradient and the mean gradient is about
#    <span data-out="cos_trained_25">0.27</span>.
#    Is training then hopeless? What do Adam and a small meta learning rate β do about it?
#
#    <details><summary>Answer</summary>
#
#    No. Each estimate is unbiased, so over many updates the signal adds up linearly while the noise
#    adds up like a random walk (√n): a small β makes each step small, so θ moves by the average of many
#    meta-gradients. Adam's first moment averages the recent gradients (about ten with β₁ = 0.9), and
#    its division by the root-mean-square gradient shrinks the steps of coordinates whose gradient is
#    mostly noise. Near convergence a small cosine is expected — the mean gradient is small because
#    θ is near a minimum; the noise then sets how much θ jitters around it, which a smaller β or a
#    larger B reduces.
#
#    </details>
#
# 5. In the ablation, which is the better use of a fixed number of sampled episodes: fewer, larger
#    meta-updates or more, smaller ones? Use the bottom row of plots. Where does that stop being true?
#
#    <details><summary>Answer</summary>
#
#    More, smaller ones: B = 20 × N = 20 after 10 iterations has sampled as many episodes as 5 × 20 or
#    20 × 5 after 40, and is far behind them (<span data-out="maml_20x20_10">−22.8</span> against
#    <span data-out="maml_5x20_40">−14.5</span> and <span data-out="maml_20x5_40">−15.0</span> for MAML),
#    and 5 × 5 after 40
#    iterations is ahead of every larger cell at the same 2 000 episodes. It stops being true when the
#    updates get so noisy that they are slow and erratic per iteration — the 5 × 5 cell has the largest
#    spread between seeds and is behind per iteration — and when episodes are not the cost: if the
#    learner's time per iteration dominates (as on navigation with a large policy), or the number of
#    iterations is limited (each TRPO step moves the policy by at most $\varepsilon_{KL}$), larger batches
#    per update are the better buy.
#
#    </details>
#
# 6. Why is a standard error over 3 seeds a rough guide only? How many seeds would you need to
#    resolve a difference of 1 in return, given the standard errors in the table?
#
#    <details><summary>Answer</summary>
#
#    With n = 3 the sample standard deviation is itself very uncertain (relative error about
#    $1/\sqrt{2(n-1)}$ = 50 %), a 95 % interval needs Student's t = 4.3 with two degrees of freedom rather
#    than 2, and the spread between seeds need not be normal. To resolve a difference of 1 at two
#    standard errors of the difference, $2\sqrt{2}\,s/\sqrt n \le 1$, i.e. $n \ge 8s^2$, with $s$ = s.e. × √3
#    from the table: for a typical cell with s.e. ≈ 1 (s ≈ 1.7) about 24 seeds; for the tight cells
#    (s.e. ≈ 0.5) about 6; for the noisy 5 × 5 cell at 10 iterations (s.e. ≈ 3) a couple of hundred.
#
#    </details>
#
# 7. On sinusoids FOMAML's bias is smaller than the noise of a 25-task estimate, yet on navigation
#    second order clearly learns faster. What differs between the two inner steps? When would you still
#    choose first order for navigation?
#
#    <details><summary>Answer</summary>
#
#    On sinusoids one step of α = 0.01 on a regression loss gives a Hessian term well below the sampling
#    noise (<span data-out="bias_trained">0.32</span> against <span data-out="noise_trained">1.52</span> at
#    the trained θ), even though the sharpest curvature is high — the query
#    gradient has little component along it. On navigation one step of α = 0.1 on a policy-gradient loss
#    changes the policy a lot (−40 to about −10 in one step), $J = I - \alpha\nabla^2\mathcal L$ is far from I
#    (notebook 05: cosine 0.62 between the meta-gradients), and TRPO's curvature uses J as well. You
#    would still choose first order when the second-order term cannot be estimated well or paid for:
#    very few episodes per task (the 5 × 5 cell does not separate the two), a much larger policy or
#    several inner steps (time and memory), or a task like the half-cheetah of notebook 08, where the
#    noisy second-order term did not help.
#
#    </details>
#
# ## Takeaways
#
# * MAML's usable inner step size is narrow — a factor of about three either way — because its
#   initialisation is sharp: α above $2/\lambda_{\max}$ overshoots and diverges. That $\lambda_{\max}$ sits near
#   $2/\alpha$ here is an observation, not something the one-step model requires.
# * A learned α (Meta-SGD) fixes one step and breaks many: it is part of the model and must be trained
#   for the number of steps it will be used with.
# * The meta-gradient's noise falls like 1/B; near convergence it dwarfs the mean gradient, which is why
#   MAML uses 20–40 tasks per update, a small meta learning rate and Adam.
# * Per sampled episode, several cheaper updates beat one large one — until the updates become too
#   noisy.
# * First vs second order depends on the problem: the bias of first order is below the noise on
#   sinusoids, second order wins even per second on navigation, first order won on the half-cheetah
#   directions (notebook 08). Measure it: same tasks, same budget, several seeds.
#
# **Exercises.** [`exercises/ex03_fomaml_navigation.ipynb`](../exercises/ex03_fomaml_navigation.ipynb) (worked solutions:
# `solutions/ex03_fomaml_navigation.ipynb`): first-order MAML on 2-D navigation for 200 meta-iterations
# with a held-out curve, then second-order MAML on the same budget — time against quality, and a
# written answer on when the Hessian term is worth its cost (3.3). The written Exercise 1.6 of
# [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (why MAML's initialisation is easy to fine-tune) can use
# section 1's curvature numbers as evidence. Then
# [`exercises/ex04_outcomes.ipynb`](../exercises/ex04_outcomes.ipynb) (worked solutions: `solutions/ex04_outcomes.ipynb`)
# measures this notebook's findings yourself: the divergence count against α and Meta-SGD's learned α,
# the 1/B variance fit, the k-step meta-gradient by HVPs, the memory each algorithm holds, and the
# baselines table.
#
# **Try it yourself (ungraded; no exercise file).**
# * *Choosing α* — pick the inner step size on validation tasks for 1 and for 5 test steps, and explain
#   why the two answers differ.
# * *Meta-SGD for several steps* — meta-train Meta-SGD with `steps=5` (`default_config("metasgd",
#   steps=5)`) and compare its 5-step error and divergence count with the one-step model's.
# * *Meta-gradient variance* — repeat section 3 with K = 5 instead of 10, and for Reptile's θ − φ.
#
# **Next:** [10 · *Few-shot character classification*](10_few_shot_classification.ipynb) — the MAML
# paper's Omniglot experiment, on characters drawn offline. `bench/` holds the reproduction tables of the
# whole workbook (`sinusoid.py`, `navigation.py`, `fewshot.py`, `rl_speed.py`, `ablation_navigation.py`).
