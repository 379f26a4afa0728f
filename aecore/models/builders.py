"""Builders for the encoder and decoder halves. Each returns a built Keras model.

Any Keras model can serve instead: an encoder maps ``(batch, *input_shape)`` to a code of
any shape, a decoder maps that code back to ``(batch, *input_shape)``.

- flat codes ``(batch, latent_dim)``: `dense_encoder`/`dense_decoder`, `conv_encoder`/
  `conv_decoder` (images), `conv1d_encoder`/`conv1d_decoder` (windows of a series);
- a grid of vectors ``(batch, 7, 7, dim)``, one per image patch: `grid_encoder`/
  `grid_decoder` (the vector-quantised autoencoders');
- tokens and a mask ``[tokens, hidden]``: `mae_encoder`/`mae_decoder`, and
  `masked_autoencoder`, the whole masked autoencoder with its patch size stated once.
"""

from __future__ import annotations

import math

import keras

from aecore import _checks
from aecore.losses import HiddenPatchMSE
from aecore.models.autoencoder import Autoencoder
from aecore.models.masking import PatchDecoder, PatchEncoder


def dense_encoder(input_shape, latent_dim, hidden_units=(), *, activation="relu",
                  code_activation="relu", name="encoder") -> keras.Sequential:
    """A multilayer perceptron ``x -> z``: flatten, `hidden_units` dense layers, the code.

    The defaults give the classic encoder: 784 inputs to a 32-unit ReLU code.
    ``code_activation=None`` gives a linear code (a VAE's ``2 * latent_dim`` outputs, say).

    Shapes: ``(batch, *input_shape) -> (batch, latent_dim)``.
    """
    input_shape = _checks.shape("input_shape", input_shape)
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    hidden_units = _checks.positive_ints("hidden_units", hidden_units)
    layers = [keras.Input(input_shape), keras.layers.Flatten()]             # (batch, 784)
    layers += [keras.layers.Dense(u, activation=activation) for u in hidden_units]
    layers += [keras.layers.Dense(latent_dim, activation=code_activation, name="code")]
    return keras.Sequential(layers, name=name)                              # (batch, latent)


def dense_decoder(latent_dim, output_shape, hidden_units=(), *, activation="relu",
                  output_activation="sigmoid", unit_norm_code=False,
                  name="decoder") -> keras.Sequential:
    """The mirror of `dense_encoder`: ``z -> x_hat``.

    `hidden_units` is given as for the encoder (input side first) and used in reverse, so
    the same tuple builds a mirrored pair: ``(256, 128)`` gives 32-128-256-784.
    ``output_activation="sigmoid"`` keeps every output in [0, 1], like the pixels.
    ``unit_norm_code=True`` keeps each code unit's outgoing weights (a row of the first
    layer's kernel) at unit norm after every update, so that a penalty on the code's size
    (`L1Code`) cannot be dodged by shrinking the code and growing the decoder.

    Shapes: ``(batch, latent_dim) -> (batch, *output_shape)``.
    """
    output_shape = _checks.shape("output_shape", output_shape)
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    hidden_units = _checks.positive_ints("hidden_units", hidden_units)
    widths = [*reversed(hidden_units), math.prod(output_shape)]
    activations = [activation] * len(hidden_units) + [output_activation]
    dense = [keras.layers.Dense(w, activation=a) for w, a in zip(widths, activations)]
    if unit_norm_code:  # the first kernel is (latent_dim, width): one row per code unit
        dense[0] = keras.layers.Dense(widths[0], activation=activations[0],
                                      kernel_constraint=keras.constraints.UnitNorm(axis=1))
    layers = [keras.Input((latent_dim,)), *dense,
              keras.layers.Reshape(output_shape)]                           # (batch, 28, 28, 1)
    return keras.Sequential(layers, name=name)


def conv_encoder(input_shape, latent_dim, filters=(32, 64), *, kernel_size=3,
                 code_activation=None, name="encoder") -> keras.Sequential:
    """Strided convolutions down, then a dense code: each block halves height and width.

    With the defaults on 28 x 28 x 1 images: ``28x28x1 -> 14x14x32 -> 7x7x64 -> 32``.
    """
    input_shape, filters, _ = _checks.conv_shapes(input_shape, filters)
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    kernel_size = _checks.positive_int("kernel_size", kernel_size)
    layers = [keras.Input(input_shape)]
    layers += [keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", activation="relu")
               for f in filters]                                           # (batch, 7, 7, 64)
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(latent_dim, activation=code_activation, name="code")]
    return keras.Sequential(layers, name=name)


