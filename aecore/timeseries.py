"""Anomalies in a time series: a labelled series, sliding windows and point-wise scores.

A window model (an autoencoder, PCA, an isolation forest) sees a series as overlapping
windows; labels and the measures are per time point. This module goes between the two:

- `load_series`: a real labelled series with a known-normal beginning (bundled with the
  `aeon` package, read from its files: nothing is downloaded), or a file of the UCR archive;
- `sliding_windows` and `overlap_average`: series -> windows -> series (an exact round trip);
- `window_scores_to_points`: one score per window -> one score per time point;
- `anomaly_segments`, `point_adjust`: the "point-adjusted" evaluation;
- `detection_report`: AUROC and AP with and without point adjustment, and precision, recall
  and F1 at a threshold, anomalies as the positive class;
- `top_score_hit`: does the highest score land on the anomaly (the UCR archive's question)?
- `moving_average_residual`, `seasonal_residual`, `estimate_period`: forecasting baselines.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore import _checks, anomaly

# The labelled series that `aeon` ships inside its wheel (aeon.datasets.load_kdd_tsad_135
# reads the same files): one series of the KDD Cup 2021 / UCR anomaly archive.
BUNDLED = {
    "kdd_tsad_135": {
        "package": "aeon",
        "folder": ("datasets", "data", "KDD-TSAD_135"),
        "train": "135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
        "test": "135_UCR_Anomaly_InternalBleeding16_TEST.csv",
        "description": "UCR anomaly archive 135, InternalBleeding16: a physiological "
                       "recording with one labelled anomaly",
    },
}
_UCR_NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class LabelledSeries:
    """A univariate series with point labels.

    `values` and `labels` have shape ``(n,)``; ``labels == 1`` marks anomalous points. The
    first `train_end` points are known to be normal (the part to fit and validate on).
    """

    name: str
    values: np.ndarray
    labels: np.ndarray
    train_end: int
    description: str = ""

    def segments(self) -> list[tuple[int, int]]:
        """The labelled anomalies as ``(start, stop)`` index ranges (stop excluded)."""
        return anomaly_segments(self.labels)


def _bundled_folder(spec):
    package = spec["package"]
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ImportError(
            f"this series is bundled with the '{package}' package, which is not installed: "
            f"pip install {package}  (or pip install 'aecore[notebooks]')") from None
    folder = root.joinpath(*spec["folder"])
    if not folder.joinpath(spec["test"]).is_file():
        raise ValueError(f"the installed '{package}' has no {'/'.join(spec['folder'])} "
                         f"folder: install a version that bundles it (pip install -U "
                         f"{package}).")
    return folder


def _read_timeeval_csv(path):
    """TimeEval's CSV (timestamp, value, is_anomaly): values and labels as arrays."""
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    return table[:, 1], table[:, -1].astype(np.int64)


