"""Loaded by pytest before any test or notebook: pin torch, numpy and MKL to one code path (tools/pinned_cpu.py),
so that nbval's kernels, which inherit this environment, reproduce the recorded outputs on any x86 CPU."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tools"))
from pinned_cpu import pin  # noqa: E402

pin()
