"""Sparse autoencoders: a code with many units, few of them active for any one input."""

from __future__ import annotations

import keras
from keras import ops

from aecore import _checks
from aecore.models.dense import DenseAutoencoder

SPARSITY_KINDS = ("kl", "l1")


def kl_sparsity(code, target):
    """Sum over code units of KL(target || mean activation of the unit over the batch).

    `code` must lie in (0, 1) (a sigmoid code); `target` is the desired mean activation rho.
    """
    rho_hat = ops.clip(ops.mean(code, axis=0), 1e-7, 1 - 1e-7)
    rho = target
    return ops.sum(rho * ops.log(rho / rho_hat)
                   + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat)))


@keras.saving.register_keras_serializable(package="aecore")
class SparseAutoencoder(DenseAutoencoder):
    """A dense autoencoder whose code pays a penalty for being active.

    Two classic penalties, added to the loss with `add_loss` and averaged over the batch:

    - ``sparsity="kl"`` (Ng 2011): a sigmoid code whose units should each be active a
      fraction `target` of the time (rho, 0.05 classically); the penalty is
      ``weight * sum_j KL(rho || rho_hat_j)``, rho_hat_j the unit's mean over the batch.
    - ``sparsity="l1"``: a ReLU code and the penalty ``weight * mean_batch(sum_j |z_j|)``.

    The penalty also appears in `fit`'s logs as ``sparsity_loss``.

    Args:
        sparsity: ``"kl"`` or ``"l1"``.
        sparsity_weight: the penalty's weight (beta in Ng's notes).
        target: the target mean activation rho, in (0, 1) (``"kl"`` only).
        Other arguments as for `DenseAutoencoder`; the code activation is chosen by
        `sparsity` (sigmoid for KL, ReLU for L1) unless given.
    """

    def __init__(self, input_shape=(784,), latent_dim=256, hidden_units=(), sparsity="kl",
                 sparsity_weight=0.1, target=0.05, code_activation=None, **kwargs):
        if sparsity not in SPARSITY_KINDS:
            raise ValueError(
                f"sparsity must be one of {SPARSITY_KINDS}, got sparsity={sparsity!r}.")
        self.sparsity = sparsity
        self.sparsity_weight = _checks.non_negative("sparsity_weight", sparsity_weight)
        self.target = _checks.probability("target", target, closed_low=False)
        if code_activation is None:
            code_activation = "sigmoid" if sparsity == "kl" else "relu"
        if sparsity == "kl" and code_activation != "sigmoid":
            raise ValueError("sparsity='kl' needs a code in (0, 1): code_activation must be "
                             f"'sigmoid', got code_activation={code_activation!r}.")
        super().__init__(input_shape=input_shape, latent_dim=latent_dim,
                         hidden_units=hidden_units, code_activation=code_activation, **kwargs)

    def build_extras(self):
        self.sparsity_tracker = keras.metrics.Mean(name="sparsity_loss")

    def sparsity_penalty(self, z):
        """The weighted penalty for a batch of codes `z`."""
        if self.sparsity == "kl":
            penalty = kl_sparsity(z, self.target)
        else:
            penalty = ops.mean(ops.sum(ops.abs(z), axis=-1))
        return self.sparsity_weight * penalty

    def call(self, x, training=None):
        z = self.encoder(x, training=training)
        self.add_loss(self.sparsity_penalty(z))
        return self.decoder(z, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        if self.losses:
            self.sparsity_tracker.update_state(ops.sum(ops.stack(self.losses)),
                                               sample_weight=ops.shape(y_pred)[0])
        return total

    def get_config(self):
        return {**super().get_config(), "sparsity": self.sparsity,
                "sparsity_weight": self.sparsity_weight, "target": self.target}
