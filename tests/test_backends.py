"""The models use keras.ops only, so they train unchanged on another backend (JAX here)."""

import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os, tempfile
    import keras, numpy as np
    import aecore
    from aecore.models import (Autoencoder, Corruption, GaussianCode, KLSparseCode, TopKCode,
                               conv_decoder, conv_encoder, dense_decoder, dense_encoder)
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits")
    x, x_test = data.x_train[:512], data.x_test[:100]
    shape = (8, 8, 1)
    models = {
        "dense_sparse_denoising": lambda: Autoencoder(
            dense_encoder(shape, 16, code_activation="sigmoid"), dense_decoder(16, shape),
            corruption=Corruption("masking", 0.3, seed=0), code=KLSparseCode(0.1, 0.5)),
        "conv_denoising_vae": lambda: Autoencoder(
            conv_encoder(shape, 8, (4, 8)), conv_decoder(4, shape, (4, 8)),
            corruption=Corruption("gaussian", 0.2, seed=0), code=GaussianCode(0.5, seed=0),
            reconstruction="bernoulli"),
        "conv_top_k": lambda: Autoencoder(
            conv_encoder(shape, 12, (4, 8)), conv_decoder(12, shape, (4, 8)),
            corruption=Corruption("salt_pepper", 0.1, seed=0), code=TopKCode(4)),
    }
    results = {}
    for name, make in models.items():
        keras.utils.set_random_seed(0)
        model = make()
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        # 512 images in batches of 96: a smaller last batch
        history = model.fit(x, epochs=3, batch_size=96, verbose=0, validation_data=(x_test,))
        result = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        x_hat = model.reconstruct(x_test)
        result["deterministic"] = bool(np.array_equal(x_hat, model.reconstruct(x_test)))
        result["reconstruct_shape"] = list(x_hat.shape)
        terms = {k: float(v) for k, v in model.loss_terms(x_test, x_hat).items()}
        evaluated = model.evaluate(x_test, batch_size=len(x_test), verbose=0, return_dict=True)
        result["terms"], result["evaluated"] = terms, evaluated
        path = os.path.join(tempfile.mkdtemp(), name + ".keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        result["round_trip"] = bool(np.array_equal(loaded.reconstruct(x_test), x_hat))
        results[name] = result
    print("RESULTS" + json.dumps(results))
""")

TERMS = {"dense_sparse_denoising": ["reconstruction", "sparsity"],
         "conv_denoising_vae": ["reconstruction", "kl"],
         "conv_top_k": ["reconstruction"]}


def test_composed_models_train_with_fit_on_jax(run_on_jax):
    results = run_on_jax(SCRIPT)
    assert set(results) == set(TERMS)
    for name, terms in TERMS.items():
        logs = results[name]
        assert {"loss", "val_loss", *terms, *(f"val_{t}" for t in terms)} <= set(logs), name
        for prefix in ("", "val_"):  # the logged terms add up to the loss
            for epoch, loss in enumerate(logs[prefix + "loss"]):
                assert loss == pytest.approx(sum(logs[prefix + t][epoch] for t in terms),
                                             rel=1e-5), (name, prefix, epoch)
        assert logs["loss"][-1] < logs["loss"][0], name  # it learns
        assert logs["deterministic"] and logs["round_trip"], name
        assert logs["reconstruct_shape"] == [100, 8, 8, 1]
        # loss_terms at inference is what evaluate computes
        assert set(logs["terms"]) == set(terms)
        for t in terms:
            assert logs["evaluated"][t] == pytest.approx(logs["terms"][t], rel=1e-4), (name, t)
