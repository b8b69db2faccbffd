"""Lab record (docs/notes/2026-12-07-ant-dir-trust-region.md, 2026-12-08-ant-dir-meta-batch.md): fork a
MAML checkpoint into a run with a different TRPO trust region δ and/or meta-batch, so that
`python -m course_lib train … --max-kl δ --meta-batch M --resume` continues it.

    python docs/notes/2026-12-07-ant-dir-trust-region.py SRC DST --max-kl 0.02
    python docs/notes/2026-12-07-ant-dir-trust-region.py SRC DST --meta-batch 40

The library refuses to resume a run with changed settings (course_lib/runs.py); this writes a copy of
SRC whose config and command say the new settings, with θ, RNG states and history unchanged (the
history's iterations before the fork were trained with SRC's settings, which the notes record).
"""
import argparse
import shlex
from pathlib import Path

from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.runs import write_history


def fork(src: Path, dst: Path, max_kl: float | None = None, meta_batch: int | None = None) -> dict:
    if dst.exists():
        raise FileExistsError(f"DST: {dst} exists; pick a new path")
    ckpt = load_checkpoint(src)
    ckpt.pop("sha256", None)
    argv = shlex.split(ckpt["command"])
    out = argv.index("--out")
    argv[out + 1] = str(dst)
    for key, flag, value in (("max_kl", "--max-kl", max_kl), ("meta_batch", "--meta-batch", meta_batch)):
        if value is None:
            continue
        ckpt["config"][key] = value
        if flag in argv:
            argv[argv.index(flag) + 1] = str(value)
        else:
            argv[out:out] = [flag, str(value)]
    ckpt["command"] = shlex.join(argv)
    save_checkpoint(ckpt, dst)
    write_history(ckpt["history"], dst.with_suffix(".csv"))
    return ckpt


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--max-kl", type=float)
    p.add_argument("--meta-batch", type=int)
    a = p.parse_args()
    if a.max_kl is None and a.meta_batch is None:
        p.error("give --max-kl and/or --meta-batch: the settings the fork changes")
    c = fork(a.src, a.dst, a.max_kl, a.meta_batch)
    print(f"{a.dst}: iteration {c['iteration']}, continue with\n  {c['command']} --resume")
