"""Discrete codes (aecore.models.quantizers), each checked against an independent computation:
nearest codes against a NumPy argmin, the straight-through gradient against the gradient of
the loss with respect to the code, the loss terms and FSQ's rounding against hand-written
NumPy, perplexity against scipy, bits against log2 arithmetic."""

import math
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import entropy

import aecore
from aecore.baselines import uniform_quantize
from aecore.metrics import bits_per_image, codebook_usage
from aecore.models import (FSQ, Autoencoder, RestartDeadCodes, VectorQuantizer, code_prior,
                           grid_decoder, grid_encoder, prior_bits, prior_inputs, sample_prior)

RNG = np.random.default_rng(0)


def _vq(num_codes=7, dim=3, **kwargs):
    q = VectorQuantizer(num_codes, dim, **kwargs)
    q.codebook.assign(RNG.normal(size=(num_codes, dim)).astype("float32"))
    return q


# -- vector quantisation -------------------------------------------------------------------
def test_nearest_code_matches_numpy_argmin():
    q = _vq(11, 4)
    h = RNG.normal(size=(5, 2, 3, 4)).astype("float32")  # 5 images, a 2 x 3 grid
    codebook = keras.ops.convert_to_numpy(q.codebook)
    expected = np.argmin(((h[..., None, :] - codebook) ** 2).sum(-1), axis=-1)
    assert expected.shape == (5, 2, 3)
    np.testing.assert_array_equal(q.indices(h), expected)
    np.testing.assert_allclose(q.codes(expected), codebook[expected])
    z = keras.ops.convert_to_numpy(q(h))  # the forward value is the snapped code
    np.testing.assert_allclose(z, codebook[expected], atol=1e-6)
    flat = h.reshape(5, 6, 4)                       # any rank: the last axis is the vector
    np.testing.assert_array_equal(q.indices(flat), expected.reshape(5, 6))


def test_straight_through_gradient_is_the_codes_gradient():
    q = _vq(9, 2)
    h = tf.Variable(RNG.normal(size=(4, 5, 2)).astype("float32"))
    w = tf.constant(RNG.normal(size=(4, 5, 2)).astype("float32"))

    def loss_of(z):
        return tf.reduce_sum(tf.sin(z) * w)  # a nonlinear loss of the code

    with tf.GradientTape() as tape:
        loss_h = loss_of(q(h, training=True))
    grad_h = tape.gradient(loss_h, h)
    z = tf.Variable(q(h))
    with tf.GradientTape() as tape:
        loss_z = loss_of(z)
    grad_z = tape.gradient(loss_z, z)
    np.testing.assert_allclose(grad_h.numpy(), grad_z.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad_z.numpy(), np.cos(z.numpy()) * w.numpy(), rtol=1e-5)


def test_codebook_and_commitment_terms_by_hand():
    q = _vq(5, 3, commitment=0.4, codebook_weight=1.5)
    h = RNG.normal(size=(6, 4, 3)).astype("float32")
    codebook = keras.ops.convert_to_numpy(q.codebook)
    vectors = h.reshape(-1, 3)
    nearest = codebook[np.argmin(((vectors[:, None] - codebook) ** 2).sum(-1), axis=1)]
    sq = np.mean((vectors - nearest) ** 2)
    terms = {k: float(v) for k, v in q.loss_terms(h, q(h)).items()}
    assert terms["codebook"] == pytest.approx(1.5 * sq, rel=1e-5)
    assert terms["commitment"] == pytest.approx(0.4 * sq, rel=1e-5)


