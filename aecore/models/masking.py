"""Masked autoencoders (He et al. 2021) at Fashion-MNIST scale, as an `Autoencoder`
composition::

    Autoencoder(mae_encoder((28, 28, 1), patch_size=4, mask_ratio=0.75),
                mae_decoder((28, 28, 1), patch_size=4), code=HiddenPatchLoss(4))

1. `patchify` cuts each image into non-overlapping ``patch_size x patch_size`` patches, one
   token of ``patch_size**2 * channels`` pixel values each (28 x 28 with 4 x 4: 49 tokens);
2. while training, a random fraction `mask_ratio` of each image's patches is dropped
   (`random_keep`) and the **encoder sees only the visible patches** with their positions
   (12 of 49 at 75 %); at inference it sees all of them;
3. the encoder's tokens go back to their places, a learned **mask token** fills every
   hidden place, and a light **decoder** predicts the pixels of every patch;
4. the reconstruction term is the squared error **on the hidden patches only**
   (`HiddenPatchLoss`, `masked_patch_mse`).

The halves are small transformers (`PatchEncoder`, `PatchDecoder`). `mae_features` gives
features for a probe (the encoder on all patches, its tokens averaged);
`reconstruct_masked` fills in images from a fixed, seeded mask.
"""

from __future__ import annotations


import keras
import numpy as np
from keras import ops

from aecore import _checks


# -- patches ------------------------------------------------------------------------------------
def _grid(image_shape, patch_size):
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
    _, p, rows, cols = _grid(shape, patch_size)
    c = shape[2]
    x = ops.reshape(images, (-1, rows, p, cols, p, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))              # (batch, rows, cols, p, p, c)
    return ops.reshape(x, (-1, rows * cols, p * p * c))


def unpatchify(patches, patch_size, image_shape):
    """The inverse of `patchify`: ``(batch, n_patches, p * p * C) -> (batch, H, W, C)``."""
    image_shape, p, rows, cols = _grid(image_shape, patch_size)
    c = image_shape[2]
    x = ops.reshape(patches, (-1, rows, cols, p, p, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))              # (batch, rows, p, cols, p, c)
    return ops.reshape(x, (-1, *image_shape))


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


def gather_tokens(tokens, index):
    """``tokens[b, index[b, i], :]``: ``(batch, n, d), (batch, k) -> (batch, k, d)``."""
    index = ops.cast(index, "int32")
    index = ops.broadcast_to(index[:, :, None], (*ops.shape(index), ops.shape(tokens)[-1]))
    return ops.take_along_axis(tokens, index, axis=1)


