"""What a chapter of the book needs besides models: starting it, wording its verdicts,
tabulating its results, and gluing its numbers into the prose.

- `start(seed)`: one call at the top of a chapter: seeds Python, NumPy and the backend,
  quiets TensorFlow's Python logging, starts the chapter's clock and tells whether this is
  a smoke run (``SMOKE_TEST`` set). `Chapter.finish` prints and glues the chapter's time.
- `compare(ours, theirs, ...)`: a `Comparison` of two results, one number per seed each,
  whose sentence ("the autoencoder's test error is 18% lower than PCA's", "... 1.8 dB
  higher ...", or a tie) the prose quotes instead of a typed verdict.
- `mean_sd(values)`: "0.0086 ± 0.0001", the book's way of writing a result over seeds.
- `report_table(reports)`: detection reports (`aecore.anomaly.detection_report`), one per
  run, as a table of mean ± sd.
- `glue(**values)`: MyST-NB's glue when the book is built, nothing elsewhere (Colab, a plain
  Jupyter), so the chapters run everywhere; they print every number they quote.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aecore import train

try:  # present in a book build (myst-nb); absent on Colab and in a plain Jupyter
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - depends on the environment
    _myst_glue = None


# -- starting and finishing a chapter ---------------------------------------------------------
class Chapter:
    """A running chapter: ``smoke`` (bool), ``seed``, and `finish` for its wall time."""

    def __init__(self, seed=None):
        self.seed = seed
        self.smoke = train.smoke_mode()
        self.start = time.perf_counter()
        self.seconds = None

    def finish(self) -> float:
        """Print the chapter's wall time and glue it as ``chapter_seconds`` (the results
        page lists every chapter's time)."""
        self.seconds = time.perf_counter() - self.start
        glue(chapter_seconds=self.seconds)
        print(f"whole chapter: {self.seconds:.0f} s")
        return self.seconds


def start(seed=None) -> Chapter:
    """Start a chapter: seed everything (`aecore.train.set_seed`) when `seed` is given,
    hush TensorFlow's Python-side notices (retracing warnings between models), start the
    clock. The returned `Chapter`'s ``smoke`` is True in a smoke run (``SMOKE_TEST`` set),
    when a chapter shrinks its work only to prove that it runs."""
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if seed is not None:
        train.set_seed(seed)
    return Chapter(seed)


