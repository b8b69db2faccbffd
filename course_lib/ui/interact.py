"""What every widget shares: the slider style, showing a result, and reaching a widget's controls."""
from __future__ import annotations

STYLE = {"description_width": "initial"}


def show_result(result) -> None:
    """Display a result's figure and print its summary (the body of every widget's callback)."""
    from IPython.display import display
    display(result.figure)
    print(result.summary())


def controls(widget) -> dict:
    """The interactive widget's controls by argument name: {"alpha": FloatSlider, ...}."""
    return {c._kwarg: c for c in widget.kwargs_widgets}
