import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

import aecore
from aecore.metrics import mse_per_sample
from aecore.models import Autoencoder, Corruption, GaussianCode, dense_decoder, dense_encoder


class Constant(keras.Model):
    """A stand-in 'autoencoder' that always outputs 0.5: its errors are known exactly."""

    sample_shape = (2, 2, 1)

    def call(self, x):
        return keras.ops.ones_like(x) * 0.5


def test_reconstruction_error_is_one_mse_per_sample():
    x = np.stack([np.zeros((2, 2, 1)), np.ones((2, 2, 1)), np.full((2, 2, 1), 0.5)])
    x[2, 0, 0, 0] = 1.0
    errors = aecore.reconstruction_error(Constant(), x.astype("float32"))
    assert errors.shape == (3,) and errors.dtype == np.float64
    np.testing.assert_allclose(errors, [0.25, 0.25, 0.0625])


def test_reconstruction_error_of_a_vae_is_deterministic(digits):
    model = Autoencoder(dense_encoder((8, 8, 1), 4, (8,), code_activation=None),
                        dense_decoder(2, (8, 8, 1), (8,)), code=GaussianCode(seed=0),
                        reconstruction="bernoulli")
    x = digits.x_test[:50]
    first = aecore.reconstruction_error(model, x)
    np.testing.assert_array_equal(first, aecore.reconstruction_error(model, x))
    np.testing.assert_allclose(first, mse_per_sample(x, model.reconstruct(x)), rtol=1e-6)
    z_mean = model.encode(x)  # the VAE is scored on the decoding of z_mean
    np.testing.assert_allclose(first, mse_per_sample(x, model.decode(z_mean)), rtol=1e-5)


def test_reconstruction_error_of_a_model_matches_numpy(digits):
    model = Autoencoder(dense_encoder(digits.input_shape, 4),
                        dense_decoder(4, digits.input_shape),
                        corruption=Corruption("gaussian", 0.3, seed=0))  # off at inference
    x = digits.x_test[:20]
    x_hat = model.decode(model.encode(x))  # the halves one after the other, uncorrupted
    expected = ((x - x_hat) ** 2).reshape(20, -1).mean(axis=1)
    np.testing.assert_allclose(aecore.reconstruction_error(model, x), expected, rtol=1e-5)


def test_reconstruction_error_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        aecore.reconstruction_error(Constant(), np.zeros((3, 4), "float32"))
    with pytest.raises(ValueError, match="NaN"):
        aecore.reconstruction_error(Constant(), np.full((1, 2, 2, 1), np.nan, "float32"))
    empty = aecore.reconstruction_error(Constant(), np.zeros((0, 2, 2, 1), "float32"))
    assert empty.shape == (0,)


def test_mse_per_sample_checks_shapes():
    np.testing.assert_allclose(mse_per_sample(np.zeros((2, 3)), np.ones((2, 3))), [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        mse_per_sample(np.zeros((2, 3)), np.zeros((2, 4)))


def test_reconstruction_grid_has_two_rows_of_images(rng):
    x = rng.random((12, 28, 28, 1))
    fig = aecore.viz.reconstruction_grid(x, x * 0.5, n=5)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 10
    assert [ax.get_ylabel() for ax in visible if ax.get_ylabel()] == ["original", "reconstruction"]
    np.testing.assert_allclose(visible[5].images[0].get_array(), x[0, ..., 0] * 0.5)
    assert fig._repr_png_().startswith(b"\x89PNG")  # what a notebook displays


def test_image_grid_accepts_flat_square_images(rng):
    fig = aecore.viz.image_grid(rng.random((7, 64)), ncols=4)
    assert sum(ax.get_visible() for ax in fig.axes) == 7
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
    with pytest.raises(ValueError, match="square"):
        aecore.viz.image_grid(rng.random((3, 10)))


def test_training_curves_one_panel_per_metric():
    logs = {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0], "kl": [1.0, 0.5, 0.2]}
    fig = aecore.viz.training_curves(logs)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), [3.5, 2.5, 2.0])
    with pytest.raises(ValueError, match="no metric"):
        aecore.viz.training_curves(logs, keys=["accuracy"])
    with pytest.raises(ValueError, match="did fit"):
        aecore.viz.training_curves({})


def test_smoke_mode_reads_the_environment(monkeypatch):
    for value, expected in [("1", True), ("yes", True), ("", False), ("0", False),
                            ("false", False)]:
        monkeypatch.setenv("SMOKE_TEST", value)
        assert aecore.train.smoke_mode() is expected
    monkeypatch.delenv("SMOKE_TEST")
    assert aecore.train.smoke_mode() is False


def test_psnr_and_code_activity():
    x = np.zeros((2, 4))
    np.testing.assert_allclose(aecore.metrics.psnr(x, x + 0.1), [20.0, 20.0])
    assert aecore.metrics.psnr(x, x)[0] == np.inf
    stats = aecore.metrics.code_activity(np.array([[0.0, 0.5], [0.0, 0.3]]))
    assert stats == {"mean_activation": 0.2, "active_fraction": 0.5, "dead_fraction": 0.5}
    with pytest.raises(ValueError, match="shape"):
        aecore.metrics.code_activity(np.zeros(3))


def test_latent_scatter(rng):
    z, y = rng.normal(size=(300, 2)), rng.integers(0, 10, 300)
    fig = aecore.viz.latent_scatter(z, y, [f"c{i}" for i in range(10)], max_points=100)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 100
    assert len(ax.get_legend().get_texts()) == len(np.unique(y))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        aecore.viz.latent_scatter(rng.normal(size=(5, 3)), y[:5])
    side_by_side = aecore.viz.latent_scatter({"PCA": z, "AE": -z}, y, max_points=50)
    assert [ax.get_title() for ax in side_by_side.axes] == ["PCA", "AE"]
    first, second = (np.concatenate([c.get_offsets() for c in ax.collections])
                     for ax in side_by_side.axes)
    np.testing.assert_allclose(np.sort(first, axis=0), np.sort(-second, axis=0))  # same points


@pytest.mark.parametrize("low, high", [(0.006, 0.05), (0.0085, 0.045), (0.004, 0.6),
                                       (0.0072, 0.0095)])
def test_line_chart_log_y_labels_are_plain_numbers_that_never_touch(low, high):
    # chapter 7's figure once printed "0.009" on top of "0.01": every minor tick was labelled
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = aecore.viz.line_chart([2, 8, 32, 64], {"a": np.geomspace(high, low, 4)},
                                xlabel="k", ylabel="MSE", logx=True, logy=True)
    ax = fig.axes[0]
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    lo, hi = ax.get_ylim()
    labels = sorted(((t.get_position()[1], t.get_text(), t.get_window_extent(renderer))
                     for t in ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels()
                     if t.get_text() and lo <= t.get_position()[1] <= hi),
                    key=lambda label: label[0])
    assert len(labels) >= 2
    for value, text, _ in labels:
        assert text == f"{value:g}"  # plain numbers, not 10^-2
    for (_, a, box_a), (_, b, box_b) in zip(labels, labels[1:]):
        assert box_b.y0 - box_a.y1 >= 4, f"labels {a} and {b} touch"
