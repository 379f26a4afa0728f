"""The conditional autoencoder (`ClassCondition`): the label joined to the input and the
code, checked against NumPy; a conditional conv VAE trained with `fit([x, y])`, its ELBO
against a hand computation, `.keras` round trip, and training on the JAX backend."""

import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import aecore
from aecore.metrics import elbo_terms
from aecore.models import (Autoencoder, ClassCondition, GaussianCode, conv_decoder,
                           conv_encoder, dense_decoder, dense_encoder)

SHAPE = (8, 8, 1)


def conditional_vae(latent=4, seed=0):
    keras.utils.set_random_seed(seed)
    return Autoencoder(conv_encoder((8, 8, 1 + 10), 2 * latent, (4, 8)),
                       conv_decoder(latent + 10, SHAPE, (4, 8)),
                       code=GaussianCode(seed=seed), reconstruction="bernoulli",
                       condition=ClassCondition(10))


@pytest.fixture(scope="module")
def trained():
    data = aecore.load_dataset("digits")
    model = conditional_vae()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit([data.x_train[:768], data.y_train[:768]], epochs=6, batch_size=128,
                        verbose=0, validation_data=([data.x_test[:100], data.y_test[:100]],))
    return data, model, history


def test_labels_join_the_input_as_channels_and_the_code_as_values():
    cond = ClassCondition(4)
    rng = np.random.default_rng(0)
    x = rng.random((3, 5, 6, 2)).astype("float32")
    labels = np.array([2, 0, 3])
    eye = np.eye(4, dtype="float32")[labels]
    want = np.concatenate([x, np.broadcast_to(eye[:, None, None, :], (3, 5, 6, 4))], -1)
    np.testing.assert_array_equal(ops.convert_to_numpy(cond.join_input(x, labels)), want)
    flat = rng.random((3, 7)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(cond.join_input(flat, labels)),
                                  np.concatenate([flat, eye], -1))
    z = rng.random((3, 2)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(cond.join_code(z, labels)),
                                  np.concatenate([z, eye], -1))
    assert cond.sample_shape((5, 6, 6)) == (5, 6, 2)


def test_fit_logs_the_terms_and_the_model_uses_the_label(trained):
    data, model, history = trained
    logs = history.history
    assert {"loss", "reconstruction", "kl", "val_loss"} <= set(logs)
    for epoch, loss in enumerate(logs["loss"]):
        assert loss == pytest.approx(logs["reconstruction"][epoch] + logs["kl"][epoch],
                                     rel=1e-5)
    assert logs["loss"][-1] < logs["loss"][0]
    assert model.sample_shape == SHAPE and model.latent_dim == 4
    z = np.random.default_rng(1).standard_normal((10, 4)).astype("float32")
    labels = np.arange(10)
    decoded = model.decode(z, labels=labels)
    # the decoder receives [z | one-hot label]
    joined = np.concatenate([z, np.eye(10, dtype="float32")], axis=1)
    np.testing.assert_allclose(decoded, model.decoder.predict(joined, verbose=0), rtol=1e-5)
    # another label, another image from the same code
    other = model.decode(z, labels=(labels + 1) % 10)
    assert np.abs(decoded - other).mean() > 1e-3
    # the encoder receives [x | one-hot planes]
    x, y = data.x_test[:20], data.y_test[:20]
    planes = np.broadcast_to(np.eye(10, dtype="float32")[y][:, None, None, :], (20, 8, 8, 10))
    raw = model.encoder.predict(np.concatenate([x, planes], -1), verbose=0)
    np.testing.assert_allclose(model.encode_raw(x, labels=y), raw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.encode(x, labels=y), raw[:, :4], rtol=1e-5, atol=1e-6)
    # reconstruct: the decoded code centre
    np.testing.assert_allclose(model.reconstruct(x, labels=y),
                               model.decode(raw[:, :4], labels=y), rtol=1e-5, atol=1e-6)
    terms = model.loss_terms(x, model.reconstruct(x, labels=y), labels=y)
    assert set(terms) == {"reconstruction", "kl"}


