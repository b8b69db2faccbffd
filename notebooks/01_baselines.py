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
# # 01 · Baselines: why pretraining on many tasks does not give fast adaptation
#
# **Learning objectives.** After this notebook you can
# 1. describe the sinusoid task family of the MAML paper (Finn, Abbeel & Levine 2017, §5.1) and the
#    *K-shot* protocol used to evaluate it;
# 2. train the **multi-task pretraining** baseline and explain why its prediction is the *mean function*
#    of the task family, which carries no information about any particular task;
# 3. fine-tune that network, and a **randomly initialised** one, on K = 5 points of a new task, and say
#    why neither adapts well in a few gradient steps;
# 4. compare them with a **MAML** initialisation on the same held-out tasks, and place the **oracle**
#    baseline on the same scale.
#
# **Prerequisites.** Gradient descent and mean squared error; PyTorch tensors. No meta-learning yet.
#
# **Run time.** 15–50 s on a 2-core CPU (measured: 17–19 s with two training runs sharing the
# machine; about 50 s on a busier day). The live 2 000-iteration training run takes 2–20 s; the rest
# loads shipped checkpoints.
#
# The library is `course_lib`; everything below imports from it, so the code you see here is the
# same code the exercises and the grader use. Notation, the formulas of the whole workbook and the map
# from learning outcomes to notebooks and exercises: [the formula sheet](../docs/formulas.md).

# %%
# %matplotlib inline
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib import forward
from course_lib.checkpoints import load_checkpoint, shipped
from course_lib.sinusoid.evaluate import PAPER_SINUSOID, sinusoid_benchmark
from course_lib.evaluate import adaptation_curve
from course_lib.ui.plots import (new_figure, plot_adaptation_curve, plot_sinusoid_fit, plot_tasks,
                                 plot_training_history)
from course_lib.tasks.sinusoid import SinusoidDistribution, sine
from course_lib.sinusoid.config import default_config, load_trained
from course_lib.sinusoid.train import train_sinusoid
from course_lib.ui.sinusoid import sinusoid_adaptation, sinusoid_widget

torch.set_num_threads(1)          # small networks: one thread is fastest, and leaves a core free
workdir = tempfile.TemporaryDirectory(prefix="maml_nb01_")   # this notebook's own checkpoints
WORK = Path(workdir.name)

# %% [markdown]
# ## 1. The task family
#
# Every task is a sine wave $y = A \sin(x - b)$ with amplitude $A \sim U[0.1, 5]$ and phase
# $b \sim U[0, \pi]$ (printed as φ by the widgets; the workbook keeps $\phi$ for adapted weights); inputs are $x \sim U[-5, 5]$. A learner sees **K = 5 or 10 labelled points**
# of a new task (the *support set*) and must then predict the whole curve (scored on fresh *query*
# points).
#
# Before any learning, a question: what single function is the best guess for a task you know nothing
# about? Under squared error it is the **mean over the task family**,
#
# $$\bar y(x) = \mathbb E_{A,b}[A \sin(x-b)] = \mathbb E[A]\cdot\frac1\pi\int_0^\pi \sin(x-b)\,db
#   = -\frac{2\,\mathbb E[A]}{\pi}\cos x \approx -1.62\cos x .$$
#
# (It is not zero, because the phases only cover half a period.) Let us check this by sampling tasks.

# %% tags=["nbval-check-output"]
dist = SinusoidDistribution()
x_grid = np.linspace(-5, 5, 200).reshape(1, -1, 1)
tasks = dist.sample_tasks(20_000, np.random.default_rng(0))
family_mean = sine(tasks, np.broadcast_to(x_grid, (len(tasks), 200, 1))).mean(0).ravel()
closed_form_mean = -2 * np.mean(dist.amplitude) / np.pi * np.cos(x_grid.ravel())
print("max |Monte-Carlo mean − closed form| over x:", round(float(np.abs(family_mean - closed_form_mean).max()), 2))