def conv_decoder(latent_dim, output_shape, filters=(32, 64), *, kernel_size=3,
                 output_activation="sigmoid", name="decoder") -> keras.Sequential:
    """The mirror of `conv_encoder`: a dense layer to the smallest feature map, then
    stride-2 transposed convolutions up and a last convolution to the image's channels.

    With the defaults: ``32 -> 7x7x64 -> 14x14x64 -> 28x28x32 -> 28x28x1``.
    """
    output_shape, filters, smallest = _checks.conv_shapes(output_shape, filters, "output_shape")
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    kernel_size = _checks.positive_int("kernel_size", kernel_size)
    layers = [keras.Input((latent_dim,)),
              keras.layers.Dense(math.prod(smallest), activation="relu"),
              keras.layers.Reshape(smallest)]                              # (batch, 7, 7, 64)
    layers += [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                            activation="relu") for f in reversed(filters)]
    layers += [keras.layers.Conv2D(output_shape[-1], kernel_size, padding="same",
                                   activation=output_activation)]         # (batch, 28, 28, 1)
    return keras.Sequential(layers, name=name)


# -- one dimension: windows of a time series ---------------------------------------------------
def _conv1d_shapes(shape, filters, name):
    shape = _checks.shape(name, shape)
    filters = _checks.positive_ints("filters", filters)
    if not filters:
        raise ValueError(f"filters must name at least one layer, got filters={filters!r}.")
    factor = 2 ** len(filters)
    if len(shape) not in (1, 2) or shape[0] % factor:
        raise ValueError(f"{name} must be (window,) or (window, channels) with window "
                         f"divisible by 2**len(filters) = {factor}, got {name}={shape!r}.")
    channels = shape[1] if len(shape) == 2 else 1
    return shape, filters, (shape[0] // factor, filters[-1]), channels


def conv1d_encoder(input_shape, latent_dim, filters=(16, 32), *, kernel_size=7,
                   code_activation=None, name="encoder") -> keras.Sequential:
    """`conv_encoder` along time: strided 1-D convolutions, then a dense code.

    With ``input_shape=(64,)`` and the defaults: ``64 -> 64x1 -> 32x16 -> 16x32 -> latent``.
    The code is linear by default (the window's values are standardised, not in [0, 1]).

    Shapes: ``(batch, window[, channels]) -> (batch, latent_dim)``.
    """
    shape, filters, _, channels = _conv1d_shapes(input_shape, filters, "input_shape")
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    kernel_size = _checks.positive_int("kernel_size", kernel_size)
    layers = [keras.Input(shape)]
    if len(shape) == 1:
        layers.append(keras.layers.Reshape((shape[0], channels)))      # (batch, 64, 1)
    layers += [keras.layers.Conv1D(f, kernel_size, strides=2, padding="same",
                                   activation="relu") for f in filters]  # (batch, 16, 32)
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(latent_dim, activation=code_activation, name="code")]
    return keras.Sequential(layers, name=name)


def conv1d_decoder(latent_dim, output_shape, filters=(16, 32), *, kernel_size=7,
                   output_activation=None, name="decoder") -> keras.Sequential:
    """The mirror of `conv1d_encoder`: a dense layer to the shortest feature sequence, then
    stride-2 transposed convolutions up and a last convolution to the channels.

    With ``output_shape=(64,)`` and the defaults:
    ``latent -> 16x32 -> 32x32 -> 64x16 -> 64x1 -> 64``. The output is linear by default.

    Shapes: ``(batch, latent_dim) -> (batch, window[, channels])``.
    """
    shape, filters, smallest, channels = _conv1d_shapes(output_shape, filters,
                                                        "output_shape")
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    kernel_size = _checks.positive_int("kernel_size", kernel_size)
    layers = [keras.Input((latent_dim,)),
              keras.layers.Dense(math.prod(smallest), activation="relu"),
              keras.layers.Reshape(smallest)]                            # (batch, 16, 32)
    layers += [keras.layers.Conv1DTranspose(f, kernel_size, strides=2, padding="same",
                                            activation="relu")
               for f in reversed(filters)]                               # (batch, 64, 16)
    layers += [keras.layers.Conv1D(channels, kernel_size, padding="same",
                                   activation=output_activation)]        # (batch, 64, 1)
    if len(shape) == 1:
        layers.append(keras.layers.Reshape(shape))                       # (batch, 64)
    return keras.Sequential(layers, name=name)


