# Realistic wrong answers to Exercises 4 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace (torch, np, RegressionBatch, meta_gradient,
# DIVERGED_FACTOR, ... come from its setup cell).

# %% BUG ex4.1: records the support loss instead of the query loss
def losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    theta = params
    losses = [support_loss(theta).item()]
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(theta), list(theta.values()))
        theta = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(theta.items(), grads)}
        losses.append(support_loss(theta).item())
    return losses

# %% BUG ex4.1: forgets the loss before adapting (steps values, not steps + 1)
def losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    theta, losses = params, []
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(theta), list(theta.values()))
        theta = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(theta.items(), grads)}
        losses.append(query_loss(theta).item())
    return losses

# %% BUG ex4.1: adapts on the query points (the score leaks into the inner loop)
def losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    theta = params
    losses = [query_loss(theta).item()]
    for _ in range(steps):
        grads = torch.autograd.grad(query_loss(theta), list(theta.values()))
        theta = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(theta.items(), grads)}
        losses.append(query_loss(theta).item())
    return losses

# %% BUG ex4.1: updates the parameters in place (the caller's θ is adapted too)
def losses_during_adaptation(params, support_loss, query_loss, alpha, steps):
    losses = [query_loss(params).item()]
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(params), list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p -= alpha * g
        losses.append(query_loss(params).item())
    return losses

# %% BUG ex4.2: applies the factors left to right (Hessians from θ_0 first)
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    points = [{k: v.detach().requires_grad_(True) for k, v in theta.items()}]
    for _ in range(steps):
        p = points[-1]
        grads = torch.autograd.grad(support_loss(p), list(p.values()))
        points.append({k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)})
    v = torch.autograd.grad(query_loss(points[-1]), list(points[-1].values()))
    for p in points[:-1]:
        grads = torch.autograd.grad(support_loss(p), list(p.values()), create_graph=True)
        hv = torch.autograd.grad(grads, list(p.values()), grad_outputs=v)
        v = [vi - alpha * h for vi, h in zip(v, hv)]
    return dict(zip(theta, v))

# %% BUG ex4.2: every Hessian taken at θ_0 ((I − α∇²L_s(θ))^k ∇L_q(θ_k))
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    p0 = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    p = p0
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(p), list(p.values()))
        p = {k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)}
    v = torch.autograd.grad(query_loss(p), list(p.values()))
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(p0), list(p0.values()), create_graph=True)
        hv = torch.autograd.grad(grads, list(p0.values()), grad_outputs=v)
        v = [vi - alpha * h for vi, h in zip(v, hv)]
    return dict(zip(theta, v))

# %% BUG ex4.2: the Hessian of the query loss instead of the support loss
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    points = [{k: v.detach().requires_grad_(True) for k, v in theta.items()}]
    for _ in range(steps):
        p = points[-1]
        grads = torch.autograd.grad(support_loss(p), list(p.values()))
        points.append({k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)})
    v = torch.autograd.grad(query_loss(points[-1]), list(points[-1].values()))
    for p in reversed(points[:-1]):
        grads = torch.autograd.grad(query_loss(p), list(p.values()), create_graph=True)
        hv = torch.autograd.grad(grads, list(p.values()), grad_outputs=v)
        v = [vi - alpha * h for vi, h in zip(v, hv)]
    return dict(zip(theta, v))

# %% BUG ex4.2: drops the Hessian terms (returns the first-order gradient ∇L_q(θ_k))
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    p = {k: v.detach().requires_grad_(True) for k, v in theta.items()}
    for _ in range(steps):
        grads = torch.autograd.grad(support_loss(p), list(p.values()))
        p = {k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(query_loss(p), list(p.values()))))

# %% BUG ex4.2: the Hessians at the adapted points θ_1 … θ_k (off by one)
def maml_gradient_hvp(theta, support_loss, query_loss, alpha, steps):
    points = [{k: v.detach().requires_grad_(True) for k, v in theta.items()}]
    for _ in range(steps):
        p = points[-1]
        grads = torch.autograd.grad(support_loss(p), list(p.values()))
        points.append({k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)})
    v = torch.autograd.grad(query_loss(points[-1]), list(points[-1].values()))
    for p in reversed(points[1:]):
        grads = torch.autograd.grad(support_loss(p), list(p.values()), create_graph=True)
        hv = torch.autograd.grad(grads, list(p.values()), grad_outputs=v)
        v = [vi - alpha * h for vi, h in zip(v, hv)]
    return dict(zip(theta, v))