# Best possible MSE of any predictor that ignores the task: the variance around the mean function.
floor_per_task = ((sine(tasks, np.broadcast_to(x_grid, (len(tasks), 200, 1)))
                   - closed_form_mean[None, :, None]) ** 2).mean((1, 2))                # [20 000]
floor = float(floor_per_task.mean())
print(f"MSE of the mean function, averaged over 20 000 tasks (the 'no adaptation' floor): floor = {floor:.2f}")
print(f"per task it ranges from {floor_per_task.min():.2f} to {floor_per_task.max():.1f}: floor_sd = {floor_per_task.std():.1f}, "
      f"so a mean over 100 tasks is uncertain by ±1.96·sd/√100: floor_ci100 = {1.96 * floor_per_task.std() / 10:.1f}")

# The 100 validation tasks that train_sinusoid uses (drawn with seed 10 000 + config seed, 10 query points each):
val_rng = np.random.default_rng(10_000)
val_tasks = dist.sample_tasks(100, val_rng)
dist.sample_points(val_tasks, 10, val_rng)                       # their support points (no adaptation here)
x_val, y_val = dist.sample_points(val_tasks, 10, val_rng)        # their query points
val_floor = float(((y_val.numpy() + 2 * np.mean(dist.amplitude) / np.pi * np.cos(x_val.numpy())) ** 2).mean())
print(f"the same floor on the 100 validation tasks: val_floor = {val_floor:.2f}  "
      f"(their mean A² is {np.mean(val_tasks[:, 0] ** 2):.1f}; over all tasks E[A²] = {np.mean(tasks[:, 0] ** 2):.1f})")

# %%
fig, ax = new_figure()
plot_tasks(ax, x_grid.ravel(), sine(tasks[:8], np.broadcast_to(x_grid, (8, 200, 1)))[:, :, 0],
           mean=closed_form_mean, title="eight tasks from the family and their mean");

# %% [markdown]
# ## 2. Baseline 1: multi-task pretraining
#
# The obvious way to "use all the tasks" is to train one network on data pooled from all of them:
#
# $$\min_\theta \; \mathbb E_{\mathcal T}\, \mathcal L_{\mathcal T}(f_\theta).$$
#
# In `course_lib` this is *MAML with zero inner steps* (`default_config("pretrain")` sets `steps=0`;
# see `course_lib/meta/maml.py`): the same loop, the same data, just no adaptation inside the
# objective. We train it live for 2 000 iterations (the shipped checkpoint was trained much longer;
# its iteration count is printed in section 4).

# %% tags=["nbval-ignore-output"]
config = default_config("pretrain", iterations=2000, checkpoint_every=500)
print(config)
live = train_sinusoid(config, out=WORK / "pretrain_live.pt", progress=True)
print(f"trained {live['iteration']} iterations in {live['wall_time']:.1f} s")

# %% tags=["nbval-check-output"]
print("validation MSE during training:", [round(h["val_loss"], 1) for h in live["history"]])
print(f"at the end: val_final = {live['history'][-1]['val_loss']:.2f}")

# %% [markdown]
# The validation loss stops improving almost at once, at <span data-out="val_final">2.5</span>. That is
# *below* the "best possible" floor of <span data-out="floor">3.02</span> — not a contradiction, but
# sampling: the floor is an average over 20 000 tasks, and the validation set has only 100. Per task the
# floor ranges from almost 0 (a tiny amplitude) to about 14 (a large one), a standard deviation of
# <span data-out="floor_sd">2.9</span>, so a mean over 100 tasks scatters by about
# ±<span data-out="floor_ci100">0.6</span> (95%). These 100 validation tasks happen to have smaller
# amplitudes than average, and on *them* the mean function scores <span data-out="val_floor">2.47</span>:
# the network has reached the floor of its own validation set. There is nothing more to learn *without
# knowing the task*. (The lesson for every table in this workbook: compare models on the **same** tasks,
# with confidence intervals.) What has the network learned? Compare its predictions
# with the family mean, for the live run and for the shipped checkpoint.

