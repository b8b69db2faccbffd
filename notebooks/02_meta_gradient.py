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
# # 02 · The meta-gradient: differentiating through an inner step
#
# **Learning objectives.** After this notebook you can
# 1. write MAML's objective and derive its gradient,
#    $\nabla_\theta \mathcal L(\theta') = (I - \alpha \nabla^2 \mathcal L(\theta))\,\nabla \mathcal L(\theta')$,
#    and its $k$-step version as a product of such matrices;
# 2. compute Hessian-vector products by **double backprop** and with `torch.func` (forward-over-reverse),
#    without ever forming the Hessian;
# 3. check the library's `meta_gradient` against a full autograd Hessian and against **central finite
#    differences**;
# 4. say what **first-order MAML** (FOMAML) and **Reptile** drop, and see on a 2-D toy problem how their
#    directions differ from MAML's as the inner learning rate α changes.
#
# **Prerequisites.** Notebook 01 (the sinusoid tasks and why plain pretraining does not adapt);
# the chain rule for vector functions (Jacobians); `torch.autograd.grad`.
#
# **Run time.** 10–25 s on a 2-core CPU (measured: 10–11 s with two training runs sharing the
# machine).
#
# Notation and every formula of the workbook in one place: [the formula sheet](../docs/formulas.md).

# %%
# %matplotlib inline
import time

import numpy as np
import torch
from torch.func import grad, hessian, jvp

from course_lib import MLP, batched, detached, inner_update, meta_gradient, meta_objective, parameters_of
from course_lib.checkpoints import shipped
from course_lib.tasks.sinusoid import RegressionBatch, SinusoidDistribution
from course_lib.toy import closed_form_directions, toy_task
from course_lib.sinusoid.config import load_trained
from course_lib.ui.sinusoid import toy_directions, toy_directions_widget

torch.set_num_threads(1)

