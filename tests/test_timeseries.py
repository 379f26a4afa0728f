"""aecore.timeseries and the 1-D convolutional halves, checked against independent
computations: NumPy's sliding_window_view, brute-force loops, pandas' rolling mean,
scikit-learn's metrics, a formula for the point-adjusted AUROC of a random score, and aeon's
own loader."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from aecore import anomaly, baselines, data
from aecore import timeseries as ts
from aecore.models import Autoencoder, conv1d_decoder, conv1d_encoder

ROOT = Path(__file__).resolve().parents[1]
HAS_AEON = importlib.util.find_spec("aeon") is not None


# -- windows ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n, window", [(10, 3), (50, 50), (7, 1)])
def test_sliding_windows_match_numpy(n, window):
    x = np.random.default_rng(0).normal(size=n)
    expected = np.lib.stride_tricks.sliding_window_view(x, window)
    np.testing.assert_array_equal(ts.sliding_windows(x, window), expected)


def test_strided_windows_cover_the_end():
    x = np.arange(10.0)
    np.testing.assert_array_equal(ts.window_starts(10, 4, 3), [0, 3, 6])
    np.testing.assert_array_equal(ts.window_starts(10, 4, 4), [0, 4, 6])  # last added
    np.testing.assert_array_equal(ts.sliding_windows(x, 4, 4)[-1], [6, 7, 8, 9])


def test_multichannel_windows():
    x = np.arange(20.0).reshape(10, 2)
    w = ts.sliding_windows(x, 4, 2)
    assert w.shape == (4, 4, 2)
    np.testing.assert_array_equal(w[1], x[2:6])


@pytest.mark.parametrize("n, window, stride", [(100, 16, 1), (100, 16, 5), (37, 8, 3),
                                               (16, 16, 1), (50, 1, 1)])
@pytest.mark.parametrize("channels", [None, 3])
def test_windows_then_overlap_average_give_the_series_back(n, window, stride, channels):
    shape = (n,) if channels is None else (n, channels)
    x = np.random.default_rng(1).normal(size=shape)
    back = ts.overlap_average(ts.sliding_windows(x, window, stride), n, stride)
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-12)


def brute_force_average(values, n, window, stride):
    """Per point, the mean of its values in the windows that contain it (plain loops)."""
    starts = ts.window_starts(n, window, stride)
    out = []
    for t in range(n):
        seen = [values[i, t - s] for i, s in enumerate(starts) if s <= t < s + window]
        out.append(np.mean(seen))
    return np.array(out)


@pytest.mark.parametrize("stride", [1, 3])
def test_overlap_average_of_unequal_windows_matches_loops(stride):
    n, window = 30, 7
    n_windows = len(ts.window_starts(n, window, stride))
    values = np.random.default_rng(2).normal(size=(n_windows, window))
    np.testing.assert_allclose(ts.overlap_average(values, n, stride),
                               brute_force_average(values, n, window, stride))


@pytest.mark.parametrize("stride", [1, 4])
def test_window_scores_to_points_matches_loops(stride):
    n, window = 25, 6
    starts = ts.window_starts(n, window, stride)
    scores = np.random.default_rng(3).random(len(starts))
    expected = [np.mean([scores[i] for i, s in enumerate(starts) if s <= t < s + window])
                for t in range(n)]
    np.testing.assert_allclose(ts.window_scores_to_points(scores, n, window, stride),
                               expected)


def test_window_arguments_are_checked():
    with pytest.raises(ValueError, match="window must be at most"):
        ts.sliding_windows(np.zeros(5), 6)
    with pytest.raises(ValueError, match="stride"):
        ts.sliding_windows(np.zeros(5), 2, 0)
    with pytest.raises(ValueError, match="NaN"):
        ts.sliding_windows(np.array([1.0, np.nan, 2.0]), 2)
    with pytest.raises(ValueError, match="shape"):
        ts.sliding_windows(np.zeros((2, 2, 2)), 2)
    with pytest.raises(ValueError, match="cannot come from"):
        ts.overlap_average(np.zeros((5, 4)), 10)
    with pytest.raises(ValueError, match="one number per window"):
        ts.window_scores_to_points(np.zeros((3, 2)), 10, 8)


# -- labels, point adjustment, measures -------------------------------------------------------
def test_anomaly_segments():
    labels = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1])
    assert anomaly.anomaly_segments(labels) == [(0, 2), (4, 5), (6, 9)]
    assert anomaly.anomaly_segments(np.zeros(4, int)) == []
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        anomaly.anomaly_segments(np.array([0, 2]))


def test_point_adjust_matches_a_loop():
    rng = np.random.default_rng(4)
    labels = (rng.random(200) < 0.1).astype(int)
    scores = rng.normal(size=200)
    adjusted = anomaly.point_adjust(scores, labels)
    for t in range(200):
        if labels[t] == 0:
            assert adjusted[t] == scores[t]
        else:  # the maximum over the run of anomalous points around t
            a = t
            while a > 0 and labels[a - 1]:
                a -= 1
            b = t
            while b < 199 and labels[b + 1]:
                b += 1
            assert adjusted[t] == scores[a:b + 1].max()


def test_point_adjusted_auroc_of_a_random_score_is_generous():
    """One anomaly of L points and i.i.d. scores: after point adjustment every anomalous
    point scores the maximum of L uniforms, above a random normal point with probability
    L / (L + 1). Without it the AUROC is about 1/2."""
    length = 12
    labels = np.zeros(20_000, int)
    labels[5_000:5_000 + length] = 1
    pa, raw = [], []
    for seed in range(200):
        scores = np.random.default_rng(seed).random(len(labels))
        pa.append(roc_auc_score(labels, anomaly.point_adjust(scores, labels)))
        raw.append(roc_auc_score(labels, scores))
    assert np.mean(pa) == pytest.approx(length / (length + 1), abs=0.01)
    assert np.mean(raw) == pytest.approx(0.5, abs=0.02)


def test_detection_report_against_scikit_learn_and_by_hand():
    labels = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 0])
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.2, 0.4, 0.1, 0.0, 0.35, 0.5])
    r = anomaly.detection_report(labels, scores, threshold=0.45, point_adjusted=True)
    assert r["auroc"] == pytest.approx(roc_auc_score(labels, scores))
    assert r["average_precision"] == pytest.approx(average_precision_score(labels, scores))
    pa = np.array([0.1, 0.2, 0.9, 0.9, 0.9, 0.4, 0.1, 0.0, 0.35, 0.5])
    assert r["auroc_pa"] == pytest.approx(roc_auc_score(labels, pa))
    # flagged: points 2 (anomaly) and 9 (normal); anomalies 2, 3, 4, 8
    assert (r["precision"], r["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 4))
    assert r["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    # adjusted: the first segment (2, 3, 4) counts in full, point 8 is still missed
    assert (r["precision_pa"], r["recall_pa"]) == (pytest.approx(3 / 4), pytest.approx(3 / 4))
    assert r["f1_pa"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="both 0"):
        anomaly.detection_report(np.zeros(10, int), scores, 0.5, point_adjusted=True)
    with pytest.raises(ValueError, match="finite"):
        anomaly.detection_report(labels, np.full(10, np.nan), 0.5, point_adjusted=True)
    plain = anomaly.detection_report(labels, scores, 0.45)    # images: no _pa keys
    assert "auroc_pa" not in plain and plain["f1"] == r["f1"]


def test_top_score_hit():
    labels = np.zeros(100, int)
    labels[40:45] = 1
    scores = np.zeros(100)
    scores[47] = 1.0
    assert not anomaly.top_score_hit(scores, labels)
    assert anomaly.top_score_hit(scores, labels, tolerance=3)
    scores[42] = 2.0
    assert anomaly.top_score_hit(scores, labels)


# -- forecasting baselines --------------------------------------------------------------------
def test_moving_average_residual_matches_pandas():
    x = np.random.default_rng(5).normal(size=60)
    forecast = pd.Series(x).rolling(5).mean().shift(1).to_numpy()
    np.testing.assert_allclose(baselines.moving_average_residual(x, 5), np.abs(x - forecast),
                               equal_nan=True)


def test_seasonal_residual_matches_a_loop():
    x = np.random.default_rng(6).normal(size=40)
    r = baselines.seasonal_residual(x, period=7, n_periods=2)
    assert np.isnan(r[:14]).all()
    for t in range(14, 40):
        assert r[t] == pytest.approx(abs(x[t] - (x[t - 7] + x[t - 14]) / 2))
    with pytest.raises(ValueError, match="longer than period"):
        baselines.seasonal_residual(x, 20, 2)


def _brute_force_profile(x, window, reference=None):
    """The matrix profile by definition: every pair of z-normalised windows, in NumPy."""
    def normalised(series):
        w = np.lib.stride_tricks.sliding_window_view(np.asarray(series, float), window)
        return (w - w.mean(axis=1, keepdims=True)) / w.std(axis=1, keepdims=True)

    a = normalised(x)
    b = a if reference is None else normalised(reference)
    distances = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    if reference is None:  # a self-join leaves out each window's trivial matches
        i = np.arange(len(a))
        distances[np.abs(i[:, None] - i[None, :]) <= int(np.ceil(window / 4))] = np.inf
    return distances.min(axis=1)


HAS_STUMPY = importlib.util.find_spec("stumpy") is not None


@pytest.mark.skipif(not HAS_STUMPY, reason="stumpy is not installed")
def test_matrix_profile_matches_a_brute_force_discord_search():
    rng = np.random.default_rng(8)
    t = np.arange(300)
    normal = np.sin(2 * np.pi * t / 25) + 0.1 * rng.normal(size=300)
    x = np.sin(2 * np.pi * t[:200] / 25) + 0.1 * rng.normal(size=200)
    x[120:132] += np.linspace(0, 1.5, 12)           # a ramp: the planted discord
    for reference in (normal, None):
        profile = baselines.matrix_profile(x, 16, reference)
        np.testing.assert_allclose(profile, _brute_force_profile(x, 16, reference),
                                   rtol=1e-6, atol=1e-6)
        assert profile.shape == (200 - 16 + 1,)
        assert 120 - 16 < int(np.argmax(profile)) < 132   # the discord overlaps the ramp
    with pytest.raises(ValueError, match="at least window"):
        baselines.matrix_profile(x, 2, normal)
    with pytest.raises(ValueError, match="self-join"):
        baselines.matrix_profile(x[:20], 16)


def test_estimate_period_of_a_noisy_sine():
    t = np.arange(1000)
    x = np.sin(2 * np.pi * t / 50) + 0.3 * np.random.default_rng(7).normal(size=1000)
    assert baselines.estimate_period(x) == 50
    with pytest.raises(ValueError, match="no period"):
        baselines.estimate_period(np.arange(100.0), max_period=10)


# -- loading ----------------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_AEON, reason="aeon is not installed")
def test_bundled_series_loads_offline():
    s = data.load_series("kdd_tsad_135")
    assert s.values.shape == s.labels.shape == (7501,)
    assert s.train_end == 1200 and s.segments() == [(4187, 4199)]
    assert not s.labels[:s.train_end].any()


def test_bundled_series_matches_aeons_own_loader():
    try:  # aeon's loaders import numba, which aecore itself does not need
        from aeon.datasets import load_kdd_tsad_135
    except ImportError:
        pytest.skip("aeon's loaders (aeon with numba) are not importable here")
    x, y = load_kdd_tsad_135("test")
    s = data.load_series("kdd_tsad_135")
    np.testing.assert_array_equal(s.values, x)
    np.testing.assert_array_equal(s.labels, y)
    assert len(load_kdd_tsad_135("train")[0]) == s.train_end


@pytest.mark.skipif(not HAS_AEON, reason="aeon is not installed")
@pytest.mark.parametrize("name, test_file", [("ecg_diff_count_3", "TEST"),
                                             ("ecg_diff_count_3_train_a", "TRAIN_A")])
def test_ecg_series_is_the_normal_series_then_a_labelled_one(name, test_file):
    """Checked against the CSV files aeon ships, read with pandas (and against aeon's own
    loader where it still imports)."""
    folder = Path(importlib.util.find_spec("aeon").origin).parent / "datasets" / "data"
    normal = pd.read_csv(folder / "UnitTest" / "ecg-diff-count-3_TRAIN_NA.csv")
    test = pd.read_csv(folder / "UnitTest" / f"ecg-diff-count-3_{test_file}.csv")
    s = data.load_series(name)
    assert s.train_end == len(normal) == 10000
    np.testing.assert_allclose(s.values, np.concatenate([normal["value-0"],  # last digit
                                                         test["value-0"]]), rtol=1e-12)
    np.testing.assert_array_equal(s.labels[s.train_end:], test["is_anomaly"])
    assert not s.labels[:s.train_end].any() and len(s.segments()) == 3
    if test_file == "TEST":
        try:
            with pytest.warns(FutureWarning):  # deprecated in aeon 1.6
                from aeon.datasets import load_ecg_diff_count_3
                x, y, x_train, y_train = load_ecg_diff_count_3("semi-supervised")
        except ImportError:
            return
        np.testing.assert_allclose(s.values, np.concatenate([x_train, x]), rtol=1e-12)
        np.testing.assert_array_equal(s.labels[s.train_end:], y)


def test_ucr_archive_file(tmp_path):
    values = np.sin(np.arange(300) / 5)
    path = tmp_path / "007_UCR_Anomaly_toy_100_150_159.txt"
    np.savetxt(path, values)
    s = data.load_series(path)
    np.testing.assert_allclose(s.values, values)
    assert s.train_end == 100 and s.segments() == [(150, 159)]  # END is excluded
    bad = tmp_path / "008_UCR_Anomaly_toy_100_150_400.txt"
    np.savetxt(bad, values)
    with pytest.raises(ValueError, match="do not fit"):
        data.load_series(bad)
    with pytest.raises(ValueError, match="no such file"):
        data.load_series(tmp_path / "009_UCR_Anomaly_toy_1_2_3.txt")
    with pytest.raises(ValueError, match="kdd_tsad_135"):
        data.load_series("nab_machine_temperature")


def test_missing_package_names_what_to_install(monkeypatch):
    fake = dict(data.BUNDLED["kdd_tsad_135"], package="no_such_package_xyz")
    monkeypatch.setitem(data.BUNDLED, "fake", fake)
    with pytest.raises(ImportError, match="pip install no_such_package_xyz"):
        data.load_series("fake")


# -- the 1-D convolutional halves -------------------------------------------------------------
@pytest.mark.parametrize("shape", [(32,), (32, 3)])
def test_conv1d_halves_shapes(shape):
    encoder = conv1d_encoder(shape, 5, (4, 8), kernel_size=3)
    decoder = conv1d_decoder(5, shape, (4, 8), kernel_size=3)
    assert encoder.output_shape == (None, 5)
    assert decoder.output_shape == (None, *shape)
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype("float32")
    assert decoder.predict(encoder.predict(x, verbose=0), verbose=0).shape == x.shape


def test_conv1d_arguments_are_checked():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*len\\(filters\\) = 4"):
        conv1d_encoder((30,), 4, (8, 8))
    with pytest.raises(ValueError, match="output_shape"):
        conv1d_decoder(4, (32, 2, 2), (8,))
    with pytest.raises(ValueError, match="latent_dim"):
        conv1d_encoder((32,), 0)
    with pytest.raises(ValueError, match="at least one layer"):
        conv1d_decoder(4, (32,), ())


def test_conv1d_autoencoder_learns_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    t = np.arange(2000)
    series = np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(0).normal(size=2000)
    x = ts.sliding_windows(series, 32, 4).astype("float32")
    model = Autoencoder(conv1d_encoder((32,), 6, (8, 16)), conv1d_decoder(6, (32,), (8, 16)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, epochs=8, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    x_hat = model.reconstruct(x)
    # the model's loss is the mean squared error, as NumPy computes it
    assert float(model.loss_terms(x, x_hat)["reconstruction"]) == pytest.approx(
        np.mean((x - x_hat) ** 2), rel=1e-4)
    path = tmp_path / "conv1d.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.reconstruct(x), x_hat)

    def layout(m):  # layer types and sizes (names differ: Keras numbers them)
        return [(type(l).__name__, l.get_config().get("filters"), l.get_config().get("units"),
                 l.get_config().get("kernel_size"), l.get_config().get("strides"))
                for part in (m.encoder, m.decoder) for l in part.layers]

    assert layout(loaded) == layout(model)


JAX_SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore import anomaly, baselines, data
    from aecore import timeseries as ts
    from aecore.models import Autoencoder, conv1d_decoder, conv1d_encoder
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits", flatten=True)      # (n, 64): a window each
    x, x_test = data.x_train[:512] - 0.5, data.x_test[:100] - 0.5
    keras.utils.set_random_seed(0)
    model = Autoencoder(conv1d_encoder((64,), 8, (4, 8), kernel_size=5),
                        conv1d_decoder(8, (64,), (4, 8), kernel_size=5))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, epochs=4, batch_size=96, verbose=0)
    x_hat = model.reconstruct(x_test)
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    series = ts.overlap_average(x_hat, 64 + 99)   # the 100 windows as one series
    print("RESULTS" + json.dumps({
        "loss": [float(v) for v in history.history["loss"]],
        "round_trip": bool(np.array_equal(loaded.reconstruct(x_test), x_hat)),
        "mse": float(np.mean((x_test - x_hat) ** 2)),
        "mse_model": float(model.loss_terms(x_test, x_hat)["reconstruction"]),
        "series_len": len(series)}))
""")