# %% BUG ex4.3: forgets non-finite losses (nan > x is False, so nan tasks do not count)
def alpha_sweep(theta, task_losses, alphas, steps):
    final, diverged = torch.zeros(len(alphas), len(task_losses), dtype=torch.float64), []
    for i, alpha in enumerate(alphas):
        count = 0
        for j, loss_fn in enumerate(task_losses):
            before = loss_fn(theta).detach()
            p = theta
            for _ in range(steps):
                grads = torch.autograd.grad(loss_fn(p), list(p.values()))
                p = {k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)}
            after = loss_fn(p).detach()
            final[i, j] = after.double()
            count += int(after > DIVERGED_FACTOR * before)
        diverged.append(count)
    return final, diverged

# %% BUG ex4.3: compares with the mean loss before over all tasks, not each task's own
def alpha_sweep(theta, task_losses, alphas, steps):
    final, diverged = torch.zeros(len(alphas), len(task_losses), dtype=torch.float64), []
    before = torch.stack([loss_fn(theta).detach() for loss_fn in task_losses]).mean()
    for i, alpha in enumerate(alphas):
        count = 0
        for j, loss_fn in enumerate(task_losses):
            p = theta
            for _ in range(steps):
                grads = torch.autograd.grad(loss_fn(p), list(p.values()))
                p = {k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)}
            after = loss_fn(p).detach()
            final[i, j] = after.double()
            count += int(not torch.isfinite(after) or after > DIVERGED_FACTOR * before)
        diverged.append(count)
    return final, diverged

# %% BUG ex4.3: does not restart from θ for each α (continues from the previous α's end point)
def alpha_sweep(theta, task_losses, alphas, steps):
    final, diverged = torch.zeros(len(alphas), len(task_losses), dtype=torch.float64), []
    starts = [theta for _ in task_losses]
    for i, alpha in enumerate(alphas):
        count = 0
        for j, loss_fn in enumerate(task_losses):
            before = loss_fn(theta).detach()
            p = starts[j]
            for _ in range(steps):
                grads = torch.autograd.grad(loss_fn(p), list(p.values()))
                p = {k: (x - alpha * g).detach().requires_grad_(True) for (k, x), g in zip(p.items(), grads)}
            starts[j] = p
            after = loss_fn(p).detach()
            final[i, j] = after.double()
            count += int(not torch.isfinite(after) or after > DIVERGED_FACTOR * before)
        diverged.append(count)
    return final, diverged

# %% BUG ex4.3: one step whatever `steps` says
def alpha_sweep(theta, task_losses, alphas, steps):
    final, diverged = torch.zeros(len(alphas), len(task_losses), dtype=torch.float64), []
    for i, alpha in enumerate(alphas):
        count = 0
        for j, loss_fn in enumerate(task_losses):
            before = loss_fn(theta).detach()
            grads = torch.autograd.grad(loss_fn(theta), list(theta.values()))
            p = {k: (x - alpha * g).detach() for (k, x), g in zip(theta.items(), grads)}
            after = loss_fn(p).detach()
            final[i, j] = after.double()
            count += int(not torch.isfinite(after) or after > DIVERGED_FACTOR * before)
        diverged.append(count)
    return final, diverged

# %% BUG ex4.4: returns dF/dα instead of dF/dlog α (forgets the chain rule's factor α)
def log_alpha_meta_gradient(theta, tasks, log_alpha, steps=1):
    dtype = next(iter(theta.values())).dtype
    alpha = torch.tensor(float(np.exp(log_alpha)), dtype=dtype, requires_grad=True)
    start = detached(theta, requires_grad=True)
    F = torch.stack([query_loss(inner_update(start, support_loss, alpha, steps))
                     for support_loss, query_loss in tasks]).mean()
    (grad,) = torch.autograd.grad(F, alpha)
    return F.item(), grad.item()

# %% BUG ex4.4: no graph through the inner gradients (first_order=True: right for one step, wrong for k ≥ 2)
def log_alpha_meta_gradient(theta, tasks, log_alpha, steps=1):
    dtype = next(iter(theta.values())).dtype
    log_a = torch.tensor(float(log_alpha), dtype=dtype, requires_grad=True)
    start = detached(theta, requires_grad=True)
    F = torch.stack([query_loss(inner_update(start, support_loss, log_a.exp(), steps, first_order=True))
                     for support_loss, query_loss in tasks]).mean()
    (grad,) = torch.autograd.grad(F, log_a)
    return F.item(), grad.item()

