"""The parts that make the variants (denoising, sparse, variational), checked against NumPy
and formulas; their effect on training; layer-wise pretraining."""

import keras
import numpy as np
import pytest
from keras import ops
from scipy.stats import norm

import aecore
from aecore.losses import bernoulli_nll, gaussian_kl, kl_sparsity, l1, mse
from aecore.metrics import elbo_terms
from aecore.models import (Autoencoder, Corruption, GaussianCode, KLSparseCode, L1Code, TopKCode,
                           dense_decoder, dense_encoder)
from aecore.models.parts import NOISE_KINDS

SHAPE = (8, 8, 1)


def numpy(x):
    return ops.convert_to_numpy(x)


def numpy_bce(x, p):
    """Binary cross-entropy summed per example, in float64 (Keras clips p to [1e-7, 1 - 1e-7])."""
    x, p = np.asarray(x, np.float64), np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)


def numpy_gaussian_kl(z_mean, z_log_var):
    """KL(N(mu, sigma^2) || N(0, 1)) summed over dimensions: sum (sigma^2 + mu^2 - 1 - log
    sigma^2) / 2."""
    mu, log_var = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    return 0.5 * np.sum(np.exp(log_var) + mu ** 2 - 1 - log_var, axis=-1)


def numpy_bernoulli_kl(rho, q):
    return rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))


def vae(beta=1.0, latent_dim=2, hidden_units=(16,), seed=3):
    return Autoencoder(dense_encoder(SHAPE, 2 * latent_dim, hidden_units, code_activation=None),
                       dense_decoder(latent_dim, SHAPE, hidden_units),
                       code=GaussianCode(beta, seed=seed), reconstruction="bernoulli")


# -- Corruption: the denoising autoencoder's part -----------------------------------------------
@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_corruption_happens_only_while_training(kind):
    x = np.full((50, 10), 0.5, "float32")
    layer = Corruption(kind, 0.4, seed=0)
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(numpy(layer(x)), x)
    np.testing.assert_array_equal(numpy(Corruption(kind, 0.0, seed=0)(x, training=True)), x)
    first, second = numpy(layer(x, training=True)), numpy(layer(x, training=True))
    assert not np.array_equal(first, x) and not np.array_equal(first, second)  # fresh noise
    # the same seed, the same noise; and aecore.data.corrupt is that noise
    np.testing.assert_array_equal(numpy(Corruption(kind, 0.4, seed=0)(x, training=True)), first)
    np.testing.assert_array_equal(aecore.data.corrupt(x, kind, 0.4, seed=0), first)


def test_gaussian_noise_has_the_level_as_its_std():
    x = np.full((400, 100), 0.5, "float32")  # mid-grey: noise of std 0.1 is 5 std from a bound
    noise = numpy(Corruption("gaussian", 0.1, seed=0)(x, training=True)) - x
    assert abs(noise.mean()) < 0.002  # standard error 0.0005
    assert noise.std() == pytest.approx(0.1, rel=0.02)
    # a larger level is clipped to [0, 1]: P(0.5 + noise > 1) = P(Z > 0.5 / level) each side
    noisy = numpy(Corruption("gaussian", 0.4, seed=1)(x, training=True))
    assert noisy.min() == 0.0 and noisy.max() == 1.0
    tail = norm.sf(0.5 / 0.4)  # 0.106
    assert np.mean(noisy == 0.0) == pytest.approx(tail, abs=0.01)
    assert np.mean(noisy == 1.0) == pytest.approx(tail, abs=0.01)


def test_unclipped_gaussian_noise_is_zero_mean_on_black_where_clipped_noise_is_biased():
    x = np.zeros((400, 100), "float32")  # black pixels, the background of Fashion-MNIST
    noisy = numpy(Corruption("gaussian_unclipped", 0.3, seed=0)(x, training=True))
    assert noisy.min() < 0  # not clipped
    assert abs(noisy.mean()) < 0.003  # standard error 0.0015
    assert noisy.std() == pytest.approx(0.3, rel=0.02)
    # the clipped kind draws the same noise and clips it; on black its mean is the
    # half-normal's sigma / sqrt(2 pi) (E[max(0, Z)] for Z ~ N(0, sigma^2))
    clipped = numpy(Corruption("gaussian", 0.3, seed=0)(x, training=True))
    np.testing.assert_array_equal(clipped, np.clip(noisy, 0, 1))
    assert clipped.mean() == pytest.approx(0.3 / np.sqrt(2 * np.pi), abs=0.003)


