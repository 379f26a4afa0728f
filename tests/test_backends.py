"""The models use keras.ops only, so they train unchanged on another backend (JAX here)."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, keras, numpy as np
    import aecore
    assert keras.backend.backend() == "jax", keras.backend.backend()
    data = aecore.load_dataset("digits")
    x = data.x_train
    results = {}
    models = {
        "vae": aecore.models.VariationalAutoencoder(input_shape=(8, 8, 1), latent_dim=2,
                                                    hidden_units=(32,), seed=0),
        "denoising": aecore.models.DenoisingAutoencoder(input_shape=(8, 8, 1), latent_dim=8,
                                                        noise="masking", seed=0),
        "sparse": aecore.models.SparseAutoencoder(input_shape=(8, 8, 1), latent_dim=64),
    }
    for name, model in models.items():
        keras.utils.set_random_seed(0)
        if name == "vae":
            model.compile(optimizer="adam")
            history = model.fit(x, epochs=3, batch_size=64, verbose=0,
                                validation_data=(data.x_test,))
        else:
            model.compile(optimizer="adam", loss="mse")
            history = model.fit(x, x, epochs=3, batch_size=64, verbose=0)
        results[name] = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        results[name]["reconstruct_shape"] = list(model.reconstruct(data.x_test[:3]).shape)
    print("RESULTS" + json.dumps(results))
""")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_models_train_with_fit_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(l for l in run.stdout.splitlines() if l.startswith("RESULTS"))
    results = json.loads(line.removeprefix("RESULTS"))
    vae = results["vae"]
    for key in ["loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"]:
        assert key in vae
    assert vae["loss"][-1] < vae["loss"][0]  # it learns
    assert "sparsity_loss" in results["sparse"]
    assert results["denoising"]["loss"][-1] < results["denoising"]["loss"][0]
    assert all(r["reconstruct_shape"] == [3, 8, 8, 1] for r in results.values())
