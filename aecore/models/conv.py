"""A convolutional autoencoder: strided convolutions down, transposed convolutions up."""

from __future__ import annotations

import math

import keras

from aecore import _checks
from aecore.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aecore")
class ConvAutoencoder(Autoencoder):
    """Each encoder block halves the image with a stride-2 convolution; a dense layer makes
    the code; the decoder mirrors the encoder with stride-2 transposed convolutions.

    With the defaults on 28 x 28 x 1 images:
    ``28x28x1 -> 14x14x32 -> 7x7x64 -> 32 -> 7x7x64 -> 14x14x64 -> 28x28x32 -> 28x28x1``.

    Args:
        input_shape: ``(height, width, channels)``; height and width must be divisible by
            ``2 ** len(filters)``.
        latent_dim: size of the code.
        filters: channels of the encoder's convolutions, input side first.
        kernel_size: size of every convolution kernel.
        code_activation: activation of the code layer (linear by default).
        output_activation: ``"sigmoid"`` for pixels in [0, 1].
    """

    def __init__(self, input_shape=(28, 28, 1), latent_dim=32, filters=(32, 64), kernel_size=3,
                 code_activation=None, output_activation="sigmoid", **kwargs):
        self.filters = _checks.positive_ints("filters", filters)
        if not self.filters:
            raise ValueError(f"filters must name at least one layer, got filters={filters!r}.")
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        self.code_activation = code_activation
        self.output_activation = output_activation
        shape = _checks.shape("input_shape", input_shape)
        factor = 2 ** len(self.filters)
        if len(shape) != 3 or shape[0] % factor or shape[1] % factor:
            raise ValueError(
                f"input_shape must be (height, width, channels) with height and width divisible "
                f"by 2**len(filters) = {factor}, got input_shape={input_shape!r}.")
        super().__init__(input_shape=shape, latent_dim=latent_dim, **kwargs)

    @property
    def _smallest_map(self):
        factor = 2 ** len(self.filters)
        return (self.sample_shape[0] // factor, self.sample_shape[1] // factor, self.filters[-1])

    def build_encoder(self):
        layers = [keras.Input(self.sample_shape)]
        for f in self.filters:  # each halves height and width
            layers.append(keras.layers.Conv2D(f, self.kernel_size, strides=2, padding="same",
                                              activation="relu"))
        layers += [keras.layers.Flatten(),
                   keras.layers.Dense(self.latent_dim, activation=self.code_activation,
                                      name="code")]
        return keras.Sequential(layers, name="encoder")

    def build_decoder(self):
        layers = [keras.Input((self.latent_dim,)),
                  keras.layers.Dense(math.prod(self._smallest_map), activation="relu"),
                  keras.layers.Reshape(self._smallest_map)]
        for f in reversed(self.filters):  # each doubles height and width
            layers.append(keras.layers.Conv2DTranspose(f, self.kernel_size, strides=2,
                                                       padding="same", activation="relu"))
        layers.append(keras.layers.Conv2D(self.sample_shape[-1], self.kernel_size,
                                          padding="same", activation=self.output_activation))
        return keras.Sequential(layers, name="decoder")

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "code_activation": self.code_activation,
                "output_activation": self.output_activation}
