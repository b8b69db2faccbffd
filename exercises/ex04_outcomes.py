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
# # Exercises 4 · The outcomes, measured: pretraining, k-step gradients, step sizes, variance, cost, baselines
#
# **Learning objectives.** After these exercises you can
# 1. **show** that a network pretrained on many tasks does not adapt in a few steps, while MAML's
#    initialisation does (outcome 1);
# 2. compute the **k-step** MAML meta-gradient by **Hessian-vector products**, backward through the
#    inner loop, and check it against **central finite differences** (outcome 2);
# 3. find where the inner step size **diverges** (α < 2/λ_max), let the outer loop **learn α** back
#    into the stable range (the meta-gradient with respect to log α, as in Meta-SGD), and measure how
#    averaging the meta-gradient over B tasks cuts its **variance** as 1/B (outcome 6);
# 4. measure what autograd **holds in memory** (and how long it takes) for MAML, first-order MAML and
#    Reptile at k = 1, 3, 5 (outcome 3);
# 5. evaluate adaptation on held-out tasks against **random, pretrained and oracle** baselines (outcome 4);
# 6. **derive** the MAML gradient of a 1-D quadratic by hand, check it numerically, and say what it
#    teaches about α.
#
# **Prerequisites.** Notebooks 01 (baselines), 02 (the meta-gradient), 03 (MAML on sinusoids),
# 05 (first-order MAML) and 09 (pitfalls and ablations); exercises 1 (`ex01_meta_gradients`).
#
# **Run time.** About 15 s on a 2-core CPU (Run All).
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
# implementation (and say so), so you can always run the whole notebook. Most exercises end with a
# demonstration on the shipped checkpoints: look at it, because the two written answers (**GRADED BY
# HAND**) ask what you saw.
#
# | exercise | what | outcome | points |
# |---|---|---|---|
# | 4.1 | `losses_during_adaptation`: the loss after 0…k steps — pretrained vs MAML | 1 | 3 |
# | 4.2 | `maml_gradient_hvp`: the k-step meta-gradient by Hessian-vector products | 2 | 4 |
# | 4.3 | `alpha_sweep`: divergence counts against α, and α < 2/λ_max | 6 | 3 |
# | 4.4 | `log_alpha_meta_gradient`: a learned α — the meta-gradient with respect to log α | 6 | 3 |
# | 4.5 | `variance_vs_batch_size`: the meta-gradient's variance against B, and the 1/B fit | 6 | 3 |
# | 4.6 | `meta_step_cost`: memory held for backward by MAML / FOMAML / Reptile at k = 1, 3, 5 | 3 | 3 |
# | 4.7 | `adaptation_table`: random vs pretrained vs MAML vs oracle on held-out tasks | 4 | 3 |
# | 4.8 | `quadratic_maml_closed_form`: a derivation, checked against autograd | 2, 6 | 3 |
# | 4.9 | written: the derivation and what it says about α (graded by hand) | 2, 6 | 4 |
# | 4.10 | written: what you measured (graded by hand) | 1, 3, 4, 6 | 4 |

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib import MLP, detached, forward, inner_update, parameters_of
from course_lib.checkpoints import shipped
from course_lib.checks import FAILED, fallback, graded
from course_lib.evaluate import DIVERGED_FACTOR, adaptation_curve
from course_lib.meta import CONTEXT, meta_gradient
from course_lib.ui.plots import new_figure, plot_adaptation_curve
from course_lib.tasks.sinusoid import RegressionBatch, SinusoidDistribution
from course_lib.toy import QuadraticTasks, closed_form_directions
from course_lib.sinusoid.config import load_trained

torch.set_num_threads(1)
dist = SinusoidDistribution()
# the shipped sinusoid checkpoints (python -m course_lib train sinusoid --algo …): (model, θ, α, config)
shipped_sinusoid = {name: load_trained(shipped(f"sinusoid_{name}")) for name in ("random", "pretrain", "maml", "oracle")}


def sinusoid_task(model, rng, k=10, dtype=torch.float32):
    """One sine task as two loss functions of an (unbatched) params dict: MSE on K support points
    (the inner loop adapts on these) and on K fresh query points of the same task (the score)."""
    task = dist.sample_tasks(1, rng)
    (xs, ys), (xq, yq) = dist.sample_points(task, k, rng), dist.sample_points(task, k, rng)
    xs, ys, xq, yq = (t[0].to(dtype) for t in (xs, ys, xq, yq))
    support_loss = lambda p: ((forward(model, p, xs) - ys) ** 2).mean()
    query_loss = lambda p: ((forward(model, p, xq) - yq) ** 2).mean()
    return support_loss, query_loss


def tanh_net(sizes, seed):
    """A smooth (tanh) network as a float64 params dict {w0, b0, w1, …}: finite differences need a loss
    with continuous second derivatives, which a ReLU network does not have."""
    g = torch.Generator().manual_seed(int(seed))
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = (torch.randn(n_out, n_in, generator=g, dtype=torch.float64) / n_in ** 0.5).requires_grad_(True)
        params[f"b{i}"] = (0.1 * torch.randn(n_out, generator=g, dtype=torch.float64)).requires_grad_(True)
    return params


def tanh_forward(params, x):
    layers = len(params) // 2
    for i in range(layers):
        x = x @ params[f"w{i}"].T + params[f"b{i}"]
        if i < layers - 1:
            x = torch.tanh(x)
    return x


def smooth_sine_task(rng, k=10, dtype=torch.float64):
    """A sine task's (support_loss, query_loss) for tanh_net parameters (float64 unless told)."""
    task = dist.sample_tasks(1, rng)
    (xs, ys), (xq, yq) = dist.sample_points(task, k, rng), dist.sample_points(task, k, rng)
    xs, ys, xq, yq = (t[0].to(dtype) for t in (xs, ys, xq, yq))
    return (lambda p: ((tanh_forward(p, xs) - ys) ** 2).mean(),
            lambda p: ((tanh_forward(p, xq) - yq) ** 2).mean())


def random_spd(rng, n=2):
    """A random symmetric positive definite n×n matrix (eigenvalues roughly 0.2 … 3)."""
    R = rng.normal(size=(n, n))
    return R @ R.T / n + 0.2 * np.eye(n)


def quadratic_loss(A, m, dtype=torch.float64):
    """L(θ) = ½ (θ − m)ᵀ A (θ − m) on params {"theta": [n]}: never negative, 0 at m, Hessian A."""
    A, m = torch.as_tensor(A, dtype=dtype), torch.as_tensor(m, dtype=dtype)
    return lambda p: 0.5 * (p["theta"] - m) @ A @ (p["theta"] - m)


def library_losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    """course_lib's version of exercise 4.1 (for the demonstrations only)."""
    out, p = [query_loss(params).item()], detached(params, requires_grad=True)
    for _ in range(steps):
        p = detached(inner_update(p, support_loss, alpha, 1, first_order=True), requires_grad=True)
        out.append(query_loss(p).item())
    return out


def library_alpha_sweep(theta, task_losses, alphas, steps):
    """course_lib's version of exercise 4.3 (for the demonstrations only)."""
    final = torch.tensor([[float(L(detached(inner_update(detached(theta, requires_grad=True), L, a, steps, first_order=True))))
                           for L in task_losses] for a in alphas], dtype=torch.float64)
    before = torch.tensor([L(detached(theta)).item() for L in task_losses], dtype=torch.float64)
    return final, [int((~torch.isfinite(row) | (row > DIVERGED_FACTOR * before)).sum()) for row in final]


def ready(exercise):
    """False after the exercise's graded cell failed in this kernel (a demonstration then skips it)."""
    if exercise in FAILED:
        print(f"⚠ Exercise {exercise[2:]} failed its graded cell — this demonstration runs once it passes.")
        return False
    return True

# %% [markdown]
# ## Exercise 4.1 — pretraining does not adapt (3 points)
#
# Notebook 01 trained one network on *all* sine tasks at once (multi-task pretraining). It learns
# the **average** task, which for sines with random phases is close to y = 0, and its gradients on a
# new task's K points are small and uninformative: a few steps barely move it. MAML's initialisation is
# trained for the loss *after* the steps. To see the difference, you need the loss along the way.
#
# Write `losses_during_adaptation`: starting from `params` (a dict of tensors that require grad), take
# `steps` plain gradient steps θ ← θ − α∇L_support(θ) and return the **query** loss after 0, 1, …,
# `steps` steps — a list of `steps + 1` floats (the first one before any step). Write the loop
# yourself with `torch.autograd.grad` (no `inner_update`); no second-order graph is needed, so cut
# each new θ from the graph (`.detach().requires_grad_(True)`). Do not change `params` in place.