def test_a_model_trained_on_unclipped_noise_takes_inputs_outside_the_unit_range(digits):
    x = digits.x_test[:8]
    noisy = aecore.data.corrupt(x, "gaussian_unclipped", 0.3, seed=0)
    assert noisy.min() < 0 and noisy.max() > 1
    halves = (dense_encoder(SHAPE, 4, (16,)), dense_decoder(4, SHAPE, (16,)))
    unclipped = Autoencoder(*halves, corruption=Corruption("gaussian_unclipped", 0.3))
    # the clean pass of the unclipped input: what the model is trained to clean
    np.testing.assert_allclose(unclipped.reconstruct(noisy),
                               numpy(unclipped(noisy, training=False)), atol=1e-6)
    clipped = Autoencoder(*halves, corruption=Corruption("gaussian", 0.3))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        clipped.reconstruct(noisy)  # a clipped-noise model still refuses them


def test_masking_zeroes_a_fraction_level_and_keeps_the_rest(rng):
    x = rng.uniform(0.1, 1.0, (400, 100)).astype("float32")
    noisy = numpy(Corruption("masking", 0.3, seed=0)(x, training=True))
    hit = noisy == 0
    assert hit.mean() == pytest.approx(0.3, abs=0.01)  # standard error 0.0023
    np.testing.assert_array_equal(noisy[~hit], x[~hit])


def test_salt_and_pepper_hits_a_fraction_level_half_white_half_black():
    x = np.full((400, 100), 0.5, "float32")
    noisy = numpy(Corruption("salt_pepper", 0.2, seed=0)(x, training=True))
    hit = noisy != 0.5
    assert hit.mean() == pytest.approx(0.2, abs=0.01)  # standard error 0.002
    assert set(np.unique(noisy[hit])) == {0.0, 1.0}
    assert np.mean(noisy[hit] == 1.0) == pytest.approx(0.5, abs=0.03)  # standard error 0.0056


def test_a_denoising_model_corrupts_only_while_training(digits):
    model = Autoencoder(dense_encoder(SHAPE, 4, (16,)), dense_decoder(4, SHAPE, (16,)),
                        corruption=Corruption("masking", 0.5, seed=1))
    x = digits.x_test[:16]
    clean = numpy(model(x, training=False))
    np.testing.assert_allclose(clean, model.reconstruct(x), atol=1e-6)
    # the training pass is the clean pass of the corrupted input, with the layer's noise
    noisy_input = numpy(Corruption("masking", 0.5, seed=1)(x, training=True))
    np.testing.assert_allclose(numpy(model(x, training=True)), model.reconstruct(noisy_input),
                               atol=1e-6)
    assert not np.allclose(model.reconstruct(noisy_input), clean)


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "poisson"}, "kind must be one of"),
    ({"kind": "masking", "level": 1.5}, r"level must be in \[0, 1\]"),
    ({"kind": "salt_pepper", "level": -0.1}, r"level must be in \[0, 1\]"),
    ({"kind": "gaussian", "level": -0.1}, "level must be a non-negative"),
])
def test_corruption_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Corruption(**kwargs)


# -- sparsity: L1Code, KLSparseCode, TopKCode ---------------------------------------------------
def test_losses_match_numpy(rng):
    x = rng.random((4, 8, 8, 1)).astype("float32")
    p = rng.uniform(0.01, 0.99, x.shape).astype("float32")
    np.testing.assert_allclose(numpy(bernoulli_nll(x, p)), numpy_bce(x, p), rtol=1e-5)
    np.testing.assert_allclose(numpy(mse(x, p)), ((x - p) ** 2).reshape(4, -1).mean(axis=1),
                               rtol=1e-5)
    z = rng.normal(size=(5, 7)).astype("float32")
    np.testing.assert_allclose(numpy(l1(z)), np.abs(z).sum(axis=1), rtol=1e-6)


