"""The denoising autoencoder (Vincent et al. 2008): rebuild clean inputs from corrupted ones."""

from __future__ import annotations

import keras

from aecore.models.dense import DenseAutoencoder
from aecore.models.layers import Corruption


@keras.saving.register_keras_serializable(package="aecore")
class DenoisingAutoencoder(DenseAutoencoder):
    """A dense autoencoder that corrupts its input while training, and only then.

    Train it with the clean data as both input and target, ``fit(x, x)``: in every step the
    model sees a freshly corrupted copy of ``x`` and is scored against the clean ``x``. At
    inference (``predict``, ``reconstruct``, ``encode``) nothing is corrupted, so it cleans
    whatever it is given, e.g. ``model.reconstruct(noisy_x)``.

    Args:
        noise: ``"gaussian"``, ``"masking"`` or ``"salt_pepper"`` (see `Corruption`).
        noise_level: standard deviation (gaussian) or corrupted fraction (the others).
        seed: seed of the corruption's random stream.
        Other arguments as for `DenseAutoencoder`.
    """

    def __init__(self, input_shape=(784,), latent_dim=32, hidden_units=(), noise="gaussian",
                 noise_level=0.3, seed=None, **kwargs):
        self._noise_args = (noise, noise_level, seed)
        super().__init__(input_shape=input_shape, latent_dim=latent_dim,
                         hidden_units=hidden_units, **kwargs)

    def build_extras(self):
        noise, noise_level, seed = self._noise_args  # Corruption checks them
        self.corruption = Corruption(noise, noise_level, seed=seed, name="corruption")

    def call(self, x, training=None):
        x_tilde = self.corruption(x, training=training)  # identity unless training
        return super().call(x_tilde, training=training)

    def get_config(self):
        return {**super().get_config(), "noise": self.corruption.kind,
                "noise_level": self.corruption.level, "seed": self.corruption.seed}
