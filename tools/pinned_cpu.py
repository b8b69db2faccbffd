"""One instruction set for every recorded notebook output: AVX2, on whatever x86 CPU runs the tests.

torch (ATen's kernels, MKL's BLAS, oneDNN's convolutions) and numpy pick their fastest code path at run
time: AVX-512 where the CPU has it, AVX2 where it does not. The paths round differently, and a few
hundred steps of training turn the last bit into the second decimal, so a notebook executed on one CPU
did not reproduce its own recorded output on another (CI on 2026-12-05: 1.22 vs 1.15 in notebook 01).
Pinned to AVX2, every x86-64-v3 CPU (x86 CPUs since 2013) runs the same kernels, so the same seed should
give the same numbers (checked on an AVX-512 machine against its own recording; CI runs elsewhere).
Set before torch or numpy is imported: the root conftest.py (so nbval's kernels inherit it) and
tools/execute_notebooks.py (which records the outputs) call `pin()`. `make lab` does not pin.
"""
import os

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",                                  # torch's own vectorised kernels
    "MKL_CBWR": "AVX2",                                             # MKL's conditional numerical reproducibility
    "ONEDNN_MAX_CPU_ISA": "AVX2",                                   # convolutions (notebook 10)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",     # numpy's AVX-512 loops (sin, exp, sums)
}


def pin() -> None:
    """Set the variables in this process's environment (a value the user already set wins)."""
    for name, value in PINNED.items():
        os.environ.setdefault(name, value)
