"""A learned prior over a code's symbols: what turns a discrete autoencoder into a
generative model and an entropy coder.

`code_prior` reads an image's code indices (a grid read in raster order, flattened) one at
a time and predicts each from the ones before it. `prior_bits` measures a code's length
under it (``-log2 p``), `sample_prior` draws new index grids from it.
"""

from __future__ import annotations

import keras
import numpy as np

from aecore import _checks


def _flat_indices(indices) -> np.ndarray:
    """Integer indices ``(batch, ...)`` -> ``(batch, positions)`` in raster order."""
    indices = np.asarray(indices)
    if indices.ndim < 2 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError("indices must be integers of shape (batch, positions) or (batch, "
                         f"rows, cols), got {indices.dtype} of shape {indices.shape}.")
    return indices.reshape(len(indices), -1)


def code_prior(num_codes, positions, *, units=128, embedding_dim=32,
               name="code_prior") -> keras.Sequential:
    """A small autoregressive prior over a grid of code indices, read in raster order.

    ``p(k_1, ..., k_P) = prod_p p(k_p | k_1 .. k_{p-1})``: an embedding of the previous
    indices, a GRU and a softmax over the `num_codes` codes. Its inputs are the indices
    shifted right by one with a start symbol (`prior_inputs`); its outputs are the logits
    of each position, ``(batch, positions, num_codes)``. Train it with
    ``compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))`` and
    ``fit(prior_inputs(idx, num_codes), idx)``.
    """
    num_codes = _checks.positive_int("num_codes", num_codes)
    positions = _checks.positive_int("positions", positions)
    return keras.Sequential([
        keras.Input((positions,), dtype="int32"),
        keras.layers.Embedding(num_codes + 1, embedding_dim),  # + the start symbol
        keras.layers.GRU(_checks.positive_int("units", units), return_sequences=True),
        keras.layers.Dense(num_codes)], name=name)


def prior_inputs(indices, num_codes) -> np.ndarray:
    """The indices shifted right by one position, with ``num_codes`` as start symbol:
    position p of the result holds the index at p - 1, what the prior may see."""
    indices = _flat_indices(indices)
    num_codes = _checks.positive_int("num_codes", num_codes)
    start = np.full((len(indices), 1), num_codes, dtype="int32")
    return np.concatenate([start, indices[:, :-1].astype("int32")], axis=1)


def prior_bits(prior, indices, num_codes, batch_size=256) -> np.ndarray:
    """``-log2 p(indices)`` under a `code_prior`, one number per image: the length of the
    code after entropy coding with that prior. `indices` ``(batch, ...)`` are read in
    raster order."""
    indices = _flat_indices(indices)
    logits = prior.predict(prior_inputs(indices, num_codes), batch_size=batch_size,
                           verbose=0).astype("float64")
    logits -= logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    chosen = np.take_along_axis(log_p, indices[..., None], axis=-1)[..., 0]
    return -chosen.sum(axis=1) / np.log(2)


def sample_prior(prior, n, num_codes, positions, seed=0) -> np.ndarray:
    """Draw `n` index grids from a `code_prior`, one position after the other:
    ``(n, positions)`` integers."""
    n = _checks.positive_int("n", n)
    rng = np.random.default_rng(seed)
    idx = np.zeros((n, positions), dtype="int32")
    for p in range(positions):
        logits = np.asarray(prior.predict_on_batch(prior_inputs(idx, num_codes)),
                            dtype="float64")[:, p]
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        idx[:, p] = [rng.choice(num_codes, p=row) for row in prob]
    return idx
