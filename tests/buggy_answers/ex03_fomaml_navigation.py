# Realistic wrong answers to Exercises 3 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace.

# %% BUG ex3.1: missing create_graph — "second order" is silently first order
def rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    T = env.n_tasks
    support = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    adapted = inner_update(batched(theta, T), lambda p: reinforce_loss(policy, p, support).sum(), alpha, first_order=True)
    query = with_advantages(sample_episodes(policy, detached(adapted), env, generator), gamma)
    grads = torch.autograd.grad(reinforce_loss(policy, adapted, query).mean(), list(theta.values()))
    return dict(zip(theta, grads)), float(support.total_return().mean()), float(query.total_return().mean())

# %% BUG ex3.1: the query episodes are sampled with θ, not with the adapted policies
def rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    T = env.n_tasks
    support = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    adapted = inner_update(batched(theta, T), lambda p: reinforce_loss(policy, p, support).sum(), alpha,
                           first_order=first_order)
    query = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    grads = torch.autograd.grad(reinforce_loss(policy, adapted, query).mean(), list(theta.values()))
    return dict(zip(theta, grads)), float(support.total_return().mean()), float(query.total_return().mean())

# %% BUG ex3.1: the inner step with α of the wrong sign
def rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    T = env.n_tasks
    support = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    adapted = inner_update(batched(theta, T), lambda p: -reinforce_loss(policy, p, support).sum(), alpha,
                           first_order=first_order)
    query = with_advantages(sample_episodes(policy, detached(adapted), env, generator), gamma)
    grads = torch.autograd.grad(reinforce_loss(policy, adapted, query).mean(), list(theta.values()))
    return dict(zip(theta, grads)), float(support.total_return().mean()), float(query.total_return().mean())

# %% BUG ex3.1: the meta-loss on the support episodes (the query data is never used)
def rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    T = env.n_tasks
    support = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    adapted = inner_update(batched(theta, T), lambda p: reinforce_loss(policy, p, support).sum(), alpha,
                           first_order=first_order)
    query = with_advantages(sample_episodes(policy, detached(adapted), env, generator), gamma)
    grads = torch.autograd.grad(reinforce_loss(policy, adapted, support).mean(), list(theta.values()))
    return dict(zip(theta, grads)), float(support.total_return().mean()), float(query.total_return().mean())

# %% BUG ex3.2: gradient ascent on the meta-loss
def meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    for it in range(config.iterations):
        goals = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, goals, config.episodes, normalize_actions=config.normalize_actions)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order, config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = -g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
    return history

# %% BUG ex3.2: always first order (config.algo ignored)
def meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    for it in range(config.iterations):
        goals = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, goals, config.episodes, normalize_actions=config.normalize_actions)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, True, config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
    return history

# %% BUG ex3.2: samples the goals once and meta-trains on the same tasks every iteration
def meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    goals = NavigationDistribution().sample_tasks(config.meta_batch, rng)
    env = make_batched_env(config.env, goals, config.episodes, normalize_actions=config.normalize_actions)
    for it in range(config.iterations):
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order, config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
    return history

# %% BUG ex3.1: the meta-loss summed over the tasks instead of averaged
def rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    T = env.n_tasks
    support = with_advantages(sample_episodes(policy, batched(detached(theta), T), env, generator), gamma)
    adapted = inner_update(batched(theta, T), lambda p: reinforce_loss(policy, p, support).sum(), alpha,
                           first_order=first_order)
    query = with_advantages(sample_episodes(policy, detached(adapted), env, generator), gamma)
    grads = torch.autograd.grad(reinforce_loss(policy, adapted, query).sum(), list(theta.values()))
    return dict(zip(theta, grads)), float(support.total_return().mean()), float(query.total_return().mean())

# %% BUG ex3.2: does not pass config.gamma (the meta-gradient uses its default γ = 0.99)
def meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    for it in range(config.iterations):
        goals = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, goals, config.episodes, normalize_actions=config.normalize_actions)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
    return history

# %% BUG ex3.2: a fresh generator every iteration (every meta-batch samples with the same noise)
def meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    for it in range(config.iterations):
        goals = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, goals, config.episodes, normalize_actions=config.normalize_actions)
        generator = torch.Generator().manual_seed(config.seed)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order, config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
    return history