# %% tags=["nbval-check-output"]
x_t = torch.as_tensor(x_grid[0], dtype=torch.float32)          # [200, 1]
predictions = {}
for name, path in {"pretrain (2 000 it, live)": WORK / "pretrain_live.pt",
                   "pretrain (shipped)": shipped("sinusoid_pretrain")}.items():
    model, theta, _, _ = load_trained(path)
    with torch.no_grad():
        predictions[name] = forward(model, theta, x_t).ravel().numpy()
    gap = np.sqrt(np.mean((predictions[name] - closed_form_mean) ** 2))
    print(f"{name}: RMS distance to the family mean = {gap:.1f}  (amplitudes go up to 5)")

# %%
fig, ax = new_figure()
plot_sinusoid_fit(ax, x_grid.ravel(), closed_form_mean, predictions,
                  styles={"pretrain (shipped)": dict(ls=":", lw=2.5, color="#ff9896")},
                  title="pretrained networks predict the family mean")
ax.lines[0].set_label("family mean −1.62 cos x")
ax.legend(fontsize=8);

# %% [markdown]
# The pretrained network has learned $\bar y(x)$ and nothing else — it *cannot* know which task it is
# facing. The hope of "pretrain, then fine-tune" is that from here a few gradient steps on a new task's
# K points will get us close. Let us test that hope.
#
# ## 3. Fine-tuning on K = 5 points, against training from scratch
#
# We follow the paper's evaluation protocol (Appendix C, implemented in `course_lib.evaluate`): take
# K = 5 support points of a held-out task, take gradient steps with the model's inner learning rate
# $\alpha = 0.01$ on those points only, and measure the MSE on 100 fresh points of the same task.
# The second contender starts from a **random initialisation** (`default_config("random")` is a
# 0-iteration run: the network exactly as PyTorch initialises it).

# %% tags=["nbval-ignore-output"]
train_sinusoid(default_config("random"), out=WORK / "random.pt", progress=False)
paths = {"pretrain": WORK / "pretrain_live.pt", "random": WORK / "random.pt"}

# %% tags=["nbval-ignore-output"]
one_task = sinusoid_adaptation(amplitude=3.5, phase=2.0, alpha=0.01, steps=10, k=5, seed=3, models=paths)
print(one_task.summary(decimals=2))

# %% tags=["nbval-check-output"]
# The live network's last digits depend on how this CPU rounds 2 000 training steps; what the table says does not:
after = {name: curve[-1] for name, curve in one_task.curves.items()}
print("after 10 steps the pretrained network is closer than the random one:", after["pretrain"] < after["random"])
print("and neither is close (MSE above 1):", min(after.values()) > 1)

# %%
one_task.figure

# %% [markdown]
# Ten steps later neither is close: the pretrained curve has moved a little away from the family mean
# (and its loss even jumps up around step 6 — a step size that suits the average task overshoots on
# this large-amplitude one), and the random network, whose initial output is almost flat, has barely
# started to bend. One task is an anecdote, so here are 100 held-out tasks and up to 50 steps. The
# shaded band is a 95% confidence interval over tasks.

# %% tags=["nbval-ignore-output"]
STEPS = 50
curves = {}
for name, path in paths.items():
    model, theta, alpha, _ = load_trained(path)
    held_out = dist.sample_batch(100, 5, 100, np.random.default_rng(7), model)   # same tasks for both
    curves[name] = adaptation_curve(theta, held_out, alpha, STEPS)              # [STEPS + 1, 100]
    print(f"{name:>8}: query MSE after 0 / 1 / 10 / 50 steps =",
          " / ".join(f"{curves[name][s].mean():.1f}" for s in (0, 1, 10, 50)))

# %% tags=["nbval-check-output"]
# Again what the numbers say, on any CPU:
print("50 steps leave the pretrained network above MSE 2:", bool(curves["pretrain"][50].mean() > 2))
print("the random network's error grows from step 0 to step 50:", bool(curves["random"][50].mean() > curves["random"][0].mean()))

# %%
fig, ax = new_figure()
plot_adaptation_curve(ax, np.arange(STEPS + 1), curves, title="fine-tuning on K = 5 points, α = 0.01");

