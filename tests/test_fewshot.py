"""Few-shot classification (course_lib/fewshot): the conv net under vmap, transductive batch norm, MAML's
meta-gradient against finite differences, FOMAML's dropped Hessian term, the speed bench's per-task loop
(bench/fewshot.py --speed) against the vmapped meta-gradient, learning, exact resume, bad
arguments, the loader, evaluation and the command line — on a tiny character subset (seconds)."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.func import functional_call

from course_lib.checkpoints import CheckpointError, shipped
from course_lib.fewshot.config import FewShotConfig, default_config, distribution, load_fewshot, splits
from course_lib.fewshot.evaluate import (evaluate_checkpoint, finetune_accuracy, heldout_tasks, meta_accuracy,
                                         prototype_accuracy)
from course_lib.fewshot.model import ClassificationBatch, ConvNet, batch_norm
from course_lib.fewshot.train import main, maml_objective_partial, train_fewshot
from course_lib.functional import batched, forward, parameters_of
from course_lib.meta import meta_objective

TINY = dict(alphabets=3, characters_per_alphabet=6, filters=8, meta_batch=4, k_query=2, val_tasks=4,
            checkpoint_every=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache folder for the tiny character subset (generated once, ~5 s)."""
    return tmp_path_factory.mktemp("characters")


def tiny(algo="maml", **overrides):
    return default_config(algo, **{**TINY, **overrides})


def episodes(n_tasks=3, n_way=2, k_shot=1, k_query=2, seed=0, dtype=None):
    """Synthetic episodes: random binary 'characters' (fast, no data set needed)."""
    rng = np.random.default_rng(seed)
    images = ((rng.random((6, 20, 28, 28)) < 0.3) * 255).astype(np.uint8)
    return distribution(FewShotConfig(), images, n_way, k_shot, k_query).sample_batch(n_tasks, rng)


# ------------------------------------------------------------------ the model
def test_shapes_and_vmap_over_tasks_match_a_per_task_loop():
    model = ConvNet(5, filters=8)
    theta = parameters_of(model)
    ep = episodes(3, n_way=5, k_shot=2)
    params = {k: v.detach() + 0.01 * torch.randn(3, *v.shape) for k, v in theta.items()}  # different per task
    out = forward(model, params, ep.x_support, task_batched=True)
    assert out.shape == (3, 10, 5)
    for t in range(3):
        alone = functional_call(model, {k: v[t] for k, v in params.items()}, (ep.x_support[t],))
        torch.testing.assert_close(out[t], alone, rtol=1e-5, atol=1e-5)
    assert functional_call(model, theta, (ep.x_support[0],), {"features": True}).shape == (10, 8)


def test_cavia_context_is_film_on_a_block_and_starts_neutral():
    plain, cavia = ConvNet(2, 4), ConvNet(2, 4, context_dim=3)
    theta = parameters_of(cavia)
    assert theta["context"].shape == (3,) and theta["film.weight"].shape == (8, 3)
    common = {k: v for k, v in theta.items() if k in dict(plain.named_parameters())}
    x = episodes().x_support[0]
    torch.testing.assert_close(functional_call(cavia, theta, (x,)), functional_call(plain, common, (x,)))
    moved = {**theta, "context": torch.ones(3)}
    assert not torch.allclose(functional_call(cavia, moved, (x,)), functional_call(plain, common, (x,)))


def test_cavia_context_has_a_gradient_at_its_start():
    """φ = 0 must still be adaptable: a zero FiLM weight would give ∂loss/∂φ = 0 and ∂loss/∂W = 0 forever."""
    model = ConvNet(2, 4, context_dim=3)
    theta = {k: v.detach().clone().requires_grad_() for k, v in parameters_of(model).items()}
    e = episodes()
    loss = torch.nn.functional.cross_entropy(functional_call(model, theta, (e.x_support[0],)), e.y_support[0])
    (g_context,) = torch.autograd.grad(loss, [theta["context"]])
    assert g_context.abs().max() > 1e-6


def test_reptile_adapts_on_every_drawing_of_a_task():
    batch = ClassificationBatch.of(ConvNet(2, 4), episodes(k_shot=1, k_query=2))
    whole = batch.whole()
    assert whole.x_support.shape[1] == 6 and torch.equal(whole.x_support[:, 2:], batch.x_query)
    assert torch.equal(whole.y_support, torch.cat([batch.y_support, batch.y_query], 1))


