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
# # Exercises 1 · Meta-gradients: the inner step, MAML, first-order MAML, Reptile, CAVIA
#
# **Learning objectives.** After these exercises you can
# 1. write the functional inner update θ′ = θ − α∇L(θ) on a dict of parameters, with and without
#    the graph that second-order MAML needs;
# 2. compute the **second-order MAML** meta-gradient (I − α∇²L_s)∇L_q(θ′) by double backprop, and
#    the **first-order** approximation that drops the Hessian;
# 3. implement **Reptile**'s update θ ← θ + ε·mean(φ − θ) and **CAVIA**'s context step;
# 4. explain in your own words why MAML's initialisation is easy to fine-tune, and what that means for
#    robots on new terrains and game agents on new levels.
#
# **Prerequisites.** Notebooks 01 (baselines) and 02 (the meta-gradient); `torch.autograd.grad`.
#
# **Run time.** About 30 s on a 2-core CPU.
#
# **How the exercises work.** Each exercise is a function with a `# YOUR CODE HERE` line that
# raises `NotImplementedError`; replace it with your code. Stuck? Right under each exercise cell,
# collapsed hints ("Hint 1", "Hint 2", …) open one at a time, from a nudge towards the idea to the shape
# of the code: open the next one only if the last did not help. The graded cell below them, marked
# `# GRADED TEST: … (N points)`, tries your function on inputs it draws at random and prints ✓ when
# its self-checks pass, or ✗ with what went wrong — either way the notebook goes on, so Run All always
# reaches the end. The grade does not come from what the cell prints: the grader runs your notebook
# with inputs drawn at grading time and compares the values each graded cell submits
# (`t.submit(...)`) with the model solution's for the same inputs, so editing a test cell or its
# asserts changes nothing. Your function may not call the course_lib function that already does the
# exercise (named on the cell's `# MUST NOT CALL:` line). Later cells call your functions through
# `fallback(...)`: while an exercise is not done (or fails its graded cell) they use course_lib's
# implementation (and say so), so you can always run the whole notebook. Written answers are
# marked **GRADED BY HAND**.
#
# | exercise | what | points |
# |---|---|---|
# | 1.1 | `inner_step`: the functional inner update | 2 |
# | 1.2 | `maml_meta_gradient`: second-order MAML | 3 |
# | 1.3 | `fomaml_meta_gradient`: the first-order approximation | 2 |
# | 1.4 | `reptile_update`: Reptile's meta-update | 2 |
# | 1.5 | `cavia_context_step`: CAVIA adapts a context vector only | 3 |
# | 1.6 | written: why MAML's initialisation is easy to fine-tune (graded by hand) | 4 |

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from course_lib import MLP, batched, detached, forward, inner_update, parameters_of
from course_lib.checkpoints import shipped
from course_lib.checks import fallback, graded
from course_lib.evaluate import adaptation_curve
from course_lib.fallbacks import reference
from course_lib.meta import CONTEXT, adapt_context, cavia_objective
from course_lib.ui.plots import new_figure, plot_adaptation_curve, plot_sinusoid_fit, setting_colors
from course_lib.tasks.sinusoid import RegressionBatch, SinusoidDistribution, sine
from course_lib.toy import QuadraticTasks, closed_form_directions
from course_lib.sinusoid.config import load_trained

torch.set_num_threads(1)
dist = SinusoidDistribution()


def sinusoid_task(model, rng, k=10, dtype=torch.float32):
    """One sine task as two loss functions of an (unbatched) params dict, plus the task itself.

    support_loss(params): MSE on K support points (the inner loop adapts on these)
    query_loss(params):   MSE on K fresh query points of the same task (the meta-objective)
    """
    task = dist.sample_tasks(1, rng)
    (xs, ys), (xq, yq) = dist.sample_points(task, k, rng), dist.sample_points(task, k, rng)
    xs, ys, xq, yq = (t[0].to(dtype) for t in (xs, ys, xq, yq))
    support_loss = lambda p: ((forward(model, p, xs) - ys) ** 2).mean()
    query_loss = lambda p: ((forward(model, p, xq) - yq) ** 2).mean()
    return support_loss, query_loss, dict(task=task, x=xs, y=ys)


