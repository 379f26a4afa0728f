import keras
import numpy as np
import pytest

import aecore
from aecore.models import Autoencoder, DenseAutoencoder


def test_classic_defaults_are_784_32_784():
    model = DenseAutoencoder()
    dense = [layer for layer in model.encoder.layers + model.decoder.layers
             if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [32, 784]
    assert dense[0].activation is keras.activations.relu
    assert dense[1].activation is keras.activations.sigmoid
    assert model.count_params() == (784 * 32 + 32) + (32 * 784 + 784)


def test_shapes_dtypes_and_range(digits):
    model = DenseAutoencoder(input_shape=digits.input_shape, latent_dim=5, hidden_units=(16,))
    x = digits.x_test[:7]
    z = model.encode(x)
    x_hat = model.decode(z)
    assert z.shape == (7, 5) and x_hat.shape == (7, 8, 8, 1)
    assert z.dtype == np.float32 and x_hat.dtype == np.float32
    assert np.all(z >= 0)  # ReLU code
    assert np.all((x_hat > 0) & (x_hat < 1))  # sigmoid output
    np.testing.assert_allclose(model.reconstruct(x), x_hat, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), x_hat, atol=1e-6)


def test_hidden_units_are_mirrored():
    model = DenseAutoencoder(input_shape=(784,), latent_dim=32, hidden_units=(256, 128))
    enc = [l.units for l in model.encoder.layers if isinstance(l, keras.layers.Dense)]
    dec = [l.units for l in model.decoder.layers if isinstance(l, keras.layers.Dense)]
    assert enc == [256, 128, 32] and dec == [128, 256, 784]


def test_training_reduces_reconstruction_error(digits):
    aecore.train.set_seed(0)
    model = DenseAutoencoder(input_shape=digits.input_shape, latent_dim=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = aecore.reconstruction_error(model, digits.x_test).mean()
    history = aecore.train.fit(model, digits.x_train, digits.x_train, epochs=20, batch_size=64,
                               verbose=0)
    after = aecore.reconstruction_error(model, digits.x_test).mean()
    assert after < 0.5 * before
    assert len(history.history["loss"]) == 20 and history.seconds > 0


def test_config_round_trip():
    model = DenseAutoencoder(input_shape=(28, 28, 1), latent_dim=3, hidden_units=(64, 8),
                             code_activation=None, name="tiny")
    config = model.get_config()
    assert config["latent_dim"] == 3 and config["hidden_units"] == (64, 8)
    clone = DenseAutoencoder.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()


def test_keras_file_round_trip_is_exact(tmp_path, digits):
    model = DenseAutoencoder(input_shape=digits.input_shape, latent_dim=3, hidden_units=(12,))
    model.compile(optimizer="adam", loss="mse")
    model.fit(digits.x_train[:64], digits.x_train[:64], epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is DenseAutoencoder
    assert loaded.latent_dim == 3 and loaded.hidden_units == (12,)
    assert loaded.sample_shape == (8, 8, 1)
    x = digits.x_test[:10]
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))


def test_base_class_needs_an_encoder_and_decoder():
    with pytest.raises(NotImplementedError, match="build_encoder"):
        Autoencoder(input_shape=(4,), latent_dim=2)


def test_a_subclass_only_defines_its_two_halves():
    class Linear(Autoencoder):
        def build_encoder(self):
            return keras.Sequential([keras.Input(self.sample_shape),
                                     keras.layers.Dense(self.latent_dim)])

        def build_decoder(self):
            return keras.Sequential([keras.Input((self.latent_dim,)),
                                     keras.layers.Dense(self.sample_shape[0])])

    model = Linear(input_shape=(6,), latent_dim=2)
    assert model.encode(np.ones((3, 6), "float32")).shape == (3, 2)
    assert model.decode(np.ones((3, 2), "float32")).shape == (3, 6)


@pytest.mark.parametrize("latent_dim", [0, -1, 2.5, "32", None, True])
def test_bad_latent_dim(latent_dim):
    with pytest.raises(ValueError, match=r"latent_dim must be a positive integer.*latent_dim="):
        DenseAutoencoder(latent_dim=latent_dim)


@pytest.mark.parametrize("hidden_units", [(0,), (64, -1), (32.0,), "128", 128, (True,)])
def test_bad_hidden_units(hidden_units):
    with pytest.raises(ValueError, match="hidden_units"):
        DenseAutoencoder(hidden_units=hidden_units)


@pytest.mark.parametrize("input_shape", [(), (28, 0), (-1,), "784", (28.0, 28.0)])
def test_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        DenseAutoencoder(input_shape=input_shape)


def test_wrong_input_shape_is_rejected():
    model = DenseAutoencoder(input_shape=(784,))
    with pytest.raises(ValueError, match=r"shape \(n, 784\).*got \(2, 28, 28, 1\)"):
        model.encode(np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match=r"z must have shape \(n, 32\)"):
        model.decode(np.zeros((2, 16), "float32"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    model = DenseAutoencoder(input_shape=(4,), latent_dim=2)
    x = np.zeros((3, 4), "float32")
    x[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.reconstruct(x)
