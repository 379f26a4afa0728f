"""The one `Autoencoder`: halves from the builders, every part on dense and convolutional
halves, `fit` logs, `.keras` round trips, inference and the errors a reader can hit."""

import ast
import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import keras
import numpy as np
import pytest

import aecore
from aecore import models
from aecore.models import (FSQ, Autoencoder, Corruption, GaussianCode, KLSparseCode, L1Code,
                           TopKCode, VectorQuantizer, conv_decoder, conv_encoder,
                           dense_decoder, dense_encoder, grid_decoder, grid_encoder,
                           masked_autoencoder)

SHAPE = (8, 8, 1)  # the digits fixture's images
LATENT = 6

# name: (Autoencoder keyword, part class, its arguments (a .keras file must keep them),
#        the loss terms it adds to "reconstruction")
PARTS = {
    "gaussian": ("corruption", Corruption, {"kind": "gaussian", "level": 0.2, "seed": 1}, ()),
    "masking": ("corruption", Corruption, {"kind": "masking", "level": 0.4, "seed": 2}, ()),
    "salt_pepper": ("corruption", Corruption, {"kind": "salt_pepper", "level": 0.1, "seed": 3},
                    ()),
    "l1": ("code", L1Code, {"weight": 1e-3}, ("l1",)),
    "kl_sparse": ("code", KLSparseCode, {"target": 0.1, "weight": 0.3}, ("sparsity",)),
    "top_k": ("code", TopKCode, {"k": 3}, ()),
    "gaussian_code": ("code", GaussianCode, {"beta": 0.5, "seed": 4}, ("kl",)),
}


def halves(kind, latent_dim=LATENT, *, units=None, code_activation="relu"):
    """A small encoder/decoder pair for 8x8x1 images: ``"dense"`` or ``"conv"``."""
    units = latent_dim if units is None else units
    if kind == "dense":
        return (dense_encoder(SHAPE, units, (16,), code_activation=code_activation),
                dense_decoder(latent_dim, SHAPE, (16,)))
    return (conv_encoder(SHAPE, units, (4, 8), code_activation=code_activation),
            conv_decoder(latent_dim, SHAPE, (4, 8)))


def build(name, kind):
    """An autoencoder of `kind` with the one part `name` of PARTS."""
    keyword, cls, args, _ = PARTS[name]
    units, code_activation, reconstruction = LATENT, "relu", "mse"
    if cls is KLSparseCode:
        code_activation = "sigmoid"  # the KL penalty needs a code in (0, 1)
    elif cls is TopKCode:
        code_activation = None
    elif cls is GaussianCode:  # z_mean and z_log_var
        units, code_activation, reconstruction = 2 * LATENT, None, "bernoulli"
    return Autoencoder(*halves(kind, units=units, code_activation=code_activation),
                       reconstruction=reconstruction, **{keyword: cls(**args)})


def plain_config(model):
    """The config as a .keras file stores it (JSON: tuples become lists)."""
    return json.loads(json.dumps(model.get_config()))


