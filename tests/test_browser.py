"""End-to-end browser test: the workbook in a real JupyterLab, driven by headless Chromium.

JupyterLab is started by `make lab` itself (`make -o .venv/.installed lab LAB_ARGS=...`: the
repository root, the settings of .jupyter/ through JUPYTER_CONFIG_PATH, --allow-root as root), on
127.0.0.1 with a random port and token. Then, like a student:

* the way in: the server's start URL opens START_HERE.md rendered; its link opens notebook 01, and
  notebook 01's link opens exercises/ex01_meta_gradients.ipynb; the file browser lists notebooks/ and
  exercises/ but not solutions/, tests/ or the notebooks' .py twins;
* an exercise: from the root, exercises/ and then ex01_meta_gradients.ipynb are opened by double-clicks
  in the file browser, and Run All reaches the last cell;
* the widgets: for each notebook below, it opens the notebook, clears the saved outputs, runs the
  cells, then moves three sliders of the widget with the keyboard and the readout box (in 08: α, the
  task family's buttons, the target velocity, α again). After every move the widget's output (figure
  and printed summary) must change. In 08 the widget must also say "computing…" while it works, and
  after every move both clips (animated GIFs) are decoded from their <img> src: no frame may be blank,
  and a screenshot of each must not be a flat colour. At the end no output area may show a traceback
  and the kernel must be idle.

JupyterLab must not save anything. Screenshots go to artifacts/screenshots/ (the widgets before and
after the moves, the start page, the exercise after Run All; on a failure a full-page one,
<name>_failure.png).

Needs Debian's chromium at /usr/bin/chromium (`make system-deps`, which `make test` runs first), `make`,
the .venv that `make` creates, and the `playwright` Python package (requirements.txt); Playwright's own
browser download is not used. Only this test:  make test PYTEST_ARGS="-m browser"
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXERCISE = "exercises/ex01_meta_gradients.ipynb"       # opened through the file browser, run to the end
START_PAGE = "START_HERE.md"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]

# Generous limits (milliseconds / seconds): the course machine has 2 busy cores.
SERVER_START_S = 180
KERNEL_READY_MS = 240_000
RUN_CELLS_MS = 1_200_000
WIDGET_UPDATE_MS = 300_000
UI_MS = 180_000

# JupyterLab user settings for the test server: never autosave (the notebooks on disk stay as they are),
# render every cell (no virtual scrolling, so all output areas are in the DOM), no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass(frozen=True)
class Move:
    label: str            # the slider's (or toggle buttons') description, exactly
    how: str              # "key": focus the handle and press the key `value` ("PageUp": 5 steps);
                          # "type": type `value` into the readout box and press Enter;
                          # "button": click the toggle button whose text is `value`
    value: str
    readout: str          # the readout text expected afterwards ("button": the button's text)


@dataclass(frozen=True)
class Case:
    notebook: str
    widget_call: str      # the widget cell is the code cell with a line starting with this
    run_all: bool         # False: run only the cells up to and including the widget cell
    moves: tuple[Move, ...]
    clips: int = 0        # animated GIFs the widget shows; each is decoded after every move: no blank frame
    busy: str = ""        # a CSS selector: while the widget recomputes, this element says so ("computing…")


CASES = [
    Case("03_maml_sinusoid.ipynb", "sinusoid_widget(", run_all=True, moves=(
        Move("α", "key", "PageUp", "0.0316"),                   # log slider, 10^-2 → 10^-1.5
        Move("amplitude A", "type", "2.5", "2.50"),             # the task
        Move("inner steps", "key", "ArrowRight", "2"),          # 1 → 2 steps
    )),
    # All cells, the reproduction table included (≈ 30-40 s here); run_all=False would stop at the widget.
    Case("04_meta_rl_navigation.ipynb", "navigation_widget(", run_all=True, moves=(
        Move("α", "key", "PageUp", "0.178"),                    # log slider, 10^-1 → 10^-0.75
        Move("goal x", "type", "-0.2", "-0.20"),                # the task
        Move("PG steps", "key", "ArrowRight", "2"),             # 1 → 2 steps
    )),
    # All cells (≈ 40-90 s here); each move adapts the policy and renders two clips (≈ 5-20 s). The moves
    # that once turned the clips black: α in the direction family, then the target velocity.
    Case("08_mujoco_locomotion.ipynb", "locomotion_widget(", run_all=True, clips=2, busy=".locomotion-busy", moves=(
        Move("α", "type", "0.251", "0.251"),                    # log slider, 10^-1 → 10^-0.6
        Move("task family", "button", "velocity (halfcheetah_vel)", "velocity (halfcheetah_vel)"),
        Move("target velocity (m/s)", "type", "2.0", "2.00"),   # the task: 1.50 → 2.00 m/s
        Move("α", "key", "PageDown", "0.141"),                  # 10^-0.6 → 10^-0.85
    )),
]


# --------------------------------------------------------------------------------------------------
# JupyterLab server
# --------------------------------------------------------------------------------------------------
@dataclass
class Lab:
    url: str
    token: str
    log: Path

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel (frees the CPU and memory; nothing is restored later)."""
        for kind in ("sessions", "kernels"):
            for item in self.api("GET", f"/api/{kind}"):
                try:
                    self.api("DELETE", f"/api/{kind}/{item['id']}")
                except urllib.error.URLError:
                    pass

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on 127.0.0.1:<free port> with a random token (the repository root); stopped afterwards."""
    home = tmp_path_factory.mktemp("jupyterlab")
    for plugin, values in LAB_SETTINGS.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(os.environ,
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_CONFIG_DIR=str(home / "config"),       # ignore the user's ~/.jupyter
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")     # the kernel shares 2 cores with others
    env.pop("JUPYTER_CONFIG_PATH", None)                     # only the workbook's .jupyter/, which make adds
    lab_args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                "--LabApp.expose_app_in_browser=True"]        # window.jupyterapp, for the waits
    make = shutil.which("make")
    if make is None:
        pytest.fail("`make` not found: the browser test starts JupyterLab with `make lab`", pytrace=False)
    # -o .venv/.installed: use the environment as it is (never reinstall it from here)
    cmd = [make, "--no-print-directory", "-o", ".venv/.installed", "lab", "LAB_ARGS=" + " ".join(lab_args)]
    log = home / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"`make lab` exited with code {process.returncode}:\n{server.log_text()[-3000:]}")
            try:
                server.api("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{server.log_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            try:
                server.shutdown_kernels()
            except Exception:
                pass
            # SIGTERM to make and jupyter (their own process group): the server also shuts down any kernel left
            os.killpg(process.pid, signal.SIGTERM)
            if not _group_gone(process, 60):
                os.killpg(process.pid, signal.SIGKILL)
                _group_gone(process, 30)
        shutil.copy(log, _artifacts() / "jupyterlab.log")


def _group_gone(process: subprocess.Popen, timeout_s: float) -> bool:
    """Wait until make and every process of its group (jupyter, kernels) have exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _artifacts() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS.parent


