"""One code path for every recorded notebook output, on whatever x86 CPU runs the tests.

torch (ATen's kernels, MKL's BLAS, oneDNN's convolutions) and numpy pick their fastest code path at run
time: AVX-512 where the CPU has it, AVX2 where it does not, and MKL a vendor-specific one. The paths round
differently, and a few hundred steps of training turn the last bit into the second decimal, so a notebook
executed on one CPU did not reproduce its own recorded output on another (CI on 2026-12-05: 1.22 vs 1.15
in notebook 01). torch and numpy are pinned to AVX2 (every x86-64-v3 CPU, Intel or AMD, since 2013).
MKL is pinned to its COMPATIBLE branch, the only one its documentation promises to give the same results
on Intel and non-Intel CPUs: MKL_CBWR=AVX2 falls back to MKL's own dispatch on AMD (it reads back as
AUTO on an AMD EPYC; CI on 2026-12-06 read 1.22, as that EPYC does, where the recording had 1.19).
Cells whose output is a long training run are still only checked through what they show (notebooks 01
and 04), since a pin is only as good as the code paths it covers.
Set before torch or numpy is imported: the root conftest.py (so nbval's kernels inherit it) and
tools/execute_notebooks.py (which records the outputs) call `pin()`. `make lab` does not pin.
"""
import os

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",                                  # torch's own vectorised kernels
    "MKL_CBWR": "COMPATIBLE",                                       # MKL's SSE2 branch, the same on Intel and AMD
    "ONEDNN_MAX_CPU_ISA": "AVX2",                                   # convolutions (notebook 10)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",     # numpy's AVX-512 loops (sin, exp, sums)
}


def pin() -> None:
    """Set the variables in this process's environment (a value the user already set wins)."""
    for name, value in PINNED.items():
        os.environ.setdefault(name, value)
