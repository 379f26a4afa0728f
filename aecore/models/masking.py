"""Masked autoencoders (He et al. 2021) at Fashion-MNIST scale, as an `Autoencoder`
composition::

    Autoencoder(mae_encoder((28, 28, 1), patch_size=4, mask_ratio=0.75),
                mae_decoder((28, 28, 1), patch_size=4),
                reconstruction=HiddenPatchMSE())

or, with the patch size stated once, ``masked_autoencoder((28, 28, 1), patch_size=4)``.

1. `patchify` cuts each image into non-overlapping ``patch_size x patch_size`` patches, one
   token of ``patch_size**2 * channels`` pixel values each (28 x 28 with 4 x 4: 49 tokens);
2. while training, a random fraction `mask_ratio` of each image's patches is dropped
   (`random_keep`) and the **encoder sees only the visible patches** with their positions
   (12 of 49 at 75 %); at inference it sees all of them;
3. the encoder's code is ``[tokens, hidden]``: its tokens back at their places (zeros at
   hidden places) and ``hidden`` ``(batch, n_patches)``, 1 where a patch was hidden;
4. a light **decoder** puts a learned **mask token** at every hidden place and predicts the
   pixels of every patch;
5. the loss, `aecore.losses.HiddenPatchMSE`, is the squared error **on the hidden patches
   only**, read from ``hidden``.

This module holds what is specific to masking: the random masks, the two layers
(`PatchEncoder`, `PatchDecoder`), filling in images from a fixed mask
(`reconstruct_masked`) and a probe's features (`mae_features`). The halves' builders are in
`aecore.models.builders`, the transformer pieces in `aecore.models.transformer`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from aecore import _checks
from aecore.models.transformer import (PositionEmbedding, gather_tokens, patch_grid,
                                       patchify, transformer_blocks, unpatchify)


# -- random masks ---------------------------------------------------------------------------------
def n_visible(n_patches, mask_ratio):
    """Patches the encoder sees: ``int(n_patches * (1 - mask_ratio))``, at least 1."""
    return max(1, int(n_patches * (1 - mask_ratio)))


def random_keep(batch, n_patches, mask_ratio, seed=None):
    """A random mask per image: ``(keep, restore, mask)``.

    ``keep`` (batch, n_visible): the visible patches' indices, in random order;
    ``restore`` (batch, n_patches): where each patch sits in ``[visible..., masked...]``
    (the argsort of the shuffle), used to put tokens back in place; ``mask`` (batch,
    n_patches): 1.0 for a masked patch, 0.0 for a visible one. `seed` is an int, a
    `keras.random.SeedGenerator` or None (`keras.ops`).
    """
    keep_n = n_visible(n_patches, mask_ratio)
    noise = keras.random.uniform((batch, n_patches), seed=seed)
    shuffle = ops.argsort(noise, axis=-1)                 # a random permutation per image
    restore = ops.argsort(shuffle, axis=-1)
    mask = ops.cast(restore >= keep_n, "float32")         # places after the visible ones
    return shuffle[:, :keep_n], restore, mask


def numpy_keep(batch, n_patches, mask_ratio, seed=0):
    """`random_keep` drawn with NumPy: the same mask every time for the same seed."""
    rng = np.random.default_rng(seed)
    shuffle = np.argsort(rng.random((batch, n_patches)), axis=-1)
    restore = np.argsort(shuffle, axis=-1)
    keep_n = n_visible(n_patches, mask_ratio)
    return shuffle[:, :keep_n], restore, (restore >= keep_n).astype("float32")


# -- the two layers ---------------------------------------------------------------------------
class _PatchLayer(keras.layers.Layer):
    """What the two layers share: the image, its patches and their count."""

    def _patches(self, image_shape, patch_size):
        self.image_shape, self.patch_size, rows, cols = patch_grid(image_shape, patch_size)
        self.n_patches = rows * cols
        self.patch_dim = patch_size * patch_size * self.image_shape[2]


@keras.saving.register_keras_serializable(package="aecore")
class PatchEncoder(_PatchLayer):
    """The MAE's encoder, as one layer: ``images -> [tokens, hidden]``.

    Cuts each image into patches (`patchify`); while training, keeps a random fraction
    ``1 - mask_ratio`` of them and drops the rest *before* the transformer (at inference
    all are kept). The visible patches are embedded linearly, their positions' learned
    vectors added, and `depth` transformer blocks and a layer norm applied (`transform`).
    Outputs ``tokens`` ``(batch, n_patches, width)``, each token back at its place and
    zeros at hidden places, and ``hidden`` ``(batch, n_patches)``, 1 where the patch was
    hidden. There is no bottleneck: an MAE's difficulty is the hiding.
    """

    def __init__(self, image_shape, patch_size=4, mask_ratio=0.75, width=64, depth=2,
                 heads=4, mlp_units=128, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._patches(image_shape, patch_size)
        self.mask_ratio = _checks.probability("mask_ratio", mask_ratio)
        self.width = _checks.positive_int("width", width)
        self.depth, self.heads, self.mlp_units, self.seed = depth, heads, mlp_units, seed
        self.embed = keras.layers.Dense(self.width, name="embed")
        self.positions = PositionEmbedding(self.n_patches, name="positions")
        self.blocks = transformer_blocks(self.width, depth, heads, mlp_units)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def n_visible(self):
        return n_visible(self.n_patches, self.mask_ratio)

    def build(self, input_shape):
        self.embed.build((None, None, self.patch_dim))
        self.positions.build((None, None, self.width))
        for block in self.blocks:
            block.build((None, None, self.width))
        self.norm.build((None, None, self.width))

    def transform(self, tokens, positions, training=None):
        """The transformer on the tokens it is given: ``(batch, k, patch_dim)`` with their
        positions ``(batch, k)`` -> ``(batch, k, width)``."""
        x = self.positions(self.embed(tokens), positions)
        for block in self.blocks:
            x = block(x, training=training)
        return self.norm(x)

    def encode_visible(self, patches, keep, restore, training=None):
        """``[tokens, hidden]`` when only the patches ``keep`` are visible (`random_keep`
        or `numpy_keep` give ``keep`` and ``restore``)."""
        keep = ops.convert_to_tensor(keep)
        tokens = self.transform(gather_tokens(patches, keep), keep, training=training)
        batch, k = ops.shape(tokens)[0], ops.shape(tokens)[1]
        zeros = ops.zeros((batch, self.n_patches - k, self.width), dtype=tokens.dtype)
        placed = gather_tokens(ops.concatenate([tokens, zeros], axis=1), restore)
        hidden = ops.cast(ops.convert_to_tensor(restore) >= k, tokens.dtype)
        return [placed, hidden]                             # back in patch order

    def call(self, x, training=None):
        patches = patchify(x, self.patch_size)
        batch = ops.shape(x)[0]
        if training and self.mask_ratio > 0:
            keep, restore, _ = random_keep(batch, self.n_patches, self.mask_ratio,
                                           seed=self.seed_generator)
        else:  # inference: every patch visible, in order
            keep = ops.broadcast_to(ops.arange(self.n_patches, dtype="int32")[None],
                                    (batch, self.n_patches))
            restore = keep
        return self.encode_visible(patches, keep, restore, training=training)

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], self.n_patches, self.width),
                (input_shape[0], self.n_patches)]

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "patch_size": self.patch_size, "mask_ratio": self.mask_ratio,
                "width": self.width, "depth": self.depth, "heads": self.heads,
                "mlp_units": self.mlp_units, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class PatchDecoder(_PatchLayer):
    """The MAE's light decoder, as one layer: ``[tokens, hidden]`` -> images.

    Every hidden place gets the same learned **mask token**; then a linear map to `width`,
    the decoder's own position vectors, `depth` transformer blocks, a layer norm and a
    linear map per token to the patch's pixels (sigmoid: in [0, 1]), put back together
    with `unpatchify`.
    """

    def __init__(self, image_shape, patch_size=4, input_width=64, width=32, depth=1,
                 heads=2, mlp_units=64, output_activation="sigmoid", **kwargs):
        super().__init__(**kwargs)
        self._patches(image_shape, patch_size)
        self.input_width = _checks.positive_int("input_width", input_width)
        self.width = _checks.positive_int("width", width)
        self.depth, self.heads, self.mlp_units = depth, heads, mlp_units
        self.output_activation = output_activation
        self.embed = keras.layers.Dense(self.width, name="embed")
        self.positions = PositionEmbedding(self.n_patches, name="positions")
        self.blocks = transformer_blocks(self.width, depth, heads, mlp_units)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.pixels = keras.layers.Dense(self.patch_dim, activation=output_activation,
                                         name="pixels")

    def build(self, input_shape):
        self.mask_token = self.add_weight(
            shape=(self.input_width,), name="mask_token",
            initializer=keras.initializers.RandomNormal(0, 0.02))
        self.embed.build((None, None, self.input_width))
        self.positions.build((None, None, self.width))
        for block in self.blocks:
            block.build((None, None, self.width))
        self.norm.build((None, None, self.width))
        self.pixels.build((None, None, self.width))

    def call(self, inputs, training=None):
        tokens, hidden = inputs
        hidden = ops.cast(hidden, tokens.dtype)[..., None]         # (batch, n_patches, 1)
        tokens = ops.where(hidden > 0.5, ops.cast(self.mask_token, tokens.dtype), tokens)
        x = self.positions(self.embed(tokens))
        for block in self.blocks:
            x = block(x, training=training)
        x = self.pixels(self.norm(x))                      # (batch, n_patches, patch_dim)
        return unpatchify(x, self.patch_size, self.image_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], *self.image_shape)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "patch_size": self.patch_size, "input_width": self.input_width,
                "width": self.width, "depth": self.depth, "heads": self.heads,
                "mlp_units": self.mlp_units, "output_activation": self.output_activation}


# -- using a trained MAE -------------------------------------------------------------------------
def patch_encoder(model) -> PatchEncoder:
    """The `PatchEncoder` layer of a masked autoencoder (a ValueError for other models)."""
    layers = [l for l in getattr(model.encoder, "layers", []) if isinstance(l, PatchEncoder)]
    if not layers:
        raise ValueError("expected a masked autoencoder: an Autoencoder whose encoder is "
                         "aecore.models.mae_encoder(...).")
    return layers[0]


def mae_features(model, x, batch_size=256) -> np.ndarray:
    """Features for a probe: the encoder on *all* patches (none hidden), its output tokens
    averaged over the patches: ``(n, width)``."""
    patch_encoder(model)
    tokens, _ = model.encode(x, batch_size=batch_size)
    return tokens.mean(axis=1)


def reconstruct_masked(model, x, seed=0, mask_ratio=None, batch_size=256):
    """Fill in images from a seeded random mask (the same for the same seed).

    Returns ``(x_hat, mask)``: the decoder's prediction for every patch, as images, and
    the mask ``(n, n_patches)``, 1.0 where a patch was hidden from the encoder.
    `mask_ratio` defaults to the model's own.
    """
    layer = patch_encoder(model)
    x = _checks.batch("x", x, layer.image_shape, unit_range=True)
    ratio = layer.mask_ratio if mask_ratio is None else _checks.probability(
        "mask_ratio", mask_ratio)
    keep, restore, mask = numpy_keep(len(x), layer.n_patches, ratio, seed)
    out = [np.zeros((0, *layer.image_shape), "float32")]
    for s in range(0, len(x), batch_size):
        patches = patchify(x[s:s + batch_size], layer.patch_size)
        code = layer.encode_visible(patches, keep[s:s + batch_size],
                                    ops.convert_to_tensor(restore[s:s + batch_size]))
        out.append(ops.convert_to_numpy(model.decoder(code, training=False))
                   .astype("float32"))
    return np.concatenate(out), mask


__all__ = ["PatchDecoder", "PatchEncoder", "mae_features", "n_visible", "numpy_keep",
           "patch_encoder", "random_keep", "reconstruct_masked"]