# %% [markdown]
# ## 1. Derivation
#
# For one task with support loss $\mathcal L_s$ and query loss $\mathcal L_q$ (the same task, different
# data points), MAML adapts with one gradient step and scores the adapted parameters
# (paper, eq. 1 and the objective below it):
#
# $$\theta' = \theta - \alpha \nabla_\theta \mathcal L_s(\theta), \qquad
#   F(\theta) = \mathcal L_q(\theta').$$
#
# $F$ depends on $\theta$ only through $\theta'$, so by the chain rule
#
# $$\nabla_\theta F(\theta) = \Big(\frac{\partial \theta'}{\partial \theta}\Big)^{\!\top} \nabla \mathcal L_q(\theta'),
#   \qquad \frac{\partial \theta'}{\partial \theta} = I - \alpha\, \nabla^2 \mathcal L_s(\theta) .$$
#
# The Hessian is symmetric, so the transpose changes nothing:
#
# $$\boxed{\;\nabla_\theta F(\theta) = \big(I - \alpha \nabla^2 \mathcal L_s(\theta)\big)\, \nabla \mathcal L_q(\theta')\;}$$
#
# **$k$ inner steps.** With $\theta_0 = \theta$ and $\theta_{j+1} = \theta_j - \alpha \nabla \mathcal L_s(\theta_j)$,
# the Jacobian of $\theta_k$ is a product of one such factor per step, each at its own point:
#
# $$\nabla_\theta \mathcal L_q(\theta_k) = (I - \alpha H_0)(I - \alpha H_1)\cdots(I - \alpha H_{k-1})\, \nabla \mathcal L_q(\theta_k),
#   \qquad H_j = \nabla^2 \mathcal L_s(\theta_j).$$
#
# Read right to left, this is $k$ **Hessian-vector products**: start from $v = \nabla \mathcal L_q(\theta_k)$ and
# apply $v \leftarrow v - \alpha H_j v$ for $j = k-1, \dots, 0$. Nobody forms $H$ (for the paper's
# 1 761-parameter network it would have 3 million entries; for a ResNet, $10^{14}$). Reverse-mode
# autodiff does exactly this when the inner step is recorded with `create_graph=True`, which is what
# `inner_update(..., first_order=False)` does.
#
# **First-order MAML** sets the Jacobian to $I$: $\nabla F \approx \nabla \mathcal L_q(\theta_k)$, the
# gradient at the adapted point applied to $\theta$ (`first_order=True` detaches $\nabla \mathcal L_s$).
# No second derivatives, no stored inner graph; the error is $O(\alpha)$ per step.
#
# **Reptile** drops even the query loss: it runs $k$ inner steps to $\phi = \theta_k$ and moves
# $\theta$ toward $\phi$, i.e. its "gradient" is $\theta - \phi = \alpha \sum_j \nabla \mathcal L(\theta_j)$.
#
# **What each one keeps — Nichol et al. 2018, §5.** FOMAML does *not* drop every Hessian term, because
# its gradient is taken at the adapted point. Write $g_1 = \nabla\mathcal L_s(\theta)$, $g_2 = \nabla\mathcal L_q(\theta)$
# and $H_1, H_2$ for the two losses' Hessians at $\theta$ (two minibatches of the same task). Expanding
# $\nabla\mathcal L_q(\theta') = g_2 - \alpha H_2 g_1 + O(\alpha^2)$:
#
# | one step, one task | to first order in α | in expectation over minibatches |
# |---|---|---|
# | MAML $(I - \alpha H_1)\nabla\mathcal L_q(\theta')$ | $g_2 - \alpha H_2 g_1 - \alpha H_1 g_2$ | $\text{AvgGrad} - 2\alpha\,\text{AvgGradInner}$ |
# | FOMAML $\nabla\mathcal L_q(\theta')$ | $g_2 - \alpha H_2 g_1$ | $\text{AvgGrad} - \alpha\,\text{AvgGradInner}$ |
# | Reptile, $k = 2$: $(\theta - \phi)/\alpha = g_1 + \nabla\mathcal L_2(\theta_1)$ | $g_1 + g_2 - \alpha H_2 g_1$ | $2\,\text{AvgGrad} - \alpha\,\text{AvgGradInner}$ |
#
# with $\text{AvgGrad} = \mathbb E[g]$, the gradient of the pooled loss (what pretraining follows), and
# $\text{AvgGradInner} = \mathbb E[H_2 g_1] = \tfrac12\nabla_\theta\,\mathbb E[g_1 \cdot g_2]$: descending
# $-\text{AvgGradInner}$ *increases* the inner product of gradients from different minibatches of a task,
# so that a step on one helps the other — the term that makes a few-shot step generalise. MAML has it
# twice, FOMAML once (the $-\alpha H_1 g_2$ term is the one its identity Jacobian drops), Reptile once,
# next to a doubled AvgGrad. All three contain it; they weigh it differently. (Reptile's row uses two
# minibatches, one per inner step; the expectation is over which data each loss sees.)
#
# ## 2. A small network and one task
#
# To compare against a *full* Hessian we use a smaller net than the paper's (16-16 instead of 40-40:
# 321 parameters) in float64, so that finite differences are accurate.

# %% tags=["nbval-check-output"]
torch.manual_seed(0)
model = MLP(1, 1, hidden=(16, 16)).double()
theta = parameters_of(model)                    # {name: leaf tensor}, requires_grad=True
b = SinusoidDistribution().sample_batch(1, 10, 10, np.random.default_rng(0), model)   # one task, K = 10
task = RegressionBatch(model, *(t.double() for t in (b.x_support, b.y_support, b.x_query, b.y_query)), b.tasks)

# The task batch works on task-batched params ([T, ...]); for one task, batch θ to T = 1 and sum.
L_s = lambda p: task.support_loss(batched(p, 1)).sum()
L_q = lambda p: task.query_loss(batched(p, 1)).sum()

# Flatten / unflatten a parameter dict, to multiply by an explicit Hessian matrix.
names = list(theta)
sizes = [theta[k].numel() for k in names]
flat = lambda d: torch.cat([d[k].reshape(-1) for k in names])
unflat = lambda vec: {k: c.reshape(theta[k].shape) for k, c in zip(names, vec.split(sizes))}

