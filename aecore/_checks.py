"""Argument and input checks shared by the package: one clear ValueError per mistake."""

from __future__ import annotations

import numbers

import numpy as np


def positive_int(name: str, value) -> int:
    """Return `value` as an int, or raise naming the argument and the value received."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")
    return int(value)


def positive_ints(name: str, values) -> tuple[int, ...]:
    """A tuple of positive ints (an empty tuple is allowed)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a sequence of positive integers, got {name}={values!r}.")
    values = tuple(values)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(
                f"{name} must contain positive integers only, got {name}={values!r}.")
    return tuple(int(v) for v in values)


def shape(name: str, value) -> tuple[int, ...]:
    """A non-empty sample shape such as (784,) or (28, 28, 1)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        dims = positive_ints(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a tuple of positive integers such as (28, 28, 1), "
                         f"got {name}={value!r}.") from None
    if not dims:
        raise ValueError(f"{name} must not be empty, got {name}={value!r}.")
    return dims


def probability(name: str, value, *, closed_low=True, closed_high=False) -> float:
    """A float in [0, 1) by default."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {name}={value!r}.")
    low_ok = value >= 0 if closed_low else value > 0
    high_ok = value <= 1 if closed_high else value < 1
    if not (low_ok and high_ok):
        interval = ("[" if closed_low else "(") + "0, 1" + ("]" if closed_high else ")")
        raise ValueError(f"{name} must be in {interval}, got {name}={value!r}.")
    return float(value)


def non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {name}={value!r}.")
    return float(value)


def batch(name: str, x, sample_shape: tuple[int, ...], unit_range=False) -> np.ndarray:
    """A finite float32 batch whose samples have `sample_shape`; with `unit_range`, values
    must lie in [0, 1] (raw 0-255 pixels are the usual mistake)."""
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {x.dtype}.")
    if x.shape[1:] != tuple(sample_shape):
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, sample_shape))}) "
                         f"for this model, got {x.shape}.")
    x = x.astype("float32", copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or clip the data first.")
    if unit_range and x.size and (x.min() < 0 or x.max() > 1):
        hint = " Raw pixels? Divide by 255, as load_dataset does." if x.max() > 1.5 else ""
        raise ValueError(f"{name} must lie in [0, 1] for this model (its output is a sigmoid), "
                         f"got values from {x.min():g} to {x.max():g}.{hint}")
    return x


def conv_shapes(input_shape, filters, name="input_shape"):
    """Check a (height, width, channels) shape for `len(filters)` stride-2 halvings; return
    ``(shape, filters, smallest map)``."""
    input_shape = shape(name, input_shape)
    filters = positive_ints("filters", filters)
    if not filters:
        raise ValueError(f"filters must name at least one layer, got filters={filters!r}.")
    factor = 2 ** len(filters)
    if len(input_shape) != 3 or input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"{name} must be (height, width, channels) with height and width divisible "
            f"by 2**len(filters) = {factor}, got {name}={input_shape!r}.")
    smallest = (input_shape[0] // factor, input_shape[1] // factor, filters[-1])
    return input_shape, filters, smallest


def matrix(name, a, width=None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-d array (rows, dims), got shape "
                         f"{a.shape}.")
    if width is not None and a.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns like the other argument, got "
                         f"shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return a


def unit_rows(name, a) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name} has rows of length 0, which have no direction "
                         f"(rows {np.flatnonzero(norms[:, 0] == 0)[:5].tolist()}...).")
    return a / norms


def binary_labels(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be a 1-D array of 0 (normal) and 1 (anomaly).")
    return labels.astype(np.int64)


def series(name, x):
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) or x.ndim not in (1, 2):
        raise ValueError(f"{name} must be a numeric series of shape (n,) or (n, channels), "
                         f"got shape {x.shape} and dtype {x.dtype}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return x
