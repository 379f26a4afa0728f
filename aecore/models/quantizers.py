"""Discrete codes: vector quantisation (VQ-VAE) and finite scalar quantisation (FSQ).

Both are code parts of `aecore.models.Autoencoder` (see `aecore.models.parts`): they sit
between the encoder and the decoder and snap the encoder's output to one of finitely many
values. They work on the **last axis** of the encoder's output, whatever its rank: with
`aecore.models.grid_encoder` the output is a grid ``(batch, 7, 7, dim)``, one vector per
position, and each position's vector is snapped; the decoder (`grid_decoder`) takes the
snapped grid.

- `VectorQuantizer` (van den Oord et al. 2017): each vector is replaced by the nearest of
  `num_codes` learned codebook vectors; the gradient passes straight through the snapping;
  loss terms ``codebook`` and ``commitment``.
- `FSQ` (Mentzer et al. 2023): each number is bounded and rounded to one of a few levels;
  the "codebook" is the fixed grid of level combinations, with no loss term.
- `RestartDeadCodes`: a callback that moves unused codebook vectors onto encoder outputs,
  a fix for codebook collapse.

Measuring codes (`aecore.metrics.codebook_usage`, `aecore.metrics.bits_per_image`), rounding
a continuous code (`aecore.baselines.uniform_quantize`) and a prior over code indices
(`aecore.models.code_prior`) live with their kind.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aecore import _checks


class _Quantizer(keras.layers.Layer):
    """What the two quantisers share: ``dim`` numbers per position on the code's last axis,
    ``num_codes`` possible codes per position."""

    dim: int
    num_codes: int

    @property
    def bits_per_position(self) -> float:
        """Bits to name one position's code: ``log2(num_codes)``."""
        return math.log2(self.num_codes)

    def compute_output_shape(self, shape):
        if shape[-1] is not None and shape[-1] != self.dim:
            raise ValueError(f"{self!r} works on vectors of {self.dim} numbers, but the "
                             f"encoder's output has {shape[-1]} on its last axis (shape "
                             f"{tuple(shape)}): give the encoder's code layer {self.dim} "
                             f"channels (grid_encoder(..., dim={self.dim})).")
        return tuple(shape)


def _checked_indices(indices, num_codes) -> np.ndarray:
    """Code indices as a NumPy integer array in [0, num_codes) (any shape)."""
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {indices.dtype} of shape "
                         f"{indices.shape}.")
    if indices.size and (indices.min() < 0 or indices.max() >= num_codes):
        raise ValueError(f"indices must lie in [0, {num_codes}), got values "
                         f"from {indices.min()} to {indices.max()}.")
    return indices