alpha = 0.01
print(f"task: A = {task.tasks[0, 0]:.4f}, phase b = {task.tasks[0, 1]:.4f};  {sum(sizes)} parameters")
print(f"L_s(θ) = {L_s(theta).item():.4f},  L_q(θ) = {L_q(theta).item():.4f}")

# %% [markdown]
# ## 3. Hessian-vector products, three ways
#
# 1. **Double backprop** (reverse-over-reverse): take $g = \nabla \mathcal L_s(\theta)$ *with its graph*,
#    then differentiate the scalar $g \cdot v$: $\nabla_\theta (g \cdot v) = H v$.
# 2. **`torch.func`, forward-over-reverse**: the directional derivative of the gradient function
#    along $v$ is $H v$: `jvp(grad(L_s), (θ,), (v,))`. Usually the cheapest.
# 3. **The full Hessian** `torch.func.hessian` ($321 \times 321$ here), then an ordinary product —
#    only possible because the network is tiny; it is our ground truth.

# %% tags=["nbval-check-output"]
v = {k: torch.randn_like(t) for k, t in theta.items()}           # any direction

g = torch.autograd.grad(L_s(theta), list(theta.values()), create_graph=True)          # 1. double backprop
hv_double = torch.autograd.grad(sum((gi * v[k]).sum() for gi, k in zip(g, names)), list(theta.values()))
hv_double = flat(dict(zip(names, hv_double)))

_, hv_func = jvp(grad(L_s), (detached(theta),), (v,))                                  # 2. torch.func
hv_func = flat(hv_func)

H = hessian(lambda vec: L_s(unflat(vec)))(flat(theta).detach())                       # 3. full Hessian
hv_full = H @ flat(v)

print("Hv, first four entries:", hv_full[:4].numpy().round(4))
print("double backprop == full Hessian:", torch.allclose(hv_double, hv_full, rtol=1e-10, atol=1e-10))
print("torch.func jvp  == full Hessian:", torch.allclose(hv_func, hv_full, rtol=1e-10, atol=1e-10))
print("Hessian symmetric:", torch.allclose(H, H.T, atol=1e-10))
eig = torch.linalg.eigvalsh(H)
print(f"eigenvalues of H in [{eig[0]:.2f}, {eig[-1]:.2f}]  (negative ones: a ReLU net's loss is not convex)")

# %% [markdown]
# ## 4. The library's meta-gradient, checked two ways
#
# `meta_gradient(theta, tasks, alpha, steps, "maml")` differentiates the mean post-adaptation query
# loss through `inner_update(..., first_order=False)`. We compare it with
#
# * the boxed formula, built from the explicit Hessian: $(I - \alpha H)\,\nabla \mathcal L_q(\theta')$;
# * central finite differences of the meta-objective $F$ along random unit directions $u$:
#   $\langle \nabla F, u\rangle \approx \frac{F(\theta + \varepsilon u) - F(\theta - \varepsilon u)}{2\varepsilon}$,
#   with error $O(\varepsilon^2)$ (plus round-off $\sim 10^{-16}/\varepsilon$).

# %% tags=["nbval-check-output"]
maml_grad = flat(meta_gradient(theta, task, alpha, steps=1, method="maml"))
fomaml_grad = flat(meta_gradient(theta, task, alpha, steps=1, method="fomaml"))

adapted = detached(inner_update(theta, L_s, alpha, steps=1), requires_grad=True)      # θ'
grad_q = flat(dict(zip(names, torch.autograd.grad(L_q(adapted), list(adapted.values())))))  # ∇L_q(θ')
formula = grad_q - alpha * H @ grad_q                                                   # (I − αH) ∇L_q(θ')