def random_quadratic_tasks(rng, n_tasks=1):
    """n_tasks random quadratic tasks (course_lib.toy): L_s = ½θᵀAθ − bᵀθ, L_q = ½θᵀCθ − dᵀθ with A, C
    symmetric positive definite — every meta-gradient on them has a closed form."""
    def spd():
        R = 0.8 * rng.normal(size=(n_tasks, 2, 2))
        return R @ R.transpose(0, 2, 1) + 0.3 * np.eye(2)
    return QuadraticTasks(spd(), rng.normal(size=(n_tasks, 2)), spd(), rng.normal(size=(n_tasks, 2)))


# %% [markdown]
# ## Exercise 1.1 — the functional inner update (2 points)
#
# MAML's inner loop (paper, eq. 1) is one gradient step on a task's support loss,
# $\theta' = \theta - \alpha \nabla_\theta \mathcal L(\theta)$. In course_lib parameters are a
# **dict of tensors** that you pass around; nothing mutates a module. Write `inner_step`:
#
# * it returns a **new** dict (same keys); it must not change the input tensors in place;
# * `first_order=False` (second order): compute ∇L with `create_graph=True`, so that θ′ stays a
#   differentiable function of θ with Jacobian $I - \alpha \nabla^2 \mathcal L(\theta)$;
# * `first_order=True`: no graph through the gradient, so the Jacobian is $I$ (first-order MAML).

