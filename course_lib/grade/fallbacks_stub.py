"""course_lib.fallbacks as a grading run's kernel sees it: every implementation raises.

The grader's sandbox mounts this file over course_lib/fallbacks.py, so an answer cannot borrow the
library's version of an exercise through it; the cells that use `fallback()` then stop with this error,
which no verdict depends on.
"""


class _Unavailable:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def unavailable(*args, **kwargs):
            raise RuntimeError(f"course_lib's {name} is not available in a grading run: graded answers are "
                               "checked without the library's implementation of the exercises")
        unavailable.__name__ = name
        return unavailable


reference = _Unavailable()
