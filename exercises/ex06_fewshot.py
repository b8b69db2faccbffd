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
# # Exercises 6 · Few-shot classification: the episode sampler and the conv net's inner step
#
# **Learning objectives.** After these exercises you can
# 1. write the **N-way K-shot episode sampler** of the MAML paper's Omniglot protocol: classes are
#    characters turned by 0/90/180/270° (each turn a class of its own), K support and K_query query
#    drawings per class from *different* drawers, labels given in a new random order every episode;
# 2. write **one second-order inner step** of the conv net for a whole batch of tasks at once
#    (parameters with a leading task dimension), and check that the meta-gradient flows through it;
# 3. explain, from notebook 10's numbers, why MAML beats a pretrained network fine-tuned on one drawing
#    per class.
#
# **Prerequisites.** [Notebook 10](../notebooks/10_few_shot_classification.ipynb) (the data set, the
# protocol, the baselines); exercises 1 (`ex01_meta_gradients`: the functional inner step).
#
# **Run time.** About 15 s on a 2-core CPU (Run All), once the character set is cached.
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
# | 6.1 | `sample_episode`: an N-way K-shot episode with rotation classes and shuffled labels | 4 |
# | 6.2 | `conv_inner_step`: one second-order inner step of the conv net, for a batch of tasks | 3 |
# | 6.3 | written: why does MAML beat fine-tuning at 1-shot? (graded by hand) | 3 |

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checkpoints import shipped
from course_lib.checks import fallback, graded
from course_lib.fewshot.config import load_fewshot, splits
from course_lib.fewshot.model import ClassificationBatch, ConvNet
from course_lib.functional import batched, forward, parameters_of
from course_lib.inner import inner_update
from course_lib.tasks.fewshot import FewShotDistribution

torch.set_num_threads(1)
model, theta, config, _ = load_fewshot(shipped("fewshot_maml"))      # the shipped 5-way 1-shot MAML
_, heldout = splits(config)                                          # its held-out characters


def random_images(t, n_chars, n_drawers):
    """uint8 'drawings' [C, D, 28, 28] drawn from a graded cell's generator (no two alike, none symmetric)."""
    return ((t.rng.random((n_chars, n_drawers, 28, 28)) < 0.2) * 255).astype(np.uint8)


def library_sample_episode(images, n_way, k_shot, k_query, rng):
    """course_lib's sampler with exercise 6.1's signature (for the demonstrations only)."""
    e = FewShotDistribution(images, n_way, k_shot, k_query).sample_episode(rng)
    return e.x_support, e.y_support, e.x_query, e.y_query, e.classes


def library_inner_step(model, params, x_support, y_support, alpha):
    """course_lib's inner step with exercise 6.2's signature (for the demonstrations only)."""
    tasks = ClassificationBatch(model, x_support, y_support, x_support, y_support)
    return inner_update(params, lambda p: tasks.support_loss(p).sum(), alpha, 1)

# %% [markdown]
# ## Exercise 6.1 — the N-way K-shot episode sampler (4 points)
#
# Write `sample_episode(images, n_way, k_shot, k_query, rng)` for `images` uint8 [C, D, 28, 28]
# (C characters, D drawers each) and a NumPy `rng`. Use the rng in **exactly this order**, so that the
# same seed gives the same episode as `course_lib`'s sampler:
#
# 1. **Classes**: `picked = rng.choice(4 * C, n_way, replace=False)`; class `picked[i]` is character
#    `picked[i] // 4` turned by `picked[i] % 4` quarter turns, and it gets **label i** — the labels follow
#    the random order of the draw, so they are shuffled anew in every episode.
#    `classes` is the [N, 2] int array of (character, quarter turns), row = label.
# 2. **Drawers**: `rng.random((n_way, D)).argsort(-1)[:, :k_shot + k_query]` — per class, K + K_query
#    *distinct* drawers; the first K give the support drawings, the rest the query drawings.
# 3. **Turn** every drawing of class i by its quarter turns: `np.rot90(image, turns)` (counter-clockwise).
# 4. **Shuffle** the support set: flatten it class by class ([N, K] → N·K, class-major) with its labels,
#    and reorder both by `rng.random(n_way * k_shot).argsort()`; then the query set the same way, with
#    `rng.random(n_way * k_query).argsort()`.
#
# Return `(x_support, y_support, x_query, y_query, classes)`: x float32 tensors [N·K, 1, 28, 28] in
# [0, 1] (divide by 255), y int64 tensors [N·K] (and [N·K_query] for the query set).

