"""course_lib's implementation of every exercise, with the exercise's signature — for `fallback()` only.

While an exercise is a stub, the cells after it call these through `course_lib.checks.fallback`, so a
notebook runs top to bottom. They are not the grader's answers: the grader compares a submission with
what the solution notebook computes. In a grading run this module is replaced by one whose functions
all raise (course_lib/grade/sandbox.py), so an answer cannot borrow them.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

def _inner_step(params, loss_fn, alpha, first_order=False):
    from .inner import inner_update
    return inner_update(params, loss_fn, alpha, 1, first_order)


def _maml_meta_gradient(theta, support_loss, query_loss, alpha):
    import torch
    from .inner import inner_update
    adapted = inner_update(theta, support_loss, alpha, 1, first_order=False)
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(theta.values()))))


def _fomaml_meta_gradient(theta, support_loss, query_loss, alpha):
    import torch
    from .functional import detached
    from .inner import inner_update
    adapted = detached(inner_update(theta, support_loss, alpha, 1, first_order=True), requires_grad=True)
    return dict(zip(theta, torch.autograd.grad(query_loss(adapted), list(adapted.values()))))


def _reptile_update(theta, task_losses, alpha, steps, epsilon):
    from .functional import detached
    from .inner import inner_update
    phis = [detached(inner_update(theta, loss, alpha, steps, first_order=True)) for loss in task_losses]
    return {k: (v.detach() + epsilon * sum(phi[k] - v.detach() for phi in phis) / len(phis)).requires_grad_(True)
            for k, v in theta.items()}


def _cavia_context_step(theta, support_loss, alpha, context_dim, first_order=False):
    import torch
    from .inner import inner_update
    from .meta import CONTEXT, shared
    dtype = next(iter(theta.values())).dtype
    phi0 = {CONTEXT: torch.zeros(context_dim, dtype=dtype, requires_grad=True)}
    common = shared(theta)
    phi = inner_update(phi0, lambda c: support_loss({**common, **c}), alpha, 1, first_order)
    return {**common, **phi}


def _reinforce_loss_with_baseline(log_prob, returns, baseline, mask):
    from .rl.losses import masked_mean
    return -masked_mean(log_prob * (returns - baseline).detach(), mask)


def _target_velocity_reward(obs, actions, targets):
    from .tasks.velocity import DT, MAX_FORCE
    velocity = obs[..., 0] + DT * actions[..., 0].clamp(-MAX_FORCE, MAX_FORCE)
    return -(velocity - targets.view(-1, *([1] * (velocity.dim() - 1)))) ** 2


def _adapt_one_step(policy, theta, episodes, alpha):
    from .functional import detached
    from .meta import adapt
    from .rl.tasks import PolicyTaskBatch
    return detached(adapt(theta, PolicyTaskBatch(policy, episodes), alpha, 1, first_order=True))


def _rl_meta_gradient(policy, theta, env, alpha, generator, first_order=True, gamma=0.99):
    import torch
    from .rl.config import default_rl_config
    from .rl.train import meta_loss_and_kl, sample_meta_batch
    config = default_rl_config("navigation2d", "fomaml" if first_order else "maml", alpha=alpha, gamma=gamma)
    batch = sample_meta_batch(policy, theta, env, config, generator)
    loss, _ = meta_loss_and_kl(theta, batch, config)
    grads = torch.autograd.grad(loss, list(theta.values()))
    return (dict(zip(theta, grads)), float(batch.support.total_return().mean()),
            float(batch.query.total_return().mean()))


def _meta_train(policy, theta, config, meta_gradient_fn, eval_tasks=None, eval_every=10):
    """Adam on θ (in place) for config.iterations meta-iterations, with a progress bar; history of
    returns and timings."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm
    from .rl.envs import make_batched_env
    from .rl.evaluate import adaptation_returns
    from .tasks.navigation import NavigationDistribution
    optimizer = torch.optim.Adam(list(theta.values()), lr=config.meta_lr)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    first_order = config.algo != "maml"
    history = {k: [] for k in ("iteration", "return_before", "return_after", "seconds",
                               "eval_iteration", "eval_before", "eval_after")}
    start = time.perf_counter()
    bar = tqdm(total=config.iterations, desc=f"{config.env} {config.algo}", unit="it")
    for it in range(config.iterations + 1):
        if eval_tasks is not None and (it % eval_every == 0 or it == config.iterations):
            r = adaptation_returns(policy, theta, config, eval_tasks, steps=1, episodes=10, seed=0)
            history["eval_iteration"].append(it)
            history["eval_before"].append(float(r[0].mean()))
            history["eval_after"].append(float(r[1].mean()))
        if it == config.iterations:
            break
        tasks = NavigationDistribution().sample_tasks(config.meta_batch, rng)
        env = make_batched_env(config.env, tasks, config.episodes, normalize_actions=config.normalize_actions)
        grads, before, after = meta_gradient_fn(policy, theta, env, config.alpha, generator, first_order,
                                                config.gamma)
        optimizer.zero_grad()
        for k, g in grads.items():
            theta[k].grad = g
        optimizer.step()
        history["iteration"].append(it + 1)
        history["return_before"].append(before)
        history["return_after"].append(after)
        history["seconds"].append(time.perf_counter() - start)
        bar.update()
    bar.close()
    return history


def _conjugate_gradient(Avp, b, iters=10, tol=1e-10):
    from .rl.trpo import conjugate_gradient
    return conjugate_gradient(Avp, b, iters, tol)


def _discounted_returns(rewards, mask, gamma):
    from .rl.returns import discounted_returns
    return discounted_returns(rewards, mask, gamma)


def _gae(rewards, values, mask, gamma, lam=1.0):
    from .rl.returns import gae
    return gae(rewards, values, mask, gamma, lam)


def _named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn


reference = SimpleNamespace(**{name: _named(fn, name) for name, fn in {
    "inner_step": _inner_step,                                   # ex1.1
    "maml_meta_gradient": _maml_meta_gradient,                   # ex1.2
    "fomaml_meta_gradient": _fomaml_meta_gradient,               # ex1.3
    "reptile_update": _reptile_update,                           # ex1.4
    "cavia_context_step": _cavia_context_step,                   # ex1.5
    "discounted_returns": _discounted_returns,                   # ex2.1
    "gae": _gae,                                                 # ex2.2
    "reinforce_loss_with_baseline": _reinforce_loss_with_baseline,  # ex2.3
    "target_velocity_reward": _target_velocity_reward,           # ex2.4
    "adapt_one_step": _adapt_one_step,                           # ex2.5
    "conjugate_gradient": _conjugate_gradient,                   # ex2.6
    "rl_meta_gradient": _rl_meta_gradient,                       # ex3.1
    "meta_train": _meta_train,                                   # ex3.2
}.items()})


