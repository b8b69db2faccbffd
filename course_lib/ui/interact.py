"""What every widget shares: the slider style, showing a result, and reaching a widget's controls."""
from __future__ import annotations

import math

STYLE = {"description_width": "initial"}


def show_result(result) -> None:
    """Display a result's figure and print its summary (the body of every widget's callback)."""
    from IPython.display import display
    display(result.figure)
    print(result.summary())


def controls(widget) -> dict:
    """The interactive widget's controls by argument name: {"alpha": FloatSlider, ...}."""
    return {c._kwarg: c for c in widget.kwargs_widgets}


def alpha_slider(value: float, alpha_range: tuple[float, float], step: float = 0.05, decimals: int = 3):
    """A log-scale slider for the step size α over `alpha_range`."""
    import ipywidgets as w
    lo, hi = (math.log10(v) for v in alpha_range)
    return w.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step, description="α",
                            continuous_update=False, readout_format=f".{decimals}f")


def steps_slider(value: int, high: int, low: int = 0, description: str = "PG steps"):
    """An integer slider for the number of adaptation steps."""
    import ipywidgets as w
    return w.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                       style=STYLE)
