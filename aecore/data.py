"""Data sets for the book, offline first.

`load_dataset` returns images as float32 in [0, 1] with shape ``(n, height, width, 1)``
(or ``(n, height * width)`` with ``flatten=True``), plus integer labels and class names.

Where the data comes from:

- ``"fashion_mnist"`` (the default): the IDX files in ``$AECORE_DATA_DIR`` when that is set
  (and only there); otherwise Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist``, the documented default), then Keras' cache or
  download (``~/.keras/datasets``).
- ``"mnist"``: Keras' cache or download.
- ``"digits"``: scikit-learn's embedded 8x8 digits, always available (for quick tests).

When no source works, one `FileNotFoundError` says where it looked and how to get the data.
"""

from __future__ import annotations

import gzip
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DATASETS = ("fashion_mnist", "mnist", "digits")
# A download that cannot reach its server must fail, not hang.
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of an image data set.

    Images are float32 in [0, 1]; labels are int64 class indices into `class_names`.
    ``x_val``/``y_val`` are carved from the training images (``validation_split``); they
    are empty when no validation split was asked for. Choose epochs, sizes and thresholds
    on them; the test split is for the reported number only.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    x_val: np.ndarray = None
    y_val: np.ndarray = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, ready for a model's ``input_shape=``."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, x_train={self.x_train.shape}, "
                f"x_val={getattr(self.x_val, 'shape', None)}, x_test={self.x_test.shape}, "
                f"classes={len(self.class_names)})")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one (optionally gzipped) IDX file of unsigned bytes, as MNIST ships them."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        raise ValueError(
            f"{path} is truncated or corrupt ({type(err).__name__}: {err}); get a good copy: "
            "`sudo apt-get install --reinstall dataset-fashion-mnist`, or delete it and let "
            "Keras download it again.") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number).")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise ValueError(f"{path} is truncated: header says {dims}, "
                         f"found {len(raw) - offset} of {expected} bytes.")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _candidate_dirs() -> list[Path]:
    """``$AECORE_DATA_DIR`` alone when it is set (it must then hold the files), else the
    default, Debian's folder."""
    if os.environ.get("AECORE_DATA_DIR"):
        directory = Path(os.environ["AECORE_DATA_DIR"]).expanduser()
        missing = [f for f in FASHION_MNIST_FILES.values() if not (directory / f).is_file()]
        if missing:
            state = "does not exist" if not directory.is_dir() else f"lacks {', '.join(missing)}"
            raise FileNotFoundError(
                f"AECORE_DATA_DIR={directory} {state}. Point it at a folder with the four "
                f"Fashion-MNIST files ({', '.join(FASHION_MNIST_FILES.values())}), or unset "
                "it to use Debian's dataset-fashion-mnist or Keras' download.")
        return [directory]
    return [DEBIAN_FASHION_MNIST_DIR]


