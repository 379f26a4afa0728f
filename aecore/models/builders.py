"""Builders for the usual encoder and decoder halves. Each returns a built `keras.Sequential`.

Any Keras model can serve instead: an encoder maps ``(batch, *input_shape)`` to
``(batch, units)``, a decoder maps ``(batch, latent_dim)`` back to ``(batch, *input_shape)``.
"""

from __future__ import annotations

import math

import keras

from aecore import _checks


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
