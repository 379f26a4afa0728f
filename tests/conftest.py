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