# %% [markdown]
# Fine-tuning does not rescue either network. (The longer-trained shipped pretrained network does a
# little better — see the benchmark below — but the picture is the same.) From the random
# init, the query error even *grows*:
# the 5 points are fitted by changes that extrapolate wildly in between. A larger step size does not
# help either — try α = 0.1 in the widget at the end: the steps overshoot and the loss explodes.
#
# Why? Pretraining optimised $\theta$ for *average performance now*, not for *performance after a
# gradient step*. Nothing in its objective asks that a step on 5 points of task $\mathcal T$ move the
# network towards task $\mathcal T$. That is exactly what MAML's objective asks for:
#
# $$\min_\theta \sum_{\mathcal T_i} \mathcal L_{\mathcal T_i}\big(f_{\theta - \alpha \nabla_\theta \mathcal L_{\mathcal T_i}(f_\theta)}\big).$$
#
# ## 4. A MAML initialisation on the same protocol
#
# Meta-training MAML takes several minutes on one core (the paper trains for 70 000 iterations; the
# shipped checkpoint's count and training time are printed below), so we load the shipped checkpoint.
# To reproduce it (and every other baseline):
#
# ```bash
# python -m course_lib train sinusoid --algo maml --iterations 30000   # also: pretrain, fomaml, reptile, cavia, metasgd, oracle
# ```

# %% tags=["nbval-ignore-output"]
for name in ("sinusoid_maml", "sinusoid_pretrain"):
    ckpt = load_checkpoint(shipped(name))
    print(f"{name}: {ckpt['iteration']} iterations, {ckpt['wall_time'] / 60:.1f} min of training")

# %%
fig, ax = new_figure()
plot_training_history(ax, {"maml": load_checkpoint(shipped("sinusoid_maml"))["history"],
                           "pretrain": load_checkpoint(shipped("sinusoid_pretrain"))["history"]},
                      title="shipped runs: validation MSE (after each method's own adaptation)");

# %% [markdown]
# Now the paper's benchmark (Table 2 protocol, K = 5, 600 held-out tasks) with `sinusoid_benchmark`:
# every model is evaluated on the *same* tasks and points. Entries are mean ± 95% CI of the query MSE.

# %% tags=["nbval-check-output"]
bench_paths = {"maml": shipped("sinusoid_maml"), "pretrain": shipped("sinusoid_pretrain"),
               "random": WORK / "random.pt"}
bench = sinusoid_benchmark(bench_paths, n_tasks=600, k=5, report_steps=(1, 5, 10))
print(f"{'':>9} {'0 steps':>13} {'1 step':>13} {'5 steps':>13} {'10 steps':>13}   paper (1/5/10)")
for name, row in bench.items():
    paper = " / ".join(map(str, PAPER_SINUSOID.get(name, ()))) or "—"
    print(f"{name:>9} " + " ".join(f"{str(row[s]):>13}" for s in (0, 1, 5, 10)) + f"   {paper}")
maml, pre = bench["maml"], bench["pretrain"]
print(f"quoted below: maml_0 = {maml[0].mean:.2f}, maml_1 = {maml[1].mean:.2f}, pretrain_10 = {pre[10].mean:.2f}, "
      f"maml_gain_1 = {maml[0].mean / maml[1].mean:.1f}, pretrain10_over_maml1 = {pre[10].mean / maml[1].mean:.1f}")

# %%
fig, ax = new_figure()
steps_shown = [0, 1, 5, 10]
plot_adaptation_curve(ax, steps_shown, {name: [row[s].mean for s in steps_shown] for name, row in bench.items()},
                      reference={k: dict(zip((1, 5, 10), v)) for k, v in PAPER_SINUSOID.items()},
                      title="600 held-out tasks, K = 5, α = 0.01")
ax.set_xticks(steps_shown);