def test_l1_term_is_weight_times_the_mean_l1_norm(rng, digits):
    h = rng.normal(size=(5, 7)).astype("float32")
    terms = L1Code(0.3).loss_terms(h, h)
    assert set(terms) == {"l1"}
    assert float(terms["l1"]) == pytest.approx(0.3 * np.abs(h).sum(axis=1).mean(), rel=1e-6)
    np.testing.assert_array_equal(numpy(L1Code(0.3)(h, training=True)), h)  # z = h
    model = Autoencoder(dense_encoder(SHAPE, 8, (16,)), dense_decoder(8, SHAPE, (16,)),
                        code=L1Code(0.3))
    x = digits.x_test[:20]
    z = model.encode(x)
    terms = model.loss_terms(x, x)  # on a model never called before
    assert float(terms["reconstruction"]) == 0.0
    assert float(terms["l1"]) == pytest.approx(0.3 * np.abs(z).sum(axis=1).mean(), rel=1e-5)


def test_kl_sparsity_term_matches_numpy(rng, digits):
    z = rng.uniform(0.01, 0.99, (32, 10)).astype("float32")
    terms = KLSparseCode(target=0.05, weight=2.0).loss_terms(z, z)
    expected = 2.0 * numpy_bernoulli_kl(0.05, z.astype(np.float64).mean(axis=0)).sum()
    assert set(terms) == {"sparsity"}
    assert float(terms["sparsity"]) == pytest.approx(expected, rel=1e-5)
    # the worked example: unit means 0.5, 0.1, 0.1 with target 0.1; only the first costs
    z = np.array([[0.5, 0.1, 0.2], [0.5, 0.1, 0.0]], "float32")
    assert float(kl_sparsity(z, 0.1)) == pytest.approx(numpy_bernoulli_kl(0.1, 0.5), rel=1e-5)
    assert float(kl_sparsity(np.full((4, 3), 0.05, "float32"), 0.05)) == pytest.approx(0, abs=1e-6)
    # in a model, on its sigmoid code
    model = Autoencoder(dense_encoder(SHAPE, 8, (16,), code_activation="sigmoid"),
                        dense_decoder(8, SHAPE, (16,)), code=KLSparseCode(0.1, 0.5))
    x = digits.x_test[:40]
    rho_hat = model.encode(x).astype(np.float64).mean(axis=0)
    terms = model.loss_terms(x, model.reconstruct(x))
    assert float(terms["sparsity"]) == pytest.approx(
        0.5 * numpy_bernoulli_kl(0.1, rho_hat).sum(), rel=1e-4)


def test_top_k_keeps_the_k_largest_values_where_they_were(rng):
    h = rng.uniform(0.1, 1.0, (6, 10)).astype("float32")
    top = np.argsort(-h, axis=1)[:, :3]
    expected = np.zeros_like(h)
    np.put_along_axis(expected, top, np.take_along_axis(h, top, axis=1), axis=1)
    for training in (False, True):
        z = numpy(TopKCode(3)(h, training=training))
        np.testing.assert_array_equal(z, expected)
    assert np.all(np.count_nonzero(z, axis=1) == 3)
    assert TopKCode(3).loss_terms(h, z) == {} and TopKCode(3).terms == ()
    # then a ReLU: a negative value among the k largest is dropped too
    h = -h
    h[:, 4] = 0.5
    z = numpy(TopKCode(3)(h))
    assert np.all(np.count_nonzero(z, axis=1) == 1) and np.all(z[:, 4] == 0.5)


def test_top_k_gradient_reaches_only_the_kept_values(rng):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("uses tf.GradientTape")
    import tensorflow as tf

    h = tf.constant(rng.uniform(0.1, 1.0, (4, 10)).astype("float32"))
    w = rng.normal(size=(4, 10)).astype("float32")
    layer = TopKCode(3)
    with tf.GradientTape() as tape:
        tape.watch(h)
        loss = tf.reduce_sum(layer(h, training=True) * w)
    grad = tape.gradient(loss, h).numpy()
    kept = numpy(layer(h)) != 0
    assert kept.sum() == 12
    np.testing.assert_array_equal(grad, np.where(kept, w, 0.0))


def test_a_top_k_model_has_at_most_k_active_units(digits):
    model = Autoencoder(dense_encoder(SHAPE, 12, code_activation=None), dense_decoder(12, SHAPE),
                        code=TopKCode(4))
    z = model.encode(digits.x_test[:50])
    assert z.shape == (50, 12) and np.all(np.count_nonzero(z, axis=1) <= 4)
    assert np.all(z >= 0)


