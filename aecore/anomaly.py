"""One-class anomaly detection with reconstruction error, measured without peeking at the test set.

The protocol (`one_class_split`): one class is normal; a detector is fitted on normal training
images only; a held-out part of those normal images sets the threshold; the test set (every
class) measures it, with the anomalies as the positive class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (average_precision_score, precision_score, recall_score,
                             roc_auc_score)

from aecore import _checks


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


def detection_report(y_true, scores, threshold) -> dict:
    """AUROC and average precision of `scores` (higher = more anomalous), and precision,
    recall and false-positive rate of the rule ``score > threshold``, anomalies positive."""
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D and of equal length, got "
                         f"{y_true.shape} and {scores.shape}.")
    if set(np.unique(y_true)) != {0, 1}:
        raise ValueError("y_true must contain both 0 (normal) and 1 (anomaly).")
    flagged = (scores > threshold).astype(np.int64)
    return {
        "auroc": float(roc_auc_score(y_true, scores)),
        "average_precision": float(average_precision_score(y_true, scores)),
        "precision": float(precision_score(y_true, flagged, zero_division=0)),
        "recall": float(recall_score(y_true, flagged)),
        "false_positive_rate": float(flagged[y_true == 0].mean()),
    }


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
    from scipy.ndimage import gaussian_filter

    from aecore.metrics import mse_per_sample

    residual = np.asarray(x, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)
    if residual.ndim not in (3, 4):
        raise ValueError(f"x and x_hat must be images (n, h, w) or (n, h, w, channels), "
                         f"got shape {residual.shape}.")
    sigma = _checks.non_negative("sigma", sigma)
    blur = (0, sigma, sigma) + ((0,) if residual.ndim == 4 else ())
    blurred = gaussian_filter(residual, sigma=blur)
    return mse_per_sample(blurred, np.zeros_like(blurred))


def knn_distance(x_fit, x, k=5) -> np.ndarray:
    """Anomaly score of each sample of `x`: its mean Euclidean distance to its `k` nearest
    samples of `x_fit` (the normal data), on flattened samples. A strong baseline that
    learns nothing: an image far from every normal image it resembles is unusual.
    """
    from sklearn.neighbors import NearestNeighbors

    x_fit = np.asarray(x_fit, dtype=np.float32).reshape(len(x_fit), -1)
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    k = _checks.positive_int("k", k)
    if k > len(x_fit):
        raise ValueError(f"k={k} exceeds the {len(x_fit)} samples of x_fit.")
    if x.shape[1] != x_fit.shape[1]:
        raise ValueError(f"x and x_fit must have samples of the same size, got "
                         f"{x.shape[1]} and {x_fit.shape[1]} values.")
    distances, _ = NearestNeighbors(n_neighbors=k).fit(x_fit).kneighbors(x)
    return distances.mean(axis=1)
