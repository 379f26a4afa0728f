"""The base class every autoencoder of the book derives from."""

from __future__ import annotations

import keras
import numpy as np

from aecore import _checks


@keras.saving.register_keras_serializable(package="aecore")
class Autoencoder(keras.Model):
    """An encoder ``f`` and a decoder ``g`` trained so that ``g(f(x))`` is close to ``x``.

    Subclasses say what the two halves are by implementing `build_encoder` and
    `build_decoder`, each returning a built Keras model (``x -> z`` and ``z -> x_hat``).
    Everything else is shared: `encode`, `decode`, `call`, the config, saving.

    Args:
        input_shape: shape of one sample, e.g. ``(28, 28, 1)`` or ``(784,)``.
        latent_dim: size of the code ``z`` (the bottleneck).
        **kwargs: passed to `keras.Model` (``name``, ``dtype``...).

    Shapes:
        ``model(x)``: ``(batch, *input_shape) -> (batch, *input_shape)``;
        ``encode``: ``-> (batch, latent_dim)``; ``decode``: ``(batch, latent_dim) ->``.

    `encode`, `decode` and `reconstruct` take NumPy arrays (checked, run in batches,
    NumPy returned) or tensors (called directly, for use inside other models).
    """

    def __init__(self, input_shape=(28, 28, 1), latent_dim=32, **kwargs):
        super().__init__(**kwargs)
        self.sample_shape = _checks.shape("input_shape", input_shape)
        self.latent_dim = _checks.positive_int("latent_dim", latent_dim)
        self.build_extras()
        self.encoder = self.build_encoder()
        self.decoder = self.build_decoder()
        self.build((None, *self.sample_shape))  # both halves exist: the weights are ready

    # -- what subclasses define --------------------------------------------------------
    def build_extras(self) -> None:
        """Create any further layers or metrics (a noise layer, a sampler, loss trackers).

        Called before the encoder and decoder are built; Keras locks a model's state once it
        is built, so anything with state must be created here, not after `__init__`.
        """

    def build_encoder(self) -> keras.Model:
        """Return the encoder, a built model mapping ``x`` to ``z``."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_encoder().")

    def build_decoder(self) -> keras.Model:
        """Return the decoder, a built model mapping ``z`` to ``x_hat``."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_decoder().")

    # -- the shared behaviour ----------------------------------------------------------
    def call(self, x, training=None):
        z = self.encoder(x, training=training)
        return self.decoder(z, training=training)

    def encode(self, x, batch_size=256):
        """``x -> z``; for NumPy input the code of every sample, as NumPy."""
        if isinstance(x, np.ndarray):
            x = _checks.batch("x", x, self.sample_shape)
            return self.encoder.predict(x, batch_size=batch_size, verbose=0)
        return self.encoder(x, training=False)

    def decode(self, z, batch_size=256):
        """``z -> x_hat``; for NumPy input the decoded samples, as NumPy."""
        if isinstance(z, np.ndarray):
            z = _checks.batch("z", z, (self.latent_dim,))
            return self.decoder.predict(z, batch_size=batch_size, verbose=0)
        return self.decoder(z, training=False)

    def reconstruct(self, x, batch_size=256) -> np.ndarray:
        """``x -> x_hat`` in inference mode (no noise, no sampling), as NumPy."""
        x = _checks.batch("x", x, self.sample_shape)
        return self.predict(x, batch_size=batch_size, verbose=0)

    def get_config(self):
        return {**super().get_config(),
                "input_shape": self.sample_shape, "latent_dim": self.latent_dim}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