# --------------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser test needs Debian's chromium. Install it with "
                    f"`make system-deps` (`make test` does this first) or `apt-get install chromium`.",
                    pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package `playwright` is missing: `make venv` installs requirements.txt",
                    pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# JavaScript run in the page. `window.__nb` is the notebook panel under test (found via window.jupyterapp).
FIND_PANEL_AND_KERNEL_IDLE = """(path) => {
    const app = window.jupyterapp;
    if (!app || !app.shell) return false;
    for (const w of app.shell.widgets('main')) {
        if (w.context && w.context.path === path && w.content && w.sessionContext) {
            window.__nb = w;
            const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
            return w.context.isReady && !!kernel && kernel.status === 'idle'
                   && kernel.connectionStatus === 'connected' && w.content.widgets.length > 0;
        }
    }
    return false;
}"""

WIDGET_CELL_INDEX = """(call) => {
    const cells = window.__nb.content.widgets;
    for (let i = 0; i < cells.length; i++) {
        const source = cells[i].model.sharedModel.getSource();
        if (cells[i].model.type === 'code' && source.split('\\n').some(line => line.startsWith(call))) return i;
    }
    return -1;
}"""

# Clear the saved outputs, then run all cells, or the cells above index `upTo` (exclusive), without
# awaiting here: the promise's outcome lands in window.__run, polled by the test.
START_RUN = """async (upTo) => {
    const app = window.jupyterapp, nb = window.__nb;
    app.shell.activateById(nb.id);
    await app.commands.execute('notebook:clear-all-cell-outputs');
    window.__run = null;
    let command = 'notebook:run-all-cells';
    if (upTo >= 0) { nb.content.activeCellIndex = upTo; command = 'notebook:run-all-above'; }
    app.commands.execute(command).then(ok => { window.__run = {ok: ok}; },
                                       err => { window.__run = {ok: false, error: String(err)}; });
}"""

