"""Trained models that more than one chapter uses.

Chapter 2 trains its deep dense autoencoder over three seeds; chapter 3 compares the
convolutional model with it and chapter 10 probes its codes. `deep_autoencoder` is the one
recipe they all call: `aecore.train.cached_fit` trains it once per data set, seed and budget
and the later chapters load it (a reader running chapter 10 alone trains it there).
"""

from __future__ import annotations

import numpy as np

from aecore import train
from aecore.models import Autoencoder, dense_decoder, dense_encoder


def deep_autoencoder(data, seed, *, latent_dim=32, hidden_units=(512, 256), epochs=20,
                     batch_size=256, learning_rate=2e-3, verbose=0):
    """Chapter 2's deep dense autoencoder, trained on ``data.x_train`` (flattened) and
    validated on ``data.x_val``.

    784-512-256-32-256-512-784 with ReLU hidden layers, a linear code and a sigmoid output;
    Adam with `aecore.train.cosine_adam`'s schedule.

    Returns:
        ``(model, history)`` from `aecore.train.cached_fit`; the model takes flat images
        (``x.reshape(len(x), -1)``).
    """
    if data.x_val is None or len(data.x_val) == 0:
        raise ValueError("deep_autoencoder validates on data.x_val, which is empty: load the "
                         "data with a validation split, e.g. load_dataset(name, "
                         "validation_split=1 / 12).")
    x = np.asarray(data.x_train).reshape(len(data.x_train), -1)
    x_val = np.asarray(data.x_val).reshape(len(data.x_val), -1)

    def build():
        model = Autoencoder(
            dense_encoder(x.shape[1:], latent_dim, hidden_units, code_activation=None),
            dense_decoder(latent_dim, x.shape[1:], hidden_units))
        model.compile(optimizer=train.cosine_adam(epochs, len(x), batch_size, learning_rate))
        return model

    return train.cached_fit(build, x, x, seed=seed, epochs=epochs, batch_size=batch_size,
                            validation_data=(x_val, x_val), verbose=verbose)
