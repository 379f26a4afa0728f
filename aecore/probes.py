"""Linear probes: how useful are a representation's features for classification?

A probe is a logistic regression trained on frozen features with a given number of labels;
its test accuracy measures the features, not the classifier.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
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
                 Cs=(1.0,), folds=3, cv_samples=5000, max_iter=1000) -> float:
    """Test accuracy of a logistic regression trained on `n_labels` labelled training samples
    (all of them when None), with the protocol every representation gets alike:

    - the features are standardised with a scaler fitted on *all* training features (no
      labels needed, so a semi-supervised learner has them too), not on the labelled few;
    - with several values in `Cs`, the inverse regularisation strength C is chosen by
      stratified `folds`-fold cross-validation inside the labelled set (on at most
      `cv_samples` of it, for time), then the probe is refitted on the whole labelled set
      with that C; with one value (the default, C = 1) it is fixed in advance.

    The test features are touched once, for the returned accuracy.
    """
    features_train = np.asarray(features_train, dtype=np.float64)
    features_test = np.asarray(features_test, dtype=np.float64)
    if features_train.ndim != 2 or features_test.ndim != 2 \
            or features_train.shape[1] != features_test.shape[1]:
        raise ValueError(f"features must be 2-D with the same width, got {features_train.shape} "
                         f"and {features_test.shape}.")
    y_train = np.asarray(y_train)
    idx = (np.arange(len(y_train)) if n_labels is None
           else label_subset(y_train, n_labels, seed=seed))
    scaler = StandardScaler().fit(features_train)
    x, y = scaler.transform(features_train[idx]), y_train[idx]
    best_c = choose_c(x, y, Cs=Cs, folds=folds, cv_samples=cv_samples, seed=seed,
                      max_iter=max_iter)
    probe = LogisticRegression(C=best_c, max_iter=max_iter).fit(x, y)
    return float(probe.score(scaler.transform(features_test), y_test))


def choose_c(x, y, *, Cs, folds, cv_samples, seed, max_iter) -> float:
    """The C of `Cs` with the best stratified cross-validated accuracy on (a subset of) x, y."""
    if len(Cs) == 1:
        return float(Cs[0])
    if len(y) > cv_samples:
        keep = label_subset(y, cv_samples, seed=seed)
        x, y = x[keep], y[keep]
    folds = min(folds, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if folds < 2:
        raise ValueError("choosing C by cross-validation needs at least 2 labels per class; "
                         "pass more labels or a single value in Cs.")
    search = GridSearchCV(LogisticRegression(max_iter=max_iter), {"C": list(Cs)},
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return float(search.fit(x, y).best_params_["C"])