# -- verdicts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Two results compared with the spread over seeds taken into account.

    ``str(comparison)`` is the sentence to quote. ``tie`` is True when the means differ by
    no more than the spread (the larger standard deviation over seeds of the two sides),
    None when neither side has several runs (one run each ranks nothing); ``winner`` is
    the name of the better side, or None for a tie or single runs.
    """

    names: tuple
    measure: str
    ours: float
    theirs: float
    spread: float
    runs: tuple
    better: str
    unit: str | None
    fmt: str

    @property
    def difference(self) -> float:
        """``ours - theirs``, the difference of the means."""
        return self.ours - self.theirs

    @property
    def tie(self):
        if max(self.runs) < 2:
            return None
        return abs(self.difference) <= self.spread

    @property
    def winner(self):
        if self.tie is None or self.tie or self.difference == 0:
            return None
        ours_better = (self.difference < 0) == (self.better == "lower")
        return self.names[0] if ours_better else self.names[1]

    def __str__(self) -> str:
        if self.tie:
            return (f"{self.names[0]} and {self.names[1]} tie on {self.measure}: their means "
                    "differ by less than the spread over seeds")
        # "PCA's", "the raw pixels'": a plural's possessive takes the apostrophe alone
        first, second = (name + ("'" if name.endswith("s") else "'s") for name in self.names)
        word = "lower" if self.difference < 0 else "higher"
        if self.unit is None:
            change = self.ours / self.theirs - 1
            if abs(change) < 0.005:
                text = f"{first} {self.measure} is within 0.5% of {second}"
            else:
                text = f"{first} {self.measure} is {abs(change):.0%} {word} than {second}"
        else:
            gap = f"{abs(self.difference):{self.fmt}}" + (f" {self.unit}" if self.unit else "")
            text = f"{first} {self.measure} is {gap} {word} than {second}"
        if self.tie is None:
            text += " (one run each, which ranks nothing)"
        return text

    def __format__(self, spec) -> str:
        return format(str(self), spec)


def compare(ours, theirs, *, names=("the autoencoder", "PCA"), measure="test error",
            better="lower", unit=None, fmt=".2f") -> Comparison:
    """Compare two results; ``str()`` of the result is the sentence to quote.

    Args:
        ours, theirs: a number each, or one number per seed. The means are compared; a
            gap no larger than the spread (the larger standard deviation over seeds of the
            two sides) is a tie. A deterministic baseline may be a single number; when
            neither side has several runs, nothing is ranked.
        names: how to call the two methods in the sentence.
        measure: what the numbers are ("test error", "AUROC", "PSNR", ...).
        better: ``"lower"`` (errors) or ``"higher"`` (AUROC, accuracy, PSNR): who `winner`
            names.
        unit: None states the gap relative to `theirs` ("18% lower"); a string states it
            as a difference in that unit ("1.80 dB higher", with ``unit="dB"``; ``""`` for
            a plain number such as an AUROC gap), formatted with `fmt`.

    Returns:
        A `Comparison`, e.g. "the autoencoder's test error is 18% lower than PCA's".
    """
    a, b = np.atleast_1d(np.asarray(ours, float)), np.atleast_1d(np.asarray(theirs, float))
    if a.size == 0 or b.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"ours and theirs must be finite numbers, got {ours!r} and {theirs!r}.")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got better={better!r}.")
    if unit is None and b.mean() == 0:
        raise ValueError("theirs must not be zero for a relative comparison: pass unit= "
                         "to compare differences.")
    spread = max(a.std(ddof=1) if a.size > 1 else 0.0, b.std(ddof=1) if b.size > 1 else 0.0)
    return Comparison(tuple(names), measure, float(a.mean()), float(b.mean()), float(spread),
                      (a.size, b.size), better, unit, fmt)


# -- formatting results over seeds -------------------------------------------------------------
def mean_sd(values, fmt=".4f") -> str:
    """``"mean ± sd"`` of one number per seed (sample standard deviation), or the number
    alone for a single run."""
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.size == 0:
        raise ValueError("values is empty: pass one number per run.")
    if values.size == 1:
        return f"{values[0]:{fmt}}"
    return f"{values.mean():{fmt}} ± {values.std(ddof=1):{fmt}}"


SHORT_NAMES = {"auroc": "AUROC", "average_precision": "AP", "precision": "precision",
               "recall": "recall", "f1": "F1", "false_positive_rate": "FPR",
               "threshold": "threshold", "top_score_hit": "top score on anomaly"}


def _short(column):
    if column.endswith("_pa"):
        return f"{_short(column[:-3])}, PA"
    return SHORT_NAMES.get(column, column)


def report_table(reports, columns=("auroc", "average_precision", "precision", "recall",
                                   "false_positive_rate"), *, fmt=".4f",
                 index_names=None) -> pd.DataFrame:
    """Detection reports as a narrow table, one row per method.

    Args:
        reports: ``{method: report}`` or ``{method: [report per seed]}``, each report a dict
            such as `aecore.anomaly.detection_report` returns; a method may be a tuple
            (e.g. ``(model, score)``), which gives a two-level index named `index_names`.
        columns: the report keys to show, in order, under short names ("AUROC", "AP",
            "FPR", ", PA" for point-adjusted keys).

    Returns:
        A `pandas.DataFrame` of strings: the value, or "mean ± sd" over several runs.
    """
    rows = {}
    for method, runs in reports.items():
        runs = [runs] if isinstance(runs, dict) else list(runs)
        missing = [c for c in columns if any(c not in r for r in runs)]
        if not runs or missing:
            raise ValueError(f"the reports of {method!r} lack {missing or 'every key'}.")
        rows[method] = {_short(c): mean_sd([r[c] for r in runs], fmt) for c in columns}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if index_names is not None:
        table.index.names = list(index_names)
    return table


# -- glue ----------------------------------------------------------------------------------------
def _plain(value):
    """Plain Python values: ``{glue:text}`` cannot format ``np.float64``, and a
    `Comparison` is glued as its sentence."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Comparison):
        return str(value)
    return value


def glue(**values) -> None:
    """Glue each ``name=value`` for the book's prose (``{glue:text}`name:.4f```).

    Outside a book build (no myst-nb) this does nothing: the notebook still runs.
    """
    if _myst_glue is None:
        return
    for name, value in values.items():
        _myst_glue(name, _plain(value), display=False)
