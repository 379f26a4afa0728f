"""Linear probes: how useful are a representation's features for classification?

A probe is a logistic regression trained on frozen features with a given number of labels;
its test accuracy measures the features, not the classifier.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aecore import _checks


def label_subset(y, n_labels, *, seed=0) -> np.ndarray:
    """Indices of `n_labels` samples drawn class-balanced (as equal as possible) from `y`."""
    y = np.asarray(y)
    n_labels = _checks.positive_int("n_labels", n_labels)
    classes = np.unique(y)
    if n_labels > len(y):
        raise ValueError(f"n_labels={n_labels} exceeds the {len(y)} samples available.")
    if n_labels < len(classes):
        raise ValueError(f"n_labels={n_labels} is fewer than the {len(classes)} classes: "
                         "a probe needs at least one label per class.")
    if n_labels == len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    per_class = np.full(len(classes), n_labels // len(classes))
    per_class[rng.permutation(len(classes))[: n_labels % len(classes)]] += 1
    picks = [rng.choice(np.flatnonzero(y == c), k, replace=False)
             for c, k in zip(classes, per_class)]
    return np.sort(np.concatenate(picks))


def linear_probe(features_train, y_train, features_test, y_test, *, n_labels=None, seed=0,
                 max_iter=1000) -> float:
    """Test accuracy of a standardised logistic regression trained on `n_labels` labelled
    training samples (all of them when None)."""
    features_train = np.asarray(features_train, dtype=np.float64)
    features_test = np.asarray(features_test, dtype=np.float64)
    if features_train.ndim != 2 or features_test.ndim != 2 \
            or features_train.shape[1] != features_test.shape[1]:
        raise ValueError(f"features must be 2-D with the same width, got {features_train.shape} "
                         f"and {features_test.shape}.")
    idx = (np.arange(len(y_train)) if n_labels is None
           else label_subset(y_train, n_labels, seed=seed))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(features_train[idx], np.asarray(y_train)[idx])
    return float(probe.score(features_test, y_test))
