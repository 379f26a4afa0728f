"""The variational autoencoder (Kingma & Welling 2014), written with `keras.ops` only."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aecore import _checks
from aecore.models.base import Autoencoder
from aecore.models.layers import Sampling


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) per example, summed over latent dimensions: shape (batch,)."""
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def bernoulli_nll(x, x_hat):
    """Binary cross-entropy per example, summed over pixels: shape (batch,)."""
    per_value = ops.binary_crossentropy(x, x_hat)
    return ops.sum(ops.reshape(per_value, (ops.shape(x)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="aecore")
class VariationalAutoencoder(Autoencoder):
    """A VAE with a Gaussian encoder q(z|x), a standard normal prior and a Bernoulli decoder.

    The encoder outputs ``z_mean`` and ``z_log_var``; `call` draws ``z`` with the
    reparameterisation trick and decodes it. The loss is the negative ELBO per example,
    averaged over the batch:

        loss = reconstruction + beta * KL
        reconstruction = sum over pixels of binary cross-entropy(x, x_hat)
        KL = sum over latent dimensions of KL(q(z|x) || N(0, I))

    Both sums are per example, so ``beta = 1`` is the real ELBO (a per-pixel mean would
    silently weight the KL by about 784). `fit` logs ``reconstruction_loss`` and ``kl_loss``
    next to ``loss``, for training and validation. Compile with an optimizer only:
    ``model.compile(optimizer="adam")``, then ``model.fit(x, epochs=...)``.

    Args:
        input_shape: shape of one sample, values in [0, 1].
        latent_dim: size of z.
        hidden_units: widths of the encoder's hidden layers (the decoder mirrors them).
        beta: weight of the KL term (1 is the standard VAE, other values a beta-VAE).
        seed: seed of the sampler's random stream.

    `encode(x)` returns ``z_mean``; `reconstruct(x)` decodes ``z_mean`` (deterministic);
    `sample(n)` decodes draws from the prior N(0, I).
    """

    def __init__(self, input_shape=(28, 28, 1), latent_dim=2, hidden_units=(512, 256),
                 beta=1.0, seed=None, **kwargs):
        self.hidden_units = _checks.positive_ints("hidden_units", hidden_units)
        self.beta = _checks.non_negative("beta", beta)
        self.seed = seed
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)

    def build_extras(self):
        self.sampler = Sampling(seed=self.seed, name="sampling")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    def build_encoder(self):
        x = keras.Input(self.sample_shape)
        h = keras.layers.Flatten()(x)
        for units in self.hidden_units:
            h = keras.layers.Dense(units, activation="relu")(h)
        z_mean = keras.layers.Dense(self.latent_dim, name="z_mean")(h)
        z_log_var = keras.layers.Dense(self.latent_dim, name="z_log_var")(h)
        return keras.Model(x, [z_mean, z_log_var], name="encoder")

    def build_decoder(self):
        layers = [keras.Input((self.latent_dim,))]
        layers += [keras.layers.Dense(u, activation="relu") for u in reversed(self.hidden_units)]
        layers += [keras.layers.Dense(math.prod(self.sample_shape), activation="sigmoid"),
                   keras.layers.Reshape(self.sample_shape)]
        return keras.Sequential(layers, name="decoder")

    def call(self, x, training=None):
        z_mean, z_log_var = self.encoder(x, training=training)
        self.add_loss(ops.mean(kl_divergence(z_mean, z_log_var)))
        z = self.sampler([z_mean, z_log_var])
        return self.decoder(z, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = x if y is None else y
        reconstruction = ops.mean(bernoulli_nll(target, y_pred))
        kl = ops.sum(ops.stack(self.losses))
        batch = ops.shape(y_pred)[0]  # weight like Keras' own loss tracker does
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch)
        self.kl_tracker.update_state(kl, sample_weight=batch)
        return reconstruction + self.beta * kl

    # -- inference ----------------------------------------------------------------------
    def encode(self, x, batch_size=256):
        """``x -> z_mean``, the centre of q(z|x)."""
        return self.encode_distribution(x, batch_size)[0]

    def encode_distribution(self, x, batch_size=256):
        """``x -> (z_mean, z_log_var)``."""
        if isinstance(x, np.ndarray):
            x = _checks.batch("x", x, self.sample_shape)
            z_mean, z_log_var = self.encoder.predict(x, batch_size=batch_size, verbose=0)
            return z_mean, z_log_var
        return self.encoder(x, training=False)

    def reconstruct(self, x, batch_size=256):
        """Decode the mean code of each input: a deterministic reconstruction."""
        return self.decode(self.encode(x, batch_size), batch_size)

    def sample(self, n, seed=None, batch_size=256):
        """Decode `n` codes drawn from the prior N(0, I): new samples, not reconstructions."""
        n = _checks.positive_int("n", n)
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        return self.decode(z, batch_size)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units, "beta": self.beta,
                "seed": self.seed}