# Indices of the code cells (all, or those before index `end`) without an execution count: not run.
NOT_RUN = """(end) => window.__nb.content.widgets
    .map((cell, i) => (cell.model.type === 'code' && cell.model.executionCount === null && (end < 0 || i < end)) ? i : -1)
    .filter(i => i >= 0)"""

KERNEL_IDLE = """() => {
    const nb = window.__nb, kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
    const busyPrompt = [...nb.node.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('[*]'));
    return !!kernel && kernel.status === 'idle' && !busyPrompt;
}"""

RUN_FINISHED = "() => window.__run !== null && (" + KERNEL_IDLE + ")()"

# Error outputs in the notebook model, and tracebacks / widget errors anywhere in the rendered outputs
# (ipywidgets' `interactive` catches its callback's exceptions and shows them inside the widget's own
# output area, which is not part of the notebook model).
PROBLEMS = """() => {
    const nb = window.__nb, problems = [];
    nb.content.widgets.forEach((cell, i) => {
        if (cell.model.type !== 'code') return;
        for (const out of cell.model.outputs.toJSON())
            if (out.output_type === 'error') problems.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    });
    const bad = /Traceback \\(most recent call last\\)|Error displaying widget|Error rendering output/;
    nb.node.querySelectorAll('.jp-OutputArea-output').forEach(el => {
        const text = el.innerText || '';
        const match = text.match(bad);
        if (match) {
            const index = nb.content.widgets.findIndex(c => c.node.contains(el));
            problems.push(`output of cell ${index}: ${text.slice(Math.max(0, match.index - 200), match.index + 1500)}`);
        }
    });
    return problems;
}"""


# The widget's output, as a string: every figure's src and the printed text.
SIGNATURE = """el => [...el.querySelectorAll('img')].map(i => i.src).join('|') + '\\n'
                     + [...el.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n')"""

# True once the widget's output has stayed the same for 1 s (rendering can lag the kernel's idle).
STABLE = f"""el => {{
    const sig = ({SIGNATURE})(el), now = Date.now();
    if (el.__sig !== sig) {{ el.__sig = sig; el.__since = now; }}
    return now - el.__since >= 1000;
}}"""