# %%
# EXERCISE ex4.1: losses_during_adaptation
def losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    """[L_query(θ_0), L_query(θ_1), …, L_query(θ_steps)] as floats, θ_{j+1} = θ_j − α∇L_support(θ_j)."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.1: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.1?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# The list has steps + 1 entries: the QUERY loss before any step, then after each plain gradient step on the SUPPORT loss (Exercise 4.1): the query points only score, they never move θ.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Each step: `torch.autograd.grad(support_loss(θ), list(θ.values()))` with no graph, then new tensors `(p − α·g).detach().requires_grad_(True)`: fresh leaves, so the caller's params never change.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Start the list with `query_loss(θ).item()`; repeat `steps` times: one step, then append `query_loss(θ).item()`.
#
# </details>

# %%
# GRADED TEST: ex4.1 losses_during_adaptation (3 points)
# MUST NOT CALL: course_lib.inner.inner_update, course_lib.evaluate.adaptation_curve, course_lib.evaluate.adapted_params
with graded("ex4.1") as t:
    # 1) a quadratic task: support ½(θ−m_s)ᵀA(θ−m_s), query ½(θ−m_q)ᵀC(θ−m_q); θ_j − m_s = (I − αA)^j (θ_0 − m_s)
    A, C = random_spd(t.rng), random_spd(t.rng)
    m_s, m_q, start = t.rng.normal(size=2), t.rng.normal(size=2), t.rng.normal(size=2)
    alpha, steps = float(t.rng.uniform(0.1, 0.4)), 4
    params = {"theta": torch.tensor(start, requires_grad=True)}
    got = losses_during_adaptation(params, quadratic_loss(A, m_s), quadratic_loss(C, m_q), alpha, steps)
    assert len(got) == steps + 1, f"return steps + 1 = {steps + 1} losses (the first before any step), got {len(got)}"
    t.submit("quadratic task", [float(v) for v in got], rtol=1e-9, atol=1e-12)
    M = np.eye(2) - alpha * A
    expected = [0.5 * (x - m_q) @ C @ (x - m_q)
                for x in (m_s + np.linalg.matrix_power(M, j) @ (start - m_s) for j in range(steps + 1))]
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-12), (
        f"expected the QUERY loss after 0…{steps} steps on the SUPPORT loss, {np.round(expected, 4).tolist()}, "
        f"got {np.round(np.asarray(got, dtype=float), 4).tolist()}")
    t.submit("θ after the call", params["theta"], rtol=1e-12, atol=1e-12)
    assert np.array_equal(params["theta"].detach().numpy(), start), "do not change params in place"

    # 2) a small float64 ReLU network on a sine task
    torch.manual_seed(t.torch_seed)
    net = MLP(1, 1, hidden=(16, 16)).double()
    theta = parameters_of(net)
    L_s, L_q = sinusoid_task(net, t.rng, dtype=torch.float64)
    alpha = float(t.rng.uniform(0.01, 0.05))
    got = losses_during_adaptation(theta, L_s, L_q, alpha, 5)
    t.submit("sine network", [float(v) for v in got], rtol=1e-8, atol=1e-12)
    p, expected = theta, [L_q(theta).item()]
    for _ in range(5):
        p = detached(inner_update(p, L_s, alpha, 1, first_order=True), requires_grad=True)
        expected.append(L_q(p).item())
    assert np.allclose(got, expected, rtol=1e-8, atol=1e-12), "the sine network's losses differ from course_lib's inner loop"

# %% [markdown]
# **Pretrained against MAML.** Both shipped networks have the same architecture, were trained on the
# same task distribution for 30 000 iterations, and are adapted here the same way (α = 0.01, the step
# MAML was trained for, on K = 10 points) on 100 held-out sine waves. The pretrained network also gets
# twice the step, to answer "maybe it just needs a bigger α" (larger steps diverge: exercise 4.3).

# %%
curve_fn = fallback(losses_during_adaptation, library_losses_during_adaptation, "ex4.1")
rng = np.random.default_rng(41)
task_seeds = rng.integers(1 << 31, size=100)              # the same 100 tasks for every row
curves41 = {}
for label, name, alpha in [("pretrained, α = 0.01", "pretrain", 0.01), ("pretrained, α = 0.02", "pretrain", 0.02),
                           ("MAML, α = 0.01", "maml", 0.01)]:
    model, theta, _, _ = shipped_sinusoid[name]
    per_task = [curve_fn(detached(theta, requires_grad=True), *sinusoid_task(model, np.random.default_rng(seed)), alpha, 10)
                for seed in task_seeds]
    curves41[label] = torch.tensor(per_task).T                       # [steps + 1, tasks]
    mean = curves41[label].mean(1)
    print(f"{label:22s} query MSE after 0 / 1 / 5 / 10 steps: "
          + " / ".join(f"{mean[s]:.2f}" for s in (0, 1, 5, 10)))
fig, ax = new_figure()
plot_adaptation_curve(ax, range(11), curves41, log_y=True,
                      title="100 held-out sine tasks, K = 10" + (" (course_lib's loop)" if curve_fn.used_reference else ""))
for line in ax.lines:
    if "0.02" in line.get_label():
        line.set_linestyle("--")
ax.legend(fontsize=8)
ax.set_xlabel("gradient steps on the support points")
plt.show()

# %% [markdown]
# ## Exercise 4.2 — the k-step meta-gradient by Hessian-vector products (4 points)
#
# With k inner steps θ_{j+1} = θ_j − α∇L_s(θ_j), j = 0…k−1, MAML's objective is F(θ) = L_q(θ_k) and
# the chain rule gives
#
# $$\nabla F(\theta_0) = (I - \alpha\nabla^2 L_s(\theta_0))\,(I - \alpha\nabla^2 L_s(\theta_1))\cdots
#   (I - \alpha\nabla^2 L_s(\theta_{k-1}))\; \nabla L_q(\theta_k).$$
#
# Double backprop (`create_graph=True` through all k steps, exercise 1.2) keeps the graph of every step
# alive until the end. You never need a Hessian as a matrix, though: apply the factors **right to
# left** to a vector, like backpropagation does. Write `maml_gradient_hvp`:
#
# 1. run the inner loop **without** a graph through it, keeping θ_0, …, θ_{k−1} (detached copies);
# 2. v = ∇L_q(θ_k);
# 3. for j = k−1 down to 0: v ← v − α·∇²L_s(θ_j) v, where the Hessian-vector product is the gradient
#    of ∇L_s(θ_j)·v with respect to θ_j (`create_graph=True` for this one step only; or
#    `torch.autograd.grad(grads, params, grad_outputs=v)`);
# 4. return v as a dict (same keys as θ).
#
# The graded cell checks it against central finite differences, (F(θ + εd) − F(θ − εd)) / 2ε ≈ ∇F·d,
# and against double backprop. Mind the order: the factors do not commute, since the Hessian changes
# from θ_j to θ_{j+1}.

# %%
# EXERCISE ex4.2: maml_gradient_hvp
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    """∇_θ L_query(θ_k) for θ_k = `steps` steps of θ ← θ − α∇L_support(θ), by HVPs applied right to left."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.2: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.2?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# The k-step gradient is a product of (I − α∇²L_s(θ_j)) factors applied to ∇L_q(θ_k) (the formula of Exercise 4.2): apply them right to left to a vector, like backpropagation, never forming a Hessian.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Forward: run the k steps without a graph and store the detached points θ_0 … θ_{k−1}. Backward: v = ∇L_q(θ_k); a Hessian-vector product H_j v is the gradient of (∇L_s(θ_j) · v): `create_graph=True` for ∇L_s(θ_j), then `torch.autograd.grad(grads, params, grad_outputs=v)`.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# For j = k−1 down to 0 (the LAST stored point first), v ← v − α·H_j v with the SUPPORT loss's Hessian at its own θ_j; return `dict(zip(theta, v))`.
#
# </details>