@pytest.mark.parametrize("make, match", [
    (lambda: KLSparseCode(target=0.0), r"target must be in \(0, 1\)"),
    (lambda: KLSparseCode(target=1.0), r"target must be in \(0, 1\)"),
    (lambda: KLSparseCode(weight=-1), "weight must be a non-negative number"),
    (lambda: L1Code(-0.1), "weight must be a non-negative number"),
    (lambda: L1Code("big"), "weight must be a non-negative number"),
    (lambda: TopKCode(0), "k must be a positive integer, got k=0"),
    (lambda: TopKCode(2.5), "k must be a positive integer"),
    (lambda: GaussianCode(beta=-1.0), "beta must be a non-negative number"),
])
def test_code_parts_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("sparsity", ["kl", "l1"])
def test_a_sparsity_penalty_makes_the_code_sparser(sparsity, digits):
    def mean_activation(weight):
        aecore.train.set_seed(0)
        code = KLSparseCode(0.05, weight) if sparsity == "kl" else L1Code(weight)
        model = Autoencoder(
            dense_encoder(SHAPE, 64, code_activation="sigmoid" if sparsity == "kl" else "relu"),
            dense_decoder(64, SHAPE), code=code)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        logs = model.fit(digits.x_train, epochs=2, batch_size=64, verbose=0).history
        term = code.terms[0]
        np.testing.assert_allclose(logs["loss"], np.add(logs["reconstruction"], logs[term]),
                                   rtol=1e-6)
        return aecore.metrics.code_activity(model.encode(digits.x_test))["mean_activation"]

    assert mean_activation(1.0 if sparsity == "kl" else 0.1) < 0.7 * mean_activation(0.0)


# -- GaussianCode: the VAE's part ---------------------------------------------------------------
def test_gaussian_code_at_inference_is_z_mean(rng):
    h = rng.normal(size=(5, 6)).astype("float32")
    code = GaussianCode(seed=0)
    for training in (False, None):
        np.testing.assert_array_equal(numpy(code(h, training=training)), h[:, :3])
    assert code.compute_output_shape((None, 6)) == (None, 3)
    assert code.compute_output_shape((None, 7, 7, 4)) == (None, 7, 7, 2)  # any rank


def test_gaussian_code_samples_with_the_right_mean_and_std():
    mean, log_var = np.array([1.0, -2.0, 0.5]), np.log([1.0, 4.0, 0.25])
    n = 20000
    h = np.tile(np.concatenate([mean, log_var]), (n, 1)).astype("float32")
    code = GaussianCode(seed=0)
    z = numpy(code(h, training=True))
    std = np.exp(log_var / 2)  # 1, 2, 0.5
    assert np.all(np.abs(z.mean(axis=0) - mean) < 4 * std / np.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), std, rtol=0.03)  # standard error 0.5 %
    assert np.all(np.abs(np.corrcoef(z.T)[np.triu_indices(3, 1)]) < 0.05)  # independent
    assert not np.array_equal(numpy(code(h, training=True)), z)  # a new draw every step
    np.testing.assert_array_equal(numpy(GaussianCode(seed=0)(h, training=True)), z)


def test_gaussian_kl_matches_the_closed_form(rng):
    z_mean = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    z_log_var = np.array([[0.0, 0.0], [np.log(4.0), 0.0]], "float32")
    expected = [0.0, 0.5 * ((4 + 1 - 1 - np.log(4)) + (1 + 4 - 1 - 0))]  # worked by hand
    np.testing.assert_allclose(numpy(gaussian_kl(z_mean, z_log_var)), expected, rtol=1e-6)
    z_mean, z_log_var = rng.normal(size=(2, 9, 4)).astype("float32")
    np.testing.assert_allclose(numpy(gaussian_kl(z_mean, z_log_var)),
                               numpy_gaussian_kl(z_mean, z_log_var), rtol=1e-5)


