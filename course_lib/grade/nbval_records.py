"""pytest plugin for a grading run (loaded into the grader's own pytest process, never into the kernel).

* Starts nbval's kernel with the grader's command (sandbox.kernel_argv): Unix-socket transport in a
  folder of its own (the sandbox has no network), interrupts sent as messages.
* Records every cell's outcome as one JSON line in the grader's records file: passed, the error's last
  line, the values the cell submitted (display data of the submission MIME type), borrow notices and the
  cell's own ✗ line. The file lives in the grader's folder, outside the sandbox.
Configured by environment variables of the pytest process, read at import (before any kernel starts).
Standalone on purpose (no course_lib import): pytest stays light; only the kernel needs the library.
"""
import json
import os
import re

import pytest

RECORDS = os.environ.pop("COURSE_LIB_GRADE_RECORDS", None)
ARGV = json.loads(os.environ.pop("COURSE_LIB_GRADE_KERNEL_ARGV", "null") or "null")
SOCKETS = os.environ.pop("COURSE_LIB_GRADE_SOCKETS", None)
KEEP_MIME = ("application/vnd.course-lib.submission+json", "application/vnd.course-lib.borrowed+json")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _install_kernel_manager():
    import nbval.kernel
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    class GradingKernelManager(KernelManager):
        def __init__(self, **kwargs):
            kwargs.pop("kernel_spec_manager", None)
            super().__init__(transport="ipc", ip=os.path.join(SOCKETS, "kernel"), **kwargs)
            self.connection_file = os.path.join(SOCKETS, "connection.json")

        @property
        def kernel_spec(self):
            return KernelSpec(argv=ARGV, display_name="grading kernel", language="python",
                              interrupt_mode="message", env={})

    nbval.kernel.KernelManager = GradingKernelManager


if ARGV and SOCKETS:
    _install_kernel_manager()


def short_message(text: str) -> str:
    """The line a student needs: 'AssertionError: …' (or the failing statement), 'NameError: …'."""
    text = ANSI.sub("", text)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1].strip()
    if last in ("AssertionError", "AssertionError:"):
        arrows = [line for line in lines if re.match(r"^\s*-+>\s*\d+", line)]
        if arrows:
            return "AssertionError at: " + re.sub(r"^\s*-+>\s*\d+\s*", "", arrows[-1]).strip()
    return last


def _record(row: dict) -> None:
    if RECORDS:
        with open(RECORDS, "a") as f:
            f.write(json.dumps(row) + "\n")


def _kept_outputs(item) -> tuple[list, str]:
    data, checks = [], []
    for out in getattr(item, "test_outputs", None) or ():
        if out.get("output_type") in ("display_data", "execute_result"):
            kept = {k: v for k, v in (out.get("data") or {}).items() if k in KEEP_MIME}
            if kept:
                data.append(kept)
        elif out.get("output_type") == "stream":
            checks += [line for line in out.get("text", "").splitlines() if line.startswith("✗")]
    return data, "\n".join(checks)[:2000]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    if not RECORDS or not hasattr(item, "cell_num"):
        return
    if call.when == "setup" and item.cell_num == 0:
        try:
            _record({"kernel_pid": item.parent.kernel.km.provisioner.pid})
        except Exception:
            pass
    if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
        data, checks = _kept_outputs(item)
        row = {"cell": item.cell_num, "passed": call.excinfo is None, "skipped": False, "message": "",
               "data": data, "checks": checks}
        if call.excinfo is not None:
            exc = call.excinfo.value
            if call.excinfo.errisinstance(pytest.skip.Exception):
                row.update(passed=True, skipped=True)
            else:
                inner = getattr(exc, "inner_traceback", None) or ""
                head = str(exc.args[0]) if getattr(exc, "args", None) else str(exc)
                if "Timeout" in head or "Kernel dead" in head or "interrupt" in head:
                    row["message"] = head.split("\n")[0]
                else:
                    row["message"] = short_message(inner) or short_message(head) or type(exc).__name__
        _record(row)