# %%
# GRADED TEST: ex4.2 maml_gradient_hvp (4 points)
# MUST NOT CALL: course_lib.inner.inner_update, course_lib.meta.maml.maml_objective, course_lib.meta.maml.adapt, course_lib.meta.meta_gradient
with graded("ex4.2") as t:
    # 1) a quadratic task (course_lib.toy): the k-step MAML gradient has a closed form
    toy = QuadraticTasks(random_spd(t.rng)[None], t.rng.normal(size=(1, 2)), random_spd(t.rng)[None], t.rng.normal(size=(1, 2)))
    start, alpha = t.rng.normal(size=2), float(t.rng.uniform(0.1, 0.3))
    g = maml_gradient_hvp({"theta": torch.tensor(start, requires_grad=True)},
                          lambda p: toy.support_loss({"theta": p["theta"][None]})[0],
                          lambda p: toy.query_loss({"theta": p["theta"][None]})[0], alpha, 2)
    assert isinstance(g, dict) and set(g) == {"theta"}, "return a dict with the same keys as theta"
    t.submit("quadratic task, k = 2", g, rtol=1e-8, atol=1e-10)
    exact = closed_form_directions(toy, start, alpha, steps=2)
    assert np.allclose(g["theta"].detach().numpy(), exact["maml"], rtol=1e-8, atol=1e-10), (
        f"quadratic task, k = 2: expected {exact['maml']}, got {g['theta'].detach().numpy()}"
        + ("  (this is the FIRST-order gradient: apply the (I − α∇²L_s) factors)"
           if np.allclose(g["theta"].detach().numpy(), exact["fomaml"]) else ""))

    # 2) a smooth float64 network on a sine task, k = 1 and k = 3
    theta = tanh_net((1, 12, 12, 1), t.torch_seed)
    L_s, L_q = smooth_sine_task(t.rng)
    alpha = float(t.rng.uniform(0.15, 0.3))
    before = detached(theta)

    def F(p, steps):                            # the meta-objective's value (no graph needed for a value)
        return L_q(inner_update(detached(p, requires_grad=True), L_s, alpha, steps, first_order=True)).item()

    directions = []
    for _ in range(3):                          # random unit directions in parameter space
        d = {k: torch.tensor(t.rng.normal(size=v.shape)) for k, v in theta.items()}
        norm = torch.sqrt(sum((x ** 2).sum() for x in d.values()))
        directions.append({k: x / norm for k, x in d.items()})
    eps = 1e-5
    for steps in (1, 3):
        g = maml_gradient_hvp(theta, L_s, L_q, alpha, steps)
        assert isinstance(g, dict) and set(g) == set(theta), "one gradient per parameter tensor"
        t.submit(f"tanh network, k = {steps}", g, rtol=1e-7, atol=1e-10)
        for d in directions:                    # central finite differences along random directions
            fd = (F({k: before[k] + eps * d[k] for k in theta}, steps) - F({k: before[k] - eps * d[k] for k in theta}, steps)) / (2 * eps)
            analytic = sum((g[k].detach() * d[k]).sum() for k in theta).item()
            assert abs(fd - analytic) <= 1e-6 * (1 + abs(fd)), (
                f"k = {steps}: the directional derivative ∇F·d = {analytic:.8f} disagrees with central finite "
                f"differences {fd:.8f} (apply (I − α∇²L_s(θ_j)) for j = k−1 down to 0)")
        adapted = inner_update(theta, L_s, alpha, steps, first_order=False)   # double backprop through all k steps
        double = torch.autograd.grad(L_q(adapted), list(theta.values()))
        assert all(torch.allclose(g[k], e, rtol=1e-7, atol=1e-10) for k, e in zip(theta, double)), \
            f"k = {steps}: the gradient differs from double backprop"
    assert all(torch.equal(theta[k].detach(), before[k]) for k in theta), "θ must not change"

# %% [markdown]
# **How small should ε be?** The central difference has a truncation error ∝ ε² and a rounding error
# ∝ (machine precision)/ε, so its error against your gradient falls, then rises again. In float32
# (machine precision 6e-8) the best ε is far larger and the best error far worse — which is why
# gradient checks are done in float64.

# %%
hvp_fn = fallback(maml_gradient_hvp, lambda th, s, q, a, k: dict(zip(th, torch.autograd.grad(
    q(inner_update(th, s, a, k)), list(th.values())))), "ex4.2")
theta42 = tanh_net((1, 12, 12, 1), 0)
L_s42, L_q42 = smooth_sine_task(np.random.default_rng(42))
g42 = hvp_fn(theta42, L_s42, L_q42, 0.2, 3)
d42 = {k: torch.randn(v.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) for k, v in theta42.items()}
analytic42 = sum((g42[k].detach() * d42[k]).sum() for k in theta42).item()
losses42 = {torch.float64: (L_s42, L_q42), torch.float32: smooth_sine_task(np.random.default_rng(42), dtype=torch.float32)}


def meta_objective42(eps, dtype):                 # F(θ + εd), computed entirely in `dtype`
    L_s, L_q = losses42[dtype]
    p = {k: (theta42[k].detach() + eps * d42[k]).to(dtype).requires_grad_(True) for k in theta42}
    return L_q(inner_update(p, L_s, 0.2, 3, first_order=True)).item()


print(f"∇F·d = {analytic42:.10f} (the HVP gradient, k = 3);  |central difference − ∇F·d|:")
print("     ε      float64     float32")
for eps in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
    errors = [abs((meta_objective42(eps, dtype) - meta_objective42(-eps, dtype)) / (2 * eps) - analytic42)
              for dtype in (torch.float64, torch.float32)]
    print(f"{eps:7.0e}   {errors[0]:9.2e}   {errors[1]:9.2e}")

# %% [markdown]
# ## Exercise 4.3 — when does the inner step diverge? (3 points)
#
# Near a minimum a loss is close to a quadratic with Hessian H. A gradient step multiplies the error
# along an eigenvector of H with eigenvalue λ by (1 − αλ): it shrinks when |1 − αλ| < 1, that is
# **α < 2/λ_max**, and grows geometrically otherwise. Too small an α barely moves (exercise 4.1);
# too large an α overshoots and explodes. Meta-SGD's fix is to *learn* α (per weight) in the outer
# loop, which keeps it where adaptation helps (notebook 09).
#
# Write `alpha_sweep`: for every α in `alphas` and every task loss in `task_losses`, run `steps`
# gradient steps from θ (a fresh start for each pair) and record the task's loss at the end. A task
# **diverged** if its final loss is not finite, or exceeds `DIVERGED_FACTOR` (= 1000) × **its own**
# loss at θ, before any step (the workbook's rule, `course_lib.evaluate`). Return
# `(final, diverged)`: a tensor of shape [len(alphas), len(task_losses)] of final losses, and a list
# of len(alphas) integers, the number of diverged tasks for each α. Keep going when a loss becomes
# `inf` or `nan` (do not raise): the comparison `nan > x` is False, so test for non-finite values
# explicitly (`torch.isfinite`).