# %%
# EXERCISE ex1.1: inner_step
def inner_step(params, loss_fn, alpha, first_order=False):
    """One inner gradient step θ' = θ − α∇L(θ) on a dict name -> tensor; returns a new dict."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 1.1: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 1.1?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# This is the MAML paper's eq. 1, θ′ = θ − α∇L(θ), applied to every tensor of the dict (Exercise 1.1): one gradient and one new tensor per parameter, and nothing modified in place.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# `torch.autograd.grad(loss, list(params.values()), create_graph=...)` returns one gradient per tensor, in the dict's order; second order needs the graph of the gradient, first order does not, so the flag is `not first_order`.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Evaluate `loss_fn(params)`, get the gradients, then build a new dict `{name: p − α·g}` by zipping `params.items()` with the gradients.
#
# </details>

# %%
# GRADED TEST: ex1.1 inner_step (2 points)
# MUST NOT CALL: course_lib.inner.inner_update
# L(θ) = ½ wᵀAw − bᵀw + c²: gradient (Aw − b, 2c), Hessian A for w — everything is known exactly,
# for any A, b, w, c, α (the grader draws its own).
with graded("ex1.1") as t:
    R = torch.tensor(t.rng.normal(size=(2, 2)))
    A = R @ R.T + 0.5 * torch.eye(2, dtype=torch.float64)               # symmetric positive definite
    b, v = torch.tensor(t.rng.normal(size=2)), torch.tensor(t.rng.normal(size=2))
    params = {"w": torch.tensor(t.rng.normal(size=2), requires_grad=True),
              "c": torch.tensor(t.rng.normal(), dtype=torch.float64, requires_grad=True)}
    loss_fn = lambda p: 0.5 * p["w"] @ A @ p["w"] - b @ p["w"] + p["c"] ** 2
    alpha = float(t.rng.uniform(0.05, 0.3))
    before = {k: x.detach().clone() for k, x in params.items()}
    expected_w = before["w"] - alpha * (A @ before["w"] - b)
    close = lambda got, want: torch.allclose(got, want, rtol=1e-8, atol=1e-10)

    new = inner_step(params, loss_fn, alpha)
    assert isinstance(new, dict) and set(new) == {"w", "c"}, "inner_step must return a dict with the same keys"
    (jv,) = torch.autograd.grad(new["w"] @ v, params["w"])                 # (∂θ'/∂θ) v
    t.submit("second order: θ'", new, rtol=1e-8, atol=1e-10)
    t.submit("second order: (∂w'/∂w) v", jv, rtol=1e-8, atol=1e-10)
    t.submit("θ after the call", params, rtol=1e-8, atol=1e-10)
    assert all(torch.equal(params[k].detach(), before[k]) for k in params), "inner_step must not change params in place"
    assert close(new["w"], expected_w), f"θ' must be θ − α∇L(θ): expected {expected_w.tolist()}, got {new['w'].tolist()}"
    assert close(new["c"], before["c"] * (1 - 2 * alpha)), "θ' must be θ − α∇L(θ) for every entry of the dict"
    assert close(jv, v - alpha * A @ v), ("with first_order=False, ∂θ'/∂θ must be I − α∇²L: "
                                          "compute the gradient with create_graph=True")

    new_fo = inner_step(params, loss_fn, alpha, first_order=True)
    (jv_fo,) = torch.autograd.grad(new_fo["w"] @ v, params["w"])
    t.submit("first order: θ'", new_fo, rtol=1e-8, atol=1e-10)
    t.submit("first order: (∂w'/∂w) v", jv_fo, rtol=1e-8, atol=1e-10)
    assert close(new_fo["w"], expected_w), "first_order=True must take the same step θ − α∇L(θ)"
    assert close(jv_fo, v), "with first_order=True, ∂θ'/∂θ must be I: do not keep the graph of the gradient"

# %% [markdown]
# **Your inner step in action.** Start from the shipped MAML initialisation for sinusoids (trained
# with `python -m course_lib train sinusoid --algo maml`) and adapt it to a new sine wave from
# K = 10 points with a few of your inner steps.

# %%
model, theta_maml, alpha_maml, _ = load_trained(shipped("sinusoid_maml"))
step = fallback(inner_step, reference.inner_step, "ex1.1")
support_loss, query_loss, task = sinusoid_task(model, np.random.default_rng(1))
x_grid = torch.linspace(-5, 5, 200).reshape(-1, 1)

params = detached(theta_maml, requires_grad=True)
fits = {}
for s in range(6):
    if s in (0, 1, 5):
        fits["MAML, before adapting" if s == 0 else f"MAML, after {s} step{'s' * (s != 1)}"] = \
            forward(model, params, x_grid).detach()
    print(f"after {s} step(s): support MSE {support_loss(params).item():.3f}   query MSE {query_loss(params).item():.3f}")
    params = detached(step(params, support_loss, alpha_maml, first_order=True), requires_grad=True)
fig, ax = new_figure()
plot_sinusoid_fit(ax, x_grid, sine(task["task"], x_grid.numpy()[None])[0], fits, support=(task["x"], task["y"]),
                  styles={label: dict(color=color) for label, color in zip(fits, setting_colors(len(fits)))},
                  title="MAML initialisation adapted with " + ("course_lib's inner step (yours is not done yet)"
                                                                if step.used_reference else "your inner_step"))
plt.show()

# %% [markdown]
# ## Exercise 1.2 — the second-order MAML meta-gradient (3 points)
#
# For one task with support loss $\mathcal L_s$ and query loss $\mathcal L_q$, MAML's meta-objective
# is $F(\theta) = \mathcal L_q(\theta')$ with $\theta' = \theta - \alpha \nabla \mathcal L_s(\theta)$,
# and its gradient is
#
# $$\nabla_\theta F = \big(I - \alpha \nabla^2 \mathcal L_s(\theta)\big)\, \nabla \mathcal L_q(\theta').$$
#
# Compute it by **double backprop**: take the inner step keeping the graph, evaluate the query loss
# at θ′, and differentiate it with respect to θ. Return a dict name → gradient. Three classic bugs
# to avoid: forgetting `create_graph=True` (you get the first-order gradient), adapting on the
# *query* data (the query set must only score θ′), and the sign of α. You may call your
# `inner_step` or course_lib's `inner_update` (they do the same thing).

# %%
# EXERCISE ex1.2: maml_meta_gradient
def maml_meta_gradient(theta, support_loss, query_loss, alpha):
    """∇_θ L_q(θ − α∇L_s(θ)), second order: a dict name -> gradient tensor."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 1.2: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 1.2?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Read the formula of Exercise 1.2: F(θ) = L_q(θ′) with θ′ = θ − α∇L_s(θ). Autograd produces the (I − α∇²L_s) factor by itself, as long as θ′ stays a differentiable function of θ.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Take the inner step on the SUPPORT loss keeping its graph (`create_graph=True`, or your `inner_step` / `inner_update` with `first_order=False`), then differentiate the QUERY loss at θ′ with respect to the ORIGINAL θ's tensors.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Three lines: the support gradients with `create_graph=True`; θ′ = `{k: θ_k − α·g_k}`; `torch.autograd.grad(query_loss(θ′), list(theta.values()))`, returned as a dict with θ's keys.
