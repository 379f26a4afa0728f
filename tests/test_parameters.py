"""The chapters' `parameters` cells work through papermill, as the README and chapter 8 say:
chapter 8's one-class protocol runs with another normal class and glues its `auroc`."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def glued(notebook, name):
    """The text papermill/myst-nb recorded for glue key `name` in an executed notebook."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                data = output["data"]
                return data.get("text/plain", data.get("application/papermill.record/text/plain"))
    raise KeyError(f"nothing glued as {name!r}")


def test_anomaly_chapter_runs_for_another_normal_class(tmp_path):
    out = tmp_path / "08_class_9.ipynb"
    run = subprocess.run(
        [sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(ROOT / "notebooks"),
         "-p", "normal_class", "9", str(ROOT / "notebooks" / "08_anomaly_detection.ipynb"),
         str(out)],
        env={**os.environ, "SMOKE_TEST": "1"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    assert glued(executed, "normal_name").strip("'\"") == "Ankle boot"
    assert 0.0 <= float(glued(executed, "auroc")) <= 1.0
