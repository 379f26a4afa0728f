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