#
# </details>

# %%
# GRADED TEST: ex1.2 maml_meta_gradient (3 points)
# MUST NOT CALL: course_lib.meta.maml.maml_objective
with graded("ex1.2") as t:
    # 1) a random quadratic task (course_lib.toy), on which the MAML gradient has a closed form
    toy = random_quadratic_tasks(t.rng)
    L_s = lambda p: toy.support_loss({"theta": p["theta"][None]})[0]
    L_q = lambda p: toy.query_loss({"theta": p["theta"][None]})[0]
    start = t.rng.normal(size=2)
    theta0 = {"theta": torch.tensor(start, requires_grad=True)}
    for size, alpha in (("small", float(t.rng.uniform(0.05, 0.15))), ("large", float(t.rng.uniform(0.4, 0.6)))):
        g = maml_meta_gradient(theta0, L_s, L_q, alpha)
        assert isinstance(g, dict) and set(g) == {"theta"}, "return a dict with the same keys as theta"
        t.submit(f"quadratic task, {size} α", g, rtol=1e-8, atol=1e-10)
        exact = closed_form_directions(toy, start, alpha)
        got = g["theta"].detach().numpy()
        hint = ("  (this is the FIRST-order gradient: keep the graph of the inner step, create_graph=True)"
                if np.allclose(got, exact["fomaml"]) else "")
        assert np.allclose(got, exact["maml"], rtol=1e-8, atol=1e-10), f"α={alpha:.3f}: expected {exact['maml']}, got {got}{hint}"
    assert np.array_equal(theta0["theta"].detach().numpy(), start), "θ must not change"

    # 2) a small float64 network on a sine task, against course_lib's inner_update and double backprop
    torch.manual_seed(t.torch_seed)
    net = MLP(1, 1, hidden=(8, 8)).double()
    theta_net = parameters_of(net)
    L_s, L_q, _ = sinusoid_task(net, t.rng, dtype=torch.float64)
    alpha = float(t.rng.uniform(0.02, 0.1))
    g = maml_meta_gradient(theta_net, L_s, L_q, alpha)
    assert isinstance(g, dict) and set(g) == set(theta_net), "one gradient per parameter tensor"
    t.submit("sine network", g, rtol=1e-8, atol=1e-10)
    adapted = inner_update(theta_net, L_s, alpha, first_order=False)
    expected = dict(zip(theta_net, torch.autograd.grad(L_q(adapted), list(theta_net.values()))))
    for k in theta_net:
        assert torch.allclose(g[k], expected[k], rtol=1e-8, atol=1e-10), f"the meta-gradient of {k!r} is wrong"

# %% [markdown]
# ## Exercise 1.3 — the first-order approximation (2 points)
#
# First-order MAML (FOMAML) replaces the Jacobian $I - \alpha\nabla^2\mathcal L_s$ by $I$: the
# meta-gradient is simply the query gradient **at the adapted parameters**, $\nabla \mathcal L_q(\theta')$,
# applied to θ. No second derivatives, no graph through the inner step. Write it. (A common bug is
# to return $\nabla \mathcal L_q(\theta)$, the gradient at the *un*adapted parameters — that is
# multi-task pretraining, not meta-learning.)

