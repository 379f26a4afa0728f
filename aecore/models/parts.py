"""The optional parts of an autoencoder: what happens before the encoder, or between it and
the decoder.

- before the encoder, an input **corruption** (`Corruption`): the denoising autoencoder;
- between encoder and decoder, a **code** part: a penalty on the code (`L1Code`,
  `KLSparseCode`), a hard sparsity rule (`TopKCode`) or a stochastic code (`GaussianCode`,
  the VAE's).

Every part is a Keras layer with primitive constructor arguments. Randomness follows one
rule: corruption and sampling happen when ``training=True`` (in `fit`) and never at
inference (`predict`, `evaluate`, `reconstruct`, `encode`).

A code part has ``call(h, training) -> z``; ``loss_terms(h, z) -> {name: scalar}``, the
terms it adds to the reconstruction loss (already weighted; `fit` logs each by name), whose
names it lists in ``terms``; and ``compute_output_shape(shape)``, the shape of ``z`` for an
encoder output of that shape (a vector ``(batch, units)`` or a grid such as ``(batch, 7, 7,
d)``: code parts work on the last axis). `compute_output_shape` raises a ValueError when
the part cannot take that shape, so a mismatch is caught when the model is built.
"""

from __future__ import annotations

import keras
from keras import ops

from aecore import _checks, losses

NOISE_KINDS = ("gaussian", "gaussian_unclipped", "masking", "salt_pepper")


def _stateless(layer):
    layer.built = True  # no weights: nothing to build


@keras.saving.register_keras_serializable(package="aecore")
class Corruption(keras.layers.Layer):
    """Corrupt inputs in [0, 1] while training; an identity at inference.

    Args:
        kind: ``"gaussian"`` (add N(0, level^2) noise, clip to [0, 1]),
            ``"gaussian_unclipped"`` (the same noise, not clipped: zero-mean, the noise
            classical denoisers such as BM3D are built for), ``"masking"`` (set a random
            fraction `level` of the values to 0) or ``"salt_pepper"`` (set a fraction
            `level` to 0 or 1, half each).
        level: the noise's standard deviation (gaussian) or the corrupted fraction.
        seed: seed of the layer's own random stream.
    """

    def __init__(self, kind="gaussian", level=0.3, seed=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in NOISE_KINDS:
            raise ValueError(f"kind must be one of {NOISE_KINDS}, got kind={kind!r}.")
        self.kind = kind
        self.level = (_checks.non_negative("level", level) if kind.startswith("gaussian")
                      else _checks.probability("level", level, closed_high=True))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        _stateless(self)

    def call(self, x, training=None):
        if not training or self.level == 0:
            return x
        if self.kind.startswith("gaussian"):
            noise = keras.random.normal(ops.shape(x), stddev=self.level, dtype=x.dtype,
                                        seed=self.seed_generator)
            if self.kind == "gaussian_unclipped":
                return x + noise
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
class GaussianCode(keras.layers.Layer):
    """The VAE's stochastic code (Kingma & Welling 2014).

    The encoder outputs ``2 * latent_dim`` numbers: the first half is ``z_mean``, the second
    ``z_log_var`` of a Gaussian q(z|x). While training, ``z = z_mean + exp(z_log_var / 2) *
    eps`` with ``eps ~ N(0, I)`` (the reparameterisation trick); at inference ``z = z_mean``.
    Loss term ``kl``: ``beta`` times KL(q(z|x) || N(0, I)) summed over the latent dimensions,
    averaged over the batch.

    Args:
        beta: weight of the KL term (1: the VAE; other values: a beta-VAE).
        seed: seed of the sampler's random stream.
    """

    terms = ("kl",)

    def __init__(self, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.beta = _checks.non_negative("beta", beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        _stateless(self)

    @staticmethod
    def split(h):
        """``h -> (z_mean, z_log_var)``, the two halves of the encoder's output."""
        z_mean, z_log_var = ops.split(h, 2, axis=-1)
        return z_mean, z_log_var

    def call(self, h, training=None):
        z_mean, z_log_var = self.split(h)
        if not training:
            return z_mean
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype,
                                  seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def loss_terms(self, h, z):
        z_mean, z_log_var = self.split(h)
        return {"kl": self.beta * ops.mean(losses.gaussian_kl(z_mean, z_log_var))}

    def compute_output_shape(self, shape):
        units = shape[-1]
        if units is None or units % 2:
            raise ValueError("GaussianCode needs an encoder whose last axis has an even "
                             f"number of outputs (z_mean and z_log_var), got shape {shape}.")
        return (*shape[:-1], units // 2)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}


class _Penalty(keras.layers.Layer):
    """Shared by the penalties: ``z = h``, a weighted term on the code."""

    def __init__(self, weight, **kwargs):
        super().__init__(**kwargs)
        self.weight = _checks.non_negative("weight", weight)
        _stateless(self)

    def call(self, h, training=None):
        return h

    def compute_output_shape(self, shape):
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package="aecore")
class L1Code(_Penalty):
    """An L1 penalty on the code: term ``l1`` = ``weight * mean_batch(sum_j |z_j|)``.

    Pair it with a ReLU code. Without a constraint on the decoder the penalty can be dodged
    by shrinking the code and growing the decoder's weights; `keras.constraints.UnitNorm` on
    the decoder's first layer closes that door.
    """

    terms = ("l1",)

    def loss_terms(self, h, z):
        return {"l1": self.weight * ops.mean(losses.l1(z))}


@keras.saving.register_keras_serializable(package="aecore")
class KLSparseCode(_Penalty):
    """The KL sparsity penalty (Ng 2011): each code unit should be active a fraction `target`
    of the time. Term ``sparsity`` = ``weight * sum_j KL(target || rho_hat_j)``, rho_hat_j the
    unit's mean over the batch. Needs a code in (0, 1): a sigmoid code activation.
    """

    terms = ("sparsity",)

    def __init__(self, target=0.05, weight=0.1, **kwargs):
        super().__init__(weight, **kwargs)
        self.target = _checks.probability("target", target, closed_low=False)

    def loss_terms(self, h, z):
        return {"sparsity": self.weight * losses.kl_sparsity(z, self.target)}

    def get_config(self):
        return {**super().get_config(), "target": self.target}


@keras.saving.register_keras_serializable(package="aecore")
class TopKCode(keras.layers.Layer):
    """Keep the `k` largest values of each code and set the rest to 0, then a ReLU (Gao et
    al. 2024): at most `k` active units per input, with no penalty to tune. No loss term.
    """

    terms = ()

    def __init__(self, k, **kwargs):
        super().__init__(**kwargs)
        self.k = _checks.positive_int("k", k)
        _stateless(self)

    def call(self, h, training=None):
        _, indices = ops.top_k(h, self.k)                      # (..., k)
        keep = ops.sum(ops.one_hot(indices, ops.shape(h)[-1], dtype=h.dtype), axis=-2)
        return ops.relu(h * keep)                              # (..., code units)

    def loss_terms(self, h, z):
        return {}

    def compute_output_shape(self, shape):
        if shape[-1] is not None and self.k > shape[-1]:
            raise ValueError(f"k={self.k} is larger than the code's last axis ({shape[-1]} "
                             f"units, shape {shape}).")
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "k": self.k}
