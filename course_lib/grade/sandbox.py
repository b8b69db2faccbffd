"""Where a submission's kernel runs: a bubblewrap sandbox, else a separate unprivileged user.

bubblewrap (Debian's `bubblewrap`, installed by `make system-deps`): new user, PID, network, IPC and UTS
namespaces; uid/gid 65534 without capabilities; a read-only view of /usr, a few files of /etc, the
Python installation, the virtual environment and course_lib — and nothing else of the host: not solutions/, exercises/, other
submissions, the grader's files, the repo; its own empty home folder (the only place it can write,
besides a private /tmp); a private /proc (no other process is visible); no network (the grader talks
to it over Unix sockets in a folder of its own); every process it starts dies with it.
Fallback (no working bwrap): the kernel drops to uid 65534 itself (when the grader runs as root), with
the same resource limits, in its own session, and the report says loudly that there is no sandbox.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

STUDENT_UID = 65534
HOME = "/home/student"
LIBRARY = Path(__file__).resolve().parents[1]          # course_lib/
FALLBACKS_STUB = Path(__file__).resolve().parent / "fallbacks_stub.py"


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 6144          # address space of the kernel (torch needs a few GB of virtual memory)
    cpu_seconds: int = 1800        # CPU time of the whole kernel
    file_mb: int = 512             # largest file it may write

    def env(self) -> dict[str, str]:
        return {"COURSE_LIB_LIMIT_AS_MB": str(self.memory_mb), "COURSE_LIB_LIMIT_CPU_S": str(self.cpu_seconds),
                "COURSE_LIB_LIMIT_FSIZE_MB": str(self.file_mb)}


@dataclass(frozen=True)
class Sandbox:
    kind: str          # "bubblewrap" | "unprivileged user" | "none"
    warning: str = ""

    @property
    def contained(self) -> bool:
        return self.kind == "bubblewrap"


# what a Python kernel needs of /etc (not the rest: the kernel reads as its caller, see below)
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
       "host.conf", "hosts", "fonts", "mime.types")


def _read_only_roots() -> list[str]:
    """Host paths the kernel sees read-only: the system's programs and libraries, a few files of /etc,
    Python, the venv, course_lib."""
    roots = ["/usr"] + [f"/etc/{name}" for name in ETC if os.path.exists(f"/etc/{name}")]
    for p in (sys.base_prefix, sys.prefix, str(LIBRARY)):
        if p not in roots and not p.startswith("/usr/"):
            roots.append(p)
    return roots


def _bwrap_argv(home: Path, sockets: Path, env: dict[str, str]) -> list[str]:
    # bubblewrap maps the sandbox's uid 65534 to its caller: the kernel has no capabilities, but file
    # permissions are checked as the caller's uid — so it sees only what is bound here, read-only except
    # its own home and socket folders
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(STUDENT_UID), "--gid", str(STUDENT_UID), "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]          # before the binds: /tmp would hide them
    for root in _read_only_roots():
        argv += ["--ro-bind", root, root]
    for link in ("bin", "lib", "lib64", "sbin"):            # Debian's merged-/usr symlinks
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{link}"]
    argv += ["--ro-bind", str(FALLBACKS_STUB), str(LIBRARY / "fallbacks.py"),
             "--bind", str(home), HOME, "--bind", str(sockets), str(sockets), "--chdir", HOME]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


@functools.lru_cache(maxsize=None)
def detect(force_fallback: bool = False) -> Sandbox:
    """The best sandbox this machine offers, tried once with a trivial command."""
    if force_fallback:
        return _fallback("bubblewrap was not used (--no-bwrap)")
    if shutil.which("bwrap") is None:
        return _fallback("bubblewrap (Debian package `bubblewrap`, `make system-deps`) is not installed")
    probe = Path(tempfile.mkdtemp(prefix="course_lib_bwrap_probe_")) / "home"
    probe.mkdir()
    try:
        result = subprocess.run(_bwrap_argv(probe, probe, {}) + ["--", sys.executable, "-c", "import os; print(os.getuid())"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return _fallback(f"bubblewrap did not start: {err}")
    finally:
        shutil.rmtree(probe.parent, ignore_errors=True)
    if result.returncode != 0 or result.stdout.strip() != str(STUDENT_UID):
        return _fallback(f"bubblewrap does not work here: {(result.stderr or result.stdout).strip()[:200]}")
    return Sandbox("bubblewrap")


def _readable_by_others(path: str) -> bool:
    """Whether every folder down to `path` lets any user through (Python under /root does not)."""
    parts = Path(path).resolve().parts
    return all(os.stat(os.path.join(*parts[:i + 1])).st_mode & 0o001 for i in range(len(parts)))


def _fallback(why: str) -> Sandbox:
    if os.geteuid() == 0 and not all(map(_readable_by_others, (sys.base_prefix, sys.prefix, str(LIBRARY)))):
        return Sandbox("none", f"NO SANDBOX: {why}, and uid {STUDENT_UID} cannot read this Python installation "
                               f"({sys.base_prefix}), so the kernels run as ROOT with resource limits only: "
                               "install bubblewrap before grading a class")
    if os.geteuid() == 0:
        return Sandbox("unprivileged user", f"NO SANDBOX: {why}; the kernels run as uid {STUDENT_UID} with "
                                            "resource limits, but can read what that user can read and reach the network")
    return Sandbox("none", f"NO SANDBOX: {why}, and the grader is not root, so the kernels run as YOUR user "
                           "(resource limits only): student code can read and write what you can")


def kernel_argv(sandbox: Sandbox, home: Path, sockets: Path, env: dict[str, str]) -> list[str]:
    """The command a grading kernel is started with ({connection_file} is filled in by jupyter_client)."""
    env = {"HOME": HOME if sandbox.contained else str(home), "PATH": "/usr/bin:/bin",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "OMP_NUM_THREADS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1", **env}
    kernel = [sys.executable, "-m", "course_lib.grade.kernel", "-f", "{connection_file}"]
    if sandbox.contained:
        return _bwrap_argv(home, sockets, env) + ["--"] + kernel
    drop = ["--drop-to", str(STUDENT_UID), "--home", str(home)] if sandbox.kind == "unprivileged user" else ["--home", str(home)]
    return ["env", "-i", *[f"{k}={v}" for k, v in env.items()]] + kernel[:3] + drop + kernel[3:]


def prepare_folder(path: Path, sandbox: Sandbox) -> Path:
    """An empty folder the kernel may write (owned by the student uid when the kernel drops to it; the
    grader's run folder is then made 0711 so that uid can pass)."""
    path.mkdir(parents=True, exist_ok=True)
    if sandbox.kind == "unprivileged user":
        os.chown(path, STUDENT_UID, STUDENT_UID)
    return path