# -- every part, on both pairs of halves -------------------------------------------------------
@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("name", PARTS)
def test_every_part_trains_logs_its_terms_and_survives_a_keras_file(name, kind, digits,
                                                                    tmp_path):
    keyword, cls, args, terms = PARTS[name]
    keras.utils.set_random_seed(0)
    model = build(name, kind)
    assert model.latent_dim == LATENT and model.sample_shape == SHAPE
    before = model.get_weights()
    # compiled (tf.function) as readers train on the dense pair; eagerly on the conv pair,
    # three times faster for three steps (the graph is traced for every part already)
    model.compile(optimizer="adam", run_eagerly=kind == "conv")
    # 40 images in batches of 16, 16 and 8: the epoch means must weight batches alike
    logs = model.fit(digits.x_train[:40], epochs=1, batch_size=16, verbose=0).history
    assert set(logs) == {"loss", "reconstruction", *terms}
    assert all(np.isfinite(values[0]) for values in logs.values())
    np.testing.assert_allclose(logs["loss"][0],
                               sum(logs[t][0] for t in ("reconstruction", *terms)), rtol=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    path = tmp_path / f"{name}-{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is Autoencoder
    part = getattr(loaded, keyword)
    assert type(part) is cls and {k: getattr(part, k) for k in args} == args
    assert plain_config(loaded) == plain_config(model)
    assert (loaded.latent_dim, loaded.sample_shape) == (LATENT, SHAPE)
    x = digits.x_test[:10]
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


def test_config_round_trip_keeps_every_argument():
    model = Autoencoder(*halves("conv", units=2 * LATENT, code_activation=None),
                        corruption=Corruption("salt_pepper", 0.25, seed=9),
                        code=GaussianCode(beta=4.0, seed=7), reconstruction="bernoulli",
                        name="conv_dvae")
    config = model.get_config()
    clone = Autoencoder.from_config(config)
    assert plain_config(clone) == plain_config(model)
    assert clone.name == "conv_dvae" and clone.reconstruction == "bernoulli"
    assert (clone.corruption.kind, clone.corruption.level, clone.corruption.seed) \
        == ("salt_pepper", 0.25, 9)
    assert (clone.code.beta, clone.code.seed) == (4.0, 7)
    assert clone.count_params() == model.count_params()


# -- the halves ---------------------------------------------------------------------------------
def test_classic_defaults_are_784_32_784():
    model = Autoencoder(dense_encoder((28, 28, 1), 32), dense_decoder(32, (28, 28, 1)))
    dense = [layer for layer in model.encoder.layers + model.decoder.layers
             if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [32, 784]
    assert dense[0].activation is keras.activations.relu
    assert dense[1].activation is keras.activations.sigmoid
    assert model.count_params() == (784 * 32 + 32) + (32 * 784 + 784)
    assert model.latent_dim == 32 and model.sample_shape == (28, 28, 1)


def test_hidden_units_are_mirrored():
    hidden = (256, 128)
    encoder, decoder = dense_encoder((784,), 32, hidden), dense_decoder(32, (784,), hidden)
    assert [l.units for l in encoder.layers if isinstance(l, keras.layers.Dense)] == [256, 128, 32]
    assert [l.units for l in decoder.layers if isinstance(l, keras.layers.Dense)] == [128, 256, 784]


def test_conv_layer_shapes():
    encoder, decoder = conv_encoder((28, 28, 1), 32), conv_decoder(32, (28, 28, 1))
    shapes = [tuple(layer.output.shape[1:]) for layer in encoder.layers]
    assert shapes[:2] == [(14, 14, 32), (7, 7, 64)] and shapes[-1] == (32,)
    shapes = [tuple(layer.output.shape[1:]) for layer in decoder.layers]
    assert shapes[:2] == [(3136,), (7, 7, 64)]
    assert shapes[-3:] == [(14, 14, 64), (28, 28, 32), (28, 28, 1)]


def test_any_keras_models_can_be_the_halves():
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
    model = Autoencoder(encoder, decoder)
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")  # no sigmoid: any range
    z = model.encode(x)
    w, b = encoder.layers[0].get_weights()
    np.testing.assert_allclose(z, x @ w + b, rtol=1e-5, atol=1e-6)
    w, b = decoder.layers[0].get_weights()
    np.testing.assert_allclose(model.decode(z), z @ w + b, rtol=1e-5, atol=1e-6)


# -- training and inference ---------------------------------------------------------------------
def test_shapes_dtypes_and_range(digits):
    model = Autoencoder(*halves("dense", 5))
    x = digits.x_test[:7]
    z = model.encode(x)
    x_hat = model.decode(z)
    assert z.shape == (7, 5) and x_hat.shape == (7, 8, 8, 1)
    assert z.dtype == np.float32 and x_hat.dtype == np.float32
    assert np.all(z >= 0)  # ReLU code
    assert np.all((x_hat > 0) & (x_hat < 1))  # sigmoid output
    np.testing.assert_allclose(model.reconstruct(x), x_hat, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), x_hat, atol=1e-6)


def test_training_reduces_reconstruction_error(digits):
    aecore.train.set_seed(0)
    model = Autoencoder(dense_encoder(SHAPE, 16), dense_decoder(16, SHAPE))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = aecore.reconstruction_error(model, digits.x_test).mean()
    history = aecore.train.fit(model, digits.x_train, epochs=10, batch_size=64, verbose=0)
    after = aecore.reconstruction_error(model, digits.x_test).mean()
    assert after < 0.5 * before
    assert len(history.history["loss"]) == 10 and history.seconds > 0


def test_noisy_inputs_and_clean_targets(digits):
    """fit(x_noisy, x_clean): the loss compares the reconstruction with the clean target."""
    aecore.train.set_seed(0)
    model = Autoencoder(*halves("dense"))
    model.compile(optimizer="adam")
    x = digits.x_train[:32]
    noisy = aecore.data.corrupt(x, "masking", 0.5, seed=0)
    logs = model.evaluate(noisy, x, batch_size=32, verbose=0, return_dict=True)
    expected = np.mean((model.reconstruct(noisy) - x) ** 2)
    assert logs["reconstruction"] == pytest.approx(expected, rel=1e-5)
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("part", ["masking", "gaussian_code"])
def test_inference_is_deterministic(part, digits):
    """A denoising model corrupts, and a VAE samples, only while training."""
    model = build(part, "dense")
    x = digits.x_test[:16]
    first = model.reconstruct(x)
    np.testing.assert_array_equal(first, model.reconstruct(x))
    np.testing.assert_array_equal(model.encode(x), model.encode(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)), first,
                               atol=1e-6)
    training_pass = keras.ops.convert_to_numpy(model(x, training=True))
    assert np.abs(training_pass - first).max() > 1e-3


