"""course_lib — the library behind the MAML Workbook.

The public API every notebook, exercise and the grader use:
    inner_update(params, loss_fn, alpha, steps=1, first_order=False)      the one inner loop
    meta_gradient(theta, tasks, alpha, steps=1, method="maml")            MAML/FOMAML/Reptile/CAVIA
`import course_lib` also registers the gymnasium environments (course_lib/envs.py).
"""
from . import envs  # noqa: F401  (registers the gymnasium ids, e.g. "course_lib/Navigation2D-v0")
from .functional import batched, detached, forward, parameters_of
from .inner import inner_update
from .meta import meta_gradient, meta_objective
from .models import MLP

__all__ = ["inner_update", "meta_gradient", "meta_objective", "parameters_of", "detached", "batched",
           "forward", "MLP"]
__version__ = "0.1.0"