# %%
# EXERCISE ex4.3: alpha_sweep
def alpha_sweep(theta, task_losses, alphas, steps):
    """(final losses [len(alphas), n_tasks], [number of diverged tasks per α])."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.3: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.3?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# The rule of Exercise 4.3: a task diverged if its final loss is not finite or exceeds DIVERGED_FACTOR × ITS OWN loss at θ; every (α, task) pair is an independent run from θ.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Two loops, α outside and tasks inside, each run starting from θ itself with `steps` plain gradient steps (`torch.autograd.grad`, detached fresh leaves); store the final losses in a float64 tensor [len(alphas), n_tasks].
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# A task counts as diverged when `not torch.isfinite(after) or after > DIVERGED_FACTOR * before`: nan compares False, so test `isfinite` first, and never raise on inf or nan — record it.
#
# </details>

# %%
# GRADED TEST: ex4.3 alpha_sweep (3 points)
# MUST NOT CALL: course_lib.inner.inner_update, course_lib.evaluate.summarize
with graded("ex4.3") as t:
    # seven quadratic tasks ½(θ−m_i)ᵀA_i(θ−m_i): θ_k − m_i = (I − αA_i)^k (θ − m_i) exactly
    As, ms = [random_spd(t.rng) for _ in range(6)], [t.rng.normal(size=2) for _ in range(6)]
    start = t.rng.normal(size=2)
    lam_med = np.median([np.linalg.eigvalsh(A).max() for A in As])
    rotation = np.linalg.qr(t.rng.normal(size=(2, 2)))[0]
    As.append(rotation @ np.diag([lam_med, 0.3 * lam_med]) @ rotation.T)     # a task that starts 1e-5 from its minimum:
    ms.append(start - 1e-5 * rotation[:, 0])                                 # diverged means 1000× ITS OWN loss before
    lam_max = np.array([np.linalg.eigvalsh(A).max() for A in As])
    theta = {"theta": torch.tensor(start, requires_grad=True)}
    alphas = [f * 2 / lam_med for f in (0.3, 0.8, 1.2, 1.6, 2.4)]
    steps = 30
    final, diverged = alpha_sweep(theta, [quadratic_loss(A, m) for A, m in zip(As, ms)], alphas, steps)
    final = torch.as_tensor(final, dtype=torch.float64)
    assert tuple(final.shape) == (len(alphas), 7), f"final must have shape (len(alphas), n_tasks) = ({len(alphas)}, 7)"
    assert len(diverged) == len(alphas), "one divergence count per α"
    t.submit("float64: final losses", final, rtol=1e-8, atol=1e-12)
    t.submit("float64: diverged per α", [int(n) for n in diverged], rtol=0, atol=0)
    errors = [[np.linalg.matrix_power(np.eye(2) - a * A, steps) @ (start - m) for A, m in zip(As, ms)] for a in alphas]
    exact = np.array([[0.5 * e @ A @ e for e, A in zip(row, As)] for row in errors])
    before = np.array([0.5 * (start - m) @ A @ (start - m) for A, m in zip(As, ms)])
    expected = (exact > DIVERGED_FACTOR * before).sum(1).tolist()
    assert np.allclose(final.numpy(), exact, rtol=1e-8, atol=1e-12), "the final losses are wrong: run `steps` steps from θ for every (α, task)"
    assert [int(n) for n in diverged] == expected, f"expected {expected} diverged tasks per α, got {list(diverged)}"
    stable = np.array(alphas)[:, None] * lam_max[None] < 2
    assert (final.numpy()[stable] <= before[np.nonzero(stable)[1]] + 1e-12).all(), "for α < 2/λ_max the loss must not grow"

    # the same tasks in float32 with a huge α: the iterates overflow, inf − inf = nan
    theta32 = {"theta": torch.tensor(start, dtype=torch.float32, requires_grad=True)}
    huge = [0.5 * 2 / lam_max.max(), 300 * 2 / lam_med]
    final32, diverged32 = alpha_sweep(theta32, [quadratic_loss(A, m, torch.float32) for A, m in zip(As, ms)], huge, steps)
    final32 = torch.as_tensor(final32, dtype=torch.float64)
    t.submit("float32: diverged per α", [int(n) for n in diverged32], rtol=0, atol=0)
    t.submit("float32: final losses at the small α", final32[0], rtol=1e-4, atol=1e-7)
    assert not torch.isfinite(final32[1]).all(), "with α = 300 × 2/λ the loss should overflow (do not clip it)"
    assert int(diverged32[1]) == 7, (f"at the huge α every task diverges (inf or nan), got {diverged32[1]}: "
                                     "nan > x is False, test torch.isfinite too")

# %% [markdown]
# **The sweep on the shipped MAML network.** 100 held-out sine tasks, K = 10, from MAML's θ (trained
# for α = 0.01 and one step); each task's loss is its support MSE, the loss the steps descend. For
# each task, the top eigenvalue λ_max of the support loss's Hessian at θ comes from 30 power
# iterations with Hessian-vector products; 2/λ_max is where one step stops being safe *if the loss
# were quadratic*. A ReLU network's loss is not, so the bound is a guide, not a law.

# %%
sweep_fn = fallback(alpha_sweep, library_alpha_sweep, "ex4.3")
model_m, theta_m, _, _ = shipped_sinusoid["maml"]
rng = np.random.default_rng(43)
tasks43 = [sinusoid_task(model_m, rng)[0] for _ in range(100)]


def top_eigenvalue(loss_fn, params, iters=30):
    p = detached(params, requires_grad=True)
    v = [torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) for x in p.values()]
    for _ in range(iters):
        norm = torch.sqrt(sum((x ** 2).sum() for x in v))
        v = [x / norm for x in v]
        grads = torch.autograd.grad(loss_fn(p), list(p.values()), create_graph=True)
        hv = torch.autograd.grad(grads, list(p.values()), grad_outputs=v)
        lam = sum((a * b).sum() for a, b in zip(hv, v)).item()
        v = [h.detach() for h in hv]
    return lam


print(f"mean support MSE at θ, before any step: {np.mean([L(theta_m).item() for L in tasks43]):.2f}")
lams = np.array([top_eigenvalue(L, theta_m) for L in tasks43[:30]])
print(f"2/λ_max over 30 tasks: min {2 / lams.max():.3f}, median {np.median(2 / lams):.3f}, max {2 / lams.min():.3f}")
alphas43 = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
try:
    for steps in (1, 5):
        final43, diverged43 = sweep_fn(detached(theta_m, requires_grad=True), tasks43, alphas43, steps)
        final43 = torch.as_tensor(final43, dtype=torch.float64)
        print(f"\n{steps} step(s)      α: " + "".join(f"{a:>9}" for a in alphas43))
        print("diverged / 100    " + "".join(f"{int(n):9d}" for n in diverged43))
        ok = torch.isfinite(final43) & (final43 <= DIVERGED_FACTOR * final43.new_tensor([float(L(theta_m)) for L in tasks43]))
        means = [final43[i][ok[i]].mean().item() if ok[i].any() else float("nan") for i in range(len(alphas43))]
        print("mean MSE, the rest " + "".join(f"{m:9.2f}" if np.isfinite(m) else f"{'—':>9}" for m in means))
except NotImplementedError:
    print("⚠ Exercise 4.3 is not done yet — the sweep runs once alpha_sweep does.")

# %% [markdown]
# ## Exercise 4.4 — a learned α: let the outer loop fix the step size (3 points)
#
# Exercise 4.3 showed that a hand-picked α above 2/λ_max makes adaptation worse, not better. Meta-SGD's
# remedy (notebook 09 §2) is to stop picking α by hand: make it a **meta-parameter** and train it by
# the meta-gradient, like θ. Here is the smallest version of that idea — **one scalar** step size, θ
# held fixed. Write it as α = e^{log α}: every real log α is a positive step size, and a meta-step on
# log α changes α by a *factor* (0.1 in log α is about 10 % of α, whether α is 0.3 or 0.003). The
# meta-objective is MAML's, a function of log α alone,
#
# $$F(\log\alpha) = \frac1n \sum_{i=1}^n \mathcal L^{\text{query}}_i(\theta'_i), \qquad
#   \theta'_i = k \text{ steps of } \theta \leftarrow \theta - e^{\log\alpha}\,\nabla\mathcal L^{\text{support}}_i(\theta) \text{ from } \theta,$$
#
# and by the chain rule dF/d log α = α · dF/dα. Each step θ_{j+1} = θ_j − α∇L_s(θ_j) contributes
# dθ_{j+1}/dα = −∇L_s(θ_j) + (I − α∇²L_s(θ_j)) dθ_j/dα: for k ≥ 2 the later gradients depend on α
# through θ_j, so the inner loop must keep its graph.
#
# Write `log_alpha_meta_gradient`: `tasks` is a list of `(support_loss, query_loss)` pairs of loss
# functions of a params dict; return `(F, dF/dlog α)` as two floats. You may use course_lib's
# `inner_update` (α may be a 0-d tensor). Do not change θ. The graded cell compares your derivative
# with a closed form on quadratic tasks (k = 1 and 3) and with central finite differences in log α on
# a small tanh network.

# %%
# EXERCISE ex4.4: log_alpha_meta_gradient
def log_alpha_meta_gradient(theta, tasks, log_alpha, steps=1):
    """(F, dF/d log α) as floats: F = mean over (support_loss, query_loss) in `tasks` of query_loss(θ'),
    θ' = `steps` gradient steps θ ← θ − e^{log α}∇support_loss(θ) from θ."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.4: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.4?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Treat the step size like any other meta-parameter (Meta-SGD, notebook 09 §2; the meta-objectives of Exercises 1.2 and 4.2): if log α is a tensor that requires grad and α is computed from it, autograd applies the chain rule, factor α included.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Make log α a 0-d leaf tensor (θ's dtype, `requires_grad=True`) and pass its `exp()` as `alpha` to `inner_update(..., first_order=False)`: from the second step on, the inner gradients depend on α. Average the query losses at the adapted points over the tasks.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# F = the mean over the pairs (L_s, L_q) of `L_q(inner_update(θ, L_s, log_a.exp(), steps))`; `torch.autograd.grad(F, log_a)` returns a 1-tuple; return `F.item()` and the gradient's `.item()`, not tensors.