def test_each_term_moves_one_side_only():
    """codebook term: gradient to the codebook only; commitment: to the encoder only."""
    q = _vq(4, 2)
    h = tf.Variable(RNG.normal(size=(3, 4, 2)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        terms = q.loss_terms(h, None)
    g_cb = tape.gradient(terms["codebook"], [h, q.codebook.value])
    g_cm = tape.gradient(terms["commitment"], [h, q.codebook.value])
    assert g_cb[0] is None or np.allclose(g_cb[0], 0)
    assert g_cm[1] is None or np.allclose(g_cm[1], 0)
    # d/dh of beta * mean((h - e)^2) = 2 beta (h - e) / N
    e = q.codes(q.indices(h.numpy()))
    np.testing.assert_allclose(g_cm[0].numpy(), 2 * 0.25 * (h.numpy() - e) / h.numpy().size,
                               rtol=1e-5, atol=1e-8)


def test_vector_quantizer_validates():
    with pytest.raises(ValueError, match="num_codes"):
        VectorQuantizer(0, 4)
    with pytest.raises(ValueError, match="commitment"):
        VectorQuantizer(8, 4, commitment=-1)
    q = VectorQuantizer(8, 4)
    with pytest.raises(ValueError, match="vectors of 4 numbers.*has 8 on its last axis"):
        q.compute_output_shape((None, 7, 7, 8))
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        q.codes(np.array([[0, 8]]))
    # a width mismatch is an error when the model is built
    with pytest.raises(ValueError, match=r"VectorQuantizer\(num_codes=16, dim=4\) works on vectors of 4 numbers.*has 8"):
        Autoencoder(grid_encoder((8, 8, 1), 8, (4, 8)), grid_decoder((8, 8, 1), 4, (4, 8)),
                    code=VectorQuantizer(16, 4))
    with pytest.raises(ValueError, match=r"FSQ\(levels=\(4, 4, 4\)\) works on vectors of 3 numbers"):
        Autoencoder(grid_encoder((8, 8, 1), 2, (4, 8)), grid_decoder((8, 8, 1), 2, (4, 8)),
                    code=FSQ((4, 4, 4)))


# -- finite scalar quantisation ------------------------------------------------------------
def _fsq_numpy(h, levels, eps=1e-3):
    """The FSQ of Mentzer et al. 2023 (their appendix code), written again in NumPy."""
    levels = np.asarray(levels, float)
    v = h.astype(float)
    half = (levels - 1) * (1 - eps) / 2
    offset = np.where(levels % 2, 0.0, 0.5)
    rounded = np.round(np.tanh(v + np.tan(offset / half)) * half - offset)
    return rounded, rounded / (levels // 2)


@pytest.mark.parametrize("levels", [(4, 4, 4), (8, 5, 5, 5), (2, 3)])
def test_fsq_rounding_and_levels_match_numpy(levels):
    q = FSQ(levels)
    h = RNG.normal(scale=2.0, size=(400, 5, len(levels))).astype("float32")
    rounded, expected = _fsq_numpy(h, levels)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(q(h)), expected, atol=1e-6)
    for i, L in enumerate(levels):  # exactly L integer levels per number, centred
        values = np.unique(rounded[..., i])
        assert len(values) == L, (levels, i, values)
        assert values.min() == -(L // 2) and values.max() == (L - 1) // 2
    assert q.num_codes == math.prod(levels)
    # h = 0 maps to the code 0 (the shift's purpose)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(q(np.zeros((1, len(levels)),
                                                                     "float32"))), 0)


