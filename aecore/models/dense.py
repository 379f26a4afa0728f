"""Fully connected autoencoders: the classic 784-32-784 model and its deep, mirrored kin."""

from __future__ import annotations

import math

import keras

from aecore import _checks
from aecore.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aecore")
class DenseAutoencoder(Autoencoder):
    """A multilayer-perceptron autoencoder with a mirrored decoder.

    With the defaults it is the classic model: 784 inputs, a 32-unit ReLU code and a
    784-unit sigmoid output. `hidden_units` adds layers between input and code, and the
    decoder mirrors them: ``hidden_units=(256, 128)`` gives 784-256-128-32-128-256-784.

    Args:
        input_shape: shape of one sample; images are flattened on the way in and
            reshaped on the way out, so ``(28, 28, 1)`` and ``(784,)`` both work.
        latent_dim: size of the code.
        hidden_units: widths of the encoder's hidden layers, input side first.
        activation: activation of the hidden layers.
        code_activation: activation of the code layer (``"relu"`` in the classic model;
            ``None`` for a linear code).
        output_activation: ``"sigmoid"`` for pixels in [0, 1].

    Shapes:
        ``(batch, *input_shape) -> (batch, latent_dim) -> (batch, *input_shape)``.
    """

    def __init__(self, input_shape=(784,), latent_dim=32, hidden_units=(),
                 activation="relu", code_activation="relu", output_activation="sigmoid",
                 **kwargs):
        self.hidden_units = _checks.positive_ints("hidden_units", hidden_units)
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)

    def build_encoder(self):
        layers = [keras.Input(self.sample_shape), keras.layers.Flatten()]  # (batch, 784)
        layers += [keras.layers.Dense(u, activation=self.activation) for u in self.hidden_units]
        layers += [keras.layers.Dense(self.latent_dim, activation=self.code_activation,
                                      name="code")]                       # (batch, latent_dim)
        return keras.Sequential(layers, name="encoder")

    def build_decoder(self):
        layers = [keras.Input((self.latent_dim,))]
        layers += [keras.layers.Dense(u, activation=self.activation)
                   for u in reversed(self.hidden_units)]
        layers += [keras.layers.Dense(math.prod(self.sample_shape),
                                      activation=self.output_activation),  # (batch, 784)
                   keras.layers.Reshape(self.sample_shape)]                 # (batch, *input_shape)
        return keras.Sequential(layers, name="decoder")

    def get_config(self):
        return {**super().get_config(),
                "hidden_units": self.hidden_units, "activation": self.activation,
                "code_activation": self.code_activation,
                "output_activation": self.output_activation}
