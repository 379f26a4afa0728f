"""Small layers the models share: input corruption and the VAE's reparameterised sampler."""

from __future__ import annotations

import keras
from keras import ops

from aecore import _checks

NOISE_KINDS = ("gaussian", "masking", "salt_pepper")


@keras.saving.register_keras_serializable(package="aecore")
class Corruption(keras.layers.Layer):
    """Corrupt inputs in [0, 1], only while training (an identity at inference).

    Args:
        kind: ``"gaussian"`` (add N(0, level^2) noise, clip to [0, 1]), ``"masking"``
            (set a random fraction `level` of the values to 0) or ``"salt_pepper"``
            (set a fraction `level` to 0 or 1, half each).
        level: the noise's standard deviation (gaussian) or the corrupted fraction.
        seed: seed of the layer's own random stream.
    """

    def __init__(self, kind="gaussian", level=0.3, seed=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in NOISE_KINDS:
            raise ValueError(f"kind must be one of {NOISE_KINDS}, got kind={kind!r}.")
        self.kind = kind
        self.level = (_checks.non_negative("level", level) if kind == "gaussian"
                      else _checks.probability("level", level, closed_high=True))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no weights: nothing to build

    def call(self, x, training=None):
        if not training or self.level == 0:
            return x
        if self.kind == "gaussian":
            noise = keras.random.normal(ops.shape(x), stddev=self.level, dtype=x.dtype,
                                        seed=self.seed_generator)
            return ops.clip(x + noise, 0.0, 1.0)
        u = keras.random.uniform(ops.shape(x), dtype=x.dtype, seed=self.seed_generator)
        hit = u < self.level
        if self.kind == "masking":
            return ops.where(hit, ops.zeros_like(x), x)
        salt = u < self.level / 2  # half of the hit values go to 1, half to 0
        return ops.where(hit, ops.cast(salt, x.dtype), x)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "level": self.level, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aecore")
class Sampling(keras.layers.Layer):
    """``z = z_mean + exp(z_log_var / 2) * eps`` with ``eps ~ N(0, I)``: the
    reparameterisation trick, which keeps the sample differentiable in mean and variance."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no weights: nothing to build

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
