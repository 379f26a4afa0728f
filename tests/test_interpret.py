"""aecore.interpret: the toy model of superposition, the measures of dictionary learning
on activations, and cutting a classifier to capture and patch a layer; each checked against
an independent computation (NumPy, scikit-learn, a hand computation)."""

import textwrap

import keras
import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import cosine_similarity

import aecore
from aecore import interpret, metrics
from aecore.models import (Autoencoder, L1Code, TopKCode, dense_decoder,
                           dense_encoder)


# -- toy data and the toy model --------------------------------------------------------------
def test_toy_features_sparsity_range_and_seed():
    x = interpret.toy_features(20000, 10, sparsity=0.9, seed=3)
    assert x.shape == (20000, 10) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert np.mean(x == 0) == pytest.approx(0.9, abs=0.01)
    nonzero = x[x > 0]
    assert nonzero.mean() == pytest.approx(0.5, abs=0.01)  # uniform on [0, 1]
    np.testing.assert_array_equal(x, interpret.toy_features(20000, 10, sparsity=0.9, seed=3))
    assert not np.array_equal(x, interpret.toy_features(20000, 10, sparsity=0.9, seed=4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0, n_features=3, sparsity=0.5), "n must be a positive integer"),
    (dict(n=5, n_features=2.5, sparsity=0.5), "n_features"),
    (dict(n=5, n_features=3, sparsity=1.0), "sparsity must be in"),
    (dict(n=5, n_features=3, sparsity=-0.1), "sparsity must be in"),
])
def test_toy_features_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        interpret.toy_features(**kwargs)


def test_toy_model_matches_its_formula_in_numpy():
    keras.utils.set_random_seed(0)
    model = interpret.ToyModel(6, 2)
    w = model.feature_directions()
    b = np.linspace(-0.2, 0.2, 6).astype("float32")
    model.b.assign(b)
    x = interpret.toy_features(50, 6, sparsity=0.5, seed=0)
    np.testing.assert_allclose(model.hidden(x), x @ w, rtol=1e-5, atol=1e-6)
    expected = np.maximum(x @ w @ w.T + b, 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert w.shape == (6, 2)


def test_toy_model_learns_superposition_and_round_trips(tmp_path):
    """5 sparse features in 2 dimensions: the model learns to store more than 2 of them."""
    keras.utils.set_random_seed(0)
    x = interpret.toy_features(4000, 5, sparsity=0.9, seed=0)
    model = interpret.ToyModel(5, 2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, x, epochs=15, batch_size=128, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    norms = np.linalg.norm(model.feature_directions(), axis=1)
    assert np.sum(norms > 0.5) > 2  # more features represented than dimensions
    path = tmp_path / "toy.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, interpret.ToyModel)
    assert (loaded.n_features, loaded.hidden_dim) == (5, 2)
    np.testing.assert_array_equal(loaded.predict(x[:20], verbose=0),
                                  model.predict(x[:20], verbose=0))


def test_toy_model_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="hidden_dim"):
        interpret.ToyModel(5, 0)
    with pytest.raises(ValueError, match="n_features"):
        interpret.ToyModel("5", 2)
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        interpret.ToyModel(5, 2).hidden(np.zeros((3, 4)))


# -- measures ----------------------------------------------------------------------------------
def test_max_cosine_and_mmcs_by_hand():
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    learned = np.array([[1.0, 1.0], [0.0, -2.0]])
    # row 0: cos with (1, 1) is 1/sqrt 2, with (0, -2) is 0; row 1: 1/sqrt 2 and -1
    np.testing.assert_allclose(metrics.max_cosine_similarity(true, learned),
                               [2 ** -0.5, 2 ** -0.5])
    assert metrics.mmcs(true, learned) == pytest.approx(2 ** -0.5)
    # a dictionary holding each direction (scaled, among others) recovers it exactly
    assert metrics.mmcs(true, np.vstack([3 * true, learned])) == pytest.approx(1.0)
    # signs count: the opposite direction alone scores -1
    assert metrics.mmcs(true, -true) == pytest.approx(0.0)  # (0 + 0) / 2: each row's best
    assert metrics.mmcs(true[:1], -true[:1]) == pytest.approx(-1.0)


def test_max_cosine_matches_scikit_learn():
    rng = np.random.default_rng(0)
    true, learned = rng.normal(size=(30, 8)), rng.normal(size=(50, 8))
    expected = cosine_similarity(true, learned).max(axis=1)
    np.testing.assert_allclose(metrics.max_cosine_similarity(true, learned), expected)
    assert metrics.mmcs(true, learned) == pytest.approx(expected.mean())


@pytest.mark.parametrize("true, learned, match", [
    (np.zeros((2, 3)), np.ones((2, 3)), "true has rows of length 0"),
    (np.ones((2, 3)), np.ones((2, 4)), "learned must have 3 columns"),
    (np.ones(3), np.ones((2, 3)), "true must be a non-empty 2-d array"),
    (np.ones((2, 3)), np.full((2, 3), np.nan), "learned contains NaN"),
])
def test_mmcs_rejects_bad_inputs(true, learned, match):
    with pytest.raises(ValueError, match=match):
        metrics.mmcs(true, learned)


def test_fraction_of_variance_explained_by_hand_and_scikit_learn():
    x = np.array([[0.0], [2.0]])        # mean 1, sum of squares about it 2
    x_hat = np.array([[0.5], [2.0]])    # squared error 0.25
    assert metrics.fraction_of_variance_explained(x, x_hat) == pytest.approx(0.875)
    assert metrics.fraction_of_variance_explained(x, x) == pytest.approx(1.0)
    assert metrics.fraction_of_variance_explained(x, np.ones_like(x)) == pytest.approx(0.0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6)) * np.arange(1, 7)
    x_hat = x + rng.normal(size=x.shape)
    expected = r2_score(x, x_hat, multioutput="variance_weighted")
    assert metrics.fraction_of_variance_explained(x, x_hat) == pytest.approx(expected)
    with pytest.raises(ValueError, match="same shape|columns"):
        metrics.fraction_of_variance_explained(x, x_hat[:, :3])
    with pytest.raises(ValueError, match="same shape"):
        metrics.fraction_of_variance_explained(x, x_hat[:10])
    with pytest.raises(ValueError, match="no variance"):
        metrics.fraction_of_variance_explained(np.ones((5, 2)), np.ones((5, 2)))