print("meta_gradient('maml')   == (I − αH)∇L_q(θ'):", torch.allclose(maml_grad, formula, rtol=1e-10, atol=1e-12))
print("meta_gradient('fomaml') == ∇L_q(θ')        :", torch.allclose(fomaml_grad, grad_q, rtol=1e-10, atol=1e-12))
print(f"|MAML grad| = {maml_grad.norm():.4f},  |MAML − FOMAML| = {(maml_grad - fomaml_grad).norm():.4f},  "
      f"fo_rel_error = {((maml_grad - fomaml_grad).norm() / maml_grad.norm()):.2f}")

# %% tags=["nbval-check-output"]
def F(vec):
    """The meta-objective at a flat parameter vector (a plain float)."""
    return meta_objective(unflat(vec.clone().requires_grad_(True)), task, alpha, 1, "maml").item()

theta_flat = flat(theta).detach()
gen = torch.Generator().manual_seed(1)
print(f"{'direction':>9} {'finite diff.':>13} {'MAML':>10} {'FOMAML':>10}")
for i in range(4):
    u = torch.randn(len(theta_flat), generator=gen, dtype=torch.float64)
    u /= u.norm()
    eps = 1e-5
    fd = (F(theta_flat + eps * u) - F(theta_flat - eps * u)) / (2 * eps)
    print(f"{i:>9} {fd:13.6f} {maml_grad @ u:10.6f} {fomaml_grad @ u:10.6f}")

# %% [markdown]
# The exact meta-gradient matches the finite differences to every printed digit along every direction.
# The first-order one does not: |MAML − FOMAML| is <span data-out="fo_rel_error">0.17</span> of |MAML grad|
# (about a sixth; printed above), and along direction 1 the two directional derivatives differ by a
# factor of seven. That is the price of dropping $\alpha H$ — on this untrained
# network with α = 0.01. (Whether the error matters for *training* is another question: section 5 and
# notebook 05.)
#
# **k = 2 steps.** The product formula needs the Hessian at $\theta_0$ *and* at $\theta_1$, applied right
# to left:

# %% tags=["nbval-check-output"]
theta1 = detached(inner_update(theta, L_s, alpha, steps=1), requires_grad=True)
theta2 = detached(inner_update(theta, L_s, alpha, steps=2), requires_grad=True)
H0, H1 = H, hessian(lambda vec: L_s(unflat(vec)))(flat(theta1).detach())
vec = flat(dict(zip(names, torch.autograd.grad(L_q(theta2), list(theta2.values())))))   # ∇L_q(θ_2)
for H_j in (H1, H0):                                                                    # j = k−1, …, 0
    vec = vec - alpha * H_j @ vec
two_step = flat(meta_gradient(theta, task, alpha, steps=2, method="maml"))
print("meta_gradient(steps=2) == (I − αH_0)(I − αH_1)∇L_q(θ_2):", torch.allclose(two_step, vec, rtol=1e-10, atol=1e-12))

# %% [markdown]
# ## 5. What the second-order term costs, and what it changes
#
# On the paper's network (40-40, 1 761 parameters) and a meta-batch of 25 tasks, as in training. The
# second-order meta-gradient keeps the inner graph and runs an extra backward pass through it.

# %% tags=["nbval-ignore-output"]
maml_model, maml_theta, maml_alpha, _ = load_trained(shipped("sinusoid_maml"))
maml_theta = detached(maml_theta, requires_grad=True)
meta_batch = SinusoidDistribution().sample_batch(25, 10, 10, np.random.default_rng(2), maml_model)
for method in ("maml", "fomaml", "reptile"):
    start = time.perf_counter()
    for _ in range(20):
        meta_gradient(maml_theta, meta_batch, maml_alpha, steps=1 if method != "reptile" else 5, method=method)
    print(f"{method:>8}: {1e3 * (time.perf_counter() - start) / 20:5.1f} ms per meta-gradient")

# %% [markdown]
# How different are the two directions at the shipped MAML solution? The cosine between them, for growing
# inner learning rates (the checkpoint was meta-trained with α = 0.01):

