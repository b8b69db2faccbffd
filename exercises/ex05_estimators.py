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
# # Exercises 5 · The MAML-RL meta-gradient, unbiased: DiCE's magic box, checked against the exact gradient
#
# **Learning objectives.** After these exercises you can
# 1. write DiCE's **magic box** 𝒳(W) = exp(W − ⊥W) and show that it is 1 in value and ∇W in gradient —
#    at the second order too, where its look-alikes fail;
# 2. write the **DiCE objective** of MAML-RL on a tabular MDP — a magic box on the pre-update episodes 𝒟
#    and one on each post-update episode — and check that its expected gradient **is** the exact
#    meta-gradient, computed by enumerating every trajectory;
# 3. compute the paper's estimator's **bias** as the score-function term of the pre-update episodes
#    (optional);
# 4. say, from your measurements, which estimator you would train with, and what it would cost.
#
# **Prerequisites.** [Notebook 11](../notebooks/11_meta_gradient_estimators.ipynb) (the estimators on the
# tabular MDP); notebook 04, section 3 (the meta-gradient in full); exercises 2 (`ex02_meta_rl`: the
# REINFORCE loss and one-step adaptation).
#
# **Run time.** About 10 s on a 2-core CPU (Run All; measured: 5 s).
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
# implementation (and say so), so you can always run the whole notebook.
#
# | exercise | what | points |
# |---|---|---|
# | 5.1 | `magic_box`: 𝒳(W) = exp(W − ⊥W), value 1, gradient ∇W (and the second derivative) | 2 |
# | 5.2 | `dice_objective`: DiCE for the tabular MDP's MAML objective; its expected gradient = the exact ∇𝒥 | 4 |
# | 5.3 | `score_function_term` (optional): the paper's bias, E[J(θ′) ∇log p_θ(𝒟)], exactly | 2 |
# | 5.4 | written: which estimator would you train with? (graded by hand) | 4 |
#
# **The MDP** (`course_lib.tasks.tabular`, notebook 11): 3 states × 2 actions, deterministic moves, start
# in state 0, horizon H (2 or 3 steps), two tasks, each paying 1 whenever a step lands on its goal state;
# a softmax table θ = {"logits": [3, 2]}. One inner REINFORCE step on K = 2 pre-update episodes 𝒟,
# θ′ = θ − α∇L̂(θ; 𝒟), then N′ = 2 post-update episodes 𝒟′ sampled with θ′. The objective
#
# $$\mathcal J(\theta) = \tfrac12\sum_k \sum_{\mathcal D} p_\theta(\mathcal D)\,J_k(\theta'(\theta, \mathcal D)),
# \qquad J_k(\phi) = \mathbb E_{\tau\sim\pi_\phi}[R_k(\tau)],$$
#
# is a finite sum, so `tb.exact_meta_gradient` gives ∇𝒥 exactly, and `tb.expected_estimate(f, …)` gives
# the exact expectation of the gradient of any per-draw surrogate f over all (task, 𝒟, 𝒟′).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch

from course_lib.checks import FAILED, fallback, graded
from course_lib.functional import batched
from course_lib.rl.estimators import magic_box as library_magic_box
from course_lib.rl.estimators import meta_surrogate
from course_lib.tasks import tabular as tb
from course_lib.ui.plots import COLORS, OTHER_COLORS, new_figure

torch.set_num_threads(1)
N_PRE, N_POST = 2, 2                    # pre- and post-update episodes per task


def random_problem(t):
    """A tabular MAML-RL problem drawn from a graded cell's generator: (mdp, θ, α)."""
    horizon = int(t.rng.choice([2, 3]))
    goals = tuple(int(g) for g in t.rng.choice(3, size=2, replace=False))
    alpha = float(t.rng.uniform(1.0, 3.0))
    mdp = tb.goal_mdp(horizon, goals=goals)
    theta = tb.initial_logits(mdp, scale=float(t.rng.uniform(0.3, 1.0)), seed=t.torch_seed)
    return mdp, theta, alpha


