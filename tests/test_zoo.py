"""aecore.zoo: each shared configuration is what its docstring says, follows the book's rule,
and is trained once per data set and seed."""

import keras
import numpy as np
import pytest

import aecore
from aecore import zoo
from aecore.models import Corruption, GaussianCode


@pytest.fixture(scope="module")
def data():
    return aecore.load_dataset("digits", validation_split=0.1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    return tmp_path


def dense_widths(model):
    return [l.units for l in model.encoder.layers if isinstance(l, keras.layers.Dense)]


@pytest.mark.parametrize("recipe, kwargs, widths, code", [
    (zoo.basic, {}, [32], "relu"),
    (zoo.deep, {"latent_dim": 8}, [512, 256, 8], "linear"),
    (zoo.denoising, {}, [256, 128, 64], "relu"),
    (zoo.vae, {"latent_dim": 2}, [512, 256, 4], "linear"),
])
def test_dense_recipes_build_what_they_say(recipe, kwargs, widths, code, data, cache):
    model, history = recipe(data, 0, epochs=1, **kwargs)
    assert dense_widths(model) == widths
    assert model.encoder.get_layer("code").get_config()["activation"] == code
    assert model.encoder.input_shape == (None, 64) and "val_loss" in history.history
    assert len(history.history["loss"]) == 1 and history.cached is False
    if recipe is zoo.denoising:
        assert isinstance(model.corruption, Corruption) and model.corruption.level == 0.3
    if recipe is zoo.vae:
        assert isinstance(model.code, GaussianCode) and model.reconstruction == "bernoulli"


def test_the_rule_is_cosine_with_warm_up_at_the_books_batch_size(data, cache):
    model, _ = zoo.deep(data, 0, latent_dim=4, epochs=3)
    schedule = model.optimizer.learning_rate if callable(model.optimizer.learning_rate) \
        else model.optimizer._learning_rate
    steps_per_epoch = int(np.ceil(len(data.x_train) / zoo.BATCH_SIZE))
    rates = [float(schedule(t)) for t in (0, steps_per_epoch, 3 * steps_per_epoch)]
    np.testing.assert_allclose(rates, [0.0, zoo.LEARNING_RATES["deep"], 0.0], atol=1e-7)


def test_a_configuration_is_trained_once_per_seed(data, cache):
    model, first = zoo.conv(data, 0, epochs=1)
    again, second = zoo.conv(data, 0, epochs=1)
    _, other_seed = zoo.conv(data, 1, epochs=1)
    assert (first.cached, second.cached, other_seed.cached) == (False, True, False)
    assert model.encoder.output_shape == (None, 32)
    np.testing.assert_array_equal(model.encode(data.x_test), again.encode(data.x_test))


def test_recipes_need_a_validation_split(cache):
    with pytest.raises(ValueError, match="validation_split"):
        zoo.basic(aecore.load_dataset("digits"), 0, epochs=1)