# %% tags=["nbval-check-output"]
cosines = {}
for a in (0.001, 0.01, 0.05):
    m = flat(meta_gradient(maml_theta, meta_batch, a, 1, "maml"))
    f = flat(meta_gradient(maml_theta, meta_batch, a, 1, "fomaml"))
    cosines[a] = torch.nn.functional.cosine_similarity(m, f, dim=0).item()
    print(f"α = {a:<5}  cos(MAML, FOMAML) = {cosines[a]:.2f}")
print(f"at the training value: cos_train_alpha = {cosines[0.01]:.2f}")

# %% [markdown]
# For small α the factor $I - \alpha H$ is close to $I$ and first order is a good approximation; as
# $\alpha \|H\|$ grows, the directions part. Note that even at the training value α = 0.01 the cosine,
# <span data-out="cos_train_alpha">0.80</span>, is well below 1: at a MAML solution the support loss is strongly curved — the initialisation is
# *deliberately* sensitive, so that one small step changes the predictions a lot — and the Hessian term
# is not small for any single meta-batch. Whether that matters for the *trained model* is a different
# question (the paper found FOMAML nearly as good on these tasks): notebook 03 measures it on sinusoids,
# notebook 05 in meta-RL.
#
# ## 6. Seeing the directions: a 2-D quadratic toy
#
# On a toy problem with parameters $\theta \in \mathbb R^2$ every quantity has a closed form
# (`course_lib/toy.py`):
#
# $$\mathcal L_s(\theta) = \tfrac12 \theta^\top S\theta - s^\top\theta, \qquad
#   \mathcal L_q(\theta) = \tfrac12 \theta^\top Q\theta - q^\top\theta$$
#
# ($S, s$ for the support loss, $Q, q$ for the query loss; in the code, `QuadraticTasks` calls them
# `A, b, C, d`). The Hessian of $\mathcal L_s$ is the constant $S$, so with $M = I - \alpha S$:
# $\theta_k = M^k\theta + (I - M^k)S^{-1}s$, and
#
# | method | direction at $\theta$ |
# |---|---|
# | MAML | $M^k\,(Q\theta_k - q)$ |
# | FOMAML | $Q\theta_k - q$ |
# | Reptile | $\theta - \phi_k$ (the inner loop runs on $\mathcal L_s$ only) |
#
# `toy_directions` computes the three directions **with the library** (`meta_gradient` on a
# `QuadraticTasks` batch — the same code path as the sinusoid) and draws them.

# %% tags=["nbval-check-output"]
result = toy_directions(alpha=0.25, steps=1, reptile_steps=5)
print(result.summary())
closed = closed_form_directions(toy_task(), result.theta, 0.25, 1, 5)
print("library == closed form:", all(np.allclose(result.directions[m], closed[m], atol=1e-12) for m in closed))

# %%
result.figure

# %% [markdown]
# **Left:** the support loss (grey) and query loss (cyan) of the task, and the inner step from $\theta$.
# **Right:** the meta-objective $\mathcal L_q(\theta_k(\theta))$ as a function of the *starting* point, and
# the three descent directions at $\theta$ (arrows drawn at equal length; the legend gives magnitudes
# and the angle to MAML). Its minimum — the best initialisation — is *not* the query minimum: it is the
# point from which one inner step lands on the query minimum.
#
# Reptile points toward the support minimum: in this single-task toy its inner loop sees only
# $\mathcal L_s$, and its update ignores $\mathcal L_q$ entirely. (In real use Reptile's inner loop runs on
# all of a task's data and the tasks differ, so it is not as blind as here — see notebook 06.)
#
# How the MAML–FOMAML angle depends on α:

# %% tags=["nbval-check-output"]
for a in (0.05, 0.25, 0.5, 0.75, 1.0):
    r = toy_directions(alpha=a, steps=1, grid=5)
    descends = bool(r.directions["fomaml"] @ r.directions["maml"] > 0)     # ⟨∇F, g_FO⟩ > 0 ?
    print(f"α = {a:<4}  angle(FOMAML, MAML) = {r.angle('fomaml'):5.1f}°   "
          f"angle(Reptile, MAML) = {r.angle('reptile'):5.1f}°   a FOMAML step lowers F: {descends}")
