"""One-dimensional convolutional halves, for windows of a time series.

The same shape of model as `conv_encoder`/`conv_decoder`, along time instead of over an
image: strided ``Conv1D`` layers halve the window's length, a dense layer gives the code,
and the decoder mirrors it with ``Conv1DTranspose``. Both take windows of shape
``(window,)`` (one channel, as `aecore.timeseries.sliding_windows` cuts a 1-D series) or
``(window, channels)``, and `Autoencoder` composes them like any other halves.
"""

from __future__ import annotations

import math

import keras

from aecore import _checks


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
    """Strided 1-D convolutions along time, then a dense code.

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
