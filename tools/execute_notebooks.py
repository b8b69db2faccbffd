"""Execute percent-format notebooks and write their paired .ipynb with outputs (what `make notebooks` runs).

    python tools/execute_notebooks.py notebooks/03_maml_sinusoid.py [more.py ...]

Why not `jupytext --execute`: nbclient 0.11 can miss the wake-up for an execute_reply after a cell
that creates widgets (jupyter/nbclient#312) and then waits for the whole cell timeout. Polling the
shell channel in short slices avoids that.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from queue import Empty

import jupytext
from pinned_cpu import pin
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from course_lib.grading import set_cell_ids  # noqa: E402

pin()                                               # the kernels record on the pinned code paths, as the tests replay them

KERNELSPEC = {"name": "python3", "language": "python", "display_name": "Python 3 (ipykernel)"}


class PollingClient(NotebookClient):
    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        channel = client.shell_channel
        get_msg = channel.get_msg

        async def polling_get_msg(timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                try:
                    return await get_msg(timeout=step)
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

        channel.get_msg = polling_get_msg
        return client


def execute(script: Path, timeout: int = 600) -> float:
    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = KERNELSPEC
    start = time.perf_counter()
    PollingClient(notebook, timeout=timeout, kernel_name="python3",
                  resources={"metadata": {"path": str(script.parent.resolve())}}).execute()
    set_cell_ids(notebook, script.stem)             # the same ids at every run: diffs show only what changed
    jupytext.write(notebook, script.with_suffix(".ipynb"), fmt="ipynb")
    # the .py is regenerated from the .ipynb so that the pair matches byte for byte
    jupytext.write(jupytext.read(script.with_suffix(".ipynb")), script, fmt="py:percent")
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for path in paths:
        seconds = execute(Path(path))
        print(f"{path}: executed in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