#
# </details>

# %%
# GRADED TEST: ex4.4 log_alpha_meta_gradient (3 points)
with graded("ex4.4") as t:
    # 1) three quadratic tasks (support ½(θ−m_s)ᵀA(θ−m_s), query ½(θ−m_q)ᵀC(θ−m_q)), where everything has a
    #    closed form: θ_k − m_s = (I − αA)^k (θ − m_s), dθ_k/dα = −k A (I − αA)^{k−1} (θ − m_s)
    As, Cs = [random_spd(t.rng) for _ in range(3)], [random_spd(t.rng) for _ in range(3)]
    m_s, m_q, start = t.rng.normal(size=(3, 2)), t.rng.normal(size=(3, 2)), t.rng.normal(size=2)
    lam_max = max(np.linalg.eigvalsh(A).max() for A in As)
    theta = {"theta": torch.tensor(start, requires_grad=True)}
    tasks = [(quadratic_loss(A, a), quadratic_loss(C, c)) for A, C, a, c in zip(As, Cs, m_s, m_q)]
    for steps in (1, 3):
        alpha = float(t.rng.uniform(0.2, 1.5)) * 2 / lam_max            # inside and beyond the stable range
        F, grad = log_alpha_meta_gradient(theta, tasks, np.log(alpha), steps)
        t.submit(f"quadratic tasks, k = {steps}: F", float(F), rtol=1e-9, atol=1e-12)
        t.submit(f"quadratic tasks, k = {steps}: dF/dlog α", float(grad), rtol=1e-8, atol=1e-12)
        F_exact = dF_exact = 0.0
        for A, C, a, c in zip(As, Cs, m_s, m_q):
            M = np.eye(2) - alpha * A
            x = a + np.linalg.matrix_power(M, steps) @ (start - a)
            dx = -steps * A @ np.linalg.matrix_power(M, steps - 1) @ (start - a)
            F_exact += 0.5 * (x - c) @ C @ (x - c) / 3
            dF_exact += alpha * (x - c) @ C @ dx / 3                    # dF/dlog α = α dF/dα
        assert np.isclose(float(F), F_exact, rtol=1e-9, atol=1e-12), (
            f"k = {steps}: F must be the MEAN query loss after {steps} step(s) with α = exp(log α), "
            f"{F_exact:.6f}, got {float(F):.6f}")
        assert np.isclose(float(grad), dF_exact, rtol=1e-8, atol=1e-12), (
            f"k = {steps}: dF/dlog α = {dF_exact:.6f}, got {float(grad):.6f}"
            + ("  (this is dF/dα: the derivative with respect to log α carries a factor α)"
               if np.isclose(float(grad), dF_exact / alpha, rtol=1e-6) else "")
            + ("  (keep the graph of the inner gradients: with k ≥ 2 they depend on α)" if steps > 1 else ""))
    assert np.array_equal(theta["theta"].detach().numpy(), start), "θ must not change"

    # 2) a smooth float64 network on two sine tasks, k = 2: central differences in log α
    net = tanh_net((1, 12, 12, 1), t.torch_seed)
    sine_tasks = [smooth_sine_task(t.rng) for _ in range(2)]
    log_alpha = float(np.log(t.rng.uniform(0.1, 0.3)))
    F, grad = log_alpha_meta_gradient(net, sine_tasks, log_alpha, 2)
    t.submit("tanh network, k = 2: F", float(F), rtol=1e-9, atol=1e-12)
    t.submit("tanh network, k = 2: dF/dlog α", float(grad), rtol=1e-7, atol=1e-10)

    def F_at(log_a):                            # the meta-objective's value (no graph needed for a value)
        return np.mean([L_q(inner_update(detached(net, requires_grad=True), L_s, float(np.exp(log_a)), 2,
                                         first_order=True)).item() for L_s, L_q in sine_tasks])
    eps = 1e-5
    fd = (F_at(log_alpha + eps) - F_at(log_alpha - eps)) / (2 * eps)
    assert abs(float(F) - F_at(log_alpha)) <= 1e-10 * (1 + abs(F_at(log_alpha))), "F is wrong on the tanh network"
    assert abs(float(grad) - fd) <= 1e-6 * (1 + abs(fd)), (
        f"tanh network, k = 2: dF/dlog α = {float(grad):.8f} disagrees with central finite differences {fd:.8f}")

# %% [markdown]
# **From a diverging α to a stable one.** Start the shipped MAML network at α = 0.3 — one step there
# diverged on about a fifth of the tasks in 4.3's sweep — and meta-train log α alone (θ fixed) on 25
# sine tasks, K = 10, one inner step (the step MAML was trained for): 30 meta-steps of Adam (rate 0.5)
# on your meta-gradient, Meta-SGD's outer loop with one scalar rate. Then compare the learned α with
# the 2/λ_max values measured in 4.3, and run 4.3's sweep at both step sizes.

# %%
try:
    if ready("ex4.4"):
        rng = np.random.default_rng(440)
        tasks_la = [sinusoid_task(model_m, rng) for _ in range(25)]
        log_alpha_la = torch.tensor(np.log(0.3), requires_grad=True)
        meta_opt = torch.optim.Adam([log_alpha_la], lr=0.5)
        print("meta-step       α   mean query MSE after one step")
        for step in range(31):
            F_la, g_la = log_alpha_meta_gradient(theta_m, tasks_la, log_alpha_la.item(), 1)
            if step % 5 == 0:
                print(f"{step:9d}  {log_alpha_la.exp().item():6.4f}   {F_la:10.2f}")
            if step < 30:
                log_alpha_la.grad = torch.tensor(g_la, dtype=log_alpha_la.dtype)
                meta_opt.step()
        alpha_la = log_alpha_la.exp().item()
        print(f"\nlearned α = {alpha_la:.4f};  2/λ_max of the 30 tasks in 4.3: median {np.median(2 / lams):.4f}, "
              f"above the learned α for {np.mean(2 / lams > alpha_la):.0%} of them")
        _, diverged_la = sweep_fn(detached(theta_m, requires_grad=True), tasks43, [0.3, alpha_la], 1)
        print(f"4.3's 100 tasks, one step: {int(diverged_la[0])} diverged at α = 0.3, {int(diverged_la[1])} at the learned α")
except NotImplementedError:
    print("⚠ Exercise 4.4 is not done yet — the meta-steps run once log_alpha_meta_gradient works.")

# %% [markdown]
# **What you should see.** Within about ten meta-steps α falls by an order of magnitude, and the mean
# loss after one step from thousands to a few; after 30 meta-steps α is about 0.009, just below the
# median 2/λ_max of 4.3 (0.010) and close to the α = 0.01 MAML was trained with, the loss is below 0.3,
# and none of the 100 tasks of 4.3 diverges any more. The best one-step α sits at the edge of the
# stable range: larger, and the step overshoots along the sharpest directions; smaller, and it moves
# too little along the others. Nobody chose that number: the outer loop found it, which is the whole of
# Meta-SGD's fix (notebook 09 learns one rate per weight the same way, and shows that such rates belong
# to the number of inner steps they were trained for).

# %% [markdown]
# ## Exercise 4.5 — the meta-gradient's variance, and why we average over tasks (3 points)
#
# One task's meta-gradient is a noisy estimate of the expected one: tasks differ, and so do their K
# points. Averaging B independent tasks divides the variance by B — the **1/B law** — which is why
# MAML samples a meta-batch (25 tasks for sinusoids) rather than one task per update.
#
# Write `variance_vs_batch_size`. `task_grads` is an [N, P] tensor: one flattened meta-gradient per
# task. For each B in `batch_sizes`: take the first (N // B)·B rows, split them into **consecutive
# groups of B** rows, and average each group (the meta-gradient of one meta-batch of B tasks). Its
# variance is the **sum over the P coordinates of the unbiased variance across the groups**
# (`torch.var(..., dim=0)` — ddof 1 — then `.sum()`). Then fit a straight line to
# log(variance) against log(B) by least squares (`np.polyfit(np.log(B), np.log(var), 1)`) and return
# `(variances, slope)`: a tensor [len(batch_sizes)] and a float. The law predicts slope −1.