def library_dice_objective(rows, pre, post, alpha):
    """course_lib's DiCE (rl.estimators.meta_surrogate), turned into an objective in the units of 𝒥: the same
    expected gradient as exercise 5.2's, not the same values (for the demonstrations only)."""
    with torch.enable_grad():
        phi = tb.adapt({k: v.detach().requires_grad_(True) for k, v in rows.items()}, pre, alpha, first_order=True)
    old = tb.log_prob({k: v.detach() for k, v in phi.items()}, post)
    return -post.rewards.shape[-1] * meta_surrogate("dice", rows, tb.log_prob, pre, post, old, alpha)


def library_score_function_term(theta, mdp, alpha, n_pre):
    """course_lib's version of exercise 5.3: ∇𝒥 minus its term through the step (for the demonstrations only)."""
    return (tb.exact_meta_gradient(theta, mdp, alpha, n_pre)
            - tb.exact_meta_gradient(theta, mdp, alpha, n_pre, through_sampling=False))


def paper_expectation(theta, mdp, alpha):
    """E[the paper's estimator] exactly, in the units of ∇𝒥 (its surrogate is a loss averaged over H steps)."""
    loss = lambda rows, pre, post, old: meta_surrogate("paper", rows, tb.log_prob, pre, post, old, alpha)
    return -mdp.horizon * tb.expected_estimate(loss, theta, mdp, alpha, N_PRE, N_POST)


def ready(exercise):
    """False after the exercise's graded cell failed in this kernel (a demonstration then skips it)."""
    if exercise in FAILED:
        print(f"⚠ Exercise {exercise[2:]} failed its graded cell — this demonstration runs once it passes.")
        return False
    return True

# %% [markdown]
# ## Exercise 5.1 — the magic box (2 points)
#
# DiCE (Foerster et al. 2018) writes every score-function term with one operator,
#
# $$\mathcal X(W) = \exp\big(W - \bot W\big), \qquad \bot = \text{stop gradient } (\texttt{.detach()}).$$
#
# Its value is $e^0 = 1$, so multiplying by it changes no number; its gradient is
# $\mathcal X(W)\,\nabla W$ — again a box times something — so at every order of differentiation it
# produces the terms of the score-function estimator: $\nabla\big(c\,\mathcal X(W)\big) = c\,\nabla W$ in value,
# and $\nabla^2\big(c\,\mathcal X(W)\big) = c\,(\nabla^2 W + \nabla W\,\nabla W^\top)$.
#
# Write `magic_box(w)` for a tensor `w` of any shape (elementwise). The graded cell checks the value,
# the gradient and the second derivative of $\sum_i c_i\,\mathcal X(W_i)$ with $W_i = \log\mathrm{softmax}(x)_i$.

