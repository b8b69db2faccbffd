"""Adaptation curves and the paper's summary statistic, against independent per-task computations."""
import math
import statistics

import numpy as np
import pytest
import torch
from torch.func import functional_call

from course_lib import MLP
from course_lib.evaluate import adaptation_curve, adapted_params, summarize
from course_lib.functional import parameters_of
from course_lib.tasks import RegressionBatch, SinusoidDistribution
from course_lib.rl.evaluate import paper_test_tasks, reference_returns


def setup(context_dim=0, n_tasks=6, k=5, n_query=20, seed=0):
    torch.manual_seed(seed)
    model = MLP(1, 1, (16, 16), context_dim=context_dim)
    theta = {k_: v.detach() for k_, v in parameters_of(model).items()}  # as loaded from a checkpoint
    rng = np.random.default_rng(seed)
    dist = SinusoidDistribution()
    tasks = dist.sample_tasks(n_tasks, rng)
    xs, ys = dist.sample_points(tasks, k, rng)
    xq, yq = dist.sample_points(tasks, n_query, rng)
    return model, theta, RegressionBatch(model, xs, ys, xq, yq, tasks)


def manual_curve(model, theta, batch, alpha, steps):
    """Per task, plain SGD on the support MSE with a Python loop: query MSE after 0..steps steps."""
    out = torch.zeros(steps + 1, batch.n_tasks)
    for i in range(batch.n_tasks):
        p = {k: v.clone() for k, v in theta.items()}
        for s in range(steps + 1):
            with torch.no_grad():
                out[s, i] = ((functional_call(model, p, (batch.x_query[i],)) - batch.y_query[i]) ** 2).mean()
            if s == steps:
                break
            leaves = {k: v.detach().requires_grad_(True) for k, v in p.items()}
            loss = ((functional_call(model, leaves, (batch.x_support[i],)) - batch.y_support[i]) ** 2).mean()
            grads = torch.autograd.grad(loss, list(leaves.values()))
            a = lambda k: alpha[k] if isinstance(alpha, dict) else alpha
            p = {k: (v - a(k) * g).detach() for (k, v), g in zip(leaves.items(), grads)}
    return out


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_curve_shape_and_values(steps):
    model, theta, batch = setup()
    curve = adaptation_curve(theta, batch, 0.01, steps)
    assert curve.shape == (steps + 1, batch.n_tasks)
    assert not curve.requires_grad
    torch.testing.assert_close(curve, manual_curve(model, theta, batch, 0.01, steps), rtol=1e-5, atol=1e-6)


def test_step_zero_is_the_query_loss_at_theta():
    model, theta, batch = setup()
    curve = adaptation_curve(theta, batch, 0.01, 2)
    with torch.no_grad():
        direct = ((model_forward(model, theta, batch.x_query) - batch.y_query) ** 2).mean(dim=(1, 2))
    torch.testing.assert_close(curve[0], direct)


def model_forward(model, theta, x):
    return torch.stack([functional_call(model, theta, (xi,)) for xi in x])


def test_adaptation_lowers_the_support_fit():
    """Sanity: many small steps on the support points lower the support loss of each task."""
    model, theta, batch = setup()
    params = adapted_params(theta, batch, 0.01, 20)
    assert len(params) == 21
    first, last = batch.support_loss(params[0]), batch.support_loss(params[-1])
    assert (last < first).all()


def test_meta_sgd_rates_are_used_per_weight():
    model, theta, batch = setup()
    gen = torch.Generator().manual_seed(3)
    alpha = {k: 0.02 * torch.rand(v.shape, generator=gen) for k, v in theta.items()}
    curve = adaptation_curve(theta, batch, alpha, 2)
    torch.testing.assert_close(curve, manual_curve(model, theta, batch, alpha, 2), rtol=1e-5, atol=1e-6)


def test_curve_does_not_change_theta_and_works_with_leaf_params():
    model, theta, batch = setup()
    leafs = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    before = {k: v.detach().clone() for k, v in leafs.items()}
    a = adaptation_curve(leafs, batch, 0.05, 3)
    b = adaptation_curve(theta, batch, 0.05, 3)
    assert torch.equal(a, b)
    assert all(torch.equal(leafs[k].detach(), before[k]) for k in leafs) and all(v.grad is None for v in leafs.values())
    with torch.no_grad():  # also inside no_grad, as in evaluation code
        torch.testing.assert_close(adaptation_curve(theta, batch, 0.05, 3), b)