def test_batch_norm_is_transductive_without_running_statistics():
    model = ConvNet(2, 4)
    assert list(model.buffers()) == []                 # nothing kept between batches: no train/eval mode
    x = episodes(1, k_query=3).x_query[0]
    theta = parameters_of(model)
    together = functional_call(model, theta, (x,))
    first_alone = functional_call(model, theta, (x[:2],))
    assert not torch.allclose(together[:2], first_alone)          # an image's logits depend on its batch
    h = torch.randn(6, 3, 4, 4) * 5 + 2
    out = batch_norm(h, torch.ones(3), torch.zeros(3))
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


# ------------------------------------------------------------------ meta-gradients, float64
def _tiny_problem(n_tasks=1):
    torch.manual_seed(3)
    model = ConvNet(2, filters=4).double()
    theta = {k: (v.detach() + 0.1 * torch.randn_like(v)).requires_grad_(True)
             for k, v in parameters_of(model).items()}
    batch = ClassificationBatch.of(model, episodes(n_tasks, n_way=2, k_shot=1, k_query=2, seed=5), torch.float64)
    return model, theta, batch


def _grad(loss, theta):
    return dict(zip(theta, torch.autograd.grad(loss, list(theta.values()))))


def _dot(a, b):
    return sum((a[k] * b[k]).sum() for k in a)


@pytest.mark.parametrize("steps", [1, 2])
def test_maml_meta_gradient_matches_central_finite_differences(steps):
    _, theta, batch = _tiny_problem(n_tasks=2)
    alpha = 0.4
    grad = _grad(meta_objective(theta, batch, alpha, steps, "maml"), theta)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = {k: torch.randn(t.shape, generator=gen, dtype=t.dtype) for k, t in theta.items()}
        eps = 1e-5
        f = lambda s: float(meta_objective({k: (theta[k] + s * v[k]).detach().requires_grad_(True) for k in theta},
                                           batch, alpha, steps, "maml").detach())
        fd = (f(eps) - f(-eps)) / (2 * eps)
        assert abs(float(_dot(grad, v)) - fd) <= 1e-6 * max(1.0, abs(fd)), (float(_dot(grad, v)), fd)


def test_fomaml_differs_from_maml_by_the_dropped_hessian_term():
    """One step: ∇MAML − ∇FOMAML = −α H_support(θ) ∇L_query(θ'), the Hessian-vector product taken by
    central differences of the support gradient (independent of the inner loop's double backward)."""
    _, theta, batch = _tiny_problem(n_tasks=1)
    alpha = 0.4
    maml = _grad(meta_objective(theta, batch, alpha, 1, "maml"), theta)
    fomaml = _grad(meta_objective(theta, batch, alpha, 1, "fomaml"), theta)
    support = lambda p: batch.support_loss(batched(p, 1)).sum()
    g = _grad(support(theta), theta)
    adapted = {k: (theta[k] - alpha * g[k]).detach().requires_grad_(True) for k in theta}
    g_query = _grad(batch.query_loss(batched(adapted, 1)).mean(), adapted)
    torch.testing.assert_close(fomaml, g_query, rtol=1e-9, atol=1e-12)      # FOMAML: ∇L_query at θ'
    eps = 1e-5

    def shifted(s):
        p = {k: (theta[k] + s * g_query[k]).detach().requires_grad_(True) for k in theta}
        return _grad(support(p), p)
    plus, minus = shifted(eps), shifted(-eps)
    for k in theta:
        hvp = (plus[k] - minus[k]) / (2 * eps)
        torch.testing.assert_close(maml[k] - fomaml[k], -alpha * hvp, rtol=1e-5, atol=1e-8)
    assert max(float((maml[k] - fomaml[k]).abs().max()) for k in theta) > 1e-4          # the term is not zero


def test_first_order_early_steps_keep_the_last_hessian_only():
    _, theta, batch = _tiny_problem(n_tasks=2)
    full = _grad(meta_objective(theta, batch, 0.4, 2, "maml"), theta)
    same = _grad(maml_objective_partial(theta, batch, 0.4, 2, 2), theta)
    partial = _grad(maml_objective_partial(theta, batch, 0.4, 2, 1), theta)
    first = _grad(meta_objective(theta, batch, 0.4, 2, "fomaml"), theta)
    for k in theta:
        torch.testing.assert_close(same[k], full[k])
    gap = lambda a, b: max(float((a[k] - b[k]).abs().max()) for k in theta)
    assert gap(partial, full) > 1e-6 and gap(partial, first) > 1e-6