def test_l0_and_dead_latents_by_hand():
    z = np.array([[0.0, 1.5, 0.0, 0.0],
                  [0.2, 0.0, 0.0, 0.0],
                  [0.3, 2.0, 0.0, 0.0]])
    assert metrics.l0(z) == pytest.approx((1 + 1 + 2) / 3)
    np.testing.assert_array_equal(metrics.dead_latents(z), [False, False, True, True])
    with pytest.raises(ValueError, match="z must be a non-empty 2-d array"):
        metrics.l0(np.zeros(4))


# -- the sparse autoencoder's parts ------------------------------------------------------------
def test_top_k_code_matches_numpy_top_k():
    rng = np.random.default_rng(2)
    h = rng.normal(size=(64, 20)).astype("float32")
    for k in (1, 3, 7):
        z = keras.ops.convert_to_numpy(TopKCode(k)(h))
        expected = np.zeros_like(h)
        top = np.argsort(-h, axis=1)[:, :k]
        np.put_along_axis(expected, top, np.take_along_axis(h, top, axis=1), axis=1)
        np.testing.assert_allclose(z, np.maximum(expected, 0))
        # positive inputs: exactly k non-zeros per row
        z_pos = keras.ops.convert_to_numpy(TopKCode(k)(np.abs(h) + 0.1))
        assert np.all(np.count_nonzero(z_pos, axis=1) == k)
        assert metrics.l0(z_pos) == k


def sae(kind, input_dim=8, latents=24, seed=0):
    keras.utils.set_random_seed(seed)
    code, activation = (TopKCode(3), None) if kind == "topk" else (L1Code(1e-3), "relu")
    return Autoencoder(
        dense_encoder((input_dim,), latents, code_activation=activation),
        dense_decoder(latents, (input_dim,), output_activation=None, unit_norm_code=True),
        code=code)


