"""Time series as windows: what lets an image-style model (an autoencoder, PCA) score a
series point by point.

A window model sees a series as overlapping windows; labels and measures are per time
point. `sliding_windows` cuts the windows, `overlap_average` puts windows (reconstructions,
errors) back together into one value per point, exactly inverting the cut, and
`window_scores_to_points` spreads one score per window over its points.

A labelled series comes from `aecore.data.load_series`; the point-adjusted measures are in
`aecore.anomaly`, the forecasting and matrix-profile baselines in `aecore.baselines`, the
figure in `aecore.viz.score_panels`.
"""

from __future__ import annotations

import numpy as np

from aecore import _checks


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
    x = _checks.series("x", x)
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