# %%
# EXERCISE ex4.5: variance_vs_batch_size
def variance_vs_batch_size(task_grads, batch_sizes):
    """(total variance of the B-task mean meta-gradient for each B, slope of log var against log B)."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.5: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.5?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# A meta-batch's gradient is the mean of B task gradients; the 1/B law (Exercise 4.5) is about the variance of that mean across many meta-batches: build the meta-batch means first, then take their variance.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# For each B: reshape the first (N // B)·B rows to (N // B, B, P) and average over the B axis; the total variance is `.var(0).sum()` over the P coordinates.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# The slope is a degree-1 least-squares fit in log–log, `np.polyfit(np.log(B), np.log(variances), 1)[0]`; return the variances as a tensor and the slope as a float.
#
# </details>

# %%
# GRADED TEST: ex4.5 variance_vs_batch_size (3 points)
with graded("ex4.5") as t:
    N, P = 480, 6
    mean, mix = t.rng.normal(size=P), 0.7 * t.rng.normal(size=(P, P))
    task_grads = torch.tensor(mean + t.rng.normal(size=(N, P)) @ mix.T)       # N "meta-gradients" with covariance mix·mixᵀ
    sizes = (1, 2, 4, 8, 16)
    variances, slope = variance_vs_batch_size(task_grads, sizes)
    variances = torch.as_tensor(variances, dtype=torch.float64).reshape(-1)
    assert variances.shape == (len(sizes),), f"one variance per batch size: expected shape ({len(sizes)},), got {tuple(variances.shape)}"
    t.submit("variances", variances, rtol=1e-9, atol=1e-12)
    t.submit("slope", float(slope), rtol=1e-9, atol=1e-12)
    v1 = task_grads.var(0).sum().item()
    assert abs(variances[0].item() - v1) <= 1e-9 * v1, (
        f"B = 1: the variance must be the sum over coordinates of the per-coordinate variance across tasks, {v1:.4f}, "
        f"got {variances[0].item():.4f}")
    v4 = task_grads.reshape(N // 4, 4, P).mean(1).var(0).sum().item()
    assert abs(variances[2].item() - v4) <= 1e-9 * v4, "B = 4: average consecutive groups of 4 rows, then take the variance across groups"
    fit = np.polyfit(np.log(sizes), np.log(variances.numpy()), 1)[0]
    assert abs(float(slope) - fit) <= 1e-9, f"the slope is the least-squares fit of log var on log B: {fit:.4f}, got {float(slope):.4f}"
    assert -1.5 < float(slope) < -0.5, f"independent tasks should give a slope near −1, got {float(slope):.3f}"

# %% [markdown]
# **Real meta-gradients.** 320 sine tasks, one second-order MAML meta-gradient each (course_lib's
# `meta_gradient`, K = 10, α = 0.01) at the shipped MAML θ and at a random θ; then your fit.

# %%
rng = np.random.default_rng(44)
sizes44 = (1, 2, 4, 8, 16, 32)
grads44 = {}
for label, name in [("at the MAML θ", "maml"), ("at a random θ", "random")]:
    model, theta, _, _ = shipped_sinusoid[name]
    theta = detached(theta, requires_grad=True)
    grads44[label] = torch.stack([torch.cat([g.reshape(-1) for g in meta_gradient(
        theta, dist.sample_batch(1, 10, 10, rng, model), 0.01, 1, "maml").values()]) for _ in range(320)])
try:
    fits44 = {label: variance_vs_batch_size(g, sizes44) for label, g in grads44.items()} if ready("ex4.5") else {}
except NotImplementedError:
    print("⚠ Exercise 4.5 is not done yet — the fit appears once variance_vs_batch_size works.")
    fits44 = {}
if fits44:
    fig, ax = new_figure()
    for label, (variances, slope) in fits44.items():
        variances = torch.as_tensor(variances, dtype=torch.float64).numpy()
        print(f"{label:14s} variance at B = 1: {variances[0]:8.3f}   at B = 32: {variances[-1]:7.4f}   fitted slope {slope:+.2f}")
        ax.loglog(sizes44, variances, "o-", label=f"{label} (slope {slope:+.2f})")
        ax.loglog(sizes44, variances[0] / np.asarray(sizes44), ":", color="gray")
    ax.set_xlabel("tasks per meta-batch B")
    ax.set_ylabel("total variance of the meta-gradient")
    ax.set_title("Averaging over B tasks: variance ∝ 1/B (dotted)")
    ax.legend()
    plt.show()

# %% [markdown]
# ## Exercise 4.6 — what second order costs: memory held for backward (3 points)
#
# Second-order MAML keeps the graph of every inner step until the meta-gradient is computed; first-order
# MAML and Reptile cut it after each step. Timings depend on the machine and its load, but **what
# autograd saves for the backward pass** is exact: every tensor an operation stores goes through
# `torch.autograd.graph.saved_tensors_hooks(pack, unpack)`, and is released when its graph is freed.
#
# Write `meta_step_cost`: compute `meta_gradient(theta, tasks, alpha, steps, method, context_dim)`
# (course_lib's, for `method` in "maml", "fomaml", "reptile", "cavia") inside
# `saved_tensors_hooks`, and return a dict with
# * `"grad"`: the meta-gradient (what `meta_gradient` returned);
# * `"saved_tensors"`: how many times `pack` was called;
# * `"peak_saved_bytes"`: the largest number of bytes of saved tensors **alive at the same time**, a
#   tensor's bytes being `x.numel() * x.element_size()`.
#
# For the peak, `pack` must return an object that adds the tensor's bytes to a running total and
# subtracts them again when autograd drops it — the object's `__del__` runs then (`unpack` returns
# the tensor). A small class with `__init__`/`__del__` and `nonlocal` counters does it.

# %%
# EXERCISE ex4.6: meta_step_cost
def meta_step_cost(theta, tasks, alpha, steps, method, context_dim=None):
    """{"grad": meta_gradient(...), "saved_tensors": int, "peak_saved_bytes": int} for one meta-batch."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.6: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.6?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Autograd routes every tensor it saves for backward through `saved_tensors_hooks(pack, unpack)` (Exercise 4.6): count the calls of pack, and keep a running total of the bytes alive now; the peak is that total's maximum.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# pack may return any object; Python calls that object's `__del__` when autograd lets go of it — that is where the live total goes down (unpack returns the tensor kept inside).
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# A small class whose `__init__(self, x)` stores x and its bytes `x.numel() * x.element_size()`, adds them to the live total, updates the peak and the count (`nonlocal` counters), and whose `__del__` subtracts them; call `meta_gradient(...)` inside `with torch.autograd.graph.saved_tensors_hooks(...)`.
#
# </details>

