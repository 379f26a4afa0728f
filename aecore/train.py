"""Seeding, smoke mode, a thin `fit` wrapper that times training and survives restarts, and
`cached_fit`, which trains a model once per configuration, data and seed."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from aecore.models import Autoencoder, dense_decoder, dense_encoder

SMOKE_ENV = "SMOKE_TEST"
CACHE_ENV = "AECORE_CACHE_DIR"


def smoke_mode() -> bool:
    """True when the environment variable ``SMOKE_TEST`` is set to anything but ''/0/false.

    Notebooks shrink their work in smoke mode (fewer epochs, a data subset) so that CI can
    execute all of them in minutes. Results from smoke runs are never published.
    """
    return os.environ.get(SMOKE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    keras.utils.set_random_seed(seed)


def cosine_adam(epochs, n_samples, batch_size=256, learning_rate=2e-3, warmup_epochs=0):
    """Adam whose learning rate falls from `learning_rate` to 0 along a half cosine over
    `epochs` epochs of `n_samples` samples in batches of `batch_size` (Loshchilov & Hutter
    2017, without restarts): large steps early, small ones to settle at the end.

    With `warmup_epochs`, the rate first rises linearly from 0 to `learning_rate` over that
    many epochs (a large rate from the first step can throw the weights far off), then the
    cosine takes the remaining epochs (Goyal et al. 2017; the MAE's schedule too)."""
    per_epoch = math.ceil(int(n_samples) / int(batch_size))
    steps, warmup = int(epochs) * per_epoch, int(round(warmup_epochs * per_epoch))
    if steps < 1 or not 0 <= warmup < steps:
        raise ValueError(f"cosine_adam needs at least one step after the warm-up, got "
                         f"epochs={epochs!r}, n_samples={n_samples!r}, "
                         f"warmup_epochs={warmup_epochs!r}.")
    if warmup:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, steps - warmup, warmup_target=float(learning_rate), warmup_steps=warmup)
    else:
        schedule = keras.optimizers.schedules.CosineDecay(float(learning_rate), steps)
    return keras.optimizers.Adam(schedule)


def fit(model, x, y=None, *, epochs, batch_size=256, validation_data=None, backup_dir=None,
        verbose=0, callbacks=(), **kwargs):
    """`model.fit` plus two things a long notebook run wants.

    - timing: the returned History has ``history.seconds``, the wall time of training;
    - resuming: with `backup_dir`, Keras' `BackupAndRestore` saves the state after every
      epoch, so re-running an interrupted cell continues where it stopped.

    Silent by default (a page shows one line per training run, `summary`, and the curves);
    ``verbose=2`` prints one line per epoch.
    """
    callbacks = list(callbacks)
    if backup_dir is not None:  # first, so an epoch is saved before other callbacks run
        callbacks.insert(0, keras.callbacks.BackupAndRestore(os.fspath(backup_dir)))
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        validation_data=validation_data, verbose=verbose,
                        callbacks=callbacks, **kwargs)
    history.seconds = time.perf_counter() - start
    return history


def summary(history, name="training") -> str:
    """One line for a training run: epochs, time and the last value of every logged loss,
    e.g. ``"training: 20 epochs in 61 s; loss 0.0087, val_loss 0.0089"`` (``(cached)``
    when `cached_fit` loaded the model instead of training it)."""
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("history must be a keras History from fit() with at least one "
                         "logged value.")
    epochs = len(next(iter(logs.values())))
    seconds = getattr(history, "seconds", None)
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    cached = " (cached)" if getattr(history, "cached", False) else ""
    last = ", ".join(f"{key} {values[-1]:.4g}" for key, values in logs.items()
                     if key in ("loss", "val_loss") or not key.startswith("val_")
                     and key != "learning_rate")
    return f"{name}: {epochs} epochs{took}{cached}; {last}"


def pretrain_layerwise(x, hidden_units, latent_dim, *, epochs, batch_size=256,
                       optimizer="adam", code_activation="relu", verbose=0):
    """Greedy layer-wise pretraining of a deep dense autoencoder, the historical "stacking".

    Trains one shallow autoencoder per layer: the first on `x`, each next one on the codes of
    the previous; then copies their encoders into the deep encoder and their decoders, in
    reverse order, into the deep decoder (Bengio et al. 2007; Hinton & Salakhutdinov 2006
    used RBMs for the same step). Fine-tune the result end to end with `fit` as usual.

    Args:
        x: training samples; their shape (after the batch axis) is the model's input shape.
        hidden_units, latent_dim: the deep model's layout, as for `dense_encoder`.
        epochs: epochs for each shallow autoencoder.
        code_activation: of the code layer, as for `dense_encoder` (None: linear code).

    Returns:
        ``(model, histories)``: the stacked, not yet fine-tuned `Autoencoder` (ReLU layers,
        the code activation, sigmoid output) and the `History` of each shallow stage (with ``.seconds``).
    """
    x = np.asarray(x, dtype="float32")
    shape = x.shape[1:]
    deep = Autoencoder(dense_encoder(shape, latent_dim, hidden_units,
                                     code_activation=code_activation),
                       dense_decoder(latent_dim, shape, hidden_units))
    encoder_layers = [l for l in deep.encoder.layers if isinstance(l, keras.layers.Dense)]
    decoder_layers = [l for l in deep.decoder.layers if isinstance(l, keras.layers.Dense)]
    codes = x.reshape(len(x), -1)
    histories = []
    for depth, width in enumerate([*hidden_units, latent_dim]):
        # the first stage rebuilds pixels in [0, 1]; later ones rebuild ReLU codes
        last = depth == len(hidden_units)
        shallow = Autoencoder(
            dense_encoder((codes.shape[1],), width,
                          code_activation=code_activation if last else "relu"),
            dense_decoder(width, (codes.shape[1],),
                          output_activation="sigmoid" if depth == 0 else None))
        shallow.compile(optimizer=optimizer)
        histories.append(fit(shallow, codes, codes, epochs=epochs, batch_size=batch_size,
                             verbose=verbose))
        encoder_layers[depth].set_weights(shallow.encoder.layers[-1].get_weights())
        decoder_layers[-1 - depth].set_weights(shallow.decoder.layers[0].get_weights())
        codes = shallow.encode(codes)
    return deep, histories