# %% [markdown]
# Before adaptation MAML is *no better* than the pretrained network (both ≈ 3 — MAML
# <span data-out="maml_0">2.96</span> — the floor of a task-agnostic predictor on these 600 tasks) — but
# after **one** gradient step on five points its error falls to <span data-out="maml_1">0.64</span>, about
# <span data-out="maml_gain_1">4.6</span>-fold less, and it keeps improving with 5 and 10 steps although it
# was meta-trained with one. The pretrained network improves slowly: after 10 steps
# (<span data-out="pretrain_10">2.09</span>) it is still about
# <span data-out="pretrain10_over_maml1">3.3</span> times worse than MAML after one. Both networks have the same architecture and saw the same tasks; only the objective
# differed. (The numbers are close to the paper's, shown as squares.)
#
# A caveat for later: α stays fixed at 0.01 for every task. MAML's initialisation is deliberately
# *sensitive* — that is what makes one step so effective — so on a large-amplitude task whose few
# points bunch together, a step can overshoot and the loss can bounce or even blow up. (Trained for the
# paper's 70 000 iterations, our MAML became so sensitive that 10 steps diverged on one of the 600
# tasks — one reason the workbook ships 30 000-iteration checkpoints; see [docs/reproduction.md](../docs/reproduction.md).) Notebook 09
# returns to this (α too large or too small, and learning α with Meta-SGD).
#
# Here is one task (the one from section 3), both models, 10 steps:

# %% tags=["nbval-check-output"]
side_by_side = sinusoid_adaptation(amplitude=3.5, phase=2.0, alpha=0.01, steps=10, k=5, seed=3,
                                   models=("maml", "pretrain"))
print(side_by_side.summary(decimals=2))

# %%
side_by_side.figure

# %% [markdown]
# ## 5. The oracle baseline
#
# The **oracle** is told the task: its input is $(x, A, b)$ instead of $x$ alone (see
# `RegressionBatch(oracle=True)` in `course_lib/tasks/sinusoid.py`), and it is trained on all tasks like
# the pretrained network. It needs no adaptation at all, so its error is what a perfect task
# identification would buy — a lower bound the meta-learners approach as K grows. Its checkpoint ships
# as `sinusoid_oracle.pt` (train it with `python -m course_lib train sinusoid --algo oracle`); it
# appears in the comparison tables of notebook 03.
#
# | baseline | what it knows at test time | adapts? | expected MSE (K = 5) |
# |---|---|---|---|
# | random init | K points | K-shot fine-tuning | large, can grow with steps |
# | pretrained (multi-task) | K points | K-shot fine-tuning | ≈ the task-agnostic floor |
# | MAML | K points | K-shot fine-tuning | small after 1 step |
# | oracle | the task parameters $(A, b)$ | no | smallest |
#
# ## 6. Explore
#
# Move the sliders: the task (amplitude, phase), the step size α (log scale), the number of steps and
# of support points. Things to try: α = 0.1 (overshoot); K = 1 or 2; a task with small amplitude;
# support points that all fall on one side (change the seed).

# %% tags=["nbval-ignore-output"]
sinusoid_widget(models=("maml", "pretrain"), amplitude=3.5, phase=2.0, alpha=0.01, steps=1, k=5, seed=3)

# %%
workdir.cleanup()   # remove this notebook's temporary checkpoints

