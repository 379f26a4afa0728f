"""aecore as an installed package: what the wheel holds and what it declares.

That every chapter runs with the package installed as a reader installs it (non-editable,
with its dependencies, in Colab's runtime) is checked by `make colab-test`
(tests/colab/run.py), which CI runs after `make test`.
"""

import ast
import importlib.metadata
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# imported only where present: MyST-NB in a book build (try/except), JAX by the exercises'
# gradient check when Keras runs on JAX, stumpy by baselines.matrix_profile (the notebooks
# extra declares it; elsewhere the function says how to install it)
OPTIONAL = {"myst_nb", "jax", "stumpy"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    (wheel,) = out.glob("aecore-*.whl")
    return wheel


def test_wheel_holds_the_package_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "aecore/models/autoencoder.py" in names and "aecore/data.py" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "book/"))]


def test_version_comes_from_the_package(wheel):
    import aecore

    assert wheel.name.startswith(f"aecore-{aecore.__version__}-")


def imported_top_level_modules():
    modules = set()
    for path in (ROOT / "aecore").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names)
    return {m for m in modules if m not in stdlib and m not in ("aecore", "__future__")}


def test_every_imported_package_is_declared(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(meta).decode())
    core = {re.split(r"[ ;<>=!\[~]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in metadata.get_all("Requires-Dist") if "extra ==" not in r}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module in imported_top_level_modules() - OPTIONAL:
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & core:
            missing[module] = sorted(names)
    assert missing == {}, f"aecore imports these without declaring them: {missing}"
