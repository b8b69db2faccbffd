"""The kernel of a grading run: resource limits, the borrow guard, then an ordinary IPython kernel.

    python -m course_lib.grade.kernel [--drop-to UID] [--home DIR] -f CONNECTION_FILE

Runs inside the sandbox (sandbox.py) before any student code. Environment:
  COURSE_LIB_GRADING_FORBID  {"inner_step": ["course_lib.inner.inner_update", ...], ...}: while the student's
                             function of that name is on the call stack, the listed library functions raise
                             BorrowedImplementation and the cell's output says so (the grader fails the exercise).
  COURSE_LIB_LIMIT_AS_MB / _CPU_S / _FSIZE_MB   resource limits (hard: the kernel cannot raise them).

The guard swaps each listed function's code for a trampoline whose constants hold the implementation,
and an audit hook (which Python does not let code remove) refuses the usual ways back to it:
reading the function's __code__ or a trampoline frame's f_code, sys._getframe onto a trampoline,
gc's object graph, raw memory through ctypes, and opening the guarded modules' files (source or
bytecode; this also stops importlib.reload). What it does not stop is listed in docs/grading.md.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import sys
import types
import warnings

FORBID_ENV = "COURSE_LIB_GRADING_FORBID"
BORROWED_MIME = "application/vnd.course-lib.borrowed+json"


class BorrowedImplementation(RuntimeError):
    pass


def _limits() -> None:
    for env, which, scale in (("COURSE_LIB_LIMIT_AS_MB", resource.RLIMIT_AS, 2**20),
                              ("COURSE_LIB_LIMIT_CPU_S", resource.RLIMIT_CPU, 1),
                              ("COURSE_LIB_LIMIT_FSIZE_MB", resource.RLIMIT_FSIZE, 2**20)):
        if os.environ.get(env):
            value = int(os.environ[env]) * scale
            resource.setrlimit(which, (value, value))


def _drop_privileges(uid: int, home: str) -> None:
    os.setsid() if os.getpid() != os.getsid(0) else None
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(home)


def _make_guard(forbidden: dict[str, list[str]]):
    """Install the trampolines and the audit hook; all state lives in this closure."""
    busy = [False]
    trampolines: set = set()            # trampoline code objects
    guarded: set = set()                # guarded function objects (by identity)
    files: set = set()                  # source/bytecode paths of the guarded modules

    def is_student_frame(code, names) -> bool:
        return code.co_name in names and ("ipykernel_" in code.co_filename or code.co_filename.startswith("<ipython"))

    def dispatch(impl, path, names, args, kwargs):
        busy[0] = True
        try:
            frame = sys._getframe(2)
            culprit = None
            while frame is not None:
                if is_student_frame(frame.f_code, names):
                    culprit = frame.f_code.co_name
                    break
                frame = frame.f_back
            del frame
        finally:
            busy[0] = False
        if culprit is not None:
            message = (f"{culprit} calls {path}, course_lib's implementation of this exercise: "
                       "write it yourself (the grading run does not count borrowed answers)")
            try:
                from IPython.display import display
                display({BORROWED_MIME: json.dumps({"function": culprit, "calls": path}),
                         "text/plain": f"✗ {message}"}, raw=True)
            except Exception:
                pass
            raise BorrowedImplementation(message)
        return impl(*args, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = compile('def _t(*args, **kwargs):\n    return "D"("I", "P", "N", args, kwargs)\n',
                           "<course_lib guard>", "exec")
    template = next(c for c in template.co_consts if isinstance(c, types.CodeType))

    targets: dict[int, tuple] = {}
    for name, paths in forbidden.items():
        for path in paths:
            module_name, attr = path.rsplit(".", 1)
            fn = getattr(importlib.import_module(module_name), attr)
            if not isinstance(fn, types.FunctionType):
                raise TypeError(f"{path} is not a Python function")
            entry = targets.setdefault(id(fn), (fn, path, set()))
            entry[2].add(name)
    for fn, path, names in targets.values():
        if fn.__code__.co_freevars:
            raise TypeError(f"{path} is a closure; it cannot be guarded")
        impl = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__)
        impl.__kwdefaults__ = fn.__kwdefaults__
        consts = {"D": dispatch, "I": impl, "P": path, "N": frozenset(names)}
        code = template.replace(co_consts=tuple(consts.get(c, c) if isinstance(c, str) else c
                                                for c in template.co_consts),
                                co_name=fn.__code__.co_name, co_qualname=fn.__code__.co_qualname)
        fn.__code__ = code
        trampolines.add(code)
        guarded.add(id(fn))
        module = sys.modules[fn.__module__]
        source = os.path.realpath(module.__file__)
        files.update({source, os.path.realpath(importlib.util.cache_from_source(source))})

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "object.__getattr__":
                obj, attr = args[0], args[1]
                if attr == "__code__" and id(obj) in guarded:
                    raise PermissionError("the grading run does not let code read a guarded function's __code__")
                if attr == "f_code" and isinstance(obj, types.FrameType) and obj.f_code in trampolines:
                    raise PermissionError("the grading run hides the guard's frames")
            elif event == "sys._getframe":
                if args and isinstance(args[0], types.FrameType) and args[0].f_code in trampolines:
                    raise PermissionError("the grading run hides the guard's frames")
            elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
                raise PermissionError(f"{event} is not allowed in a grading run")
            elif event.startswith("ctypes.cdata") or event == "ctypes.addressof":
                raise PermissionError(f"{event} is not allowed in a grading run")
            elif event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
                path = os.fsdecode(args[0])
                if os.path.realpath(path) in files:
                    raise PermissionError(f"{path}: course_lib's implementation of the exercises cannot be read "
                                          "in a grading run")
        finally:
            busy[0] = False

    sys.addaudithook(hook)


def main(argv: list[str]) -> None:
    home, drop = None, None
    if "--home" in argv:
        i = argv.index("--home")
        home = argv[i + 1]
        del argv[i:i + 2]
    if "--drop-to" in argv:
        i = argv.index("--drop-to")
        drop = int(argv[i + 1])
        del argv[i:i + 2]
    _limits()
    if drop is not None:
        sys.modules["course_lib.fallbacks"] = importlib.import_module("course_lib.grade.fallbacks_stub")
        i = argv.index("-f") + 1
        connection = open(argv[i]).read()                 # written 0600 by the grader: read it before dropping
        _drop_privileges(drop, home)
        argv[i] = os.path.join(home, "connection.json")
        with open(argv[i], "w") as f:
            f.write(connection)
    elif home:
        os.chdir(home)
    forbidden = json.loads(os.environ.get(FORBID_ENV) or "{}")
    import torch  # noqa: F401  (imported before the guard: its start-up reads files and frames freely)
    from ipykernel import kernelapp
    _make_guard(forbidden)
    kernelapp.launch_new_instance(argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