# %%
# EXERCISE ex5.1: magic_box
def magic_box(w):
    """𝒳(w) = exp(w − stop_grad(w)), elementwise: 1 in value, ∇𝒳(w) = 𝒳(w) ∇w."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 5.1: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 5.1?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# The value must be exactly 1 whatever w is, and the gradient must be the gradient of w: an exponential of something whose value is 0 but whose gradient is ∇w.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# `w.detach()` has w's value and no gradient, so `w - w.detach()` is 0 in value with gradient ∇w. `1 + (w - w.detach())` has the right value and first derivative — but not the right second derivative.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# `return torch.exp(w - w.detach())`.
#
# </details>

# %%
# GRADED TEST: ex5.1 magic_box (2 points)
# MUST NOT CALL: course_lib.rl.estimators.magic_box
with graded("ex5.1") as t:
    x = torch.tensor(t.rng.normal(size=3), dtype=torch.float64, requires_grad=True)
    c = torch.tensor(t.rng.normal(size=3), dtype=torch.float64)
    W = torch.log_softmax(x, 0)                            # three log-probabilities of x
    box = magic_box(W)
    assert isinstance(box, torch.Tensor) and box.shape == W.shape, "return a tensor shaped like w"
    t.submit("value", box, rtol=1e-12, atol=1e-12)
    assert torch.allclose(box, torch.ones_like(box), atol=1e-12), f"𝒳(W) must be 1 in value, got {box.tolist()}"
    assert box.requires_grad, "the result must keep its graph (no .detach() on the result)"
    (grad,) = torch.autograd.grad((c * box).sum(), x, create_graph=True)
    t.submit("gradient", grad, rtol=1e-10, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda v: torch.log_softmax(v, 0), x.detach())           # ∂W_i/∂x
    assert torch.allclose(grad, c @ jac, atol=1e-10), f"∇Σc_i𝒳(W_i) must be Σc_i∇W_i = {(c @ jac).tolist()}, got {grad.tolist()}"
    hess = torch.stack([torch.autograd.grad(grad[j], x, retain_graph=True)[0] for j in range(3)])
    t.submit("second derivative", hess, rtol=1e-10, atol=1e-12)
    second = sum(c[i] * (torch.autograd.functional.hessian(lambda v: torch.log_softmax(v, 0)[i], x.detach())
                         + torch.outer(jac[i], jac[i])) for i in range(3))
    assert torch.allclose(hess, second, atol=1e-10), (
        "the second derivative must be Σc_i(∇²W_i + ∇W_i∇W_iᵀ)"
        + (": yours lacks the ∇W∇Wᵀ products — is the gradient of your box still a box?"
           if torch.allclose(hess, second - sum(c[i] * torch.outer(jac[i], jac[i]) for i in range(3)), atol=1e-10) else ""))

# %% [markdown]
# **What the box does to a score-function estimate.** REINFORCE in one line: with $W = \log\pi_\theta(a)$ for a
# sampled action a and a reward r, $\nabla\big(r\,\mathcal X(W)\big) = r\,\nabla\log\pi_\theta(a)$. Averaged over
# many samples it is the gradient of the expected reward — here on a 3-armed bandit with rewards 1, 2, 3:

# %%
box_fn = fallback(magic_box, library_magic_box, "ex5.1")
logits = torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64, requires_grad=True)
rewards = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
arms = torch.multinomial(torch.softmax(logits, 0).detach(), 100_000, replacement=True,
                         generator=torch.Generator().manual_seed(0))
surrogate = (rewards[arms] * box_fn(torch.log_softmax(logits, 0)[arms])).mean()
(estimate,) = torch.autograd.grad(surrogate, logits)
(exact,) = torch.autograd.grad((torch.softmax(logits, 0) * rewards).sum(), logits)
print(f"value of the surrogate: {surrogate.item():.3f} (the mean sampled reward)")
print(f"∇ of the surrogate, 100 000 samples: {estimate.numpy().round(3)}")
print(f"∇ E[r], exact:                        {exact.numpy().round(3)}")

# %% [markdown]
# ## Exercise 5.2 — the DiCE objective of MAML-RL (4 points)
#
# One sampled draw is a task k, its pre-update episodes 𝒟 (sampled with θ) and post-update episodes 𝒟′
# (sampled with θ′). DiCE's objective for it is
#
# $$\hat{\mathcal J}_{\text{DiCE}}(\theta) = \mathcal X\big(W^{pre}(\theta)\big)\;\cdot\;
# \frac{1}{N'}\sum_{\tau'\in\mathcal D'} \mathcal X\big(W_{\tau'}(\theta'(\theta))\big)\,R_k(\tau'),
# \qquad W^{pre} = \sum_{\tau\in\mathcal D}\sum_t \log\pi_\theta(a_t \mid s_t),
# \quad W_{\tau'} = \sum_t \log\pi_{\theta'}(a'_t \mid s'_t),$$
#
# with θ′(θ) = θ − α∇L̂(θ; 𝒟) *kept in the graph* (second order). Its value is the mean post-update
# return of 𝒟′; the box on each post-update episode gives the REINFORCE gradient of $J_k$ at θ′,
# carried back to θ through the inner step; the box on 𝒟 adds the score-function term that the paper's
# estimator drops. Its expected gradient is exactly ∇𝒥.
#
# Write `dice_objective(rows, pre, post, alpha)` for a batch of draws, one per row:
# * `rows`: θ repeated per draw, {"logits": [R, 3, 2]} (it requires grad);
# * `pre`, `post`: `tb.TabularEpisodes` with fields `obs` [R, N, H, 3] and `actions` [R, N, H, 2] (one-hot),
#   `rewards` [R, N, H], `mask` [R, N, H] (all ones) and `advantages` (reward-to-go);
# * return the objective per draw, shape [R] — to *maximise*, not a loss.
#
# Library pieces you may use: `tb.adapt(rows, pre, alpha)` (θ′ for every row, one REINFORCE step,
# second order) and `tb.log_prob(params, episodes)` (log π(a_t|s_t) per step, [R, N, H]). The graded cell
# checks the values on sampled draws, then the exact expectation of your gradient
# (`tb.expected_estimate`) against ∇𝒥 from `tb.exact_meta_gradient`, on an MDP, θ and α drawn at random.

# %%
# EXERCISE ex5.2: dice_objective
def dice_objective(rows, pre, post, alpha):
    """DiCE's MAML-RL objective per draw, [R]: value = the mean return of 𝒟′, E[∇] = ∇𝒥."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 5.2: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 5.2?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Three ingredients per row: θ′ = tb.adapt(rows, pre, alpha) (keep its graph); the summed log-probabilities of 𝒟 under θ and of each episode of 𝒟′ under θ′; the return R(τ′) of each post-update episode. Then the formula above, with the magic box of 5.1 written inline as torch.exp(w − w.detach()).
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# W^pre = (tb.log_prob(rows, pre) * pre.mask).sum((1, 2)) is one number per row; W_τ′ = (tb.log_prob(phi, post) * post.mask).sum(2) and R = (post.rewards * post.mask).sum(2) are [R, N′]. Box each post episode separately and AVERAGE over 𝒟′; the pre-update box multiplies the whole average.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# `box = lambda w: torch.exp(w - w.detach())`; `return box(w_pre) * (box(w_post) * returns).mean(1)`. If the graded cell says you get only the term through the step, the box on 𝒟 is missing or detached.
#
# </details>