# %%
# EXERCISE ex1.3: fomaml_meta_gradient
def fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    """∇L_q evaluated at θ' = θ − α∇L_s(θ), with ∂θ'/∂θ taken as I: a dict name -> tensor."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 1.3: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 1.3?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# First-order MAML takes ∂θ′/∂θ = I (Exercise 1.3): the meta-gradient is the query gradient evaluated at the ADAPTED parameters θ′, not at θ.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# No `create_graph` here: compute θ′ = θ − α∇L_s(θ), cut it from the graph with `.detach().requires_grad_(True)`, and differentiate the query loss with respect to those fresh leaves.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Return the gradients under θ's keys (`dict(zip(theta, grads))`): the gradient taken at θ′ is the one applied to θ.
#
# </details>

# %%
# GRADED TEST: ex1.3 fomaml_meta_gradient (2 points)
# MUST NOT CALL: course_lib.meta.maml.maml_objective
with graded("ex1.3") as t:
    toy = random_quadratic_tasks(t.rng)
    L_s = lambda p: toy.support_loss({"theta": p["theta"][None]})[0]
    L_q = lambda p: toy.query_loss({"theta": p["theta"][None]})[0]
    start = t.rng.normal(size=2)
    theta0 = {"theta": torch.tensor(start, requires_grad=True)}
    for size, alpha in (("small", float(t.rng.uniform(0.05, 0.15))), ("large", float(t.rng.uniform(0.4, 0.6)))):
        g = fomaml_meta_gradient(theta0, L_s, L_q, alpha)
        assert isinstance(g, dict) and set(g) == {"theta"}, "return a dict with the same keys as theta"
        t.submit(f"quadratic task, {size} α", g, rtol=1e-8, atol=1e-10)
        exact = closed_form_directions(toy, start, alpha)
        got = g["theta"].detach().numpy()
        hint = ("  (this is the SECOND-order MAML gradient: FOMAML treats ∇L_s as a constant)"
                if np.allclose(got, exact["maml"]) else "")
        at_theta = (toy.C[0] @ theta0["theta"].detach() - toy.d[0]).numpy()
        if np.allclose(got, at_theta):
            hint = "  (this is ∇L_q(θ), at the unadapted θ: evaluate the query gradient at θ')"
        assert np.allclose(got, exact["fomaml"], rtol=1e-8, atol=1e-10), f"α={alpha:.3f}: expected {exact['fomaml']}, got {got}{hint}"

    torch.manual_seed(t.torch_seed)
    net = MLP(1, 1, hidden=(8, 8)).double()
    theta_net = parameters_of(net)
    L_s, L_q, _ = sinusoid_task(net, t.rng, dtype=torch.float64)
    alpha = float(t.rng.uniform(0.02, 0.1))
    g = fomaml_meta_gradient(theta_net, L_s, L_q, alpha)
    assert isinstance(g, dict) and set(g) == set(theta_net), "one gradient per parameter tensor"
    t.submit("sine network", g, rtol=1e-8, atol=1e-10)
    adapted = detached(inner_update(theta_net, L_s, alpha, first_order=True), requires_grad=True)
    expected = dict(zip(theta_net, torch.autograd.grad(L_q(adapted), list(adapted.values()))))
    for k in theta_net:
        assert torch.allclose(g[k], expected[k], rtol=1e-8, atol=1e-10), f"the first-order gradient of {k!r} is wrong"

# %% [markdown]
# **How far apart are the two, and what does the Hessian cost?** On the sinusoid network (1 761
# parameters) at the shipped MAML initialisation, summed over 20 tasks: the cosine between the
# second- and first-order meta-gradients, and the time per call, as α grows. The two agree as
# α → 0 (the dropped term is α∇²L_s∇L_q(θ′)) and drift apart as α grows. At a trained MAML
# initialisation the meta-gradient itself is small, so the dropped term is large *relative* to it —
# yet FOMAML still trains well (notebook 05): it points downhill, just not exactly. The Hessian
# term costs one extra backward pass.

# %%
maml_grad = fallback(maml_meta_gradient, reference.maml_meta_gradient, "ex1.2")
fomaml_grad = fallback(fomaml_meta_gradient, reference.fomaml_meta_gradient, "ex1.3")
flat = lambda g: torch.cat([t.reshape(-1) for t in g.values()])
rng = np.random.default_rng(7)
tasks = [sinusoid_task(model, rng)[:2] for _ in range(20)]
theta_m = detached(theta_maml, requires_grad=True)
print(" α       cos(MAML, FOMAML)   ms/MAML gradient   ms/FOMAML gradient")
for alpha in (0.001, 0.01, 0.1, 0.3):
    t0 = time.perf_counter()
    second = [flat(maml_grad(theta_m, s, q, alpha)) for s, q in tasks]
    t1 = time.perf_counter()
    first = [flat(fomaml_grad(theta_m, s, q, alpha)) for s, q in tasks]
    t2 = time.perf_counter()
    cos = torch.nn.functional.cosine_similarity(sum(second), sum(first), dim=0).item()
    print(f"{alpha:6.3f}   {cos:17.4f}   {1e3 * (t1 - t0) / 20:16.2f}   {1e3 * (t2 - t1) / 20:18.2f}")

# %% [markdown]
# ## Exercise 1.4 — Reptile (2 points)
#
# Reptile (Nichol, Achiam & Schulman 2018, Algorithm 2, batched) needs no query set and no second
# derivatives: run `steps` plain SGD steps on each task from θ to get $\varphi_i$, then move θ
# **toward** the adapted parameters,
#
# $$\theta_\text{new} = \theta + \varepsilon \cdot \tfrac1n \textstyle\sum_i (\varphi_i - \theta).$$
#
# `task_losses` is a list of loss functions, one per task. Return a new dict of tensors (detached,
# with `requires_grad=True` so it can serve as the next θ); do not modify θ.

# %%
# EXERCISE ex1.4: reptile_update
def reptile_update(theta, task_losses, alpha, steps, epsilon):
    """θ + ε · mean_i (φ_i − θ), φ_i = `steps` SGD steps (rate α) on task_losses[i] from θ."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 1.4: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 1.4?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Reptile (the formula of Exercise 1.4) needs no query loss and no second derivatives: it moves θ toward the parameters that plain SGD on each task ends up at.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Per task, run `steps` plain gradient steps from θ (`torch.autograd.grad` on that task's loss) to get φ_i; accumulate (φ_i − θ) / n, detached.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Return a new dict `{k: (θ_k.detach() + ε · mean_i(φ_i,k − θ_k)).requires_grad_(True)}`; θ itself stays untouched.
