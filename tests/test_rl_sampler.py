"""The batched episode sampler: shapes, masks, seeding, and agreement with the one-task gymnasium envs."""
import numpy as np
import pytest
import torch
from torch.func import functional_call, vmap

from course_lib.functional import batched, detached, forward, parameters_of
from course_lib.models import GaussianPolicy
from course_lib.rl.episodes import action_distribution, sample_episodes
from course_lib.tasks.navigation import BatchedNavigation2D, Navigation2D
from course_lib.tasks.velocity import BatchedPointVelocity1D, PointVelocity1D


def task_params(policy, n_tasks):
    return batched(detached(parameters_of(policy)), n_tasks)


def straight_line_policy(step=(0.15, 0.15)):
    """μ(s) = `step` (clipped to 0.1 per coordinate by the env), σ = e^-5: moves (0.1, 0.1) per step."""
    policy = GaussianPolicy(2, 2, (16, 16))
    theta = parameters_of(policy)
    with torch.no_grad():
        theta["mean.net.4.weight"].zero_()
        theta["mean.net.4.bias"].copy_(torch.tensor(step))
        theta["log_std"].fill_(-5.0)
    return policy, theta


def test_shapes_and_dtypes():
    policy = GaussianPolicy(2, 2, (16, 16))
    goals = torch.tensor([[0.2, -0.1], [0.4, 0.4], [-0.3, 0.0]])
    env = BatchedNavigation2D(goals, n_episodes=4, horizon=25)
    ep = sample_episodes(policy, task_params(policy, 3), env, torch.Generator().manual_seed(0))
    assert ep.obs.shape == (3, 4, 25, 2) and ep.actions.shape == (3, 4, 25, 2)
    assert ep.rewards.shape == ep.mask.shape == (3, 4, 25)
    assert ep.n_tasks == 3 and ep.advantages is None
    assert all(x.dtype == torch.float32 for x in (ep.obs, ep.actions, ep.rewards, ep.mask))
    assert set(ep.mask.unique().tolist()) <= {0.0, 1.0}
    assert (ep.obs[:, :, 0] == 0).all()                          # every episode starts at the origin
    torch.testing.assert_close(ep.total_return(), (ep.rewards * ep.mask).sum(-1))


def test_mask_is_one_while_alive_and_rewards_zero_after_termination():
    policy, theta = straight_line_policy()
    # task 0 is reached after 3 moves of (0.1, 0.1); task 1 (other quadrant) never is
    goals = torch.tensor([[0.305, 0.296], [-0.3, 0.2]])
    env = BatchedNavigation2D(goals, n_episodes=2, horizon=10)
    ep = sample_episodes(policy, batched(theta, 2), env, torch.Generator().manual_seed(0))
    # the step that reaches the goal is taken while alive (mask 1, its reward counts); then 0 for good
    assert ep.mask[0].tolist() == [[1.0] * 3 + [0.0] * 7] * 2
    assert (ep.mask[1] == 1).all()
    assert (ep.rewards[0, :, 3:] == 0).all() and (ep.rewards[0, :, :3] < 0).all()
    assert (ep.rewards[1] < 0).all()
    # rewards = −distance to the goal after the move, computed independently
    pos_after = ep.obs[1, 0, 1:]
    torch.testing.assert_close(ep.rewards[1, 0, :-1], -(pos_after - goals[1]).norm(dim=-1))


def test_sampling_stops_when_every_episode_is_over():
    policy, theta = straight_line_policy()
    env = BatchedNavigation2D(torch.tensor([[0.2, 0.2]]), n_episodes=3, horizon=50)
    ep = sample_episodes(policy, batched(theta, 1), env)
    assert env.t == 2                                             # no steps wasted after the last episode ended
    assert ep.mask.sum().item() == 3 * 2 and (ep.rewards[..., 2:] == 0).all()


