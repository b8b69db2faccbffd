"""The linear feature baseline: feature layout, per-task ridge fit vs numpy, singular designs."""
import numpy as np
import pytest
import torch

import course_lib.rl.baseline as baseline_module
from course_lib.rl.baseline import baseline_values, features, fit_linear_baseline


def episode_data(T=3, N=5, H=100, d=2, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(T, N, H, d, generator=g, dtype=dtype)
    mask = torch.ones(T, N, H, dtype=dtype)
    mask[:, 1, 60:] = 0                               # an episode that ended early in every task
    mask[-1, 2, 7:] = 0
    return obs, mask


def numpy_ridge(obs, returns, mask, reg):
    """Per task: (XᵀX + λI)⁻¹ Xᵀy over the valid steps, features built by hand in numpy."""
    obs, returns, mask = (np.asarray(x, dtype=np.float64) for x in (obs, returns, mask))
    T, N, H, d = obs.shape
    out = []
    for i in range(T):
        rows, ys = [], []
        for j in range(N):
            for t in range(H):
                if mask[i, j, t] == 0:
                    continue
                s, tt = np.clip(obs[i, j, t], -10, 10), t / 100.0
                rows.append(np.concatenate([s, s ** 2, [tt, tt ** 2, tt ** 3, 1.0]]))
                ys.append(returns[i, j, t])
        X, y = np.array(rows), np.array(ys)
        out.append(np.linalg.solve(X.T @ X + reg * np.eye(X.shape[1]), X.T @ y))
    return np.stack(out)


def test_feature_layout():
    obs, mask = episode_data(T=2, N=3, H=20, d=3)
    obs[0, 0, 4] = torch.tensor([20.0, -15.0, 0.5], dtype=obs.dtype)     # clipped to ±10
    F = features(obs, mask)
    assert F.shape == (2, 3, 20, 2 * 3 + 4)
    for i, j, t in [(0, 0, 0), (0, 0, 4), (1, 2, 19), (1, 1, 59 % 20)]:
        s = obs[i, j, t].clamp(-10, 10)
        tt = t / 100.0
        expected = torch.cat([s, s ** 2, torch.tensor([tt, tt ** 2, tt ** 3, 1.0], dtype=obs.dtype)])
        torch.testing.assert_close(F[i, j, t], expected * mask[i, j, t])
    assert F[0, 0, 4, :3].tolist() == [10.0, -10.0, 0.5]
    # zero wherever the step is masked out
    obs, mask = episode_data(T=2, N=3, H=80, d=2)
    F = features(obs, mask)
    assert (F[mask == 0] == 0).all() and (F[mask == 1][:, -1] == 1).all()


def test_exactly_linear_returns_are_recovered_per_task():
    obs, mask = episode_data()
    w = torch.randn(obs.shape[0], 2 * obs.shape[-1] + 4, dtype=torch.float64)   # different per task
    returns = (features(obs, mask) * w[:, None, None, :]).sum(-1)
    # the default ridge λ = 1e-5 biases the weights only slightly; a tiny λ recovers them exactly
    torch.testing.assert_close(fit_linear_baseline(obs, returns, mask), w, rtol=0, atol=2e-3)
    w_exact = fit_linear_baseline(obs, returns, mask, reg=1e-12)
    torch.testing.assert_close(w_exact, w, rtol=0, atol=1e-7)
    torch.testing.assert_close(baseline_values(w_exact, obs, mask), returns, rtol=0, atol=1e-7)
    # the fit of task 0 does not depend on the other tasks' data
    alone = fit_linear_baseline(obs[:1], returns[:1], mask[:1], reg=1e-12)
    torch.testing.assert_close(alone[0], w_exact[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("reg", [1e-5, 1e-2])
def test_matches_numpy_ridge_per_task(reg):
    obs, mask = episode_data(H=40, d=2, seed=1)
    returns = torch.randn(mask.shape, dtype=torch.float64) * 10 + obs[..., 0] ** 3
    returns_with_garbage = returns + 1e3 * (1 - mask)                   # masked returns must not matter
    w = fit_linear_baseline(obs, returns_with_garbage, mask, reg=reg)
    expected = numpy_ridge(obs, returns, mask, reg)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-7, atol=1e-9)


def test_float32_in_float32_out_and_values_shape():
    obs, mask = episode_data(H=30, dtype=torch.float32)
    returns = torch.randn(mask.shape)
    w = fit_linear_baseline(obs, returns, mask)
    assert w.dtype == torch.float32 and w.shape == (3, 8)
    values = baseline_values(w, obs, mask)
    assert values.shape == mask.shape and (values[mask == 0] == 0).all()
    expected = numpy_ridge(obs, returns, mask, 1e-5)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_singular_design_gives_finite_weights():
    # zero observations and only two steps: the s, s² columns are 0 and t, t², t³, 1 are 2 points
    obs = torch.zeros(2, 1, 2, 2, dtype=torch.float64)
    mask = torch.ones(2, 1, 2, dtype=torch.float64)
    mask[1] = 0                                       # and a task with no valid step at all
    returns = torch.tensor([[[3.0, 1.0]], [[5.0, 5.0]]], dtype=torch.float64)
    for reg in (1e-5, 0.0):
        w = fit_linear_baseline(obs, returns, mask, reg=reg)
        assert torch.isfinite(w).all(), reg
        assert (w[1] == 0).all()
    # with the default λ it is the ordinary ridge solution (numpy's, which never sees the empty task)
    w = fit_linear_baseline(obs, returns, mask)
    np.testing.assert_allclose(w[0].numpy(), numpy_ridge(obs[:1], returns[:1], mask[:1], 1e-5)[0], rtol=1e-7)


def test_failed_solves_escalate_the_regularisation_per_task(monkeypatch):
    """A task whose solve fails is re-solved with λ ×10; the other tasks keep their first solution."""
    obs, mask = episode_data(T=3, H=30, seed=2)
    returns = torch.randn(mask.shape, dtype=torch.float64)
    real = torch.linalg.solve_ex
    calls = []

    def failing_first_for_task_1(A, b, **kwargs):
        calls.append(A.shape[0] if A.dim() == 3 else "alone")
        solution, info = real(A, b, **kwargs)
        if len(calls) == 1:          # attempt 0, all 3 tasks: break task 1
            solution = solution.clone()
            solution[1] = float("nan")
        return solution, info

    monkeypatch.setattr(baseline_module.torch.linalg, "solve_ex", failing_first_for_task_1)
    w = fit_linear_baseline(obs, returns, mask)
    monkeypatch.undo()
    assert calls == [3, 1]                            # task 1 alone is re-solved with λ ×10
    expected = numpy_ridge(obs, returns, mask, 1e-5)
    np.testing.assert_allclose(w[[0, 2]].numpy(), expected[[0, 2]], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(w[1].numpy(), numpy_ridge(obs[1:2], returns[1:2], mask[1:2], 1e-4)[0],
                               rtol=1e-7, atol=1e-9)


def test_the_fit_runs_on_one_thread_whatever_the_learners(capfd):
    """With two torch threads, MKL's batched LU fails on Ant-sized systems (214 features, the contact
    forces all zero): "oneMKL ERROR ... DLASWP" and an exception or other bits. The fit runs on one
    thread, gives the one-thread bits, prints nothing and gives the thread count back."""
    obs, mask = episode_data(T=4, N=3, H=50, d=105, seed=6)
    obs[..., 27:] = 0
    returns = 50 * torch.randn(mask.shape, dtype=torch.float64)
    one = fit_linear_baseline(obs, returns, mask)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two = fit_linear_baseline(obs, returns, mask)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    assert "oneMKL" not in capfd.readouterr().err
    np.testing.assert_allclose(one.numpy(), numpy_ridge(obs, returns, mask, 1e-5), rtol=1e-6, atol=1e-8)
