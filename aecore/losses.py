"""The terms autoencoders are trained with, written with `keras.ops` (any Keras backend).

Per-example functions return one value per example, shape ``(batch,)``; the models average
them over the batch. Scales that belong together are kept together: the VAE's
reconstruction is summed over pixels and its KL over latent dimensions, so that ``beta = 1``
is the real ELBO (a per-pixel mean next to a per-dimension sum would weight the KL by ~784).
"""

from __future__ import annotations

from keras import ops


def _per_example(values):
    """Flatten everything but the batch axis: ``(batch, ...) -> (batch, n)``."""
    return ops.reshape(values, (ops.shape(values)[0], -1))


def mse(x, x_hat):
    """Mean squared error over the values of each example: shape ``(batch,)``."""
    return ops.mean(_per_example(ops.square(x - x_hat)), axis=-1)


def bernoulli_nll(x, x_hat):
    """Binary cross-entropy summed over the values of each example, in nats: ``(batch,)``.

    The negative log-likelihood of ``x`` under independent Bernoulli pixels with means
    ``x_hat`` (for ``x`` in [0, 1] it is the usual continuous relaxation).
    """
    return ops.sum(_per_example(ops.binary_crossentropy(x, x_hat)), axis=-1)


RECONSTRUCTION_LOSSES = {"mse": mse, "bernoulli": bernoulli_nll}


def gaussian_kl(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over latent dimensions: ``(batch,)``."""
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def l1(z):
    """``sum_j |z_j|`` per example: ``(batch,)``."""
    return ops.sum(ops.abs(z), axis=-1)


def kl_sparsity(z, target):
    """``sum_j KL(rho || rho_hat_j)`` over code units, rho_hat_j the mean of unit j over the
    batch (Ng 2011): a scalar. `z` must lie in (0, 1), e.g. a sigmoid code."""
    rho_hat = ops.clip(ops.mean(z, axis=0), 1e-7, 1 - 1e-7)
    rho = target
    return ops.sum(rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat)))
