"""The root conftest.py pins torch and numpy to AVX2, MKL to its COMPATIBLE branch, for everything pytest starts (tools/pinned_cpu.py)."""
import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 instruction sets")


def test_the_pins_are_in_this_environment():
    from pinned_cpu import PINNED            # tools/ is on sys.path through the root conftest.py
    for name, value in PINNED.items():
        assert os.environ.get(name) == value, name


def test_a_child_process_such_as_an_nbval_kernel_runs_torch_and_numpy_on_avx2():
    probe = ("import json, torch; from numpy._core._multiarray_umath import __cpu_features__ as f;"
             "print(json.dumps([torch.backends.cpu.get_cpu_capability(), f['X86_V4'], f['AVX512_SPR']]))")
    capability, v4, spr = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                                    text=True, check=True).stdout)
    assert capability == "AVX2"
    assert not v4 and not spr


MKL_CBWR_BRANCH, MKL_CBWR_COMPATIBLE = 1, 3          # mkl_cbwr.h: the query, and the SSE2 branch's code


def test_mkl_in_a_child_process_runs_its_compatible_branch():
    # MKL ignores a branch the CPU's vendor does not qualify for: MKL_CBWR=AVX2 reads back as AUTO (2) on
    # an AMD EPYC, which is why the pin is COMPATIBLE. torch links MKL statically; its service call is exported.
    probe = ("import ctypes, os, torch; lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), 'lib', "
             f"'libtorch_cpu.so')); torch.ones(8, 8) @ torch.ones(8, 8); print(lib.mkl_serv_cbwr_get({MKL_CBWR_BRANCH}))")
    branch = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert branch == MKL_CBWR_COMPATIBLE
