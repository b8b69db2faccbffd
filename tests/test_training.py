"""Meta-training: seeded reproducibility, exact resume, divergence handling, atomic checkpoints."""
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import course_lib.checkpoints
import course_lib.sinusoid.config
import course_lib.sinusoid.train
from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.functional import detached
from course_lib.meta import maml_objective
from course_lib.sinusoid.config import ALGOS, build_model, default_config, sample_batch
from course_lib.runs import TrainingDiverged
from course_lib.sinusoid.train import train_sinusoid

SMALL = dict(meta_batch=5, k_shot=5, hidden=(16, 16), checkpoint_every=10, val_tasks=8)


def small(algo="maml", **overrides):
    return default_config(algo, **{**SMALL, **overrides})


def same_theta(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def strip_wall_time(history):
    return [{k: v for k, v in h.items() if k != "wall_time"} for h in history]


def test_same_seed_same_numbers(tmp_path):
    a = train_sinusoid(small(iterations=30), out=tmp_path / "a.pt", progress=False)
    b = train_sinusoid(small(iterations=30), out=tmp_path / "b.pt", progress=False)
    assert a["iteration"] == b["iteration"] == 30
    assert same_theta(a["theta"], b["theta"])
    assert strip_wall_time(a["history"]) == strip_wall_time(b["history"])
    assert [h["iteration"] for h in a["history"]] == [10, 20, 30]
    on_disk = load_checkpoint(tmp_path / "a.pt")
    assert same_theta(on_disk["theta"], a["theta"])
    # and training actually moved θ away from its initialisation
    init = train_sinusoid(small(iterations=0), progress=False)
    assert not same_theta(init["theta"], a["theta"])


def record_training_tasks(monkeypatch):
    real = course_lib.sinusoid.train.sample_batch
    seen = []

    def spy(config, model, rng, n_tasks=None, k=None):
        batch = real(config, model, rng, n_tasks, k)
        if n_tasks is None:
            seen.append((config.seed, batch.tasks.copy()))
        return batch

    monkeypatch.setattr(course_lib.sinusoid.train, "sample_batch", spy)
    return seen


def test_different_seed_different_numbers(monkeypatch):
    seen = record_training_tasks(monkeypatch)
    a = train_sinusoid(small(iterations=5, seed=0), progress=False)
    b = train_sinusoid(small(iterations=5, seed=1), progress=False)
    c = train_sinusoid(small(iterations=5, seed=1), progress=False)
    assert all(not torch.equal(a["theta"][k], b["theta"][k]) for k in a["theta"])
    assert a["history"][-1]["val_loss"] != b["history"][-1]["val_loss"]
    # the seed drives the task stream too, not only the initialisation
    tasks = {seed: [] for seed in (0, 1)}
    for seed, t in seen:
        tasks[seed].append(t)
    assert len(tasks[0]) == 5 and len(tasks[1]) == 10
    assert not any(np.array_equal(x, y) for x, y in zip(tasks[0], tasks[1]))
    assert all(np.array_equal(x, y) for x, y in zip(tasks[1][:5], tasks[1][5:]))
    assert same_theta(b["theta"], c["theta"])


@pytest.mark.parametrize("algo", ["maml", "metasgd", "reptile"])
def test_resume_is_exact(tmp_path, algo):
    straight = train_sinusoid(small(algo, iterations=30), out=tmp_path / "straight.pt", progress=False)

    path = tmp_path / "resumed.pt"
    first = train_sinusoid(small(algo, iterations=20), out=path, progress=False)
    assert first["iteration"] == 20 and load_checkpoint(path)["iteration"] == 20
    resumed = train_sinusoid(small(algo, iterations=30), out=path, resume=True, progress=False)

    assert resumed["iteration"] == 30
    assert same_theta(resumed["theta"], straight["theta"])
    if algo == "metasgd":
        assert same_theta(resumed["alpha"], straight["alpha"])
    assert strip_wall_time(resumed["history"]) == strip_wall_time(straight["history"])
    assert load_checkpoint(path)["config"]["iterations"] == 30
    csv_lines = (tmp_path / "resumed.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + 3


def test_resume_from_a_finished_run_changes_nothing(tmp_path):
    path = tmp_path / "run.pt"
    done = train_sinusoid(small(iterations=10), out=path, progress=False)
    again = train_sinusoid(small(iterations=10), out=path, resume=True, progress=False)
    assert same_theta(done["theta"], again["theta"]) and again["iteration"] == 10
    assert strip_wall_time(again["history"]) == strip_wall_time(done["history"])


def test_resume_refuses_a_different_config(tmp_path):
    path = tmp_path / "run.pt"
    train_sinusoid(small(iterations=10), out=path, progress=False)
    with pytest.raises(ValueError, match="resume: the checkpoint .* was trained with different settings"):
        train_sinusoid(small(iterations=20, meta_lr=1e-2), out=path, resume=True, progress=False)
    with pytest.raises(ValueError, match="different settings"):
        train_sinusoid(small(iterations=20, seed=1), out=path, resume=True, progress=False)


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    a = train_sinusoid(small(iterations=10), out=tmp_path / "new.pt", resume=True, progress=False)
    b = train_sinusoid(small(iterations=10), progress=False)
    assert same_theta(a["theta"], b["theta"])


def poison_after(monkeypatch, n_good, where="y_query"):
    """Make the training batch of iteration `n_good` (0-based) contain NaN targets."""
    real = course_lib.sinusoid.train.sample_batch
    calls = {"train": 0}

    def patched(config, model, rng, n_tasks=None, k=None):
        batch = real(config, model, rng, n_tasks, k)
        if n_tasks is None:  # a training batch (the validation batch passes n_tasks)
            if calls["train"] == n_good:
                target = getattr(batch, where).clone()
                target[1, 0, 0] = float("nan")
                setattr(batch, where, target)
            calls["train"] += 1
        return batch

    monkeypatch.setattr(course_lib.sinusoid.train, "sample_batch", patched)
    return calls


@pytest.mark.parametrize("algo,where", [("maml", "y_query"), ("maml", "y_support"), ("reptile", "y_support"),
                                        ("cavia", "y_query")])
def test_nan_stops_training_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, algo, where):
    path = tmp_path / "run.pt"
    poison_after(monkeypatch, 15, where)
    with pytest.raises(TrainingDiverged, match=r"non-finite .* at iteration 15;.*iteration 10\) is intact"):
        train_sinusoid(small(algo, iterations=30), out=path, progress=False)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 10
    assert [h["iteration"] for h in ckpt["history"]] == [10]
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    # the intact checkpoint is the state a clean run had at iteration 10
    clean = train_sinusoid(small(algo, iterations=10), progress=False)
    assert same_theta(ckpt["theta"], clean["theta"])


def test_nan_is_caught_before_the_optimizer_step(monkeypatch):
    """The in-memory θ is never touched by a non-finite gradient: no Adam step on the bad batch."""
    captured = []
    real_parameters_of = course_lib.sinusoid.train.parameters_of
    monkeypatch.setattr(course_lib.sinusoid.train, "parameters_of",
                        lambda model: captured.append(real_parameters_of(model)) or captured[-1])
    poison_after(monkeypatch, 7)
    with pytest.raises(TrainingDiverged, match="at iteration 7"):
        train_sinusoid(small(iterations=30), progress=False)
    (theta,) = captured
    monkeypatch.undo()
    clean = train_sinusoid(small(iterations=7), progress=False)
    assert same_theta({k: v.detach() for k, v in theta.items()}, clean["theta"])


def test_nan_without_output_path(monkeypatch):
    poison_after(monkeypatch, 0)
    with pytest.raises(TrainingDiverged, match="at iteration 0; .*no checkpoint was written"):
        train_sinusoid(small(iterations=5), progress=False)


def test_nan_before_the_first_checkpoint(tmp_path, monkeypatch):
    poison_after(monkeypatch, 4)
    with pytest.raises(TrainingDiverged, match="at iteration 4; .*no checkpoint was written"):
        train_sinusoid(small(iterations=30), out=tmp_path / "run.pt", progress=False)
    assert not (tmp_path / "run.pt").exists()


def test_nan_after_resume_points_at_the_resumed_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    train_sinusoid(small(iterations=10), out=path, progress=False)
    poison_after(monkeypatch, 3)  # iteration 13 of the resumed run
    with pytest.raises(TrainingDiverged, match=r"at iteration 13; .*iteration 10\) is intact"):
        train_sinusoid(small(iterations=30), out=path, resume=True, progress=False)
    assert load_checkpoint(path)["iteration"] == 10


def test_default_config_for_every_algo():
    for algo in ALGOS:
        config = default_config(algo)
        assert config.algo == algo
    assert default_config("cavia").context_dim == 4 and default_config("cavia").alpha == 1.0
    assert default_config("reptile", steps=3).steps == 3  # overrides win over the algorithm defaults
    assert default_config("maml") == course_lib.sinusoid.config.SinusoidConfig()


def test_atomic_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    good = {"iteration": 3, "theta": {"w": torch.arange(4.0)}}
    save_checkpoint(good, path)
    before = path.read_bytes()
    real_save = torch.save

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"partial garbage that is not a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(course_lib.checkpoints.torch, "save", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint({"iteration": 4, "theta": {"w": torch.zeros(4)}}, path)
    monkeypatch.setattr(course_lib.checkpoints.torch, "save", real_save)

    assert path.read_bytes() == before
    loaded = load_checkpoint(path)
    assert loaded["iteration"] == 3 and torch.equal(loaded["theta"]["w"], torch.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no temporary file left


def test_checkpoint_loads_weights_only_and_rejects_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"fn": os.getcwd}, path)  # an arbitrary callable is not a weight
    with pytest.raises(Exception):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_training_checkpoint_is_weights_only_loadable(tmp_path):
    path = tmp_path / "run.pt"
    train_sinusoid(small("metasgd", iterations=10), out=path, progress=False)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("config", "model", "theta", "alpha", "optimizer", "rng", "iteration", "history", "wall_time"):
        assert key in ckpt
    model, theta, alpha, config = course_lib.sinusoid.config.load_trained(path)
    assert config == small("metasgd", iterations=10)
    assert set(theta) == set(dict(model.named_parameters())) == set(alpha)