print(f"at α = 1: angle_fo_alpha1 = {toy_directions(alpha=1.0, steps=1, grid=5).angle('fomaml'):.1f}°")

# %% [markdown]
# At small α the first-order direction is nearly exact, but the angle is not monotone in α. Watch the
# eigenvalue $1 - \alpha\lambda_{\max}$ of $M = I - \alpha S$ ($\lambda_{\max}(S) \approx 1.95$):
#
# * at $\alpha = 1/\lambda_{\max} \approx 0.51$ it is zero: one inner step jumps straight to the support
#   minimum along that eigenvector, the starting point no longer matters in that direction, and MAML's
#   direction has no component along it (the meta-objective is flat there; the slider at 0.51 shows it);
# * beyond it the eigenvalue is *negative*: the inner step overshoots, so moving $\theta$ one way moves
#   $\theta'$ the other way. MAML's factor $M$ flips that component of the gradient; FOMAML, which assumes
#   $\partial\theta'/\partial\theta = I$, does not. At α = 1 the angle exceeds 90°
#   (<span data-out="angle_fo_alpha1">133.3</span>°): the first-order step *increases* the meta-objective.
#
# Use the slider to explore (α, the number of MAML/FOMAML inner steps, Reptile's inner steps):

# %% tags=["nbval-ignore-output"]
toy_directions_widget(alpha=0.25)