def _keras_download(loader):
    """Call a `keras.datasets` loader (cache, else download) with a network timeout."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        return loader()
    finally:
        socket.setdefaulttimeout(previous)


def _load_fashion_mnist():
    tried = []
    for directory in _candidate_dirs():
        paths = {k: directory / f for k, f in FASHION_MNIST_FILES.items()}
        if all(p.is_file() for p in paths.values()):
            arrays = {k: read_idx(p) for k, p in paths.items()}
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
        tried.append(str(directory))
    import keras

    try:
        return _keras_download(keras.datasets.fashion_mnist.load_data)
    except Exception as err:  # no network, proxy, corrupt cache...
        tried.append(f"Keras' cache or download in ~/.keras/datasets ({type(err).__name__}: {err})")
    raise FileNotFoundError(
        "Fashion-MNIST not found. Looked in: " + "; ".join(tried) + ". "
        "Offline on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`; "
        "elsewhere: connect to the internet once so Keras can download it, or set "
        "AECORE_DATA_DIR to a folder with the four IDX files "
        f"({', '.join(FASHION_MNIST_FILES.values())})."
    )


def _load_mnist():
    import keras

    try:
        return _keras_download(keras.datasets.mnist.load_data)
    except Exception as err:
        raise FileNotFoundError(
            "MNIST not found: looked in Keras' cache (~/.keras/datasets/mnist.npz) and the "
            f"download failed ({type(err).__name__}: {err}). Connect to the internet once so "
            "Keras can download it, or use name='fashion_mnist' (offline: "
            "`sudo apt-get install dataset-fashion-mnist`)."
        ) from err


def _load_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)  # 8x8, values 0..16
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    return (x_train, y_train), (x_test, y_test)


_LOADERS = {
    "fashion_mnist": (_load_fashion_mnist, FASHION_MNIST_CLASSES),
    "mnist": (_load_mnist, DIGIT_CLASSES),
    "digits": (_load_digits, DIGIT_CLASSES),
}


def _prepare(images: np.ndarray, flatten: bool, limit: int | None) -> np.ndarray:
    images = images[:limit]
    x = images.astype("float32") / 255.0
    return x.reshape(len(x), -1) if flatten else x[..., np.newaxis]


def load_dataset(name: str = "fashion_mnist", *, flatten: bool = False,
                 limit: int | None = None, validation_split: float = 0.0,
                 seed: int = 0) -> Dataset:
    """Load an image data set as float32 in [0, 1].

    Args:
        name: ``"fashion_mnist"`` (default), ``"mnist"`` or ``"digits"``.
        flatten: return images as vectors ``(n, height * width)`` instead of
            ``(n, height, width, 1)``.
        limit: keep only the first `limit` images of each split (for quick runs).
        validation_split: fraction of the training images set aside, stratified by class,
            as ``x_val``/``y_val`` (e.g. ``1 / 12``: 5,000 of Fashion-MNIST's 60,000).
        seed: seed of that split.

    Returns:
        A `Dataset` with ``x_train, y_train, x_test, y_test`` and ``class_names``.

    Raises:
        ValueError: unknown `name`, a `limit` that is not a positive integer, or a
            `validation_split` outside [0, 1).
        FileNotFoundError: the data is nowhere to be found (the message says where it looked).
    """
    if name not in _LOADERS:
        raise ValueError(f"Unknown data set name={name!r}; choose one of {DATASETS}.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit <= 0):
        raise ValueError(f"limit must be a positive integer or None, got limit={limit!r}.")
    from aecore import _checks

    validation_split = _checks.probability("validation_split", validation_split)
    loader, class_names = _LOADERS[name]
    (x_train, y_train), (x_test, y_test) = loader()
    x_train = _prepare(x_train, flatten, limit)
    y_train = np.asarray(y_train[:limit], dtype=np.int64)
    x_val, y_val = x_train[:0], y_train[:0]
    if validation_split:
        from sklearn.model_selection import train_test_split

        x_train, x_val, y_train, y_val = train_test_split(
            x_train, y_train, test_size=validation_split, random_state=seed, stratify=y_train)
    return Dataset(
        name=name, x_train=x_train, y_train=y_train,
        x_test=_prepare(x_test, flatten, limit),
        y_test=np.asarray(y_test[:limit], dtype=np.int64),
        class_names=class_names, x_val=x_val, y_val=y_val,
    )


def corrupt(x, kind="gaussian", level=0.3, seed=None) -> np.ndarray:
    """A corrupted copy of images in [0, 1], with the same noise a denoising `Autoencoder`
    trains with: ``"gaussian"`` (std `level`, clipped), ``"masking"`` or ``"salt_pepper"``
    (a fraction `level` of the values). Use it to make a fixed noisy test set."""
    from keras import ops

    from aecore.models.parts import Corruption

    x = np.asarray(x, dtype=np.float32)
    return ops.convert_to_numpy(Corruption(kind, level, seed=seed)(x, training=True))
