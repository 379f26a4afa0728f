"""Seeding, smoke mode and a thin `fit` wrapper that times training and survives restarts."""

from __future__ import annotations

import os
import time

import keras

SMOKE_ENV = "SMOKE_TEST"


def smoke_mode() -> bool:
    """True when the environment variable ``SMOKE_TEST`` is set to anything but ''/0/false.

    Notebooks shrink their work in smoke mode (fewer epochs, a data subset) so that CI can
    execute all of them in minutes. Results from smoke runs are never published.
    """
    return os.environ.get(SMOKE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    keras.utils.set_random_seed(seed)


def fit(model, x, y=None, *, epochs, batch_size=256, validation_data=None, backup_dir=None,
        verbose=2, callbacks=(), **kwargs):
    """`model.fit` plus two things a long notebook run wants.

    - timing: the returned History has ``history.seconds``, the wall time of training;
    - resuming: with `backup_dir`, Keras' `BackupAndRestore` saves the state after every
      epoch, so re-running an interrupted cell continues where it stopped.

    ``verbose=2`` prints one line per epoch, which reads well in a rendered notebook.
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


def pretrain_layerwise(x, hidden_units, latent_dim, *, epochs, batch_size=256,
                       optimizer="adam", verbose=0):
    """Greedy layer-wise pretraining of a deep dense autoencoder, the historical "stacking".

    Trains one shallow autoencoder per layer: the first on `x`, each next one on the codes of
    the previous; then copies their encoders into the deep encoder and their decoders, in
    reverse order, into the deep decoder (Bengio et al. 2007; Hinton & Salakhutdinov 2006
    used RBMs for the same step). Fine-tune the result end to end with `fit` as usual.

    Args:
        x: training samples; their shape (after the batch axis) is the model's input shape.
        hidden_units, latent_dim: the deep model's layout, as for `dense_encoder`.
        epochs: epochs for each shallow autoencoder.

    Returns:
        ``(model, histories)``: the stacked, not yet fine-tuned `Autoencoder` (ReLU layers,
        ReLU code, sigmoid output) and the `History` of each shallow stage (with ``.seconds``).
    """
    import numpy as np

    from aecore.models import Autoencoder, dense_decoder, dense_encoder

    x = np.asarray(x, dtype="float32")
    shape = x.shape[1:]
    deep = Autoencoder(dense_encoder(shape, latent_dim, hidden_units),
                       dense_decoder(latent_dim, shape, hidden_units))
    encoder_layers = [l for l in deep.encoder.layers if isinstance(l, keras.layers.Dense)]
    decoder_layers = [l for l in deep.decoder.layers if isinstance(l, keras.layers.Dense)]
    codes = x.reshape(len(x), -1)
    histories = []
    for depth, width in enumerate([*hidden_units, latent_dim]):
        # the first stage rebuilds pixels in [0, 1]; later ones rebuild ReLU codes
        shallow = Autoencoder(
            dense_encoder((codes.shape[1],), width),
            dense_decoder(width, (codes.shape[1],),
                          output_activation="sigmoid" if depth == 0 else None))
        shallow.compile(optimizer=optimizer)
        histories.append(fit(shallow, codes, codes, epochs=epochs, batch_size=batch_size,
                             verbose=verbose))
        encoder_layers[depth].set_weights(shallow.encoder.layers[-1].get_weights())
        decoder_layers[-1 - depth].set_weights(shallow.decoder.layers[0].get_weights())
        codes = shallow.encode(codes)
    return deep, histories
