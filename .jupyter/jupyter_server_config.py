# JupyterLab settings for the MAML Workbook, used by `make lab` and by tests/test_browser.py.
#
# `make lab` serves the repository root and puts this folder on JUPYTER_CONFIG_PATH, which Jupyter
# reads *in addition to* your own ~/.jupyter: your config still loads, and only the settings below
# are the workbook's (a command-line option, e.g. `make lab LAB_ARGS="--LabApp.default_url=/lab"`,
# overrides them).
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# The file browser shows notebooks/, exercises/, course_lib/, docs/ and the start page. It hides what
# a student should not edit or need not see: the worked solutions, the tests, training and test
# outputs, build leftovers, and each notebook's Jupytext twin (notebooks/NN_*.py, exercises/exNN_*.py:
# the .py stays paired with its .ipynb and is kept in sync on save; it is just not listed twice).
# Globs match a file's or folder's name at any depth. Dot-folders (.venv, .git, this one) are hidden
# by Jupyter anyway. Hidden is not locked: a path typed by hand (File > Open from Path) still opens.
c.ContentsManager.hide_globs = [
    # Jupyter's defaults
    "__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "*.so", "*.dylib",
    # the workbook's
    "solutions", "tests", "runs", "artifacts", "build", "*.egg-info", "MUJOCO_LOG.TXT",
    "[0-9][0-9]_*.py", "ex[0-9][0-9]_*.py",
]

# Open on the start page, which says where to begin and links every notebook and exercise.
c.LabApp.default_url = "/lab/tree/START_HERE.md"

# Markdown files (the start page, README.md, docs/) open rendered, with clickable links, instead of in
# the text editor (right-click > Open With > Editor still edits them). This is a settings *override*
# (lab-settings/overrides.json): your own JupyterLab settings still take precedence.
c.LabApp.app_settings_dir = os.path.join(HERE, "lab-settings")
