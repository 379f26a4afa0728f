"""The terms autoencoders are trained with, written with `keras.ops` (any Keras backend).

Per-example functions return one value per example, shape ``(batch,)``; the models average
them over the batch. Scales that belong together are kept together: the VAE's
reconstruction is summed over pixels and its KL over latent dimensions, so that ``beta = 1``
is the real ELBO (a per-pixel mean next to a per-dimension sum would weight the KL by ~784).

The functions accept tensors or NumPy arrays (``keras.ops`` converts them); NumPy callers get
a tensor back and use ``keras.ops.convert_to_numpy``, as `aecore.metrics` does.

An `Autoencoder`'s ``reconstruction=`` is one of the loss objects at the end: `MSE`,
`BernoulliNLL` or `HiddenPatchMSE` (the masked autoencoder's), or their names ``"mse"`` and
``"bernoulli"``. A loss object is called as ``loss(x, x_hat, z)`` -> ``(batch,)``, where
``z`` is the code the decoder received (most losses ignore it).
"""

from __future__ import annotations

import math

import keras
from keras import ops


def _per_example(values):
    """Flatten everything but the batch axis: ``(batch, ...) -> (batch, n)``."""
    return ops.reshape(values, (ops.shape(values)[0], -1))


def mse(x, x_hat, weights=None):
    """Mean squared error over the values of each example: shape ``(batch,)``.

    With `weights` (broadcastable to ``x``, e.g. 1 on hidden patches and 0 elsewhere), the
    weighted mean ``sum(w * (x - x_hat)^2) / sum(w)`` per example instead, 0 where an
    example's weights are all 0. The one squared error of the package: training losses,
    `aecore.metrics` and the masked autoencoder's loss all call it.
    """
    squared = _per_example(ops.square(x - x_hat))
    if weights is None:
        return ops.mean(squared, axis=-1)
    weights = _per_example(ops.broadcast_to(ops.cast(weights, squared.dtype), ops.shape(x)))
    return ops.sum(squared * weights, axis=-1) / ops.maximum(ops.sum(weights, axis=-1), 1e-12)


def bernoulli_nll(x, x_hat):
    """Binary cross-entropy summed over the values of each example, in nats: ``(batch,)``.

    The negative log-likelihood of ``x`` under independent Bernoulli pixels with means
    ``x_hat`` (for ``x`` in [0, 1] it is the usual continuous relaxation).
    """
    return ops.sum(_per_example(ops.binary_crossentropy(x, x_hat)), axis=-1)