def test_metrics_list_each_term_once():
    model = build("gaussian_code", "dense")
    assert [m.name for m in model.metrics] == ["reconstruction", "kl"]
    model.compile(optimizer="adam")
    assert [m.name for m in model.metrics] == ["loss", "reconstruction", "kl"]


def test_loss_terms_without_a_code_part_is_the_mean_squared_error(digits):
    model = Autoencoder(*halves("conv"))
    x = digits.x_test[:12]
    x_hat = model.reconstruct(x)
    terms = model.loss_terms(x, x_hat)
    assert set(terms) == {"reconstruction"}
    assert float(terms["reconstruction"]) == pytest.approx(np.mean((x - x_hat) ** 2), rel=1e-5)


# -- errors ---------------------------------------------------------------------------------------
def test_compiling_with_a_loss_is_refused(digits):
    model = Autoencoder(*halves("dense"))
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="optimizer only"):
        model.fit(digits.x_train[:8], epochs=1, verbose=0)


@pytest.mark.parametrize("make, match", [
    (lambda: Autoencoder(dense_encoder(SHAPE, 8), dense_decoder(4, SHAPE)),
     r"decoder takes \(4,\), but the code has shape \(8,\)"),
    (lambda: Autoencoder(dense_encoder(SHAPE, 8), dense_decoder(8, (64,))),
     r"decoder outputs \(64,\), but the encoder takes \(8, 8, 1\)"),
    (lambda: Autoencoder(dense_encoder(SHAPE, 8), dense_decoder(8, SHAPE), code=GaussianCode()),
     r"decoder takes \(8,\), but the code has shape \(4,\) \(encoder output \(8,\), then "
     r"GaussianCode\)"),
    (lambda: Autoencoder(dense_encoder(SHAPE, 7), dense_decoder(3, SHAPE), code=GaussianCode()),
     "even number of outputs"),
    (lambda: Autoencoder(dense_encoder(SHAPE, 8), dense_decoder(8, SHAPE), code=TopKCode(9)),
     r"k=9 is larger than the code's last axis \(8 units"),
    (lambda: Autoencoder(conv_encoder(SHAPE, 8, (4,)), dense_decoder(8, SHAPE),
                         code=VectorQuantizer(16, 4)),
     r"VectorQuantizer\(num_codes=16, dim=4\) works on vectors of 4 numbers, but the "
     r"encoder's output has 8"),
    (lambda: Autoencoder(keras.layers.Dense(4), dense_decoder(4, SHAPE)),
     "encoder must be a keras.Model"),
    (lambda: Autoencoder(dense_encoder(SHAPE, 4), dense_decoder(4, SHAPE), reconstruction="l2"),
     "reconstruction must be one of"),
])
def test_mismatched_halves_and_parts(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make, name", [
    (lambda: dense_encoder(SHAPE, 0), "latent_dim"),
    (lambda: dense_decoder(-1, SHAPE), "latent_dim"),
    (lambda: dense_encoder(SHAPE, 2.5), "latent_dim"),
    (lambda: dense_encoder(SHAPE, True), "latent_dim"),
    (lambda: dense_encoder(SHAPE, 4, (0,)), "hidden_units"),
    (lambda: dense_encoder(SHAPE, 4, (32.0,)), "hidden_units"),
    (lambda: dense_decoder(4, SHAPE, 128), "hidden_units"),
    (lambda: dense_encoder((), 4), "input_shape"),
    (lambda: dense_encoder((28, 0), 4), "input_shape"),
    (lambda: dense_encoder("784", 4), "input_shape"),
    (lambda: dense_decoder(4, (28.0, 28.0)), "output_shape"),
    (lambda: conv_encoder(SHAPE, 0, (4, 8)), "latent_dim"),
    (lambda: conv_decoder(0, SHAPE, (4, 8)), "latent_dim"),
    (lambda: conv_encoder(SHAPE, 4, ()), "filters"),
    (lambda: conv_decoder(4, SHAPE, ()), "filters"),
    (lambda: conv_encoder(SHAPE, 4, (8, 0)), "filters"),
    (lambda: conv_encoder(SHAPE, 4, (4, 4, 4, 4)), "input_shape"),  # 8 / 2**4
    (lambda: conv_encoder((6, 6, 1), 4, (4, 8)), "input_shape"),
    (lambda: conv_decoder(4, (28, 28, 1), (8, 8, 8)), "output_shape"),
    (lambda: conv_encoder((784,), 4), "input_shape"),
    (lambda: conv_encoder(SHAPE, 4, (4,), kernel_size=0), "kernel_size"),
])
def test_bad_builder_arguments_are_named(make, name):
    with pytest.raises(ValueError, match=f"{name}="):
        make()