def test_fsq_indices_are_mixed_radix_and_invert():
    levels = (8, 5, 3)
    q = FSQ(levels)
    h = RNG.normal(scale=2.0, size=(50, 2, 2, 3)).astype("float32")
    rounded, expected = _fsq_numpy(h, levels)
    digits = (rounded + np.asarray(levels) // 2).astype(int)        # 0 .. L - 1
    flat = np.ravel_multi_index(tuple(np.moveaxis(digits[..., ::-1], -1, 0)),
                                levels[::-1])                       # first digit fastest
    idx = q.indices(h)
    np.testing.assert_array_equal(idx, flat)
    np.testing.assert_allclose(q.codes(idx), expected, atol=1e-6)
    assert idx.min() >= 0 and idx.max() < q.num_codes


def test_fsq_straight_through_gradient():
    q = FSQ((5, 4))
    h = tf.Variable(RNG.normal(size=(3, 2, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(q(h, training=True))
    grad = tape.gradient(loss, h).numpy()
    levels = np.array([5.0, 4.0])
    half = (levels - 1) * (1 - FSQ.EPS) / 2
    shift = np.tan(np.where(levels % 2, 0.0, 0.5) / half)
    expected = (1 - np.tanh(h.numpy() + shift) ** 2) * half / (levels // 2)  # d bound / dh
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_fsq_validates():
    with pytest.raises(ValueError, match="levels"):
        FSQ((4, 1))
    with pytest.raises(ValueError, match="levels"):
        FSQ(())
    with pytest.raises(ValueError, match="works on vectors of 2 numbers"):
        FSQ((4, 4)).compute_output_shape((None, 7, 7, 3))


# -- usage, bits, uniform quantisation -----------------------------------------------------
def test_codebook_usage_matches_scipy_entropy():
    idx = RNG.integers(0, 10, size=(30, 7))
    counts = np.bincount(idx.ravel(), minlength=16)
    usage = codebook_usage(idx, 16)
    assert usage["perplexity"] == pytest.approx(np.exp(entropy(counts)))
    assert usage["used"] == np.count_nonzero(counts) and usage["dead"] == 16 - usage["used"]
    assert codebook_usage(np.arange(8), 8)["perplexity"] == pytest.approx(8)
    assert codebook_usage(np.zeros(5, int), 8) == {"perplexity": 1.0, "used": 1, "dead": 7}
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        codebook_usage(np.array([8]), 8)


def test_bits_per_image_arithmetic():
    assert bits_per_image(49, 64) == 294
    assert bits_per_image(49, 2 ** 6) == 49 * 6
    assert bits_per_image(1, 1000) == pytest.approx(9.965784, rel=1e-6)
    assert bits_per_image(49, math.prod((4, 4, 4))) == bits_per_image(49, 64)
    with pytest.raises(ValueError, match="num_codes"):
        bits_per_image(49, 0)


def test_uniform_quantize_rounds_to_the_nearest_level():
    z = RNG.normal(size=(200, 3))
    low, high = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.5])
    for bits in (1, 3, 5):
        out = uniform_quantize(z, bits, low, high)
        levels = low + np.linspace(0, 1, 2 ** bits)[:, None] * (high - low)  # (2**b, 3)
        clipped = np.clip(z, low, high)
        nearest = np.take_along_axis(
            levels, np.abs(clipped[:, None, :] - levels[None]).argmin(1), axis=0)
        np.testing.assert_allclose(out, nearest, atol=1e-6)
        assert all(len(np.unique(out[:, j])) <= 2 ** bits for j in range(3))
    with pytest.raises(ValueError, match="bits"):
        uniform_quantize(z, 0, low, high)
    with pytest.raises(ValueError, match="high"):
        uniform_quantize(z, 2, 1.0, 0.0)


# -- in an autoencoder: fit, restarts, saving -----------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return aecore.load_dataset("digits").x_train[:256]


def _model(code, dim):
    return Autoencoder(grid_encoder((8, 8, 1), dim, (4, 8)),
                       grid_decoder((8, 8, 1), dim, (4, 8)), code=code)


def test_grid_halves_shapes():
    enc = grid_encoder((28, 28, 1), 3)
    dec = grid_decoder((28, 28, 1), 3)
    assert enc.output_shape == (None, 7, 7, 3) and dec.input_shape == (None, 7, 7, 3)
    assert dec.output_shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="divisible"):
        grid_encoder((30, 30, 1), 3)


@pytest.mark.parametrize("kind", ["vq", "fsq"])
def test_fit_logs_terms_and_round_trips(kind, digits, tmp_path):
    keras.utils.set_random_seed(0)
    code, dim = (VectorQuantizer(16, 4, seed=0), 4) if kind == "vq" else (FSQ((4, 4)), 2)
    model = _model(code, dim)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    logs = model.fit(digits, epochs=2, batch_size=64, verbose=0).history
    terms = ["reconstruction", *code.terms]
    for epoch, loss in enumerate(logs["loss"]):
        assert loss == pytest.approx(sum(logs[t][epoch] for t in terms), rel=1e-5)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.code) is type(code)
    np.testing.assert_array_equal(loaded.reconstruct(digits[:20]), model.reconstruct(digits[:20]))
    raw = model.encode_raw(digits[:20])
    np.testing.assert_array_equal(loaded.code.indices(raw), code.indices(raw))
    assert loaded.code.get_config() == code.get_config()


def test_restart_dead_codes_revives_them(digits):
    keras.utils.set_random_seed(0)
    q = VectorQuantizer(32, 4, init_scale=1e-3, seed=0)
    model = _model(q, 4)
    far = np.full((32, 4), 50.0, "float32")
    far[0] = 0.0
    q.codebook.assign(far)  # only entry 0 is near any encoder output: 31 dead
    assert model.code_shape == (2, 2, 4)
    assert codebook_usage(q.indices(model.encode_raw(digits)), 32)["dead"] == 31
    callback = RestartDeadCodes(digits, every=1, seed=0)
    callback.set_model(model)
    callback.on_train_batch_end(0)
    assert callback.restarted == [31]
    after = codebook_usage(q.indices(model.encode_raw(digits)), 32)
    assert after["dead"] < 31 and after["used"] > 1
    fsq = _model(FSQ((4, 4)), 2)
    callback.set_model(fsq)
    with pytest.raises(ValueError, match="VectorQuantizer"):
        callback.on_train_batch_end(0)


# -- the prior over symbols ----------------------------------------------------------------
def test_prior_helpers():
    idx = RNG.integers(0, 6, size=(10, 5))
    shifted = prior_inputs(idx, 6)
    assert (shifted[:, 0] == 6).all() and (shifted[:, 1:] == idx[:, :-1]).all()
    keras.utils.set_random_seed(0)
    prior = code_prior(6, 5, units=8, embedding_dim=4)
    logits = prior.predict(shifted, verbose=0).astype(float)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.array([sum(log_p[i, p, idx[i, p]] for p in range(5)) for i in range(10)])
    np.testing.assert_allclose(prior_bits(prior, idx, 6), expected / np.log(2), rtol=1e-5)
    drawn = sample_prior(prior, 4, 6, 5, seed=1)
    assert drawn.shape == (4, 5) and drawn.min() >= 0 and drawn.max() < 6
    np.testing.assert_array_equal(drawn, sample_prior(prior, 4, 6, 5, seed=1))
    grid = idx.reshape(10, 5, 1)                   # a grid is read in raster order
    np.testing.assert_allclose(prior_bits(prior, grid, 6), prior_bits(prior, idx, 6))
    with pytest.raises(ValueError, match="indices"):
        prior_inputs(np.zeros(5, int), 6)


# -- another backend -----------------------------------------------------------------------
JAX_SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore.models import (FSQ, Autoencoder, RestartDeadCodes, VectorQuantizer,
                               grid_decoder, grid_encoder)
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits")
    x, x_test = data.x_train[:512], data.x_test[:100]
    results = {}
    for name, code, dim in (("vq", VectorQuantizer(16, 4, seed=0), 4),
                            ("fsq", FSQ((4, 4)), 2)):
        keras.utils.set_random_seed(0)
        model = Autoencoder(grid_encoder((8, 8, 1), dim, (4, 8)),
                            grid_decoder((8, 8, 1), dim, (4, 8)), code=code)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        callbacks = [RestartDeadCodes(x[:256], every=2, seed=0)] if name == "vq" else []
        history = model.fit(x, epochs=3, batch_size=96, verbose=0, callbacks=callbacks,
                            validation_data=(x_test,))
        result = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        if callbacks:
            result["restarted"] = callbacks[0].restarted
        x_hat = model.reconstruct(x_test)
        path = os.path.join(tempfile.mkdtemp(), name + ".keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        result["round_trip"] = bool(np.array_equal(loaded.reconstruct(x_test), x_hat))
        raw = model.encode_raw(x_test)
        result["same_indices"] = bool(np.array_equal(loaded.code.indices(raw),
                                                     model.code.indices(raw)))
        results[name] = result
    print("RESULTS" + json.dumps(results))
""")


def test_quantised_autoencoders_train_on_jax(run_on_jax):
    results = run_on_jax(JAX_SCRIPT)
    for name, terms in (("vq", ["reconstruction", "codebook", "commitment"]),
                        ("fsq", ["reconstruction"])):
        logs = results[name]
        for epoch, loss in enumerate(logs["loss"]):
            assert loss == pytest.approx(sum(logs[t][epoch] for t in terms), rel=1e-5)
        assert logs["loss"][-1] < logs["loss"][0], name
        assert logs["round_trip"] and logs["same_indices"], name
    assert len(results["vq"]["restarted"]) > 0