# %%
# GRADED TEST: ex4.6 meta_step_cost (3 points)
with graded("ex4.6") as t:
    torch.manual_seed(t.torch_seed)
    net = MLP(1, 1, hidden=(int(t.rng.integers(12, 24)), 20))
    theta = parameters_of(net)
    tasks = dist.sample_batch(4, 10, 10, t.rng, net)
    alpha = float(t.rng.uniform(0.005, 0.05))
    peaks = {}
    for method in ("maml", "fomaml", "reptile"):
        for steps in (1, 3, 5):
            cost = meta_step_cost(theta, tasks, alpha, steps, method)
            assert isinstance(cost, dict) and {"grad", "saved_tensors", "peak_saved_bytes"} <= set(cost), \
                "return a dict with 'grad', 'saved_tensors' and 'peak_saved_bytes'"
            t.submit(f"{method}, k = {steps}: grad", cost["grad"], rtol=1e-5, atol=1e-7)
            t.submit(f"{method}, k = {steps}: saved tensors", int(cost["saved_tensors"]), rtol=0, atol=0)
            t.submit(f"{method}, k = {steps}: peak bytes", int(cost["peak_saved_bytes"]), rtol=0, atol=0)
            peaks[method, steps] = int(cost["peak_saved_bytes"])
            expected = meta_gradient(theta, tasks, alpha, steps, method)
            assert all(torch.allclose(cost["grad"][k], expected[k], rtol=1e-5, atol=1e-7) for k in expected), \
                f"{method}, k = {steps}: 'grad' must be course_lib's meta_gradient for this method"
    assert all(v > 0 for v in peaks.values()), f"every method saves something for backward; peaks {peaks}"
    double = meta_step_cost({k: v.double() for k, v in theta.items()}, RegressionBatch(
        net.double(), tasks.x_support.double(), tasks.y_support.double(), tasks.x_query.double(), tasks.y_query.double()),
        alpha, 1, "maml")
    t.submit("maml, k = 1, float64: peak bytes", int(double["peak_saved_bytes"]), rtol=0, atol=0)
    assert int(double["peak_saved_bytes"]) == 2 * peaks["maml", 1], (
        "in float64 the same computation must hold exactly twice the bytes of float32: count x.numel() * x.element_size()")
    assert peaks["maml", 1] < peaks["maml", 3] < peaks["maml", 5], (
        f"second-order MAML keeps every step's graph: its peak must grow with k, got {[peaks['maml', k] for k in (1, 3, 5)]}")
    assert peaks["fomaml", 1] == peaks["fomaml", 5], (
        f"first-order MAML frees each step's graph: its peak must not grow with k, got {[peaks['fomaml', k] for k in (1, 3, 5)]} "
        "(subtract a tensor's bytes when autograd drops it: __del__)")

# %% [markdown]
# **Time and memory on one meta-batch** of 25 sine tasks (K = 10), the paper's 40-40 network, and
# CAVIA with a 4-number context: time per meta-gradient (median of 5, this machine, not graded) and
# the peak of saved tensors.

# %%
rng = np.random.default_rng(45)
net45, cnet45 = MLP(1, 1, hidden=(40, 40)), MLP(1, 1, hidden=(40, 40), context_dim=4)
settings45 = {m: (parameters_of(net45), dist.sample_batch(25, 10, 10, rng, net45), None) for m in ("maml", "fomaml", "reptile")}
settings45["cavia"] = ({k: v for k, v in parameters_of(cnet45).items() if k != CONTEXT},
                       dist.sample_batch(25, 10, 10, rng, cnet45), 4)
print("method     k   ms/meta-gradient   peak saved (MB)   saved tensors")
try:
    for method, (theta, tasks, cdim) in (settings45.items() if ready("ex4.6") else ()):
        alpha = 1.0 if method == "cavia" else 0.01
        for steps in (1, 3, 5):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                cost = meta_step_cost(theta, tasks, alpha, steps, method, cdim)
                times.append(time.perf_counter() - t0)
            print(f"{method:8s} {steps:3d}   {1e3 * np.median(times):16.1f}   {cost['peak_saved_bytes'] / 2**20:15.2f}"
                  f"   {cost['saved_tensors']:13d}")
except NotImplementedError:
    print("⚠ Exercise 4.6 is not done yet — the table fills in once meta_step_cost does.")

# %% [markdown]
# ## Exercise 4.7 — MAML against random, pretrained and oracle on held-out tasks (3 points)
#
# The fair comparison: the same held-out tasks, the same K support points, the same inner steps, for
# four initialisations shipped with the workbook — **random** (untrained), **pretrained** (multi-task
# training), **MAML**, and the **oracle**, a network that is *given* each task's amplitude and phase
# as extra inputs (a `RegressionBatch` with `oracle=True` appends them): the floor no K-shot method
# can beat. The oracle already knows the task, so it is **not adapted**: its row repeats its loss
# before any step (gradient steps on it only hurt — with α = 0.01 they even diverge).
#
# Write `adaptation_table`. `inits` maps a name to `(model, θ, oracle)`; `tasks` is the [T, 2] array of
# (amplitude, phase); `support = (x_s, y_s)` and `query = (x_q, y_q)` are [T, K, 1] tensors. For each
# init but the oracle: every task adapts **its own copy** of θ with plain gradient steps (rate α) on
# **its own support points**; record the mean over tasks of the query MSE after each number of steps
# in `report_steps`. Return `{name: [mean query MSE after s steps for s in report_steps]}`.
# Tip: `RegressionBatch(model, x_s, y_s, x_q, y_q, tasks, oracle=oracle)` gives per-task losses
# (`support_loss(p)`, `query_loss(p)`, shape [T]) for parameters with a leading task dimension,
# `{k: v.detach().expand(T, *v.shape).clone().requires_grad_(True)}`; the gradient of the **sum** of
# the per-task losses gives each copy its own task's gradient.