#
# </details>

# %%
# GRADED TEST: ex1.4 reptile_update (2 points)
# MUST NOT CALL: course_lib.meta.reptile.reptile_direction
# three random quadratic tasks L_i(θ) = ½ θᵀA_iθ − b_iᵀθ; the k-step SGD iterates have a closed form (course_lib.toy)
with graded("ex1.4") as t:
    quadratics = random_quadratic_tasks(t.rng, n_tasks=3)      # Reptile has no query set: C, d are unused
    losses = [lambda p, i=i: 0.5 * p["theta"] @ quadratics.A[i] @ p["theta"] - quadratics.b[i] @ p["theta"]
              for i in range(3)]
    start = t.rng.normal(size=2)
    alpha, epsilon = float(t.rng.uniform(0.1, 0.3)), float(t.rng.uniform(0.3, 1.0))
    for steps in (1, 3):
        theta0 = {"theta": torch.tensor(start, requires_grad=True)}
        new = reptile_update(theta0, losses, alpha=alpha, steps=steps, epsilon=epsilon)
        assert isinstance(new, dict) and set(new) == {"theta"}, "return a dict with the same keys as theta"
        t.submit(f"θ_new after {steps} inner step(s)", new, rtol=1e-8, atol=1e-10)
        t.submit(f"θ_new requires grad ({steps} step(s))", new["theta"].requires_grad)
        assert np.array_equal(theta0["theta"].detach().numpy(), start), "θ must not change in place"
        toward = -closed_form_directions(quadratics, start, alpha, steps=steps)["reptile"]   # mean_i (φ_i − θ)
        expected = start + epsilon * toward
        got = new["theta"].detach().numpy()
        hint = "  (you moved AWAY from the adapted parameters)" if np.allclose(got, start - epsilon * toward) else ""
        assert np.allclose(got, expected, rtol=1e-8, atol=1e-10), f"steps={steps}: expected θ_new = {expected}, got {got}{hint}"
        assert new["theta"].requires_grad, "return tensors with requires_grad=True, so that θ_new can be the next θ"

# %% [markdown]
# **Reptile on sinusoids in a few seconds.** 300 meta-updates with your `reptile_update` (5 tasks
# per update, 5 inner steps at α = 0.02, ε = 1 annealed to 0 — the Reptile paper's sinusoid
# settings), then the MSE on 200 held-out tasks after 0–5 steps on K = 10 points, against a random
# initialisation and the shipped Reptile model (30 000 meta-updates).

# %%
reptile = fallback(reptile_update, reference.reptile_update, "ex1.4")
torch.manual_seed(0)
net = MLP(1, 1, hidden=(40, 40))
theta_random = parameters_of(net)
theta_r = detached(theta_random, requires_grad=True)
rng = np.random.default_rng(0)
start = time.perf_counter()
iterations = 300
for it in tqdm(range(iterations), desc="Reptile with your reptile_update", unit="update"):
    losses = [sinusoid_task(net, rng)[0] for _ in range(5)]
    theta_r = reptile(theta_r, losses, alpha=0.02, steps=5, epsilon=1.0 - it / iterations)
