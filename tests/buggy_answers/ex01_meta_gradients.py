# Realistic wrong answers to Exercises 1 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace (torch, CONTEXT, ... come from its setup cell).

# %% BUG ex1.1: α with the wrong sign (gradient ascent)
def inner_step(params, loss_fn, alpha, first_order=False):
    grads = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=not first_order)
    return {name: p + alpha * g for (name, p), g in zip(params.items(), grads)}

# %% BUG ex1.1: missing create_graph (second order silently becomes first order)
def inner_step(params, loss_fn, alpha, first_order=False):
    grads = torch.autograd.grad(loss_fn(params), list(params.values()))
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}

# %% BUG ex1.1: always keeps the graph (first_order ignored)
def inner_step(params, loss_fn, alpha, first_order=False):
    grads = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=True)
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}

# %% BUG ex1.1: updates the parameters in place
def inner_step(params, loss_fn, alpha, first_order=False):
    grads = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=not first_order)
    for (name, p), g in zip(params.items(), grads):
        p.data -= alpha * g.detach()
    return params

# %% BUG ex1.2: missing create_graph (returns the first-order gradient)
def maml_meta_gradient(theta, support_loss, query_loss, alpha):
    grads = torch.autograd.grad(support_loss(theta), list(theta.values()))
    adapted = {k: p - alpha * g for (k, p), g in zip(theta.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))

# %% BUG ex1.2: query data leaks into the inner step (adapts on the query loss)
def maml_meta_gradient(theta, support_loss, query_loss, alpha):
    grads = torch.autograd.grad(query_loss(theta), list(theta.values()), create_graph=True)
    adapted = {k: p - alpha * g for (k, p), g in zip(theta.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))

# %% BUG ex1.2: α with the wrong sign
def maml_meta_gradient(theta, support_loss, query_loss, alpha):
    grads = torch.autograd.grad(support_loss(theta), list(theta.values()), create_graph=True)
    adapted = {k: p + alpha * g for (k, p), g in zip(theta.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))

# %% BUG ex1.3: the query gradient at θ instead of θ' (no adaptation: that is pretraining)
def fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    return dict(zip(theta, torch.autograd.grad(query_loss(theta), list(theta.values()))))

# %% BUG ex1.3: keeps the graph and differentiates w.r.t. θ (that is second-order MAML)
def fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    grads = torch.autograd.grad(support_loss(theta), list(theta.values()), create_graph=True)
    adapted = {k: p - alpha * g for (k, p), g in zip(theta.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))

# %% BUG ex1.3: the outer gradient of the support loss (query data never used)
def fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    grads = torch.autograd.grad(support_loss(theta), list(theta.values()))
    adapted = {k: (p - alpha * g).detach().requires_grad_(True) for (k, p), g in zip(theta.items(), grads)}
    return dict(zip(theta, torch.autograd.grad(support_loss(adapted), list(adapted.values()))))

# %% BUG ex1.4: Reptile's update with the wrong sign (moves away from φ)
def reptile_update(theta, task_losses, alpha, steps, epsilon):
    direction = {k: torch.zeros_like(v) for k, v in theta.items()}
    for loss_fn in task_losses:
        phi = theta
        for _ in range(steps):
            grads = torch.autograd.grad(loss_fn(phi), list(phi.values()))
            phi = {k: p - alpha * g for (k, p), g in zip(phi.items(), grads)}
        for k in theta:
            direction[k] += (phi[k] - theta[k]).detach() / len(task_losses)
    return {k: (theta[k].detach() - epsilon * direction[k]).requires_grad_(True) for k in theta}

# %% BUG ex1.4: one inner step whatever `steps` says
def reptile_update(theta, task_losses, alpha, steps, epsilon):
    direction = {k: torch.zeros_like(v) for k, v in theta.items()}
    for loss_fn in task_losses:
        grads = torch.autograd.grad(loss_fn(theta), list(theta.values()))
        for (k, p), g in zip(theta.items(), grads):
            direction[k] += -alpha * g / len(task_losses)
    return {k: (theta[k].detach() + epsilon * direction[k]).requires_grad_(True) for k in theta}

# %% BUG ex1.4: sums φ_i − θ over the tasks instead of averaging
def reptile_update(theta, task_losses, alpha, steps, epsilon):
    direction = {k: torch.zeros_like(v) for k, v in theta.items()}
    for loss_fn in task_losses:
        phi = theta
        for _ in range(steps):
            grads = torch.autograd.grad(loss_fn(phi), list(phi.values()))
            phi = {k: p - alpha * g for (k, p), g in zip(phi.items(), grads)}
        for k in theta:
            direction[k] += (phi[k] - theta[k]).detach()
    return {k: (theta[k].detach() + epsilon * direction[k]).requires_grad_(True) for k in theta}

# %% BUG ex1.5: missing create_graph (the shared weights get no second-order signal)
def cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    phi0 = torch.zeros(context_dim, dtype=next(iter(theta.values())).dtype, requires_grad=True)
    (g,) = torch.autograd.grad(support_loss({**theta, CONTEXT: phi0}), phi0)
    return {**theta, CONTEXT: phi0 - alpha * g}

# %% BUG ex1.5: adapts the shared weights too (that is MAML with a context, not CAVIA)
def cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    phi0 = torch.zeros(context_dim, dtype=next(iter(theta.values())).dtype, requires_grad=True)
    params = {**theta, CONTEXT: phi0}
    grads = torch.autograd.grad(support_loss(params), list(params.values()), create_graph=not first_order)
    return {k: p - alpha * g for (k, p), g in zip(params.items(), grads)}

# %% BUG ex1.5: a random starting context instead of zero
def cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    phi0 = (0.1 * torch.randn(context_dim, dtype=next(iter(theta.values())).dtype)).requires_grad_(True)
    (g,) = torch.autograd.grad(support_loss({**theta, CONTEXT: phi0}), phi0, create_graph=not first_order)
    return {**theta, CONTEXT: phi0 - alpha * g}

# %% BUG ex1.5: α with the wrong sign
def cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    phi0 = torch.zeros(context_dim, dtype=next(iter(theta.values())).dtype, requires_grad=True)
    (g,) = torch.autograd.grad(support_loss({**theta, CONTEXT: phi0}), phi0, create_graph=not first_order)
    return {**theta, CONTEXT: phi0 + alpha * g}

# %% BUG ex1.4: returns θ_new without requires_grad (it cannot be the next θ)
def reptile_update(theta, task_losses, alpha, steps, epsilon):
    direction = {k: torch.zeros_like(v) for k, v in theta.items()}
    for loss_fn in task_losses:
        phi = theta
        for _ in range(steps):
            grads = torch.autograd.grad(loss_fn(phi), list(phi.values()))
            phi = {k: p - alpha * g for (k, p), g in zip(phi.items(), grads)}
        for k in theta:
            direction[k] += (phi[k] - theta[k]).detach() / len(task_losses)
    return {k: theta[k].detach() + epsilon * direction[k] for k in theta}
