"""The VAE's importance-weighted likelihood against numerical integration over a 1-D code."""

import numpy as np
import pytest
from scipy.special import logsumexp

import aecore
from aecore.metrics import elbo_terms, importance_weighted_nll
from aecore.models import Autoencoder, GaussianCode, dense_decoder, dense_encoder


@pytest.fixture(scope="module")
def vae_1d(digits):
    aecore.train.set_seed(0)
    shape = digits.input_shape
    model = Autoencoder(dense_encoder(shape, 2, (32,), code_activation=None),
                        dense_decoder(1, shape, (32,)), code=GaussianCode(seed=0),
                        reconstruction="bernoulli")
    model.compile(optimizer="adam")
    model.fit(digits.x_train, epochs=3, batch_size=64, verbose=0)
    return model


def log_px_by_quadrature(model, x):
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz on a fine grid (the code is 1-D)."""
    grid = np.linspace(-8, 8, 1601)
    dz = grid[1] - grid[0]
    x_hat = model.decode(grid[:, None].astype("float32"))           # (grid, 8, 8, 1)
    x_hat = np.clip(x_hat.reshape(len(grid), -1), 1e-7, 1 - 1e-7)   # as Keras' BCE clips
    xs = x.reshape(len(x), -1)
    log_px_z = xs @ np.log(x_hat).T + (1 - xs) @ np.log(1 - x_hat).T  # (n, grid), NumPy
    log_pz = -0.5 * (grid ** 2 + np.log(2 * np.pi))
    return logsumexp(log_px_z + log_pz, axis=1) + np.log(dz)


def test_importance_weighted_nll_converges_to_the_integral(vae_1d, digits):
    x = digits.x_test[:20]
    exact = -log_px_by_quadrature(vae_1d, x)
    estimate = importance_weighted_nll(vae_1d, x, k=2000, seed=0)
    assert estimate.shape == (20,)
    np.testing.assert_allclose(estimate, exact, atol=0.5)  # nats per image


def test_more_samples_tighten_the_bound(vae_1d, digits):
    x = digits.x_test[:50]
    one = importance_weighted_nll(vae_1d, x, k=1, seed=1).mean()
    many = importance_weighted_nll(vae_1d, x, k=200, seed=1).mean()
    elbo = elbo_terms(vae_1d, x, draws=20, seed=1)["neg_elbo"]
    assert many < elbo  # -log p(x) <= -ELBO, and k = 200 is close to -log p(x)
    assert abs(one - elbo) < 0.1 * abs(elbo)  # k = 1 is the one-draw ELBO estimate


def test_needs_a_vae(digits):
    plain = Autoencoder(dense_encoder(digits.input_shape, 4),
                        dense_decoder(4, digits.input_shape))
    with pytest.raises(ValueError, match="GaussianCode"):
        importance_weighted_nll(plain, digits.x_test[:2])
