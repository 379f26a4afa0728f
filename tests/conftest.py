import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import aecore  # noqa: E402

# `make test` runs two pytest workers on two cores next to notebook kernels: one BLAS/OpenMP
# thread per worker. With two, scikit-learn's solvers spin against each other and the
# logistic-regression probe of test_use_cases took 37 s instead of 5.
threadpool_limits(1)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits as a Dataset: small enough for every test."""
    return aecore.load_dataset("digits")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def run_on_jax():
    """Run a script under Keras' JAX backend in a fresh interpreter (the backend is chosen at
    import) and return the JSON it prints on a line starting with ``RESULTS``."""
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")

    # The scripts' models are tiny, so they wait on XLA compiling, not on running: level 0
    # of its CPU backend's optimisation compiles them about a third faster (measured).
    xla_flags = os.environ.get("XLA_FLAGS", "--xla_backend_optimization_level=0")

    def run(script):
        env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": xla_flags}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        line = next(l for l in done.stdout.splitlines() if l.startswith("RESULTS"))
        return json.loads(line.removeprefix("RESULTS"))

    return run
