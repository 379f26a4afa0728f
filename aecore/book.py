"""Bookkeeping for the book's chapters, kept out of their teaching cells.

The book quotes a notebook's numbers in its prose through MyST-NB's ``glue``. These helpers
let a chapter do that in one line, and still run where MyST-NB is not installed (Colab, a
plain Jupyter): there `glue` only returns, since prose roles such as ``{glue:text}`` are not
rendered outside the book anyway; the chapters print every number they quote.

- `glue(**values)`: glue several values at once, as plain Python numbers and strings;
- `compare(ours, theirs, ...)`: the sentence "X's test error is 18% lower than Y's", or a
  tie when the two differ by less than their spread over seeds;
- `ChapterTimer`: the chapter's wall time, glued as ``chapter_seconds``.
"""

from __future__ import annotations

import time

import numpy as np

try:  # present in a book build (myst-nb); absent on Colab and in a plain Jupyter
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - depends on the environment
    _myst_glue = None


def _plain(value):
    """NumPy scalars as Python numbers: ``{glue:text}`` cannot format ``np.float64``."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(**values) -> None:
    """Glue each ``name=value`` for the book's prose (``{glue:text}`name:.4f```).

    Outside a book build (no myst-nb) this does nothing: the notebook still runs.
    """
    if _myst_glue is None:
        return
    for name, value in values.items():
        _myst_glue(name, _plain(value), display=False)


def compare(ours, theirs, *, names=("the autoencoder", "PCA"), measure="test error") -> str:
    """A sentence comparing two results, for the book to glue instead of typing a verdict.

    Args:
        ours, theirs: a number each, or one number per seed (then the means are compared,
            and a gap within the larger standard deviation over seeds is called a tie; a
            deterministic baseline may be a single number).
        names: how to call the two methods in the sentence.
        measure: what the numbers are ("test error", "AUROC", ...).

    Returns:
        e.g. "the autoencoder's test error is 18% lower than PCA's".
    """
    a, b = np.atleast_1d(np.asarray(ours, float)), np.atleast_1d(np.asarray(theirs, float))
    if a.size == 0 or b.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"ours and theirs must be finite numbers, got {ours!r} and {theirs!r}.")
    ma, mb = a.mean(), b.mean()
    if mb == 0:
        raise ValueError("theirs must not be zero: the comparison is relative to it.")
    spread = max(a.std(ddof=1) if a.size > 1 else 0.0, b.std(ddof=1) if b.size > 1 else 0.0)
    first, second = names
    if spread > 0 and abs(ma - mb) <= spread:
        return (f"{first} and {second} tie: their mean {measure}s differ by less than the "
                f"spread over seeds")
    change = ma / mb - 1
    if abs(change) < 0.005:
        return f"{first}'s {measure} is within 0.5% of {second}'s"
    word = "lower" if change < 0 else "higher"
    return f"{first}'s {measure} is {abs(change):.0%} {word} than {second}'s"


class ChapterTimer:
    """Wall time of a whole chapter: create it in the first cell, call `finish` in the last.

    `finish` prints the time, keeps it in ``seconds`` and glues it as ``chapter_seconds``
    (the results page lists every chapter's time).
    """

    def __init__(self):
        self.start = time.perf_counter()
        self.seconds = None

    def finish(self) -> None:
        self.seconds = time.perf_counter() - self.start
        glue(chapter_seconds=self.seconds)
        print(f"whole chapter: {self.seconds:.0f} s")