@keras.saving.register_keras_serializable(package="aecore")
class VectorQuantizer(_Quantizer):
    """Snap each `dim`-number vector of the code to the nearest of `num_codes` codebook
    vectors (van den Oord et al. 2017).

    The encoder's output ``h`` of shape ``(batch, ..., dim)`` (a grid ``(batch, 7, 7,
    dim)``, say) holds one vector ``h_p`` per position. Each is replaced by its nearest
    codebook vector ``e_k``, ``k = argmin_j ||h_p - e_j||^2``, so an image is described by
    one integer in ``[0, num_codes)`` per position: ``positions * log2(num_codes)`` bits.

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
        dim: D, the length of each codebook vector; the encoder's last axis must have it.
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

    def __repr__(self):
        return f"VectorQuantizer(num_codes={self.num_codes}, dim={self.dim})"

    def indices(self, h):
        """The nearest codebook entry of every position: ``(batch, ...)`` integers, ``h``'s
        shape without its last axis. NumPy in, NumPy out; tensors in, tensors out."""
        numpy_in = not ops.is_tensor(h)
        if numpy_in:
            h = np.asarray(h, dtype="float32")
        self.compute_output_shape(h.shape)
        flat = ops.reshape(h, (-1, self.dim))                        # (positions, D)
        codebook = ops.cast(self.codebook, flat.dtype)
        distances = (ops.sum(flat ** 2, axis=1, keepdims=True)     # ||h||^2
                     - 2.0 * ops.matmul(flat, ops.transpose(codebook))
                     + ops.sum(codebook ** 2, axis=1)[None, :])    # + ||e||^2
        idx = ops.reshape(ops.argmin(distances, axis=1), ops.shape(h)[:-1])
        return ops.convert_to_numpy(idx) if numpy_in else idx

    def codes(self, indices):
        """Codebook vectors for integer indices of any shape: ``(batch, ...) -> (batch,
        ..., dim)``, ready for the decoder."""
        numpy_in = not ops.is_tensor(indices)
        if numpy_in:
            indices = _checked_indices(indices, self.num_codes)
        e = ops.take(self.codebook, ops.reshape(indices, (-1,)), axis=0)
        e = ops.reshape(e, (*ops.shape(indices), self.dim))
        return ops.convert_to_numpy(e) if numpy_in else e

    def snap(self, h):
        """``h -> e``: each vector replaced by its nearest codebook vector (no gradient
        trick; the gradient reaches the codebook only)."""
        return ops.cast(self.codes(self.indices(h)), h.dtype)

    def call(self, h, training=None):
        e = self.snap(h)
        return h + ops.stop_gradient(e - h)  # value e, gradient d/dh = identity

    def loss_terms(self, h, z):
        e = self.snap(h)  # the same snap as in call, with the codebook's gradient
        return {"codebook": self.codebook_weight
                * ops.mean((ops.stop_gradient(h) - e) ** 2),
                "commitment": self.commitment
                * ops.mean((h - ops.stop_gradient(e)) ** 2)}

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "dim": self.dim,
                "commitment": self.commitment, "codebook_weight": self.codebook_weight,
                "init_scale": self.init_scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class FSQ(_Quantizer):
    """Finite scalar quantisation (Mentzer et al. 2023): no codebook to learn.

    The encoder's last axis holds ``len(levels)`` numbers per position. Number ``i`` is
    bounded to ``levels[i]`` possible values and rounded:
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

    def __repr__(self):
        return f"FSQ(levels={self.levels})"

    def _constants(self, dtype):
        levels = np.asarray(self.levels, dtype="float64")
        half = (levels - 1) * (1 - self.EPS) / 2
        offset = np.where(levels % 2 == 1, 0.0, 0.5)
        shift = np.tan(offset / half)  # as in the paper's code; atanh for L = 2 fails
        width = np.floor(levels / 2)
        return tuple(ops.convert_to_tensor(a.astype("float32"), dtype=dtype)
                     for a in (half, offset, shift, width))

    def _rounded(self, h):
        """Integers-as-floats, straight-through rounded, shaped like ``h``."""
        self.compute_output_shape(h.shape)
        half, offset, shift, _ = self._constants(h.dtype)
        bounded = ops.tanh(h + shift) * half - offset
        return bounded + ops.stop_gradient(ops.round(bounded) - bounded)

    def call(self, h, training=None):
        _, _, _, width = self._constants(h.dtype)
        return self._rounded(h) / width

    def snap(self, h):
        return self.call(h)

    def loss_terms(self, h, z):
        return {}

    def indices(self, h):
        """The code of every position as one integer in ``[0, prod(levels))``: the levels
        read as the digits of a mixed-radix number; ``h``'s shape without its last axis.
        NumPy in, NumPy out."""
        numpy_in = not ops.is_tensor(h)
        if numpy_in:
            h = ops.convert_to_tensor(np.asarray(h, dtype="float32"))
        _, _, _, width = self._constants(h.dtype)
        digits = ops.cast(ops.round(self._rounded(h) + width), "int32")  # 0 .. L_i - 1
        basis = np.cumprod((1, *self.levels[:-1])).astype("int32")
        idx = ops.sum(digits * ops.convert_to_tensor(basis), axis=-1)
        return ops.convert_to_numpy(idx) if numpy_in else idx

    def codes(self, indices):
        """The code vectors of integer indices of any shape, ``(batch, ...) -> (batch, ...,
        len(levels))``, like `call`'s output. NumPy in and out."""
        indices = _checked_indices(indices, self.num_codes)
        levels = np.asarray(self.levels)
        basis = np.cumprod((1, *self.levels[:-1]))
        digits = (indices[..., None] // basis) % levels             # 0 .. L_i - 1
        return ((digits - levels // 2) / (levels // 2)).astype("float32")   # in [-1, 1]

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
                            .astype("float32")
                            for chunk in np.array_split(self.x_sample,
                                                        max(1, len(self.x_sample) // 512))])
        vectors = h.reshape(-1, quantizer.dim)                   # one per position
        counts = np.bincount(quantizer.indices(vectors).ravel(),
                             minlength=quantizer.num_codes)
        dead = np.flatnonzero(counts < self.min_count)
        if dead.size:
            codebook = ops.convert_to_numpy(quantizer.codebook).copy()
            picks = vectors[self.rng.choice(len(vectors), dead.size, replace=False)]
            noise = 0.01 * vectors.std() * self.rng.standard_normal(picks.shape)
            codebook[dead] = picks + noise
            quantizer.codebook.assign(codebook)
        self.restarted.append(int(dead.size))