# %% [markdown]
# ## Check your understanding
#
# 1. Why does the multi-task network predict $-1.62\cos x$ and not $0$? What would it predict if
#    $b \sim U[0, 2\pi]$?
#
# <details><summary>Answer</summary>
#
# Under squared error the best task-agnostic prediction is the mean over tasks. The phases cover only
# half a period, $[0, \pi]$, and $\frac1\pi\int_0^\pi \sin(x-b)\,db = -\frac2\pi\cos x$, so the
# sines do not cancel: the mean is $-\frac{2\,\mathbb E[A]}{\pi}\cos x = -\frac{2 \cdot 2.55}{\pi}\cos x \approx -1.62\cos x$.
# Over a full period, $b \sim U[0, 2\pi]$, they cancel exactly: the network would predict $0$, and the
# floor would rise to $\mathbb E[A^2]/2 \approx 4.3$.
#
# </details>
#
# 2. The pretrained network's MSE before adaptation is about the same as MAML's. Why is that not a
#    contradiction with MAML adapting far better?
#
# <details><summary>Answer</summary>
#
# Before adaptation neither network knows the task, so both can at best reach the task-agnostic
# floor (≈ 3 on the 600 benchmark tasks). MAML did not optimise the loss *at* θ but the loss *after one
# step from* θ: its θ predicts roughly the same function but is placed where the gradient on five points
# moves the prediction far and in the right direction (notebook 03 measures it: a one-step move about as
# long as needed and well aligned, against about a fifth of the way, poorly aligned, for the pretrained
# network). Same starting loss, very different derivatives.
#
# </details>
#
# 3. From the random initialisation the query error *increases* with more steps on 5 points. Explain
#    with a sketch of what gradient descent does to a ReLU network fitted to 5 points.
#
# <details><summary>Answer</summary>
#
# A ReLU network is piecewise linear. Gradient steps on five points bend it to pass near those points,
# but nothing constrains it in between or beyond: the kinks move and the linear pieces tilt, and the
# curve extrapolates with growing slopes where there are no data. The support loss falls while the error
# on 100 query points spread over $[-5, 5]$ rises (here 4.0 → 5.3 after 50 steps): overfitting five
# points with no prior about the shape of a sine.
#
# </details>
#
# 4. Which single change to the pretraining objective turns it into MAML's? (Hint: `steps`.)
#
# <details><summary>Answer</summary>
#
# Put the inner step inside the objective: `steps=0` → `steps=1`. Pretraining minimises
# $\mathcal L_{\mathcal T}(\theta)$; MAML minimises $\mathcal L_{\mathcal T}(\theta - \alpha\nabla\mathcal L_{\mathcal T}(\theta))$,
# the loss after one step, with the gradient taken through that step (notebook 02).
#
# </details>
#
# 5. What does the oracle know that the others do not, and why is it a *lower* bound rather than a
#    target for the meta-learners?
#
# <details><summary>Answer</summary>
#
# It is given the task parameters $(A, b)$ as inputs, so it never has to infer the task. The others
# must identify the task from K = 5 points with a few gradient steps; they can at best approach what
# perfect identification buys, so the oracle's error (0.003 in notebook 03) bounds theirs from below. It
# is not a fair target: it solves an easier problem, with information the others do not have.
#
# </details>
#
# **Exercise.** There is no graded exercise on the baselines alone yet (one for outcome 1, "show that
# pretraining does not adapt", is being written: see the map in [the formula sheet](../docs/formulas.md)).
# The closest is Exercise 1.1 in
# [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (worked solution: `solutions/ex01_meta_gradients.ipynb`): the
# functional inner update θ′ = θ − α∇L(θ) — one fine-tuning step, which section 3 repeats 50 times.
# Do it after notebook 02, because the rest of that file is about the meta-gradient.
#
# **Try it yourself (ungraded).** Repeat the benchmark for K = 10:
# `sinusoid_benchmark({"maml": shipped("sinusoid_maml"), "pretrain": shipped("sinusoid_pretrain")}, n_tasks=600, k=10, report_steps=(1, 5, 10))`.
# Which model gains most from the five extra points, and why?
#
# ## Takeaways
#
# * Pretraining on data pooled from many tasks learns the **mean function** of the family
#   ($-1.62\cos x$), the best task-agnostic predictor: an MSE floor of about 3.
# * Fine-tuning that network — or a random one — with a few small steps on K = 5 points barely helps;
#   from a random init the error even grows (overfitting five points).
# * MAML starts from the *same* floor, but one step on five points cuts its error about five-fold: the
#   objective differs (loss *after* a step), not the architecture, the data or the step size.
# * The oracle, told the task, bounds from below what task identification can buy.
# * A mean over 100 tasks scatters by about ±0.6 here: compare models on the same tasks, with
#   confidence intervals.
#
# **Next:** [notebook 02 · *The meta-gradient: differentiating through an inner step*](02_meta_gradient.ipynb) — the gradient of
# MAML's objective.
