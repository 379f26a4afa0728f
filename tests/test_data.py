import gzip
from pathlib import Path

import numpy as np
import pytest

import aecore
from aecore import data as data_module

FASHION_AVAILABLE = all((data_module.DEBIAN_FASHION_MNIST_DIR / f).is_file()
                        for f in data_module.FASHION_MNIST_FILES.values())


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion_dir(tmp_path, rng):
    """A folder with four tiny IDX files in Fashion-MNIST's layout."""
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (6, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(6) % 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.full((4, 28, 28), 255))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([9, 8, 7, 6]))
    return tmp_path


def test_digits_images_are_float32_in_unit_interval(digits):
    assert digits.x_train.shape[1:] == (8, 8, 1)
    assert digits.x_train.dtype == np.float32 and digits.x_test.dtype == np.float32
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert len(digits.x_train) == len(digits.y_train) and len(digits.x_test) == len(digits.y_test)
    assert set(np.unique(digits.y_train)) == set(range(10))
    assert digits.class_names == tuple("0123456789")
    assert digits.input_shape == (8, 8, 1)


def test_flatten_and_limit():
    d = aecore.load_dataset("digits", flatten=True, limit=50)
    assert d.x_train.shape == (50, 64) and d.x_test.shape == (50, 64)
    assert d.y_train.shape == (50,) and d.y_train.dtype == np.int64
    images = aecore.load_dataset("digits", limit=50)
    np.testing.assert_array_equal(images.x_train.reshape(50, 64), d.x_train)


def test_loading_is_deterministic():
    a, b = aecore.load_dataset("digits"), aecore.load_dataset("digits")
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_fashion_from_a_data_dir(fake_fashion_dir, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(fake_fashion_dir))
    d = aecore.load_dataset("fashion_mnist")
    assert d.x_train.shape == (6, 28, 28, 1) and d.x_test.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(d.x_test, 1.0)
    np.testing.assert_array_equal(d.y_test, [9, 8, 7, 6])
    assert d.class_names[9] == "Ankle boot"


def test_missing_fashion_data_raises_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "not-debian")

    def no_network():
        raise OSError("network is unreachable")

    import keras
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", no_network)
    with pytest.raises(FileNotFoundError) as err:
        aecore.load_dataset("fashion_mnist")
    message = str(err.value)
    assert "nowhere" in message and "not-debian" in message  # where it looked
    assert "apt-get install dataset-fashion-mnist" in message  # how to get it
    assert "network is unreachable" in message


def test_mnist_without_network_raises(monkeypatch):
    import keras

    def no_network():
        raise OSError("no route to host")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(FileNotFoundError, match="MNIST not found.*no route to host"):
        aecore.load_dataset("mnist")


def test_truncated_idx_file_is_reported(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"x")
    with pytest.raises(ValueError, match="truncated"):
        data_module.read_idx(path)
    path.write_bytes(b"not a gzip file")
    with pytest.raises(ValueError, match="not a gzip file"):
        data_module.read_idx(path)
    plain = tmp_path / "plain-idx3-ubyte"
    plain.write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match="magic"):
        data_module.read_idx(plain)


@pytest.mark.parametrize("name", ["cifar10", "Fashion-MNIST", ""])
def test_unknown_name(name):
    with pytest.raises(ValueError, match="Unknown data set name"):
        aecore.load_dataset(name)


@pytest.mark.parametrize("limit", [0, -5, 2.5, True, "10"])
def test_bad_limit(limit):
    with pytest.raises(ValueError, match="limit"):
        aecore.load_dataset("digits", limit=limit)


@pytest.mark.skipif(not FASHION_AVAILABLE, reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_debian():
    d = aecore.load_dataset("fashion_mnist", flatten=True)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert np.bincount(d.y_train).tolist() == [6000] * 10
    assert len(d.class_names) == 10