def _wait(page, js: str, arg, timeout_ms: int, what: str) -> None:
    """page.wait_for_function, failing with `what` instead of a bare timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout_ms, polling=250)
    except PlaywrightTimeout:
        pytest.fail(f"{what} (waited {timeout_ms / 1000:.0f} s)", pytrace=False)


def _move(page, interact, move: Move, notebook: str, busy: str = "") -> None:
    exact = re.compile(rf"^\s*{re.escape(move.label)}\s*$")
    kind = ".widget-toggle-buttons" if move.how == "button" else ".widget-slider"
    slider = interact.locator(kind).filter(has=page.locator(".widget-label", has_text=exact))
    count = slider.count()
    assert count == 1, f"{notebook}: expected one {kind[8:]} labelled {move.label!r}, found {count}"
    out = interact.locator(".widget-output").last
    before = out.evaluate(SIGNATURE)
    readout = slider.locator(".widget-readout")
    if move.how == "button":
        readout = slider.locator("button.jupyter-button", has_text=re.compile(rf"^\s*{re.escape(move.value)}\s*$"))
        assert readout.count() == 1, f"{notebook}: no button {move.value!r} in {move.label!r}"
        readout.click()
        _wait(page, "el => el.classList.contains('mod-active')", readout.element_handle(), UI_MS,
              f"{notebook}: the button {move.value!r} of {move.label!r} did not become active")
    elif move.how == "key":
        handle = slider.locator(".noUi-handle")
        handle.scroll_into_view_if_needed()
        handle.focus()
        page.keyboard.press(move.value)
    else:
        readout.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.type(move.value)
        page.keyboard.press("Enter")
    what = f"{notebook}: {kind[8:]} {move.label!r} ({move.how} {move.value!r})"
    if busy:     # every move is to a new setting, which takes seconds: the widget must say it is working
        _wait(page, "el => (el.innerText || '').includes('computing')", interact.locator(busy).element_handle(),
              UI_MS, f"{what}: no 'computing…' while the widget recomputes")
    # ipywidgets formats negative numbers with a Unicode minus sign
    _wait(page, "([el, text]) => el.textContent.trim().replace(/\\u2212/g, '-') === text",
          [readout.element_handle(), move.readout], UI_MS,
          f"{what}: the readout did not become {move.readout!r}")
    # the kernel re-runs the callback: wait for a new output (a figure, or a traceback: reported below),
    # then for the kernel to finish
    _wait(page, f"([el, before]) => ({SIGNATURE})(el) !== before"
                f" && (el.querySelector('img') !== null || (el.innerText || '').includes('Traceback'))",
          [out.element_handle(), before], WIDGET_UPDATE_MS, f"{what}: the widget's output did not change")
    _wait(page, KERNEL_IDLE, None, WIDGET_UPDATE_MS, f"{what}: the kernel did not become idle")
    _wait(page, STABLE, out.element_handle(), UI_MS, f"{what}: the widget's output does not settle")
    if busy:
        _wait(page, "el => !(el.innerText || '').trim()", interact.locator(busy).element_handle(), UI_MS,
              f"{what}: 'computing…' stays after the widget has finished")
    after = out.evaluate(SIGNATURE)
    assert after != before, f"{what}: the widget's output did not change"
    text = after.split("\n", 1)[-1]
    assert "Traceback" not in text, f"{what}: the widget's callback raised:\n{text[-3000:]}"


# The animated GIFs in an element (the clips of notebook 08), as their data: URLs.
GIF_SOURCES = """el => [...el.querySelectorAll('img')].map(i => i.src).filter(s => s.startsWith('data:image/gif;base64,'))"""


def _blank_frames(gif: bytes) -> tuple[list[int], int]:
    """(the indices of the GIF's frames that are one flat colour — black, say —, the number of frames)."""
    import io

    import numpy as np
    from PIL import Image, ImageSequence

    frames = [np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(Image.open(io.BytesIO(gif)))]
    return [i for i, f in enumerate(frames) if f.std() < 2.0 or f.max() < 16], len(frames)


def _check_clips(interact, count: int, what: str) -> None:
    """The widget shows `count` GIFs, none with a blank frame, and on screen (a screenshot of each <img>)
    neither is a flat colour."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    out = interact.locator(".widget-output").last
    sources = out.evaluate(GIF_SOURCES)
    assert len(sources) == count, f"{what}: expected {count} clips (GIFs), found {len(sources)}"
    for i, src in enumerate(sources):
        blank, n = _blank_frames(base64.b64decode(src.split(",", 1)[1]))
        assert n > 1 and not blank, f"{what}: clip {i} has {len(blank)} blank frames of {n}: {blank[:10]}"
    images = out.locator("img[src^='data:image/gif']")
    for i in range(images.count()):
        shown = np.asarray(Image.open(io.BytesIO(images.nth(i).screenshot())).convert("RGB"), dtype=np.float32)
        assert shown.std() > 2.0 and shown.max() >= 16, f"{what}: clip {i} shows as a flat colour on screen"


# --------------------------------------------------------------------------------------------------
# The way in: the start page, its links, the file browser, an exercise run to the end
# --------------------------------------------------------------------------------------------------
# True once the document `path` is open (and ready) in the main area; window.__doc is its panel.
FIND_DOCUMENT = """(path) => {
    const app = window.jupyterapp;
    if (!app || !app.shell) return false;
    for (const w of app.shell.widgets('main'))
        if (w.context && w.context.path === path && w.context.isReady) { window.__doc = w; return true; }
    return false;
}"""

CURRENT_PATH = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    return w && w.context ? w.context.path : null;
}"""

# The start page rendered as Markdown (not in the text editor), its title in view.
START_PAGE_RENDERED = "(path) => (" + FIND_DOCUMENT + """)(path) && (() => {
    const h1 = window.__doc.node.querySelector('.jp-RenderedMarkdown h1');
    return !!h1 && h1.textContent.includes('Start here');
})()"""

# The names the default file browser lists now.
LISTING = """() => [...document.querySelectorAll('#filebrowser .jp-DirListing-content .jp-DirListing-itemText')]
    .map(e => e.textContent.trim())"""


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    return context, page, page_errors


def _listing_shows(page, names: list[str], what: str) -> list[str]:
    _wait(page, "(names) => { const shown = (" + LISTING + ")(); return names.every(n => shown.includes(n)); }",
          names, UI_MS, f"the file browser does not list {names} ({what})")
    return page.evaluate(LISTING)


def _double_click_in_file_browser(page, name: str) -> None:
    item = page.locator("#filebrowser .jp-DirListing-content .jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")))
    assert item.count() == 1, f"the file browser lists {item.count()} items named {name!r}"
    item.dblclick()


