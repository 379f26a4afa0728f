"""Generic transformer pieces, for models that work on tokens (the masked autoencoder's).

- `patchify` / `unpatchify`: images <-> non-overlapping square patches, one token each;
- `gather_tokens`: pick tokens by index, per example;
- `PositionEmbedding`: a learned vector per position, added to the tokens;
- `TransformerBlock`, `transformer_blocks`: pre-norm self-attention blocks.

Everything is written with `keras.ops` (any backend).
"""

from __future__ import annotations

import keras
from keras import ops

from aecore import _checks


def patch_grid(image_shape, patch_size):
    image_shape = _checks.shape("image_shape", image_shape)
    patch_size = _checks.positive_int("patch_size", patch_size)
    if len(image_shape) != 3 or image_shape[0] % patch_size or image_shape[1] % patch_size:
        raise ValueError(f"image_shape must be (height, width, channels) with height and "
                         f"width divisible by patch_size={patch_size}, got {image_shape}.")
    rows, cols = image_shape[0] // patch_size, image_shape[1] // patch_size
    return image_shape, patch_size, rows, cols


def patchify(images, patch_size):
    """``(batch, H, W, C) -> (batch, H/p * W/p, p * p * C)``: patches in row-major order,
    the pixels of each patch in row-major order, channels last (`keras.ops`)."""
    shape = tuple(images.shape[1:])
    _, p, rows, cols = patch_grid(shape, patch_size)
    c = shape[2]
    x = ops.reshape(images, (-1, rows, p, cols, p, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))              # (batch, rows, cols, p, p, c)
    return ops.reshape(x, (-1, rows * cols, p * p * c))


def unpatchify(patches, patch_size, image_shape):
    """The inverse of `patchify`: ``(batch, n_patches, p * p * C) -> (batch, H, W, C)``."""
    image_shape, p, rows, cols = patch_grid(image_shape, patch_size)
    c = image_shape[2]
    x = ops.reshape(patches, (-1, rows, cols, p, p, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))              # (batch, rows, p, cols, p, c)
    return ops.reshape(x, (-1, *image_shape))


def gather_tokens(tokens, index):
    """``tokens[b, index[b, i], :]``: ``(batch, n, d), (batch, k) -> (batch, k, d)``."""
    index = ops.cast(index, "int32")
    index = ops.broadcast_to(index[:, :, None], (*ops.shape(index), ops.shape(tokens)[-1]))
    return ops.take_along_axis(tokens, index, axis=1)



@keras.saving.register_keras_serializable(package="aecore")
class PositionEmbedding(keras.layers.Layer):
    """Add a learned vector per position: ``tokens + table[positions]``.

    Called as ``layer(tokens)`` the positions are ``0, 1, ..., n - 1``; as ``layer(tokens,
    positions)`` they are given per token (an encoder that sees only some patches).
    """

    def __init__(self, n_positions, **kwargs):
        super().__init__(**kwargs)
        self.n_positions = _checks.positive_int("n_positions", n_positions)

    def build(self, tokens_shape, positions_shape=None):
        self.table = self.add_weight(shape=(self.n_positions, int(tokens_shape[-1])),
                                     initializer=keras.initializers.RandomNormal(0, 0.02),
                                     name="table")

    def call(self, tokens, positions=None):
        if positions is None:
            return tokens + self.table[None, : ops.shape(tokens)[1]]
        return tokens + ops.take(self.table, ops.cast(positions, "int32"), axis=0)

    def get_config(self):
        return {**super().get_config(), "n_positions": self.n_positions}


@keras.saving.register_keras_serializable(package="aecore")
class TransformerBlock(keras.layers.Layer):
    """A pre-norm transformer block on tokens ``(batch, n, width)``: self-attention with
    `heads` heads, then an MLP of `mlp_units` GELU units, each with a residual."""

    def __init__(self, width, heads, mlp_units, **kwargs):
        super().__init__(**kwargs)
        self.width = _checks.positive_int("width", width)
        self.heads = _checks.positive_int("heads", heads)
        self.mlp_units = _checks.positive_int("mlp_units", mlp_units)
        if width % heads:
            raise ValueError(f"width must be divisible by heads, got width={width}, "
                             f"heads={heads}.")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.attention = keras.layers.MultiHeadAttention(heads, width // heads)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.mlp1 = keras.layers.Dense(mlp_units, activation="gelu")
        self.mlp2 = keras.layers.Dense(width)

    def build(self, shape):
        shape = (None, None, self.width)
        self.norm1.build(shape)
        self.attention.build(shape, shape)
        self.norm2.build(shape)
        self.mlp1.build(shape)
        self.mlp2.build((None, None, self.mlp_units))

    def call(self, x, training=None):
        h = self.norm1(x)
        x = x + self.attention(h, h, training=training)
        return x + self.mlp2(self.mlp1(self.norm2(x)))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "heads": self.heads,
                "mlp_units": self.mlp_units}


def transformer_blocks(width, depth, heads, mlp_units, name="block"):
    """`depth` `TransformerBlock`s of the same size, named ``{name}0``, ..."""
    depth = _checks.positive_int("depth", depth)
    return [TransformerBlock(width, heads, mlp_units, name=f"{name}{i}") for i in range(depth)]
