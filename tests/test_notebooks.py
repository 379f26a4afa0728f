"""The conventions every notebook follows (CONTRIBUTING.md)."""

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(path, kind=None):
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if kind is None or c["cell_type"] == kind]


def source(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    for cell in cells(path, "code"):
        assert cell["outputs"] == [] and cell["execution_count"] is None, \
            f"{path.name} has outputs: clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_nbformat_with_unique_cell_ids(path):
    nbformat.validate(nbformat.read(path, as_version=4))  # raises on an invalid notebook
    ids = [cell.get("id") for cell in cells(path)]  # the raw file: nbformat.read fills ids in
    assert None not in ids, f"{path.name}: cells without an id (nbformat 4.5 wants one each)"
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate cell ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_numbered_name(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_aecore_and_has_one_parameters_cell(path):
    code = cells(path, "code")
    assert any(re.search(r"^\s*(import aecore|from aecore)", source(c), re.M) for c in code)
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_setup_uses_the_repository_url(path):
    repo_url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first_code = source(cells(path, "code")[0])
    assert '"google.colab" in sys.modules' in first_code
    assert f'REPO_URL = "{repo_url}"' in first_code
    # what Colab installs: the package with the notebooks' extras, from the repository
    assert 'PACKAGE = f"aecore[notebooks] @ git+{REPO_URL}"' in first_code
    badge = source(cells(path, "markdown")[0])
    slug = repo_url.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}" in badge


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_in_the_table_of_contents(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"notebooks/{path.stem}" in toc


# Calls that train or choose something: their arguments must not mention test data.
FITTING_CALLS = {"fit", "fit_transform", "fit_predict", "pretrain_layerwise",
                 "cached_fit", "threshold_from_normal", "choose_c", "GridSearchCV"}


def _call_name(node):
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_data_in_training_or_selection(path):
    """The evaluation protocol, mechanically: the test set is touched once, for the reported
    number; it is never passed to a fit (nor as its validation_data) or a threshold choice."""
    offenders = []
    for cell in cells(path, "code"):
        code = "\n".join(line for line in source(cell).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call) and _call_name(node) in FITTING_CALLS:
                args = [*node.args, *(k.value for k in node.keywords)]
                names = {n.id for a in args for n in ast.walk(a) if isinstance(n, ast.Name)}
                names |= {n.attr for a in args for n in ast.walk(a)
                          if isinstance(n, ast.Attribute)}
                if any("test" in name for name in names):
                    offenders.append(ast.unparse(node)[:120])
    assert offenders == [], f"{path.name} trains or chooses with test data: {offenders}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_page(path):
    """The page as read (CONTRIBUTING.md): code lines fit the book's column at 1280 px, and
    the cells a reader sees stay short; hidden bookkeeping cells may be longer."""
    for index, cell in enumerate(cells(path, "code")):
        lines = source(cell).splitlines()
        long = [line for line in lines if len(line) > 80]
        assert long == [], f"{path.name}, code cell {index}: lines over 80 characters: {long}"
        if "remove-cell" not in cell.get("metadata", {}).get("tags", []):
            assert len(lines) <= 30, \
                f"{path.name}, code cell {index}: {len(lines)} lines, more than 30"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_myst_nb_import(path):
    """Colab and `pip install aecore` have no MyST-NB: glue comes from aecore.book."""
    for cell in cells(path, "code"):
        assert "myst_nb" not in source(cell), f"{path.name} imports myst_nb"