def _click_link(page, panel_id: str, text: str, opens: str, what: str) -> None:
    link = page.locator(f"[id='{panel_id}'] .jp-RenderedMarkdown a", has_text=text).first
    link.scroll_into_view_if_needed()
    link.click()
    _wait(page, f"(path) => ({CURRENT_PATH})() === path", opens, UI_MS,
          f"{what}: clicking the link {text!r} did not open {opens}")
    _wait(page, FIND_DOCUMENT, opens, UI_MS, f"{what}: {opens} did not load")


def _failure_screenshot(page, name: str) -> None:
    try:
        page.screenshot(path=str(_artifacts() / "screenshots" / f"{name}_failure.png"), full_page=True)
    except Exception:
        pass


def test_start_page_and_its_links(lab, browser):
    """The lab opens on START_HERE.md, rendered; its link opens notebook 01, whose link opens an exercise."""
    context, page, page_errors = _new_page(browser)
    try:
        page.goto(f"{lab.url}/?token={lab.token}", timeout=UI_MS * 2)       # the server's start URL
        _wait(page, START_PAGE_RENDERED, START_PAGE, KERNEL_READY_MS,
              f"the lab did not open on {START_PAGE}, rendered as Markdown")
        start_id = page.evaluate("() => window.__doc.id")
        page.screenshot(path=str(_artifacts() / "screenshots" / "start_page.png"))

        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        shown = _listing_shows(page, ["notebooks", "exercises", START_PAGE], "the root")
        for hidden in ("solutions", "tests", "runs", "artifacts"):
            assert hidden not in shown, f"the file browser lists {hidden}/ at the root: {shown}"

        _click_link(page, start_id, "notebook 01", "notebooks/01_baselines.ipynb", START_PAGE)
        notebook_id = page.evaluate("() => window.__doc.id")
        _click_link(page, notebook_id, EXERCISE, EXERCISE, "notebooks/01_baselines.ipynb")

        assert not page_errors, f"uncaught JavaScript errors: {page_errors}"
        assert "Saving file at" not in lab.log_text(), "JupyterLab saved a file: the test must not modify the workbook"
    except BaseException:
        _failure_screenshot(page, "start_page")
        raise
    finally:
        context.close()
        lab.shutdown_kernels()