def test_vae_loss_terms_match_numpy_and_keras_evaluate(digits):
    keras.utils.set_random_seed(0)
    model = vae(beta=0.5)
    x = digits.x_test[:32]
    h = model.encode_raw(x)
    z_mean, z_log_var = np.split(h, 2, axis=1)
    np.testing.assert_array_equal(model.encode(x), z_mean)
    x_hat = model.reconstruct(x)
    np.testing.assert_allclose(x_hat, model.decode(z_mean), atol=1e-6)  # decodes z_mean
    terms = model.loss_terms(x, x_hat)
    assert set(terms) == {"reconstruction", "kl"}
    # reconstruction summed over the 64 pixels, KL over the latent dimensions; batch means
    assert float(terms["reconstruction"]) == pytest.approx(numpy_bce(x, x_hat).mean(), rel=1e-5)
    assert float(terms["kl"]) == pytest.approx(
        0.5 * numpy_gaussian_kl(z_mean, z_log_var).mean(), rel=1e-4)
    # Keras' evaluate (one batch, at inference) computes the same objective
    model.compile(optimizer="adam")
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    for name in terms:
        assert logs[name] == pytest.approx(float(terms[name]), rel=1e-5)
    assert logs["loss"] == pytest.approx(sum(float(v) for v in terms.values()), rel=1e-5)


def test_vae_logs_its_terms_per_example_and_they_add_up(digits):
    aecore.train.set_seed(0)
    model = vae(beta=0.5)
    model.compile(optimizer="adam")
    logs = model.fit(digits.x_train, epochs=2, batch_size=128, verbose=0,
                     validation_data=(digits.x_test,)).history
    assert set(logs) == {"loss", "reconstruction", "kl",
                         "val_loss", "val_reconstruction", "val_kl"}
    # per-example sums: the reconstruction term is tens of nats for 64 pixels, not < 1
    assert logs["reconstruction"][-1] > 10 and logs["kl"][-1] > 0
    for prefix in ("", "val_"):
        np.testing.assert_allclose(
            logs[prefix + "loss"],
            np.add(logs[prefix + "reconstruction"], logs[prefix + "kl"]), rtol=1e-6)
    assert logs["loss"][-1] < logs["loss"][0]


def test_vae_beta_changes_training(digits):
    def kl_after(beta):
        aecore.train.set_seed(0)
        model = vae(beta=beta, hidden_units=(32,), seed=0)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit(digits.x_train, epochs=2, batch_size=64, verbose=0)
        return elbo_terms(model, digits.x_test)["kl"]  # the KL itself, whatever beta

    assert kl_after(10.0) < 0.5 * kl_after(0.1)


# -- layer-wise pretraining ---------------------------------------------------------------------
def test_layerwise_pretraining_stacks_the_shallow_models(digits):
    aecore.train.set_seed(0)
    model, histories = aecore.train.pretrain_layerwise(digits.x_train, (32, 16), 8, epochs=2)
    assert type(model) is Autoencoder and model.latent_dim == 8 and len(histories) == 3
    dense = lambda half: [l for l in half.layers if isinstance(l, keras.layers.Dense)]
    encoder, decoder = dense(model.encoder), dense(model.decoder)
    assert [l.units for l in encoder] == [32, 16, 8] and [l.units for l in decoder] == [16, 32, 64]
    for depth, history in enumerate(histories):  # each History knows its shallow model
        shallow = history.model
        assert len(history.history["loss"]) == 2 and history.seconds > 0
        for a, b in zip(encoder[depth].get_weights(), dense(shallow.encoder)[0].get_weights()):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(decoder[-1 - depth].get_weights(), dense(shallow.decoder)[0].get_weights()):
            np.testing.assert_array_equal(a, b)
    untrained = Autoencoder(dense_encoder(SHAPE, 8, (32, 16)), dense_decoder(8, SHAPE, (32, 16)))
    assert (aecore.reconstruction_error(model, digits.x_test).mean()
            < aecore.reconstruction_error(untrained, digits.x_test).mean())


def test_layerwise_pretraining_with_a_linear_code(digits):
    aecore.train.set_seed(0)
    model, histories = aecore.train.pretrain_layerwise(digits.x_train, (16,), 4, epochs=1,
                                                       code_activation=None)
    assert model.encoder.get_layer("code").get_config()["activation"] == "linear"
    assert histories[-1].model.encoder.layers[-1].get_config()["activation"] == "linear"
    assert (model.encode(digits.x_test) < 0).any()  # a ReLU code would never be negative