print(f"{iterations} Reptile updates in {time.perf_counter() - start:.1f} s")

held_out = dist.sample_batch(200, 10, 100, np.random.default_rng(123), net)
_, theta_shipped, _, _ = load_trained(shipped("sinusoid_reptile"))
curves = {name: adaptation_curve(th, held_out, 0.02, 5)      # [steps + 1, tasks]
          for name, th in [("random init", theta_random), ("your Reptile run, 300 updates", theta_r),
                           ("Reptile, shipped (30k updates)", theta_shipped)]}
for name, curve in curves.items():
    mean = curve.mean(1)
    print(f"{name:30s} MSE after 0 / 1 / 5 steps: {mean[0]:.2f} / {mean[1]:.2f} / {mean[5]:.2f}")
fig, ax = new_figure()
plot_adaptation_curve(ax, range(6), curves, log_y=True, title="200 held-out tasks, K = 10, α = 0.02 (± 95% CI)")
plt.show()

# %% [markdown]
# ## Exercise 1.5 — CAVIA's context step (3 points)
#
# CAVIA (Zintgraf et al. 2019) splits the parameters: shared weights θ, learned in the outer loop
# only, and a small **context vector** φ fed to the network as an extra input, the only thing the
# inner loop adapts. Per task, φ starts at **zero**:
#
# $$\varphi_i = 0 - \alpha \nabla_\varphi \mathcal L_i^\text{support}(\theta, \varphi)\big|_{\varphi=0}.$$
#
# Write the inner step. `theta` holds the shared weights (no `"context"` entry); the network reads
# the context from the entry `"context"` (course_lib's `CONTEXT`), so `support_loss({**theta,
# "context": φ})` is the loss with context φ. Return `{**theta, "context": φ_i}` — the shared weights
# untouched. Second order (`first_order=False`) keeps the graph of ∇_φ L, which depends on θ: that
# is how the outer loop learns θ *through* the adaptation.