# %%
# EXERCISE ex6.1: sample_episode
def sample_episode(images, n_way, k_shot, k_query, rng):
    """One N-way K-shot episode: (x_support, y_support, x_query, y_query, classes [N, 2])."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 6.1: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 6.1?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# Follow the four steps in order, each with one call to the rng. After step 1, label i belongs to row i of `classes`; after step 2, `images[classes[:, 0, None], drawers]` gathers all drawings at once, shaped [N, K + K_query, 28, 28].
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# Turn class by class: `np.stack([np.rot90(x[i], classes[i, 1], axes=(-2, -1)) for i in range(n_way)])`. The labels before shuffling are `np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)`; split both at K into support and query.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# For each part: `order = rng.random(n).argsort()`, `xs = part.reshape(n, 28, 28)[order]`, `ys = labels.reshape(n)[order]`; then `torch.from_numpy(xs.astype(np.float32) / 255).unsqueeze(1)` and `torch.from_numpy(ys.astype(np.int64))`. Support first, then query.
#
# </details>

# %%
# GRADED TEST: ex6.1 sample_episode (4 points)
# MUST NOT CALL: course_lib.tasks.fewshot._shuffled
with graded("ex6.1") as t:
    n_chars, n_drawers = int(t.rng.integers(3, 9)), int(t.rng.integers(8, 21))
    images = random_images(t, n_chars, n_drawers)
    n_way, k_shot, k_query = int(t.rng.integers(5, 9)), int(t.rng.choice([1, 2, 5])), int(t.rng.integers(1, 4))
    seed = int(t.rng.integers(2 ** 31))
    out = sample_episode(images, n_way, k_shot, k_query, np.random.default_rng(seed))
    assert isinstance(out, tuple) and len(out) == 5, "return (x_support, y_support, x_query, y_query, classes)"
    xs, ys, xq, yq, classes = out
    classes = np.asarray(classes)
    assert tuple(xs.shape) == (n_way * k_shot, 1, 28, 28) and tuple(xq.shape) == (n_way * k_query, 1, 28, 28), \
        f"x_support must be [N·K, 1, 28, 28] = {(n_way * k_shot, 1, 28, 28)}, got {tuple(xs.shape)} (query {tuple(xq.shape)})"
    assert xs.dtype == torch.float32 and ys.dtype == torch.int64, "x: float32 tensors, y: int64 tensors"
    assert classes.shape == (n_way, 2), f"classes must be [N, 2] (character, quarter turns), got {classes.shape}"
    t.submit("x_support", xs, atol=1e-7)
    t.submit("y_support", ys)
    t.submit("x_query", xq, atol=1e-7)
    t.submit("y_query", yq)
    t.submit("classes", classes)
    rng = np.random.default_rng(seed + 1)                  # 20 episodes in a row from one generator
    t.submit("classes of 20 episodes", [np.asarray(sample_episode(images, n_way, k_shot, k_query, rng)[4])
                                        for _ in range(20)])
    # self-checks: the properties an episode must have
    assert 0 <= float(xs.min()) and float(xs.max()) <= 1 and float(xs.max()) == 1.0, "scale the drawings to [0, 1]"
    assert np.bincount(ys.numpy(), minlength=n_way).tolist() == [k_shot] * n_way, \
        f"every label 0..N−1 must have K = {k_shot} support drawings, got counts {np.bincount(ys.numpy()).tolist()}"
    assert np.bincount(yq.numpy(), minlength=n_way).tolist() == [k_query] * n_way, "every label needs K_query query drawings"
    assert len({tuple(c) for c in classes.tolist()}) == n_way, "the N classes of an episode must all differ"
    assert ((0 <= classes[:, 0]) & (classes[:, 0] < n_chars) & (0 <= classes[:, 1]) & (classes[:, 1] < 4)).all(), \
        "classes[i] = (character in 0..C−1, quarter turns in 0..3)"
    for label, (char, turns) in enumerate(classes):
        turned = np.rot90(images[char], turns, axes=(-2, -1)).astype(np.float32) / 255      # every drawer of the class
        used = []
        for x in (xs[ys == label, 0].numpy(), xq[yq == label, 0].numpy()):
            found = [int(np.flatnonzero((turned == img).all((1, 2)))[0]) if (turned == img).all((1, 2)).any() else -1
                     for img in x]
            assert -1 not in found, (f"label {label}: a drawing is not character {char} turned {90 * turns}° by any "
                                     "drawer — one label must keep one class (character and turn) in an episode")
            used.append(found)
        assert len(set(used[0])) == k_shot and not set(used[0]) & set(used[1]), \
            f"label {label}: support and query must come from K + K_query different drawers, got {used}"
    again = sample_episode(images, n_way, k_shot, k_query, np.random.default_rng(seed))
    assert torch.equal(again[0], xs) and torch.equal(again[3], yq), "the same seed must give the same episode"
    library = library_sample_episode(images, n_way, k_shot, k_query, np.random.default_rng(seed))
    assert np.array_equal(np.asarray(library[4]), classes), \
        ("the classes differ from course_lib's for the same seed: draw them with one "
         "rng.choice(4 * C, n_way, replace=False), in the order drawn (label i = i-th drawn)")
    assert torch.equal(library[0], xs) and torch.equal(library[1], ys), \
        "the support set differs from course_lib's for the same seed: check the drawers, the turn and the shuffle (step 2–4)"
    assert torch.equal(library[2], xq) and torch.equal(library[3], yq), "the query set differs from course_lib's for the same seed"

# %% [markdown]
# **Your sampler on the held-out characters.** One 5-way 1-shot episode with 2 query drawings per class
# (`course_lib`'s sampler while 6.1 is not done). Columns are labels; the titles name the class — note the
# turned characters, and that the label of a character changes from episode to episode.

# %%
sampler = fallback(sample_episode, library_sample_episode, "ex6.1")
rng = np.random.default_rng(0)
fig, axes = plt.subplots(2 * 3, 5, figsize=(6.5, 8.6))
for e in range(2):
    xs, ys, xq, yq, classes = sampler(heldout.images, 5, 1, 2, rng)
    for label in range(5):
        for row, img in enumerate([xs[ys == label][0, 0]] + list(xq[yq == label][:, 0])):
            ax = axes[3 * e + row, label]
            ax.imshow(img.numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                char, turns = classes[label]
                ax.set_title(f"episode {e}, label {label}\n{heldout.names[char].split('/')[0][:14]} ↻{90 * turns}°",
                             fontsize=7)
        axes[3 * e, 0].set_ylabel("support", fontsize=8)
        axes[3 * e + 1, 0].set_ylabel("query", fontsize=8)
fig.suptitle("two episodes: the support drawing, then two query drawings by other drawers", fontsize=9)
plt.show()

# %% [markdown]
# ## Exercise 6.2 — one inner step of the conv net, for a batch of tasks (3 points)
#
# In meta-training, every task of a meta-batch adapts its own copy of θ. `course_lib` holds the copies as
# one dict with a **leading task dimension** (`batched(theta, T)`: a view of θ repeated T times, so
# gradients flow back to θ) and runs the network under `vmap` over the tasks:
# `forward(model, params, x, task_batched=True)` maps params {name: [T, …]} and x [T, n, 1, 28, 28] to
# logits [T, n, N]. Batch norm inside is transductive: each task's support set is normalised by its own
# statistics.
#
# Write `conv_inner_step(model, params, x_support, y_support, alpha)`: one step
# $\theta'_i = \theta_i - \alpha\nabla_{\theta_i}\mathcal L_i(\theta_i)$ for every task i at once, where
# $\mathcal L_i$ is the mean cross-entropy of task i's support set. It must be **second order** — θ′
# stays a differentiable function of θ (the meta-gradient of MAML goes through it) — and each task's step
# must use its own gradient only. Return the dict θ′ with the same keys and shapes as `params`.

# %%
# EXERCISE ex6.2: conv_inner_step
def conv_inner_step(model, params, x_support, y_support, alpha):
    """θ′ = θ − α∇L_support(θ) per task (second order): params {name: [T, ...]} → the same, adapted."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 6.2: replace this line with your code (stuck? the hints under this cell open one at a time).")