def _speed_bench():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / "fewshot.py"
    spec = importlib.util.spec_from_file_location("bench_fewshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scores_the_pretrained_baselines_beside_every_meta_learned_setting():
    """bench/fewshot.py --table: a pretrained checkpoint at its own N-way K-shot and at every shipped
    meta-learned one's on the same split; a meta-learned checkpoint only at its own."""
    settings = _speed_bench().settings
    shipped = [default_config("maml", n_way=20, k_shot=5), default_config("fomaml"),
               default_config("maml", k_shot=5, split_by="alphabet"), default_config("pretrain", n_way=5)]
    assert settings(default_config("pretrain"), shipped) == [(5, 1), (20, 5)]
    assert settings(default_config("pretrain", split_by="alphabet"), shipped) == [(5, 1), (5, 5)]
    assert settings(default_config("maml", n_way=20, k_shot=5), shipped) == [(20, 5)]


def _meta_step_grad(theta, batch, steps, algo="maml"):
    """The meta-gradient the trainer (and bench/fewshot.py --speed's 'ours' row) takes: meta_step's .grad."""
    from course_lib.fewshot.train import meta_step
    for p in theta.values():
        p.grad = None
    meta_step(default_config(algo, steps=steps, alpha=0.4), theta, batch)
    grads = {k: p.grad.clone() for k, p in theta.items()}
    for p in theta.values():
        p.grad = None
    return grads


@pytest.mark.parametrize("steps", [1, 2])
def test_speed_bench_per_task_loop_has_the_vmapped_meta_gradient(steps):
    """bench/fewshot.py --speed times meta_step against a plain per-task loop; the ratio means something only
    if both compute the same meta-gradient. Float64, three different tasks; the loop keeps the Hessian term
    (FOMAML's gradient is far from it) and averages over the tasks as meta_step does."""
    _, theta, batch = _tiny_problem(n_tasks=3)
    ours = _meta_step_grad(theta, batch, steps)
    loop = _grad(_speed_bench().per_task_objective(batch, theta, 0.4, steps), theta)
    for k in theta:
        torch.testing.assert_close(loop[k], ours[k], rtol=1e-10, atol=1e-12)
    first = _meta_step_grad(theta, batch, steps, "fomaml")
    assert max(float((ours[k] - first[k]).abs().max()) for k in theta) > 1e-4


# ------------------------------------------------------------------ training
def test_training_lifts_query_accuracy_above_chance(cache):
    config = tiny(iterations=40, meta_batch=8, checkpoint_every=40, n_way=3, meta_lr=3e-3)
    before = train_fewshot(replace(config, iterations=0), progress=False, cache_dir=cache)
    after = train_fewshot(config, progress=False, cache_dir=cache)
    train_chars, _ = splits(config, cache)
    eps = distribution(config, train_chars).sample_batch(100, np.random.default_rng(99))
    model = ConvNet(3, 8)
    acc = lambda ckpt: float(meta_accuracy(model, ckpt["theta"], config, eps, steps=1)[-1].mean())
    a0, a1 = acc(before), acc(after)                       # after the one inner step it was trained for
    assert a1 > 0.5 and a1 > a0 + 0.08, (a0, a1)          # chance: 1/3 (seeded: 0.47 before, 0.59 after)


@pytest.mark.parametrize("algo", ["maml", "fomaml", "reptile", "cavia", "pretrain"])
def test_resume_gives_identical_theta(tmp_path, cache, algo):
    extra = dict(context_dim=4) if algo == "cavia" else {}
    straight = train_fewshot(tiny(algo, iterations=4, **extra), out=tmp_path / "a.pt", progress=False, cache_dir=cache)
    train_fewshot(tiny(algo, iterations=2, **extra), out=tmp_path / "b.pt", progress=False, cache_dir=cache)
    resumed = train_fewshot(tiny(algo, iterations=4, **extra), out=tmp_path / "b.pt", resume=True, progress=False,
                            cache_dir=cache)
    assert resumed["iteration"] == 4
    assert set(straight["theta"]) == set(resumed["theta"])
    for k in straight["theta"]:
        assert torch.equal(straight["theta"][k], resumed["theta"][k]), k
    drop = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]
    assert drop(straight["history"]) == drop(resumed["history"])


def test_resume_refuses_other_settings(tmp_path, cache):
    train_fewshot(tiny(iterations=2), out=tmp_path / "a.pt", progress=False, cache_dir=cache)
    with pytest.raises(ValueError, match="alpha"):
        train_fewshot(tiny(iterations=4, alpha=0.1), out=tmp_path / "a.pt", resume=True, progress=False,
                      cache_dir=cache)