# %%
# GRADED TEST: ex5.2 dice_objective (4 points)
# MUST NOT CALL: course_lib.rl.estimators.meta_surrogate
with graded("ex5.2") as t:
    mdp, theta, alpha = random_problem(t)
    # 1) values on 50 sampled draws: the mean post-update return of each draw's 𝒟′
    rows, pre, post, old = tb.sample_meta_batch(theta, mdp, 50, N_PRE, N_POST, alpha,
                                                generator=torch.Generator().manual_seed(t.torch_seed))
    value = dice_objective(rows, pre, post, alpha)
    assert isinstance(value, torch.Tensor) and value.shape == (50,), f"return one value per row, shape (50,), got {getattr(value, 'shape', value)}"
    t.submit("values on sampled draws", value, rtol=1e-9, atol=1e-12)
    mean_return = post.rewards.sum(-1).mean(1)
    assert torch.allclose(value, mean_return, atol=1e-10), (
        "the value must be the mean return of 𝒟′ (the boxes are 1 in value)"
        + (f": yours is {float((value.detach() / mean_return)[mean_return > 0].mean()):.1f}× that — sum or mean over 𝒟′?"
           if (mean_return > 0).any() else ""))
    # 2) the exact expectation of its gradient, over every (task, 𝒟, 𝒟′), against ∇𝒥
    expected = tb.expected_estimate(lambda r, p, q, o: dice_objective(r, p, q, alpha), theta, mdp, alpha, N_PRE, N_POST)
    t.submit("E[∇ dice_objective]", expected, rtol=1e-7, atol=1e-10)
    exact = tb.exact_meta_gradient(theta, mdp, alpha, N_PRE)
    through_step = tb.exact_meta_gradient(theta, mdp, alpha, N_PRE, through_sampling=False)
    assert torch.allclose(expected, exact, rtol=1e-7, atol=1e-10), (
        f"E[∇ dice_objective] must be ∇𝒥 = {exact[:, 0].tolist()} (column 0), got {expected[:, 0].tolist()}"
        + ("  — that is the term through the step alone: box the pre-update episodes 𝒟 too"
           if torch.allclose(expected, through_step, atol=1e-10) else "")
        + ("  — that is the score-function term alone: θ′ must stay in the graph (no detach)"
           if torch.allclose(expected, exact - through_step, atol=1e-10) else ""))

# %% [markdown]
# **Your DiCE by Monte Carlo, on notebook 11's MDP.** The exact check above averages over every draw. A
# learner has samples: here are 50 000 sampled draws, and the mean of your estimator with its standard
# error beside ∇𝒥 and the paper's expectation (`course_lib`'s version while 5.2 is not done).

