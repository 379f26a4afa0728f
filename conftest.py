"""nbval's runs of the notebooks seed the smoke book's execution cache.

`make test` needs every notebook executed twice over: once under nbval (every cell must run)
and once for the smoke book that the browser test reads. Executing each notebook once is
enough. Given ``--nb-cache DIR``, pytest stores every notebook whose cells all passed under
nbval, with the outputs nbval received from its kernel, in the jupyter-cache at DIR. Jupyter
Book (``execute_notebooks: cache``) matches notebooks to that cache by their code, so the
smoke build then renders them without running them again; a notebook missing from the cache
(its code changed since, or a cell failed) is executed by the build as before.
"""

import copy
import fcntl
import os
import time
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--nb-cache", metavar="DIR", default=None,
                     help="store each notebook nbval ran without a failure, with its outputs, "
                          "in the jupyter-cache at DIR (Jupyter Book's execution cache)")


def pytest_configure(config):
    if config.getoption("--nb-cache"):
        # the outputs must be the book's: interactive figures as HTML, as book/_ext/book_fixes.py
        # sets for the kernels of a book build (the notebooks' kernels inherit this)
        os.environ["AECORE_FIGURES"] = "html"


_runs = {}  # notebook path -> {"outputs": [...], "failed": bool, "start": seconds}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    folder = item.config.getoption("--nb-cache")
    notebook = getattr(item.parent, "nb", None)  # nbval's IPyNbFile holds the notebook read
    if not folder or notebook is None or not hasattr(item, "test_outputs"):
        return
    run = _runs.setdefault(item.parent.path, {"outputs": [], "failed": False,
                                              "start": time.time()})
    if report.failed or report.skipped:
        run["failed"] = True
    if call.when != "call":
        return
    run["outputs"].append(item.test_outputs or [])
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if len(run["outputs"]) == len(code) and not run["failed"]:
        _store(Path(folder), item.parent.path, notebook, run)


def _store(folder, path, notebook, run):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    executed = copy.deepcopy(notebook)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    for count, (cell, outputs) in enumerate(zip(code, run["outputs"]), start=1):
        cell.outputs, cell.execution_count = outputs, count
        for output in outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    folder.mkdir(parents=True, exist_ok=True)
    # two pytest-xdist workers may finish a notebook at once: one writer of the database at a time
    with open(folder / ".nbval-seed.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        get_cache(str(folder)).cache_notebook_bundle(
            CacheBundleIn(executed, str(path),
                          data={"execution_seconds": time.time() - run["start"]}),
            check_validity=False, overwrite=True)