@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_trains(algo, tmp_path):
    iterations = {} if algo == "random" else dict(iterations=3)  # "random" is the untrained init
    config = small(algo, meta_batch=2, checkpoint_every=2, val_tasks=3, **iterations)
    ckpt = train_sinusoid(config, out=tmp_path / f"{algo}.pt", progress=False)
    assert ckpt["iteration"] == config.iterations
    assert all(torch.isfinite(v).all() for v in ckpt["theta"].values())
    assert all(math.isfinite(h["val_loss"]) and math.isfinite(h["train_meta_loss"]) for h in ckpt["history"])
    assert [h["iteration"] for h in ckpt["history"]] == ([2, 3] if config.iterations == 3 else [])
    init = train_sinusoid(small(algo, iterations=0, meta_batch=2, val_tasks=3), progress=False)
    moved = not same_theta(init["theta"], ckpt["theta"])
    assert moved == (config.iterations > 0)


def test_maml_learns():
    """~300 iterations of MAML lower the post-adaptation loss on held-out tasks substantially."""
    config = default_config("maml", iterations=300, meta_batch=10, meta_lr=3e-3, checkpoint_every=100,
                            val_tasks=10)
    init = train_sinusoid(default_config("maml", iterations=0), progress=False)
    trained = train_sinusoid(config, progress=False)
    held_out = sample_batch(config, build_model(config), np.random.default_rng(12345), n_tasks=200)
    before = float(maml_objective(detached(init["theta"], True), held_out, config.alpha).detach())
    after = float(maml_objective(detached(trained["theta"], True), held_out, config.alpha).detach())
    assert after < 0.6 * before, (before, after)
    vals = [h["val_loss"] for h in trained["history"]]
    assert vals[-1] < vals[0]


def test_the_saved_command_leaves_out_this_machines_flags():
    from course_lib.runs import command_line
    argv = ["rl", "--sampler", "ray", "--ray-address=head:6379", "--threads", "2", "--iterations", "3", "--resume"]
    assert command_line("python -m course_lib train", argv, Path("x.pt")) == \
        "python -m course_lib train rl --iterations 3 --out x.pt"