# %%
dice_fn = fallback(dice_objective, library_dice_objective, "ex5.2")
mdp11, theta11, alpha11 = tb.goal_mdp(3), tb.initial_logits(tb.goal_mdp(3), seed=0), 2.0
if ready("ex5.2"):
    rows, pre, post, old = tb.sample_meta_batch(theta11, mdp11, 50_000, N_PRE, N_POST, alpha11,
                                                generator=torch.Generator().manual_seed(1))
    per_draw = torch.autograd.grad(dice_fn(rows, pre, post, alpha11).sum(), rows["logits"])[0][:, :, 0]   # g_s per draw
    mean, se = per_draw.mean(0), per_draw.std(0) / len(per_draw) ** 0.5
    exact11 = tb.exact_meta_gradient(theta11, mdp11, alpha11, N_PRE)[:, 0]
    paper11 = paper_expectation(theta11, mdp11, alpha11)[:, 0]
    print(f"{'state':>5} {'∇𝒥 exact':>10} {'DiCE mean ± s.e.':>20} {'(mean − ∇𝒥)/s.e.':>18} {'E[paper]':>10}")
    for s in range(3):
        print(f"{s:>5} {exact11[s]:10.4f} {mean[s]:11.4f} ± {se[s]:.4f} {(mean[s] - exact11[s]) / se[s]:18.1f} {paper11[s]:10.4f}")
    fig, ax = new_figure()
    x = np.arange(3)
    ax.bar(x - 0.25, exact11.numpy(), 0.25, color="black", alpha=0.8, label="∇J, exact")
    ax.bar(x, mean.numpy(), 0.25, yerr=2 * se.numpy(), color=OTHER_COLORS[0], capsize=3,
           label="DiCE, mean of 50 000 draws ± 2 s.e." + (" (course_lib's)" if dice_fn.used_reference else ""))
    ax.bar(x + 0.25, paper11.numpy(), 0.25, color=COLORS["maml"], label="the paper's estimator, exact mean")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(x, [f"state {s}" for s in range(3)])
    ax.set_ylabel("g_s = ∂J/∂θ[s, 0]  (goal visits per episode per logit unit)")
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ## Exercise 5.3 (optional) — the paper's bias is the score-function term (2 points)
#
# The paper's estimator keeps the gradient through the inner step with 𝒟 held fixed. What it misses is
#
# $$\mathbb E_k\,\mathbb E_{\mathcal D\sim p_\theta}\big[J_k(\theta'(\theta,\mathcal D))\,\nabla_\theta\log p_\theta(\mathcal D)\big]
# = \tfrac12\sum_k\sum_{\mathcal D} p_\theta(\mathcal D)\,J_k(\theta')\,\nabla_\theta\log p_\theta(\mathcal D).$$
#
# Write `score_function_term(theta, mdp, alpha, n_pre)`, this sum exactly, as a tensor shaped like
# `theta["logits"]`. Library pieces: `tb.all_batches(mdp, n_pre)` → (episodes for every (task, 𝒟) row,
# each row's task); `course_lib.functional.batched(theta, n)` (θ repeated per row, gradients flow back to
# θ); `tb.batch_log_prob(rows, episodes)` (log p_θ(𝒟) per row); `tb.adapt(rows, episodes, alpha)` (θ′);
# `tb.expected_return(params, mdp, tasks)` ($J_k(\phi)$ per row, exactly). The graded cell compares
# it with ∇𝒥 minus the exact expectation of the paper's estimator.

