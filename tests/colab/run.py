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

A second run reuses the environment while colab-runtime.txt is unchanged: it puts the pins back
(in case an earlier install moved them), then installs aecore afresh. ``--env DIR`` keeps it
elsewhere (CI keeps it outside the clone, keyed by what it is built from: ``.ci/run``).

``--here`` skips step 1 and uses this Python as it is: inside Google Colab's own runtime image
(the weekly workflow ``.github/workflows/colab.yml``), with ``--ref`` to install aecore from
the repository on GitHub at that commit, exactly as the notebooks' first cell does.
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
        # reused: an earlier run's aecore install may have moved a pin; put the pins back,
        # so that "before" below is Colab's versions (nothing to do when they are in place)
        run([python, "-m", "pip", "install", "-q", "-r", runtime, "papermill"])
        return python
    shutil.rmtree(env, ignore_errors=True)
    run([sys.executable, "-m", "venv", env])
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    # papermill is the test's runner, not part of Colab: install it with Colab's pins held.
    run([python, "-m", "pip", "install", "-q", "-r", runtime, "papermill"])
    run([python, "-m", "ipykernel", "install", "--prefix", env, "--name", KERNEL])
    stamp.write_text(runtime.read_text())
    return python


def use_this_python(workdir: Path) -> tuple[Path, Path]:
    """--here: this Python's environment as it is (Colab's runtime image), plus papermill and
    a kernel spec for this Python in a folder of its own. Returns the Python and that folder."""
    python = Path(sys.executable)
    run([python, "-m", "pip", "install", "-q", "papermill"])  # the runner, not part of Colab
    prefix = workdir / "jupyter"
    run([python, "-m", "ipykernel", "install", "--prefix", prefix, "--name", KERNEL])
    return python, prefix


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
    outputs = json.loads(path.read_text())["cells"][0]["outputs"]
    # TensorFlow may log to stderr first (absl, whatever TF_CPP_MIN_LOG_LEVEL says)
    printed = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stdout")
    return json.loads(printed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=str(ROOT / "_build" / "colab-env"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--here", action="store_true",
                        help="no virtual environment: this Python as it is (inside Colab's "
                             "runtime image)")
    parser.add_argument("--ref", help="install aecore from the notebooks' REPO_URL at this "
                                      "commit (as on Colab) instead of this clone's HEAD")
    parser.add_argument("--setup-only", action="store_true",
                        help="prepare the environment and install aecore, run no notebook")
    parser.add_argument("notebooks", nargs="*", help="default: every notebook")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="colab-reader-"))  # outside the repository
    if args.here:
        python, env = use_this_python(workdir)
    else:
        env = Path(args.env).resolve()
        python = make_env(env)
    spec, url = install_spec()
    source = f"git+{url}@{args.ref}" if args.ref else f"git+file://{ROOT}"
    requirement = spec.replace(f"git+{url}", source)
    if requirement == spec:
        sys.exit(f"the install requirement {spec!r} does not install from git+{url}")
    before = versions(python)
    run([python, "-m", "pip", "uninstall", "-q", "-y", "aecore"])
    run([python, "-m", "pip", "install", "-q", requirement])
    after = versions(python)

    print("\nversions before and after installing aecore:")
    for package in WATCHED:
        print(f"  {package:<11} {before[package]:>10} -> {after[package]}")
    changed = [p for p in ("tensorflow", "numpy") if before[p] != after[p]]
    restart = f"installing aecore changed {', '.join(changed)}: on Colab that forces a restart"
    if args.setup_only:
        print(restart if changed else "environment ready")
        sys.exit(1 if changed else 0)

    notebooks = [ROOT / "notebooks" / n for n in args.notebooks] or \
        sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
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
        ("its Python is not the Colab environment's",
         seen["python"] == str(python) if args.here else seen["python"].startswith(str(env))),
        ("aecore is not the installed copy",
         not seen["aecore"].startswith(str(ROOT)) if args.here
         else seen["aecore"].startswith(str(env))),
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
        print(restart)
    sys.exit(1 if failed or changed else 0)


if __name__ == "__main__":
    main()
