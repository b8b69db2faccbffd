"""Discounted returns, GAE and advantage normalisation on masked episodes, against plain Python loops."""
import pytest
import torch

from course_lib.rl.returns import discount_cumsum, discounted_returns, gae, normalize


def loop_cumsum(x, factor):
    """y_t = x_t + factor · y_{t+1}, backwards over the last dim, one row at a time."""
    rows = x.reshape(-1, x.shape[-1]).tolist()
    out = []
    for row in rows:
        acc, ys = 0.0, []
        for v in reversed(row):
            acc = v + factor * acc
            ys.append(acc)
        out.append(ys[::-1])
    return torch.tensor(out, dtype=torch.float64).reshape(x.shape)


def episode_mask(lengths, H):
    """[T, N] episode lengths → [T, N, H] mask (1 for the first `length` steps)."""
    lengths = torch.as_tensor(lengths)
    return (torch.arange(H) < lengths[..., None]).double()


def random_episodes(T=3, N=4, H=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, N, H, generator=g, dtype=torch.float64)
    values = torch.randn(T, N, H, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, H + 1, (T, N), generator=g)
    lengths[0, 0], lengths[-1, -1] = H, 1          # a full-length and a one-step episode
    return rewards, values, episode_mask(lengths, H), lengths


@pytest.mark.parametrize("factor", [0.0, 0.5, 0.99, 1.0])
def test_discount_cumsum_matches_a_backward_loop(factor):
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    torch.testing.assert_close(discount_cumsum(x, factor), loop_cumsum(x, factor), rtol=1e-12, atol=1e-12)


def test_discount_cumsum_float32_and_1d():
    x = torch.randn(7)
    y = discount_cumsum(x, 0.9)
    assert y.dtype == torch.float32 and y.shape == (7,)
    torch.testing.assert_close(y.double(), loop_cumsum(x.double(), 0.9), rtol=1e-5, atol=1e-5)


def test_discounted_returns_stop_at_termination():
    rewards, _, mask, lengths = random_episodes()
    gamma = 0.9
    R = discounted_returns(rewards, mask, gamma)
    T, N, H = rewards.shape
    for i in range(T):
        for j in range(N):
            L = int(lengths[i, j])
            expected = [sum(gamma ** (k - t) * float(rewards[i, j, k]) for k in range(t, L)) for t in range(L)]
            torch.testing.assert_close(R[i, j, :L], torch.tensor(expected, dtype=torch.float64))
            assert (R[i, j, L:] == 0).all()          # nothing after termination, whatever the rewards there


def test_discounted_returns_ignore_rewards_past_the_mask():
    rewards, _, mask, _ = random_episodes()
    garbage = rewards + 100.0 * (1 - mask)           # change only the masked-out rewards
    torch.testing.assert_close(discounted_returns(garbage, mask, 0.95), discounted_returns(rewards, mask, 0.95))


def test_gae_lambda_one_is_returns_minus_values():
    rewards, values, mask, _ = random_episodes()
    gamma = 0.95
    expected = (discounted_returns(rewards, mask, gamma) - values) * mask
    torch.testing.assert_close(gae(rewards, values, mask, gamma, 1.0), expected, rtol=1e-10, atol=1e-10)


def test_gae_lambda_zero_is_the_td_error():
    rewards, values, mask, lengths = random_episodes()
    gamma = 0.9
    A = gae(rewards, values, mask, gamma, 0.0)
    T, N, H = rewards.shape
    for i in range(T):
        for j in range(N):
            L = int(lengths[i, j])
            for t in range(H):
                if t >= L:
                    assert A[i, j, t] == 0
                    continue
                v_next = float(values[i, j, t + 1]) if t + 1 < L else 0.0   # V = 0 past the end
                delta = float(rewards[i, j, t]) + gamma * v_next - float(values[i, j, t])
                assert float(A[i, j, t]) == pytest.approx(delta, abs=1e-12)


@pytest.mark.parametrize("lam", [0.3, 0.95])
def test_gae_general_lambda_matches_a_loop(lam):
    rewards, values, mask, lengths = random_episodes(seed=1)
    gamma = 0.97
    A = gae(rewards, values, mask, gamma, lam)
    T, N, H = rewards.shape
    for i in range(T):
        for j in range(N):
            L = int(lengths[i, j])
            acc, expected = 0.0, [0.0] * H
            for t in reversed(range(L)):
                v_next = float(values[i, j, t + 1]) if t + 1 < L else 0.0
                delta = float(rewards[i, j, t]) + gamma * v_next - float(values[i, j, t])
                acc = delta + gamma * lam * acc
                expected[t] = acc
            torch.testing.assert_close(A[i, j], torch.tensor(expected, dtype=torch.float64), rtol=1e-10,
                                       atol=1e-10)


def test_normalize_per_task_over_valid_steps():
    _, values, mask, _ = random_episodes(T=4, N=3, H=8, seed=2)
    x = 5.0 + 3.0 * values
    x[1] *= 100.0                                    # tasks on very different scales
    z = normalize(x, mask)
    assert (z[mask == 0] == 0).all()
    for i in range(x.shape[0]):
        valid = x[i][mask[i] == 1]
        expected = (valid - valid.mean()) / valid.std(unbiased=False)
        torch.testing.assert_close(z[i][mask[i] == 1], expected, rtol=1e-6, atol=1e-6)
        zi = z[i][mask[i] == 1]
        assert abs(float(zi.mean())) < 1e-10
        assert float(zi.std(unbiased=False)) == pytest.approx(1.0, abs=1e-6)


def test_normalize_constant_advantages_give_zeros_not_nan():
    x = torch.full((2, 2, 5), 3.0)
    mask = torch.ones_like(x)
    mask[1] = 0                                      # and a task with no valid step at all
    z = normalize(x, mask)
    assert torch.isfinite(z).all() and (z == 0).all()


@pytest.mark.parametrize("gamma,lam,name", [(1.5, 1.0, "gamma"), (-0.1, 1.0, "gamma"), (0.99, 1.01, "lam"),
                                            (0.99, -1.0, "lam")])
def test_bad_gamma_or_lambda_is_rejected_by_name(gamma, lam, name):
    rewards, values, mask, _ = random_episodes()
    with pytest.raises(ValueError, match=rf"^{name} must be a number in \[0.0, 1.0\]"):
        gae(rewards, values, mask, gamma, lam)
    if name == "gamma":
        with pytest.raises(ValueError, match=r"^gamma must be"):
            discounted_returns(rewards, mask, gamma)