@pytest.mark.parametrize("kind", ["topk", "l1"])
def test_unit_norm_decoder_keeps_each_dictionary_row_at_length_one(kind, tmp_path):
    """dense_decoder(unit_norm_code=True) constrains what a dictionary needs: the decoder's
    row for each latent (the direction it writes), not the columns (one per output)."""
    model = sae(kind)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    model.fit(x, x, epochs=2, batch_size=64, verbose=0)
    kernel = keras.ops.convert_to_numpy(model.decoder.layers[0].kernel)   # (24, 8)
    np.testing.assert_allclose(np.linalg.norm(kernel, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(np.linalg.norm(kernel, axis=0), 1.0)
    np.testing.assert_allclose(interpret.dictionary(model), kernel, rtol=1e-5, atol=1e-6)
    # the linear decoder is the dictionary: x_hat = z D + bias
    z = model.encode(x[:10])
    bias = keras.ops.convert_to_numpy(model.decoder.layers[0].bias)
    np.testing.assert_allclose(model.decode(z), z @ kernel + bias, rtol=1e-4, atol=1e-5)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.reconstruct(x[:10]), model.reconstruct(x[:10]))
    np.testing.assert_array_equal(interpret.dictionary(loaded), interpret.dictionary(model))


def test_dictionary_rejects_a_nonlinear_decoder():
    model = Autoencoder(dense_encoder((8,), 4), dense_decoder(4, (8,)))  # sigmoid output
    with pytest.raises(ValueError, match="no activation"):
        interpret.dictionary(model)


def test_tie_encoder_to_decoder():
    model = sae("topk")
    interpret.tie_encoder_to_decoder(model)
    decoder = keras.ops.convert_to_numpy(model.decoder.layers[0].kernel)  # (24, 8)
    encoder = keras.ops.convert_to_numpy(model.encoder.layers[-1].kernel)  # (8, 24)
    np.testing.assert_allclose(np.linalg.norm(decoder, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(encoder, decoder.T)
    with pytest.raises(ValueError, match="no activation"):
        interpret.tie_encoder_to_decoder(
            Autoencoder(dense_encoder((8,), 4), dense_decoder(4, (8,))))


def test_sparse_autoencoder_recovers_planted_directions():
    """The chapter's claim in small: sparse codes over 16 directions in 8 dimensions,
    recovered by a TopK sparse autoencoder far better than by PCA's 8 directions."""
    from sklearn.decomposition import PCA
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(16, 8))
    codes = interpret.toy_features(6000, 16, sparsity=0.9, seed=0)
    x = (codes @ directions).astype("float32")
    keras.utils.set_random_seed(0)
    model = Autoencoder(
        dense_encoder((8,), 32, code_activation=None),
        dense_decoder(32, (8,), output_activation=None, unit_norm_code=True),
        code=TopKCode(2))
    interpret.tie_encoder_to_decoder(model)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, x, epochs=30, batch_size=256, verbose=0)
    pca = PCA(8).fit(x).components_
    ours = metrics.mmcs(directions, interpret.dictionary(model))
    theirs = metrics.mmcs(directions, np.vstack([pca, -pca]))
    assert ours > 0.9 and ours > theirs + 0.15, (ours, theirs)


# -- capturing and patching a classifier -------------------------------------------------------
def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((12,)),
                             keras.layers.Dense(16, activation="relu", name="a"),
                             keras.layers.Dense(8, activation="relu", name="hidden"),
                             keras.layers.Dense(3, name="logits")], name="clf")


