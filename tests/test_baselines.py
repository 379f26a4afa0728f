"""PCABaseline: scikit-learn's PCA behind the autoencoders' interface; and elbo_terms."""

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA

import aecore
from aecore.baselines import PCABaseline
from aecore.metrics import elbo_terms
from aecore.models import Autoencoder, GaussianCode, dense_decoder, dense_encoder


def small_vae(beta=1.0, seed=0):
    return Autoencoder(dense_encoder((8, 8, 1), 4, (16,), code_activation=None),
                       dense_decoder(2, (8, 8, 1), (16,)), code=GaussianCode(beta, seed=seed),
                       reconstruction="bernoulli")


def test_pca_baseline_matches_scikit_learn_on_images(digits):
    pca = PCABaseline(5, seed=0, clip=False).fit(digits.x_train)  # images (n, 8, 8, 1)
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
    # by default, reconstructions are clipped to the training data's range, [0, 1] here
    clipped = PCABaseline(5, seed=0).fit(digits.x_train).reconstruct(digits.x_test)
    np.testing.assert_allclose(clipped, np.clip(x_hat, 0.0, 1.0), atol=1e-6)
    assert x_hat.min() < 0 or x_hat.max() > 1  # so the clipping did something


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


def test_pca_baseline_projects_onto_its_first_k_components(digits):
    """One fit with many components serves every smaller k: the same projection as a PCA
    fitted with k components (computed here from the SVD directly)."""
    pca = PCABaseline(20, seed=0, clip=False).fit(digits.x_train)
    flat_train = digits.x_train.reshape(len(digits.x_train), -1).astype(np.float64)
    flat_test = digits.x_test.reshape(len(digits.x_test), -1).astype(np.float64)
    mean = flat_train.mean(axis=0)
    _, _, vt = np.linalg.svd(flat_train - mean, full_matrices=False)
    for k in (1, 7, 20):
        v = vt[:k]
        expected = (flat_test - mean) @ v.T @ v + mean
        x_hat = pca.reconstruct(digits.x_test, n_components=k)
        assert x_hat.shape == digits.x_test.shape
        np.testing.assert_allclose(x_hat.reshape(len(x_hat), -1), expected, atol=1e-4)
    np.testing.assert_array_equal(pca.reconstruct(digits.x_test, n_components=20),
                                  pca.reconstruct(digits.x_test))
    with pytest.raises(ValueError, match="exceeds the 20 components"):
        pca.reconstruct(digits.x_test, n_components=21)


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
    model = small_vae()
    terms = elbo_terms(model, digits.x_test, draws=3)
    assert set(terms) == {"reconstruction", "kl", "neg_elbo", "neg_elbo_std"}
    assert terms["neg_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"])
    assert terms["reconstruction"] > 10 and terms["kl"] >= 0  # per-sample sums, in nats
    assert terms["neg_elbo_std"] > 0  # three different draws of the codes
    assert elbo_terms(model, digits.x_test)["neg_elbo_std"] == 0.0
    with pytest.raises(ValueError, match="draws"):
        elbo_terms(model, digits.x_test, draws=0)
    with pytest.raises(ValueError, match="needs a VAE"):
        elbo_terms(Autoencoder(dense_encoder((8, 8, 1), 2), dense_decoder(2, (8, 8, 1))),
                   digits.x_test)


def numpy_bce(x, p):
    x, p = np.asarray(x, np.float64), np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)


def test_elbo_terms_match_numpy_with_the_same_draws(digits):
    keras.utils.set_random_seed(0)
    model = small_vae(beta=0.25)
    x = digits.x_test[:100]
    terms = elbo_terms(model, x, draws=4, seed=7)
    # NumPy: the encoder's two halves, the closed-form KL, four draws from the same seed
    z_mean, z_log_var = np.split(model.encode_raw(x), 2, axis=1)
    kl = 0.5 * np.sum(np.exp(z_log_var.astype(np.float64)) + z_mean.astype(np.float64) ** 2
                      - 1 - z_log_var, axis=1)
    rng = np.random.default_rng(7)
    nll = np.array([numpy_bce(x, model.decode(
        z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape, np.float32)))
        for _ in range(4)])                               # (draws, n)
    per_draw = (nll + kl).mean(axis=1)
    assert terms["kl"] == pytest.approx(kl.mean(), rel=1e-5)
    assert terms["reconstruction"] == pytest.approx(nll.mean(), rel=1e-5)
    assert terms["neg_elbo"] == pytest.approx(per_draw.mean(), rel=1e-5)
    assert terms["neg_elbo_std"] == pytest.approx(per_draw.std(), rel=1e-3, abs=1e-6)
    # the KL of the ELBO is the whole KL, whatever beta; training weighs it by beta
    weighted = model.loss_terms(x, model.reconstruct(x))["kl"]
    assert float(weighted) == pytest.approx(0.25 * terms["kl"], rel=1e-4)
    # the sampled reconstruction term is close to an independent Monte-Carlo estimate
    draws = 8
    z = z_mean + np.exp(0.5 * z_log_var) * np.random.default_rng(1).standard_normal(
        (draws, *z_mean.shape)).astype(np.float32)
    x_hat = model.decode(z.reshape(-1, z.shape[-1]))  # all draws in one call
    mc = numpy_bce(np.tile(x, (draws, 1, 1, 1)), x_hat).mean()
    assert elbo_terms(model, x, draws=draws, seed=2)["reconstruction"] == pytest.approx(
        mc, rel=0.01)


