"""The variant models: shapes, config and .keras round trips, extra losses, bad arguments."""

import keras
import numpy as np
import pytest
from keras import ops

import aecore
from aecore.models import (ConvAutoencoder, Corruption, DenoisingAutoencoder, SparseAutoencoder,
                           VariationalAutoencoder)
from aecore.models.variational import kl_divergence

SMALL = {
    "conv": lambda: ConvAutoencoder(input_shape=(8, 8, 1), latent_dim=4, filters=(4, 8)),
    "denoising": lambda: DenoisingAutoencoder(input_shape=(8, 8, 1), latent_dim=4,
                                              hidden_units=(16,), noise="masking",
                                              noise_level=0.5, seed=1),
    "sparse_kl": lambda: SparseAutoencoder(input_shape=(8, 8, 1), latent_dim=80),
    "sparse_l1": lambda: SparseAutoencoder(input_shape=(8, 8, 1), latent_dim=80, sparsity="l1",
                                           sparsity_weight=1e-3),
    "vae": lambda: VariationalAutoencoder(input_shape=(8, 8, 1), latent_dim=2,
                                          hidden_units=(16,), beta=0.5, seed=3),
}


def compile_for(model):
    if isinstance(model, VariationalAutoencoder):
        model.compile(optimizer="adam")  # the VAE brings its own loss
    else:
        model.compile(optimizer="adam", loss="mse")
    return model


@pytest.mark.parametrize("kind", SMALL)
def test_shapes_and_output_range(kind, digits):
    model = SMALL[kind]()
    x = digits.x_test[:5]
    z = model.encode(x)
    assert z.shape == (5, model.latent_dim) and z.dtype == np.float32
    x_hat = model.decode(z)
    assert x_hat.shape == (5, 8, 8, 1)
    assert np.all((x_hat >= 0) & (x_hat <= 1))


@pytest.mark.parametrize("kind", SMALL)
def test_config_and_keras_file_round_trip(kind, digits, tmp_path):
    model = compile_for(SMALL[kind]())
    model.fit(digits.x_train[:64], digits.x_train[:64], epochs=1, verbose=0)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    x = digits.x_test[:10]
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


def test_conv_layer_shapes():
    model = ConvAutoencoder()  # 28x28x1 -> 14x14x32 -> 7x7x64 -> 32
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes[:2] == [(14, 14, 32), (7, 7, 64)] and shapes[-1] == (32,)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.decoder.layers]
    assert shapes[-3:] == [(14, 14, 64), (28, 28, 32), (28, 28, 1)]


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (28, 28, 1), "filters": (8, 8, 8)}, "divisible by 2\\*\\*len"),
    ({"input_shape": (784,)}, "height, width, channels"),
    ({"filters": ()}, "at least one"),
    ({"filters": (8, 0)}, "filters"),
    ({"kernel_size": 0}, "kernel_size"),
    ({"latent_dim": 0}, "latent_dim"),
])
def test_conv_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvAutoencoder(**kwargs)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_pepper"])
def test_corruption_happens_only_in_training(kind):
    layer = Corruption(kind, 0.4, seed=0)
    x = np.full((200, 10), 0.5, "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), x)
    noisy = ops.convert_to_numpy(layer(x, training=True))
    assert noisy.shape == x.shape and np.all((noisy >= 0) & (noisy <= 1))
    changed = np.mean(noisy != x)
    if kind == "gaussian":
        clipped = np.clip(0.5 + np.random.default_rng(0).normal(0, 0.4, 10**6), 0, 1) - 0.5
        assert changed > 0.99 and abs(np.std(noisy - x) - np.std(clipped)) < 0.02
    else:
        assert abs(changed - 0.4) < 0.05
        assert set(np.unique(noisy)) <= ({0.0, 0.5} if kind == "masking" else {0.0, 0.5, 1.0})


def test_denoising_model_corrupts_only_in_training(digits):
    model = SMALL["denoising"]()
    x = digits.x_test[:16]
    clean = ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(clean, model.reconstruct(x), atol=1e-6)
    noisy_pass = ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(noisy_pass, clean)


def test_corrupt_is_seeded_and_matches_the_layer():
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    a = aecore.data.corrupt(x, "masking", 0.3, seed=7)
    np.testing.assert_array_equal(a, aecore.data.corrupt(x, "masking", 0.3, seed=7))
    assert abs(np.mean(a == 0) - 0.3) < 0.03


@pytest.mark.parametrize("kwargs, match", [
    ({"noise": "poisson"}, "kind must be one of"),
    ({"noise": "masking", "noise_level": 1.5}, "level must be in"),
    ({"noise": "gaussian", "noise_level": -0.1}, "level must be a non-negative"),
])
def test_denoising_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenoisingAutoencoder(**kwargs)


@pytest.mark.parametrize("kind", ["sparse_kl", "sparse_l1", "vae"])
def test_extra_loss_appears_in_model_losses(kind, digits):
    model = SMALL[kind]()
    assert model.losses == []
    model(digits.x_test[:8])
    assert len(model.losses) == 1 and float(ops.convert_to_numpy(model.losses[0])) > 0


def test_kl_sparsity_penalty_value():
    model = SparseAutoencoder(input_shape=(4,), latent_dim=3, sparsity_weight=2.0, target=0.1)
    z = np.array([[0.5, 0.1, 0.2], [0.5, 0.1, 0.0]], "float32")  # unit means 0.5, 0.1, 0.1
    kl = lambda q: 0.1 * np.log(0.1 / q) + 0.9 * np.log(0.9 / (1 - q))
    expected = 2.0 * (kl(0.5) + 0 + 0)
    assert float(ops.convert_to_numpy(model.sparsity_penalty(z))) == pytest.approx(expected, 1e-5)


@pytest.mark.parametrize("sparsity", ["kl", "l1"])
def test_sparsity_penalty_changes_training(sparsity, digits):
    def mean_activation(weight):
        aecore.train.set_seed(0)
        model = SparseAutoencoder(input_shape=(8, 8, 1), latent_dim=64, sparsity=sparsity,
                                  sparsity_weight=weight, target=0.05)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        history = model.fit(digits.x_train, digits.x_train, epochs=5, batch_size=64, verbose=0)
        assert "sparsity_loss" in history.history
        return aecore.metrics.code_activity(model.encode(digits.x_test))["mean_activation"]

    assert mean_activation(1.0 if sparsity == "kl" else 0.1) < 0.7 * mean_activation(0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"sparsity": "l2"}, "sparsity must be one of"),
    ({"target": 0.0}, "target must be in"),
    ({"target": 1.0}, "target must be in"),
    ({"sparsity_weight": -1}, "sparsity_weight"),
    ({"sparsity": "kl", "code_activation": "relu"}, "sigmoid"),
])
def test_sparse_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseAutoencoder(**kwargs)


