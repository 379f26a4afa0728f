"""Every chapter, run as a Colab reader runs it: `make colab-test`.

1. A separate virtual environment (``_build/colab-env``) with Colab's versions of TensorFlow,
   Keras, NumPy, scikit-learn, scikit-image, matplotlib and pandas (``colab-runtime.txt``).
2. aecore installed the way each notebook's first cell installs it on Colab: the requirement
   written in that cell, pointed at this clone's committed HEAD instead of GitHub
   (non-editable, with its dependencies).
3. Fails if that install changed TensorFlow's or NumPy's version (on Colab, a forced restart).
4. Every notebook, copied to a folder outside the repository, run by papermill in smoke mode
   with that environment's kernel. Fails if any notebook fails.

Prints the versions before and after the install, and each notebook's result and time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WATCHED = ("tensorflow", "numpy", "keras")  # the install must not change the first two
KERNEL = "colab-runtime"


def run(cmd, **kwargs):
    print("$", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(list(map(str, cmd)), check=True, **kwargs)


def install_spec() -> str:
    """The pip requirement of the notebooks' Colab cell, e.g. ``aecore[notebooks] @ git+URL``."""
    first = json.loads((ROOT / "notebooks" / "01_basic_autoencoder.ipynb").read_text())
    code = next("".join(c["source"]) for c in first["cells"] if c["cell_type"] == "code")
    url = re.search(r'REPO_URL = "([^"]+)"', code).group(1)
    spec = re.search(r'PACKAGE = f?"([^"]+)"', code)
    if not spec:
        sys.exit("the first code cell of chapter 1 has no PACKAGE = \"...\" requirement")
    return spec.group(1).replace("{REPO_URL}", url), url


def versions(python) -> dict:
    code = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{p: m.version(p) for p in {WATCHED!r}}}))")
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def make_env(env: Path) -> Path:
    python = env / "bin" / "python"
    stamp = env / ".runtime-installed"
    runtime = HERE / "colab-runtime.txt"
    if stamp.exists() and stamp.read_text() == runtime.read_text():
        return python
    shutil.rmtree(env, ignore_errors=True)
    run([sys.executable, "-m", "venv", env])
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    # papermill is the test's runner, not part of Colab: install it with Colab's pins held.
    run([python, "-m", "pip", "install", "-q", "-r", runtime, "papermill"])
    run([python, "-m", "ipykernel", "install", "--prefix", env, "--name", KERNEL])
    stamp.write_text(runtime.read_text())
    return python


def run_notebook(python, notebook: Path, workdir: Path, env_vars) -> tuple[str, float, str]:
    out = workdir / f"{notebook.stem}.out.ipynb"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-m", "papermill", "-k", KERNEL, "--cwd", str(workdir),
         str(notebook), str(out)],
        env=env_vars, cwd=workdir, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    tail = "" if proc.returncode == 0 else (proc.stderr or proc.stdout)[-2500:]
    return notebook.name, seconds, tail


PROBE = """\
import importlib.util, json, sys
import aecore, keras, numpy, tensorflow
print(json.dumps({"python": sys.executable, "aecore": aecore.__file__,
                  "keras": keras.__version__, "tensorflow": tensorflow.__version__,
                  "numpy": numpy.__version__,
                  "myst_nb": importlib.util.find_spec("myst_nb") is not None}))
"""


def probe_kernel(python, workdir: Path, env_vars) -> dict:
    """What the notebooks' kernel really imports: this environment's packages, no MyST-NB."""
    path = workdir / "probe.ipynb"
    cell = {"cell_type": "code", "id": "probe", "metadata": {}, "execution_count": None,
            "outputs": [], "source": PROBE}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    subprocess.run([str(python), "-m", "papermill", "-k", KERNEL, str(path), str(path)],
                   env=env_vars, cwd=workdir, check=True, capture_output=True, timeout=600)
    output = json.loads(path.read_text())["cells"][0]["outputs"][0]["text"]
    return json.loads("".join(output))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=str(ROOT / "_build" / "colab-env"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("notebooks", nargs="*", help="default: every notebook")
    args = parser.parse_args()

    env = Path(args.env).resolve()
    python = make_env(env)
    spec, url = install_spec()
    local = spec.replace(f"git+{url}", f"git+file://{ROOT}")
    if local == spec:
        sys.exit(f"the install requirement {spec!r} does not install from git+{url}")
    before = versions(python)
    run([python, "-m", "pip", "uninstall", "-q", "-y", "aecore"])
    run([python, "-m", "pip", "install", "-q", local])
    after = versions(python)

    print("\nversions before and after installing aecore:")
    for package in WATCHED:
        print(f"  {package:<11} {before[package]:>10} -> {after[package]}")
    changed = [p for p in ("tensorflow", "numpy") if before[p] != after[p]]

    notebooks = [ROOT / "notebooks" / n for n in args.notebooks] or \
        sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    workdir = Path(tempfile.mkdtemp(prefix="colab-reader-"))  # outside the repository
    for nb in notebooks:
        shutil.copy(nb, workdir)
    env_vars = {**os.environ, "SMOKE_TEST": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                "JUPYTER_PATH": str(env / "share" / "jupyter"),
                # a reader's first run: no trained model cached from anywhere else
                "AECORE_CACHE_DIR": str(workdir / "models")}
    env_vars.pop("PYTHONPATH", None)  # nothing of this checkout may shadow the install
    seen = probe_kernel(python, workdir, env_vars)
    print(f"\nthe notebooks' kernel: {seen}")
    wrong = [what for what, ok in (
        ("its Python is not the Colab environment's", seen["python"].startswith(str(env))),
        ("aecore is not the installed copy", seen["aecore"].startswith(str(env))),
        ("MyST-NB is importable, as it is not on Colab", not seen["myst_nb"]),
        ("TensorFlow, Keras or NumPy differ from the pins",
         (seen["tensorflow"], seen["keras"], seen["numpy"])
         == (after["tensorflow"], after["keras"], after["numpy"]))) if not ok]
    if wrong:
        sys.exit("the test does not run what a Colab reader runs: " + "; ".join(wrong))
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda nb: run_notebook(python, workdir / nb.name, workdir,
                                                        env_vars), notebooks))
    print(f"\nnotebooks in smoke mode, run by papermill from {workdir}:")
    for name, seconds, tail in results:
        print(f"  {name:<40} {'ok' if not tail else 'FAILED':<7} {seconds:6.0f} s")
    failed = [(n, t) for n, _, t in results if t]
    for name, tail in failed:
        print(f"\n--- {name} ---\n{tail}")
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    if changed:
        print(f"installing aecore changed {', '.join(changed)}: on Colab that forces a restart")
    sys.exit(1 if failed or changed else 0)


if __name__ == "__main__":
    main()