# %%
# EXERCISE ex4.7: adaptation_table
def adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5)):
    """{name: [mean query MSE over tasks after s steps, for s in report_steps]} for every (model, θ, oracle) in inits."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.7: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.7?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# The fair comparison of Exercise 4.7: every task adapts its OWN copy of θ on its OWN support points, and the oracle is never adapted; the table holds the mean query MSE at the listed step counts.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# `RegressionBatch(model, *support, *query, tasks, oracle=oracle)` gives per-task losses for parameters with a leading task dimension; the gradient of the SUM of the per-task support losses steps every copy on its own task.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Copies: `{k: v.detach().expand(T, *v.shape).clone().requires_grad_(True)}`; loop s = 0 … max(report_steps): record `batch.query_loss(params).mean().item()` when s is in report_steps, then (unless oracle) take one step with fresh leaves.
#
# </details>

# %%
# GRADED TEST: ex4.7 adaptation_table (3 points)
# MUST NOT CALL: course_lib.evaluate.adaptation_curve, course_lib.evaluate.adapted_params, course_lib.sinusoid.evaluate.sinusoid_benchmark, course_lib.inner.inner_update, course_lib.meta.maml.adapt
with graded("ex4.7") as t:
    inits = {name: (model, theta, config.algo == "oracle") for name, (model, theta, _, config) in shipped_sinusoid.items()}
    tasks = dist.sample_tasks(16, t.rng)
    support, query = dist.sample_points(tasks, 10, t.rng), dist.sample_points(tasks, 40, t.rng)
    alpha = float(t.rng.choice([0.01, 0.02]))
    table = adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5))
    assert isinstance(table, dict) and set(table) == set(inits), f"return one row per init: {sorted(inits)}"
    for name, (model, theta, oracle) in inits.items():
        assert len(table[name]) == 3, f"{name}: one value per entry of report_steps (0, 1, 5), got {len(table[name])}"
        t.submit(name, [float(v) for v in table[name]], rtol=1e-4, atol=1e-6)
        curve = adaptation_curve(theta, RegressionBatch(model, *support, *query, tasks, oracle=oracle), alpha,
                                 0 if oracle else 5).mean(1)
        expected = [curve[0 if oracle else s].item() for s in (0, 1, 5)]
        assert np.allclose(table[name], expected, rtol=1e-4, atol=1e-6), (
            f"{name}: expected mean query MSE {np.round(expected, 4).tolist()} after 0 / 1 / 5 steps, "
            f"got {np.round(np.asarray(table[name], dtype=float), 4).tolist()}")

# %% [markdown]
# **The table.** 300 held-out tasks, K = 10 support points, 100 query points, α = 0.01, up to 10 steps
# (95% confidence intervals from the per-task losses in the plot).

# %%
table_fn = fallback(adaptation_table, lambda inits, tasks, support, query, alpha, report_steps=(0, 1, 5): {
    name: [adaptation_curve(th, RegressionBatch(m, *support, *query, tasks, oracle=o), alpha, max(report_steps)).mean(1)[
        0 if o else s].item() for s in report_steps] for name, (m, th, o) in inits.items()}, "ex4.7")
rng = np.random.default_rng(46)
tasks46 = dist.sample_tasks(300, rng)
support46, query46 = dist.sample_points(tasks46, 10, rng), dist.sample_points(tasks46, 100, rng)
inits46 = {name: (model, theta, config.algo == "oracle") for name, (model, theta, _, config) in shipped_sinusoid.items()}
table46 = table_fn(inits46, tasks46, support46, query46, 0.01, report_steps=(0, 1, 5, 10))
print("init        MSE after 0 / 1 / 5 / 10 steps")
for name, row in table46.items():
    print(f"{name:10s}  " + " / ".join(f"{v:5.2f}" for v in row))
curves46 = {name: adaptation_curve(th, RegressionBatch(m, *support46, *query46, tasks46, oracle=o), 0.01, 0 if o else 10)
            for name, (m, th, o) in inits46.items()}
curves46["oracle"] = curves46["oracle"].expand(11, -1)           # not adapted: the same loss at every step
fig, ax = new_figure()
plot_adaptation_curve(ax, range(11), curves46, log_y=True, title="300 held-out tasks, K = 10, α = 0.01 (± 95% CI)")
ax.set_xlabel("gradient steps on the support points")
plt.show()

# %% [markdown]
# ## Exercise 4.8 — a derivation, checked numerically (3 points)
#
# Take one parameter θ and two 1-D quadratics,
#
# $$L_s(\theta) = \tfrac12 a(\theta - b)^2, \qquad L_q(\theta) = \tfrac12 c(\theta - d)^2, \qquad a, c > 0,$$
#
# k inner steps θ_{j+1} = θ_j − α L_s'(θ_j), and the MAML objective F(θ) = L_q(θ_k). **On paper**,
# derive (i) θ_k as a function of θ (start with k = 1: θ_1 − b = ? · (θ − b)), (ii) F′(θ) by the chain
# rule, and (iii) the θ that minimises F when αa ≠ 1. Then implement your formulas — **no autograd**;
# they must work elementwise on NumPy arrays. Return `(F′(θ), argmin F)`. The graded cell compares
# them with autograd; exercise 4.9 asks for the derivation.

# %%
# EXERCISE ex4.8: quadratic_maml_closed_form
def quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps):
    """(F'(θ), argmin_θ F) for F(θ) = ½c(θ_k − d)², θ_k = `steps` gradient steps on ½a(θ − b)² (elementwise)."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 4.8: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 4.8?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Start with one step (Exercise 4.8): write θ_1 − b in terms of θ − b; k steps repeat the same factor.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# With r = (1 − αa)^k, θ_k = b + r(θ − b); by the chain rule F′(θ) = c(θ_k − d) · dθ_k/dθ, and dθ_k/dθ is r.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# F ≥ 0 is smallest (zero) where the adapted point hits d: solve b + r(θ − b) = d for θ. Plain NumPy arithmetic works elementwise.
#
# </details>

# %%
# GRADED TEST: ex4.8 quadratic_maml_closed_form (3 points)
# MUST NOT CALL: course_lib.inner.inner_update, course_lib.toy.closed_form_directions, course_lib.toy.maml_minimizer
with graded("ex4.8") as t:
    n = 50
    theta, b, d = (t.rng.normal(size=n) for _ in range(3))
    a, c = t.rng.uniform(0.5, 3.0, size=n), t.rng.uniform(0.5, 3.0, size=n)
    alpha = float(t.rng.uniform(0.05, 0.3))                     # αa ≤ 0.9: 1 − αa ≠ 0

    def F(th, steps):                                           # autograd's F, elementwise over the n problems
        x = th
        for _ in range(steps):
            (g,) = torch.autograd.grad((0.5 * torch.tensor(a) * (x - torch.tensor(b)) ** 2).sum(), x, create_graph=True)
            x = x - alpha * g
        return 0.5 * torch.tensor(c) * (x - torch.tensor(d)) ** 2

    for steps in (1, 3):
        grad, argmin = quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps)
        grad, argmin = np.asarray(grad, dtype=float), np.asarray(argmin, dtype=float)
        assert grad.shape == (n,) and argmin.shape == (n,), "work elementwise: one value per problem"
        t.submit(f"k = {steps}: F'(θ)", grad, rtol=1e-9, atol=1e-12)
        t.submit(f"k = {steps}: argmin F", argmin, rtol=1e-9, atol=1e-12)
        x = torch.tensor(theta, requires_grad=True)
        (auto,) = torch.autograd.grad(F(x, steps).sum(), x)
        assert np.allclose(grad, auto.numpy(), rtol=1e-9, atol=1e-12), (
            f"k = {steps}: F'(θ) disagrees with autograd (first entry: yours {grad[0]:.6f}, autograd {auto[0].item():.6f})")
        x = torch.tensor(argmin, requires_grad=True)
        (at_min,) = torch.autograd.grad(F(x, steps).sum(), x)
        assert np.allclose(at_min.numpy(), 0, atol=1e-9) and np.allclose(F(x, steps).detach().numpy(), 0, atol=1e-12), \
            f"k = {steps}: F must be 0 (and flat) at your argmin: the adapted point θ_k must land exactly on d"

# %% [markdown]
# **What α does to the 1-D problem** (a = 2, b = 0, c = 1, d = 1, θ = 0.5, one step): F′ changes sign
# at α = 1/a, where one step lands on b from every θ (F is flat: nothing to meta-learn); beyond 2/a
# the inner step overshoots further than it started. Read your formula against the curve.

# %%
alphas47 = np.linspace(0.0, 1.2, 241)
try:
    if ready("ex4.8"):
        with np.errstate(divide="ignore"):              # argmin F does not exist at α = 1/a
            grads47, _ = quadratic_maml_closed_form(np.full_like(alphas47, 0.5), 2.0, 0.0, 1.0, 1.0, alphas47, 1)
        fig, ax = new_figure()
        ax.plot(alphas47, grads47, label="F′(θ = 0.5), one step")
        for x, text in ((0.5, "α = 1/a"), (1.0, "α = 2/a")):
            ax.axvline(x, color="gray", ls=":")
            ax.text(x, 0.9 * ax.get_ylim()[1], " " + text)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xlabel("inner step size α")
        ax.set_title("One-step MAML on ½a(θ−b)² → ½c(θ−d)², a = 2, b = 0, c = d = 1")
        ax.legend()
        plt.show()
except NotImplementedError:
    print("⚠ Exercise 4.8 is not done yet — the plot appears once quadratic_maml_closed_form works.")

# %% [markdown]
# ## Exercise 4.9 — the derivation and what it says about α (written, 4 points)
#
# **GRADED BY HAND: ex4.9 derivation_and_alpha (4 points)**
#
# In the answer cell below (formulas in Markdown/LaTeX are fine, about 150–250 words):
# 1. Derive θ_k, F′(θ) and argmin F for exercise 4.8, showing the steps.
# 2. Which factor in F′ is the (I − α∇²L_s) of the general MAML gradient, and what does first-order
#    MAML return instead? Does it have the same minimiser *for this single task*? Why might that change
#    with several tasks?
# 3. What happens at α = 1/a, for 1/a < α < 2/a, and for α > 2/a? Connect this with the α < 2/λ_max
#    rule and the sweep of exercise 4.3.

# %% [markdown]
# **Your answer (ex4.9):**
#
# YOUR ANSWER HERE

# %% [markdown]
# ## Exercise 4.10 — what you measured (written, 4 points)
#
# **GRADED BY HAND: ex4.10 what_you_measured (4 points)**
#
# Answer from **your** outputs above (quote the numbers), about 200–300 words:
# 1. (4.1, 4.7) Why does the pretrained network not adapt, even with a ten times larger α, while MAML
#    does? Where does MAML sit between the random and the oracle rows, and what would it take to close
#    the rest of the gap?
# 2. (4.5) What slope did you fit, at the MAML θ and at a random θ? What does it mean for choosing the
#    meta-batch size — and what does a larger meta-batch cost?
# 3. (4.6) How does the peak memory of MAML, FOMAML and Reptile grow with k, and why? When is first
#    order enough (notebooks 05 and 09)?

# %% [markdown]
# **Your answer (ex4.10):**
#
# YOUR ANSWER HERE

# %% [markdown]
# ## Takeaways
#
# * Pretraining on many tasks learns their average; MAML learns a starting point for a given number
#   of steps and step size. Only the loss *after* adaptation shows the difference.
# * The k-step meta-gradient is a product of (I − α∇²L_s(θ_j)) factors, applied right to left with
#   Hessian-vector products; check every hand-written gradient with central differences in float64.
# * α must stay below 2/λ_max; learned by the meta-gradient (with respect to log α), it finds that range by
#   itself. The 1/B law says how much a meta-batch of B tasks buys.
# * Second order costs memory that grows with k; first order and Reptile do not — measure before choosing.
# * Compare against random, pretrained and oracle on the same held-out tasks and the same K.