def load_series(name="kdd_tsad_135") -> LabelledSeries:
    """A labelled univariate series, from files already on this machine.

    Args:
        name: ``"kdd_tsad_135"``, a series that the `aeon` package bundles (read from its
            files, without importing aeon's loaders: nothing is downloaded), or the path
            of a file of the UCR anomaly archive (Wu & Keogh), named
            ``NNN_UCR_Anomaly_NAME_TRAINEND_BEGIN_END.txt`` with one value per line: the
            points before TRAINEND are normal, those from BEGIN up to END (excluded) are
            the anomaly, as TimeEval's copy of the archive (the files aeon ships) and
            other loaders label them.

    Returns:
        A `LabelledSeries`.
    """
    if not isinstance(name, (str, Path)):
        raise ValueError(f"name must be a string or a path, got name={name!r}.")
    if str(name) in BUNDLED:
        spec = BUNDLED[str(name)]
        folder = _bundled_folder(spec)
        values, labels = _read_timeeval_csv(folder.joinpath(spec["test"]))
        train_values, train_labels = _read_timeeval_csv(folder.joinpath(spec["train"]))
        train_end = len(train_values)
        if train_labels.any() or not np.array_equal(train_values, values[:train_end]):
            raise ValueError(f"{name}: the training file is not the normal beginning of "
                             f"the series.")
        return LabelledSeries(str(name), values, labels, train_end, spec["description"])
    path = Path(name)
    match = _UCR_NAME.match(path.name)
    if match is None:
        raise ValueError(f"name must be one of {sorted(BUNDLED)} or the path of a UCR "
                         f"anomaly archive file named NNN_UCR_Anomaly_NAME_TRAINEND_"
                         f"BEGIN_END.txt, got name={str(name)!r}.")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    values = np.loadtxt(path, dtype=np.float64).ravel()
    train_end, begin, end = (int(g) for g in match.groups()[2:])
    if not 0 < train_end <= begin < end <= len(values):
        raise ValueError(f"{path.name}: the indices in the name (train end {train_end}, "
                         f"anomaly {begin}-{end}) do not fit a series of {len(values)} "
                         f"points.")
    labels = np.zeros(len(values), dtype=np.int64)
    labels[begin:end] = 1
    return LabelledSeries(path.stem, values, labels, train_end,
                          f"UCR anomaly archive {match.group(1)}, {match.group(2)}")


# -- windows ----------------------------------------------------------------------------------
def _series(name, x):
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) or x.ndim not in (1, 2):
        raise ValueError(f"{name} must be a numeric series of shape (n,) or (n, channels), "
                         f"got shape {x.shape} and dtype {x.dtype}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return x


def window_starts(length, window, stride=1) -> np.ndarray:
    """Start indices of the windows that `sliding_windows` cuts from `length` points.

    Every `stride` points from 0, plus a last window ending at the series' end when the
    stride does not land there, so that every point is covered.
    """
    length = _checks.positive_int("length", length)
    window = _checks.positive_int("window", window)
    stride = _checks.positive_int("stride", stride)
    if window > length:
        raise ValueError(f"window must be at most the series length {length}, got "
                         f"window={window}.")
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def sliding_windows(x, window, stride=1) -> np.ndarray:
    """Overlapping windows of a series.

    Shapes: ``(n,) -> (n_windows, window)`` and ``(n, c) -> (n_windows, window, c)``, with
    the windows starting at `window_starts` ``(n, window, stride)``.
    """
    x = _series("x", x)
    starts = window_starts(len(x), window, stride)
    index = starts[:, None] + np.arange(window)[None, :]
    return x[index]


def overlap_average(windows, length, stride=1) -> np.ndarray:
    """The inverse of `sliding_windows`: each point is the mean of its values in the windows
    that cover it. ``overlap_average(sliding_windows(x, w, s), len(x), s)`` is ``x``.

    Use it on reconstructions (one reconstructed series) or on squared errors per step (one
    error per point). Shapes: ``(n_windows, window[, c]) -> (length[, c])``.
    """
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim not in (2, 3):
        raise ValueError(f"windows must have shape (n_windows, window) or (n_windows, "
                         f"window, channels), got {windows.shape}.")
    starts = window_starts(length, windows.shape[1], stride)
    if len(starts) != len(windows):
        raise ValueError(f"{len(windows)} windows of {windows.shape[1]} points with "
                         f"stride {stride} cannot come from {length} points (expected "
                         f"{len(starts)} windows).")
    total = np.zeros((length, *windows.shape[2:]))
    count = np.zeros(length)
    for offset in range(windows.shape[1]):  # window-length loop, vectorised over windows
        np.add.at(total, starts + offset, windows[:, offset])
        np.add.at(count, starts + offset, 1)
    return total / count.reshape(-1, *([1] * (windows.ndim - 2)))


def window_scores_to_points(scores, length, window, stride=1) -> np.ndarray:
    """One score per window -> one score per point: the mean score of the windows that
    contain the point. Shapes: ``(n_windows,) -> (length,)``."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one number per window, got shape {scores.shape}.")
    window = _checks.positive_int("window", window)
    return overlap_average(np.repeat(scores[:, None], window, axis=1), length, stride)


# -- labels and point adjustment --------------------------------------------------------------
def _labels(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be a 1-D array of 0 (normal) and 1 (anomaly).")
    return labels.astype(np.int64)


def anomaly_segments(labels) -> list[tuple[int, int]]:
    """Runs of consecutive anomalous points, as ``(start, stop)`` with stop excluded."""
    labels = _labels(labels)
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(),
                    np.flatnonzero(edges == -1).tolist()))


def point_adjust(scores, labels) -> np.ndarray:
    """Point-adjusted scores: every point of a labelled anomaly gets the segment's highest
    score, so any threshold that flags one point of a segment flags all of it. Normal
    points keep their scores. AUROC and AP of the adjusted scores are the point-adjusted
    ones (Xu et al. 2018); they only ask that *some* point of each anomaly scores high."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = _labels(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same shape, got {scores.shape} "
                         f"and {labels.shape}.")
    adjusted = scores.copy()
    for start, stop in anomaly_segments(labels):
        adjusted[start:stop] = scores[start:stop].max()
    return adjusted


