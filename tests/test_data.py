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


def test_a_missing_data_dir_is_named(tmp_path, monkeypatch):
    """AECORE_DATA_DIR, once set, is the only place looked in: no silent fallback."""
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"AECORE_DATA_DIR=.*nowhere does not exist"):
        aecore.load_dataset("fashion_mnist")
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="lacks train-labels-idx1-ubyte.gz, t10k"):
        aecore.load_dataset("fashion_mnist")


def test_missing_fashion_data_raises_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AECORE_DATA_DIR", raising=False)
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "not-debian")

    def no_network():
        raise OSError("network is unreachable")

    import keras
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", no_network)
    with pytest.raises(FileNotFoundError) as err:
        aecore.load_dataset("fashion_mnist")
    message = str(err.value)
    assert "not-debian" in message and "~/.keras/datasets" in message  # where it looked
    assert "apt-get install dataset-fashion-mnist" in message  # how to get it
    assert "AECORE_DATA_DIR" in message
    assert "network is unreachable" in message


def test_a_truncated_file_in_the_data_dir_is_named(fake_fashion_dir, monkeypatch):
    path = fake_fashion_dir / "t10k-images-idx3-ubyte.gz"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a download cut short
    monkeypatch.setenv("AECORE_DATA_DIR", str(fake_fashion_dir))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is truncated or corrupt"):
        aecore.load_dataset("fashion_mnist")


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
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte\.gz is truncated or corrupt.*gzip"):
        data_module.read_idx(path)
    plain = tmp_path / "plain-idx3-ubyte"
    plain.write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match="magic"):
        data_module.read_idx(plain)


def test_validation_split_is_stratified_disjoint_and_seeded(digits):
    split = aecore.load_dataset("digits", validation_split=0.25, seed=3)
    n = len(digits.x_train)  # 1437 training images before the split
    assert len(split.x_val) == int(np.ceil(0.25 * n)) and len(split.x_train) == n - len(split.x_val)
    assert len(split.y_val) == len(split.x_val) and split.x_val.dtype == np.float32
    # stratified: each class keeps its share of the training images, to one image
    counts = np.bincount(digits.y_train, minlength=10)
    assert np.all(np.abs(np.bincount(split.y_val, minlength=10) - 0.25 * counts) <= 1)
    # the two parts are exactly the original training set (images with their labels)
    together = lambda x, y: sorted(r.tobytes() + bytes([int(label)]) for r, label in zip(x, y))
    assert together(np.concatenate([split.x_train, split.x_val]),
                    np.concatenate([split.y_train, split.y_val])) \
        == together(digits.x_train, digits.y_train)
    np.testing.assert_array_equal(split.x_test, digits.x_test)  # the test set is untouched
    again = aecore.load_dataset("digits", validation_split=0.25, seed=3)
    np.testing.assert_array_equal(again.x_val, split.x_val)
    np.testing.assert_array_equal(again.y_train, split.y_train)
    other = aecore.load_dataset("digits", validation_split=0.25, seed=4)
    assert not np.array_equal(other.x_val, split.x_val)
    assert "x_val=(360, 8, 8, 1)" in repr(split)


def test_no_validation_split_by_default(digits):
    assert digits.x_val.shape == (0, 8, 8, 1) and digits.y_val.shape == (0,)
    bare = data_module.Dataset("tiny", digits.x_train, digits.y_train, digits.x_test,
                               digits.y_test, digits.class_names)
    assert "x_val=None" in repr(bare)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2, "0.1"])
def test_bad_validation_split(fraction):
    with pytest.raises(ValueError, match="validation_split"):
        aecore.load_dataset("digits", validation_split=fraction)


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
