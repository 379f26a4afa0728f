"""Discrete codes: vector quantisation (VQ-VAE) and finite scalar quantisation (FSQ).

Both are code parts of `aecore.models.Autoencoder` (see `aecore.models.parts`): they sit
between the encoder and the decoder and snap the encoder's output to one of finitely many
values. The encoder outputs a grid of vectors flattened to ``(batch, positions * dim)``
(`grid_encoder`); the quantiser works on each position's `dim` numbers, and the decoder
(`grid_decoder`) gets the snapped grid, flattened the same way.

- `VectorQuantizer` (van den Oord et al. 2017): each position's vector is replaced by the
  nearest of `num_codes` learned codebook vectors; the gradient passes straight through
  the snapping; loss terms ``codebook`` and ``commitment``.
- `FSQ` (Mentzer et al. 2023): each number is bounded and rounded to one of a few levels;
  the "codebook" is the fixed grid of level combinations, with no loss term.
- `RestartDeadCodes`: a callback that moves unused codebook vectors onto encoder outputs,
  a fix for codebook collapse.
- `codebook_usage`, `uniform_quantize`, `bits_per_image`: measuring usage and bits, and
  quantising a continuous code to a given number of bits for a comparison at equal bits.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aecore import _checks


def _positions(encoder_dim, dim, who):
    if encoder_dim % dim:
        raise ValueError(f"{who} splits the encoder's output into vectors of {dim} numbers, "
                         f"but the encoder outputs {encoder_dim} numbers, not a multiple "
                         f"of {dim}.")
    return encoder_dim // dim


def _check_width(h, dim, who):
    width = h.shape[-1]
    if width is not None and width % dim:
        raise ValueError(f"{who} needs inputs whose last axis is a multiple of {dim}, "
                         f"got shape {tuple(h.shape)}.")


def _checked_indices(indices, num_codes) -> np.ndarray:
    """Code indices as a NumPy ``(batch, positions)`` integer array in [0, num_codes)."""
    indices = np.asarray(indices)
    if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError("indices must be integers of shape (batch, positions), "
                         f"got {indices.dtype} of shape {indices.shape}.")
    if indices.size and (indices.min() < 0 or indices.max() >= num_codes):
        raise ValueError(f"indices must lie in [0, {num_codes}), got values "
                         f"from {indices.min()} to {indices.max()}.")
    return indices


@keras.saving.register_keras_serializable(package="aecore")
class VectorQuantizer(keras.layers.Layer):
    """Snap each `dim`-number vector of the code to the nearest of `num_codes` codebook
    vectors (van den Oord et al. 2017).

    The encoder's output ``h`` of shape ``(batch, positions * dim)`` is read as
    ``positions`` vectors ``h_p``. Each is replaced by its nearest codebook vector
    ``e_k``, ``k = argmin_j ||h_p - e_j||^2``, so an image is described by ``positions``
    integers in ``[0, num_codes)``: ``positions * log2(num_codes)`` bits.

    Snapping has no useful gradient, so the forward pass returns
    ``z = h + stop_gradient(e_k - h)``: its value is ``e_k``, its gradient with respect to
    ``h`` is the identity (the *straight-through* estimator). The codebook learns through
    two loss terms, means over all the code's numbers:

    - ``codebook`` = ``codebook_weight * mean((stop_gradient(h) - e_k)^2)``: moves the
      chosen codebook vectors towards the encoder outputs;
    - ``commitment`` = ``commitment * mean((h - stop_gradient(e_k))^2)``: keeps the
      encoder's outputs close to the codes they chose (beta = 0.25 in the paper).

    Args:
        num_codes: K, the codebook's size.
        dim: D, the length of each codebook vector.
        commitment: beta, the weight of the commitment term.
        codebook_weight: the weight of the codebook term.
        init_scale: the codebook starts uniform in ``[-init_scale, init_scale]``; the
            default ``1 / num_codes`` is the common choice of VQ-VAE code.
        seed: seed of the codebook's initialisation.
    """

    terms = ("codebook", "commitment")

    def __init__(self, num_codes, dim, commitment=0.25, codebook_weight=1.0,
                 init_scale=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = _checks.positive_int("num_codes", num_codes)
        self.dim = _checks.positive_int("dim", dim)
        self.commitment = _checks.non_negative("commitment", commitment)
        self.codebook_weight = _checks.non_negative("codebook_weight", codebook_weight)
        if init_scale is not None:
            init_scale = _checks.non_negative("init_scale", init_scale)
        self.init_scale = init_scale
        self.seed = seed
        scale = 1.0 / self.num_codes if init_scale is None else init_scale
        self.codebook = self.add_weight(
            shape=(self.num_codes, self.dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-scale, scale, seed=seed))
        self.built = True  # the codebook's shape does not depend on the input

    @property
    def bits_per_position(self) -> float:
        return math.log2(self.num_codes)

    def indices(self, h):
        """The nearest codebook entry of every position: ``(batch, positions)`` integers.

        NumPy in, NumPy out; tensors in, tensors out."""
        numpy_in = not ops.is_tensor(h)
        if numpy_in:
            h = np.asarray(h, dtype="float32")
        _check_width(h, self.dim, "VectorQuantizer")
        flat = ops.reshape(h, (-1, self.dim))                        # (batch*positions, D)
        codebook = ops.cast(self.codebook, flat.dtype)
        distances = (ops.sum(flat ** 2, axis=1, keepdims=True)     # ||h||^2
                     - 2.0 * ops.matmul(flat, ops.transpose(codebook))
                     + ops.sum(codebook ** 2, axis=1)[None, :])    # + ||e||^2
        idx = ops.reshape(ops.argmin(distances, axis=1), (-1, h.shape[-1] // self.dim))
        return ops.convert_to_numpy(idx) if numpy_in else idx

    def codes(self, indices):
        """Codebook vectors for ``(batch, positions)`` indices, flattened like the encoder's
        output: ``(batch, positions * dim)``, ready for the decoder."""
        numpy_in = not ops.is_tensor(indices)
        if numpy_in:
            indices = _checked_indices(indices, self.num_codes)
        e = ops.take(self.codebook, ops.reshape(indices, (-1,)), axis=0)
        e = ops.reshape(e, (-1, indices.shape[-1] * self.dim))
        return ops.convert_to_numpy(e) if numpy_in else e

    def snap(self, h):
        """``h -> e``: each vector replaced by its nearest codebook vector (no gradient
        trick; the gradient reaches the codebook only)."""
        return self.codes(self.indices(h))

    def call(self, h, training=None):
        e = self.snap(h)
        return h + ops.stop_gradient(e - h)  # value e, gradient d/dh = identity

    def loss_terms(self, h, z):
        e = self.snap(h)  # the same snap as in call, with the codebook's gradient
        return {"codebook": self.codebook_weight
                * ops.mean((ops.stop_gradient(h) - e) ** 2),
                "commitment": self.commitment
                * ops.mean((h - ops.stop_gradient(e)) ** 2)}

    def code_dim(self, encoder_dim):
        _positions(encoder_dim, self.dim, "VectorQuantizer")
        return encoder_dim

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "dim": self.dim,
                "commitment": self.commitment, "codebook_weight": self.codebook_weight,
                "init_scale": self.init_scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class FSQ(keras.layers.Layer):
    """Finite scalar quantisation (Mentzer et al. 2023): no codebook to learn.

    The encoder's output is read as vectors of ``len(levels)`` numbers. Number ``i`` of
    each vector is bounded to ``levels[i]`` possible values and rounded:
    ``round(tanh(h_i + shift_i) * half_i - offset_i)``, with ``half_i = (L_i - 1) / 2``
    (shrunk by 0.1 % so the ends round inwards), ``offset_i`` 0.5 for an even ``L_i`` and
    0 for an odd one, and ``shift_i = tan(offset_i / half_i)`` as in the paper's code (so
    ``h = 0`` rounds to 0; ``atanh`` would map it to 0 exactly, but fails for ``L_i = 2``).
    The integers are divided by ``L_i // 2``, which puts the code in [-1, 1]. Rounding uses
    the straight-through estimator. The implied codebook is every combination of levels:
    ``prod(levels)`` codes per position, ``log2(prod(levels))`` bits. No loss term.

    Args:
        levels: the number of levels of each number of a vector, e.g. ``(8, 5, 5, 5)``
            (1000 codes) or ``(4, 4, 4)`` (64 codes); each at least 2.
    """

    terms = ()
    EPS = 1e-3

    def __init__(self, levels=(8, 5, 5, 5), **kwargs):
        super().__init__(**kwargs)
        levels = _checks.positive_ints("levels", levels)
        if not levels or min(levels) < 2:
            raise ValueError(f"levels must be a non-empty sequence of integers >= 2, "
                             f"got levels={levels!r}.")
        self.levels = levels
        self.dim = len(levels)
        self.num_codes = math.prod(levels)
        self.built = True  # no weights

    @property
    def bits_per_position(self) -> float:
        return math.log2(self.num_codes)

    def _constants(self, dtype):
        levels = np.asarray(self.levels, dtype="float64")
        half = (levels - 1) * (1 - self.EPS) / 2
        offset = np.where(levels % 2 == 1, 0.0, 0.5)
        shift = np.tan(offset / half)  # as in the paper's code; atanh for L = 2 fails
        width = np.floor(levels / 2)
        return tuple(ops.convert_to_tensor(a.astype("float32"), dtype=dtype)
                     for a in (half, offset, shift, width))

    def _rounded(self, h):
        """(batch, positions, dim) integers-as-floats, straight-through rounded."""
        _check_width(h, self.dim, "FSQ")
        v = ops.reshape(h, (-1, h.shape[-1] // self.dim, self.dim))
        half, offset, shift, _ = self._constants(v.dtype)
        bounded = ops.tanh(v + shift) * half - offset
        return bounded + ops.stop_gradient(ops.round(bounded) - bounded)

    def call(self, h, training=None):
        _, _, _, width = self._constants(h.dtype)
        return ops.reshape(self._rounded(h) / width, (-1, h.shape[-1]))

    def snap(self, h):
        return self.call(h)

    def loss_terms(self, h, z):
        return {}

    def indices(self, h):
        """The code of every position as one integer in ``[0, prod(levels))``: the levels
        read as the digits of a mixed-radix number. NumPy in, NumPy out."""
        numpy_in = not ops.is_tensor(h)
        if numpy_in:
            h = ops.convert_to_tensor(np.asarray(h, dtype="float32"))
        _, _, _, width = self._constants(h.dtype)
        digits = ops.cast(ops.round(self._rounded(h) + width), "int32")  # 0 .. L_i - 1
        basis = np.cumprod((1, *self.levels[:-1])).astype("int32")
        idx = ops.sum(digits * ops.convert_to_tensor(basis), axis=-1)
        return ops.convert_to_numpy(idx) if numpy_in else idx

    def codes(self, indices):
        """The code vectors of ``(batch, positions)`` indices, flattened like `call`'s
        output. NumPy in and out."""
        indices = _checked_indices(indices, self.num_codes)
        levels = np.asarray(self.levels)
        basis = np.cumprod((1, *self.levels[:-1]))
        digits = (indices[..., None] // basis) % levels             # 0 .. L_i - 1
        values = (digits - levels // 2) / (levels // 2)             # in [-1, 1]
        return values.reshape(len(indices), -1).astype("float32")

    def code_dim(self, encoder_dim):
        _positions(encoder_dim, self.dim, "FSQ")
        return encoder_dim

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}


class RestartDeadCodes(keras.callbacks.Callback):
    """Move unused codebook vectors of a `VectorQuantizer` onto encoder outputs.

    Every `every` training batches, the callback encodes `x_sample`, counts how often each
    codebook vector is the nearest one, and replaces each vector used fewer than
    `min_count` times by an encoder output drawn at random from the sample (plus a little
    noise). A dead code gets a second chance where the data actually are.

    Args:
        x_sample: training inputs to measure usage on (a few thousand are enough).
        every: batches between two checks.
        min_count: codes used fewer times than this on the sample count as dead.
        stop_after: no restarts after this many batches (None: all through training), so
            the last codes have time to settle.
        seed: seed of the draws.

    Attributes:
        restarted: the number of codes moved at each check, in order.
    """

    def __init__(self, x_sample, every=50, min_count=1, stop_after=None, seed=0):
        super().__init__()
        self.x_sample = np.asarray(x_sample, dtype="float32")
        self.every = _checks.positive_int("every", every)
        self.min_count = _checks.positive_int("min_count", min_count)
        if stop_after is not None:
            stop_after = _checks.positive_int("stop_after", stop_after)
        self.stop_after = stop_after
        self.rng = np.random.default_rng(seed)
        self.restarted = []
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.every or (self.stop_after is not None
                                          and self._batches > self.stop_after):
            return
        quantizer = self.model.code
        if not isinstance(quantizer, VectorQuantizer):
            raise ValueError("RestartDeadCodes needs an Autoencoder whose code part is a "
                             f"VectorQuantizer, got {type(quantizer).__name__}.")
        if hasattr(self.model, "jax_state_sync"):  # JAX: write the step's state back
            self.model.jax_state_sync()
        h = np.concatenate([ops.convert_to_numpy(self.model.encoder(chunk, training=False))
                            for chunk in np.array_split(self.x_sample,
                                                        max(1, len(self.x_sample) // 512))])
        vectors = h.reshape(-1, quantizer.dim)
        counts = np.bincount(quantizer.indices(h).ravel(), minlength=quantizer.num_codes)
        dead = np.flatnonzero(counts < self.min_count)
        if dead.size:
            codebook = ops.convert_to_numpy(quantizer.codebook).copy()
            picks = vectors[self.rng.choice(len(vectors), dead.size, replace=False)]
            noise = 0.01 * vectors.std() * self.rng.standard_normal(picks.shape)
            codebook[dead] = picks + noise
            quantizer.codebook.assign(codebook)
        self.restarted.append(int(dead.size))


def grid_encoder(input_shape, dim, filters=(16, 32), *, kernel_size=3,
                 activation="elu", name="encoder") -> keras.Sequential:
    """Strided convolutions down to a grid of `dim`-number vectors, flattened.

    With the defaults on 28 x 28 x 1 images: ``28x28x1 -> 14x14x16 -> 7x7x32 -> 7x7xdim``
    (a 1 x 1 convolution, linear), flattened to ``(batch, 49 * dim)``: one vector per
    position, each seeing a patch of the image. A `VectorQuantizer` or `FSQ` with the same
    `dim` then snaps each position's vector. The hidden layers use ELU, not ReLU: a code
    that is exactly 0 everywhere (FSQ's starting point, as every small number rounds to
    0) would give a ReLU decoder zero gradients, and training would never start.
    """
    input_shape, filters, _ = _checks.conv_shapes(input_shape, filters)
    dim = _checks.positive_int("dim", dim)
    layers = [keras.Input(input_shape)]
    layers += [keras.layers.Conv2D(f, kernel_size, strides=2, padding="same",
                                   activation=activation) for f in filters]
    layers += [keras.layers.Conv2D(dim, 1, name="code"),          # (batch, 7, 7, dim)
               keras.layers.Flatten()]                            # (batch, 49 * dim)
    return keras.Sequential(layers, name=name)


def grid_decoder(output_shape, dim, filters=(16, 32), *, kernel_size=3,
                 activation="elu", output_activation="sigmoid",
                 name="decoder") -> keras.Sequential:
    """The mirror of `grid_encoder`: ``(batch, positions * dim)`` -> the grid -> images.

    With the defaults: ``49 * dim -> 7x7xdim -> 7x7x32 -> 14x14x32 -> 28x28x16 ->
    28x28x1``.
    """
    output_shape, filters, smallest = _checks.conv_shapes(output_shape, filters,
                                                          "output_shape")
    dim = _checks.positive_int("dim", dim)
    grid = (smallest[0], smallest[1], dim)
    layers = [keras.Input((math.prod(grid),)), keras.layers.Reshape(grid),
              keras.layers.Conv2D(filters[-1], kernel_size, padding="same",
                                  activation=activation)]
    layers += [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                            activation=activation)
               for f in reversed(filters)]
    layers += [keras.layers.Conv2D(output_shape[-1], kernel_size, padding="same",
                                   activation=output_activation)]
    return keras.Sequential(layers, name=name)


def codebook_usage(indices, num_codes) -> dict:
    """How much of a codebook a set of codes uses.

    Args:
        indices: code indices of any shape (e.g. ``(images, positions)``).
        num_codes: the codebook's size K.

    Returns:
        ``{"perplexity": exp(entropy of the usage frequencies), "used": codes used at
        least once, "dead": codes never used}``. The perplexity is K when every code is used
        equally often and 1 when a single code takes everything.
    """
    num_codes = _checks.positive_int("num_codes", num_codes)
    indices = np.asarray(indices)
    if indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a non-empty integer array, got {indices.dtype} "
                         f"of shape {indices.shape}.")
    if indices.min() < 0 or indices.max() >= num_codes:
        raise ValueError(f"indices must lie in [0, {num_codes}), got values from "
                         f"{indices.min()} to {indices.max()}.")
    p = np.bincount(indices.ravel(), minlength=num_codes) / indices.size
    nz = p[p > 0]
    used = int(nz.size)
    return {"perplexity": float(np.exp(-np.sum(nz * np.log(nz)))), "used": used,
            "dead": num_codes - used}


def uniform_quantize(z, bits, low, high) -> np.ndarray:
    """Round each number of a continuous code to one of ``2**bits`` evenly spaced values.

    Values are clipped to ``[low, high]`` (scalars, or one per code dimension, e.g. the
    training codes' ``min(axis=0)`` and ``max(axis=0)``) and rounded to the nearest of
    ``low + i * (high - low) / (2**bits - 1)``, ``i = 0 .. 2**bits - 1``. Storing ``i``
    takes `bits` bits per number.
    """
    bits = _checks.positive_int("bits", bits)
    z = np.asarray(z, dtype="float64")
    low, high = np.asarray(low, dtype="float64"), np.asarray(high, dtype="float64")
    if np.any(high < low):
        raise ValueError("high must be at least low in every dimension.")
    steps = 2 ** bits - 1
    span = np.where(high > low, high - low, 1.0)
    i = np.round((np.clip(z, low, high) - low) / span * steps)
    return (low + i * (high - low) / steps).astype("float32")


def bits_per_image(positions, num_codes) -> float:
    """Bits to store a code of `positions` symbols, each one of `num_codes` values:
    ``positions * log2(num_codes)`` (a fixed-length code, no entropy coding).

    A 7 x 7 grid with a 64-entry codebook: ``bits_per_image(49, 64) = 294``; 49 numbers
    quantised to 6 bits each: ``bits_per_image(49, 2**6)``, the same.
    """
    positions = _checks.positive_int("positions", positions)
    num_codes = _checks.positive_int("num_codes", num_codes)
    return positions * math.log2(num_codes)


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
    indices = np.asarray(indices)
    num_codes = _checks.positive_int("num_codes", num_codes)
    if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError("indices must be integers of shape (batch, positions), "
                         f"got {indices.dtype} of shape {indices.shape}.")
    start = np.full((len(indices), 1), num_codes, dtype="int32")
    return np.concatenate([start, indices[:, :-1].astype("int32")], axis=1)


def prior_bits(prior, indices, num_codes, batch_size=256) -> np.ndarray:
    """``-log2 p(indices)`` under a `code_prior`, one number per image: the length of the
    code after entropy coding with that prior."""
    indices = np.asarray(indices)
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