# -- a grid of vectors: the vector-quantised autoencoders' halves --------------------------------
def grid_encoder(input_shape, dim, filters=(16, 32), *, kernel_size=3,
                 activation="elu", name="encoder") -> keras.Sequential:
    """Strided convolutions down to a grid of `dim`-number vectors.

    With the defaults on 28 x 28 x 1 images: ``28x28x1 -> 14x14x16 -> 7x7x32 -> 7x7xdim``
    (a 1 x 1 convolution, linear): one vector per position, each seeing a patch of the
    image. A `VectorQuantizer` or `FSQ` with the same `dim` then snaps each position's
    vector. The hidden layers use ELU, not ReLU: a code that is exactly 0 everywhere
    (FSQ's starting point, as every small number rounds to 0) would give a ReLU decoder
    zero gradients, and training would never start.
    """
    input_shape, filters, _ = _checks.conv_shapes(input_shape, filters)
    dim = _checks.positive_int("dim", dim)
    layers = [keras.Input(input_shape)]
    layers += [keras.layers.Conv2D(f, kernel_size, strides=2, padding="same",
                                   activation=activation) for f in filters]
    layers += [keras.layers.Conv2D(dim, 1, name="code")]          # (batch, 7, 7, dim)
    return keras.Sequential(layers, name=name)


def grid_decoder(output_shape, dim, filters=(16, 32), *, kernel_size=3,
                 activation="elu", output_activation="sigmoid",
                 name="decoder") -> keras.Sequential:
    """The mirror of `grid_encoder`: a grid ``(batch, 7, 7, dim)`` -> images.

    With the defaults: ``7x7xdim -> 7x7x32 -> 14x14x32 -> 28x28x16 -> 28x28x1``.
    """
    output_shape, filters, smallest = _checks.conv_shapes(output_shape, filters,
                                                          "output_shape")
    dim = _checks.positive_int("dim", dim)
    layers = [keras.Input((smallest[0], smallest[1], dim)),
              keras.layers.Conv2D(filters[-1], kernel_size, padding="same",
                                  activation=activation)]
    layers += [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                            activation=activation)
               for f in reversed(filters)]
    layers += [keras.layers.Conv2D(output_shape[-1], kernel_size, padding="same",
                                   activation=output_activation)]
    return keras.Sequential(layers, name=name)


# -- tokens: the masked autoencoder's halves ---------------------------------------------------
def mae_encoder(image_shape, patch_size=4, mask_ratio=0.75, width=64, depth=2, *,
                heads=None, mlp_units=None, seed=None, name="encoder") -> keras.Model:
    """The MAE's encoder half, a `PatchEncoder`: ``images -> [tokens, hidden]``, tokens
    ``(batch, n_patches, width)`` and hidden ``(batch, n_patches)``. Heads of 16
    dimensions and an MLP twice as wide unless given."""
    layer = PatchEncoder(image_shape, patch_size, mask_ratio, width, depth,
                         heads or max(1, width // 16), mlp_units or 2 * width, seed,
                         name="patch_encoder")
    images = keras.Input(layer.image_shape)
    return keras.Model(images, layer(images), name=name)


def mae_decoder(image_shape, patch_size=4, input_width=64, width=32, depth=1, *,
                heads=None, mlp_units=None, name="decoder") -> keras.Model:
    """The MAE's light decoder half, a `PatchDecoder`: ``[tokens, hidden] -> images``;
    `input_width` is the encoder's width."""
    layer = PatchDecoder(image_shape, patch_size, input_width, width, depth,
                         heads or max(1, width // 16), mlp_units or 2 * width,
                         name="patch_decoder")
    tokens = keras.Input((layer.n_patches, layer.input_width))
    hidden = keras.Input((layer.n_patches,))
    return keras.Model([tokens, hidden], layer([tokens, hidden]), name=name)


def masked_autoencoder(image_shape, patch_size=4, mask_ratio=0.75, *, width=64, depth=2,
                       decoder_width=32, decoder_depth=1, seed=None) -> Autoencoder:
    """A masked autoencoder (He et al. 2021): `mae_encoder` and `mae_decoder` for the same
    patches, scored by `aecore.losses.HiddenPatchMSE` on the hidden patches only::

        Autoencoder(mae_encoder(image_shape, patch_size, mask_ratio, width, depth),
                    mae_decoder(image_shape, patch_size, width, decoder_width,
                                decoder_depth),
                    reconstruction=HiddenPatchMSE())
    """
    return Autoencoder(
        mae_encoder(image_shape, patch_size, mask_ratio, width, depth, seed=seed),
        mae_decoder(image_shape, patch_size, width, decoder_width, decoder_depth),
        reconstruction=HiddenPatchMSE())
