"""Bad input gets a clear error that names the argument or the file and what was expected, before any
work is done, and nothing is overwritten: checkpoints (truncated, corrupted, a text file, a folder,
another kind), the training command line, the bench scripts, and meaningless settings."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, shipped
from course_lib.evaluate import summarize
from course_lib.rl.evaluate import held_out_tasks
from course_lib.rl.config import default_rl_config, load_policy
from course_lib.sinusoid.config import SinusoidConfig, default_config, load_trained

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkpoint_carries_a_checksum_checked_on_load(tmp_path):
    path = save_checkpoint({"theta": {"w": torch.arange(6.0).reshape(2, 3)}, "iteration": 3}, tmp_path / "a.pt")
    assert load_checkpoint(path)["iteration"] == 3
    state = torch.load(path, weights_only=True)
    state["theta"]["w"][0, 0] = 1e20                       # a value changed behind the checksum's back
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"a\.pt is corrupted: its contents do not match"):
        load_checkpoint(path)


def test_truncated_flipped_text_and_folder_are_refused_with_the_file_name(tmp_path):
    good = save_checkpoint({"theta": {"w": torch.randn(50, 50)}, "iteration": 1}, tmp_path / "good.pt")
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 400):
        flipped[i] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    (tmp_path / "notes.pt").write_text("not a checkpoint\n")
    (tmp_path / "folder.pt").mkdir()
    for name in ("truncated", "flipped", "notes", "folder"):
        with pytest.raises(CheckpointError, match=rf"checkpoint .*{name}\.pt (is corrupted|is a folder)"):
            load_checkpoint(tmp_path / f"{name}.pt")
    torch.save({"theta": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a course_lib checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_checkpoint({"x": 1}, tmp_path / "folder.pt")


def test_every_shipped_checkpoint_verifies():
    for path in sorted(shipped("sinusoid_maml").parent.glob("*.pt")):
        assert "sha256" in load_checkpoint(path), path


def test_a_checkpoint_of_another_kind_says_so():
    with pytest.raises(CheckpointError, match=r"rl:navigation2d checkpoint, not a sinusoid one.*load_policy"):
        load_trained(shipped("navigation2d_maml"))
    with pytest.raises(CheckpointError, match="sinusoid checkpoint, not a meta-RL one.*load_trained"):
        load_policy(shipped("sinusoid_maml"))
    with pytest.raises(CheckpointError, match="fewshot checkpoint, not a meta-RL one.*load_fewshot"):
        load_policy(shipped("fewshot_maml"))
    with pytest.raises(CheckpointError, match="fewshot checkpoint, not a sinusoid one"):
        load_trained(shipped("fewshot_maml"))


def test_meaningless_settings_are_refused():
    with pytest.raises(ValueError, match="steps must be at least 1 for algo='reptile'"):
        default_config("reptile", steps=0)
    with pytest.raises(ValueError, match="steps must be at least 1 for algo='maml'"):
        default_rl_config("navigation2d", "maml", steps=0)
    with pytest.raises(ValueError, match="untrained initialisation: iterations must be 0"):
        default_config("random", iterations=5)
    with pytest.raises(ValueError, match="val_tasks"):
        SinusoidConfig(val_tasks=0)
    with pytest.raises(ValueError, match="env must be one of"):
        held_out_tasks("mars")


def test_a_finite_blow_up_counts_as_diverged():
    before = np.ones(600)
    after = np.full(600, 0.5)
    after[7] = 1.3e17                                      # finite, but 10^17 × its loss before adapting
    s = summarize(after, before)
    assert s.diverged == 1 and str(s) == "diverged 1/600"
    assert summarize(after).diverged == 0, "without the losses before, only inf/NaN count"


def _run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("args, words", [
    (["-m", "course_lib", "train", "sinusoid", "--threads", "0"], "--threads: must be at least 1"),
    (["-m", "course_lib", "train", "sinusoid", "--algo", "reptile", "--steps", "0"], "steps must be at least 1"),
    (["-m", "course_lib", "train", "navigation2d", "--algo", "random", "--iterations", "5"], "untrained initialisation"),
    (["-m", "course_lib", "train", "sinusoid", "--seed", "-1"], "--seed: must be at least 0"),
    (["bench/navigation.py", "--tasks", "0"], "--tasks: must be at least 1"),
    (["bench/navigation.py", "--steps", "-1"], "--steps: must be at least 1"),
    (["bench/navigation.py", "--episodes", "0"], "--episodes: must be at least 1"),
    (["bench/sinusoid.py", "--seed", "-1"], "--seed: must be at least 0"),
    (["bench/mujoco_speed.py", "--tasks", "0"], "--tasks: must be at least 1"),
    (["bench/rl_speed.py", "--iterations", "0"], "--iterations: must be at least 1"),
    (["bench/meta_gradients.py", "--batches", "1"], "--batches: must be at least 2"),
])
def test_command_lines_refuse_bad_flags_without_a_traceback(args, words):
    result = _run(*args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_out_folder_and_short_resume_are_refused_before_any_work(tmp_path):
    result = _run("-m", "course_lib", "train", "sinusoid", "--out", tmp_path)
    assert result.returncode == 2 and "is a folder" in result.stderr
    out = tmp_path / "run.pt"
    result = _run("-m", "course_lib", "train", "sinusoid", "--iterations", "4", "--checkpoint-every", "2", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    before = out.read_bytes()
    result = _run("-m", "course_lib", "train", "sinusoid", "--iterations", "2", "--resume", "--out", out)
    assert result.returncode == 2 and "4 iterations done" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == before, "the checkpoint must not be rewritten"
    out.write_bytes(before[:1000])
    result = _run("-m", "course_lib", "train", "sinusoid", "--iterations", "6", "--resume", "--out", out)
    assert result.returncode == 2 and "corrupted or truncated" in result.stderr and str(out) in result.stderr
