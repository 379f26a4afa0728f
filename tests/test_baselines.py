"""PCABaseline: scikit-learn's PCA behind the autoencoders' interface; and elbo_terms."""

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA

import aecore
from aecore.baselines import PCABaseline
from aecore.metrics import elbo_terms
from aecore.models import VariationalAutoencoder


def test_pca_baseline_matches_scikit_learn_on_images(digits):
    pca = PCABaseline(5, seed=0).fit(digits.x_train)  # images (n, 8, 8, 1)
    flat_train = digits.x_train.reshape(len(digits.x_train), -1)
    flat_test = digits.x_test.reshape(len(digits.x_test), -1)
    reference = PCA(n_components=5, random_state=0).fit(flat_train)
    z = pca.encode(digits.x_test)
    assert z.shape == (len(digits.x_test), 5)
    np.testing.assert_allclose(z, reference.transform(flat_test), atol=1e-4)
    x_hat = pca.reconstruct(digits.x_test)
    assert x_hat.shape == digits.x_test.shape
    np.testing.assert_allclose(x_hat.reshape(len(x_hat), -1),
                               reference.inverse_transform(reference.transform(flat_test)),
                               atol=1e-4)
    assert pca.count_params() == 5 * 64 + 64


def test_pca_baseline_is_scored_like_an_autoencoder(digits):
    pca = PCABaseline(8).fit(digits.x_train)
    errors = aecore.reconstruction_error(pca, digits.x_test)
    assert errors.shape == (len(digits.x_test),)
    np.testing.assert_allclose(
        errors, np.mean((digits.x_test - pca.reconstruct(digits.x_test)).reshape(
            len(errors), -1) ** 2, axis=1), rtol=1e-6)
    # more components, smaller error; all of them, (almost) none
    assert PCABaseline(32).fit(digits.x_train).reconstruct(digits.x_test).shape \
        == digits.x_test.shape
    assert aecore.reconstruction_error(PCABaseline(32).fit(digits.x_train),
                                       digits.x_test).mean() < errors.mean()


def test_pca_baseline_errors(digits):
    with pytest.raises(ValueError, match="latent_dim"):
        PCABaseline(0)
    with pytest.raises(ValueError, match="not fitted"):
        PCABaseline(2).encode(digits.x_test)
    pca = PCABaseline(2).fit(digits.x_train)
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\)"):
        pca.encode(digits.x_test.reshape(len(digits.x_test), -1))
    with pytest.raises(ValueError, match=r"z must have shape \(n, 2\)"):
        pca.decode(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="more than latent_dim"):
        PCABaseline(10).fit(digits.x_train[:5])


def test_elbo_terms_add_up_and_average_over_draws(digits):
    model = VariationalAutoencoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
                                   seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    terms = elbo_terms(model, digits.x_test, draws=3)
    assert set(terms) == {"reconstruction", "kl", "neg_elbo", "neg_elbo_std"}
    assert terms["neg_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
    assert terms["reconstruction"] > 10 and terms["kl"] >= 0  # per-sample sums, in nats
    assert terms["neg_elbo_std"] > 0  # three different draws of the codes
    assert elbo_terms(model, digits.x_test)["neg_elbo_std"] == 0.0
    with pytest.raises(ValueError, match="draws"):
        elbo_terms(model, digits.x_test, draws=0)