def test_cavia_curve_only_changes_the_context():
    model, theta, batch = setup(context_dim=2)
    alpha, steps = 1.0, 3
    params = adapted_params(theta, batch, alpha, steps, context_dim=2)
    assert len(params) == steps + 1
    assert torch.equal(params[0]["context"], torch.zeros(batch.n_tasks, 2))
    for p in params:
        assert set(p) == set(theta)
        for k in theta:
            if k != "context":
                assert all(torch.equal(p[k][i], theta[k]) for i in range(batch.n_tasks))
    assert all(not torch.equal(params[s]["context"], params[s - 1]["context"]) for s in range(1, steps + 1))

    # independent: per task, gradient steps on the context only (starting at 0, ignoring theta["context"])
    curve = adaptation_curve(theta, batch, alpha, steps, context_dim=2)
    shared = {k: v for k, v in theta.items() if k != "context"}
    for i in range(batch.n_tasks):
        ctx = torch.zeros(2)
        for s in range(steps + 1):
            with torch.no_grad():
                q = ((functional_call(model, {**shared, "context": ctx}, (batch.x_query[i],))
                      - batch.y_query[i]) ** 2).mean()
            assert curve[s, i].item() == pytest.approx(q.item(), rel=1e-5, abs=1e-6)
            c = ctx.clone().requires_grad_(True)
            loss = ((functional_call(model, {**shared, "context": c}, (batch.x_support[i],))
                     - batch.y_support[i]) ** 2).mean()
            ctx = (c - alpha * torch.autograd.grad(loss, c)[0]).detach()


def test_summarize_is_mean_and_95_percent_half_width():
    values = np.random.default_rng(0).gamma(2.0, 1.5, size=37)
    s = summarize(values)
    assert s.mean == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert s.ci95 == pytest.approx(1.96 * statistics.stdev(values) / math.sqrt(37), rel=1e-12)
    assert str(s) == f"{statistics.fmean(values):.2f} ± {s.ci95:.2f}"
    # works on a tensor row of an adaptation curve too
    t = summarize(torch.tensor(values))
    assert t.mean == pytest.approx(s.mean) and t.ci95 == pytest.approx(s.ci95)


def test_summarize_single_value_and_constant_values():
    assert summarize([2.5]).mean == 2.5 and summarize([2.5]).ci95 == 0.0
    assert summarize([1.0, 1.0, 1.0]).ci95 == 0.0
    assert summarize([0.0, 2.0]).ci95 == pytest.approx(1.96 * math.sqrt(2) / math.sqrt(2))


def _bench(name="navigation"):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def test_bench_meta_gradients_splits_maml_into_fomaml_and_the_second_order_term():
    """`bench/meta_gradients.py`: per meta-batch the MAML and FOMAML gradients of one checkpoint, and
    their difference; seeded, so the same batches give the same gradients."""
    from course_lib import checkpoints
    bench = _bench("meta_gradients")
    path = checkpoints.shipped("navigation2d_maml")
    grads = bench.meta_gradients(path, batches=2, seed=3)
    assert set(grads) == {"maml", "fomaml", "second-order term"}
    for m, f, d in zip(grads["maml"], grads["fomaml"], grads["second-order term"]):
        assert torch.equal(d, m - f) and float(d.norm()) > 1e-3 * float(m.norm())
    assert not torch.equal(grads["maml"][0], grads["maml"][1])            # two different meta-batches
    again = bench.meta_gradients(path, batches=2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(grads["maml"], again["maml"]))
    assert bench.cosine(grads["maml"][0], 2 * grads["maml"][0]) == pytest.approx(1.0)