# %%
# EXERCISE ex5.3: score_function_term
def score_function_term(theta, mdp, alpha, n_pre):
    """E_k E_𝒟[J_k(θ′(θ, 𝒟)) ∇_θ log p_θ(𝒟)] by enumerating every (task, 𝒟), shaped like theta["logits"]."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 5.3: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 5.3?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Enumerate: every (task, 𝒟) row with its probability p_θ(𝒟); per row J_k(θ′) after the step; then a weighted sum of ∇log p_θ(𝒟). Only log p_θ(𝒟) may carry a gradient: the weights p_θ(𝒟) and the values J_k(θ′) are numbers here.
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# `pre, tasks = tb.all_batches(mdp, n_pre)`; `rows = batched(theta, pre.n_tasks)`; `log_p = tb.batch_log_prob(rows, pre)`; `after = tb.expected_return(<θ′ detached>, mdp, tasks)` with θ′ from `tb.adapt(rows, pre, alpha)`.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# Differentiate `(log_p.exp().detach() * after * log_p).sum() / mdp.n_tasks` with respect to `theta["logits"]` (`torch.autograd.grad(…)[0]`): the mean over the tasks, the sum over 𝒟 weighted by p_θ(𝒟).
#
# </details>

# %%
# GRADED TEST: ex5.3 score_function_term (2 points)
# MUST NOT CALL: course_lib.tasks.tabular.exact_meta_gradient, course_lib.tasks.tabular.exact_objective
with graded("ex5.3") as t:
    mdp, theta, alpha = random_problem(t)
    got = score_function_term(theta, mdp, alpha, N_PRE)
    assert isinstance(got, torch.Tensor) and got.shape == theta["logits"].shape, \
        f"return a tensor shaped like theta['logits'] {tuple(theta['logits'].shape)}"
    t.submit("score term", got, rtol=1e-7, atol=1e-10)
    bias = tb.exact_meta_gradient(theta, mdp, alpha, N_PRE) - paper_expectation(theta, mdp, alpha)
    assert torch.allclose(got, bias, rtol=1e-7, atol=1e-10), (
        f"expected ∇𝒥 − E[paper] = {bias[:, 0].tolist()} (column 0), got {got[:, 0].tolist()}"
        + (f"  — {float((got / bias)[bias.abs() > 1e-6].mean()):.2f}× it: a mean over the tasks?"
           if torch.allclose(got, 2 * bias, atol=1e-10) else ""))

# %% [markdown]
# **The bias on notebook 11's MDP, and how it grows with α.** With α → 0 the step does nothing, $J_k(\theta')$
# no longer depends on 𝒟, and the score term averages to zero (E[∇log p_θ(𝒟)] = 0): the bias of the paper's
# estimator is a consequence of adapting.

# %%
score_fn = fallback(score_function_term, library_score_function_term, "ex5.3")
if ready("ex5.3"):
    alphas = [0.25, 0.5, 1.0, 2.0, 3.0, 4.0]
    share = []
    for a in alphas:
        full_a = tb.exact_meta_gradient(theta11, mdp11, a, N_PRE)
        share.append(float(score_fn(theta11, mdp11, a, N_PRE).norm() / full_a.norm()))
    for a, v in zip(alphas, share):
        print(f"α = {a:4.2f}: ‖score term‖ / ‖∇𝒥‖ = {v:6.1%}")
    fig, ax = new_figure()
    ax.plot(alphas, 100 * np.array(share), marker="o", color=COLORS["pretrain"],
            label="score term" + (" (course_lib's)" if score_fn.used_reference else ""))
    ax.set_xlabel("inner step size α (logit units per unit of loss gradient)")
    ax.set_ylabel("‖score term‖ / ‖∇J‖  (%)")
    ax.set_title("What the paper's estimator misses, notebook 11's MDP", fontsize=10)
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ## Exercise 5.4 — which estimator would you train with? (written, 4 points)
#
# **GRADED BY HAND: ex5.4 which_estimator (4 points)**
#
# Answer from **your** outputs above and from notebook 11 (quote the numbers), about 250–400 words:
# 1. (5.2) Your DiCE objective is unbiased. After 50 000 draws, how far is its mean from ∇𝒥, in standard
#    errors? How would its noise change on 2-D navigation (100 steps, 20 episodes per task), and why?
# 2. (5.3) How large is the paper's bias on notebook 11's MDP, and how does it depend on α? Why is it
#    zero at α → 0?
# 3. You must choose the estimator for second-order MAML on HalfCheetahDir (200 steps, 6 action
#    dimensions). Which one would you try first, what does it trade, and what experiment would show that
#    it helps (notebook 11, section 5)?

# %% [markdown]
# **Your answer (ex5.4):**
#
# YOUR ANSWER HERE

# %% [markdown]
# ## Takeaways
#
# * The magic box exp(W − ⊥W) is 1 in value and ∇W in gradient at every order; 1 + W − ⊥W is right
#   only to first order.
# * DiCE's objective for MAML-RL boxes the pre-update episodes and each post-update episode; its expected
#   gradient is ∇𝒥 exactly — checked here against an enumeration, not against another estimator.
# * The paper's estimator misses exactly the score-function term E[J(θ′) ∇log p_θ(𝒟)]; it vanishes as
#   α → 0 and grows with α.
# * Unbiased is not the same as useful: DiCE's variance grows with the horizon and the number of
#   episodes. LVC trades a small bias for a variance near the paper's.