def detection_report(labels, scores, threshold) -> dict:
    """`aecore.anomaly.detection_report` (AUROC, average precision, and precision, recall and
    false-positive rate of ``score > threshold``) plus F1, then all of it again on the
    point-adjusted scores (keys ending in ``_pa``): a threshold flags a whole anomaly there
    as soon as it flags one of its points."""
    labels = _labels(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape or not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite and shaped like labels {labels.shape}, got "
                         f"{scores.shape}.")
    if labels.min() == labels.max():
        raise ValueError("labels must contain both normal (0) and anomalous (1) points.")
    report = {}
    for suffix, s in (("", scores), ("_pa", point_adjust(scores, labels))):
        r = anomaly.detection_report(labels, s, threshold)
        p, q = r["precision"], r["recall"]
        r["f1"] = 2 * p * q / (p + q) if p + q else 0.0
        report |= {key + suffix: value for key, value in r.items()}
    return report


# -- forecasting baselines --------------------------------------------------------------------
def moving_average_residual(x, window) -> np.ndarray:
    """Absolute error of forecasting each point by the mean of the `window` points before
    it. The first `window` points, which have no full history, get NaN."""
    x = _series("x", x).astype(np.float64)
    window = _checks.positive_int("window", window)
    if x.ndim != 1 or window >= len(x):
        raise ValueError(f"x must be 1-D and longer than window={window}, got {x.shape}.")
    cumsum = np.concatenate([[0.0], np.cumsum(x)])
    forecast = (cumsum[window:-1] - cumsum[:-window - 1]) / window   # mean of x[t-w:t]
    return np.concatenate([np.full(window, np.nan), np.abs(x[window:] - forecast)])


def seasonal_residual(x, period, n_periods=1) -> np.ndarray:
    """Absolute error of forecasting each point by the mean of the points 1, 2, ...,
    `n_periods` periods before it (``n_periods=1``: the seasonal naive forecast). The
    first ``period * n_periods`` points get NaN."""
    x = _series("x", x).astype(np.float64)
    period = _checks.positive_int("period", period)
    n_periods = _checks.positive_int("n_periods", n_periods)
    lag = period * n_periods
    if x.ndim != 1 or lag >= len(x):
        raise ValueError(f"x must be 1-D and longer than period * n_periods = {lag}, got "
                         f"{x.shape}.")
    forecast = np.mean([x[lag - k * period:len(x) - k * period]
                        for k in range(1, n_periods + 1)], axis=0)
    return np.concatenate([np.full(lag, np.nan), np.abs(x[lag:] - forecast)])