def gaussian_kl(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over every latent number of an
    example (a vector or a grid): ``(batch,)``."""
    return -0.5 * ops.sum(_per_example(1 + z_log_var - ops.square(z_mean)
                                       - ops.exp(z_log_var)), axis=-1)


def l1(z):
    """``sum_j |z_j|`` over every code number of an example: ``(batch,)``."""
    return ops.sum(_per_example(ops.abs(z)), axis=-1)


def kl_sparsity(z, target):
    """``sum_j KL(rho || rho_hat_j)`` over code units, rho_hat_j the mean of unit j over the
    batch (Ng 2011): a scalar. `z` must lie in (0, 1), e.g. a sigmoid code."""
    rho_hat = ops.clip(ops.mean(_per_example(z), axis=0), 1e-7, 1 - 1e-7)
    rho = target
    return ops.sum(rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat)))


# -- reconstruction losses: what `Autoencoder(reconstruction=...)` takes -----------------------
class ReconstructionLoss:
    """Base of the reconstruction losses: ``loss(x, x_hat, z) -> (batch,)``.

    ``x`` is the target, ``x_hat`` the reconstruction and ``z`` the code the decoder
    received; a subclass overrides `per_example`. Saved with the model (``get_config``).
    """

    name = "reconstruction"

    def __call__(self, x, x_hat, z=None):
        return self.per_example(x, x_hat, z)

    def per_example(self, x, x_hat, z):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_model(self, encoder, decoder) -> None:
        """Raise a ValueError if this loss cannot score the model's halves (default: any)."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}()"


@keras.saving.register_keras_serializable(package="aecore")
class MSE(ReconstructionLoss):
    """`mse`: the mean squared error over each example's values (``"mse"``)."""

    def per_example(self, x, x_hat, z):
        return mse(x, x_hat)


@keras.saving.register_keras_serializable(package="aecore")
class BernoulliNLL(ReconstructionLoss):
    """`bernoulli_nll`: binary cross-entropy summed over each example's values, the VAE's
    likelihood term (``"bernoulli"``)."""

    def per_example(self, x, x_hat, z):
        return bernoulli_nll(x, x_hat)


@keras.saving.register_keras_serializable(package="aecore")
class HiddenPatchMSE(ReconstructionLoss):
    """The masked autoencoder's loss (He et al. 2021): the squared error on the **hidden
    patches only**.

    The code ``z`` is ``[tokens, hidden]`` as a masked autoencoder's encoder outputs it
    (`aecore.models.mae_encoder`): ``hidden`` ``(batch, n_patches)`` is 1 where a patch was
    hidden from the encoder. The patch size follows from the image and the number of
    patches, so it is stated once, in the encoder. Where nothing was hidden (at inference,
    so in ``val_loss`` and `evaluate`) every patch is scored: a plain reconstruction error.
    """

    def per_example(self, x, x_hat, z):
        if not isinstance(z, (list, tuple)) or len(z) != 2:
            raise ValueError("HiddenPatchMSE scores a masked autoencoder: its code must be "
                             "[tokens, hidden] (aecore.models.mae_encoder).")
        hidden = z[1]
        size = patch_size_of(tuple(x.shape[1:]), int(hidden.shape[-1]))
        hidden = ops.cast(hidden, x_hat.dtype)
        none = ops.sum(hidden, axis=-1, keepdims=True) < 0.5       # nothing hidden: score all
        hidden = ops.where(none, ops.ones_like(hidden), hidden)
        rows, cols = x.shape[1] // size, x.shape[2] // size
        weights = ops.reshape(hidden, (-1, rows, 1, cols, 1, 1))   # a patch's pixels share
        weights = ops.broadcast_to(weights, (ops.shape(hidden)[0], rows, size, cols, size,
                                             x.shape[3]))
        return mse(x, x_hat, ops.reshape(weights, ops.shape(x)))

    def check_model(self, encoder, decoder):
        shapes = encoder.output_shape
        if not isinstance(shapes, (list, tuple)) or not isinstance(shapes[0], (list, tuple)):
            raise ValueError("HiddenPatchMSE needs a masked autoencoder's encoder, whose "
                             "output is [tokens, hidden] (aecore.models.mae_encoder); got "
                             f"an encoder with output shape {shapes}.")
        patch_size_of(tuple(encoder.input_shape[1:]), int(shapes[1][-1]))


def patch_size_of(image_shape, n_patches) -> int:
    """The side of the square patches that cut an ``(H, W, C)`` image into `n_patches`."""
    h, w = int(image_shape[0]), int(image_shape[1])
    size = math.isqrt(h * w // max(int(n_patches), 1))
    if len(image_shape) != 3 or size < 1 or (h // size) * (w // size) != n_patches \
            or h % size or w % size:
        raise ValueError(f"{n_patches} patches do not cut images of shape {image_shape} "
                         "into square patches.")
    return size


RECONSTRUCTION_LOSSES = {"mse": MSE, "bernoulli": BernoulliNLL}


def reconstruction_loss(spec) -> ReconstructionLoss:
    """``"mse"``, ``"bernoulli"`` or a `ReconstructionLoss` object -> the loss object."""
    if isinstance(spec, ReconstructionLoss):
        return spec
    if isinstance(spec, str) and spec in RECONSTRUCTION_LOSSES:
        return RECONSTRUCTION_LOSSES[spec]()
    raise ValueError(f"reconstruction must be one of {tuple(RECONSTRUCTION_LOSSES)} or a loss "
                     f"object such as aecore.losses.HiddenPatchMSE(), got "
                     f"reconstruction={spec!r}.")
