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

`load_series` gives labelled time series for anomaly detection, read from files already on
the machine (the ones the `aeon` package ships, or files of the UCR anomaly archive).
`corrupt` makes a fixed noisy copy of images, with a denoising autoencoder's own noise.
"""

from __future__ import annotations

import gzip
import importlib.resources
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from aecore import _checks
from aecore.anomaly import anomaly_segments
from aecore.models.parts import Corruption

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
    validation_split = _checks.probability("validation_split", validation_split)
    loader, class_names = _LOADERS[name]
    (x_train, y_train), (x_test, y_test) = loader()
    x_train = _prepare(x_train, flatten, limit)
    y_train = np.asarray(y_train[:limit], dtype=np.int64)
    x_val, y_val = x_train[:0], y_train[:0]
    if validation_split:
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
    trains with: ``"gaussian"`` (std `level`, clipped), ``"gaussian_unclipped"`` (std
    `level`, values may leave [0, 1]), ``"masking"`` or ``"salt_pepper"`` (a fraction `level`
    of the values). Use it to make a fixed noisy test set."""
    x = np.asarray(x, dtype=np.float32)
    return ops.convert_to_numpy(Corruption(kind, level, seed=seed)(x, training=True))


# -- labelled time series ------------------------------------------------------------------
# The labelled series that `aeon` ships inside its wheel (its own loaders read the same files).
# "prefix": the test file holds the whole series and the training file is its normal
# beginning (the UCR archive's layout); otherwise the training file is a separate normal
# series, put before the test series here, so that the first `train_end` points are normal.
# aeon 1.6 deprecates the ecg-diff-count-3 files and plans to drop them in 1.7.
BUNDLED = {
    "kdd_tsad_135": {
        "package": "aeon",
        "folder": ("datasets", "data", "KDD-TSAD_135"),
        "train": "135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
        "test": "135_UCR_Anomaly_InternalBleeding16_TEST.csv",
        "prefix": True,
        "description": "UCR anomaly archive 135, InternalBleeding16: a physiological "
                       "recording with one labelled anomaly",
    },
    "ecg_diff_count_3": {
        "package": "aeon",
        "folder": ("datasets", "data", "UnitTest"),
        "train": "ecg-diff-count-3_TRAIN_NA.csv",
        "test": "ecg-diff-count-3_TEST.csv",
        "prefix": False,
        "description": "ecg-diff-count-3 (TimeEval, made with GutenTAG): a synthetic ECG-like "
                       "series with three labelled anomalies of different kinds, after its "
                       "anomaly-free training series",
    },
    "ecg_diff_count_3_train_a": {
        "package": "aeon",
        "folder": ("datasets", "data", "UnitTest"),
        "train": "ecg-diff-count-3_TRAIN_NA.csv",
        "test": "ecg-diff-count-3_TRAIN_A.csv",
        "prefix": False,
        "description": "ecg-diff-count-3's other labelled series (its supervised training "
                       "file, three anomalies elsewhere), after the same anomaly-free series",
    },
}
_UCR_NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class LabelledSeries:
    """A univariate series with point labels.

    `values` and `labels` have shape ``(n,)``; ``labels == 1`` marks anomalous points. The
    first `train_end` points are known to be normal (the part to fit and validate on).
    """

    name: str
    values: np.ndarray
    labels: np.ndarray
    train_end: int
    description: str = ""

    def segments(self) -> list[tuple[int, int]]:
        """The labelled anomalies as ``(start, stop)`` index ranges (stop excluded)."""
        return anomaly_segments(self.labels)


def _bundled_folder(spec):
    package = spec["package"]
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ImportError(
            f"this series is bundled with the '{package}' package, which is not installed: "
            f"pip install {package}  (or pip install 'aecore[notebooks]')") from None
    folder = root.joinpath(*spec["folder"])
    if not folder.joinpath(spec["test"]).is_file():
        raise ValueError(f"the installed '{package}' has no {'/'.join(spec['folder'])} "
                         f"folder: install a version that bundles it (pip install -U "
                         f"{package}).")
    return folder


def _read_timeeval_csv(path):
    """TimeEval's CSV (timestamp, value, is_anomaly): values and labels as arrays."""
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    return table[:, 1], table[:, -1].astype(np.int64)


def load_series(name="kdd_tsad_135") -> LabelledSeries:
    """A labelled univariate series, from files already on this machine.

    Args:
        name: a key of `BUNDLED`, a series that the `aeon` package bundles (read from its
            files, without importing aeon's loaders: nothing is downloaded):
            ``"kdd_tsad_135"`` (UCR archive 135), ``"ecg_diff_count_3"`` and
            ``"ecg_diff_count_3_train_a"`` (two labelled synthetic series after one
            anomaly-free series, so that ``train_end`` is that series' length); or the path
            of a file of the UCR anomaly archive (Wu & Keogh), named
            ``NNN_UCR_Anomaly_NAME_TRAINEND_BEGIN_END.txt`` with one value per line: the
            points before TRAINEND are normal, those from BEGIN up to END (excluded) are
            the anomaly, as TimeEval's copy of the archive (the files aeon ships) and
            other loaders label them.

    Returns:
        A `LabelledSeries`.
    """
    if not isinstance(name, (str, Path)):
        raise ValueError(f"name must be a string or a path, got name={name!r}.")
    if str(name) in BUNDLED:
        spec = BUNDLED[str(name)]
        folder = _bundled_folder(spec)
        values, labels = _read_timeeval_csv(folder.joinpath(spec["test"]))
        train_values, train_labels = _read_timeeval_csv(folder.joinpath(spec["train"]))
        train_end = len(train_values)
        if train_labels.any() or (spec["prefix"] and not np.array_equal(
                train_values, values[:train_end])):
            raise ValueError(f"{name}: the training file is not a normal series"
                             f"{' beginning the test file' if spec['prefix'] else ''}.")
        if not spec["prefix"]:
            values = np.concatenate([train_values, values])
            labels = np.concatenate([train_labels, labels])
        return LabelledSeries(str(name), values, labels, train_end, spec["description"])
    path = Path(name)
    match = _UCR_NAME.match(path.name)
    if match is None:
        raise ValueError(f"name must be one of {sorted(BUNDLED)} or the path of a UCR "
                         f"anomaly archive file named NNN_UCR_Anomaly_NAME_TRAINEND_"
                         f"BEGIN_END.txt, got name={str(name)!r}.")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    values = np.loadtxt(path, dtype=np.float64).ravel()
    train_end, begin, end = (int(g) for g in match.groups()[2:])
    if not 0 < train_end <= begin < end <= len(values):
        raise ValueError(f"{path.name}: the indices in the name (train end {train_end}, "
                         f"anomaly {begin}-{end}) do not fit a series of {len(values)} "
                         f"points.")
    labels = np.zeros(len(values), dtype=np.int64)
    labels[begin:end] = 1
    return LabelledSeries(path.stem, values, labels, train_end,
                          f"UCR anomaly archive {match.group(1)}, {match.group(2)}")