# %% [markdown]
# **Stuck on exercise 6.2?** Open one hint at a time, and try again before opening the next.
#
# <details><summary>Hint 1 of 3 (click to open)</summary>
#
# One backward pass can give every task its own gradient: if the loss you differentiate is the SUM over tasks of each task's mean support loss, slice i of the gradient with respect to params[name] is task i's gradient alone (task i's copy appears in no other task's loss).
#
# </details>
# <details><summary>Hint 2 of 3</summary>
#
# `logits = forward(model, params, x_support, task_batched=True)` is [T, n, N]; `F.cross_entropy(logits.flatten(0, 1), y_support.flatten(), reduction="none").view(y_support.shape).mean(1)` is the [T] vector of per-task losses. Second order: `torch.autograd.grad(..., create_graph=True)`.
#
# </details>
# <details><summary>Hint 3 of 3</summary>
#
# `grads = torch.autograd.grad(losses.sum(), list(params.values()), create_graph=True)`, then `{name: p - alpha * g for (name, p), g in zip(params.items(), grads)}`. A mean over tasks instead of the sum shrinks every step by 1/T.
#
# </details>

# %%
# GRADED TEST: ex6.2 conv_inner_step (3 points)
# MUST NOT CALL: course_lib.inner.inner_update, course_lib.evaluate.adapted_params
with graded("ex6.2") as t:
    n_tasks, n_way, k_shot = int(t.rng.integers(2, 5)), int(t.rng.integers(3, 6)), int(t.rng.integers(1, 3))
    alpha = float(t.rng.uniform(0.1, 0.6))
    torch.manual_seed(t.torch_seed)
    net = ConvNet(n_way, filters=8).double()
    theta0 = {k: v.detach().clone().requires_grad_(True) for k, v in parameters_of(net).items()}
    draws = FewShotDistribution(random_images(t, 6, 8), n_way, k_shot, 2).sample_batch(n_tasks, t.rng)
    xs, ys, xq, yq = draws.x_support.double(), draws.y_support, draws.x_query.double(), draws.y_query
    tasks = ClassificationBatch(net, xs, ys, xq, yq)
    adapted = conv_inner_step(net, batched(theta0, n_tasks), xs, ys, alpha)
    assert isinstance(adapted, dict) and set(adapted) == set(theta0), f"return a dict with the keys {sorted(theta0)}"
    for name, p in adapted.items():
        assert p.shape == (n_tasks, *theta0[name].shape), f"θ′[{name!r}] must be [T, ...] = {(n_tasks, *theta0[name].shape)}"
    t.submit("θ′", {k: v.detach() for k, v in adapted.items()}, rtol=1e-7, atol=1e-10)
    assert all(p.requires_grad for p in adapted.values()), "θ′ must stay in the graph (no .detach())"
    meta_loss = tasks.query_loss(adapted).mean()
    meta_grad = torch.autograd.grad(meta_loss, list(theta0.values()), allow_unused=True, materialize_grads=True)
    t.submit("meta-gradient through θ′", dict(zip(theta0, meta_grad)), rtol=1e-6, atol=1e-10)
    # self-checks against course_lib's inner_update on the same inputs
    reference = inner_update(batched(theta0, n_tasks), lambda p: tasks.support_loss(p).sum(), alpha, 1)
    worst = max(float((adapted[k] - reference[k]).detach().abs().max()) for k in theta0)
    change = max(float((reference[k] - theta0[k]).detach().abs().max()) for k in theta0)
    assert worst < 1e-9, (f"θ′ differs from course_lib's inner step by up to {worst:.3g} (the step itself is up to "
                          f"{change:.3g})" + (" — is your step 1/T too small? Sum the per-task losses, do not average them"
                                              if abs(worst - change * (1 - 1 / n_tasks)) < 0.05 * change else ""))
    ref_grad = torch.autograd.grad(tasks.query_loss(reference).mean(), list(theta0.values()))
    fo = inner_update(batched(theta0, n_tasks), lambda p: tasks.support_loss(p).sum(), alpha, 1, first_order=True)
    fo_grad = torch.autograd.grad(tasks.query_loss(fo).mean(), list(theta0.values()))
    same = all(torch.allclose(a, b, rtol=1e-6, atol=1e-10) for a, b in zip(meta_grad, ref_grad))
    first = all(torch.allclose(a, b, rtol=1e-6, atol=1e-10) for a, b in zip(meta_grad, fo_grad))
    assert same, ("the meta-gradient through your θ′ differs from second-order MAML's"
                  + (": it is the first-order one — keep the inner gradient's graph (create_graph=True)" if first else ""))