def test_exercise_opened_from_the_file_browser_runs_to_the_end(lab, browser):
    """From the root: exercises/ → ex01 by double-clicks (no .py twin listed); Run All reaches the last cell."""
    context, page, page_errors = _new_page(browser)
    name = Path(EXERCISE).stem
    start = time.monotonic()
    try:
        page.goto(f"{lab.url}/lab/workspaces/exercise?reset&token={lab.token}", timeout=UI_MS * 2)
        _wait(page, "() => !!(window.jupyterapp && window.jupyterapp.shell)", None, UI_MS, "JupyterLab did not load")
        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        _listing_shows(page, ["notebooks", "exercises"], "the root")
        _double_click_in_file_browser(page, "exercises")
        shown = _listing_shows(page, [Path(EXERCISE).name], "exercises/")
        assert not [n for n in shown if n.endswith(".py")], f"exercises/ lists the .py twins: {shown}"
        _double_click_in_file_browser(page, Path(EXERCISE).name)
        _wait(page, FIND_PANEL_AND_KERNEL_IDLE, EXERCISE, KERNEL_READY_MS,
              f"{EXERCISE}: the notebook did not open with an idle kernel")
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

        opened = time.monotonic()
        page.evaluate(START_RUN, -1)
        _wait(page, RUN_FINISHED, None, RUN_CELLS_MS, f"{EXERCISE}: Run All did not finish")
        run = page.evaluate("window.__run")
        not_run = page.evaluate(NOT_RUN, -1)
        problems = page.evaluate(PROBLEMS)
        page.screenshot(path=str(_artifacts() / "screenshots" / f"{name}_run_all.png"), full_page=True)
        assert not not_run, (f"{EXERCISE}: Run All stopped early, code cells {not_run} did not run; errors:\n"
                             + "\n\n".join(problems))
        assert run.get("ok"), f"{EXERCISE}: Run All failed: {run}"
        assert not page_errors, f"{EXERCISE}: uncaught JavaScript errors: {page_errors}"
        assert "Saving file at" not in lab.log_text(), "JupyterLab saved a file: the test must not modify the workbook"
        print(f"{EXERCISE}: opened in {opened - start:.0f} s, Run All in {time.monotonic() - opened:.0f} s")
    except BaseException:
        _failure_screenshot(page, name)
        raise
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.mark.parametrize("case", CASES, ids=[c.notebook.split("_")[0] for c in CASES])
def test_widget_in_jupyterlab(lab, browser, case: Case):
    name = case.notebook.removesuffix(".ipynb")
    assert (NOTEBOOKS / case.notebook).exists(), case.notebook
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    page_errors = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    start = time.monotonic()
    try:
        # a workspace of its own: only this notebook open (no tab restored from an earlier test)
        page.goto(f"{lab.url}/lab/workspaces/{name}/tree/notebooks/{case.notebook}?reset&token={lab.token}",
                  timeout=UI_MS * 2)
        _wait(page, FIND_PANEL_AND_KERNEL_IDLE, f"notebooks/{case.notebook}", KERNEL_READY_MS,
              f"{case.notebook}: the notebook did not open with an idle kernel")
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        widget_index = page.evaluate(WIDGET_CELL_INDEX, case.widget_call)
        assert widget_index >= 0, f"{case.notebook}: no code cell calls {case.widget_call}…)"

        opened = time.monotonic()
        page.evaluate(START_RUN, -1 if case.run_all else widget_index + 1)
        _wait(page, RUN_FINISHED, None, RUN_CELLS_MS, f"{case.notebook}: running the cells did not finish")
        run = page.evaluate("window.__run")
        problems = page.evaluate(PROBLEMS)
        assert not problems, f"{case.notebook}: errors after running the cells:\n" + "\n\n".join(problems)
        assert run.get("ok"), f"{case.notebook}: running the cells failed: {run}"
        not_run = page.evaluate(NOT_RUN, -1 if case.run_all else widget_index + 1)
        assert not not_run, f"{case.notebook}: code cells {not_run} did not run"

        panel_id = page.evaluate("() => window.__nb.id")
        cell = page.locator(f"[id='{panel_id}'] .jp-Notebook .jp-Cell").nth(widget_index)
        interact = cell.locator(".widget-interact")
        interact.wait_for(state="visible", timeout=UI_MS)
        interact.locator(".widget-output img").first.wait_for(state="visible", timeout=WIDGET_UPDATE_MS)
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(_artifacts() / "screenshots" / f"{name}_before.png"))
        ran = time.monotonic()
        if case.clips:
            _check_clips(interact, case.clips, f"{case.notebook}: before the moves")

        for i, move in enumerate(case.moves):
            _move(page, interact, move, case.notebook, case.busy)
            if case.clips:
                _check_clips(interact, case.clips, f"{case.notebook}: after move {i + 1} ({move.label!r} → {move.value!r})")

        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(_artifacts() / "screenshots" / f"{name}_after.png"))
        problems = page.evaluate(PROBLEMS)
        assert not problems, f"{case.notebook}: errors after moving the sliders:\n" + "\n\n".join(problems)
        _wait(page, KERNEL_IDLE, None, WIDGET_UPDATE_MS, f"{case.notebook}: the kernel is not idle at the end")
        assert page.evaluate(KERNEL_IDLE), f"{case.notebook}: the kernel is not idle at the end"
        assert not page_errors, f"{case.notebook}: uncaught JavaScript errors: {page_errors}"
        assert "Saving file at" not in lab.log_text(), "JupyterLab saved a file: the test must not modify notebooks/"
        print(f"{case.notebook}: opened in {opened - start:.0f} s, ran the cells in {ran - opened:.0f} s, "
              f"moved {len(case.moves)} sliders in {time.monotonic() - ran:.0f} s")
    except BaseException:
        try:
            page.screenshot(path=str(_artifacts() / "screenshots" / f"{name}_failure.png"), full_page=True)
        except Exception:
            pass
        raise
    finally:
        context.close()
        lab.shutdown_kernels()       # free the CPU and memory before the next notebook