def test_conv1d_autoencoder_trains_on_jax(run_on_jax):
    result = run_on_jax(JAX_SCRIPT)
    assert result["loss"][-1] < result["loss"][0]
    assert result["round_trip"]
    assert result["mse_model"] == pytest.approx(result["mse"], rel=1e-4)
    assert result["series_len"] == 163


# -- the chapter's papermill parameters -------------------------------------------------------
def glued(notebook, name):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                data = output["data"]
                return data.get("text/plain",
                                data.get("application/papermill.record/text/plain"))
    raise KeyError(f"nothing glued as {name!r}")


@pytest.mark.skipif(not HAS_AEON, reason="aeon is not installed")
def test_chapter_runs_on_a_ucr_file_with_another_window(tmp_path):
    """`series` and `window` are the chapter's parameters: a UCR archive file cut from the
    bundled series (its first 4,500 points, the anomaly inside) and 32-point windows."""
    import nbformat

    s = data.load_series("kdd_tsad_135")
    (start, stop), = s.segments()
    path = tmp_path / f"135_UCR_Anomaly_cut_{s.train_end}_{start}_{stop}.txt"
    np.savetxt(path, s.values[:4500])
    out = tmp_path / "15_out.ipynb"
    notebook = ROOT / "notebooks" / "15_time_series_anomalies.ipynb"
    run = subprocess.run(
        [sys.executable, "-m", "papermill", "-k", "python3", "--cwd", str(ROOT / "notebooks"),
         "-p", "series", str(path), "-p", "window", "32", str(notebook), str(out)],
        env={**os.environ, "SMOKE_TEST": "1"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    assert int(glued(executed, "window")) == 32
    assert int(glued(executed, "n_test")) == 4500 - s.train_end
    assert int(glued(executed, "anomaly_points")) == stop - start
    for key in ("ae_auroc", "ae_auroc_pa", "pca_auroc", "forecast_auroc_pa"):
        assert 0.0 <= float(glued(executed, key)) <= 1.0