def test_split_at_recomposes_the_model_and_shares_weights():
    model = classifier()
    x = np.random.default_rng(0).normal(size=(40, 12)).astype("float32")
    head, tail = interpret.split_at(model, "hidden")
    a = head.predict(x, verbose=0)
    assert a.shape == (40, 8)
    # the activations by hand, in NumPy
    (w1, b1), (w2, b2), (w3, b3) = (l.get_weights() for l in model.layers)
    by_hand = np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0)
    np.testing.assert_allclose(a, by_hand, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tail.predict(a, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    # patched activations go through the rest of the network
    patched = np.zeros_like(a)
    np.testing.assert_allclose(tail.predict(patched, verbose=0), np.tile(b3, (40, 1)),
                               rtol=1e-6)
    # shared weights: a change in the model is seen by the tail
    model.layers[-1].bias.assign(b3 + 1)
    np.testing.assert_allclose(tail.predict(patched, verbose=0), np.tile(b3 + 1, (40, 1)),
                               rtol=1e-6)
    head_by_index, _ = interpret.split_at(model, 1)
    np.testing.assert_allclose(head_by_index.predict(x, verbose=0), a, rtol=1e-6)


@pytest.mark.parametrize("layer, match", [
    ("nope", "not in the model"), (7, "out of range"), ("logits", "last layer"),
    (-1, "last layer"), (1.5, "name or an index"),
])
def test_split_at_rejects_bad_layers(layer, match):
    with pytest.raises(ValueError, match=match):
        interpret.split_at(classifier(), layer)


def test_split_at_needs_a_sequential_model():
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="keras.Sequential"):
        interpret.split_at(functional, 1)


# -- another backend ---------------------------------------------------------------------------
JAX_SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore import interpret, metrics
    from aecore.models import (Autoencoder, L1Code, TopKCode, dense_decoder,
                               dense_encoder)
    assert keras.backend.backend() == "jax", keras.backend.backend()
    results = {}
    keras.utils.set_random_seed(0)
    x = interpret.toy_features(2000, 10, sparsity=0.8, seed=0)
    toy = interpret.ToyModel(10, 4)
    toy.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    hist = toy.fit(x, x, epochs=3, batch_size=100, verbose=0)
    path = os.path.join(tempfile.mkdtemp(), "toy.keras")
    toy.save(path)
    loaded = keras.saving.load_model(path)
    results["toy"] = {
        "loss": hist.history["loss"],
        "round_trip": bool(np.array_equal(loaded.predict(x[:50], verbose=0),
                                          toy.predict(x[:50], verbose=0)))}
    data = aecore.load_dataset("digits", flatten=True)
    clf = keras.Sequential([keras.Input((64,)),
                            keras.layers.Dense(32, activation="relu", name="hidden"),
                            keras.layers.Dense(10)])
    clf.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    clf.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    head, tail = interpret.split_at(clf, "hidden")
    acts = head.predict(data.x_train, verbose=0)
    for name, code, activation in (("topk", TopKCode(4), None),
                                   ("l1", L1Code(1e-3), "relu")):
        sae = Autoencoder(
            dense_encoder((32,), 64, code_activation=activation),
            dense_decoder(64, (32,), output_activation=None, unit_norm_code=True),
            code=code)
        interpret.tie_encoder_to_decoder(sae)
        sae.compile(optimizer=keras.optimizers.Adam(3e-3))
        hist = sae.fit(acts, acts, epochs=3, batch_size=64, verbose=0)
        z = sae.encode(acts[:100])
        path = os.path.join(tempfile.mkdtemp(), name + ".keras")
        sae.save(path)
        loaded = keras.saving.load_model(path)
        patched = tail.predict(sae.reconstruct(acts[:100]), verbose=0)
        results[name] = {
            "loss": hist.history["loss"],
            "l0": metrics.l0(z),
            "norms": np.linalg.norm(keras.ops.convert_to_numpy(
                sae.decoder.layers[0].kernel), axis=1).tolist(),
            "patched_shape": list(patched.shape),
            "round_trip": bool(np.array_equal(loaded.reconstruct(acts[:100]),
                                              sae.reconstruct(acts[:100])))}
    print("RESULTS" + json.dumps(results))
""")


def test_toy_model_and_sparse_autoencoders_train_on_jax(run_on_jax):
    results = run_on_jax(JAX_SCRIPT)
    assert results["toy"]["round_trip"]
    assert results["toy"]["loss"][-1] < results["toy"]["loss"][0]
    for name in ("topk", "l1"):
        r = results[name]
        assert r["round_trip"], name
        assert r["loss"][-1] < r["loss"][0], name
        np.testing.assert_allclose(r["norms"], 1.0, rtol=1e-5)
        assert r["patched_shape"] == [100, 10]
    assert results["topk"]["l0"] <= 4


# -- what a latent responds to -------------------------------------------------------------------
def test_top_inputs_and_label_purity_by_hand():
    z = np.array([[0.0, 3.0, 0.0],
                  [2.0, 1.0, 0.0],
                  [5.0, 0.0, 0.0],
                  [1.0, 2.0, 0.0]])
    labels = np.array([0, 1, 1, 1])
    np.testing.assert_array_equal(interpret.top_inputs(z, 0, 3), [2, 1, 3])
    np.testing.assert_array_equal(interpret.top_inputs(z, 1, 2), [0, 3])
    np.testing.assert_array_equal(interpret.top_inputs(z, 0, 10), [2, 1, 3])  # active only
    assert interpret.top_inputs(z, 2, 2).size == 0
    purity = interpret.label_purity(z, labels, n=2)
    # latent 0: inputs 2, 1 (labels 1, 1) -> 1; latent 1: inputs 0, 3 (labels 0, 1) -> 0.5
    np.testing.assert_allclose(purity[:2], [1.0, 0.5])
    assert np.isnan(purity[2])  # active on no input
    with pytest.raises(ValueError, match="out of range"):
        interpret.top_inputs(z, 3)
    with pytest.raises(ValueError, match="one entry per row"):
        interpret.label_purity(z, labels[:3])


def test_label_purity_matches_a_direct_count():
    rng = np.random.default_rng(0)
    z = np.maximum(rng.normal(size=(300, 7)), 0)
    labels = rng.integers(0, 4, size=300)
    purity = interpret.label_purity(z, labels, n=10)
    for j in range(7):
        top = np.argsort(-z[:, j])[:10]
        assert purity[j] == pytest.approx(np.bincount(labels[top]).max() / 10)


def test_line_chart_with_an_x_per_series_draws_one_line_per_method():
    fig = aecore.viz.line_chart(None, {"a": ([3, 1, 2], [0.5, 0.7, 0.6]), "b": ([1, 4], [1, 2])},
                                xlabel="L0", ylabel="MMCS", hlines={"PCA": 0.5})
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and ax.get_xlabel() == "L0"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])  # sorted by x
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.7, 0.6, 0.5])
    assert fig._repr_png_()[:4] == b"\x89PNG"
