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


def test_cached_fit_retrains_when_the_package_code_changes(digits, tmp_path, monkeypatch):
    """A changed part (here: the fingerprint of aecore's model code) must never be served
    the weights trained by the old code."""
    _, first = cached(digits, tmp_path)
    real = aecore.train._code_fingerprint()
    assert real == aecore.train._code_fingerprint()       # stable between calls
    monkeypatch.setattr(aecore.train, "_code_fingerprint", lambda: real + "changed")
    _, after_change = cached(digits, tmp_path)
    assert (first.cached, after_change.cached) == (False, False)
    assert len(list(tmp_path.glob("*.keras"))) == 2


def test_code_fingerprint_follows_the_files_of_the_models(tmp_path, monkeypatch):
    package = tmp_path / "aecore"
    (package / "models").mkdir(parents=True)
    for name in ("losses.py", "train.py", "models/parts.py", "metrics.py"):
        (package / name).write_text("# v1\n")
    monkeypatch.setattr(aecore.train, "__file__", str(package / "train.py"))
    before = aecore.train._code_fingerprint()
    (package / "metrics.py").write_text("# v2\n")         # not part of what a model is
    assert aecore.train._code_fingerprint() == before
    (package / "models" / "parts.py").write_text("# v2\n")  # a part's code changed
    assert aecore.train._code_fingerprint() != before


def test_cached_fit_trains_again_over_a_broken_entry(digits, tmp_path):
    trained, _ = cached(digits, tmp_path)
    (entry,) = tmp_path.glob("*.keras")
    entry.write_bytes(b"not a zip file")                 # an interrupted copy, say
    again, history = cached(digits, tmp_path)
    assert history.cached is False
    np.testing.assert_array_equal(again.reconstruct(digits.x_test),
                                  trained.reconstruct(digits.x_test))  # same seed, same run
    _, loaded = cached(digits, tmp_path)
    assert loaded.cached is True                          # the new entry is good


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


def test_summary_is_one_line_with_the_last_values():
    history = keras.callbacks.History()
    history.history = {"loss": [0.5, 0.25], "kl": [0.1, 0.05], "val_loss": [0.6, 0.3],
                       "val_kl": [0.2, 0.1], "learning_rate": [1e-3, 5e-4]}
    history.seconds = 12.4
    line = aecore.train.summary(history, "VAE")
    assert line == "VAE: 2 epochs in 12 s; loss 0.25, kl 0.05, val_loss 0.3"
    history.cached = True
    assert "(cached)" in aecore.train.summary(history)
    with pytest.raises(ValueError, match="History"):
        aecore.train.summary({})