def test_bench_splits_the_one_step_return_by_task():
    """`bench/navigation.py --by-task`: directions apart, velocity goals in quarters of [0, 2]; the
    oracle (not adapted) has a column of its return; the test tasks' mean is printed beside the distribution's."""
    from types import SimpleNamespace
    by_task = _bench("navigation").by_task
    tasks = np.array([0.1, 0.2, 1.0, 1.9])                                          # 1.0: an edge, counted once
    maml = np.array([[0.0] * 4, [-10.0, -20.0, -30.0, -40.0]])
    oracle = np.array([[5.0, 7.0, 9.0, 11.0]])
    text = by_task(SimpleNamespace(env="halfcheetah_vel", returns={"maml": maml, "oracle": oracle},
                                   on_paper_tasks=False), tasks)
    rows = {line.split()[0] + line.split()[1]: line.split()[2:] for line in text.splitlines()[2:]}
    assert "test tasks' mean 0.800; the distribution's 1.000" in text
    assert text.splitlines()[1].split()[2:] == ["maml", "oracle"]
    assert rows["[0.00,0.50]"][:2] == ["2", "-15.00"] and rows["[1.50,2.00]"][:2] == ["1", "-40.00"]
    assert rows["[0.00,0.50]"][4] == "6.00" and rows["[1.50,2.00]"][4] == "11.00"  # the oracle's return
    assert rows["[0.50,1.00]"] == ["0", "—", "—"]                                  # an empty bin
    assert rows["[1.00,1.50]"][:2] == ["1", "-30.00"]
    directions = by_task(SimpleNamespace(env="halfcheetah_dir", returns={"maml": maml}, on_paper_tasks=False),
                         np.array([-1.0, 1, 1, -1]))
    assert [line.split()[:4] for line in directions.splitlines()[2:]] == [["task", "-1", "2", "-25.00"],
                                                                          ["task", "+1", "2", "-25.00"]]
    # on the paper's own tasks the paper's MAML is a column too: its one-step returns on those tasks
    paper_tasks = paper_test_tasks("halfcheetah_dir", 4)
    theirs = np.asarray(reference_returns("halfcheetah_dir")["maml"][1][:4])
    text = by_task(SimpleNamespace(env="halfcheetah_dir", returns={"maml": maml}, on_paper_tasks=True), paper_tasks)
    assert text.splitlines()[1].split()[2:] == ["maml", "paper", "maml"]           # no oracle: no paper oracle
    for line in text.splitlines()[2:]:
        where = paper_tasks == float(line.split()[1])
        assert float(line.split()[-3]) == pytest.approx(theirs[where].mean(), abs=0.006)
    # with our oracle, the paper's oracle (its return, one number per task) is the last column
    their_oracle = np.asarray(reference_returns("halfcheetah_dir")["oracle"][0][:4])
    text = by_task(SimpleNamespace(env="halfcheetah_dir", returns={"maml": maml, "oracle": oracle},
                                   on_paper_tasks=True), paper_tasks)
    assert text.splitlines()[1].split()[2:] == ["maml", "oracle", "paper", "maml", "paper", "oracle"]
    for line in text.splitlines()[2:]:
        where = paper_tasks == float(line.split()[1])
        assert float(line.split()[-3]) == pytest.approx(their_oracle[where].mean(), abs=0.006)


def test_bench_prints_the_return_per_evaluation_seed():
    """`bench/navigation.py --seeds K`: per adapted model and step ≥ 1, mean ± s.e. over the tasks for
    each seed, then the mean over the seeds; the oracle (not adapted) has no row."""
    from course_lib.rl.reproduction import ReproductionTable
    by_seed = _bench("navigation").by_seed

    def table(seed, after_one_step):
        returns = {"maml": np.array([[0.0, 0.0, 0.0], after_one_step]), "oracle": np.zeros((1, 3))}
        return ReproductionTable("halfcheetah_vel", 1, 20, 3, seed, returns, (), {}, figure=None)

    text = by_seed([table(0, [-1.0, -2.0, -3.0]), table(1, [-5.0, -5.0, -5.0])])
    header, *rows = text.splitlines()[1:]
    assert header.split() == ["model", "steps", "seed", "0", "seed", "1", "mean"]
    assert [row.split() for row in rows] == [["maml", "1", "-2.00", "±", "0.58", "-5.00", "±", "0.00", "-3.50"]]