# %% [markdown]
# **Your inner step on the shipped MAML.** 100 held-out 5-way 1-shot tasks, three of your steps with the
# checkpoint's α = 0.4 (`course_lib`'s step while 6.2 is not done): query accuracy after each step.

# %%
step = fallback(conv_inner_step, library_inner_step, "ex6.2")
demo = FewShotDistribution(heldout, 5, 1, 5).sample_batch(100, np.random.default_rng(1))
demo_tasks = ClassificationBatch.of(model, demo)
params = {k: v.detach().requires_grad_(True) for k, v in batched(theta, 100).items()}
accuracy = [demo_tasks.query_accuracy(params).mean().item()]
for _ in range(config.test_steps):
    params = {k: v.detach().requires_grad_(True)
              for k, v in step(model, params, demo.x_support, demo.y_support, config.alpha).items()}
    accuracy.append(demo_tasks.query_accuracy(params).mean().item())
print("query accuracy after 0..3 steps: " + ", ".join(f"{100 * a:.1f}%" for a in accuracy))

# %% [markdown]
# ## Exercise 6.3 — why does MAML beat fine-tuning at 1-shot? (written, 3 points)
#
# **GRADED BY HAND: ex6.3 why_maml_beats_finetuning (3 points)**
#
# In notebook 10 (section 4), on the same held-out 5-way 1-shot tasks, MAML reaches about 99.6% after
# three steps, the pretrained network fine-tuned with a fresh head about 95%, and a nearest-prototype
# rule on the pretrained features about 99%. In about 150–250 words:
# 1. Why does MAML's initialisation classify at chance *before* any step (the demonstration above) and
#    still win after three?
# 2. The prototype rule shows the pretrained features are good. Where, then, does fine-tuning lose?
# 3. Batch norm uses current-batch statistics in both. Why would classifying the query drawings one at a
#    time hurt MAML (notebook 10, section 3)?

# %% [markdown]
# **Your answer (ex6.3):**
#
# YOUR ANSWER HERE

# %% [markdown]
# ## Takeaways
#
# * An episode's classes are (character, quarter turns) pairs drawn without repeats; the labels follow the
#   random order of the draw, so they change from episode to episode; support and query come from
#   different drawers.
# * Every task of a meta-batch adapts its own copy of θ in one backward pass: differentiate the *sum* of
#   the per-task losses with respect to the task-batched parameters, with `create_graph=True` for MAML.
# * MAML's initialisation is at chance before adapting and near-perfect after; a pretrained network has
#   good features but loses them when fine-tuned on one drawing per class.
