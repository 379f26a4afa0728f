"""Anomaly protocol, linear probes, SSIM and the use-case figures."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import aecore
from aecore import anomaly, probes


def test_one_class_split_keeps_the_test_set_out(digits):
    split = anomaly.one_class_split(digits, 3, val_fraction=0.2, seed=0)
    n_normal = np.sum(digits.y_train == 3)
    assert len(split.x_fit) + len(split.x_val) == n_normal
    assert len(split.x_val) == round(0.2 * n_normal)
    np.testing.assert_array_equal(split.x_test, digits.x_test)
    np.testing.assert_array_equal(split.y_test, (digits.y_test != 3).astype(int))
    # fit and validation images are disjoint normal training images
    fit_rows = {r.tobytes() for r in split.x_fit}
    assert not any(r.tobytes() in fit_rows for r in split.x_val)
    other = anomaly.one_class_split(digits, 3, val_fraction=0.2, seed=1)
    assert not np.array_equal(other.x_val, split.x_val)


@pytest.mark.parametrize("normal_class", [-1, 10, 2.0, "3", True])
def test_one_class_split_bad_class(normal_class, digits):
    with pytest.raises(ValueError, match="normal_class must be an integer in \\[0, 9\\]"):
        anomaly.one_class_split(digits, normal_class)


def test_threshold_from_normal_sets_the_false_positive_rate():
    scores = np.arange(1000, dtype=float)
    threshold = anomaly.threshold_from_normal(scores, 0.9)
    assert np.mean(scores > threshold) == pytest.approx(0.1, abs=0.002)
    with pytest.raises(ValueError, match="finite"):
        anomaly.threshold_from_normal([1.0, np.nan])
    with pytest.raises(ValueError, match="quantile"):
        anomaly.threshold_from_normal(scores, 1.0)


def test_detection_report_treats_anomalies_as_positive():
    y = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95])
    report = anomaly.detection_report(y, scores, threshold=0.5)
    assert report["precision"] == pytest.approx(2 / 3)  # 3 flagged, 2 are anomalies
    assert report["recall"] == 1.0
    assert report["false_positive_rate"] == pytest.approx(0.25)
    assert report["auroc"] == pytest.approx(7 / 8)
    perfect = anomaly.detection_report(y, y.astype(float), threshold=0.5)
    assert perfect["auroc"] == 1.0 and perfect["average_precision"] == 1.0
    with pytest.raises(ValueError, match="both"):
        anomaly.detection_report(np.zeros(3), np.zeros(3), 0.0)


def test_label_subset_is_balanced_and_seeded(digits):
    idx = probes.label_subset(digits.y_train, 25, seed=0)
    assert len(idx) == len(set(idx)) == 25
    counts = np.bincount(digits.y_train[idx], minlength=10)
    assert counts.min() >= 2 and counts.max() <= 3
    np.testing.assert_array_equal(idx, probes.label_subset(digits.y_train, 25, seed=0))
    with pytest.raises(ValueError, match="fewer than the 10 classes"):
        probes.label_subset(digits.y_train, 5)
    with pytest.raises(ValueError, match="exceeds"):
        probes.label_subset(digits.y_train, 10**6)


def test_linear_probe_accuracy_grows_with_labels(digits):
    flat = lambda x: x.reshape(len(x), -1)
    few = probes.linear_probe(flat(digits.x_train), digits.y_train, flat(digits.x_test),
                              digits.y_test, n_labels=20)
    many = probes.linear_probe(flat(digits.x_train), digits.y_train, flat(digits.x_test),
                               digits.y_test)
    assert 0.1 < few < many and many > 0.9
    with pytest.raises(ValueError, match="same width"):
        probes.linear_probe(np.zeros((20, 3)), digits.y_train[:20], np.zeros((5, 4)),
                            digits.y_test[:5])


def test_ssim(rng):
    x = rng.random((3, 28, 28, 1))
    np.testing.assert_allclose(aecore.metrics.ssim(x, x), 1.0)
    noisy = np.clip(x + rng.normal(0, 0.3, x.shape), 0, 1)
    assert np.all(aecore.metrics.ssim(x, noisy) < 0.9)
    with pytest.raises(ValueError, match="same shape"):
        aecore.metrics.ssim(x, x[:2])


def test_use_case_figures(rng):
    y = rng.integers(0, 2, 200)
    fig = aecore.viz.roc_pr_curves(y, {"a": y + rng.random(200), "b": rng.random(200)})
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and len(fig.axes[0].lines) == 3
    fig = aecore.viz.line_chart([2, 4, 8], {"PCA": [3, 2, 1], "AE": [2, 1, 0.5]},
                                xlabel="k", ylabel="MSE", logx=True, hlines={"ref": 1.5},
                                vlines={"trained at": 4})
    lines = fig.axes[0].lines
    assert len(lines) == 4
    assert len({line.get_color() for line in lines}) == 4  # references never share a colour
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2", "4", "8"]
    calls = []

    def decode(z):
        calls.append(z)
        return np.repeat(z[:, :1], 16, axis=1)  # 4x4 images whose value is z1

    fig = aecore.viz.latent_grid(decode, n=3, span=1.0)
    assert calls[0].shape == (9, 2)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (12, 12)
    np.testing.assert_allclose(mosaic[0, [0, 4, 8]], [-1.0, 0.0, 1.0])


def test_blurred_error_cancels_edge_jitter_but_keeps_regions():
    x = np.zeros((2, 16, 16, 1))
    jitter = x.copy()
    jitter[0, :, ::2] = 0.2  # thin alternating bands, as along a misplaced edge
    jitter[0, :, 1::2] = -0.2
    jitter[1, 4:12, 4:12] = 0.2  # one region of one sign, as a missing part
    plain = aecore.metrics.mse_per_sample(x, jitter)
    blurred = anomaly.blurred_error(x, jitter, sigma=1.0)
    assert blurred[0] / plain[0] < 0.05 and blurred[1] / plain[1] > 0.5
    np.testing.assert_allclose(anomaly.blurred_error(x, jitter, sigma=0), plain)
    np.testing.assert_allclose(anomaly.blurred_error(x[..., 0], jitter[..., 0]), blurred)
    with pytest.raises(ValueError, match="images"):
        anomaly.blurred_error(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="sigma"):
        anomaly.blurred_error(x, x, sigma=-1)


def test_knn_distance_matches_brute_force(rng):
    x_fit, x = rng.random((40, 3, 3)), rng.random((7, 3, 3))
    d = np.linalg.norm(x.reshape(7, 1, -1) - x_fit.reshape(1, 40, -1), axis=2)
    expected = np.sort(d, axis=1)[:, :4].mean(axis=1)
    np.testing.assert_allclose(aecore.baselines.knn_distance(x_fit, x, k=4), expected, rtol=1e-5)
    assert aecore.baselines.knn_distance(x_fit, x_fit[:3], k=1).max() < 1e-3  # its own copy
    with pytest.raises(ValueError, match="exceeds"):
        aecore.baselines.knn_distance(x_fit, x, k=41)
    with pytest.raises(ValueError, match="same size"):
        aecore.baselines.knn_distance(x_fit, x[:, :2], k=1)