def cache_dir() -> Path:
    """Where `cached_fit` keeps trained models: ``$AECORE_CACHE_DIR``, else
    ``~/.cache/aecore/models``. The book's build points it inside ``_build``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "aecore" / "models")


def _unnamed(config):
    """A config without ``name`` entries: Keras numbers automatic layer names per session
    (``dense_7``), which must not change what a model is."""
    if isinstance(config, dict):
        return {k: _unnamed(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_unnamed(v) for v in config]
    return config


def _code_fingerprint() -> str:
    """A hash of the package code that decides what a trained model is: the models and
    their parts, the losses and this module. Changing any of it retrains cached models."""
    root = Path(__file__).resolve().parent
    files = sorted([*root.joinpath("models").glob("*.py"), root / "losses.py",
                    root / "train.py"])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _fingerprint(*arrays) -> list:
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        out.append([list(a.shape), str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest()])
    return out


def cached_fit(build, x, y=None, *, seed, epochs, batch_size=256, validation_data=None,
               directory=None, verbose=0):
    """Train ``build()`` with `fit`, once: later calls with the same model, optimizer, data,
    seed and budget load the trained model instead.

    Several chapters use the same trained model (chapter 2's deep autoencoder reappears in
    chapters 3 and 10); the book's build trains it once and the others load it, while a
    reader who runs one chapter alone simply trains it there.

    Args:
        build: a function of no arguments returning a *compiled* model. It runs after
            `set_seed(seed)`, so its initial weights depend on the seed only.
        x, y, validation_data, epochs, batch_size: as for `fit`.
        seed: the seed of the weights and of the data order.
        directory: where models are kept (default: `cache_dir()`).

    The key is a hash of the model's and the optimizer's configurations (layer names left
    out), the bytes of every training and validation array, the seed, epochs, batch size,
    the Keras version and the package code that computes the model (`_code_fingerprint`),
    so a changed part is never served old weights. An entry that cannot be read is
    trained again.

    Returns:
        ``(model, history)`` as from `fit`: the History's ``.history`` dict and ``.seconds``
        (the original training time) are kept with the model; ``history.cached`` tells
        whether the model was loaded.
    """
    epochs = int(epochs)
    set_seed(seed)
    model = build()
    if getattr(model, "optimizer", None) is None:
        raise ValueError("build() must return a compiled model (call model.compile(...) in "
                         "it): the optimizer is part of what is cached.")
    arrays = [x] + ([] if y is None or y is x else [y]) + [a for a in (validation_data or ())
                                                          if a is not None]
    description = {"model": _unnamed(model.get_config()),
                   "optimizer": _unnamed(model.optimizer.get_config()),
                   "data": _fingerprint(*arrays), "y_is_x": y is x,
                   "seed": int(seed), "epochs": epochs, "batch_size": int(batch_size),
                   "keras": keras.__version__, "aecore": _code_fingerprint()}
    key = hashlib.sha256(json.dumps(description, sort_keys=True, default=str)
                         .encode()).hexdigest()[:20]
    folder = Path(directory) if directory is not None else cache_dir()
    path, log_path = folder / f"{key}.keras", folder / f"{key}.json"
    history = keras.callbacks.History()
    if path.exists() and log_path.exists():
        try:
            loaded = keras.saving.load_model(path)
            logs = json.loads(log_path.read_text())
            history.history, history.seconds = logs["history"], logs["seconds"]
        except Exception:  # a broken entry (an interrupted copy, a full disk): train again
            path.unlink(missing_ok=True)
            log_path.unlink(missing_ok=True)
        else:
            history.cached = True
            return loaded, history
    history = fit(model, x, y, epochs=epochs, batch_size=batch_size,
                  validation_data=validation_data, verbose=verbose)
    history.cached = False
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{key}.{os.getpid()}.partial"  # two runs at once: last one wins
    model.save(partial.with_suffix(".keras"))
    os.replace(partial.with_suffix(".keras"), path)
    logs = {"history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
            "seconds": history.seconds}
    partial.write_text(json.dumps(logs))
    os.replace(partial, log_path)
    return model, history
