"""The navigation ablation (notebook 09): aggregation helpers against hand computations, the shipped
results file's schema and values, and the bench's resumability and seeding on a tiny grid."""
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from course_lib.ablation import (ABLATION_JSON, CELL, aggregate, load_ablation, mean_and_stderr, run_key,
                                 save_ablation)
from course_lib.evaluate import mean_and_stderr as rl_mean_and_stderr

ROOT = Path(__file__).resolve().parents[1]
RUN_FIELDS = {"algo", "meta_batch", "episodes", "seed", "return_before", "return_after", "held_out_curve",
              "per_task_after", "train_curve_after", "episodes_sampled", "wall_time", "seconds_per_iteration",
              "eval_time"}


# ---- pure helpers ---------------------------------------------------------------------------------

def test_mean_and_stderr_by_hand():
    # mean 3; sample variance ((1-3)² + (2-3)² + 0 + (6-3)²) / 3 = 14/3; s.e. = √(14/3 / 4) = √(7/6)
    mean, se = mean_and_stderr([1, 2, 3, 6])
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(7 / 6))
    assert mean_and_stderr([-12.5]) == (-12.5, 0.0)
    assert mean_and_stderr([4.0, 4.0, 4.0]) == (4.0, 0.0)
    # the same convention as the RL evaluation's helper
    assert mean_and_stderr([-20.0, -15.5, -17.25]) == pytest.approx(rl_mean_and_stderr([-20.0, -15.5, -17.25]))
    with pytest.raises(ValueError, match="non-empty"):
        mean_and_stderr([])


def _run(algo, b, n, seed, after, before=-40.0):
    return dict(algo=algo, meta_batch=b, episodes=n, seed=seed, return_after=after, return_before=before)


def test_aggregate_groups_by_cell_and_copes_with_missing_cells():
    runs = [_run("maml", 5, 5, 0, -20.0), _run("maml", 5, 5, 1, -16.0), _run("maml", 5, 5, 2, -18.0),
            _run("fomaml", 5, 5, 1, -19.0),                      # one seed only
            _run("maml", 20, 5, 0, -14.0), _run("maml", 20, 5, 2, -12.0)]
    table = aggregate(runs)
    assert set(table) == {("maml", 5, 5), ("fomaml", 5, 5), ("maml", 20, 5)}   # absent cells stay absent
    c = table["maml", 5, 5]
    # mean −18; deviations −2, 2, 0 → s² = 8/2 = 4 → s.e. = 2/√3
    assert c["mean"] == pytest.approx(-18.0) and c["stderr"] == pytest.approx(2 / math.sqrt(3))
    assert c["n"] == 3 and c["seeds"] == [0, 1, 2]
    assert table["fomaml", 5, 5] == dict(mean=-19.0, stderr=0.0, n=1, seeds=[1])
    # two seeds: s² = ((−1)² + 1²) / 1 = 2 → s.e. = √(2/2) = 1
    assert table["maml", 20, 5]["mean"] == pytest.approx(-13.0)
    assert table["maml", 20, 5]["stderr"] == pytest.approx(1.0)
    assert aggregate(runs, "return_before")["maml", 5, 5]["mean"] == pytest.approx(-40.0)
    assert aggregate([]) == {}
    assert run_key(runs[0]) == ("maml", 5, 5, 0)


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "sub" / "ablation.json"
    assert load_ablation(path) == {"settings": {}, "runs": []}
    data = {"settings": {"seeds": [0]}, "runs": [_run("maml", 5, 5, 0, -17.5)]}
    save_ablation(data, path)
    assert load_ablation(path) == data
    assert [p.name for p in path.parent.iterdir()] == ["ablation.json"]     # no temporary file left behind


# ---- the shipped results --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_results():
    if not ABLATION_JSON.exists():
        pytest.fail(f"{ABLATION_JSON} is missing: run python bench/ablation_navigation.py")
    return json.loads(ABLATION_JSON.read_text())


def test_shipped_settings_are_complete(shipped_results):
    s = shipped_results["settings"]
    for key in ("base_config", "evaluation", "algos", "meta_batches", "episodes", "seeds", "command", "torch_threads"):
        assert key in s, key
    assert set(s["algos"]) <= {"maml", "fomaml"}
    assert s["base_config"]["env"] == "navigation2d"
    assert s["base_config"]["iterations"] >= 1
    ev = s["evaluation"]
    assert ev["steps"] == 1 and ev["held_out_tasks"] >= 1 and ev["episodes"] >= 1
    assert ev["at_iterations"][-1] == s["base_config"]["iterations"]
    assert ev["at_iterations"] == sorted(ev["at_iterations"])
    assert s["command"].startswith("python bench/ablation_navigation.py")


