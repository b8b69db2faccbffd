"""Running a notebook for grading: `pytest --nbval-lax` in a subprocess of the grader, the kernel in the
sandbox, one JSON record per cell back in the grader's own folder; and the expected values, computed by
running the solution's graded cells with the same seed."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import GRADING_ENV, SEED_ENV
from .kernel import FORBID_ENV
from .notebooks import Reference, solution_probe
from .sandbox import LIBRARY, Limits, Sandbox, kernel_argv, prepare_folder
from .verdict import submissions_in

PLUGIN = Path(__file__).resolve().parent / "nbval_records.py"
# The grading run's conftest loads the plugin file directly (no `import course_lib`, hence no torch, in
# the pytest process: only the kernel needs the library).
CONFTEST = """import importlib.util
_spec = importlib.util.spec_from_file_location("course_lib_nbval_records", {plugin!r})
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)
pytest_runtest_makereport = _plugin.pytest_runtest_makereport
"""
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "course_lib" / "grade"

_running: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stopping = threading.Event()


class GradingStopped(RuntimeError):
    pass


def stop_all() -> None:
    """Kill every grading run in progress and start no more (Ctrl-C): their kernels die with them."""
    _stopping.set()
    with _lock:
        procs = list(_running)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass


def _kill_session(sid: int) -> None:
    """SIGKILL every process of session `sid` (a kernel outside bubblewrap starts its own session)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:                    # field 6 of /proc/PID/stat: the session id
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def library_digest() -> str:
    """A fingerprint of course_lib's code and checkpoints: expected values are cached under it."""
    h = hashlib.sha256()
    for path in sorted(LIBRARY.rglob("*")):
        if path.suffix in (".py", ".pt") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(LIBRARY)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Runner:
    """Everything a grading run shares: the seed of the graded cells' inputs, the per-cell timeout, the
    sandbox and its limits, the grader's own folder (never visible to a kernel)."""
    seed: int
    cell_timeout: float
    sandbox: Sandbox
    limits: Limits = field(default_factory=Limits)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="course_lib_grade_")))
    cache: Path | None = CACHE                          # None: compute the expected values every run
    _expected: dict = field(default_factory=dict)
    _expected_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)                      # a dropped kernel may pass, not list

    def run(self, nb, forbid: dict, label: str) -> tuple[list[dict], str]:
        """Run `nb` (cells executed in order, in one fresh sandboxed kernel); (records, pytest's log)."""
        import nbformat

        if _stopping.is_set():
            raise GradingStopped("grading was interrupted")
        n_code = sum(c.cell_type == "code" for c in nb.cells)
        run = Path(tempfile.mkdtemp(prefix=f"{label}_", dir=self.root))
        os.chmod(run, 0o711)
        path = run / "submission.ipynb"
        nbformat.write(nb, str(path))
        records = run / "records.jsonl"
        records.touch(mode=0o600)
        (run / "pytest.ini").write_text("[pytest]\n")
        (run / "conftest.py").write_text(CONFTEST.format(plugin=str(PLUGIN)))
        home = prepare_folder(run / "home", self.sandbox)
        sockets = prepare_folder(run / "sockets", self.sandbox)
        kernel_env = {GRADING_ENV: "1", SEED_ENV: str(self.seed), FORBID_ENV: json.dumps(forbid), **self.limits.env()}
        argv = kernel_argv(self.sandbox, home, sockets, kernel_env)
        cmd = [sys.executable, "-m", "pytest", str(path), "-p", "no:cacheprovider", "-c", str(run / "pytest.ini"),
               "--rootdir", str(run), "-q", "--no-header", "--nbval-lax", "--nbval-current-env",
               f"--nbval-cell-timeout={self.cell_timeout:g}"]
        env = {**os.environ, "COURSE_LIB_GRADE_RECORDS": str(records), "COURSE_LIB_GRADE_SOCKETS": str(sockets),
               "COURSE_LIB_GRADE_KERNEL_ARGV": json.dumps(argv), "JUPYTER_RUNTIME_DIR": str(sockets),
               "JUPYTER_PLATFORM_DIRS": "1"}
        limit = 120 + (self.cell_timeout + 15) * max(n_code, 1)
        proc = subprocess.Popen(cmd, cwd=run, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        with _lock:
            _running.add(proc)
            if _stopping.is_set():
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            output, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        finally:
            with _lock:
                _running.discard(proc)
        log = (output or b"").decode(errors="replace")
        (run / "pytest.log").write_text(log)
        rows = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
        if not self.sandbox.contained:
            for row in rows:
                if row.get("kernel_pid"):
                    _kill_session(int(row["kernel_pid"]))
        return [r for r in rows if "cell" in r], log

    def expected(self, ref: Reference) -> tuple[dict[str, dict], str]:
        """({exercise: {key: payload}}, error) from the solution's graded cells with this run's seed;
        cached on disk per solution, library and seed."""
        with self._expected_lock:
            if ref.name in self._expected:
                return self._expected[ref.name]
            cache = self.cache and self.cache / f"expected-{ref.name}-{ref.digest[:12]}-{library_digest()}-{self.seed}.json"
            if cache and cache.is_file():
                try:
                    self._expected[ref.name] = tuple(json.loads(cache.read_text()))
                    return self._expected[ref.name]
                except ValueError:
                    pass
            nb, roles = solution_probe(ref)
            records, log = self.run(nb, ref.forbid_map(), f"solution_{ref.name}")
            by_cell = {r["cell"]: r for r in records}
            expected, problems = {}, []
            for i, role in enumerate(roles):
                if role.kind != "test":
                    continue
                rec = by_cell.get(i, {})
                got = submissions_in(rec.get("data")).get(role.exercise, {})
                expected[role.exercise] = {k: v[0] for k, v in got.items()}
                if not rec.get("passed") or rec.get("checks") or not got:
                    problems.append(f"{role.exercise}: {rec.get('message') or rec.get('checks') or 'no value submitted'}")
            error = ("the solution notebook's graded cells did not all pass (" + "; ".join(problems) + ")"
                     if problems else "")
            if not records:
                error = "the solution notebook could not be run: " + (log.strip().splitlines() or ["no output"])[-1]
            self._expected[ref.name] = (expected, error)
            if cache and not error:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp")
                tmp.write_text(json.dumps([expected, error]))
                os.replace(tmp, cache)
            return self._expected[ref.name]
