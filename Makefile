# The workbook's two commands:  `make lab`  and  `make test`.
# Both create .venv (Python 3.11) with the pinned requirements on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# JupyterLab options, e.g.  make lab LAB_ARGS="--no-browser --port 8890 --ip 0.0.0.0"
LAB_ARGS ?=
# Extra pytest options, e.g.  make test PYTEST_ARGS="-x -k inner"
PYTEST_ARGS ?=

.PHONY: lab test venv system-deps sync-notebooks notebooks bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# JupyterLab on the whole workbook (the repository root), opening on START_HERE.md. The settings in
# .jupyter/jupyter_server_config.py (hide solutions/, tests/, runs/ and the notebooks' .py twins from the
# file browser; Markdown opens rendered) come in through JUPYTER_CONFIG_PATH, which Jupyter reads on
# top of your own ~/.jupyter rather than instead of it. As root (e.g. in a container) it adds --allow-root.
lab: $(STAMP)
	JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Debian packages the tests need: chromium (tests/test_browser.py drives /usr/bin/chromium),
# libosmesa6 (MuJoCo's off-screen rendering) and bubblewrap (the grader's sandbox
# for student code). Installed with apt-get when missing, as root or with sudo.
# If that is not possible it only warns, so the other tests still run (the browser test then fails).
APT_PACKAGES := chromium libosmesa6 bubblewrap

system-deps:
	@if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromium ] && command -v bwrap >/dev/null 2>&1 && \
	   { ! command -v dpkg-query >/dev/null 2>&1 || dpkg-query -W -f='$${Status}' libosmesa6 2>/dev/null | grep -q 'ok installed'; }; then \
	  exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else echo "make system-deps: WARNING: not root and no sudo, cannot install $(APT_PACKAGES); as root run" \
	          "'apt-get install -y --no-install-recommends $(APT_PACKAGES)' (the browser test fails without chromium)" >&2; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make system-deps: WARNING: no apt-get; install Chromium as /usr/bin/chromium and OSMesa by hand" \
	       "(the browser test fails without chromium)" >&2; exit 0; fi; \
	echo "make system-deps: installing $(APT_PACKAGES) with $${SUDO:+sudo }apt-get"; \
	{ $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y --no-install-recommends $(APT_PACKAGES); } || \
	  echo "make system-deps: WARNING: apt-get could not install $(APT_PACKAGES) (the browser test fails without chromium)" >&2

# Unit tests, every notebook under nbval, the .py <-> .ipynb pairing checks, and the browser test of
# the widgets (tests/test_browser.py; only it: make test PYTEST_ARGS="-m browser").
# pytest's exit code 5 ("no tests collected") counts as a failure.
test: $(STAMP) system-deps
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - treating as failure"; exit 1; fi; \
	exit $$rc

# After editing a notebook's .py, regenerate its .ipynb (and the other way round).
sync-notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

# Re-execute every notebook (e.g. after retraining a checkpoint) and save it with its outputs.
notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py notebooks/*.py

bench: $(STAMP)
	$(BIN)/python bench/sinusoid.py

clean:
	rm -rf $(VENV) .pytest_cache runs build *.egg-info