def estimate_period(x, max_period=None) -> int:
    """The length of one cycle of a periodic series, from its autocorrelation.

    The autocorrelation of a smooth series is high at small lags whatever its period, so
    the period is taken as the lag of the highest autocorrelation *after it first turns
    negative* (half a cycle), up to `max_period` (default: half the series).
    """
    x = _series("x", x).astype(np.float64)
    if x.ndim != 1 or len(x) < 4:
        raise ValueError(f"x must be 1-D with at least 4 points, got shape {x.shape}.")
    max_period = len(x) // 2 if max_period is None else max_period
    max_period = _checks.positive_int("max_period", max_period)
    if max_period >= len(x):
        raise ValueError(f"max_period must be less than len(x) = {len(x)}, got "
                         f"max_period={max_period}.")
    centred = x - x.mean()
    lags = np.arange(1, max_period + 1)
    acf = np.array([np.dot(centred[:-lag], centred[lag:]) for lag in lags])
    negative = np.flatnonzero(acf < 0)
    if len(negative) == 0:
        raise ValueError(f"the autocorrelation of x never turns negative up to lag "
                         f"{max_period}: no period found.")
    first = negative[0]
    return int(lags[first + int(np.argmax(acf[first:]))])


def top_score_hit(scores, labels, tolerance=0) -> bool:
    """Whether the highest score falls on a labelled anomaly, or within `tolerance` points
    of one: the question of the UCR anomaly archive, whose series hold one anomaly each."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = _labels(labels)
    tolerance = int(_checks.non_negative("tolerance", tolerance))
    if scores.shape != labels.shape or not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite and shaped like labels {labels.shape}, got "
                         f"{scores.shape}.")
    top = int(np.argmax(scores))
    return any(start - tolerance <= top < stop + tolerance
               for start, stop in anomaly_segments(labels))


# -- figures ----------------------------------------------------------------------------------
def plot_scores(values, scores, labels, *, start=0, threshold=None, boundaries=None,
                title=None):
    """The series on top and one panel per score below, anomalies shaded.

    Args:
        values: the series, shape ``(n,)``.
        scores: ``{name: (n,) scores}``; each panel is scaled to its own range.
        labels: ``(n,)`` 0/1 labels. start: the index of the first point (for the x axis).
        threshold: optional ``{name: threshold}``, drawn as dashed lines.
        boundaries: optional ``{label: index}``, drawn as dotted vertical lines (where the
            fit, validation and test parts begin, say).
    """
    from aecore.viz import Figure

    values, labels = np.asarray(values, dtype=np.float64), _labels(labels)
    if values.shape != labels.shape:
        raise ValueError(f"values and labels must have the same shape, got {values.shape} "
                         f"and {labels.shape}.")
    fig = Figure(figsize=(9, 1.8 + 1.0 * len(scores)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1 + len(scores), 1, sharex=True))
    t = start + np.arange(len(values))
    panels = [("series", values), *scores.items()]
    for ax, (name, y) in zip(axes, panels):
        y = np.asarray(y, dtype=np.float64)
        if y.shape != values.shape:
            raise ValueError(f"scores[{name!r}] must have shape {values.shape}, got "
                             f"{y.shape}.")
        ax.plot(t, y, lw=0.8, color="black" if name == "series" else "C0")
        for a, b in anomaly_segments(labels):
            ax.axvspan(start + a, start + b, color="C3", alpha=0.3, lw=0)
        if threshold and name in threshold:
            ax.axhline(threshold[name], color="C1", ls="--", lw=0.8)
        for i, (label, index) in enumerate((boundaries or {}).items()):
            ax.axvline(index, color="grey", ls=":", lw=1)
            if name == "series":  # staggered, so that close boundaries stay readable
                ax.annotate(f" {label}", (index, 1 - 0.12 * (i % 3)), va="top",
                            xycoords=("data", "axes fraction"), fontsize=8,
                            color="dimgrey")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1].set_xlabel("time step")
    if title:
        axes[0].set_title(title)
    return fig
