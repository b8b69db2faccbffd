"""Lab record (docs/notes/2026-12-07-ant-dir-trust-region.md): fork a MAML checkpoint into a run with a
different TRPO trust region δ, so that `python -m course_lib train … --max-kl δ --resume` continues it.

    python docs/notes/2026-12-07-ant-dir-trust-region.py SRC DST --max-kl 0.02

The library refuses to resume a run with changed settings (course_lib/runs.py); this writes a copy of
SRC whose config and command say the new δ, with θ, RNG states and history unchanged (the history's
iterations before the fork were trained with SRC's δ, which the note records).
"""
import argparse
import shlex
from pathlib import Path

from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.runs import write_history


def fork(src: Path, dst: Path, max_kl: float) -> dict:
    if dst.exists():
        raise FileExistsError(f"DST: {dst} exists; pick a new path")
    ckpt = load_checkpoint(src)
    ckpt.pop("sha256", None)
    ckpt["config"]["max_kl"] = max_kl
    argv = shlex.split(ckpt["command"])
    out = argv.index("--out")
    argv[out + 1] = str(dst)
    if "--max-kl" in argv:
        argv[argv.index("--max-kl") + 1] = str(max_kl)
    else:
        argv[out:out] = ["--max-kl", str(max_kl)]
    ckpt["command"] = shlex.join(argv)
    save_checkpoint(ckpt, dst)
    write_history(ckpt["history"], dst.with_suffix(".csv"))
    return ckpt


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--max-kl", type=float, required=True)
    a = p.parse_args()
    c = fork(a.src, a.dst, a.max_kl)
    print(f"{a.dst}: iteration {c['iteration']}, continue with\n  {c['command']} --resume")
