"""The masked autoencoder: patches, masks, the masked loss and the model, checked against
NumPy computations; `.keras` round trip; training on the JAX backend."""

import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import aecore
from aecore.baselines import pca_fill
from aecore.losses import HiddenPatchMSE, mse
from aecore.metrics import masked_error
from aecore.models import (Autoencoder, PatchEncoder, mae_decoder, mae_encoder, mae_features,
                           masked_autoencoder, reconstruct_masked)
from aecore.models.masking import n_visible, numpy_keep, random_keep
from aecore.models.transformer import TransformerBlock, gather_tokens, patchify, unpatchify
from aecore.viz import masked_images, paste_visible

SHAPE = (8, 8, 1)


def small_mae(ratio=0.75, seed=0):
    keras.utils.set_random_seed(seed)
    return Autoencoder(mae_encoder(SHAPE, 2, ratio, width=16, depth=1, seed=seed),
                       mae_decoder(SHAPE, 2, input_width=16, width=16),
                       reconstruction=HiddenPatchMSE())


def patch_layer(model):
    return next(l for l in model.encoder.layers if isinstance(l, PatchEncoder))


def spy_on_transformer(model):
    """Record the tokens and positions the encoder's transformer receives."""
    layer, seen = patch_layer(model), []
    original = layer.transform

    def spy(tokens, positions, training=None):
        seen.append((ops.convert_to_numpy(tokens), ops.convert_to_numpy(positions)))
        return original(tokens, positions, training=training)

    object.__setattr__(layer, "transform", spy)
    return seen