# -- classical denoisers ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy_pair():
    x = aecore.load_dataset("digits").x_test[:6, ..., 0]
    x = np.kron(x, np.ones((2, 2), dtype=x.dtype))  # 16 x 16: BM3D's blocks need room
    return x, aecore.data.corrupt(x, "gaussian", 0.2, seed=0)


def test_denoise_matches_the_libraries_called_directly(noisy_pair):
    import bm3d
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

    _, noisy = noisy_pair
    direct = {
        "non-local means": [denoise_nl_means(im.astype(np.float64), h=0.1, sigma=0.2,
                                             patch_size=3, patch_distance=5) for im in noisy],
        "total variation": [denoise_tv_chambolle(im.astype(np.float64), weight=0.1)
                            for im in noisy],
        "BM3D": [bm3d.bm3d(im.astype(np.float64), sigma_psd=0.1) for im in noisy]}
    for method, expected in direct.items():
        out = aecore.baselines.denoise(noisy, method, 0.1, noise_std=0.2)
        assert out.shape == noisy.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, np.clip(np.stack(expected), 0, 1), atol=1e-6)


def test_tune_denoiser_picks_the_best_psnr(noisy_pair):
    clean, noisy = noisy_pair
    best, scores = aecore.baselines.tune_denoiser(clean, noisy, "total variation",
                                                  (1e-4, 0.1, 5.0))
    assert set(scores) == {1e-4, 0.1, 5.0} and best == max(scores, key=scores.get)
    expected = aecore.metrics.psnr(clean, aecore.baselines.denoise(
        noisy, "total variation", best)).mean()
    assert scores[best] == pytest.approx(expected)
    assert best == 0.1  # a near-zero weight keeps the noise, a huge one flattens the image


def test_denoise_rejects_bad_input(noisy_pair):
    _, noisy = noisy_pair
    with pytest.raises(ValueError, match="method must be one of"):
        aecore.baselines.denoise(noisy, "wiener", 0.1)
    with pytest.raises(ValueError, match=r"\(n, height, width\)"):
        aecore.baselines.denoise(noisy[..., None], "BM3D", 0.1)
    with pytest.raises(ValueError, match="larger than 8 x 8"):
        aecore.baselines.denoise(noisy[:, :8, :8], "BM3D", 0.1)  # would crash bm3d
    with pytest.raises(ValueError, match="at least one value"):
        aecore.baselines.tune_denoiser(noisy, noisy, "BM3D", ())


def test_debias_clipped_inverts_the_mean_of_clipped_noise():
    """Monte Carlo means of clip(x + e, 0, 1) are mapped back to x."""
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 1.0, 11)
    noisy_mean = np.clip(x[:, None] + 0.3 * rng.standard_normal((11, 200_000)), 0, 1).mean(1)
    assert noisy_mean[0] == pytest.approx(0.3 / np.sqrt(2 * np.pi), abs=3e-3)
    back = aecore.baselines.debias_clipped(noisy_mean, 0.3)
    np.testing.assert_allclose(back, x, atol=0.01)
    assert aecore.baselines.debias_clipped(np.array([0.0, 1.0]), 0.3).tolist() == [0.0, 1.0]


def test_nl_means_takes_h_and_sigma_as_a_pair(noisy_pair):
    _, noisy = noisy_pair
    pair = aecore.baselines.denoise(noisy, "non-local means", (0.1, 0.2))
    single = aecore.baselines.denoise(noisy, "non-local means", 0.1, noise_std=0.2)
    np.testing.assert_array_equal(pair, single)