# %%
# EXERCISE ex1.5: cavia_context_step
def cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    """{**theta, "context": φ} with φ = 0 − α ∇_φ L_support(θ, φ) at φ = 0 (only the context adapts)."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 1.5: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 1.5?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# In CAVIA (Exercise 1.5) only the context φ adapts, and it starts at zero for every task: the shared weights θ are inputs of the loss, not something you step.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Start from `torch.zeros(context_dim, dtype=..., requires_grad=True)` with the dtype of θ's tensors, and differentiate `support_loss({**theta, CONTEXT: φ0})` with respect to φ0 only; keep the graph unless `first_order`.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Return `{**theta, CONTEXT: φ0 − α·g}`: the same shared tensors, plus the adapted context.
#
# </details>

# %%
# GRADED TEST: ex1.5 cavia_context_step (3 points)
# MUST NOT CALL: course_lib.meta.cavia.adapt_context, course_lib.meta.cavia.cavia_objective
with graded("ex1.5") as t:
    torch.manual_seed(t.torch_seed)
    cnet = MLP(1, 1, hidden=(16, 16), context_dim=2).double()
    shared = {k: v for k, v in parameters_of(cnet).items() if k != CONTEXT}
    sine_task = dist.sample_tasks(1, t.rng)
    (xs, ys), (xq, yq) = dist.sample_points(sine_task, 10, t.rng), dist.sample_points(sine_task, 10, t.rng)
    batch = RegressionBatch(cnet, xs.double(), ys.double(), xq.double(), yq.double())   # one task, for course_lib
    L_s = lambda p: batch.support_loss(batched(p, 1))[0]
    L_q = lambda p: batch.query_loss(batched(p, 1))[0]
    alpha = float(t.rng.uniform(0.5, 1.5))                      # CAVIA's sinusoid setting is α = 1
    for first_order in (False, True):
        order = "first" if first_order else "second"
        new = cavia_context_step(shared, L_s, alpha, 2, first_order=first_order)
        assert isinstance(new, dict) and set(new) == set(shared) | {CONTEXT}, "return {**theta, 'context': φ}"
        meta = torch.autograd.grad(L_q(new), list(shared.values()), allow_unused=True, materialize_grads=True)
        t.submit(f"{order} order: context φ", new[CONTEXT], rtol=1e-8, atol=1e-10)
        t.submit(f"{order} order: ∇ of the query loss w.r.t. the shared weights", dict(zip(shared, meta)),
                 rtol=1e-8, atol=1e-10)
        t.submit(f"{order} order: change of the shared weights",
                 [(new[k] - shared[k]).abs().max() for k in shared], rtol=0, atol=1e-12)
        for k in shared:
            assert torch.equal(new[k].detach(), shared[k].detach()), f"CAVIA adapts only the context: {k!r} changed"
        expected = adapt_context(shared, batch, alpha, 1, first_order, context_dim=2)[CONTEXT].reshape(-1)
        got = new[CONTEXT].reshape(-1)
        assert got.shape == (2,), f"the context must have context_dim = 2 entries, got shape {tuple(new[CONTEXT].shape)}"
        assert torch.allclose(got, expected, rtol=1e-8, atol=1e-10), (
            f"φ must be 0 − α∇_φL_s at φ = 0: expected {expected.tolist()}, got {got.tolist()}")
        meta_expected = torch.autograd.grad(cavia_objective(shared, batch, alpha, 1, first_order, 2), list(shared.values()))
        assert all(torch.allclose(a, e, rtol=1e-8, atol=1e-10) for a, e in zip(meta, meta_expected)), (
            f"the {order}-order meta-gradient w.r.t. the shared weights is wrong"
            + ("" if first_order else ": keep the graph of ∇_φ L (create_graph=True) so it flows through φ(θ)"))

# %% [markdown]
# **Only four numbers adapt.** The shipped CAVIA model (4-dimensional context, α = 1) adapted to a
# new sine wave with your context step: one step moves the whole curve.

# %%
cavia_step = fallback(cavia_context_step, reference.cavia_context_step, "ex1.5")
cmodel, theta_cavia, alpha_cavia, _ = load_trained(shipped("sinusoid_cavia"))
shared_cavia = {k: v for k, v in theta_cavia.items() if k != CONTEXT}
support_loss, query_loss, task = sinusoid_task(cmodel, np.random.default_rng(2))
zero = {**shared_cavia, CONTEXT: torch.zeros(cmodel.context_dim)}
adapted = cavia_step(shared_cavia, support_loss, alpha_cavia, cmodel.context_dim, first_order=True)
print(f"context after one step: {np.round(adapted[CONTEXT].detach().numpy(), 3)}")
print(f"query MSE: before {query_loss(zero).item():.3f}, after one context step {query_loss(adapted).item():.3f}")
fig, ax = new_figure()
plot_sinusoid_fit(ax, x_grid, sine(task["task"], x_grid.numpy()[None])[0],
                  {"CAVIA, before adapting (context 0)": forward(cmodel, zero, x_grid).detach(),
                   "CAVIA, after one context step": forward(cmodel, adapted, x_grid).detach()},
                  support=(task["x"], task["y"]), title="CAVIA: one step on a 4-number context")
plt.show()

# %% [markdown]
# ## Exercise 1.6 — why is MAML's initialisation easy to fine-tune? (written, 4 points)
#
# **GRADED BY HAND: ex1.6 why_maml_fine_tunes (4 points)**
#
# In about 150–300 words, in the answer cell below:
# 1. Explain why MAML learns an initialisation from which one or a few gradient steps adapt well.
#    Use the objective $\sum_i \mathcal L_i(\theta - \alpha\nabla\mathcal L_i(\theta))$ and its
#    gradient $(I - \alpha\nabla^2\mathcal L_i)\nabla\mathcal L_i(\theta')$, and the idea of the loss
#    being **sensitive** to parameter changes in task-relevant directions. Contrast with multi-task
#    pretraining (notebook 01).
# 2. Carry the argument to **robot navigation**: new terrains (friction, slopes) or payloads (mass)
#    as tasks. What is meta-trained, what happens on the robot, and one thing that can go wrong.
# 3. Carry it to **game AI**: new levels (or opponents) as tasks — same three questions.

# %% [markdown]
# **Your answer (ex1.6):**
#
# YOUR ANSWER HERE
