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

.PHONY: lab test venv sync-notebooks notebooks bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

# Unit tests, every notebook under nbval, and the .py <-> .ipynb pairing checks.
# pytest's exit code 5 ("no tests collected") counts as a failure.
test: $(STAMP)
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
