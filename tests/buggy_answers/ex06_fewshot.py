# Realistic wrong answers to Exercises 6 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace (np, torch, F, forward, ... come from its setup cell).

# %% BUG ex6.1: labels not shuffled (classes sorted, so label 0 is always the lowest class index)
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = np.sort(rng.choice(4 * n_chars, n_way, replace=False))
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)[:, :k_shot + k_query]
    x = images[classes[:, 0, None], drawers]
    x = np.stack([np.rot90(x[i], classes[i, 1], axes=(-2, -1)) for i in range(n_way)])
    labels = np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)

    def shuffled(part, part_labels):
        n = part.shape[0] * part.shape[1]
        order = rng.random(n).argsort()
        return (torch.from_numpy(part.reshape(n, 28, 28)[order].astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(part_labels.reshape(n)[order].astype(np.int64)))

    x_support, y_support = shuffled(x[:, :k_shot], labels[:, :k_shot])
    x_query, y_query = shuffled(x[:, k_shot:], labels[:, k_shot:])
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.1: support and query from the same drawers (the query repeats the support drawings)
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = rng.choice(4 * n_chars, n_way, replace=False)
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)
    x = np.stack([np.rot90(images[classes[i, 0]], classes[i, 1], axes=(-2, -1)) for i in range(n_way)])
    support = np.take_along_axis(x, drawers[:, :k_shot, None, None], 1)
    query = np.take_along_axis(x, drawers[:, :k_query, None, None], 1)
    labels = np.arange(n_way)[:, None]

    def shuffled(part):
        n = part.shape[0] * part.shape[1]
        order = rng.random(n).argsort()
        y = np.repeat(labels, part.shape[1], 1).reshape(n)
        return (torch.from_numpy(part.reshape(n, 28, 28)[order].astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(y[order].astype(np.int64)))

    x_support, y_support = shuffled(support)
    x_query, y_query = shuffled(query)
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.1: rotation applied to each drawing at random, not as a new class (an augmentation)
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = rng.choice(4 * n_chars, n_way, replace=False)
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)[:, :k_shot + k_query]
    x = images[classes[:, 0, None], drawers]
    turns = rng.integers(0, 4, size=x.shape[:2])
    x = np.stack([np.stack([np.rot90(x[i, j], turns[i, j]) for j in range(x.shape[1])]) for i in range(n_way)])
    labels = np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)

    def shuffled(part, part_labels):
        n = part.shape[0] * part.shape[1]
        order = rng.random(n).argsort()
        return (torch.from_numpy(part.reshape(n, 28, 28)[order].astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(part_labels.reshape(n)[order].astype(np.int64)))

    x_support, y_support = shuffled(x[:, :k_shot], labels[:, :k_shot])
    x_query, y_query = shuffled(x[:, k_shot:], labels[:, k_shot:])
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.1: drawings not shuffled (the support set comes sorted by label: 0, 0, 1, 1, ...)
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = rng.choice(4 * n_chars, n_way, replace=False)
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)[:, :k_shot + k_query]
    x = images[classes[:, 0, None], drawers]
    x = np.stack([np.rot90(x[i], classes[i, 1], axes=(-2, -1)) for i in range(n_way)])
    labels = np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)

    def flat(part, part_labels):
        n = part.shape[0] * part.shape[1]
        return (torch.from_numpy(part.reshape(n, 28, 28).astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(part_labels.reshape(n).astype(np.int64)))

    x_support, y_support = flat(x[:, :k_shot], labels[:, :k_shot])
    x_query, y_query = flat(x[:, k_shot:], labels[:, k_shot:])
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.1: classes drawn with replacement (two labels can be the same class)
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = rng.choice(4 * n_chars, n_way, replace=True)
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)[:, :k_shot + k_query]
    x = images[classes[:, 0, None], drawers]
    x = np.stack([np.rot90(x[i], classes[i, 1], axes=(-2, -1)) for i in range(n_way)])
    labels = np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)

    def shuffled(part, part_labels):
        n = part.shape[0] * part.shape[1]
        order = rng.random(n).argsort()
        return (torch.from_numpy(part.reshape(n, 28, 28)[order].astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(part_labels.reshape(n)[order].astype(np.int64)))

    x_support, y_support = shuffled(x[:, :k_shot], labels[:, :k_shot])
    x_query, y_query = shuffled(x[:, k_shot:], labels[:, k_shot:])
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.1: the turn clockwise (np.rot90(x, -k)) instead of counter-clockwise
def sample_episode(images, n_way, k_shot, k_query, rng):
    n_chars, n_drawers = images.shape[:2]
    picked = rng.choice(4 * n_chars, n_way, replace=False)
    classes = np.stack([picked // 4, picked % 4], axis=1)
    drawers = rng.random((n_way, n_drawers)).argsort(-1)[:, :k_shot + k_query]
    x = images[classes[:, 0, None], drawers]
    x = np.stack([np.rot90(x[i], -classes[i, 1], axes=(-2, -1)) for i in range(n_way)])
    labels = np.repeat(np.arange(n_way)[:, None], k_shot + k_query, 1)

    def shuffled(part, part_labels):
        n = part.shape[0] * part.shape[1]
        order = rng.random(n).argsort()
        return (torch.from_numpy(part.reshape(n, 28, 28)[order].astype(np.float32) / 255).unsqueeze(1),
                torch.from_numpy(part_labels.reshape(n)[order].astype(np.int64)))

    x_support, y_support = shuffled(x[:, :k_shot], labels[:, :k_shot])
    x_query, y_query = shuffled(x[:, k_shot:], labels[:, k_shot:])
    return x_support, y_support, x_query, y_query, classes

# %% BUG ex6.2: first order (no create_graph): θ′ right, but the meta-gradient skips the Hessian term
def conv_inner_step(model, params, x_support, y_support, alpha):
    logits = forward(model, params, x_support, task_batched=True)
    losses = F.cross_entropy(logits.flatten(0, 1), y_support.flatten(), reduction="none").view(y_support.shape).mean(1)
    grads = torch.autograd.grad(losses.sum(), list(params.values()))
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}

# %% BUG ex6.2: the loss averaged over the tasks (every task's step is 1/T too small)
def conv_inner_step(model, params, x_support, y_support, alpha):
    logits = forward(model, params, x_support, task_batched=True)
    losses = F.cross_entropy(logits.flatten(0, 1), y_support.flatten(), reduction="none").view(y_support.shape).mean(1)
    grads = torch.autograd.grad(losses.mean(), list(params.values()), create_graph=True)
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}

# %% BUG ex6.2: one step shared by all tasks (the gradient averaged over the meta-batch)
def conv_inner_step(model, params, x_support, y_support, alpha):
    logits = forward(model, params, x_support, task_batched=True)
    losses = F.cross_entropy(logits.flatten(0, 1), y_support.flatten(), reduction="none").view(y_support.shape).mean(1)
    grads = torch.autograd.grad(losses.sum(), list(params.values()), create_graph=True)
    return {name: p - alpha * g.mean(0, keepdim=True) for (name, p), g in zip(params.items(), grads)}

# %% BUG ex6.2: the support drawings' cross-entropy summed, not averaged, per task (a step K·N times too long)
def conv_inner_step(model, params, x_support, y_support, alpha):
    logits = forward(model, params, x_support, task_batched=True)
    losses = F.cross_entropy(logits.flatten(0, 1), y_support.flatten(), reduction="none").view(y_support.shape).sum(1)
    grads = torch.autograd.grad(losses.sum(), list(params.values()), create_graph=True)
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}