def test_shipped_runs_are_sane(shipped_results):
    s, runs = shipped_results["settings"], shipped_results["runs"]
    assert runs, "the shipped ablation holds no runs"
    keys = [run_key(r) for r in runs]
    assert len(keys) == len(set(keys)), "a run appears twice"
    iterations = s["base_config"]["iterations"]
    for r in runs:
        assert set(r) >= RUN_FIELDS, f"run {run_key(r)} lacks {RUN_FIELDS - set(r)}"
        assert r["algo"] in s["algos"] and r["meta_batch"] in s["meta_batches"]
        assert r["episodes"] in s["episodes"] and r["seed"] in s["seeds"]
        # returns are minus summed distances to the goal over ≤ 100 steps: finite and negative
        for value in (r["return_before"], r["return_after"], *r["per_task_after"], *r["train_curve_after"]):
            assert math.isfinite(value) and -1000 < value < 0
        assert len(r["per_task_after"]) == s["evaluation"]["held_out_tasks"]
        assert sum(r["per_task_after"]) / len(r["per_task_after"]) == pytest.approx(r["return_after"], abs=1e-2)
        assert [c["iteration"] for c in r["held_out_curve"]] == s["evaluation"]["at_iterations"]
        assert r["held_out_curve"][-1]["return_after"] == r["return_after"]
        assert len(r["train_curve_after"]) == iterations
        assert r["episodes_sampled"] == 2 * iterations * r["meta_batch"] * r["episodes"]
        assert r["wall_time"] > 0 and r["eval_time"] >= 0
        assert r["seconds_per_iteration"] == pytest.approx(r["wall_time"] / iterations, rel=1e-2)
    # the headline result a learner reads: one adaptation step helps, on average over the runs
    assert sum(r["return_after"] - r["return_before"] for r in runs) > 0
    for cell, stats in aggregate(runs).items():
        assert len(cell) == len(CELL) and stats["n"] >= 1
        assert math.isfinite(stats["mean"]) and math.isfinite(stats["stderr"]) and stats["stderr"] >= 0


def test_shipped_runs_fill_the_grid_seed_by_seed(shipped_results):
    """The bench runs seed by seed, so a partial file holds whole seeds plus a prefix of the next one."""
    s, runs = shipped_results["settings"], shipped_results["runs"]
    seeds_done = sorted({r["seed"] for r in runs})
    complete = [seed for seed in seeds_done
                if {run_key(r)[:3] for r in runs if r["seed"] == seed}
                == {(a, b, n) for a in s["algos"] for b in s["meta_batches"] for n in s["episodes"]}]
    assert len(complete) >= len(seeds_done) - 1


# ---- the bench itself, on a tiny grid -----------------------------------------------------------

def _bench_main():
    spec = importlib.util.spec_from_file_location("ablation_navigation", ROOT / "bench" / "ablation_navigation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _invoke(monkeypatch, out, *extra):
    argv = ["ablation_navigation.py", "--iterations", "2", "--eval-at", "1", "--meta-batches", "3",
            "--episodes", "2", "--algos", "fomaml", "--eval-tasks", "3", "--eval-episodes", "2",
            "--out", str(out), *extra]
    monkeypatch.setattr(sys, "argv", argv)
    _bench_main()()
    return load_ablation(out)


def test_bench_is_resumable_and_seeded(tmp_path, monkeypatch):
    first = _invoke(monkeypatch, tmp_path / "a.json", "--seeds", "0")
    assert [run_key(r) for r in first["runs"]] == [("fomaml", 3, 2, 0)]
    assert first["settings"]["evaluation"]["at_iterations"] == [1, 2]
    extended = _invoke(monkeypatch, tmp_path / "a.json", "--seeds", "0", "1")   # seed 0 is skipped
    assert [run_key(r) for r in extended["runs"]] == [("fomaml", 3, 2, 0), ("fomaml", 3, 2, 1)]
    assert extended["runs"][0] == first["runs"][0]
    assert extended["settings"]["seeds"] == [0, 1]
    again = _invoke(monkeypatch, tmp_path / "b.json", "--seeds", "1")          # fresh file, same seed
    numbers = lambda r: {k: r[k] for k in ("return_before", "return_after", "per_task_after", "train_curve_after")}
    assert numbers(again["runs"][0]) == numbers(extended["runs"][1])
    with pytest.raises(SystemExit, match="other settings"):
        _invoke(monkeypatch, tmp_path / "a.json", "--seeds", "0", "--eval-tasks", "4")