def test_conv_divisibility_message_says_why():
    with pytest.raises(ValueError, match=r"divisible by 2\*\*len\(filters\) = 8"):
        conv_encoder((28, 28, 1), 4, (8, 8, 8))
    with pytest.raises(ValueError, match="at least one layer"):
        conv_encoder(SHAPE, 4, ())


@pytest.mark.parametrize("raw", [
    (np.arange(64).reshape(1, 8, 8, 1) * 4).astype(np.uint8),  # raw 0..252 pixels
    np.full((2, 8, 8, 1), 255.0, np.float32),  # floats, not divided by 255
])
def test_raw_pixels_are_refused(raw):
    model = Autoencoder(*halves("conv"))
    for call in (model.reconstruct, model.encode,
                 lambda x: aecore.reconstruction_error(model, x)):
        with pytest.raises(ValueError, match="255"):
            call(raw)


def test_python_lists_are_converted(digits):
    model = Autoencoder(*halves("dense"))
    x = digits.x_test[:3]
    np.testing.assert_array_equal(model.encode(x.tolist()), model.encode(x))
    np.testing.assert_array_equal(model.reconstruct(x.tolist()), model.reconstruct(x))
    z = model.encode(x)
    np.testing.assert_array_equal(model.decode(z.tolist()), model.decode(z))
    with pytest.raises(ValueError, match="numeric array"):
        model.encode([["a"] * 8] * 8)


