"""How good is a reconstruction? Per-sample errors, ready for scikit-learn."""

from __future__ import annotations

import numpy as np

from aecore import _checks


def reconstruction_error(model, x, batch_size=256) -> np.ndarray:
    """Mean squared error between each sample and its reconstruction.

    Args:
        model: an `aecore` autoencoder, or any Keras model whose ``predict(x)`` returns
            arrays shaped like `x`.
        x: array of samples, shape ``(n, *model's input_shape)``, finite values.

    Returns:
        float64 array of shape ``(n,)``: the mean over pixels of ``(x - x_hat) ** 2``.
    """
    x = _checks.batch("x", x, getattr(model, "sample_shape", np.shape(x)[1:]))
    if len(x) == 0:
        raise ValueError("x is empty: pass at least one sample.")
    return mse_per_sample(x, model.predict(x, batch_size=batch_size, verbose=0))


def mse_per_sample(x, x_hat) -> np.ndarray:
    """Mean squared error per sample between two arrays of the same shape ``(n, ...)``."""
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}.")
    return np.mean((x - x_hat).reshape(len(x), -1) ** 2, axis=1)
