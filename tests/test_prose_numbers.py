"""A notebook's prose may not quote a number that its own saved output contradicts (issue 19).

How a number is tied to an output. In a markdown cell the quoted number is wrapped in a marker,

    the floor is <span data-out="floor">3.02</span>

and some code cell of the same notebook prints the value under that key, as `key = value`:

    floor = 3.02          (anywhere in a line of stdout or of a text/plain result; 36% is allowed too)

The test reads the saved .ipynb (markdown and outputs from the same file), and for every marker
checks that the key is printed, with one value only, and that the quoted number agrees with it to the
quoted precision: "2.5" agrees with a printed 2.47 (|2.5 − 2.47| ≤ 0.05), "3.02" does not agree with
3.10. Unmarked numbers are not checked: mark the ones the text argues from. The marker renders as
plain text in JupyterLab and survives jupytext.

Run alone:  python -m pytest tests/test_prose_numbers.py -q
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MARKED = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11")        # notebooks whose key numbers are marked (at least MIN_MARKERS)
MIN_MARKERS = 3

NUMBER = r"[−\-+]?\d+(?:\.\d+)?"
MARKER = re.compile(r'<span\s+data-out="([A-Za-z_][\w.]*)"\s*>\s*(' + NUMBER + r')\s*(%?)\s*</span>')
PRINTED = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\s*=\s*(" + NUMBER + r")(%?)(?![\d.])")


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def markers(notebook: dict) -> list[tuple[int, str, str, str]]:
    """(cell index, key, quoted number, '%' or '') for every marker in the markdown cells."""
    found = []
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown":
            found += [(i, key, value, pct) for key, value, pct in MARKER.findall(_text(cell["source"]))]
    return found


def printed_values(notebook: dict) -> dict[str, set[tuple[str, str]]]:
    """key → {(value, '%' or '')} for every `key = value` in the saved outputs (stdout, text/plain)."""
    values: dict[str, set[tuple[str, str]]] = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = _text(output.get("text", ""))
            elif output.get("output_type") in ("execute_result", "display_data"):
                text = _text(output.get("data", {}).get("text/plain", ""))
            else:
                continue
            for key, value, pct in PRINTED.findall(text):
                values.setdefault(key, set()).add((value, pct))
    return values


def agrees(quoted: str, printed: str) -> bool:
    """The quoted number is the printed one, rounded to the quoted number of decimals (or finer)."""
    tolerance = 0.5 * 10 ** -_decimals(quoted) + 1e-9
    return abs(_number(quoted) - _number(printed)) <= tolerance


def problems(notebook: dict) -> list[str]:
    """Markers whose key is not printed, is printed with several values, or whose number disagrees."""
    printed = printed_values(notebook)
    found = []
    for cell, key, quoted, pct in markers(notebook):
        candidates = printed.get(key, set())
        if not candidates:
            found.append(f"cell {cell}: '{key}' is quoted as {quoted}{pct} but no output prints '{key} = …'")
        elif len(candidates) > 1:
            found.append(f"cell {cell}: '{key}' is printed with several values {sorted(candidates)}")
        else:
            (value, printed_pct), = candidates
            if printed_pct != pct or not agrees(quoted, value):
                found.append(f"cell {cell}: the prose says {key} = {quoted}{pct}, the output says {value}{printed_pct}")
    return found


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("notebook", EXECUTED, ids=lambda p: p.name)
def test_prose_agrees_with_saved_outputs(notebook):
    found = problems(_load(notebook))
    assert not found, f"{notebook.name}: " + "; ".join(found)


@pytest.mark.parametrize("number", MARKED)
def test_key_numbers_are_marked(number):
    (path,) = [p for p in EXECUTED if p.name.startswith(number + "_")]
    assert len(markers(_load(path))) >= MIN_MARKERS, f"{path.name} marks fewer than {MIN_MARKERS} quoted numbers"


# ----------------------------------------------------------------------------- the check can fail
def _notebook(markdown: str, *printed: str) -> dict:
    """A tiny saved notebook: one markdown cell, then one code cell per printed text."""
    code = [{"cell_type": "code", "source": "print(...)", "metadata": {}, "execution_count": 1,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]} for text in printed]
    return {"cells": [{"cell_type": "markdown", "source": markdown, "metadata": {}}, *code]}


def test_a_contradiction_is_caught():
    nb = _notebook('MAML reaches <span data-out="maml_1">0.64</span> after one step.', "maml_1 = 0.71\n")
    assert problems(nb) == ["cell 0: the prose says maml_1 = 0.64, the output says 0.71"]


def test_agreement_passes_to_the_quoted_precision():
    assert problems(_notebook('<span data-out="floor">2.5</span>', "val floor = 2.47\n")) == []
    assert problems(_notebook('<span data-out="floor">2.47</span>', "floor = 2.47  (100 tasks)\n")) == []
    assert problems(_notebook('<span data-out="floor">2.4</span>', "floor = 2.47\n"))            # off by 0.07
    assert problems(_notebook('<span data-out="r">−10.5</span>', "r = -10.52\n")) == []        # unicode minus
    assert problems(_notebook('<span data-out="neg">36%</span>', "neg = 36%\n")) == []
    assert problems(_notebook('<span data-out="neg">36</span>', "neg = 36%\n"))                 # unit dropped


def test_missing_and_ambiguous_keys_are_caught():
    assert "no output prints" in problems(_notebook('<span data-out="x">1.0</span>', "y = 1.0\n"))[0]
    assert "several values" in problems(_notebook('<span data-out="x">1.0</span>', "x = 1.0\n", "x = 2.0\n"))[0]
    assert problems(_notebook('<span data-out="x">1.0</span>', "x = 1.0\n", "x = 1.0\n")) == []   # repeated, same


def test_printed_keys_are_whole_names():
    printed = printed_values(_notebook("", "cos = 0.80, max_cos = 0.99; |g| = 3; a.b = -1.5\n"))
    assert printed == {"cos": {("0.80", "")}, "max_cos": {("0.99", "")}, "a.b": {("-1.5", "")}}