def test_wrong_input_shape_is_rejected():
    model = Autoencoder(dense_encoder((784,), 32), dense_decoder(32, (784,)))
    with pytest.raises(ValueError, match=r"shape \(n, 784\).*got \(2, 28, 28, 1\)"):
        model.encode(np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match=r"z must have shape \(n, 32\)"):
        model.decode(np.zeros((2, 16), "float32"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    model = Autoencoder(dense_encoder((4,), 2), dense_decoder(2, (4,)))
    x = np.zeros((3, 4), "float32")
    x[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.reconstruct(x)


# -- the package's shape ------------------------------------------------------------------------
def test_one_model_class_and_flat_parts():
    """Composition, not a class hierarchy: the one keras.Model of aecore.models is
    Autoencoder, and no aecore class has more than one aecore ancestor (base -> concrete)."""
    modules = [models] + [importlib.import_module(f"aecore.models.{m.name}")
                          for m in pkgutil.iter_modules(models.__path__)]
    classes = {cls for module in modules for _, cls in inspect.getmembers(module, inspect.isclass)
               if cls.__module__.startswith("aecore.")}
    assert [cls for cls in classes if issubclass(cls, keras.Model)] == [Autoencoder]
    for cls in classes:
        ancestors = [c for c in cls.__mro__[1:] if c.__module__.startswith("aecore.")]
        assert len(ancestors) <= 1, (cls, ancestors)
    for cls in (Autoencoder, Corruption, GaussianCode, KLSparseCode, L1Code, TopKCode):
        assert keras.saving.get_registered_name(cls) == f"aecore>{cls.__name__}"


def test_model_modules_import_no_other_model_module():
    """Only the package's __init__ gathers the modules of aecore.models."""
    allowed = {"__init__": {"autoencoder", "builders", "parts", "conditioning", "prior",
                            "masking", "quantizers"},
               "builders": {"autoencoder", "masking"},   # the MAE's layers, and the MAE
               "masking": {"transformer"}}
    for path in Path(models.__file__).parent.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            imported |= {n.split(".")[2] for n in names if n.startswith("aecore.models.")}
            if isinstance(node, ast.ImportFrom) and node.module == "aecore.models":
                imported |= {a.name for a in node.names}
            if isinstance(node, ast.ImportFrom) and node.level:  # from . import parts
                imported |= ({node.module.split(".")[0]} if node.module
                             else {a.name for a in node.names})
        assert imported <= allowed.get(path.stem, set()), (path.name, imported)


def test_unit_norm_code_keeps_each_code_units_weights_at_norm_one(digits):
    decoder = dense_decoder(6, digits.input_shape, (16,), unit_norm_code=True)
    model = Autoencoder(dense_encoder(digits.input_shape, 6, (16,)), decoder,
                        code=L1Code(0.01))
    model.compile(optimizer="adam")
    model.fit(digits.x_train[:64], digits.x_train[:64], epochs=1, batch_size=32, verbose=0)
    kernel = decoder.layers[0].kernel.numpy()  # (code units, 16): a row per code unit
    np.testing.assert_allclose(np.linalg.norm(kernel, axis=1), 1.0, rtol=1e-5)
    plain = dense_decoder(6, digits.input_shape, (16,))
    assert plain.layers[0].kernel_constraint is None


def test_an_empty_batch_gives_empty_arrays():
    model = Autoencoder(dense_encoder(SHAPE, 4), dense_decoder(2, SHAPE), code=GaussianCode())
    none = np.zeros((0, *SHAPE), "float32")
    assert model.encode(none).shape == (0, 2) and model.encode_raw(none).shape == (0, 4)
    assert model.reconstruct(none).shape == (0, *SHAPE)
    assert model.decode(np.zeros((0, 2), "float32")).shape == (0, *SHAPE)
    assert aecore.reconstruction_error(model, none).shape == (0,)


# every model and part trains in mixed precision (readers with a GPU), losses in float32
MIXED_MODELS = {
    "dense": lambda: Autoencoder(dense_encoder(SHAPE, 4), dense_decoder(4, SHAPE)),
    "denoising conv": lambda: Autoencoder(conv_encoder(SHAPE, 4, (4, 8)),
                                          conv_decoder(4, SHAPE, (4, 8)),
                                          corruption=Corruption("gaussian", 0.3)),
    "vae": lambda: Autoencoder(dense_encoder(SHAPE, 4, code_activation=None),
                               dense_decoder(2, SHAPE), code=GaussianCode(),
                               reconstruction="bernoulli"),
    "sparse": lambda: Autoencoder(dense_encoder(SHAPE, 6, code_activation="sigmoid"),
                                  dense_decoder(6, SHAPE), code=KLSparseCode(0.1)),
    "l1": lambda: Autoencoder(dense_encoder(SHAPE, 6), dense_decoder(6, SHAPE),
                              code=L1Code(0.01)),
    "topk": lambda: Autoencoder(dense_encoder(SHAPE, 6, code_activation=None),
                                dense_decoder(6, SHAPE), code=TopKCode(2)),
    "vq": lambda: Autoencoder(grid_encoder(SHAPE, 3, (4, 8)), grid_decoder(SHAPE, 3, (4, 8)),
                              code=VectorQuantizer(8, 3)),
    "fsq": lambda: Autoencoder(grid_encoder(SHAPE, 2, (4, 8)), grid_decoder(SHAPE, 2, (4, 8)),
                               code=FSQ((4, 4))),
    "mae": lambda: masked_autoencoder(SHAPE, 2, 0.5, width=16, depth=1, decoder_width=16),
}


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_every_model_trains_in_mixed_precision(policy, digits):
    x = digits.x_train[:64]
    keras.mixed_precision.set_global_policy(policy)
    try:
        for name, make in MIXED_MODELS.items():
            keras.utils.set_random_seed(0)
            model = make()
            assert model.encoder.layers[-1].compute_dtype != "float32", name  # really mixed
            model.compile(optimizer="adam")
            logs = model.fit(x, epochs=1, batch_size=32, verbose=0).history
            assert np.isfinite(logs["loss"][-1]), name
            x_hat = model.reconstruct(x[:5])
            assert x_hat.dtype == np.float32 and x_hat.shape == x[:5].shape, name
            terms = model.loss_terms(x[:5], x_hat)
            assert all(keras.ops.convert_to_numpy(v).dtype == np.float32
                       for v in terms.values()), name
    finally:
        keras.mixed_precision.set_global_policy("float32")
