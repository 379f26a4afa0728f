"""The book's shared trained models: one recipe per configuration, trained once per seed.

A configuration that several chapters use is trained here, through
`aecore.train.cached_fit`, so that a book build trains it once per data set and seed and every
later chapter loads the same weights: a number quoted for a configuration is the same wherever
it appears. A reader who runs one chapter alone trains the models it needs there (kept in
``~/.cache/aecore/models`` for the next chapter).

Every recipe follows one stated rule: Adam on a cosine schedule with one warm-up epoch
(`aecore.train.cosine_adam`), batches of `BATCH_SIZE`, for the configuration's fixed number
of epochs (``EPOCHS``), validated on ``data.x_val``. The learning rates were chosen once on
the validation split (never the test set); the epochs are what the book's CPU budget buys (a
target of 45 minutes for the whole book on two CPU cores, every model trained once per seed;
the README gives the measured build times; chapter 3 prints what a run of each recipe
costs). The validation error still falls slowly at the end of every schedule: a longer
schedule (chapter 2's second exercise) still gives something.

========================  =====================================================  =========
recipe                    model                                                  chapters
========================  =====================================================  =========
`basic`                   784-32-784, ReLU code, sigmoid output                  1, 2, 7
`deep`                    784-512-256-k-256-512-784, linear code                 2, 3, 7, 10
`conv`                    conv 16-32 filters, stride 2, a dense code of 32       3, 10, 12
`denoising`               784-256-128-64 trained on noisy inputs                 4, 9
`vae`                     784-512-256-(2 x k), Gaussian code, Bernoulli output   6, 11
========================  =====================================================  =========

Each returns ``(model, history)`` from `cached_fit` (``history.cached`` tells whether it was
loaded); dense models take flat images (``x.reshape(len(x), -1)``), the convolutional one
takes ``(n, 28, 28, 1)``.
"""

from __future__ import annotations

import numpy as np

from aecore import train
from aecore.models import (Autoencoder, Corruption, GaussianCode, conv_decoder, conv_encoder,
                           dense_decoder, dense_encoder)

BATCH_SIZE = 128
WARMUP_EPOCHS = 1
EPOCHS = {"basic": 10, "deep": 8, "conv": 5, "denoising": 6, "vae": 4}
LEARNING_RATES = {"basic": 4e-3, "deep": 4e-3, "conv": 8e-3, "denoising": 4e-3, "vae": 4e-3}


def flat(x) -> np.ndarray:
    """Images ``(n, 28, 28, 1)`` as vectors ``(n, 784)``, what the dense recipes take."""
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def _splits(data, flatten):
    if data.x_val is None or len(data.x_val) == 0:
        raise ValueError("the shared models validate on data.x_val, which is empty: load the "
                         "data with a validation split, e.g. load_dataset(name, "
                         "validation_split=1 / 12).")
    if flatten:
        return flat(data.x_train), flat(data.x_val)
    return np.asarray(data.x_train), np.asarray(data.x_val)


def _fit(name, make, x, x_val, seed, epochs=None, y=None, y_val=None):
    """`cached_fit` of ``make()`` with the book's rule for the configuration `name`."""
    epochs = EPOCHS[name] if epochs is None else epochs

    def build():
        model = make()
        model.compile(optimizer=train.cosine_adam(
            epochs, len(x), BATCH_SIZE, LEARNING_RATES[name],
            warmup_epochs=min(WARMUP_EPOCHS, epochs - 1)))
        return model

    y = x if y is None else y
    y_val = x_val if y_val is None else y_val
    return train.cached_fit(build, x, y, seed=seed, epochs=epochs, batch_size=BATCH_SIZE,
                            validation_data=(x_val, y_val))


def basic(data, seed, *, latent_dim=32, epochs=None):
    """Chapter 1's classic autoencoder: 784-`latent_dim`-784, a ReLU code and a sigmoid
    output, one dense layer on each side."""
    x, x_val = _splits(data, flatten=True)
    return _fit("basic", lambda: Autoencoder(dense_encoder(x.shape[1:], latent_dim),
                                             dense_decoder(latent_dim, x.shape[1:])),
                x, x_val, seed, epochs)


def deep(data, seed, *, latent_dim=32, hidden_units=(512, 256), epochs=None):
    """Chapter 2's deep autoencoder: 784-512-256-`latent_dim`, mirrored, ReLU hidden layers,
    a linear code and a sigmoid output."""
    x, x_val = _splits(data, flatten=True)
    return _fit("deep", lambda: Autoencoder(
        dense_encoder(x.shape[1:], latent_dim, hidden_units, code_activation=None),
        dense_decoder(latent_dim, x.shape[1:], hidden_units)), x, x_val, seed, epochs)


def conv(data, seed, *, latent_dim=32, filters=(16, 32), epochs=None):
    """Chapter 3's convolutional autoencoder: two stride-2 convolutions (16 and 32 filters),
    a dense linear code of `latent_dim`, and the mirror image back."""
    x, x_val = _splits(data, flatten=False)
    return _fit("conv", lambda: Autoencoder(
        conv_encoder(x.shape[1:], latent_dim, filters),
        conv_decoder(latent_dim, x.shape[1:], filters)), x, x_val, seed, epochs)


def denoising(data, seed, *, kind="gaussian", level=0.3, latent_dim=64,
              hidden_units=(256, 128), epochs=None):
    """Chapters 4 and 9's denoising autoencoder: 784-256-128-64, mirrored, trained to rebuild
    clean images from inputs corrupted afresh every batch (`Corruption(kind, level)`); its
    validation error is measured on clean inputs."""
    x, x_val = _splits(data, flatten=True)
    return _fit("denoising", lambda: Autoencoder(
        dense_encoder(x.shape[1:], latent_dim, hidden_units),
        dense_decoder(latent_dim, x.shape[1:], hidden_units),
        corruption=Corruption(kind, level, seed=seed)), x, x_val, seed, epochs)


def vae(data, seed, *, latent_dim=2, hidden_units=(512, 256), beta=1.0, epochs=None):
    """Chapters 6 and 11's variational autoencoder: an encoder 784-512-256 to ``z_mean`` and
    ``z_log_var`` of `latent_dim` numbers each, a Gaussian code, and a decoder with Bernoulli
    pixels; ``beta`` weights the KL term (1: the ELBO)."""
    x, x_val = _splits(data, flatten=True)
    return _fit("vae", lambda: Autoencoder(
        dense_encoder(x.shape[1:], 2 * latent_dim, hidden_units, code_activation=None),
        dense_decoder(latent_dim, x.shape[1:], hidden_units),
        code=GaussianCode(beta=beta, seed=seed), reconstruction="bernoulli"),
        x, x_val, seed, epochs)
