"""Policy-gradient losses: Gaussian log-density and KL vs torch.distributions, the surrogate/REINFORCE identity."""
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from course_lib.functional import parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl.episodes import Episodes
from course_lib.rl.losses import (gaussian_kl, gaussian_log_prob, kl_from, log_prob, masked_mean, reinforce_loss,
                                  surrogate_loss)
from course_lib.rl.tasks import PolicyTaskBatch, SamplingPolicy


def test_gaussian_log_prob_matches_torch_distributions():
    mean, log_std, actions = torch.randn(4, 5, 3), torch.randn(4, 5, 3) * 0.5, torch.randn(4, 5, 3) * 2
    expected = Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(mean, log_std, actions), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_kl_matches_torch_distributions():
    mp, lp, mq, lq = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64), \
        torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    expected = kl_divergence(Normal(mp, lp.exp()), Normal(mq, lq.exp())).sum(-1)
    torch.testing.assert_close(gaussian_kl(mp, lp, mq, lq), expected, rtol=1e-12, atol=1e-12)
    assert (gaussian_kl(mp, lp, mq, lq) > 0).all()
    # KL is not symmetric: the argument order matters (KL(π_old ‖ π_θ) in TRPO)
    assert not torch.allclose(gaussian_kl(mp, lp, mq, lq), gaussian_kl(mq, lq, mp, lp))


def test_kl_of_identical_distributions_is_zero():
    mean, log_std = torch.randn(3, 7, 2), torch.randn(3, 7, 2)
    torch.testing.assert_close(gaussian_kl(mean, log_std, mean, log_std), torch.zeros(3, 7), rtol=0, atol=1e-6)


def test_masked_mean_per_task():
    x, mask = torch.randn(3, 4, 5), (torch.rand(3, 4, 5) > 0.3).float()
    mask[2] = 0
    expected = [float(x[i][mask[i] == 1].mean()) if mask[i].any() else 0.0 for i in range(3)]
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor(expected), rtol=1e-6, atol=1e-6)


def problem(T=3, N=4, H=6, seed=0, context_dim=0):
    """A policy, task-batched θ (leaves, float64, different per task) and episodes with advantages."""
    g = torch.Generator().manual_seed(seed)
    policy = GaussianPolicy(2, 2, (8, 8), context_dim=context_dim).double()
    params = {k: (v.detach().unsqueeze(0) + 0.1 * torch.randn(T, *v.shape, generator=g, dtype=torch.float64))
              .requires_grad_(True) for k, v in parameters_of(policy).items()}
    mask = torch.ones(T, N, H, dtype=torch.float64)
    mask[0, 1, 3:] = 0
    mask[2, :, 4:] = 0
    episodes = Episodes(obs=torch.randn(T, N, H, 2, generator=g, dtype=torch.float64),
                        actions=torch.randn(T, N, H, 2, generator=g, dtype=torch.float64),
                        rewards=torch.randn(T, N, H, generator=g, dtype=torch.float64) * mask, mask=mask,
                        advantages=torch.randn(T, N, H, generator=g, dtype=torch.float64) * mask)
    return policy, params, episodes


def test_reinforce_loss_matches_a_per_task_loop():
    policy, params, ep = problem()
    loss = reinforce_loss(policy, params, ep).detach()
    assert loss.shape == (3,)
    for i in range(3):
        one = GaussianPolicy(2, 2, (8, 8)).double()
        one.load_state_dict({k: v[i].detach() for k, v in params.items()})
        with torch.no_grad():
            mean, log_std = one(ep.obs[i])
            lp = Normal(mean, log_std.exp()).log_prob(ep.actions[i]).sum(-1)
        valid = ep.mask[i] == 1
        assert float(loss[i]) == pytest.approx(-float((lp * ep.advantages[i])[valid].mean()), rel=1e-10)


@pytest.mark.parametrize("context_dim", [0, 2])
def test_surrogate_at_the_sampling_policy_is_reinforce(context_dim):
    """At θ = θ_old: ratio = 1, so L = −E[Â]; and ∇ratio = ratio·∇log π = ∇log π, so ∇L = ∇L^REINFORCE."""
    policy, params, ep = problem(context_dim=context_dim)
    old = log_prob(policy, params, ep).detach()
    surrogate = surrogate_loss(policy, params, ep, old)
    torch.testing.assert_close(surrogate, -masked_mean(ep.advantages, ep.mask), rtol=1e-12, atol=1e-12)
    names = list(params)
    g_surrogate = torch.autograd.grad(surrogate.sum(), [params[k] for k in names])
    g_reinforce = torch.autograd.grad(reinforce_loss(policy, params, ep).sum(), [params[k] for k in names])
    for k, a, b in zip(names, g_surrogate, g_reinforce):
        assert b.abs().max() > 0, k
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)

    # away from θ_old the two differ (the identity is a statement about θ_old only)
    moved = {k: (v + 0.3 * torch.randn_like(v)).detach().requires_grad_(True) for k, v in params.items()}
    g_s = torch.autograd.grad(surrogate_loss(policy, moved, ep, old).sum(), moved["log_std"])[0]
    g_r = torch.autograd.grad(reinforce_loss(policy, moved, ep).sum(), moved["log_std"])[0]
    assert not torch.allclose(g_s, g_r)


def test_policy_task_batch_loss_and_kl():
    """query_loss_and_kl = (surrogate_loss, kl_from) against the stored sampling policy; KL = 0 there."""
    policy, params, ep = problem(seed=1)
    old = SamplingPolicy.of(policy, params, ep)
    batch = PolicyTaskBatch(policy, ep, ep, old)
    loss, kl = batch.query_loss_and_kl(params)
    torch.testing.assert_close(loss, -masked_mean(ep.advantages, ep.mask), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(kl, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)
    grad_kl = torch.autograd.grad(kl.sum(), list(params.values()))
    assert all(g.abs().max() < 1e-12 for g in grad_kl)          # KL has its minimum at θ_old

    moved = {k: (v + 0.05 * torch.randn_like(v)).detach().requires_grad_(True) for k, v in params.items()}
    loss, kl = batch.query_loss_and_kl(moved)
    torch.testing.assert_close(loss, surrogate_loss(policy, moved, ep, old.log_prob), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(kl, kl_from(policy, moved, ep, old.mean, old.log_std), rtol=1e-12, atol=1e-12)
    assert (kl > 0).all()
    torch.testing.assert_close(batch.support_loss(moved), reinforce_loss(policy, moved, ep))
    # subset keeps tasks aligned with their own data and sampling policy
    sub = batch.subset(torch.tensor([2, 0]))
    sub_loss, sub_kl = sub.query_loss_and_kl({k: v[[2, 0]] for k, v in moved.items()})
    torch.testing.assert_close(sub_loss, loss[[2, 0]], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sub_kl, kl[[2, 0]], rtol=1e-12, atol=1e-12)