def numpy_patchify(x, p):
    """Patch (i, j) of image b is x[b, i*p:(i+1)*p, j*p:(j+1)*p, :], flattened."""
    n, h, w, c = x.shape
    out = np.empty((n, (h // p) * (w // p), p * p * c), x.dtype)
    for i in range(h // p):
        for j in range(w // p):
            out[:, i * (w // p) + j] = x[:, i * p:(i + 1) * p, j * p:(j + 1) * p, :] \
                .reshape(n, -1)
    return out


@pytest.mark.parametrize("shape,p", [((28, 28, 1), 4), ((8, 8, 3), 2), ((6, 4, 2), 2)])
def test_patchify_matches_slicing_and_unpatchify_inverts_it(shape, p):
    x = np.random.default_rng(0).random((3, *shape)).astype("float32")
    patches = ops.convert_to_numpy(patchify(x, p))
    np.testing.assert_array_equal(patches, numpy_patchify(x, p))
    np.testing.assert_array_equal(ops.convert_to_numpy(unpatchify(patches, p, shape)), x)


def test_patchify_rejects_shapes_that_do_not_divide():
    with pytest.raises(ValueError, match="divisible by patch_size=3"):
        patchify(np.zeros((1, 28, 28, 1), "float32"), 3)
    with pytest.raises(ValueError, match="patch_size"):
        patchify(np.zeros((1, 28, 28, 1), "float32"), 0)


@pytest.mark.parametrize("keep_fn", ["keras", "numpy"])
def test_masks_hide_the_right_number_of_patches_and_restore_inverts_the_shuffle(keep_fn):
    if keep_fn == "keras":
        keep, restore, mask = (ops.convert_to_numpy(t) for t in random_keep(5, 49, 0.75, 0))
    else:
        keep, restore, mask = numpy_keep(5, 49, 0.75, 0)
    assert n_visible(49, 0.75) == 12 and keep.shape == (5, 12)
    for b in range(5):
        assert len(set(keep[b])) == 12                       # distinct visible patches
        assert mask[b].sum() == 49 - 12
        assert np.all(mask[b, keep[b]] == 0)                 # visible ones are not masked
        shuffle = np.argsort(restore[b])
        np.testing.assert_array_equal(shuffle[:12], keep[b])  # restore undoes the shuffle
    assert not np.array_equal(keep[0], keep[1])              # one mask per image


def test_numpy_masks_repeat_with_their_seed():
    a, b = numpy_keep(4, 16, 0.5, seed=3), numpy_keep(4, 16, 0.5, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_gather_tokens_matches_numpy_indexing():
    rng = np.random.default_rng(1)
    tokens = rng.random((3, 10, 4)).astype("float32")
    index = np.stack([rng.permutation(10)[:6] for _ in range(3)])
    got = ops.convert_to_numpy(gather_tokens(tokens, index))
    np.testing.assert_array_equal(got, np.stack([tokens[b, index[b]] for b in range(3)]))


def test_hidden_patch_loss_is_the_mean_error_over_hidden_patches_only():
    rng = np.random.default_rng(2)
    x, x_hat = rng.random((2, 2, 6, 4, 1)).astype("float32")   # 3 x 2 patches of 2 x 2
    hidden = np.array([[1, 0, 1, 0, 0, 1], [0, 1, 1, 1, 1, 0]], "float32")
    patches, predicted = numpy_patchify(x, 2), numpy_patchify(x_hat, 2)
    hand = [np.mean([np.mean((patches[b, i] - predicted[b, i]) ** 2)
                     for i in range(6) if hidden[b, i]]) for b in range(2)]
    tokens = np.zeros((2, 6, 3), "float32")
    loss = HiddenPatchMSE()
    np.testing.assert_allclose(ops.convert_to_numpy(loss(x, x_hat, [tokens, hidden])), hand,
                               rtol=1e-6)
    # errors on visible patches do not count
    changed = np.where(np.repeat(np.repeat(hidden.reshape(2, 3, 2), 2, 1), 2, 2)[..., None]
                       > 0, x_hat, x_hat + 5.0).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(loss(x, changed, [tokens, hidden])),
                               hand, rtol=1e-6)
    # nothing hidden: every patch scores, a plain MSE
    none = np.zeros_like(hidden)
    np.testing.assert_allclose(ops.convert_to_numpy(loss(x, x_hat, [tokens, none])),
                               ops.convert_to_numpy(mse(x, x_hat)), rtol=1e-6)
    with pytest.raises(ValueError, match="tokens, hidden"):
        loss(x, x_hat, tokens)
    with pytest.raises(ValueError, match="square patches"):
        loss(x, x_hat, [tokens, np.ones((2, 5), "float32")])


def test_the_encoder_receives_only_the_visible_patches():
    model = small_mae(0.75)
    x = np.random.default_rng(3).random((4, *SHAPE)).astype("float32")
    seen = spy_on_transformer(model)
    _, mask = reconstruct_masked(model, x, seed=5)
    keep, _, _ = numpy_keep(4, 16, 0.75, seed=5)
    tokens, positions = seen[-1]
    assert tokens.shape == (4, n_visible(16, 0.75), 4)          # 4 of 16 patches of 2x2
    np.testing.assert_array_equal(positions, keep)
    np.testing.assert_array_equal(tokens, np.stack([numpy_patchify(x, 2)[b, keep[b]]
                                                    for b in range(4)]))
    assert np.all(mask.sum(axis=1) == 12)
    # while training (fit's forward pass) too: 4 random patches of 16 per image
    model(x, training=True)
    tokens, positions = seen[-1]
    assert tokens.shape == (4, 4, 4)
    for b in range(4):
        np.testing.assert_array_equal(tokens[b], numpy_patchify(x, 2)[b, positions[b]])
    # at inference, all patches in order
    model.encoder(x, training=False)
    tokens, positions = seen[-1]
    assert tokens.shape == (4, 16, 4)
    np.testing.assert_array_equal(positions, np.tile(np.arange(16), (4, 1)))


def test_training_loss_scores_hidden_patches_only_and_inference_scores_all():
    model = small_mae(0.5)
    x = np.random.default_rng(7).random((3, *SHAPE)).astype("float32")
    h = model.encoder(x, training=True)
    x_hat = model.decoder(h)
    flags = ops.convert_to_numpy(h[1])
    assert np.all(flags.sum(axis=1) == 8)
    tokens = ops.convert_to_numpy(h[0])
    assert tokens.shape == (3, 16, 16) and np.all(tokens[flags > 0] == 0)
    err = ((numpy_patchify(x, 2) - numpy_patchify(ops.convert_to_numpy(x_hat), 2)) ** 2
           ).mean(axis=-1)
    hand = np.mean([err[b][flags[b] > 0].mean() for b in range(3)])
    term = model.objective(x, x_hat, h, h)["reconstruction"]
    assert float(term) == pytest.approx(hand, rel=1e-5)
    h0 = model.encoder(x, training=False)                  # nothing hidden
    x0 = model.decoder(h0)
    want = np.mean((ops.convert_to_numpy(x0) - x) ** 2)
    assert float(model.objective(x, x0, h0, h0)["reconstruction"]) == pytest.approx(
        want, rel=1e-5)


def test_reconstruct_masked_does_not_depend_on_hidden_pixels():
    model = small_mae(0.5)
    x = np.random.default_rng(4).random((2, *SHAPE)).astype("float32")
    x_hat, mask = reconstruct_masked(model, x, seed=1)
    hidden = np.repeat(np.repeat(mask.reshape(2, 4, 4), 2, 1), 2, 2)[..., None] > 0
    changed = np.where(hidden, 1.0 - x, x).astype("float32")   # change only hidden pixels
    np.testing.assert_allclose(reconstruct_masked(model, changed, seed=1)[0], x_hat,
                               atol=1e-6)
    # and masked_error is the masked loss of that reconstruction, by hand
    err = masked_error(model, x, seed=1)
    hand = [((x_hat[b] - x[b]) ** 2)[hidden[b]].mean() for b in range(2)]
    np.testing.assert_allclose(err, hand, rtol=1e-5)


def test_masked_images_paints_hidden_patches():
    x = np.random.default_rng(5).random((1, *SHAPE)).astype("float32")
    mask = np.zeros((1, 16), "float32")
    mask[0, 5] = 1                                       # patch row 1, column 1
    shown = masked_images(x, mask, 2, fill=0.5)
    assert np.all(shown[0, 2:4, 2:4] == 0.5)
    shown[0, 2:4, 2:4] = x[0, 2:4, 2:4]
    np.testing.assert_array_equal(shown, x)


def test_fit_lowers_the_loss_and_features_are_pooled_tokens(tmp_path):
    data = aecore.load_dataset("digits")
    model = small_mae()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(data.x_train[:512], epochs=4, batch_size=128, verbose=0,
                        validation_data=(data.x_test[:100],))
    logs = history.history
    assert logs["loss"][-1] < logs["loss"][0]
    np.testing.assert_allclose(logs["reconstruction"], logs["loss"], rtol=1e-5)
    features = mae_features(model, data.x_test[:50])
    assert features.shape == (50, 16)
    # the features are the transformer's tokens on all patches, averaged
    pos = np.tile(np.arange(16, dtype="int32"), (50, 1))
    tokens = patch_layer(model).transform(numpy_patchify(data.x_test[:50], 2), pos)
    np.testing.assert_allclose(features, ops.convert_to_numpy(tokens).mean(axis=1),
                               rtol=1e-4, atol=1e-6)
    path = tmp_path / "mae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = patch_layer(loaded)
    assert (layer.mask_ratio, layer.patch_size, layer.image_shape) == (0.75, 2, SHAPE)
    np.testing.assert_allclose(mae_features(loaded, data.x_test[:50]), features, rtol=1e-5,
                               atol=1e-6)
    a, _ = reconstruct_masked(model, data.x_test[:20], seed=2)
    b, _ = reconstruct_masked(loaded, data.x_test[:20], seed=2)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mask_ratio"):
        mae_encoder(SHAPE, 2, 1.0)
    with pytest.raises(ValueError, match="divisible by patch_size=3"):
        mae_encoder(SHAPE, 3)
    with pytest.raises(ValueError, match="width must be divisible by heads"):
        TransformerBlock(10, 4, 8)
    with pytest.raises(ValueError, match="decoder takes"):  # widths that do not match
        Autoencoder(mae_encoder(SHAPE, 2, width=16), mae_decoder(SHAPE, 2, input_width=32),
                    reconstruction=HiddenPatchMSE())
    with pytest.raises(ValueError, match="decoder takes"):  # patch sizes that do not match
        Autoencoder(mae_encoder(SHAPE, 2, width=16), mae_decoder(SHAPE, 4, input_width=16),
                    reconstruction=HiddenPatchMSE())
    with pytest.raises(ValueError, match="masked autoencoder's encoder"):
        Autoencoder(aecore.models.dense_encoder(SHAPE, 4),
                    aecore.models.dense_decoder(4, SHAPE), reconstruction=HiddenPatchMSE())
    plain = Autoencoder(aecore.models.dense_encoder(SHAPE, 4),
                        aecore.models.dense_decoder(4, SHAPE))
    with pytest.raises(ValueError, match="mae_encoder"):
        mae_features(plain, np.zeros((2, *SHAPE), "float32"))
    with pytest.raises(ValueError):
        reconstruct_masked(small_mae(), np.zeros((2, 28, 28, 1), "float32"))


JAX_SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore.models import mae_features, masked_autoencoder, reconstruct_masked
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = masked_autoencoder((8, 8, 1), 2, 0.75, width=16, depth=1, decoder_width=16,
                               seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(data.x_train[:512], epochs=3, batch_size=96, verbose=0,
                        validation_data=(data.x_test[:100],))
    features = mae_features(model, data.x_test[:50])
    x_hat, mask = reconstruct_masked(model, data.x_test[:50], seed=1)
    path = os.path.join(tempfile.mkdtemp(), "mae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    print("RESULTS" + json.dumps({
        "loss": [float(v) for v in history.history["loss"]],
        "val": "val_reconstruction" in history.history,
        "features": list(features.shape),
        "round_trip": bool(np.allclose(mae_features(loaded, data.x_test[:50]), features,
                                       atol=1e-6)),
        "masked": float(mask.sum(axis=1).mean())}))
""")


def test_masked_autoencoder_trains_on_jax(run_on_jax):
    result = run_on_jax(JAX_SCRIPT)
    assert result["loss"][-1] < result["loss"][0]
    assert result["val"] and result["round_trip"]
    assert result["features"] == [50, 16] and result["masked"] == 12.0


def test_pca_fill_fits_the_visible_pixels_by_least_squares():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(6)
    train = rng.random((200, *SHAPE)).astype("float32")
    pca = PCA(5).fit(train.reshape(200, -1))
    x = rng.random((3, *SHAPE)).astype("float32")
    _, _, mask = numpy_keep(3, 16, 0.5, seed=0)
    got = pca_fill(pca, x, mask, 2, ridge=0.0)
    hidden = np.repeat(np.repeat(mask.reshape(3, 4, 4), 2, 1), 2, 2).reshape(3, -1) > 0
    for i in range(3):  # an independent least-squares fit on the visible pixels
        v = ~hidden[i]
        c, *_ = np.linalg.lstsq(pca.components_[:, v].T,
                                x[i].reshape(-1)[v] - pca.mean_[v], rcond=None)
        want = np.clip(pca.mean_ + c @ pca.components_, 0, 1)
        np.testing.assert_allclose(got[i].reshape(-1), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="ridge"):
        pca_fill(pca, x, mask, 2, ridge=-1.0)


def test_paste_visible_takes_hidden_patches_from_the_prediction():
    rng = np.random.default_rng(8)
    x, x_hat = rng.random((2, 2, *SHAPE)).astype("float32")
    _, _, mask = numpy_keep(2, 16, 0.5, seed=1)
    got = paste_visible(x, x_hat, mask, 2)
    hidden = np.repeat(np.repeat(mask.reshape(2, 4, 4), 2, 1), 2, 2)[..., None] > 0
    np.testing.assert_array_equal(got, np.where(hidden, x_hat, x))


def test_masked_autoencoder_states_the_patch_size_once():
    model = masked_autoencoder(SHAPE, patch_size=2, mask_ratio=0.5, width=16, depth=1,
                               decoder_width=16)
    layer = patch_layer(model)
    assert (layer.patch_size, layer.mask_ratio, layer.n_patches) == (2, 0.5, 16)
    assert isinstance(model.reconstruction_loss, HiddenPatchMSE)
    assert model.code_shape == [(16, 16), (16,)] and model.latent_dim is None
    x = np.random.default_rng(9).random((3, *SHAPE)).astype("float32")
    tokens, hidden = model.encode(x)
    assert tokens.shape == (3, 16, 16) and not hidden.any()     # inference: none hidden
    np.testing.assert_allclose(model.decode([tokens, hidden]), model.reconstruct(x),
                               atol=1e-6)
