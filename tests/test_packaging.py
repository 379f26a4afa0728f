"""aecore works as a regular installed package: a notebook runs against the built wheel,
from a folder outside the repository, so nothing depends on paths inside it."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    (wheel,) = out.glob("aecore-*.whl")
    return wheel


def test_wheel_holds_the_package_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "aecore/models/variational.py" in names and "aecore/data.py" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "book/"))]


def test_notebook_runs_against_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True)
    work = tmp_path / "reader"
    work.mkdir()
    notebook = shutil.copy(ROOT / "notebooks" / "01_basic_autoencoder.ipynb", work)
    env = {**os.environ, "PYTHONPATH": str(site), "SMOKE_TEST": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # Which aecore does a notebook kernel started this way import? The wheel's.
    probe = work / "probe.ipynb"
    probe.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import aecore; print(aecore.__file__)")])))
    papermill = [sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(work)]
    subprocess.run(papermill + [str(probe), str(probe)], env=env, cwd=work, check=True,
                   capture_output=True, timeout=300)
    printed = nbformat.read(probe, as_version=4).cells[0].outputs[0]["text"]
    assert printed.strip().startswith(str(site)), printed
    # The chapter itself, in smoke mode, against that package.
    run = subprocess.run(papermill + ["-p", "epochs", "1", str(notebook), str(work / "out.ipynb")],
                         env=env, cwd=work, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
