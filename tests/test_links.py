"""Every relative link in the guide resolves, and the notebooks link their exercises (issue 18).

Checked: README.md, START_HERE.md, exercises/README.md, docs/**/*.md and the markdown cells of
notebooks/*.py. A relative link must name an existing file or folder; a `#fragment` on a Markdown
file must name one of its headings (GitHub's rule: lower case, punctuation dropped, spaces → '-').
Web links (http, https, mailto) are not fetched. In the notebooks, every mention of an exercise
notebook must be a link that JupyterLab can open from notebooks/ (`../exercises/exNN_….ipynb`).

Run alone:  python -m pytest tests/test_links.py -q
"""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted({ROOT / "README.md", ROOT / "START_HERE.md", ROOT / "exercises" / "README.md",
                *(ROOT / "docs").rglob("*.md")})
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
EXERCISE = re.compile(r"exercises/(ex\d\d_[A-Za-z0-9_]+\.ipynb)")


def _strip_code(text: str) -> str:
    """Markdown without fenced blocks and inline code (links inside code are not links)."""
    return FENCE.sub("", text)


def links(markdown: str) -> list[str]:
    """The targets of the Markdown links and images in `markdown`, code excluded."""
    text = _strip_code(markdown)
    # inline code spans, paired left to right, are dropped unless one is a whole link text ([`a.py`](a.py))
    text = re.sub(r"`[^`\n]*`", lambda m: m.group(0) if text[m.start() - 1:m.start()] == "["
                  and text[m.end():m.end() + 1] == "]" else "", text)
    return [m.group(1) for m in LINK.finditer(text)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = heading.replace("`", "").replace("*", "")                           # code and emphasis marks
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)                     # links keep their text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = _strip_code(path.read_text())
    return {anchor(h) for h in HEADING.findall(text)}


def link_problems(markdown: str, base: Path) -> list[str]:
    """Links in `markdown` (a file in folder `base`) that do not resolve."""
    problems = []
    for target in links(markdown):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):        # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        file = (base / path).resolve() if path else None
        if file is not None and not file.exists():
            problems.append(f"{target}: no such file")
        elif fragment and (file is None or file.suffix == ".md"):
            if file is not None and fragment not in anchors(file):
                problems.append(f"{target}: no heading #{fragment} in {file.name}")
    return problems


def _markdown_of(notebook: Path) -> str:
    return "\n\n".join(c.source for c in jupytext.read(notebook).cells if c.cell_type == "markdown")


# ------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_links_resolve(page):
    problems = link_problems(page.read_text(), page.parent)
    assert not problems, f"{page.relative_to(ROOT)}: " + "; ".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_resolve(notebook):
    problems = link_problems(_markdown_of(notebook), notebook.parent)
    assert not problems, f"{notebook.name}: " + "; ".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_its_exercises(notebook):
    """Each exercise a notebook names is a link (clickable in JupyterLab), not just a path in code."""
    text = _markdown_of(notebook)
    named = set(EXERCISE.findall(text))
    linked = {Path(t).name for t in links(text) if t.startswith("../exercises/")}
    assert named <= linked, f"{notebook.name}: exercises named but not linked: {sorted(named - linked)}"


def test_start_page_links_every_notebook_and_exercise():
    start = ROOT / "START_HERE.md"
    targets = {Path(t).as_posix() for t in links(start.read_text())}
    expected = {p.relative_to(ROOT).as_posix() for p in
                [*(ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"), *(ROOT / "exercises").glob("ex[0-9][0-9]_*.ipynb")]}
    assert expected and expected <= targets, f"START_HERE.md does not link {sorted(expected - targets)}"


def test_readme_stays_a_guide():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; long-form material belongs in docs/"


# ----------------------------------------------------------------------------- the checks can fail
def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Some section, with `code`\n")
    good = "[a](a.md) [s](a.md#some-section-with-code) ![i](a.md) [w](https://example.org/x) `[no](b.md)`"
    assert link_problems(good, tmp_path) == []
    assert link_problems("[b](b.md)", tmp_path) == ["b.md: no such file"]
    assert link_problems("[s](a.md#nope)", tmp_path) == ["a.md#nope: no heading #nope in a.md"]
    assert link_problems("```\n[b](b.md)\n```", tmp_path) == []


def test_anchor_follows_github():
    assert anchor("Sinusoid regression (MAML paper, App. C, Table 2)") == "sinusoid-regression-maml-paper-app-c-table-2"
    assert anchor("Meta-RL on 2D navigation (MAML paper §5.3, Fig. 4)") == "meta-rl-on-2d-navigation-maml-paper-53-fig-4"
    assert anchor("Is my install broken, or my exercise?") == "is-my-install-broken-or-my-exercise"
    assert anchor("The library, `course_lib`") == "the-library-course_lib"