# %% BUG ex4.4: sums the query losses over the tasks instead of averaging them
def log_alpha_meta_gradient(theta, tasks, log_alpha, steps=1):
    dtype = next(iter(theta.values())).dtype
    log_a = torch.tensor(float(log_alpha), dtype=dtype, requires_grad=True)
    start = detached(theta, requires_grad=True)
    F = sum(query_loss(inner_update(start, support_loss, log_a.exp(), steps)) for support_loss, query_loss in tasks)
    (grad,) = torch.autograd.grad(F, log_a)
    return F.item(), grad.item()

# %% BUG ex4.5: sums the B gradients instead of averaging them (slope +1)
def variance_vs_batch_size(task_grads, batch_sizes):
    n, p = task_grads.shape
    variances = torch.stack([task_grads[: (n // b) * b].reshape(n // b, b, p).sum(1).var(0).sum() for b in batch_sizes])
    slope = np.polyfit(np.log(np.asarray(batch_sizes, dtype=float)), np.log(variances.double().numpy()), 1)[0]
    return variances, float(slope)

# %% BUG ex4.5: the variance across coordinates of each group mean, averaged over groups (wrong axis)
def variance_vs_batch_size(task_grads, batch_sizes):
    n, p = task_grads.shape
    variances = torch.stack([task_grads[: (n // b) * b].reshape(n // b, b, p).mean(1).var(1).mean() for b in batch_sizes])
    slope = np.polyfit(np.log(np.asarray(batch_sizes, dtype=float)), np.log(variances.double().numpy()), 1)[0]
    return variances, float(slope)

# %% BUG ex4.5: fits the line on linear axes (var against B), not log-log
def variance_vs_batch_size(task_grads, batch_sizes):
    n, p = task_grads.shape
    variances = torch.stack([task_grads[: (n // b) * b].reshape(n // b, b, p).mean(1).var(0).sum() for b in batch_sizes])
    slope = np.polyfit(np.asarray(batch_sizes, dtype=float), variances.double().numpy(), 1)[0]
    return variances, float(slope)

# %% BUG ex4.5: the variance of the gradient's norm instead of the total variance
def variance_vs_batch_size(task_grads, batch_sizes):
    n, p = task_grads.shape
    variances = torch.stack([task_grads[: (n // b) * b].reshape(n // b, b, p).mean(1).norm(dim=1).var() for b in batch_sizes])
    slope = np.polyfit(np.log(np.asarray(batch_sizes, dtype=float)), np.log(variances.double().numpy()), 1)[0]
    return variances, float(slope)

# %% BUG ex4.6: never subtracts released tensors (the total ever saved, not the peak alive)
def meta_step_cost(theta, tasks, alpha, steps, method, context_dim=None):
    total = count = 0

    def pack(x):
        nonlocal total, count
        total += x.numel() * x.element_size()
        count += 1
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        grad = meta_gradient(theta, tasks, alpha, steps, method, context_dim)
    return {"grad": grad, "saved_tensors": count, "peak_saved_bytes": total}

# %% BUG ex4.6: counts elements, not bytes (forgets element_size)
def meta_step_cost(theta, tasks, alpha, steps, method, context_dim=None):
    live = peak = count = 0

    class Saved:
        def __init__(self, x):
            nonlocal live, peak, count
            self.x, self.n = x, x.numel()
            live += self.n
            peak = max(peak, live)
            count += 1

        def __del__(self):
            nonlocal live
            live -= self.n

    with torch.autograd.graph.saved_tensors_hooks(Saved, lambda saved: saved.x):
        grad = meta_gradient(theta, tasks, alpha, steps, method, context_dim)
    return {"grad": grad, "saved_tensors": count, "peak_saved_bytes": peak}

# %% BUG ex4.6: reports the bytes still alive after the call (0), not the peak
def meta_step_cost(theta, tasks, alpha, steps, method, context_dim=None):
    live = count = 0

    class Saved:
        def __init__(self, x):
            nonlocal live, count
            self.x, self.nbytes = x, x.numel() * x.element_size()
            live += self.nbytes
            count += 1

        def __del__(self):
            nonlocal live
            live -= self.nbytes

    with torch.autograd.graph.saved_tensors_hooks(Saved, lambda saved: saved.x):
        grad = meta_gradient(theta, tasks, alpha, steps, method, context_dim)
    return {"grad": grad, "saved_tensors": count, "peak_saved_bytes": live}

# %% BUG ex4.7: adapts on the query points (the score leaks into adaptation)
def adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5)):
    table = {}
    for name, (model, theta, oracle) in inits.items():
        batch = RegressionBatch(model, *support, *query, tasks, oracle=oracle)
        params = {k: v.detach().expand(batch.n_tasks, *v.shape).clone().requires_grad_(True) for k, v in theta.items()}
        row = []
        for s in range(max(report_steps) + 1):
            if s in report_steps:
                row.append(batch.query_loss(params).mean().item())
            if s < max(report_steps) and not oracle:
                grads = torch.autograd.grad(batch.query_loss(params).sum(), list(params.values()))
                params = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(params.items(), grads)}
        table[name] = row
    return table

# %% BUG ex4.7: the mean of the per-task losses as the inner objective (each task's step is α/T)
def adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5)):
    table = {}
    for name, (model, theta, oracle) in inits.items():
        batch = RegressionBatch(model, *support, *query, tasks, oracle=oracle)
        params = {k: v.detach().expand(batch.n_tasks, *v.shape).clone().requires_grad_(True) for k, v in theta.items()}
        row = []
        for s in range(max(report_steps) + 1):
            if s in report_steps:
                row.append(batch.query_loss(params).mean().item())
            if s < max(report_steps) and not oracle:
                grads = torch.autograd.grad(batch.support_loss(params).mean(), list(params.values()))
                params = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(params.items(), grads)}
        table[name] = row
    return table

# %% BUG ex4.7: one shared θ adapted on all tasks' support points together (that is pretraining, not adaptation)
def adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5)):
    table = {}
    for name, (model, theta, oracle) in inits.items():
        batch = RegressionBatch(model, *support, *query, tasks, oracle=oracle)
        shared = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
        row = []
        for s in range(max(report_steps) + 1):
            params = {k: v.expand(batch.n_tasks, *v.shape) for k, v in shared.items()}
            if s in report_steps:
                row.append(batch.query_loss(params).mean().item())
            if s < max(report_steps) and not oracle:
                grads = torch.autograd.grad(batch.support_loss(params).mean(), list(shared.values()))
                shared = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(shared.items(), grads)}
        table[name] = row
    return table

# %% BUG ex4.7: records after the step instead of before (off by one)
def adaptation_table(inits, tasks, support, query, alpha, report_steps=(0, 1, 5)):
    table = {}
    for name, (model, theta, oracle) in inits.items():
        batch = RegressionBatch(model, *support, *query, tasks, oracle=oracle)
        params = {k: v.detach().expand(batch.n_tasks, *v.shape).clone().requires_grad_(True) for k, v in theta.items()}
        row = []
        for s in range(max(report_steps) + 1):
            if not oracle:
                grads = torch.autograd.grad(batch.support_loss(params).sum(), list(params.values()))
                params = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(params.items(), grads)}
            if s in report_steps:
                row.append(batch.query_loss(params).mean().item())
        table[name] = row
    return table

# %% BUG ex4.8: forgets the chain rule's factor (1 − αa)^k (the first-order gradient)
def quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps):
    r = (1 - alpha * a) ** steps
    theta_k = b + r * (theta - b)
    return c * (theta_k - d), b + (d - b) / r

# %% BUG ex4.8: the query curvature in the Jacobian, (1 − αc)^k
def quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps):
    r = (1 - alpha * a) ** steps
    theta_k = b + r * (theta - b)
    return c * (1 - alpha * c) ** steps * (theta_k - d), b + (d - b) / r

# %% BUG ex4.8: the minimiser taken as the query minimum d (θ itself should land on d)
def quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps):
    r = (1 - alpha * a) ** steps
    theta_k = b + r * (theta - b)
    return c * r * (theta_k - d), d + 0 * theta

# %% BUG ex4.8: one step whatever `steps` says
def quadratic_maml_closed_form(theta, a, b, c, d, alpha, steps):
    r = 1 - alpha * a
    theta_k = b + r * (theta - b)
    return c * r * (theta_k - d), b + (d - b) / r
