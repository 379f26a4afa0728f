"""Anomaly detection, measured without peeking at the test set.

Images, one class normal (`one_class_split`): a detector is fitted on normal training images
only; a held-out part of those normal images sets the threshold (`threshold_from_normal`);
the test set (every class) measures it (`detection_report`), with the anomalies as the
positive class. `blurred_error` is the score of the book's detector.

Time series: labels are per point and anomalies come in segments (`anomaly_segments`); the
"point-adjusted" evaluation (`point_adjust`, ``detection_report(..., point_adjusted=True)``)
and the UCR archive's question, `top_score_hit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.metrics import (average_precision_score, f1_score, precision_score,
                             recall_score, roc_auc_score)

from aecore import _checks
from aecore.metrics import mse_per_sample


@dataclass(frozen=True)
class OneClassSplit:
    """`x_fit`: normal training images to fit on; `x_val`: held-out normal images to set the
    threshold; `x_test`, `y_test`: all test images, ``y_test == 1`` for anomalies."""

    normal_class: int
    x_fit: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def one_class_split(dataset, normal_class, *, val_fraction=0.1, seed=0) -> OneClassSplit:
    """Split a `Dataset` for the one-class protocol around `normal_class`."""
    n_classes = len(dataset.class_names)
    if (isinstance(normal_class, bool) or not isinstance(normal_class, (int, np.integer))
            or not 0 <= normal_class < n_classes):
        raise ValueError(f"normal_class must be an integer in [0, {n_classes - 1}], "
                         f"got normal_class={normal_class!r}.")
    val_fraction = _checks.probability("val_fraction", val_fraction, closed_low=False)
    normal = dataset.x_train[dataset.y_train == normal_class]
    order = np.random.default_rng(seed).permutation(len(normal))
    n_val = max(1, int(round(val_fraction * len(normal))))
    if n_val >= len(normal):
        raise ValueError(f"only {len(normal)} normal training images: too few to hold out "
                         f"val_fraction={val_fraction}.")
    return OneClassSplit(
        normal_class=int(normal_class),
        x_fit=normal[order[n_val:]],
        x_val=normal[order[:n_val]],
        x_test=dataset.x_test,
        y_test=(dataset.y_test != normal_class).astype(np.int64),
    )


def threshold_from_normal(val_scores, quantile=0.95) -> float:
    """The score below which a fraction `quantile` of held-out *normal* samples fall.

    Flagging scores above it gives a false-positive rate of about ``1 - quantile`` on normal
    data, decided before the test set is seen.
    """
    quantile = _checks.probability("quantile", quantile, closed_low=False)
    val_scores = np.asarray(val_scores, dtype=np.float64)
    if val_scores.ndim != 1 or len(val_scores) == 0 or not np.all(np.isfinite(val_scores)):
        raise ValueError("val_scores must be a non-empty 1-D array of finite scores.")
    return float(np.quantile(val_scores, quantile))


def detection_report(y_true, scores, threshold, *, point_adjusted=False) -> dict:
    """AUROC and average precision of `scores` (higher = more anomalous), and precision,
    recall, F1 and false-positive rate of the rule ``score > threshold``, anomalies
    positive.

    With ``point_adjusted=True`` (time series), the same measures again on
    ``point_adjust(scores, y_true)``, under keys ending in ``_pa``: a threshold flags a whole
    anomalous segment there as soon as it flags one of its points.
    """
    y_true = _checks.binary_labels(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or not np.all(np.isfinite(scores)):
        raise ValueError(f"y_true and scores must be 1-D, finite and of equal length, got "
                         f"{y_true.shape} and {scores.shape}.")
    if y_true.min() == y_true.max():
        raise ValueError("y_true must contain both 0 (normal) and 1 (anomaly).")
    versions = [("", scores)]
    if point_adjusted:
        versions.append(("_pa", point_adjust(scores, y_true)))
    report = {}
    for suffix, s in versions:
        flagged = (s > threshold).astype(np.int64)
        report |= {
            "auroc" + suffix: float(roc_auc_score(y_true, s)),
            "average_precision" + suffix: float(average_precision_score(y_true, s)),
            "precision" + suffix: float(precision_score(y_true, flagged, zero_division=0)),
            "recall" + suffix: float(recall_score(y_true, flagged)),
            "f1" + suffix: float(f1_score(y_true, flagged, zero_division=0)),
            "false_positive_rate" + suffix: float(flagged[y_true == 0].mean()),
        }
    return report


def blurred_error(x, x_hat, sigma=1.0) -> np.ndarray:
    """Mean squared error per image of the residual ``x - x_hat`` after a Gaussian blur of
    `sigma` pixels (over height and width).

    A bottleneck makes every reconstruction slightly smoothed and shifted: thin bands of
    positive and negative residual side by side along edges, on normal and anomalous images
    alike. The blur cancels those and keeps residuals of one sign over a wide area (a missing
    sleeve, an extra shaft), which is what sets anomalies apart. ``sigma=0`` gives plain MSE.

    Args:
        x, x_hat: images of shape ``(n, h, w)`` or ``(n, h, w, channels)``.
    """
    residual = np.asarray(x, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)
    if residual.ndim not in (3, 4):
        raise ValueError(f"x and x_hat must be images (n, h, w) or (n, h, w, channels), "
                         f"got shape {residual.shape}.")
    sigma = _checks.non_negative("sigma", sigma)
    blur = (0, sigma, sigma) + ((0,) if residual.ndim == 4 else ())
    blurred = gaussian_filter(residual, sigma=blur)
    return mse_per_sample(blurred, np.zeros_like(blurred))


# -- time series: segments, point adjustment ----------------------------------------------------
def anomaly_segments(labels) -> list[tuple[int, int]]:
    """Runs of consecutive anomalous points, as ``(start, stop)`` with stop excluded."""
    labels = _checks.binary_labels(labels)
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(),
                    np.flatnonzero(edges == -1).tolist()))


def point_adjust(scores, labels) -> np.ndarray:
    """Point-adjusted scores: every point of a labelled anomaly gets the segment's highest
    score, so any threshold that flags one point of a segment flags all of it. Normal
    points keep their scores. AUROC and AP of the adjusted scores are the point-adjusted
    ones (Xu et al. 2018); they only ask that *some* point of each anomaly scores high."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = _checks.binary_labels(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same shape, got {scores.shape} "
                         f"and {labels.shape}.")
    adjusted = scores.copy()
    for start, stop in anomaly_segments(labels):
        adjusted[start:stop] = scores[start:stop].max()
    return adjusted


def top_score_hit(scores, labels, tolerance=0) -> bool:
    """Whether the highest score falls on a labelled anomaly, or within `tolerance` points
    of one: the question of the UCR anomaly archive, whose series hold one anomaly each."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = _checks.binary_labels(labels)
    tolerance = int(_checks.non_negative("tolerance", tolerance))
    if scores.shape != labels.shape or not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite and shaped like labels {labels.shape}, got "
                         f"{scores.shape}.")
    top = int(np.argmax(scores))
    return any(start - tolerance <= top < stop + tolerance
               for start, stop in anomaly_segments(labels))