# %% [markdown]
# ## Check your understanding
#
# 1. Derive $\partial\theta'/\partial\theta$ for one inner step. Why may we drop the transpose?
#
# <details><summary>Answer</summary>
#
# $\theta' = \theta - \alpha\nabla\mathcal L_s(\theta)$, so $\partial\theta'/\partial\theta = I - \alpha\,\partial(\nabla\mathcal L_s)/\partial\theta
# = I - \alpha\nabla^2\mathcal L_s(\theta)$. A Hessian of a (twice differentiable) scalar function is symmetric,
# so $(I - \alpha\nabla^2\mathcal L_s)^\top = I - \alpha\nabla^2\mathcal L_s$ — section 3 checks it on the network
# ("Hessian symmetric: True"; a ReLU network is twice differentiable almost everywhere).
#
# </details>
#
# 2. For $k$ steps, in which order are the factors $(I - \alpha H_j)$ applied to $\nabla\mathcal L_q(\theta_k)$,
#    and why does computing them right to left need only Hessian-*vector* products?
#
# <details><summary>Answer</summary>
#
# $\nabla_\theta\mathcal L_q(\theta_k) = (I - \alpha H_0)\cdots(I - \alpha H_{k-1})\nabla\mathcal L_q(\theta_k)$: the factor of the
# *last* step touches the vector first. Starting from the vector $v = \nabla\mathcal L_q(\theta_k)$, each factor
# turns a vector into a vector, $v \leftarrow v - \alpha H_j v$, so all that is ever needed is $H_j v$ —
# one extra backward pass — never $H_j$ itself (a product of matrices left to right would need them).
# This is reverse-mode autodiff through the inner loop.
#
# </details>
#
# 3. Double backprop and `jvp(grad(f))` both give $Hv$. Which intermediate results does each keep in
#    memory?
#
# <details><summary>Answer</summary>
#
# Double backprop (reverse-over-reverse) keeps the forward activations *and* the recorded graph of
# the first backward pass (`create_graph=True`), so that the backward pass itself can be differentiated.
# Forward-over-reverse pushes a tangent $v$ through the gradient computation: it keeps the forward
# activations with their tangents (dual numbers) for one reverse pass, and records no graph of the
# backward pass — usually less memory and time (in this library's RL setting it was measured slower
# than double backprop, `docs/performance.md`).
#
# </details>
#
# 4. In the finite-difference check, what happens to the agreement if $\varepsilon = 10^{-9}$? If
#    $\varepsilon = 10^{-1}$? (Try it.)
#
# <details><summary>Answer</summary>
#
# The error of the central difference is truncation $O(\varepsilon^2)$ plus round-off of order
# $10^{-16}|F|/\varepsilon$. At $\varepsilon = 10^{-9}$ round-off dominates: about $10^{-7}$ relative, so the last
# printed digits start to disagree. At $\varepsilon = 10^{-1}$ truncation dominates, and worse, a step that
# long crosses ReLU kinks where the function is not smooth: agreement drops to one or two digits.
# $10^{-5}$ balances the two in float64.
#
# </details>
#
# 5. In the toy, at what α does the MAML direction lose one of its components, and why? What does
#    FOMAML do there?
#
# <details><summary>Answer</summary>
#
# At $\alpha = 1/\lambda_{\max}(S) \approx 0.51$: the factor $M = I - \alpha S$ has the eigenvalue
# $1 - \alpha\lambda_{\max} = 0$, one step lands on the support minimum along that eigenvector whatever the
# start, so the meta-objective is flat along it and MAML's direction $M(Q\theta_1 - q)$ has no component
# there. FOMAML, $Q\theta_1 - q$, keeps that component (it assumes $\partial\theta'/\partial\theta = I$). How much
# that costs depends on how much of the query gradient lies along that eigenvector: at α = 0.5 the saved
# angle is only 1.7°; past 0.51 the component's sign is wrong, and at α = 1 the angle is 133°.
#
# </details>
#
# 6. Reptile with $k = 1$: what is its direction, and which baseline from notebook 01 does it reduce to?
#
# <details><summary>Answer</summary>
#
# $\theta - \phi = \alpha\nabla\mathcal L(\theta)$: a plain gradient of the task's loss at θ. Averaged over tasks it
# is the gradient of the pooled loss, so Reptile with one step is **multi-task pretraining** (joint
# training) with step size $\varepsilon\alpha$ — no AvgGradInner term appears before $k = 2$.
#
# </details>
#
# **Exercises.** [`exercises/ex01_meta_gradients.ipynb`](../exercises/ex01_meta_gradients.ipynb) (worked solutions:
# `solutions/ex01_meta_gradients.ipynb`):
# * Exercise 1.1 — the functional inner update, with the graph (second order) and without (first order);
# * Exercise 1.2 — the second-order MAML meta-gradient $(I - \alpha\nabla^2\mathcal L_s)\nabla\mathcal L_q(\theta')$ by
#   double backprop;
# * Exercise 1.3 — the first-order approximation, and how far it is from Exercise 1.2's gradient;
# * Exercise 1.4 — Reptile's update (Exercise 1.5, CAVIA, belongs with notebook 07).
#
# **Try it yourself (ungraded).** Write the $k$-step meta-gradient with explicit Hessian-vector
# products (section 4's recipe, with `jvp(grad(L_s), …)` instead of the full Hessian) and check it
# against `meta_gradient(…, steps=k)` and against finite differences for $k = 3$.
#
# ## Takeaways
#
# * MAML's meta-gradient is $(I - \alpha\nabla^2\mathcal L_s)\nabla\mathcal L_q(\theta')$; with $k$ steps it is a
#   product of $k$ such factors, applied right to left as Hessian-vector products — never a Hessian.
# * Double backprop and `jvp(grad(·))` give the same $Hv$; check any meta-gradient against a full
#   Hessian on a tiny network and against central finite differences.
# * In expectation (Nichol et al. §5): MAML = AvgGrad − 2α·AvgGradInner, FOMAML = AvgGrad −
#   α·AvgGradInner, Reptile ($k = 2$) = 2·AvgGrad − α·AvgGradInner: all keep some of the term that
#   aligns gradients within a task.
# * How far first order is from MAML grows with $\alpha\lVert H\rVert$: at the shipped solution the cosine
#   is 0.99, 0.80 and 0.10 at α = 0.001, 0.01, 0.05; past $\alpha\lambda_{\max} = 1$ the first-order
#   step can even go uphill.
#
# **Next:** [notebook 03 · *MAML on sinusoids: meta-training, fast adaptation, and the paper's numbers*](03_maml_sinusoid.ipynb) —
# meta-training with this gradient.
