"""conftest.py's --nb-cache: nbval's runs of the notebooks seed the smoke book's jupyter-cache,
so that `make test` executes every notebook once. Checked on a tiny notebook, run by a pytest
of its own, then looked up in the cache the way Jupyter Book's `execute_notebooks: cache` does
(matched by its code cells, outputs merged in)."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytest.importorskip("nbval")
jupyter_cache = pytest.importorskip("jupyter_cache")

ROOT = Path(__file__).resolve().parents[1]


def run_nbval(path, cache):
    """pytest --nbval-lax on one notebook outside the repository, with the repository's
    conftest.py loaded as a plugin."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "--nbval-lax", "--nbval-current-env",
         "-p", "conftest", "--nb-cache", str(cache), "-p", "no:cacheprovider", "-q",
         "--rootdir", str(path.parent)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def notebook(path, *sources):
    nb = new_notebook(cells=[new_markdown_cell("# A page")]
                      + [new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def test_a_notebook_that_passes_is_cached_with_its_outputs(tmp_path):
    nb = notebook(tmp_path / "tiny.ipynb",
                  "x = 6 * 7\nprint(x)",
                  "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))\nx")
    run = run_nbval(tmp_path / "tiny.ipynb", tmp_path / "cache")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    cache = jupyter_cache.get_cache(str(tmp_path / "cache"))
    _, merged = cache.merge_match_into_notebook(nb)  # KeyError if not cached
    first, second = [cell for cell in merged.cells if cell.cell_type == "code"]
    assert (first.execution_count, second.execution_count) == (1, 2)
    assert [(o.output_type, o.get("text")) for o in first.outputs] == [("stream", "42\n")]
    kinds = [o.output_type for o in second.outputs]
    assert kinds == ["display_data", "execute_result"]
    assert second.outputs[0].data["text/html"] == "<b>bold</b>"
    assert second.outputs[1].data["text/plain"] == "42"
    assert second.outputs[1].execution_count == 2


def test_a_notebook_with_a_failing_cell_is_not_cached(tmp_path):
    nb = notebook(tmp_path / "failing.ipynb", "x = 1", "1 / 0", "x")
    run = run_nbval(tmp_path / "failing.ipynb", tmp_path / "cache")
    assert run.returncode != 0 and "ZeroDivisionError" in run.stdout
    with pytest.raises(KeyError):
        jupyter_cache.get_cache(str(tmp_path / "cache")).match_cache_notebook(nb)
