"""pytest plugin for the grading run: one JSON line per notebook cell (nbval item) with its outcome.

Standalone on purpose (no course_lib import): the grader's generated conftest.py loads this file by
path, so the pytest process stays light. Rows: {"cell": n, "passed": bool, "skipped": bool,
"message": "AssertionError: …"} and once {"kernel_pid": pid}, appended to the file named by
$COURSE_LIB_GRADE_RECORDS (read and removed from the environment at import, before the kernel starts).
After a cell times out nbval marks the following cells xfail; the raw outcome is recorded here, so
they still count as passed or failed.
"""
import json
import os
import re

import pytest

RECORDS_ENV = "COURSE_LIB_GRADE_RECORDS"
RECORDS = os.environ.pop(RECORDS_ENV, None)   # popped before nbval starts the kernel: hidden from student code
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
        row = {"cell": item.cell_num, "passed": call.excinfo is None, "skipped": False, "message": ""}
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
