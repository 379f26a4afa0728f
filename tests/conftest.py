import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import aecore  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits as a Dataset: small enough for every test."""
    return aecore.load_dataset("digits")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