def test_vae_kl_matches_closed_form():
    z_mean = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    z_log_var = np.array([[0.0, 0.0], [np.log(4.0), 0.0]], "float32")
    # per dimension: (sigma^2 + mu^2 - 1 - log sigma^2) / 2
    expected = [0.0, 0.5 * ((4 + 1 - 1 - np.log(4)) + (1 + 4 - 1 - 0))]
    np.testing.assert_allclose(ops.convert_to_numpy(kl_divergence(z_mean, z_log_var)), expected,
                               rtol=1e-6)


def test_vae_logs_its_loss_terms_and_scales_them_per_example(digits):
    aecore.train.set_seed(0)
    model = compile_for(SMALL["vae"]())
    history = model.fit(digits.x_train, epochs=2, batch_size=128, verbose=0,
                        validation_data=(digits.x_test,))
    logs = history.history
    for key in ["loss", "reconstruction_loss", "kl_loss", "val_reconstruction_loss", "val_kl_loss"]:
        assert key in logs and np.isfinite(logs[key]).all()
    # per-example sums: the reconstruction term is tens of nats for 64 pixels, not < 1
    assert logs["reconstruction_loss"][-1] > 10
    np.testing.assert_allclose(logs["loss"][-1],
                               logs["reconstruction_loss"][-1] + 0.5 * logs["kl_loss"][-1],
                               rtol=1e-3)


def test_vae_beta_changes_training(digits):
    def kl_after(beta):
        aecore.train.set_seed(0)
        model = VariationalAutoencoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(32,),
                                       beta=beta, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        return model.fit(digits.x_train, epochs=5, batch_size=64, verbose=0).history["kl_loss"][-1]

    assert kl_after(10.0) < 0.5 * kl_after(0.1)


def test_vae_samples_come_from_the_prior(digits):
    model = SMALL["vae"]()
    samples = model.sample(6, seed=0)
    assert samples.shape == (6, 8, 8, 1)
    np.testing.assert_array_equal(samples, model.sample(6, seed=0))
    z = np.random.default_rng(0).standard_normal((6, 2)).astype("float32")
    np.testing.assert_allclose(samples, model.decode(z), atol=1e-6)
    z_mean, z_log_var = model.encode_distribution(digits.x_test[:4])
    assert z_mean.shape == z_log_var.shape == (4, 2)
    np.testing.assert_allclose(model.reconstruct(digits.x_test[:4]), model.decode(z_mean),
                               atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": -1.0}, "beta"), ({"hidden_units": (0,)}, "hidden_units"),
    ({"latent_dim": -2}, "latent_dim"),
])
def test_vae_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VariationalAutoencoder(**kwargs)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        VariationalAutoencoder().sample(0)


def test_layerwise_pretraining_stacks_the_shallow_models(digits):
    aecore.train.set_seed(0)
    model, histories = aecore.train.pretrain_layerwise(digits.x_train, (32, 16), 8, epochs=2)
    assert isinstance(model, aecore.models.DenseAutoencoder)
    assert model.hidden_units == (32, 16) and model.latent_dim == 8 and len(histories) == 3
    untrained = aecore.models.DenseAutoencoder(input_shape=(8, 8, 1), latent_dim=8,
                                               hidden_units=(32, 16))
    assert (aecore.reconstruction_error(model, digits.x_test).mean()
            < aecore.reconstruction_error(untrained, digits.x_test).mean())


def test_psnr_and_code_activity():
    x = np.zeros((2, 4))
    np.testing.assert_allclose(aecore.metrics.psnr(x, x + 0.1), [20.0, 20.0])
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
