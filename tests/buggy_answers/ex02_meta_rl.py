# Realistic wrong answers to Exercises 2 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace.

# %% BUG ex2.1: sums rewards from the start of the episode (forward cumulative sum)
def discounted_returns(rewards, mask, gamma):
    return torch.cumsum(rewards * mask, dim=-1) * mask

# %% BUG ex2.1: forgets the discount
def discounted_returns(rewards, mask, gamma):
    return (rewards * mask).flip(-1).cumsum(-1).flip(-1) * mask

# %% BUG ex2.1: discounts by γ^k from the episode start instead of γ^(k−t)
def discounted_returns(rewards, mask, gamma):
    powers = gamma ** torch.arange(rewards.shape[-1], dtype=rewards.dtype)
    return (rewards * mask * powers).flip(-1).cumsum(-1).flip(-1) * mask

# %% BUG ex2.2: δ_t uses V(s_t) where V(s_{t+1}) belongs (off by one)
def gae(rewards, values, mask, gamma, lam=1.0):
    values = values * mask
    deltas = (rewards + gamma * values - values) * mask
    advantages, running = torch.zeros_like(deltas), torch.zeros_like(deltas[..., 0])
    for t in reversed(range(deltas.shape[-1])):
        running = deltas[..., t] + gamma * lam * running
        advantages[..., t] = running
    return advantages * mask

# %% BUG ex2.2: discounts the TD errors by γ instead of γλ
def gae(rewards, values, mask, gamma, lam=1.0):
    values = values * mask
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = (rewards + gamma * next_values - values) * mask
    advantages, running = torch.zeros_like(deltas), torch.zeros_like(deltas[..., 0])
    for t in reversed(range(deltas.shape[-1])):
        running = deltas[..., t] + gamma * running
        advantages[..., t] = running
    return advantages * mask

# %% BUG ex2.2: bootstraps from the baseline's junk values after the end of an episode
def gae(rewards, values, mask, gamma, lam=1.0):
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    deltas = (rewards + gamma * next_values - values) * mask
    advantages, running = torch.zeros_like(deltas), torch.zeros_like(deltas[..., 0])
    for t in reversed(range(deltas.shape[-1])):
        running = deltas[..., t] + gamma * lam * running
        advantages[..., t] = running
    return advantages * mask

# %% BUG ex2.3: the sign (gradient ascent on the loss)
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    advantages = (returns - baseline).detach()
    return (log_prob * advantages * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))

# %% BUG ex2.3: the advantage is not detached (gradient flows into the baseline)
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    return -(log_prob * (returns - baseline) * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))

# %% BUG ex2.3: averages over all steps, including those after the end of an episode
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    advantages = (returns - baseline).detach()
    return -(log_prob * advantages).mean(dim=(1, 2))

# %% BUG ex2.3: adds the baseline instead of subtracting it
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    advantages = (returns + baseline).detach()
    return -(log_prob * advantages * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))

# %% BUG ex2.4: scores the velocity before the step (ignores the action)
def target_velocity_reward(obs, actions, targets):
    return -(obs[..., 0] - targets[:, None, None]) ** 2

# %% BUG ex2.4: forgets to clip the force
def target_velocity_reward(obs, actions, targets):
    return -(obs[..., 0] + DT * actions[..., 0] - targets[:, None, None]) ** 2

# %% BUG ex2.4: a reward with the wrong sign (rewards going away from the target)
def target_velocity_reward(obs, actions, targets):
    v_next = obs[..., 0] + DT * actions[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
    return (v_next - targets[:, None, None]) ** 2

# %% BUG ex2.4: the absolute error instead of the squared error
def target_velocity_reward(obs, actions, targets):
    v_next = obs[..., 0] + DT * actions[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
    return -(v_next - targets[:, None, None]).abs()

# %% BUG ex2.5: averages the per-task losses (every task's step shrinks by 1/T)
def adapt_one_step(policy, theta, episodes, alpha):
    params = batched(theta, episodes.n_tasks)
    grads = torch.autograd.grad(reinforce_loss(policy, params, episodes).mean(), list(params.values()))
    return {k: (p - alpha * g).detach() for (k, p), g in zip(params.items(), grads)}

# %% BUG ex2.5: α with the wrong sign
def adapt_one_step(policy, theta, episodes, alpha):
    params = batched(theta, episodes.n_tasks)
    grads = torch.autograd.grad(reinforce_loss(policy, params, episodes).sum(), list(params.values()))
    return {k: (p + alpha * g).detach() for (k, p), g in zip(params.items(), grads)}

# %% BUG ex2.5: one shared step for all tasks (gradient w.r.t. the unbatched θ)
def adapt_one_step(policy, theta, episodes, alpha):
    params = batched(theta, episodes.n_tasks)
    grads = torch.autograd.grad(reinforce_loss(policy, params, episodes).sum(), list(theta.values()))
    return batched({k: (p - alpha * g).detach() for (k, p), g in zip(theta.items(), grads)}, episodes.n_tasks)

# %% BUG ex2.6: steepest descent (the new direction is just the residual, not conjugate)
def conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    x = torch.zeros_like(b)
    r = b.clone()
    if r @ r == 0:
        return x
    for _ in range(iters):
        Ar = Avp(r)
        step = (r @ r) / (r @ Ar)
        x, r = x + step * r, r - step * Ar
        if r @ r < tol:
            break
    return x

# %% BUG ex2.6: β = rr / rr_new (the ratio upside down)
def conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    if rr == 0:
        return x
    for _ in range(iters):
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x, r = x + step * p, r - step * Ap
        rr_new = r @ r
        if rr_new < tol:
            break
        p, rr = r + (rr / rr_new) * p, rr_new
    return x

# %% BUG ex2.6: the residual updated with the wrong sign
def conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x, r = x + step * p, r + step * Ap
        rr_new = r @ r
        if rr_new < tol:
            break
        p, rr = r + (rr_new / rr) * p, rr_new
    return x

# %% BUG ex2.6: no check for b = 0 (0/0 gives NaN)
def conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x, r = x + step * p, r - step * Ap
        rr_new = r @ r
        p, rr = r + (rr_new / rr) * p, rr_new
    return x

# %% BUG ex2.3: one mean over the valid steps of all tasks together (not one per task)
def reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    advantages = (returns - baseline).detach()
    per_task = -(log_prob * advantages * mask).sum(dim=(1, 2))
    return per_task / mask.sum()

# %% BUG ex2.5: θ' still attached to the graph (not detached)
def adapt_one_step(policy, theta, episodes, alpha):
    params = batched(theta, episodes.n_tasks)
    grads = torch.autograd.grad(reinforce_loss(policy, params, episodes).sum(), list(params.values()))
    return {k: p - alpha * g for (k, p), g in zip(params.items(), grads)}