def test_elbo_terms_with_labels_match_a_numpy_computation(trained):
    data, model, _ = trained
    x, y = data.x_test[:50], data.y_test[:50]
    terms = elbo_terms(model, x, draws=2, seed=3, labels=y)
    h = model.encode_raw(x, labels=y).astype(np.float64)
    mean, log_var = h[:, :4], h[:, 4:]
    kl = -0.5 * np.sum(1 + log_var - mean ** 2 - np.exp(log_var), axis=1)
    rng = np.random.default_rng(3)
    nll = []
    for _ in range(2):
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape, np.float32)
        p = np.clip(model.decode(z.astype("float32"), labels=y).astype(np.float64),
                    1e-7, 1 - 1e-7)
        xx = x.astype(np.float64)
        nll.append(-(xx * np.log(p) + (1 - xx) * np.log(1 - p)).reshape(50, -1).sum(1))
    assert terms["kl"] == pytest.approx(kl.mean(), rel=1e-5)
    assert terms["reconstruction"] == pytest.approx(np.mean(nll), rel=1e-3)
    assert terms["neg_elbo"] == pytest.approx(np.mean(nll) + kl.mean(), rel=1e-3)


def test_round_trip(trained, tmp_path):
    data, model, _ = trained
    path = tmp_path / "cvae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.condition, ClassCondition) and loaded.condition.n_classes == 10
    x, y = data.x_test[:30], data.y_test[:30]
    np.testing.assert_allclose(loaded.reconstruct(x, labels=y),
                               model.reconstruct(x, labels=y), rtol=1e-6, atol=1e-7)


def test_bad_labels_and_shapes_are_named(trained):
    data, model, _ = trained
    x = data.x_test[:5]
    with pytest.raises(ValueError, match="pass labels"):
        model.reconstruct(x)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        model.reconstruct(x, labels=np.array([0, 1, 2, 3, 10]))
    with pytest.raises(ValueError, match="5 integers"):
        model.encode(x, labels=np.zeros(4, int))
    with pytest.raises(ValueError, match="5 integers"):
        model.encode(x, labels=np.zeros(5))
    plain = Autoencoder(dense_encoder(SHAPE, 4), dense_decoder(4, SHAPE))
    with pytest.raises(ValueError, match="has no condition"):
        plain.reconstruct(x, labels=np.zeros(5, int))
    with pytest.raises(ValueError, match="n_classes=10"):  # encoder built for plain images
        Autoencoder(conv_encoder(SHAPE, 8, (4, 8)), conv_decoder(14, SHAPE, (4, 8)),
                    code=GaussianCode(), condition=ClassCondition(10))
    with pytest.raises(ValueError, match=r"code with the label joined has shape \(14,\)"):  # decoder without the label
        Autoencoder(conv_encoder((8, 8, 11), 8, (4, 8)), conv_decoder(4, SHAPE, (4, 8)),
                    code=GaussianCode(), condition=ClassCondition(10))
    with pytest.raises(ValueError, match="n_classes"):
        ClassCondition(0)


JAX_SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore.metrics import elbo_terms
    from aecore.models import (Autoencoder, ClassCondition, GaussianCode, conv_decoder,
                               conv_encoder)
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = Autoencoder(conv_encoder((8, 8, 11), 8, (4, 8)),
                        conv_decoder(14, (8, 8, 1), (4, 8)), code=GaussianCode(seed=0),
                        reconstruction="bernoulli", condition=ClassCondition(10))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit([data.x_train[:512], data.y_train[:512]], epochs=3, batch_size=96,
                        verbose=0)
    x, y = data.x_test[:50], data.y_test[:50]
    x_hat = model.reconstruct(x, labels=y)
    path = os.path.join(tempfile.mkdtemp(), "cvae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    print("RESULTS" + json.dumps({
        "loss": [float(v) for v in history.history["loss"]],
        "round_trip": bool(np.allclose(loaded.reconstruct(x, labels=y), x_hat, atol=1e-6)),
        "neg_elbo": elbo_terms(model, x, labels=y)["neg_elbo"]}))
""")


def test_conditional_vae_trains_on_jax(run_on_jax):
    result = run_on_jax(JAX_SCRIPT)
    assert result["loss"][-1] < result["loss"][0]
    assert result["round_trip"] and np.isfinite(result["neg_elbo"])
