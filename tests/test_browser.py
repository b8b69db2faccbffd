"""End-to-end browser test: the notebooks' widgets in a real JupyterLab, driven by headless Chromium.

For each notebook below, the test opens it in JupyterLab (started on 127.0.0.1 with a random port and
token), clears the saved outputs, runs the cells, then moves three sliders of the widget with the
keyboard and the readout box, like a student would. After every move the widget's output (figure and
printed summary) must change. At the end no output area may show a traceback, the kernel must be idle,
and JupyterLab must not have saved anything. Screenshots of the widget before and after the moves go to
artifacts/screenshots/ (on a failure also a full-page one, <notebook>_failure.png).

Needs Debian's chromium at /usr/bin/chromium (`make system-deps`, which `make test` runs first) and the
`playwright` Python package (requirements.txt); Playwright's own browser download is not used.
Only this test:  make test PYTEST_ARGS="-m browser"
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
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
    label: str            # the slider's description, exactly
    how: str              # "key": focus the handle and press the key `value` ("PageUp": 5 steps);
                          # "type": type `value` into the readout box and press Enter
    value: str
    readout: str          # the readout text expected afterwards


@dataclass(frozen=True)
class Case:
    notebook: str
    widget_call: str      # the widget cell is the code cell with a line starting with this
    run_all: bool         # False: run only the cells up to and including the widget cell
    moves: tuple[Move, ...]


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
    """`jupyter lab` on 127.0.0.1:<free port> with a random token, serving notebooks/; stopped afterwards."""
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
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOKS}",
           "--LabApp.expose_app_in_browser=True"]                 # window.jupyterapp, for the waits
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    server = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {process.returncode}:\n{server.log_text()[-3000:]}")
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
            process.terminate()              # SIGTERM: the server also shuts down any kernel left
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        shutil.copy(log, _artifacts() / "jupyterlab.log")


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


def _move(page, interact, move: Move, notebook: str) -> None:
    exact = re.compile(rf"^\s*{re.escape(move.label)}\s*$")
    slider = interact.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=exact))
    count = slider.count()
    assert count == 1, f"{notebook}: expected one slider labelled {move.label!r}, found {count}"
    out = interact.locator(".widget-output").last
    before = out.evaluate(SIGNATURE)
    readout = slider.locator(".widget-readout")
    if move.how == "key":
        handle = slider.locator(".noUi-handle")
        handle.scroll_into_view_if_needed()
        handle.focus()
        page.keyboard.press(move.value)
    else:
        readout.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.type(move.value)
        page.keyboard.press("Enter")
    what = f"{notebook}: slider {move.label!r} ({move.how} {move.value!r})"
    # ipywidgets formats negative numbers with a Unicode minus sign
    _wait(page, "([el, text]) => el.textContent.trim().replace(/\\u2212/g, '-') === text",
          [readout.element_handle(), move.readout], UI_MS,
          f"{what}: the readout did not become {move.readout!r}")
    # the kernel re-runs the callback: wait for a new output, then for the kernel to finish
    _wait(page, f"([el, before]) => ({SIGNATURE})(el) !== before && el.querySelector('img') !== null",
          [out.element_handle(), before], WIDGET_UPDATE_MS, f"{what}: the widget's output did not change")
    _wait(page, KERNEL_IDLE, None, WIDGET_UPDATE_MS, f"{what}: the kernel did not become idle")
    _wait(page, STABLE, out.element_handle(), UI_MS, f"{what}: the widget's output does not settle")
    after = out.evaluate(SIGNATURE)
    assert after != before, f"{what}: the widget's output did not change"
    text = after.split("\n", 1)[-1]
    assert "Traceback" not in text, f"{what}: the widget's callback raised:\n{text[-3000:]}"


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
        page.goto(f"{lab.url}/lab/workspaces/{name}/tree/{case.notebook}?reset&token={lab.token}",
                  timeout=UI_MS * 2)
        _wait(page, FIND_PANEL_AND_KERNEL_IDLE, case.notebook, KERNEL_READY_MS,
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

        for move in case.moves:
            _move(page, interact, move, case.notebook)

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
