"""Training helper: repeatable with a seed, and resumable after an interruption."""

import keras
import numpy as np
import pytest

import aecore
from aecore.models import Autoencoder, Corruption, dense_decoder, dense_encoder


class StopAfter(keras.callbacks.Callback):
    """Simulates a dropped session: raises at the end of epoch `epoch` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("session dropped")


def new_model():
    return Autoencoder(dense_encoder((8, 8, 1), 8, (16,)), dense_decoder(8, (8, 8, 1), (16,)),
                       corruption=Corruption("masking", 0.2))  # seeded by set_seed


def train(digits, seed, epochs=3, **kwargs):
    aecore.train.set_seed(seed)
    model = new_model()
    model.compile(optimizer="adam")
    history = aecore.train.fit(model, digits.x_train, digits.x_train, epochs=epochs,
                               batch_size=64, verbose=0, **kwargs)
    return model, history


def test_same_seed_same_numbers(digits):
    (a, ha), (b, hb) = train(digits, seed=1), train(digits, seed=1)
    np.testing.assert_array_equal(ha.history["loss"], hb.history["loss"])
    np.testing.assert_array_equal(a.reconstruct(digits.x_test), b.reconstruct(digits.x_test))
    _, hc = train(digits, seed=2)
    assert ha.history["loss"] != hc.history["loss"]


def test_rerunning_an_interrupted_fit_resumes(digits, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        train(digits, seed=0, epochs=5, backup_dir=backup, callbacks=[StopAfter(1)])
    assert backup.exists()
    # A new kernel: a fresh model, the same cell run again.
    model, history = train(digits, seed=0, epochs=5, backup_dir=backup)
    assert len(history.history["loss"]) == 3  # epochs 3, 4 and 5 only
    _, uninterrupted = train(digits, seed=0, epochs=5)
    assert history.history["loss"][-1] == pytest.approx(uninterrupted.history["loss"][-1],
                                                        rel=0.05)
    assert not backup.exists() or not any(backup.iterdir())  # cleaned up after success


def compiled_model():
    model = new_model()
    model.compile(optimizer="adam")
    return model


def cached(digits, tmp_path, seed=1, epochs=2, x=None):
    x = digits.x_train if x is None else x
    return aecore.train.cached_fit(compiled_model, x, x, seed=seed, epochs=epochs,
                                   batch_size=64, directory=tmp_path, verbose=0)


def test_cached_fit_trains_once_then_loads_the_same_model(digits, tmp_path):
    trained, h1 = cached(digits, tmp_path)
    keras.backend.clear_session()  # fresh layer names: they must not change the key
    new_model()                    # ... nor must layers built in between
    loaded, h2 = cached(digits, tmp_path)
    assert (h1.cached, h2.cached) == (False, True)
    assert h2.history == {k: [float(v) for v in vals] for k, vals in h1.history.items()}
    assert h2.seconds == pytest.approx(h1.seconds)
    np.testing.assert_array_equal(loaded.reconstruct(digits.x_test),
                                  trained.reconstruct(digits.x_test))
    assert len(list(tmp_path.glob("*.keras"))) == 1
    assert not list(tmp_path.glob("*partial*"))


def test_cached_fit_key_covers_seed_budget_and_data(digits, tmp_path):
    cached(digits, tmp_path)
    _, other_seed = cached(digits, tmp_path, seed=2)
    _, other_budget = cached(digits, tmp_path, epochs=1)
    x = digits.x_train.copy()
    x[0, 0, 0, 0] = 1 - x[0, 0, 0, 0]  # one pixel changed
    _, other_data = cached(digits, tmp_path, x=x)
    assert not (other_seed.cached or other_budget.cached or other_data.cached)
    assert len(list(tmp_path.glob("*.keras"))) == 4


def test_cached_fit_without_compile_is_an_error(digits, tmp_path):
    with pytest.raises(ValueError, match="compiled"):
        aecore.train.cached_fit(new_model, digits.x_train, seed=0, epochs=1,
                                directory=tmp_path)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    assert aecore.train.cache_dir() == tmp_path
    monkeypatch.delenv("AECORE_CACHE_DIR")
    assert aecore.train.cache_dir().parts[-2:] == ("aecore", "models")


def test_cosine_adam_decays_from_the_rate_to_zero_over_the_run():
    opt = aecore.train.cosine_adam(epochs=3, n_samples=1000, batch_size=256, learning_rate=0.01)
    schedule = opt.learning_rate if callable(opt.learning_rate) else opt._learning_rate
    steps = 3 * 4  # ceil(1000 / 256) = 4 batches per epoch
    values = [float(schedule(t)) for t in (0, steps // 2, steps)]
    np.testing.assert_allclose(values, [0.01, 0.005, 0.0], atol=1e-7)  # 0.01 * (1 + cos)/2
    with pytest.raises(ValueError, match="at least one step"):
        aecore.train.cosine_adam(epochs=0, n_samples=1000)


def test_the_shared_deep_autoencoder_is_trained_once(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="validation_split"):
        aecore.zoo.deep_autoencoder(digits, 0, epochs=1)  # no validation images
    digits = aecore.load_dataset("digits", validation_split=0.1)
    model, history = aecore.zoo.deep_autoencoder(digits, 0, latent_dim=4, hidden_units=(16,),
                                                 epochs=1)
    again, history2 = aecore.zoo.deep_autoencoder(digits, 0, latent_dim=4, hidden_units=(16,),
                                                  epochs=1)
    assert (history.cached, history2.cached) == (False, True)
    assert model.encoder.input_shape == (None, 64) and "val_loss" in history2.history
    assert model.encoder.get_layer("code").get_config()["activation"] == "linear"
    flat = digits.x_test.reshape(len(digits.x_test), -1)
    np.testing.assert_array_equal(model.encode(flat), again.encode(flat))