def masked_patch_mse(patches, predicted, mask):
    """The MAE loss: squared error averaged over the pixels of the masked patches of each
    image, ``(batch,)``; visible patches count for nothing. ``mask`` is 1 where masked."""
    per_patch = ops.mean(ops.square(patches - predicted), axis=-1)   # (batch, n_patches)
    return ops.sum(per_patch * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


# -- the halves: layers wrapped as encoder and decoder models ----------------------------------
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


def _transformer(width, depth, heads, mlp_units, name):
    depth = _checks.positive_int("depth", depth)
    return [TransformerBlock(width, heads, mlp_units, name=f"{name}{i}") for i in range(depth)]


@keras.saving.register_keras_serializable(package="aecore")
class PatchEncoder(keras.layers.Layer):
    """The MAE's encoder, as one layer: ``images -> (batch, n_patches * (width + 1))``.

    Cuts each image into patches (`patchify`); while training, keeps a random fraction
    ``1 - mask_ratio`` of them and drops the rest *before* the transformer (at inference
    all are kept). The visible patches are embedded linearly, their positions' learned
    vectors added, and `depth` transformer blocks and a layer norm applied (`transform`).
    The output puts each token back at its place, zeros at hidden places, plus one flag
    per place, 1 where the patch was hidden: ``[tokens | flag]`` for each of the
    ``n_patches`` places, flattened. There is no bottleneck: an MAE's difficulty is the
    hiding.
    """

    def __init__(self, image_shape, patch_size=4, mask_ratio=0.75, width=64, depth=2,
                 heads=4, mlp_units=128, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.patch_size, rows, cols = _grid(image_shape, patch_size)
        self.n_patches = rows * cols
        self.patch_dim = patch_size * patch_size * self.image_shape[2]
        self.mask_ratio = _checks.probability("mask_ratio", mask_ratio)
        self.width = _checks.positive_int("width", width)
        self.depth, self.heads, self.mlp_units, self.seed = depth, heads, mlp_units, seed
        self.embed = keras.layers.Dense(self.width, name="embed")
        self.positions = PositionEmbedding(self.n_patches, name="positions")
        self.blocks = _transformer(self.width, depth, heads, mlp_units, "block")
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
        """The encoder's output when only the patches ``keep`` are visible (`random_keep`
        or `numpy_keep` give ``keep`` and ``restore``)."""
        keep = ops.convert_to_tensor(keep)
        tokens = self.transform(gather_tokens(patches, keep), keep, training=training)
        batch, k = ops.shape(tokens)[0], ops.shape(tokens)[1]
        zeros = ops.zeros((batch, self.n_patches - k, self.width), dtype=tokens.dtype)
        flags = ops.concatenate([ops.zeros((batch, k, 1), dtype=tokens.dtype),
                                 ops.ones((batch, self.n_patches - k, 1), tokens.dtype)], 1)
        placed = ops.concatenate([ops.concatenate([tokens, zeros], axis=1), flags], axis=-1)
        placed = gather_tokens(placed, restore)                 # back in patch order
        return ops.reshape(placed, (-1, self.n_patches * (self.width + 1)))

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
        return (input_shape[0], self.n_patches * (self.width + 1))

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "patch_size": self.patch_size, "mask_ratio": self.mask_ratio,
                "width": self.width, "depth": self.depth, "heads": self.heads,
                "mlp_units": self.mlp_units, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class PatchDecoder(keras.layers.Layer):
    """The MAE's light decoder, as one layer: `PatchEncoder`'s output -> images.

    Every hidden place (flag 1) gets the same learned **mask token**; then a linear map to
    `width`, the decoder's own position vectors, `depth` transformer blocks, a layer norm
    and a linear map per token to the patch's pixels (sigmoid: in [0, 1]), put back
    together with `unpatchify`.
    """

    def __init__(self, image_shape, patch_size=4, input_width=64, width=32, depth=1,
                 heads=2, mlp_units=64, output_activation="sigmoid", **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.patch_size, rows, cols = _grid(image_shape, patch_size)
        self.n_patches = rows * cols
        self.patch_dim = patch_size * patch_size * self.image_shape[2]
        self.input_width = _checks.positive_int("input_width", input_width)
        self.width = _checks.positive_int("width", width)
        self.depth, self.heads, self.mlp_units = depth, heads, mlp_units
        self.output_activation = output_activation
        self.embed = keras.layers.Dense(self.width, name="embed")
        self.positions = PositionEmbedding(self.n_patches, name="positions")
        self.blocks = _transformer(self.width, depth, heads, mlp_units, "block")
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

    def call(self, h, training=None):
        places = ops.reshape(h, (-1, self.n_patches, self.input_width + 1))
        tokens, flags = places[..., :-1], places[..., -1:]
        tokens = ops.where(flags > 0.5, ops.cast(self.mask_token, tokens.dtype), tokens)
        x = self.positions(self.embed(tokens))
        for block in self.blocks:
            x = block(x, training=training)
        x = self.pixels(self.norm(x))                      # (batch, n_patches, patch_dim)
        return unpatchify(x, self.patch_size, self.image_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "patch_size": self.patch_size, "input_width": self.input_width,
                "width": self.width, "depth": self.depth, "heads": self.heads,
                "mlp_units": self.mlp_units, "output_activation": self.output_activation}


@keras.saving.register_keras_serializable(package="aecore")
class HiddenPatchLoss(keras.layers.Layer):
    """The code part of an MAE: the code passes unchanged, and the reconstruction term is
    `masked_patch_mse`, the squared error on the **hidden patches only**, read from the
    flags of `PatchEncoder`'s output. Where nothing was hidden (at inference, so in
    ``val_loss`` and `evaluate`), every patch is scored: a plain reconstruction error."""

    terms = ()

    def __init__(self, patch_size=4, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = _checks.positive_int("patch_size", patch_size)
        self.built = True

    def call(self, h, training=None):
        return h

    def loss_terms(self, h, z):
        return {}

    def code_dim(self, encoder_dim):
        return encoder_dim

    def reconstruction_term(self, x, x_hat, h):
        patches, predicted = patchify(x, self.patch_size), patchify(x_hat, self.patch_size)
        mask = ops.reshape(h, (ops.shape(h)[0], ops.shape(patches)[1], -1))[..., -1]
        none = ops.sum(mask, axis=-1, keepdims=True) < 0.5      # nothing hidden: score all
        mask = ops.where(none, ops.ones_like(mask), mask)
        return ops.mean(masked_patch_mse(patches, predicted, mask))

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


def mae_encoder(image_shape, patch_size=4, mask_ratio=0.75, width=64, depth=2, *,
                heads=None, mlp_units=None, seed=None, name="encoder") -> keras.Sequential:
    """The MAE's encoder half: a `PatchEncoder` as a model for `Autoencoder`. Heads of 16
    dimensions and an MLP twice as wide unless given."""
    layer = PatchEncoder(image_shape, patch_size, mask_ratio, width, depth,
                         heads or max(1, width // 16), mlp_units or 2 * width, seed,
                         name="patch_encoder")
    return keras.Sequential([keras.Input(layer.image_shape), layer], name=name)


def mae_decoder(image_shape, patch_size=4, input_width=64, width=32, depth=1, *,
                heads=None, mlp_units=None, name="decoder") -> keras.Sequential:
    """The MAE's light decoder half: a `PatchDecoder` as a model for `Autoencoder`;
    `input_width` is the encoder's width."""
    layer = PatchDecoder(image_shape, patch_size, input_width, width, depth,
                         heads or max(1, width // 16), mlp_units or 2 * width,
                         name="patch_decoder")
    n = layer.n_patches * (layer.input_width + 1)
    return keras.Sequential([keras.Input((n,)), layer], name=name)


# -- using a trained MAE -------------------------------------------------------------------------
def _patch_encoder(model):
    layers = [l for l in getattr(model.encoder, "layers", []) if isinstance(l, PatchEncoder)]
    if not layers:
        raise ValueError("expected a masked autoencoder: an Autoencoder whose encoder is "
                         "aecore.models.mae_encoder(...).")
    return layers[0]


def mae_features(model, x, batch_size=256) -> np.ndarray:
    """Features for a probe: the encoder on *all* patches (none hidden), its output tokens
    averaged over the patches: ``(n, width)``."""
    layer = _patch_encoder(model)
    h = model.encode(x, batch_size=batch_size)
    return h.reshape(len(h), layer.n_patches, layer.width + 1)[..., :-1].mean(axis=1)


def reconstruct_masked(model, x, seed=0, mask_ratio=None, batch_size=256):
    """Fill in images from a seeded random mask (the same for the same seed).

    Returns ``(x_hat, mask)``: the decoder's prediction for every patch, as images, and
    the mask ``(n, n_patches)``, 1.0 where a patch was hidden from the encoder.
    `mask_ratio` defaults to the model's own.
    """
    layer = _patch_encoder(model)
    x = _checks.batch("x", x, layer.image_shape, unit_range=True)
    ratio = layer.mask_ratio if mask_ratio is None else _checks.probability(
        "mask_ratio", mask_ratio)
    keep, restore, mask = numpy_keep(len(x), layer.n_patches, ratio, seed)
    out = []
    for s in range(0, len(x), batch_size):
        patches = patchify(x[s:s + batch_size], layer.patch_size)
        h = layer.encode_visible(patches, keep[s:s + batch_size],
                                 ops.convert_to_tensor(restore[s:s + batch_size]))
        out.append(ops.convert_to_numpy(model.decoder(h, training=False)))
    return np.concatenate(out), mask


def masked_error(model, x, seed=0, mask_ratio=None) -> np.ndarray:
    """`masked_patch_mse` per image for a seeded mask (NumPy): the error on hidden
    patches only, the quantity an MAE is trained to make small."""
    layer = _patch_encoder(model)
    x_hat, mask = reconstruct_masked(model, x, seed=seed, mask_ratio=mask_ratio)
    p = layer.patch_size
    err = masked_patch_mse(patchify(np.asarray(x, "float32"), p), patchify(x_hat, p), mask)
    return np.asarray(ops.convert_to_numpy(err), dtype=np.float64)


def masked_images(x, mask, patch_size, fill=0.5) -> np.ndarray:
    """Images with their masked patches painted `fill` (grey), to show what the encoder
    saw. ``mask`` ``(n, n_patches)`` is 1 where hidden (NumPy)."""
    x = np.asarray(x, dtype="float32")
    patches = ops.convert_to_numpy(patchify(x, patch_size))
    patches = np.where(np.asarray(mask)[..., None] > 0, fill, patches)
    return ops.convert_to_numpy(unpatchify(patches, patch_size, x.shape[1:]))


def paste_visible(x, x_hat, mask, patch_size) -> np.ndarray:
    """The visible patches from ``x``, the hidden ones from ``x_hat`` (NumPy): how an MAE's
    fill-in is shown, since its output on visible patches is never scored."""
    x, x_hat = np.asarray(x, dtype="float32"), np.asarray(x_hat, dtype="float32")
    hidden = np.asarray(mask)[..., None] > 0
    patches = np.where(hidden, ops.convert_to_numpy(patchify(x_hat, patch_size)),
                       ops.convert_to_numpy(patchify(x, patch_size)))
    return ops.convert_to_numpy(unpatchify(patches, patch_size, x.shape[1:]))


def pca_fill(pca, x, mask, patch_size, n_components=None, ridge=1e-3) -> np.ndarray:
    """The linear baseline for filling in hidden patches (NumPy).

    For each image, the coefficients ``c`` of the first `n_components` principal directions
    that best explain its *visible* pixels (least squares with a small `ridge`,
    ``min ||W_v c - (x_v - mean_v)||^2 + ridge ||c||^2``) are decoded to a whole image,
    clipped to [0, 1]. ``pca`` is a fitted `aecore.baselines.PCABaseline` (or scikit-learn
    ``PCA``); ``mask`` ``(n, n_patches)`` is 1 where a patch is hidden. Returns images
    shaped like ``x``; only their hidden patches are a prediction.
    """
    pca = getattr(pca, "pca", pca)
    x = np.asarray(x, dtype=np.float64)
    components = np.asarray(pca.components_[:n_components], dtype=np.float64)  # (k, d)
    flat = x.reshape(len(x), -1)
    if flat.shape[1] != components.shape[1]:
        raise ValueError(f"x has {flat.shape[1]} values per sample, the PCA "
                         f"{components.shape[1]}.")
    ridge = _checks.non_negative("ridge", ridge)
    hidden = np.repeat(np.asarray(mask, dtype=np.float64)[..., None],
                       patch_size * patch_size * x.shape[-1], axis=-1)
    hidden = ops.convert_to_numpy(unpatchify(hidden.astype("float32"), patch_size,
                                             x.shape[1:])).reshape(len(x), -1) > 0
    centred = flat - pca.mean_
    out = np.empty_like(flat)
    eye = ridge * np.eye(len(components))
    for i in range(len(x)):
        w = components[:, ~hidden[i]]                                   # (k, visible)
        c = np.linalg.solve(w @ w.T + eye, w @ centred[i, ~hidden[i]])
        out[i] = pca.mean_ + c @ components
    return np.clip(out, 0.0, 1.0).reshape(x.shape).astype("float32")


__all__ = ["HiddenPatchLoss", "PatchDecoder", "PatchEncoder", "PositionEmbedding",
           "TransformerBlock", "gather_tokens", "mae_decoder", "mae_encoder", "mae_features",
           "masked_error", "masked_images", "masked_patch_mse", "n_visible", "numpy_keep", "paste_visible",
           "patchify", "pca_fill", "random_keep", "reconstruct_masked", "unpatchify"]