# ------------------------------------------------------------------ arguments and loading
@pytest.mark.parametrize("bad, name", [
    (dict(algo="maml2"), "algo"), (dict(n_way=1), "n_way"), (dict(k_shot=0), "k_shot"), (dict(k_query=0), "k_query"),
    (dict(alpha=0.0), "alpha"), (dict(alpha=float("nan")), "alpha"), (dict(meta_lr=-1.0), "meta_lr"),
    (dict(filters=0), "filters"), (dict(meta_batch=0), "meta_batch"), (dict(steps=0), "steps"),
    (dict(test_steps=-1), "test_steps"), (dict(split_by="drawer"), "split_by"), (dict(task="sinusoid"), "task"),
    (dict(second_order_steps=2), "second_order_steps"), (dict(algo="fomaml", second_order_steps=1), "second_order_steps"),
    (dict(algo="cavia"), "context_dim"), (dict(context_dim=3), "context_dim"), (dict(algo="reptile", steps=1), "steps"),
    (dict(algo="pretrain", steps=1), "steps"), (dict(seed=-1), "seed"), (dict(val_tasks=1), "val_tasks"),
])
def test_bad_settings_raise_value_error_naming_the_argument(bad, name):
    with pytest.raises(ValueError, match=name):
        FewShotConfig(**bad)


def test_bad_model_and_evaluation_arguments():
    with pytest.raises(ValueError, match="filters"):
        ConvNet(5, filters=0)
    with pytest.raises(ValueError, match="n_out"):
        ConvNet(0)
    with pytest.raises(ValueError, match="x must have shape"):
        ConvNet(2, 4)(torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="x_support"):
        ClassificationBatch(ConvNet(2, 4), torch.zeros(2, 3, 28, 28), torch.zeros(2, 3), torch.zeros(2, 1, 1, 28, 28),
                            torch.zeros(2, 1))
    with pytest.raises(ValueError, match="n_tasks"):
        heldout_tasks(FewShotConfig(), n_tasks=1)
    with pytest.raises(SystemExit):
        main(["--algo", "maml", "--n-way", "1"])


def test_load_refuses_a_sinusoid_or_rl_checkpoint():
    with pytest.raises(CheckpointError, match="sinusoid checkpoint, not a few-shot one"):
        load_fewshot(shipped("sinusoid_maml"))
    with pytest.raises(CheckpointError, match="rl:.*not a few-shot one"):
        load_fewshot(shipped("navigation2d_maml"))


def test_evaluation_rows_and_baselines(tmp_path, cache):
    maml = tmp_path / "maml.pt"
    pre = tmp_path / "pretrain.pt"
    train_fewshot(tiny(iterations=2), out=maml, progress=False, cache_dir=cache)
    train_fewshot(tiny("pretrain", iterations=2), out=pre, progress=False, cache_dir=cache)
    rows = evaluate_checkpoint(maml, n_tasks=10, cache_dir=cache)
    assert list(rows) == ["maml"] and 0 <= rows["maml"].mean <= 100 and rows["maml"].n == 10
    rows = evaluate_checkpoint(pre, n_tasks=10, cache_dir=cache)
    assert list(rows) == ["pretrain+fine-tune", "pretrain+prototype"]
    other = evaluate_checkpoint(pre, n_tasks=10, cache_dir=cache, n_way=3, k_shot=2)   # another setting
    assert list(other) == list(rows) and other["pretrain+prototype"].mean != rows["pretrain+prototype"].mean
    with pytest.raises(ValueError, match="n_way / k_shot: .*maml checkpoint"):
        evaluate_checkpoint(maml, n_tasks=10, cache_dir=cache, n_way=3)
    model, theta, config, _ = load_fewshot(pre)
    assert theta["head.weight"].shape[0] == 4 * splits(config, cache)[0].n_characters   # all classes × 4 turns
    ep = episodes(4, n_way=5, k_shot=1, k_query=2)
    assert finetune_accuracy(model, theta, config, ep, steps=2).shape == (3, 4)
    assert prototype_accuracy(model, theta, ep).shape == (4,)
    # identical support and query drawings: prototypes recognise every one of them
    same = type(ep)(ep.x_support, ep.y_support, ep.x_support, ep.y_support, ep.classes)
    assert prototype_accuracy(model, theta, same).min() == 1.0


def test_command_line_trains_and_saves_its_command(tmp_path, cache, monkeypatch):
    import course_lib.fewshot.config as C
    real = C.load_characters
    monkeypatch.setattr(C, "load_characters", lambda seed, cache_dir, *a: real(seed, cache, *a))
    out = tmp_path / "cli.pt"
    args = ["--algo", "fomaml", "--iterations", "2", "--filters", "4", "--meta-batch", "2", "--alphabets", "3",
            "--characters-per-alphabet", "6", "--val-tasks", "2", "--out", str(out)]
    assert main(args + ["--quiet", "--threads", "1"]) == 0
    _, _, config, ckpt = load_fewshot(out)
    assert ckpt["command"] == "python -m course_lib.fewshot.train " + " ".join(args)
    assert config.algo == "fomaml" and config.filters == 4 and ckpt["iteration"] == 2
