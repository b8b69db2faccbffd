# Realistic wrong answers to Exercises 5 (see README.md). Not imported: each block is exec'd in place
# of the exercise cell, in the notebook's namespace (torch, tb, batched, N_PRE, ... come from its setup cell).

# %% BUG ex5.1: no stop-gradient (exp(W) is not 1 in value)
def magic_box(w):
    return torch.exp(w)

# %% BUG ex5.1: 1 + W − ⊥W (value 1 and first derivative right, second derivative wrong)
def magic_box(w):
    return 1 + w - w.detach()

# %% BUG ex5.1: the stop-gradient on the wrong side (exp(⊥W − W): the gradient's sign flips)
def magic_box(w):
    return torch.exp(w.detach() - w)

# %% BUG ex5.1: LVC's ratio W / ⊥W instead of the box (gradient ∇W / W)
def magic_box(w):
    return w / w.detach()

# %% BUG ex5.1: the whole box detached (value 1, no gradient at all)
def magic_box(w):
    return torch.exp(w - w.detach()).detach()

# %% BUG ex5.2: the magic box on the post-update episodes only (the sampling of 𝒟 ignored: the paper's estimator)
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = tb.adapt(rows, pre, alpha)
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return (box(w_post) * returns).mean(1)

# %% BUG ex5.2: sums over the post-update episodes instead of averaging
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = tb.adapt(rows, pre, alpha)
    w_pre = (tb.log_prob(rows, pre) * pre.mask).sum((1, 2))
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return box(w_pre) * (box(w_post) * returns).sum(1)

# %% BUG ex5.2: a first-order inner step (θ′ moves rigidly with θ)
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = tb.adapt(rows, pre, alpha, first_order=True)
    w_pre = (tb.log_prob(rows, pre) * pre.mask).sum((1, 2))
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return box(w_pre) * (box(w_post) * returns).mean(1)

# %% BUG ex5.2: the pre-update box evaluated at the adapted policy θ′ instead of θ
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = tb.adapt(rows, pre, alpha)
    w_pre = (tb.log_prob(phi, pre) * pre.mask).sum((1, 2))
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return box(w_pre) * (box(w_post) * returns).mean(1)

# %% BUG ex5.2: θ′ detached (no gradient through the inner step: the score term alone)
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = {k: v.detach() for k, v in tb.adapt(rows, pre, alpha).items()}
    w_pre = (tb.log_prob(rows, pre) * pre.mask).sum((1, 2))
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return box(w_pre) * (box(w_post) * returns).mean(1)

# %% BUG ex5.2: exp(W) instead of the box on 𝒟 (the values are scaled by p_θ(𝒟))
def dice_objective(rows, pre, post, alpha):
    box = lambda w: torch.exp(w - w.detach())
    phi = tb.adapt(rows, pre, alpha)
    w_pre = (tb.log_prob(rows, pre) * pre.mask).sum((1, 2))
    w_post = (tb.log_prob(phi, post) * post.mask).sum(2)
    returns = (post.rewards * post.mask).sum(2)
    return torch.exp(w_pre) * (box(w_post) * returns).mean(1)

# %% BUG ex5.3: forgets to weight by p_θ(𝒟) (a plain average over the enumerated batches)
def score_function_term(theta, mdp, alpha, n_pre):
    pre, tasks = tb.all_batches(mdp, n_pre, theta["logits"].dtype)
    rows = batched(theta, pre.n_tasks)
    log_p = tb.batch_log_prob(rows, pre)
    phi = {k: v.detach() for k, v in tb.adapt(rows, pre, alpha, first_order=True).items()}
    after = tb.expected_return(phi, mdp, tasks)
    return torch.autograd.grad((after * log_p).mean(), theta["logits"])[0]

# %% BUG ex5.3: J before the step, J_k(θ), instead of J_k(θ′)
def score_function_term(theta, mdp, alpha, n_pre):
    pre, tasks = tb.all_batches(mdp, n_pre, theta["logits"].dtype)
    rows = batched(theta, pre.n_tasks)
    log_p = tb.batch_log_prob(rows, pre)
    before = tb.expected_return({k: v.detach() for k, v in rows.items()}, mdp, tasks)
    weighted = (log_p.exp().detach() * before * log_p).sum() / mdp.n_tasks
    return torch.autograd.grad(weighted, theta["logits"])[0]

# %% BUG ex5.3: lets the gradient flow through p_θ(𝒟) and J_k(θ′) too (the whole ∇𝒥, not its score term)
def score_function_term(theta, mdp, alpha, n_pre):
    pre, tasks = tb.all_batches(mdp, n_pre, theta["logits"].dtype)
    rows = batched(theta, pre.n_tasks)
    log_p = tb.batch_log_prob(rows, pre)
    after = tb.expected_return(tb.adapt(rows, pre, alpha), mdp, tasks)
    weighted = (log_p.exp() * after).sum() / mdp.n_tasks
    return torch.autograd.grad(weighted, theta["logits"])[0]

# %% BUG ex5.3: sums over the tasks instead of averaging
def score_function_term(theta, mdp, alpha, n_pre):
    pre, tasks = tb.all_batches(mdp, n_pre, theta["logits"].dtype)
    rows = batched(theta, pre.n_tasks)
    log_p = tb.batch_log_prob(rows, pre)
    phi = {k: v.detach() for k, v in tb.adapt(rows, pre, alpha, first_order=True).items()}
    after = tb.expected_return(phi, mdp, tasks)
    weighted = (log_p.exp().detach() * after * log_p).sum()
    return torch.autograd.grad(weighted, theta["logits"])[0]