def test_same_generator_seed_same_episodes():
    policy = GaussianPolicy(2, 2, (16, 16))
    params = task_params(policy, 3)
    goals = torch.tensor([[0.2, -0.1], [0.4, 0.4], [-0.3, 0.0]])

    def run(seed):
        return sample_episodes(policy, params, BatchedNavigation2D(goals, 2, 30), torch.Generator().manual_seed(seed))

    a, b, c = run(7), run(7), run(8)
    for field in ("obs", "actions", "rewards", "mask"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert not torch.equal(a.actions, c.actions)


def replay(single_env, task, actions):
    """Step the one-task gymnasium env with `actions` [H, act_dim]: observations before each step,
    rewards, and the index of the step that terminated (None if none)."""
    obs, _ = single_env.reset(options={"task": task})
    observations, rewards, done_at = [], [], None
    for t, a in enumerate(actions.numpy()):
        observations.append(obs)
        obs, reward, terminated, truncated, _ = single_env.step(a)
        rewards.append(reward)
        if terminated:
            done_at = t
            break
    return np.array(observations), np.array(rewards, dtype=np.float32), done_at


@pytest.mark.parametrize("policy_kind", ["random", "straight"])
def test_batched_navigation_equals_the_gymnasium_env(policy_kind):
    if policy_kind == "random":
        policy = GaussianPolicy(2, 2, (16, 16))
        theta = parameters_of(policy)
        goals = torch.tensor([[0.21, -0.13], [0.45, 0.38], [-0.31, 0.02]])
    else:                                             # some episodes terminate, one task never does
        policy, theta = straight_line_policy()
        goals = torch.tensor([[0.3, 0.3], [0.205, 0.195], [-0.3, 0.2]])
    T, N, H = goals.shape[0], 2, 40
    ep = sample_episodes(policy, batched(detached(theta), T), BatchedNavigation2D(goals, N, H),
                         torch.Generator().manual_seed(3))
    single = Navigation2D(horizon=H)
    for i in range(T):
        for j in range(N):
            obs, rewards, done_at = replay(single, goals[i].numpy(), ep.actions[i, j])
            L = H if done_at is None else done_at + 1
            assert int(ep.mask[i, j].sum()) == L and (ep.mask[i, j, :L] == 1).all()
            # bitwise identical: same float32 operations in the same order (1e-6 would also do)
            np.testing.assert_array_equal(ep.obs[i, j, :L].numpy(), obs)
            np.testing.assert_array_equal(ep.rewards[i, j, :L].numpy(), rewards)
    if policy_kind == "straight":
        assert int(ep.mask[0, 0].sum()) == 3 and int(ep.mask[1, 0].sum()) == 2 and ep.mask[2].all()


def test_batched_velocity_equals_the_gymnasium_env():
    policy = GaussianPolicy(1, 1, (16, 16))
    targets = torch.tensor([1.3, -0.7])
    ep = sample_episodes(policy, task_params(policy, 2), BatchedPointVelocity1D(targets, 2, 30),
                         torch.Generator().manual_seed(1))
    assert (ep.mask == 1).all()
    single = PointVelocity1D(horizon=30)
    for i in range(2):
        for j in range(2):
            obs, rewards, done_at = replay(single, float(targets[i]), ep.actions[i, j])
            assert done_at is None
            np.testing.assert_array_equal(ep.obs[i, j].numpy(), obs)
            np.testing.assert_array_equal(ep.rewards[i, j].numpy(), rewards)


def random_task_params(policy, n_tasks, seed=0):
    """Different weights for every task (not copies of one θ), so a mixed-up task index would show."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(n_tasks, *v.shape, generator=g) for k, v in parameters_of(policy).items()}


@pytest.mark.parametrize("context_dim", [0, 3])
@pytest.mark.parametrize("data_shape", [(5,), (4, 6)])
def test_task_batched_forward_equals_vmap_functional_call(context_dim, data_shape):
    policy = GaussianPolicy(2, 2, (16, 16), context_dim=context_dim)
    T = 3
    params = random_task_params(policy, T)
    assert ("context" in params) == bool(context_dim)
    obs = torch.randn(T, *data_shape, 2)
    mean, log_std = policy.task_batched_forward(params, obs)
    ref_mean, ref_log_std = vmap(lambda p, x: functional_call(policy, p, (x,)))(params, obs)
    assert mean.shape == (T, *data_shape, 2) and log_std.shape == (T, 2)
    torch.testing.assert_close(mean, ref_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(log_std, ref_log_std)
    # and task 1 alone, through the module itself
    policy_1 = GaussianPolicy(2, 2, (16, 16), context_dim=context_dim)
    policy_1.load_state_dict({k: v[1] for k, v in params.items()})
    with torch.no_grad():
        torch.testing.assert_close(policy_1(obs[1])[0], mean[1], rtol=1e-5, atol=1e-6)
    # `forward(..., task_batched=True)` and the sampler's helper use this path; σ broadcast to μ's shape
    torch.testing.assert_close(forward(policy, params, obs, task_batched=True)[0], mean)
    mu, ls = action_distribution(policy, params, obs)
    assert ls.shape == mu.shape and torch.equal(ls[1, ..., 0], torch.full(data_shape, float(params["log_std"][1, 0])))


def test_task_batched_forward_gradients_equal_vmap():
    policy = GaussianPolicy(2, 2, (8, 8), context_dim=2)
    params = {k: v.requires_grad_(True) for k, v in random_task_params(policy, 2, seed=1).items()}
    obs = torch.randn(2, 7, 2)
    scalar = lambda out: out[0].pow(2).sum() + out[1].exp().sum()
    g_fast = torch.autograd.grad(scalar(policy.task_batched_forward(params, obs)), list(params.values()))
    ref = vmap(lambda p, x: functional_call(policy, p, (x,)))(params, obs)
    g_ref = torch.autograd.grad(scalar(ref), list(params.values()))
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_normalized_actions_scale_the_policys_unit_box_to_the_action_bounds():
    """rl.envs.NormalizedActions (rllab's normalize): u ∈ [−1, 1] → max_action · u; the raw env sees that."""
    from course_lib.rl.envs import make_batched_env
    goals = np.array([[0.3, -0.2], [-0.4, 0.1]], dtype=np.float32)
    wrapped = make_batched_env("navigation2d", goals, 3)
    raw = make_batched_env("navigation2d", goals, 3, normalize_actions=False)
    wrapped.reset(), raw.reset()
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        u = 2 * torch.randn(2, 3, 2, generator=g)                       # often outside [−1, 1]
        a = wrapped.step(u)
        b = raw.step(0.1 * u.clamp(-1, 1))
        for x, y in zip(a, b):
            assert torch.equal(x, y)
