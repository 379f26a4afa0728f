"""Exercises: the reader implements a chapter's key idea, and a checker says whether it is right.

Every exercise is a pair with one naming scheme:

- ``check_<idea>(fn)`` runs the reader's function ``fn`` on inputs chosen to catch the
  usual mistakes and compares it with aecore's own implementation or a closed form. When
  every case passes it prints ``correct: ...`` and returns True. Otherwise it prints one
  sentence, ``wrong: ...``, naming the mistake and where to look (a shape, a scale, the
  failing input) and returns False. It never raises: an exception inside ``fn`` is
  reported in the same one-sentence form.
- ``solution_<idea>`` is the worked solution, with the same signature, written the way
  the exercise asks (NumPy, or `keras.ops` where the idea belongs in a model). Each checker
  accepts its solution (tested), and ``check_<idea>.solution`` points to it. A notebook's
  solution dropdown prints it and runs the check::

      import inspect
      from aecore import exercises
      print(inspect.getsource(exercises.solution_psnr))
      exercises.check_psnr(exercises.solution_psnr)

=====  ============================  ==================================================
ch.    checker                       the reader writes
=====  ============================  ==================================================
1      `check_reconstruction_error`  ``fn(x, x_hat) -> (n,)``, the MSE of each image
2      `check_param_count`           ``fn(n_inputs, hidden_units, latent_dim) -> int``
3      `check_conv_output_size`      ``fn(size, kernel_size, stride, padding) -> int``
4      `check_masking_noise`         ``fn(x, fraction, rng) -> x_noisy``
5      `check_kl_sparsity`           ``fn(z, target) -> scalar``
6      `check_reparameterize`        ``fn(z_mean, z_log_var, eps) -> z``
6      `check_gaussian_kl`           ``fn(z_mean, z_log_var) -> (batch,)``
7      `check_pca_reconstruction`    ``fn(x_train, x, k) -> x_hat``
8      `check_auroc`                 ``fn(y_true, scores) -> float``, via ranks
9      `check_psnr`                  ``fn(x, x_hat, data_range=1.0) -> (n,)``
10     `check_standardize`           ``fn(train_features, features) -> standardised``
11     `check_interpolate`           ``fn(z_a, z_b, steps) -> (steps, d)``
12     `check_nearest_code`          ``fn(h, codebook) -> indices``
12     `check_straight_through`      ``fn(h, e) -> z``: value e, gradient to h
13     `check_patch_mask`            ``fn(n_patches, mask_ratio, rng) -> mask``
14     `check_top_k`                 ``fn(h, k) -> z``
15     `check_point_adjust`          ``fn(scores, labels) -> adjusted``
=====  ============================  ==================================================

`catalogue` lists every exercise with the mistakes its checker names (for a chapter's
closing note). The inputs a checker passes are NumPy arrays; ``fn`` may return NumPy arrays,
Python numbers or tensors of the Keras backend. The checkers run on any backend;
`check_straight_through` takes gradients with the backend's own tool (TensorFlow's
``GradientTape``, ``jax.vjp``).
"""

from __future__ import annotations

import functools
import math
import traceback
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
from keras import ops
from scipy.stats import rankdata
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from aecore.anomaly import point_adjust
from aecore.losses import gaussian_kl, kl_sparsity
from aecore.metrics import mse_per_sample, psnr
from aecore.models import (Autoencoder, TopKCode, VectorQuantizer, dense_decoder,
                           dense_encoder)
from aecore.models.masking import n_visible
from scipy.stats import rankdata


# == the shared core ===========================================================================
class _Wrong(Exception):
    """The reader's answer is wrong; the exception's text is the sentence to print."""


@dataclass(frozen=True)
class Mistake:
    """A usual wrong answer: its short `name` (listed by `catalogue`), the `message` a
    checker prints, and optionally `fn`, the mistaken computation with the reader's
    signature (a checker names the mistake when the reader's output equals fn's)."""

    name: str
    message: str
    fn: Callable | None = None


@dataclass(frozen=True)
class _Case:
    args: tuple
    kwargs: dict
    label: str

    def copies(self):
        """Fresh copies of the arguments (a function may change its inputs in place)."""
        return ([a.copy() if isinstance(a, np.ndarray) else a for a in self.args],
                dict(self.kwargs))


class _Text(str):
    """Text shown as it is in a case's description (such as ``np.random.default_rng(0)``)."""

    def __repr__(self):
        return str(self)


def _describe(name, value):
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.size <= 16:
            text = np.array2string(value, precision=3, separator=", ", max_line_width=10**4)
            return f"{name}={text}"
        return f"{name} of shape {value.shape}"
    return f"{name}={value!r}"


def _case(names, *args, **kwargs) -> _Case:
    """A case: the arguments passed to the reader's function, described for messages."""
    parts = [_describe(n, a) for n, a in zip(names, args)]
    parts += [_describe(n, v) for n, v in kwargs.items()]
    label = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return _Case(tuple(args), kwargs, "on " + label)


def _raised(fn, error, where, during=""):
    """One sentence for an exception raised inside the reader's function."""
    text = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
    line = ""
    code = getattr(fn, "__code__", None)
    if code is not None:
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if f.filename == code.co_filename]
        if frames and frames[-1].line:
            line = f" at line {frames[-1].lineno} (`{frames[-1].line.strip()}`)"
    return (f"your function raised {type(error).__name__}{': ' + text if text else ''}"
            f"{line}{during} ({where})")


def _array(out, where) -> np.ndarray:
    """The reader's output as a NumPy array, or a `_Wrong` saying why it is not one."""
    if out is None:
        raise _Wrong(f"your function returned None: end it with `return ...` ({where})")
    try:
        out = ops.convert_to_numpy(out) if ops.is_tensor(out) else np.asarray(out)
    except Exception:  # ragged lists, objects
        raise _Wrong(f"your function returned a {type(out).__name__} that is not an array "
                     f"of numbers ({where})") from None
    if out.dtype == bool:
        return out.astype(np.int64)
    if not np.issubdtype(out.dtype, np.number):
        kind = "text" if out.dtype.kind in "US" else f"{out.dtype} values"
        raise _Wrong(f"your function returned {kind}, not numbers ({where})")
    return out


def _invoke(fn, args, kwargs, where) -> np.ndarray:
    """Run the reader's function: its output as a NumPy array, or a `_Wrong`."""
    try:
        with np.errstate(all="ignore"):
            out = fn(*args, **kwargs)
    except Exception as error:
        raise _Wrong(_raised(fn, error, where)) from None
    return _array(out, where)


def _call(fn, case: _Case) -> np.ndarray:
    """Run the reader's function on fresh copies of a case's arguments."""
    args, kwargs = case.copies()
    return _invoke(fn, args, kwargs, case.label)


def _same(a, b, rtol, atol) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _answer(mistake, case):
    """A mistake's answer on a case (None if it cannot be computed there)."""
    args, kwargs = case.copies()
    try:
        with np.errstate(all="ignore"):
            return np.asarray(mistake.fn(*args, **kwargs), dtype=np.float64)
    except Exception:
        return None


def _matches(got, answer, rtol, atol) -> bool:
    got = np.asarray(got, dtype=np.float64)
    if answer is None:
        return False
    if answer.shape == () and got.shape == (1,):
        answer = answer.reshape(1)
    return _same(got, answer, rtol, atol)


def _mistaken(mistakes, case, got, want, rtol, atol, others=()):
    """The mistake whose answer on `case` is the reader's `got` (and not the right one);
    when several are, the first that also gives the reader's answers on `others`
    (``(case, got)`` pairs)."""
    want = np.asarray(want, dtype=np.float64)
    found = []
    for mistake in mistakes:
        answer = None if mistake.fn is None else _answer(mistake, case)
        if _matches(got, answer, rtol, atol) and not _same(answer, want, rtol, atol):
            found.append(mistake)
    for mistake in found:
        if all(_matches(g, _answer(mistake, c), rtol, atol) for c, g in others):
            return mistake
    return found[0] if found else None


def _at(index) -> str:
    return str(index[0]) if len(index) == 1 else str(tuple(int(i) for i in index))


def _expect(got, want, case, mistakes=(), *, rtol=1e-4, atol=1e-6, what="the answer",
            shape_hint="", factors=(), others=()):
    """Compare the reader's output `got` with the right answer `want` on `case`; raise a
    `_Wrong` with the most specific diagnosis: a known mistake, a non-finite value, a
    shape, a constant factor (`factors`: ``(value, message)`` pairs for factors with a
    known cause), a constant offset, or the first wrong value."""
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if want.shape == () and got.size == 1:
        got = got.reshape(())
    if _same(got, want, rtol, atol) and np.all(np.isfinite(got) == np.isfinite(want)):
        return
    where = case.label
    mistake = _mistaken(mistakes, case, got, want, rtol, atol, others)
    if mistake is not None:
        raise _Wrong(f"{mistake.message} ({where})")
    if np.all(np.isfinite(want)) and not np.all(np.isfinite(got)):
        kind = "NaN" if np.isnan(got).any() else "an infinite value"
        index = _at(np.argwhere(~np.isfinite(got))[0]) if got.ndim else ""
        at = f" at index {index}" if index else ""
        raise _Wrong(f"{what} contains {kind}{at}: look for a division by 0 or a log of 0 "
                     f"({where})")
    if got.shape != want.shape:
        if got.ndim == 0:
            problem = f"{what} is a single number where shape {want.shape} belongs"
        elif want.ndim == 0:
            problem = f"{what} has shape {got.shape} where a single number belongs"
        elif got.shape == want.shape[::-1]:
            problem = f"{what} has shape {got.shape}, the transpose of {want.shape}"
        elif got.size == want.size:
            problem = (f"{what} has the right number of values but shape {got.shape}, "
                       f"not {want.shape}")
        else:
            problem = f"{what} has shape {got.shape}, expected {want.shape}"
        raise _Wrong(f"{problem}{shape_hint} ({where})")
    nonzero = np.abs(want) > 10 * atol
    if nonzero.any() and np.allclose(got[~nonzero], 0, atol=10 * atol):
        ratio = got[nonzero] / want[nonzero]
        factor = float(np.median(ratio))
        if np.allclose(ratio, factor, rtol=1e-3, atol=0) and not np.isclose(factor, 1, 1e-3):
            for value, message in factors:
                if np.isclose(factor, value, rtol=1e-3):
                    raise _Wrong(f"{message} ({where})")
            if want.size > 1 and np.isclose(factor, -1, rtol=1e-3):
                raise _Wrong(f"{what} has the wrong sign ({where})")
            if want.size > 1:  # one number is always a multiple of another
                raise _Wrong(f"{what} is {factor:.4g} times the right value: look for a "
                             f"mean where a sum belongs (or the reverse), or a missing "
                             f"constant factor ({where})")
    offset = got - want
    if want.size > 1 and np.allclose(offset, offset.flat[0], rtol=0, atol=10 * atol):
        raise _Wrong(f"{what} is off by {float(offset.flat[0]):+.4g} everywhere ({where})")
    if want.ndim == 0:
        off = ": off by one" if atol == 0 and abs(float(got) - float(want)) == 1 else ""
        raise _Wrong(f"{what} is {float(got):.6g} where {float(want):.6g} is right{off} "
                     f"({where})")
    index = tuple(np.argwhere(~np.isclose(got, want, rtol=rtol, atol=atol))[0])
    raise _Wrong(f"{what} is wrong at index {_at(index)}: {got[index]:.6g} where "
                 f"{want[index]:.6g} is right ({where})")


def _check_all(fn, cases, wants, mistakes=(), *, prepare=None, **options):
    """Run the reader's function on every case (until one raises), then `_expect` each
    answer in turn; the answers on all cases tell apart mistakes that agree on one."""
    answers = []
    for case in cases:
        try:
            got = _call(fn, case)
            answers.append((case, got if prepare is None else prepare(got, case)))
        except _Wrong as wrong:
            answers.append((case, wrong))
            break
    answered = [(c, g) for c, g in answers if not isinstance(g, _Wrong)]
    for (case, got), want in zip(answers, wants):
        if isinstance(got, _Wrong):
            raise got
        _expect(got, want, case, mistakes, others=answered, **options)


def _unchanged(name, original, after, where):
    """Raise if the reader's function changed the input array `name` in place."""
    if not np.array_equal(original, after, equal_nan=True):
        raise _Wrong(f"your function changes its input `{name}` in place: work on a copy "
                     f"({where})")


_EXERCISES: list[Callable] = []


def _exercise(chapter: int, solution: Callable, mistakes):
    """Make a checker from a body ``body(fn) -> success text`` that raises `_Wrong`."""
    def wrap(body):
        @functools.wraps(body)
        def check(fn) -> bool:
            if not callable(fn):
                print(f"wrong: pass your function itself, such as {body.__name__}(my_"
                      f"function), not a {type(fn).__name__}.")
                return False
            try:
                success = body(fn)
            except _Wrong as wrong:
                print(f"wrong: {wrong}.")
                return False
            except Exception as error:  # an answer the checker cannot read
                print(f"wrong: the checker could not read your answer "
                      f"({type(error).__name__}: {error}).")
                return False
            print(f"correct: {success}.")
            return True

        check.chapter, check.solution, check.mistakes = chapter, solution, tuple(mistakes)
        _EXERCISES.append(check)
        return check
    return wrap


def catalogue() -> list[dict]:
    """Every exercise: ``{"chapter", "checker", "solution", "mistakes"}`` (the mistakes'
    short names), in chapter order."""
    return [{"chapter": c.chapter, "checker": c.__name__, "solution": c.solution.__name__,
             "mistakes": [m.name for m in c.mistakes]}
            for c in sorted(_EXERCISES, key=lambda c: c.chapter)]


def _rng(seed):
    return np.random.default_rng(seed)


def _per_row(a):
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


# == chapter 1: the basic autoencoder ==========================================================
def solution_reconstruction_error(x, x_hat):
    """The mean squared error of each image: ``(n, ...)`` -> ``(n,)``."""
    squared = (np.asarray(x) - np.asarray(x_hat)) ** 2
    return squared.reshape(len(squared), -1).mean(axis=1)   # mean over each image's pixels


_RECONSTRUCTION_MISTAKES = (
    Mistake("a single mean over the whole batch",
            "it is one mean over the whole batch: compute one error per image, the mean "
            "over that image's pixels (every axis but the first)",
            lambda x, x_hat: np.mean((x - x_hat) ** 2)),
    Mistake("a sum over pixels",
            "it sums each image's squared errors where their mean belongs (too large by "
            "the number of pixels)",
            lambda x, x_hat: _per_row((x - x_hat) ** 2).sum(axis=1)),
    Mistake("the batch axis reduced",
            "it averages over the images (axis 0) instead of over each image's pixels: "
            "reduce every axis but the first",
            lambda x, x_hat: np.mean((x - x_hat) ** 2, axis=0)),
    Mistake("only the last axis reduced",
            "it averages over the last axis only: for images (n, h, w, c) average over "
            "axes 1, 2 and 3, or flatten each image first",
            lambda x, x_hat: np.mean((x - x_hat) ** 2, axis=-1)),
    Mistake("absolute instead of squared errors",
            "it averages absolute differences: square them",
            lambda x, x_hat: _per_row(np.abs(x - x_hat)).mean(axis=1)),
    Mistake("the root of the mean (RMSE)",
            "it takes the square root of the mean (the RMSE): the error here is the mean "
            "squared error itself",
            lambda x, x_hat: np.sqrt(_per_row((x - x_hat) ** 2).mean(axis=1))),
)


@_exercise(1, solution_reconstruction_error, _RECONSTRUCTION_MISTAKES)
def check_reconstruction_error(fn):
    """Check ``fn(x, x_hat) -> errors``: the mean squared error of each image.

    Args:
        fn: takes images ``x`` and their reconstructions ``x_hat``, two arrays of shape
            ``(n, ...)`` (such as ``(n, 28, 28, 1)``), and returns an array of shape
            ``(n,)``: for each image, the mean over its pixels of ``(x - x_hat) ** 2``.

    Returns:
        True if ``fn`` agrees with `aecore.metrics.mse_per_sample` on every case.
    """

    rng = _rng(1)
    cases = []
    for shape in [(3, 4, 4, 1), (5, 12)]:
        x = rng.random(shape, dtype=np.float32)
        spread = np.linspace(0.05, 0.4, shape[0]).reshape(-1, *[1] * (len(shape) - 1))
        x_hat = np.clip(x + spread * rng.standard_normal(shape), 0, 1).astype(np.float32)
        cases.append(_case(("x", "x_hat"), x, x_hat))
    _check_all(fn, cases, [mse_per_sample(*c.args) for c in cases], _RECONSTRUCTION_MISTAKES,
               what="the error", shape_hint=": return one value per image")
    return "one mean squared error per image, as aecore.metrics.mse_per_sample gives"


# == chapter 2: the deep autoencoder ===========================================================
def solution_param_count(n_inputs, hidden_units, latent_dim):
    """Weights and biases of a mirrored dense autoencoder
    ``n_inputs -> *hidden_units -> latent_dim -> *reversed(hidden_units) -> n_inputs``."""
    widths = [n_inputs, *hidden_units, latent_dim, *reversed(hidden_units), n_inputs]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))   # a kernel a x b, b biases


def _widths(n_inputs, hidden_units, latent_dim):
    return [n_inputs, *hidden_units, latent_dim, *reversed(hidden_units), n_inputs]


def _count(widths, biases=True):
    return sum(a * b + (b if biases else 0) for a, b in zip(widths, widths[1:]))


_PARAM_MISTAKES = (
    Mistake("biases forgotten",
            "it counts the kernels only: every dense layer also has one bias per output "
            "unit",
            lambda n, h, d: _count(_widths(n, h, d), biases=False)),
    Mistake("the output layer forgotten",
            "it leaves out the decoder's last layer, the one back to the n_inputs outputs",
            lambda n, h, d: _count(_widths(n, h, d)[:-1])),
    Mistake("decoder not mirrored",
            "its decoder takes the hidden layers in the encoder's order: the decoder "
            "mirrors the encoder, so its widths are reversed(hidden_units)",
            lambda n, h, d: _count([n, *h, d, *h, n])),
    Mistake("the encoder only",
            "it counts the encoder only: the decoder has its own weights",
            lambda n, h, d: _count([n, *h, d])),
)


@functools.lru_cache(maxsize=None)
def _model_count(n_inputs, hidden_units, latent_dim) -> int:

    model = Autoencoder(dense_encoder((n_inputs,), latent_dim, hidden_units),
                        dense_decoder(latent_dim, (n_inputs,), hidden_units))
    return int(model.count_params())


def _integer(got, case, what):
    """The reader's output as one int, or a `_Wrong`."""
    if got.size != 1:
        raise _Wrong(f"{what} has shape {got.shape}: return one whole number ({case.label})")
    value = got.reshape(()).item()
    if not float(value).is_integer():
        raise _Wrong(f"{what} is {value}, not a whole number: use floor division // or "
                     f"math.ceil ({case.label})")
    return int(value)


@_exercise(2, solution_param_count, _PARAM_MISTAKES)
def check_param_count(fn):
    """Check ``fn(n_inputs, hidden_units, latent_dim) -> int``: the number of weights of a
    mirrored dense autoencoder.

    Args:
        fn: takes the input size (784 for flattened Fashion-MNIST), the encoder's hidden
            widths ``hidden_units`` (a tuple, input side first, possibly empty) and the code
            size, and returns the number of trainable numbers (kernels and biases) of
            ``n_inputs -> *hidden_units -> latent_dim -> *reversed(hidden_units) ->
            n_inputs``, the model that ``dense_encoder``/``dense_decoder`` build.

    Returns:
        True if ``fn`` gives ``count_params()`` of the aecore model on every case.
    """
    settings = [(784, (512, 256), 32), (784, (), 32), (10, (8, 4), 2), (6, (5,), 3)]
    cases = [_case(("n_inputs", "hidden_units", "latent_dim"), *s) for s in settings]
    _check_all(fn, cases, [_model_count(*s) for s in settings], _PARAM_MISTAKES,
               prepare=lambda got, case: _integer(got, case, "the count"), rtol=0, atol=0,
               what="the count")
    return ("the count matches count_params() of aecore's dense autoencoders, 784-512-256-"
            "32 included")


# == chapter 3: the convolutional autoencoder ==================================================
def solution_conv_output_size(size, kernel_size, stride, padding):
    """The output size of a strided convolution (one spatial axis)."""
    if padding == "same":       # padded just enough: one output per stride step
        return math.ceil(size / stride)
    return (size - kernel_size) // stride + 1      # "valid": positions that fit


def _conv_size(size, kernel_size, stride, padding) -> int:
    layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding=padding)
    return int(layer.compute_output_shape((None, size, size, 1))[1])


def _valid(s, k, st):
    return (s - k) // st + 1


_CONV_MISTAKES = (
    Mistake("'same' treated as 'valid'",
            "it treats padding='same' like 'valid': 'same' pads the input, so the output "
            "is ceil(size / stride) whatever the kernel",
            lambda s, k, st, p: _valid(s, k, st)),
    Mistake("floor instead of ceil for 'same'",
            "for padding='same' it rounds size / stride down: the output is "
            "ceil(size / stride) (7 / 2 gives 4)",
            lambda s, k, st, p: s // st if p == "same" else _valid(s, k, st)),
    Mistake("'valid' without the + 1",
            "for padding='valid' it forgets the + 1: the kernel fits at "
            "(size - kernel_size) // stride + 1 positions",
            lambda s, k, st, p: math.ceil(s / st) if p == "same" else (s - k) // st),
    Mistake("ceil instead of floor for 'valid'",
            "for padding='valid' it rounds (size - kernel_size) / stride up: a kernel "
            "position that does not fit is dropped, so round down (//)",
            lambda s, k, st, p: (math.ceil(s / st) if p == "same"
                                 else math.ceil((s - k) / st) + 1)),
    Mistake("'same' as kernel_size // 2 padding on each side",
            "for padding='same' it pads kernel_size // 2 on both sides: Keras pads only "
            "what ceil(size / stride) outputs need, which differs for even kernels",
            lambda s, k, st, p: ((s + 2 * (k // 2) - k) // st + 1 if p == "same"
                                 else _valid(s, k, st))),
    Mistake("stride ignored for 'same'",
            "for padding='same' it ignores the stride: the output is ceil(size / stride)",
            lambda s, k, st, p: s if p == "same" else _valid(s, k, st)),
)


@_exercise(3, solution_conv_output_size, _CONV_MISTAKES)
def check_conv_output_size(fn):
    """Check ``fn(size, kernel_size, stride, padding) -> int``: the output size of a
    convolution along one spatial axis.

    Args:
        fn: takes the input's height (or width) ``size``, the kernel's ``kernel_size``, the
            ``stride`` and ``padding`` (``"same"`` or ``"valid"``, as Keras' ``Conv2D``
            takes them), and returns the output's height.

    Returns:
        True if ``fn`` agrees with the output shapes of ``keras.layers.Conv2D``.
    """
    settings = [(28, 3, 2, "same"), (28, 3, 2, "valid"), (7, 3, 2, "same"), (7, 3, 2, "valid"),
                (28, 5, 1, "valid"), (28, 3, 1, "same"), (28, 4, 2, "same"), (9, 4, 3, "valid"),
                (10, 3, 3, "same"), (9, 2, 2, "valid")]
    cases = [_case(("size", "kernel_size", "stride", "padding"), *s) for s in settings]
    _check_all(fn, cases, [_conv_size(*s) for s in settings], _CONV_MISTAKES,
               prepare=lambda got, case: _integer(got, case, "the size"), rtol=0, atol=0,
               what="the size")
    return "output sizes as keras.layers.Conv2D gives them, 'same' and 'valid'"


# == chapter 4: the denoising autoencoder ======================================================
def solution_masking_noise(x, fraction, rng):
    """Masking noise: set a random `fraction` of the values of `x` to 0, each value
    independently, drawn from the NumPy generator `rng`."""
    keep = rng.random(np.shape(x)) >= fraction       # True with probability 1 - fraction
    return np.where(keep, x, 0).astype(np.asarray(x).dtype)


_MASKING_MISTAKES = (
    Mistake("the fraction kept instead of zeroed",
            "it zeroes about 1 - fraction of the values and keeps the fraction: `fraction` "
            "is the share set to 0"),
    Mistake("the same mask for every image",
            "every image gets the same mask: draw one random number per value, "
            "rng.random(x.shape), not per pixel position"),
    Mistake("kept values scaled",
            "it changes the values it keeps: masking noise sets some values to 0 and "
            "leaves the others exactly as they were"),
    Mistake("whole images zeroed", "it zeroes whole images: decide for every value"),
    Mistake("rng not used", "it does not draw from `rng`"),
    Mistake("x changed in place", "it changes x in place"),
)


@_exercise(4, solution_masking_noise, _MASKING_MISTAKES)
def check_masking_noise(fn):
    """Check ``fn(x, fraction, rng) -> x_noisy``: masking noise, the corruption of
    ``Corruption("masking", fraction)``.

    Args:
        fn: takes images ``x`` (``(n, ...)``, values in [0, 1]), the `fraction` of values
            to zero and a NumPy generator ``rng`` (``np.random.default_rng(seed)``) to draw
            from, and returns an array shaped like ``x`` where each value is 0 with
            probability `fraction`, independently, and unchanged otherwise. ``x`` itself
            must not change.

    The checks are statistical (the fraction zeroed within 5 standard deviations of the
    binomial's) and repeatable: the same seed gives the same answer.

    Returns:
        True if every check passes.
    """
    x = _rng(4).uniform(0.1, 1.0, (60, 8, 8, 1)).astype(np.float32)  # no zeros of its own
    for fraction in (0.3, 0.75, 0.0):
        where = _case(("x", "fraction", "rng"), x, fraction,
                      _Text("np.random.default_rng(0)")).label
        x_in = x.copy()
        out = _invoke(fn, (x_in, fraction, _rng(0)), {}, where)
        _unchanged("x", x, x_in, where)
        if out.shape != x.shape:
            raise _Wrong(f"the noisy images have shape {out.shape}, not x's {x.shape} "
                         f"({where})")
        out = out.astype(np.float64)
        kept = out != 0
        if not np.allclose(out[kept], x[kept], rtol=1e-6, atol=1e-7):
            ratio = out[kept] / x[kept]
            factor = float(np.median(ratio))
            if np.allclose(ratio, factor, rtol=1e-4):
                how = ("by 1 / (1 - fraction), as dropout does" if
                       np.isclose(factor, 1 / (1 - fraction), rtol=1e-4) else
                       "by 1 - fraction" if np.isclose(factor, 1 - fraction, rtol=1e-4)
                       else f"by {factor:.4g}")
                raise _Wrong(f"it scales the values it keeps {how}: masking noise sets some "
                             f"values to 0 and leaves the others exactly as they were "
                             f"({where})")
            raise _Wrong(f"it changes values it should keep: masking noise sets some values "
                         f"to 0 and leaves the others exactly as they were ({where})")
        masks = kept.reshape(len(x), -1)
        if fraction > 0 and (masks == masks[0]).all():
            raise _Wrong(f"every image gets the same mask: draw one random number per "
                         f"value, rng.random(x.shape), not one per pixel position ({where})")
        if fraction > 0 and (masks.all(axis=1) | ~masks.any(axis=1)).all():
            raise _Wrong(f"it zeroes whole images: decide for every value, "
                         f"rng.random(x.shape) ({where})")
        zeroed = 1 - kept.mean()
        tolerance = 5 * math.sqrt(max(fraction * (1 - fraction), 0.01) / x.size)
        if abs(zeroed - fraction) > tolerance:
            if abs(zeroed - (1 - fraction)) <= tolerance:
                raise _Wrong(f"it zeroes {zeroed:.0%} of the values, about 1 - fraction: "
                             f"`fraction` is the share set to 0, not the share kept "
                             f"({where})")
            raise _Wrong(f"it zeroes {zeroed:.1%} of the values where about {fraction:.0%} "
                         f"belong ({where})")
        if fraction > 0:
            again = _invoke(fn, (x.copy(), fraction, _rng(0)), {}, where)
            if not np.array_equal(again, out.astype(again.dtype)):
                raise _Wrong(f"two runs with the same seed give different masks: draw the "
                             f"mask from `rng`, not from np.random or another generator "
                             f"({where})")
            other = _invoke(fn, (x.copy(), fraction, _rng(1)), {}, where)
            if np.array_equal(other != 0, kept):
                raise _Wrong(f"another seed gives the same mask: draw the mask from `rng` "
                             f"({where})")
    return ("each value zeroed independently with probability `fraction`, the others "
            "unchanged, as Corruption('masking') does")


# == chapter 5: the sparse autoencoder =========================================================
def solution_kl_sparsity(z, target):
    """``sum_j KL(rho || rho_hat_j)``, rho_hat_j the mean of code unit j over the batch."""
    rho, rho_hat = target, ops.mean(z, axis=0)        # (units,): one mean per unit
    kl = (rho * ops.log(rho / rho_hat)
          + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat)))
    return ops.sum(kl)                                # summed over the units


def _kl(rho, rho_hat):
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


_SPARSITY_MISTAKES = (
    Mistake("rho_hat averaged over units instead of over the batch",
            "its rho_hat averages each example over the units: rho_hat_j is unit j's mean "
            "activation over the batch (axis 0)",
            lambda z, t: np.sum(_kl(t, z.mean(axis=1)))),
    Mistake("the KL terms swapped, KL(rho_hat || rho)",
            "it computes KL(rho_hat || rho), the two distributions swapped: the penalty is "
            "rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat))",
            lambda z, t: np.sum(_kl(z.mean(axis=0), t))),
    Mistake("a mean over units where a sum belongs",
            "it averages the KL over the units where their sum belongs (too small by the "
            "number of units)",
            lambda z, t: np.mean(_kl(t, z.mean(axis=0)))),
    Mistake("the KL of every activation, averaged",
            "it takes the KL of every single activation and averages: average each unit "
            "over the batch first (rho_hat), then take one KL per unit",
            lambda z, t: np.sum(np.mean(_kl(t, z), axis=0))),
    Mistake("the (1 - rho) term missing",
            "it leaves out the (1 - rho) log((1 - rho) / (1 - rho_hat)) term",
            lambda z, t: np.sum(t * np.log(t / z.mean(axis=0)))),
)


@_exercise(5, solution_kl_sparsity, _SPARSITY_MISTAKES)
def check_kl_sparsity(fn):
    """Check ``fn(z, target) -> penalty``: the KL sparsity penalty of a sparse autoencoder.

    Args:
        fn: takes codes ``z`` of shape ``(batch, units)``, every value in (0, 1) (a sigmoid
            code), and the target activation ``target`` (rho, such as 0.05), and returns one
            number: ``sum_j KL(rho || rho_hat_j)``, where ``rho_hat_j`` is unit j's mean over
            the batch (NumPy or `keras.ops`).

    Returns:
        True if ``fn`` agrees with `aecore.losses.kl_sparsity`.
    """

    rng = _rng(5)
    cases = []
    for (batch, units), target in [((12, 5), 0.05), ((7, 9), 0.2)]:
        logits = rng.normal(np.linspace(-3, 1, units), 1.0, (batch, units))
        z = (1 / (1 + np.exp(-logits))).astype(np.float32)
        cases.append(_case(("z", "target"), z, target))
    wants = [ops.convert_to_numpy(kl_sparsity(*c.args)) for c in cases]
    _check_all(fn, cases, wants, _SPARSITY_MISTAKES, what="the penalty",
               shape_hint=": sum the per-unit KLs into one number")
    return "the KL sparsity penalty as aecore.losses.kl_sparsity computes it"


# == chapter 6: the variational autoencoder ====================================================
def solution_reparameterize(z_mean, z_log_var, eps):
    """A draw from N(z_mean, exp(z_log_var)) as a differentiable function of its
    parameters: ``z = z_mean + sigma * eps``."""
    return z_mean + ops.exp(0.5 * z_log_var) * eps    # sigma = exp(log(sigma^2) / 2)


_REPARAMETERIZE_MISTAKES = (
    Mistake("exp(z_log_var) instead of exp(z_log_var / 2)",
            "it scales eps by exp(z_log_var), the variance: the standard deviation is "
            "exp(z_log_var / 2)",
            lambda m, v, e: m + np.exp(v) * e),
    Mistake("z_log_var used as the standard deviation",
            "it scales eps by z_log_var itself, a log-variance: the standard deviation is "
            "exp(z_log_var / 2)",
            lambda m, v, e: m + v * e),
    Mistake("the sign in the exponent",
            "it scales eps by exp(-z_log_var / 2), the inverse of the standard deviation: "
            "drop the minus sign",
            lambda m, v, e: m + np.exp(-v / 2) * e),
    Mistake("eps not scaled",
            "it adds eps without scaling it by the standard deviation exp(z_log_var / 2)",
            lambda m, v, e: m + e),
    Mistake("eps ignored", "it ignores eps: z = z_mean + exp(z_log_var / 2) * eps",
            lambda m, v, e: m),
)


@_exercise(6, solution_reparameterize, _REPARAMETERIZE_MISTAKES)
def check_reparameterize(fn):
    """Check ``fn(z_mean, z_log_var, eps) -> z``: the reparameterisation trick.

    Args:
        fn: takes the encoder's ``z_mean`` and ``z_log_var`` (the log of the variance),
            both ``(batch, latent_dim)``, and standard normal noise ``eps`` of the same
            shape, and returns ``z`` of that shape, a draw from N(z_mean, exp(z_log_var))
            (NumPy or `keras.ops`).

    Returns:
        True if ``fn`` computes ``z_mean + exp(z_log_var / 2) * eps``, what
        `aecore.models.GaussianCode` does while training.
    """
    rng = _rng(6)
    cases = []
    for shape in [(4, 3), (2, 5)]:
        z_mean = rng.normal(0, 1, shape).astype(np.float32)
        z_log_var = rng.uniform(-2, 1.5, shape).astype(np.float32)
        eps = rng.normal(0, 1, shape).astype(np.float32)
        cases.append(_case(("z_mean", "z_log_var", "eps"), z_mean, z_log_var, eps))
    wants = [m + np.exp(0.5 * v.astype(np.float64)) * e for m, v, e in
             (c.args for c in cases)]
    _check_all(fn, cases, wants, _REPARAMETERIZE_MISTAKES, what="z")
    return "z = z_mean + exp(z_log_var / 2) * eps, GaussianCode's draw"


def solution_gaussian_kl(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) of each example, summed over the latent
    dimensions: ``(batch, latent_dim) -> (batch,)``."""
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var),
                          axis=-1)


def _gkl(m, v):
    return -0.5 * (1 + v - m ** 2 - np.exp(v))


_GAUSSIAN_KL_MISTAKES = (
    Mistake("a mean over latent dimensions where a sum belongs",
            "it averages over the latent dimensions where the sum belongs (too small by "
            "latent_dim), which silently rescales beta",
            lambda m, v: _gkl(m, v).mean(axis=-1)),
    Mistake("the sign",
            "it has the wrong sign: KL = -1/2 sum(1 + z_log_var - z_mean^2 - "
            "exp(z_log_var)) is never negative",
            lambda m, v: -_gkl(m, v).sum(axis=-1)),
    Mistake("the factor 1/2 missing",
            "it is twice the KL: the factor in front is -1/2",
            lambda m, v: 2 * _gkl(m, v).sum(axis=-1)),
    Mistake("the standard deviation where the variance belongs",
            "it uses exp(z_log_var / 2), the standard deviation, where the variance "
            "exp(z_log_var) belongs",
            lambda m, v: (-0.5 * (1 + v - m ** 2 - np.exp(v / 2))).sum(axis=-1)),
    Mistake("one number for the whole batch",
            "it returns one number for the batch: keep one KL per example (sum over the "
            "latent dimensions, axis -1, only)",
            lambda m, v: _gkl(m, v).sum(axis=-1).mean()),
    Mistake("summed over the batch axis",
            "it sums over the batch axis (0): sum over the latent dimensions (axis -1)",
            lambda m, v: _gkl(m, v).sum(axis=0)),
)


@_exercise(6, solution_gaussian_kl, _GAUSSIAN_KL_MISTAKES)
def check_gaussian_kl(fn):
    """Check ``fn(z_mean, z_log_var) -> kl``: the ELBO's KL term, one value per example.

    Args:
        fn: takes ``z_mean`` and ``z_log_var``, both ``(batch, latent_dim)``, and returns
            ``(batch,)``: KL(N(z_mean, exp(z_log_var)) || N(0, I)) of each example, summed
            over the latent dimensions (NumPy or `keras.ops`).

    Returns:
        True if ``fn`` agrees with `aecore.losses.gaussian_kl`.
    """

    rng = _rng(66)
    cases = [_case(("z_mean", "z_log_var"), rng.normal(0, 1, shape).astype(np.float32),
                   rng.uniform(-2, 1, shape).astype(np.float32))
             for shape in [(5, 4), (3, 7)]]
    wants = [ops.convert_to_numpy(gaussian_kl(*c.args)) for c in cases]
    _check_all(fn, cases, wants, _GAUSSIAN_KL_MISTAKES, what="the KL",
               shape_hint=": return one KL per example, shape (batch,)")
    return "the KL term as aecore.losses.gaussian_kl computes it, one value per example"


# == chapter 7: dimensionality reduction =======================================================
def solution_pca_reconstruction(x_train, x, k):
    """Reconstruct the rows of `x` from their first `k` principal components, the
    components and the mean fitted on `x_train` (both ``(samples, features)``)."""
    mean = x_train.mean(axis=0)                          # centre on the training mean
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    w = vt[:k].T                                          # (features, k): rows of vt
    return mean + (x - mean) @ w @ w.T


def _pca_parts(x_train, centre=True):
    mean = x_train.mean(axis=0) if centre else np.zeros(x_train.shape[1])
    return mean, np.linalg.svd(x_train - mean, full_matrices=False)[2]


def _project(x, mean, w):
    return mean + (x - mean) @ w @ w.T


_PCA_MISTAKES = (
    Mistake("no centring",
            "it does not centre the data: subtract x_train's mean before the SVD and "
            "before projecting, and add it back",
            lambda xt, x, k: _project(x, 0, _pca_parts(xt, centre=False)[1][:k].T)),
    Mistake("centred on x's own mean",
            "it centres x on its own mean: use the mean of x_train, fitted with the "
            "components",
            lambda xt, x, k: _project(x, x.mean(axis=0), _pca_parts(xt)[1][:k].T)),
    Mistake("components from the wrong axis",
            "it takes the components from the columns of vt: the principal directions are "
            "its rows (vt[:k]), or the columns of the covariance's eigenvectors",
            lambda xt, x, k: _project(x, xt.mean(axis=0), _pca_parts(xt)[1][:, :k])),
    Mistake("the k directions of least variance",
            "it keeps the k directions of least variance: np.linalg.eigh sorts eigenvalues "
            "in ascending order, so take the last k eigenvectors",
            lambda xt, x, k: _project(x, xt.mean(axis=0),
                                      np.linalg.eigh(np.cov(xt.T))[1][:, :k])),
    Mistake("k + 1 components",
            "it uses k + 1 components: off by one",
            lambda xt, x, k: _project(x, xt.mean(axis=0), _pca_parts(xt)[1][:k + 1].T)),
    Mistake("k - 1 components",
            "it uses k - 1 components: off by one",
            lambda xt, x, k: _project(x, xt.mean(axis=0), _pca_parts(xt)[1][:k - 1].T)),
)


@_exercise(7, solution_pca_reconstruction, _PCA_MISTAKES)
def check_pca_reconstruction(fn):
    """Check ``fn(x_train, x, k) -> x_hat``: PCA's reconstruction with k components.

    Args:
        fn: takes training rows ``x_train`` ``(n, d)``, rows to reconstruct ``x`` ``(m,
            d)`` and the number of components ``k``; fits the mean and the top-k principal
            directions on ``x_train`` and returns the reconstruction of ``x``, ``(m, d)``.

    Returns:
        True if ``fn`` agrees with scikit-learn's ``PCA(k).fit(x_train)`` followed by
        ``inverse_transform(transform(x))``.
    """

    rng = _rng(7)
    d = 8
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    scales = np.array([3.0, 2.5, 2.0, 1.5, 1.0, 0.6, 0.3, 0.1])
    x_train = rng.normal(size=(60, d)) * scales @ rotation + 5.0
    x = rng.normal(size=(10, d)) * scales @ rotation + 6.0
    def not_codes(got, case):
        k = case.args[2]
        if got.shape == (len(x), k):
            raise _Wrong(f"it returns the {k} coefficients of each row, shape {got.shape}: "
                         f"map them back with the components and add the mean ({case.label})")
        return got

    cases, wants = [], []
    for k in (3, 1):
        cases.append(_case(("x_train", "x", "k"), x_train, x, k))
        pca = PCA(n_components=k, svd_solver="full").fit(x_train)
        wants.append(pca.inverse_transform(pca.transform(x)))
    _check_all(fn, cases, wants, _PCA_MISTAKES, prepare=not_codes, rtol=1e-5, atol=1e-6,
               what="x_hat")
    return "PCA reconstructions as scikit-learn's PCA gives them, centred on x_train's mean"


# == chapter 8: anomaly detection ==============================================================
def solution_auroc(y_true, scores):
    """The AUROC from ranks (Mann-Whitney U): the probability that an anomaly (label 1)
    scores higher than a normal sample (label 0), a tie counting 1/2."""

    y_true = np.asarray(y_true)
    ranks = rankdata(scores)                   # 1..n; tied scores share their mean rank
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    u = ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2   # pairs an anomaly wins
    return u / (n_pos * n_neg)


def _pairs(y, s, tie):
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((pos > neg) + tie * (pos == neg)))


def _ordinal_auroc(y, s):
    ranks = np.argsort(np.argsort(s, kind="stable")) + 1
    n_pos = y.sum()
    return (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))


_AUROC_MISTAKES = (
    Mistake("normal class taken as positive (1 - AUROC)",
            "it is 1 - AUROC: the anomalies (y_true == 1) are the positive class, and a "
            "higher score means more anomalous",
            lambda y, s: 1 - _pairs(y, s, 0.5)),
    Mistake("ties counted as wins",
            "it counts a tie between an anomaly and a normal sample as a win: a tie counts "
            "1/2 (tied scores share their average rank, scipy.stats.rankdata)",
            lambda y, s: _pairs(y, s, 1.0)),
    Mistake("ties counted as losses",
            "it counts a tie between an anomaly and a normal sample as a loss: a tie "
            "counts 1/2 (tied scores share their average rank, scipy.stats.rankdata)",
            lambda y, s: _pairs(y, s, 0.0)),
    Mistake("ties ranked by position",
            "it ranks tied scores by their position (argsort of argsort): tied scores must "
            "share their average rank (scipy.stats.rankdata), so a tie counts 1/2",
            _ordinal_auroc),
    Mistake("the smallest rank sum not subtracted",
            "it forgets to subtract n_pos (n_pos + 1) / 2, the smallest rank sum the "
            "anomalies can have, before dividing by n_pos * n_neg",
            lambda y, s: rankdata(s)[y == 1].sum() / (y.sum() * (len(y) - y.sum()))),
    Mistake("U not divided by n_pos * n_neg",
            "it is the U statistic itself: divide by n_pos * n_neg, the number of "
            "(anomaly, normal) pairs",
            lambda y, s: _pairs(y, s, 0.5) * y.sum() * (len(y) - y.sum())),
)


def _accuracies(y, s):
    thresholds = np.concatenate([np.unique(s), [np.mean(s), np.median(s), 0.5]])
    return [np.mean((s > t) == y) for t in thresholds] + \
           [np.mean((s >= t) == y) for t in thresholds]


@_exercise(8, solution_auroc, _AUROC_MISTAKES + (
        Mistake("an accuracy at a threshold instead",
                "it looks like an accuracy at a threshold: the AUROC compares every "
                "(anomaly, normal) pair and needs no threshold"),))
def check_auroc(fn):
    """Check ``fn(y_true, scores) -> auroc``: the area under the ROC curve, from ranks.

    Args:
        fn: takes labels ``y_true`` ``(n,)`` (1 for an anomaly, 0 for a normal sample) and
            anomaly scores ``(n,)`` (higher = more anomalous), and returns one number: the
            fraction of (anomaly, normal) pairs where the anomaly scores higher, a tie
            counting 1/2. Compute it from the ranks of the scores.

    Returns:
        True if ``fn`` agrees with ``sklearn.metrics.roc_auc_score``, ties included.
    """

    rng = _rng(8)
    y1 = np.array([0, 1, 0, 0, 1, 1, 0, 0, 1, 0])
    s1 = rng.permutation(10).astype(np.float64) / 10 + 0.03
    y2 = np.array([0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0])
    s2 = np.array([0.2, 0.4, 0.4, 0.4, 0.1, 0.7, 0.7, 0.2, 0.9, 0.2, 0.4])
    y3 = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0])
    s3 = np.array([3, 0, 1, 2, 2, 1, 0, 2, 3, 1, 0, 0, 1, 1, 2], dtype=np.float64)
    for y, s in [(y1, s1), (y2, s2), (y3, s3)]:
        case = _case(("y_true", "scores"), y, s)
        got = _call(fn, case)
        want = roc_auc_score(y, s)
        if got.size == 1 and not np.isclose(got.item(), want, rtol=1e-6, atol=1e-9):
            low, high = _pairs(y, s, 0.0), _pairs(y, s, 1.0)
            mistake = _mistaken(_AUROC_MISTAKES, case, got.reshape(()), np.float64(want),
                                1e-6, 1e-9)
            if mistake is None and any(np.isclose(got.item(), a) for a in _accuracies(y, s)):
                raise _Wrong(f"it looks like an accuracy at a threshold: the AUROC compares "
                             f"every (anomaly, normal) pair and needs no threshold "
                             f"({case.label})")
            if mistake is None and low < high and low - 1e-9 <= got.item() <= high + 1e-9:
                raise _Wrong(f"it is right without ties but not with them: a tie between "
                             f"an anomaly and a normal sample counts 1/2 (tied scores share "
                             f"their average rank, scipy.stats.rankdata) ({case.label})")
        _expect(got, want, case, _AUROC_MISTAKES, rtol=1e-6, atol=1e-9, what="the AUROC")
    return "the AUROC as sklearn.metrics.roc_auc_score gives it, ties counting 1/2"


# == chapter 9: image denoising ================================================================
def solution_psnr(x, x_hat, data_range=1.0):
    """Peak signal-to-noise ratio of each image in dB: ``10 log10(data_range^2 / MSE)``."""
    squared = (np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)) ** 2
    mse = squared.reshape(len(squared), -1).mean(axis=1)    # one MSE per image
    return 10 * np.log10(data_range ** 2 / mse)


def _mse(x, x_hat):
    return _per_row((x - x_hat) ** 2).mean(axis=1)


_PSNR_MISTAKES = (
    Mistake("log instead of log10",
            "it uses the natural log: PSNR is in decibels, 10 log10(data_range^2 / MSE)",
            lambda x, y, data_range=1.0: 10 * np.log(data_range ** 2 / _mse(x, y))),
    Mistake("MSE over the whole batch",
            "it computes one MSE over the whole batch: compute one MSE per image, then its "
            "PSNR",
            lambda x, y, data_range=1.0: np.full(len(x), 10 * np.log10(
                data_range ** 2 / np.mean((x - y) ** 2)))),
    Mistake("one PSNR for the whole batch",
            "it returns one PSNR for the whole batch: compute one MSE per image, then its "
            "PSNR",
            lambda x, y, data_range=1.0: 10 * np.log10(data_range ** 2
                                                       / np.mean((x - y) ** 2))),
    Mistake("20 log10 of the MSE",
            "it takes 20 log10 with the MSE: PSNR is 10 log10(data_range^2 / MSE), or "
            "20 log10(data_range / RMSE)",
            lambda x, y, data_range=1.0: 20 * np.log10(data_range / _mse(x, y))),
    Mistake("20 log10 of data_range^2 / MSE",
            "it takes 20 log10 of data_range^2 / MSE: with the MSE the factor is 10 "
            "(20 goes with the RMSE)",
            lambda x, y, data_range=1.0: 20 * np.log10(data_range ** 2 / _mse(x, y))),
    Mistake("the ratio inverted",
            "it inverts the ratio: PSNR is 10 log10(data_range^2 / MSE), higher for a "
            "better reconstruction",
            lambda x, y, data_range=1.0: 10 * np.log10(_mse(x, y) / data_range ** 2)),
    Mistake("data_range not squared",
            "it does not square data_range: PSNR is 10 log10(data_range^2 / MSE)",
            lambda x, y, data_range=1.0: 10 * np.log10(data_range / _mse(x, y))),
    Mistake("data_range ignored",
            "it ignores data_range: PSNR is 10 log10(data_range^2 / MSE), and pixels in "
            "0-255 have data_range=255",
            lambda x, y, data_range=1.0: 10 * np.log10(1 / _mse(x, y))),
    Mistake("a sum over pixels where the mean belongs",
            "it sums the squared errors over each image where their mean (the MSE) belongs",
            lambda x, y, data_range=1.0: 10 * np.log10(
                data_range ** 2 / _per_row((x - y) ** 2).sum(axis=1))),
)


@_exercise(9, solution_psnr, _PSNR_MISTAKES)
def check_psnr(fn):
    """Check ``fn(x, x_hat, data_range=1.0) -> psnr``: the PSNR of each image, in dB.

    Args:
        fn: takes clean images ``x`` and their reconstructions ``x_hat``, both ``(n,
            ...)``, and the range of the pixel values ``data_range`` (1.0 for [0, 1], 255
            for 0-255), and returns ``(n,)``: ``10 log10(data_range^2 / MSE)`` with each
            image's own MSE.

    Returns:
        True if ``fn`` agrees with `aecore.metrics.psnr`, default and ``data_range=255``.
    """

    rng = _rng(9)
    x = rng.random((4, 5, 5, 1), dtype=np.float32)
    sigma = np.array([0.02, 0.05, 0.1, 0.2]).reshape(-1, 1, 1, 1)
    x_hat = np.clip(x + sigma * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    cases = [_case(("x", "x_hat"), x, x_hat),
             _case(("x", "x_hat"), 255 * x, 255 * x_hat, data_range=255.0)]
    _check_all(fn, cases, [psnr(*c.args, **c.kwargs) for c in cases], _PSNR_MISTAKES,
               what="the PSNR", shape_hint=": return one PSNR per image",
               factors=[(math.log(10), _PSNR_MISTAKES[0].message),
                        (2.0, _PSNR_MISTAKES[4].message)])
    return "one PSNR per image in dB, as aecore.metrics.psnr gives it"


# == chapter 10: feature extraction ============================================================
def solution_standardize(train_features, features):
    """Standardise `features` with the mean and standard deviation of each feature over
    `train_features`, as ``StandardScaler().fit(train_features).transform(features)``."""
    mean = train_features.mean(axis=0)
    std = train_features.std(axis=0)                # population std (ddof=0)
    std = np.where(std > 1e-12, std, 1.0)           # a constant feature: centred only
    return (features - mean) / std


_STANDARDIZE_MISTAKES = (
    Mistake("statistics of `features` itself",
            "it uses the mean and std of `features` itself: use those of the training "
            "features, so that every set is standardised the same way",
            lambda t, f: (f - f.mean(0)) / np.where(f.std(0) > 1e-12, f.std(0), 1)),
    Mistake("divided by the variance",
            "it divides by the variance: divide by the standard deviation",
            lambda t, f: (f - t.mean(0)) / np.where(t.var(0) > 1e-12, t.var(0), 1)),
    Mistake("the sample std (ddof=1)",
            "it uses the sample standard deviation (ddof=1): StandardScaler uses the "
            "population one (ddof=0, NumPy's default)",
            lambda t, f: (f - t.mean(0)) / np.where(t.std(0) > 1e-12, t.std(0, ddof=1), 1)),
    Mistake("not centred",
            "it does not subtract the training mean",
            lambda t, f: f / np.where(t.std(0) > 1e-12, t.std(0), 1)),
    Mistake("each sample standardised",
            "it standardises each sample over its features (axis 1): standardise each "
            "feature over the samples (axis 0)",
            lambda t, f: (f - f.mean(1, keepdims=True)) / f.std(1, keepdims=True)),
    Mistake("constant features give NaN",
            "a feature that is constant in train_features has std 0: StandardScaler (which "
            "aecore's linear_probe uses) divides such a feature by 1, so it is only centred"),
)


@_exercise(10, solution_standardize, _STANDARDIZE_MISTAKES)
def check_standardize(fn):
    """Check ``fn(train_features, features) -> standardised``: the standardisation a
    linear probe's features get.

    Args:
        fn: takes the (unlabelled) training features ``(n, d)`` and features to transform
            ``(m, d)``, and returns ``(m, d)``: each feature minus its mean over
            ``train_features``, divided by its standard deviation there (a feature that is
            constant in ``train_features`` is only centred).

    Returns:
        True if ``fn`` agrees with ``sklearn.preprocessing.StandardScaler``, which
        `aecore.probes.linear_probe` fits on all training features.
    """

    rng = _rng(10)
    d, constant = 5, 3
    train = rng.normal(np.arange(d), np.linspace(0.5, 3, d), (20, d))
    train[:, constant] = 2.0
    features = rng.normal(np.arange(d) + 1.0, 2.0, (7, d))
    case = _case(("train_features", "features"), train, features)
    got = _call(fn, case)
    want = StandardScaler().fit(train).transform(features)
    if got.shape == want.shape:
        column = got[:, constant]
        if not np.all(np.isfinite(column)) or np.abs(column).max() > 1e3:
            how = ("gives NaN or inf" if not np.all(np.isfinite(column))
                   else f"reaches {np.abs(column).max():.3g}")
            raise _Wrong(f"feature {constant} is constant in train_features (std 0), and "
                         f"dividing by its std {how}: StandardScaler (which aecore's "
                         f"linear_probe uses) divides such a feature by 1, so it is only "
                         f"centred ({case.label})")
    _expect(got, want, case, _STANDARDIZE_MISTAKES, rtol=1e-5, atol=1e-6,
            what="the standardised features")
    return ("standardised with the training features' statistics, constant features "
            "centred only, as StandardScaler does")


# == chapter 11: generation ====================================================================
def solution_interpolate(z_a, z_b, steps):
    """`steps` codes evenly spaced on the line from `z_a` to `z_b`, both ends included:
    ``(d,), (d,) -> (steps, d)``."""
    t = np.linspace(0.0, 1.0, steps)[:, None]       # (steps, 1): 0, ..., 1
    return (1 - t) * z_a + t * z_b


def _line(z_a, z_b, t):
    return z_a + np.asarray(t)[:, None] * (z_b - z_a)


_INTERPOLATE_MISTAKES = (
    Mistake("endpoints excluded",
            "it leaves out the two ends: the first code must be z_a and the last z_b "
            "(np.linspace(0, 1, steps) includes both)",
            lambda a, b, n: _line(a, b, np.linspace(0, 1, n + 2)[1:-1])),
    Mistake("stops short of z_b",
            "it stops short of z_b: the last code must be z_b itself (np.linspace includes "
            "its end point; np.arange does not)",
            lambda a, b, n: _line(a, b, np.arange(n) / n)),
    Mistake("reversed order",
            "it goes from z_b to z_a: start at z_a",
            lambda a, b, n: _line(b, a, np.linspace(0, 1, n))),
    Mistake("steps + 1 codes",
            "it returns steps + 1 codes: `steps` counts every code, both ends included "
            "(off by one)",
            lambda a, b, n: _line(a, b, np.linspace(0, 1, n + 1))),
    Mistake("steps - 1 codes",
            "it returns steps - 1 codes: `steps` counts every code, both ends included "
            "(off by one)",
            lambda a, b, n: _line(a, b, np.linspace(0, 1, n - 1))),
)


@_exercise(11, solution_interpolate, _INTERPOLATE_MISTAKES)
def check_interpolate(fn):
    """Check ``fn(z_a, z_b, steps) -> codes``: linear interpolation between two codes.

    Args:
        fn: takes two codes ``z_a`` and ``z_b`` of shape ``(d,)`` and a number of codes
            ``steps`` (2 or more), and returns ``(steps, d)``: evenly spaced codes from
            ``z_a`` (the first row) to ``z_b`` (the last row).

    Returns:
        True if ``fn`` agrees with ``z_a + t (z_b - z_a)``, ``t = np.linspace(0, 1,
        steps)``.
    """
    rng = _rng(11)
    cases = [_case(("z_a", "z_b", "steps"), rng.normal(size=d).astype(np.float32),
                   rng.normal(size=d).astype(np.float32), steps)
             for d, steps in [(3, 5), (4, 2), (6, 8)]]
    wants = [_line(a.astype(np.float64), b.astype(np.float64), np.linspace(0, 1, n))
             for a, b, n in (c.args for c in cases)]
    _check_all(fn, cases, wants, _INTERPOLATE_MISTAKES, what="the codes",
               shape_hint=": one row per step, (steps, d)")
    return "steps evenly spaced codes from z_a to z_b, both ends included"


# == chapter 12: vector quantisation ===========================================================
def solution_nearest_code(h, codebook):
    """The index of the nearest codebook vector of each vector of `h`: ``(..., D)`` and
    ``(K, D)`` -> ``(...)``."""
    differences = h[..., None, :] - codebook                # (..., K, D)
    distances = ops.sum(differences ** 2, axis=-1)          # (..., K): squared distances
    return ops.argmin(distances, axis=-1)


def _distances(h, codebook):
    return ((h[..., None, :] - codebook) ** 2).sum(axis=-1)


_NEAREST_MISTAKES = (
    Mistake("argmax instead of argmin",
            "it picks the farthest codebook vector (argmax): the nearest is the argmin of "
            "the distances",
            lambda h, c: np.argmax(_distances(h, c), axis=-1)),
    Mistake("the largest dot product",
            "it picks the largest dot product h . e, the nearest only when every codebook "
            "vector has the same length: use ||h - e||^2 = ||h||^2 - 2 h . e + ||e||^2",
            lambda h, c: np.argmax(h @ c.T, axis=-1)),
    Mistake("distances over the wrong axis",
            "it sums the squared differences over the codebook axis: sum over each "
            "vector's D numbers (the last axis) to get one distance per codebook entry",
            lambda h, c: np.argmin(((h[..., None, :] - c) ** 2).sum(axis=-2), axis=-1)),
    Mistake("argmin over the wrong axis",
            "it takes the argmin over the positions: take it over the codebook entries, "
            "the last axis of the (..., K) distances",
            lambda h, c: np.argmin(_distances(h.reshape(-1, h.shape[-1]), c), axis=0)),
)


@_exercise(12, solution_nearest_code, _NEAREST_MISTAKES)
def check_nearest_code(fn):
    """Check ``fn(h, codebook) -> indices``: the nearest-codebook lookup of a VQ-VAE.

    Args:
        fn: takes encoder outputs ``h`` of shape ``(..., D)`` (a batch of vectors ``(n,
            D)``, or a grid ``(n, 7, 7, D)``) and a ``codebook`` ``(K, D)``, and returns
            integer indices of shape ``h.shape[:-1]``: for each vector, the index of the
            codebook vector nearest to it in Euclidean distance (NumPy or `keras.ops`).

    Returns:
        True if ``fn`` agrees with `aecore.models.VectorQuantizer`'s ``indices``.
    """

    rng = _rng(12)
    k, d = 5, 3
    codebook = (rng.normal(size=(k, d)) * np.array([[0.3], [2.5], [1.0], [0.6], [1.8]])
                ).astype(np.float32)                     # lengths differ: dot != distance
    quantizer = VectorQuantizer(k, d)
    quantizer.codebook.assign(codebook)
    cases = [_case(("h", "codebook"), rng.normal(size=shape).astype(np.float32), codebook)
             for shape in [(7, d), (2, 3, 2, d)]]
    _check_all(fn, cases, [quantizer.indices(c.args[0]) for c in cases], _NEAREST_MISTAKES,
               rtol=0, atol=0, what="the index array", shape_hint=": one index per vector, "
               "h.shape[:-1] (reshape if you flattened h)")
    return "the nearest codebook entries, as VectorQuantizer.indices finds them"


def solution_straight_through(h, e):
    """The straight-through estimator: a tensor whose value is `e` and whose gradient
    with respect to `h` is the identity (and 0 with respect to `e`)."""
    return h + ops.stop_gradient(e - h)


def _gradients(fn, h, e, w):
    """``(dh, de)``: the gradients of ``sum(w * fn(h, e))``, taken with the backend's own
    tool; zeros where no gradient reaches an input."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        h_t, e_t = tf.constant(h), tf.constant(e)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(h_t)
            tape.watch(e_t)
            objective = tf.reduce_sum(tf.cast(fn(h_t, e_t), tf.float32) * w)
        grads = tape.gradient(objective, [h_t, e_t])
        return [np.zeros_like(h) if g is None else np.asarray(g) for g in grads]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        _, pullback = jax.vjp(lambda a, b: jnp.asarray(fn(a, b), jnp.float32),
                              jnp.asarray(h), jnp.asarray(e))
        return [np.asarray(g) for g in pullback(jnp.asarray(w))]
    raise ValueError(f"no gradient tool for the {backend} backend")


_STRAIGHT_THROUGH_MISTAKES = (
    Mistake("returns h",
            "its value is h: the forward value must be the codebook vector e",
            lambda h, e: h),
    Mistake("(h - e) inside the stop-gradient",
            "its value is 2h - e: the stop-gradient term is (e - h), so that h + (e - h) = e",
            lambda h, e: 2 * h - e),
    Mistake("no gradient to h (stop_gradient missing or misplaced)",
            "no gradient reaches h"),
    Mistake("gradient through e",
            "the gradient reaches e"),
)


@_exercise(12, solution_straight_through, _STRAIGHT_THROUGH_MISTAKES)
def check_straight_through(fn):
    """Check ``fn(h, e) -> z``: the straight-through estimator of a VQ-VAE.

    Args:
        fn: takes the encoder's output ``h`` and the nearest codebook vectors ``e`` (same
            shape), and returns ``z`` with the value of ``e`` whose gradient with respect
            to ``h`` is the identity and with respect to ``e`` is 0. Use `keras.ops`
            (``ops.stop_gradient``), so that the gradient can be taken.

    The value is checked on NumPy inputs; the gradients with the backend's own tool
    (TensorFlow's ``GradientTape``, ``jax.vjp``).

    Returns:
        True if the value and both gradients are right.
    """
    if keras.backend.backend() not in ("tensorflow", "jax"):
        raise _Wrong(f"this checker takes gradients on the TensorFlow and JAX backends, "
                     f"not on {keras.backend.backend()}")
    rng = _rng(120)
    for shape in [(4, 3), (2, 2, 2, 3)]:
        h = rng.normal(size=shape).astype(np.float32)
        e = rng.normal(size=shape).astype(np.float32)
        case = _case(("h", "e"), h, e)
        _expect(_call(fn, case), e, case, _STRAIGHT_THROUGH_MISTAKES, what="z")
        w = rng.normal(size=shape).astype(np.float32)
        try:
            dh, de = _gradients(fn, h, e, w)
        except Exception as error:
            raise _Wrong(_raised(fn, error, case.label, during=" while its gradient was "
                                 "taken: use keras.ops, not NumPy, so gradients can flow"))
        reaches_h, reaches_e = not np.allclose(dh, 0), not np.allclose(de, 0)
        if not reaches_h and reaches_e:
            raise _Wrong(f"the gradient flows into e and not into h: z = h + "
                         f"stop_gradient(e - h) has e's value and passes the gradient to h "
                         f"({case.label})")
        if not reaches_h:
            raise _Wrong(f"the value is right but no gradient reaches h: write z = h + "
                         f"stop_gradient(e - h) with keras.ops (NumPy hides the gradient) "
                         f"({case.label})")
        if reaches_e:
            raise _Wrong(f"the gradient also reaches e: the decoder's gradient must go to "
                         f"h only, z = h + stop_gradient(e - h) ({case.label})")
        if not np.allclose(dh, w, rtol=1e-5, atol=1e-6):
            raise _Wrong(f"the gradient with respect to h is not the identity: z = h + "
                         f"stop_gradient(e - h) passes it through unchanged ({case.label})")
    return ("the value is e, the gradient passes straight through to h and none reaches e "
            f"(checked on {keras.backend.backend()})")


# == chapter 13: the masked autoencoder ========================================================
def solution_patch_mask(n_patches, mask_ratio, rng):
    """A random mask over `n_patches` patches, 1 for a hidden patch: as many hidden as
    aecore's masked autoencoder hides, chosen uniformly at random with `rng`."""
    n_visible = max(1, int(n_patches * (1 - mask_ratio)))   # aecore.models.masking
    mask = np.zeros(n_patches, dtype=np.int64)
    mask[rng.permutation(n_patches)[n_visible:]] = 1         # the rest are hidden
    return mask


_PATCH_MISTAKES = (
    Mistake("the ratio kept instead of hidden",
            "it hides the number of patches to keep: mask_ratio is the fraction hidden, "
            "and 1 marks a hidden patch"),
    Mistake("off by one", "it hides one patch too many or too few"),
    Mistake("a random count", "the number hidden changes from draw to draw"),
    Mistake("not random", "the same patches every time, or rng not used"),
    Mistake("not uniform", "some patches are hidden more often than others"),
)


@_exercise(13, solution_patch_mask, _PATCH_MISTAKES)
def check_patch_mask(fn):
    """Check ``fn(n_patches, mask_ratio, rng) -> mask``: the random patch mask of a masked
    autoencoder.

    Args:
        fn: takes the number of patches, the fraction ``mask_ratio`` to hide and a NumPy
            generator ``rng`` (``np.random.default_rng(seed)``), and returns ``(n_patches,)``
            of 0 and 1, 1 for a hidden patch. Exactly ``n_patches - n_visible`` patches are
            hidden, ``n_visible = int(n_patches * (1 - mask_ratio))`` (at least 1), as in
            `aecore.models.masking.n_visible`: 37 of 49 at 0.75, ``round(0.75 * 49)``. Every
            patch is equally likely to be hidden, and the same seed gives the same mask.

    Returns:
        True if the counts match aecore's, the mask is drawn from ``rng`` and is uniform
        over the patches.
    """

    names = ("n_patches", "mask_ratio", "rng")

    def draw(n, ratio, seed):
        case = _case(names, n, ratio, _Text(f"np.random.default_rng({seed})"))
        out = _invoke(fn, (n, ratio, _rng(seed)), {}, case.label)
        if out.shape != (n,):
            raise _Wrong(f"the mask has shape {out.shape}: return one 0 or 1 per patch, "
                         f"shape ({n},) ({case.label})")
        if not np.isin(out, (0, 1)).all():
            raise _Wrong(f"the mask holds values other than 0 and 1 ({case.label})")
        return out.astype(np.int64), case

    for n, ratio in [(49, 0.75), (16, 0.75), (50, 0.6), (10, 0.3)]:
        hidden = n - n_visible(n, ratio)
        masks = [draw(n, ratio, seed) for seed in range(6)]
        counts = [int(m.sum()) for m, _ in masks]
        mask, case = masks[0]
        if len(set(counts)) > 1:
            raise _Wrong(f"the number hidden changes from draw to draw ({counts[:3]}...): "
                         f"hide exactly {hidden}, chosen with rng.permutation(n_patches) "
                         f"rather than a coin per patch ({case.label})")
        if counts[0] != hidden:
            if counts[0] == n - hidden:
                raise _Wrong(f"it hides {counts[0]} of {n} patches, the number to keep: "
                             f"mask_ratio is the fraction hidden, and 1 marks a hidden "
                             f"patch ({case.label})")
            off = "off by one, " if abs(counts[0] - hidden) == 1 else ""
            raise _Wrong(f"it hides {counts[0]} patches where {hidden} belong ({off}"
                         f"n_patches - int(n_patches * (1 - mask_ratio))) ({case.label})")
        if not np.array_equal(draw(n, ratio, 0)[0], mask):
            raise _Wrong(f"the same seed gives different masks: draw from `rng`, not from "
                         f"np.random ({case.label})")
        if all(np.array_equal(m, mask) for m, _ in masks):
            raise _Wrong(f"every seed gives the same mask: choose the hidden patches at "
                         f"random with `rng` ({case.label})")
    n, ratio, draws = 16, 0.75, 300
    frequency = np.mean([draw(n, ratio, 100 + s)[0] for s in range(draws)], axis=0)
    tolerance = 5 * math.sqrt(ratio * (1 - ratio) / draws)
    worst = int(np.argmax(np.abs(frequency - ratio)))
    if abs(frequency[worst] - ratio) > tolerance:
        raise _Wrong(f"patch {worst} is hidden in {frequency[worst]:.0%} of {draws} draws "
                     f"where about {ratio:.0%} is expected: every patch must be equally "
                     f"likely to be hidden (on n_patches={n}, mask_ratio={ratio})")
    return ("exactly as many patches hidden as aecore's masked autoencoder hides, chosen "
            "uniformly at random with rng")


# == chapter 14: sparse dictionary learning ====================================================
def solution_top_k(h, k):
    """TopK: keep the `k` largest values of each code (the last axis), set the others to
    0, then a ReLU."""
    values, _ = ops.top_k(h, k)                 # (..., k), largest first
    kth = values[..., -1:]                      # each code's k-th largest value
    return ops.relu(ops.where(h >= kth, h, 0.0))


def _keep_top(h, k, axis=-1, smallest=False, key=None):
    key = h if key is None else key
    order = np.argsort(key if smallest else -key, axis=axis)
    ranks = np.argsort(order, axis=axis)
    return np.where(ranks < k, h, 0.0)


_TOP_K_MISTAKES = (
    Mistake("no ReLU after the selection",
            "it keeps negative values among the k largest: apply a ReLU after the "
            "selection (a unit among the top k whose value is negative becomes 0)",
            lambda h, k: _keep_top(h, k)),
    Mistake("top-k over the batch axis",
            "it takes the k largest along the batch axis (axis 0): TopK keeps the k "
            "largest units of each code (the last axis)",
            lambda h, k: np.maximum(_keep_top(h, k, axis=0), 0)),
    Mistake("the k smallest kept",
            "it keeps the k smallest values: keep the k largest",
            lambda h, k: np.maximum(_keep_top(h, k, smallest=True), 0)),
    Mistake("chosen by magnitude",
            "it chooses by |h|: TopK keeps the k largest values, not the largest "
            "magnitudes",
            lambda h, k: np.maximum(_keep_top(h, k, key=np.abs(h)), 0)),
    Mistake("a ReLU without the selection",
            "it applies the ReLU but keeps more than k units: set all but the k largest "
            "values of each code to 0",
            lambda h, k: np.maximum(h, 0)),
)


@_exercise(14, solution_top_k, _TOP_K_MISTAKES)
def check_top_k(fn):
    """Check ``fn(h, k) -> z``: the TopK activation of a sparse autoencoder (Gao et al.
    2024).

    Args:
        fn: takes pre-activations ``h`` of shape ``(..., units)`` (a batch ``(n, units)``)
            and ``k``, and returns ``z`` of the same shape: in each code (the last axis)
            the ``k`` largest values kept, the others set to 0, then a ReLU (NumPy or
            `keras.ops`).

    Returns:
        True if ``fn`` agrees with `aecore.models.TopKCode`.
    """

    rng = _rng(14)
    h1 = rng.normal(size=(5, 8)).astype(np.float32)
    h1[0] = -np.abs(h1[0])
    h1[0, 2] = 0.7                      # one positive value: k = 3 keeps two negatives
    h1[1:, 5] = np.abs(h1[1:, 5]) + 0.1   # 4 positives in a unit: top-k per unit differs
    h2 = rng.normal(size=(2, 3, 6)).astype(np.float32)
    def not_values(got, case):
        h, k = case.args
        if got.shape == (*h.shape[:-1], k):
            raise _Wrong(f"it returns the k largest values, shape {got.shape}: put them "
                         f"back at their places in a code of zeros shaped like h "
                         f"({case.label})")
        return got

    cases = [_case(("h", "k"), h1, 3), _case(("h", "k"), h2, 2)]
    wants = [ops.convert_to_numpy(TopKCode(k)(h)) for h, k in (c.args for c in cases)]
    _check_all(fn, cases, wants, _TOP_K_MISTAKES, prepare=not_values, what="z",
               shape_hint=": z has h's shape")
    return "the k largest values of each code kept and rectified, as TopKCode does"


# == chapter 15: time-series anomalies =========================================================
def solution_point_adjust(scores, labels):
    """Point adjustment: every point of a labelled anomaly segment gets the segment's
    highest score; normal points keep theirs."""
    adjusted = np.array(scores, dtype=np.float64)            # a copy
    edges = np.diff(np.concatenate([[0], labels, [0]]))      # +1 at a start, -1 after an end
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for start, stop in zip(starts, stops):                   # stop is excluded
        adjusted[start:stop] = adjusted[start:stop].max()
    return adjusted


def _segments(labels):
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _adjust(scores, labels, reduce=np.max, first_only=False, end_shift=0, whole=False):
    out = np.array(scores, dtype=np.float64)
    segments = _segments(labels)
    for start, stop in segments[:1] if first_only else segments:
        end = min(len(out), stop + end_shift)            # where the reader writes
        source = scores[labels == 1] if whole else scores[start:max(stop, end)]
        out[start:end] = reduce(source)
    return out


_POINT_ADJUST_MISTAKES = (
    Mistake("the segment's mean instead of its max",
            "it gives a segment its mean score: point adjustment gives every point of a "
            "segment the segment's highest score",
            lambda s, l: _adjust(s, l, reduce=np.mean)),
    Mistake("only the first segment adjusted",
            "it adjusts the first segment only: loop over every anomalous segment",
            lambda s, l: _adjust(s, l, first_only=True)),
    Mistake("the highest score of all anomalies",
            "it gives every anomalous point the highest score of all anomalies: each "
            "segment gets its own maximum",
            lambda s, l: _adjust(s, l, whole=True)),
    Mistake("off by one past a segment's end",
            "it also changes the normal point right after each segment: a segment's stop "
            "index is excluded (off by one)",
            lambda s, l: _adjust(s, l, end_shift=1)),
    Mistake("a segment's last point left out",
            "it leaves each segment's last point unadjusted: off by one at the segment's "
            "end",
            lambda s, l: _adjust(s, l, end_shift=-1)),
    Mistake("normal points changed", "it changes normal points"),
    Mistake("scores changed in place", "it changes scores in place"),
)


@_exercise(15, solution_point_adjust, _POINT_ADJUST_MISTAKES)
def check_point_adjust(fn):
    """Check ``fn(scores, labels) -> adjusted``: point adjustment (Xu et al. 2018).

    Args:
        fn: takes anomaly scores ``(n,)`` of a series and its labels ``(n,)`` (1 on
            anomalous points, which come in segments of consecutive points), and returns
            ``(n,)``: every point of a segment gets the segment's highest score, and normal
            points keep their scores. ``scores`` itself must not change.

    Returns:
        True if ``fn`` agrees with `aecore.anomaly.point_adjust`.
    """

    rng = _rng(15)
    labels = np.zeros(30, dtype=np.int64)
    for start, stop in [(0, 3), (8, 12), (17, 18), (26, 30)]:   # at both ends, one point
        labels[start:stop] = 1
    scores = rng.random(30)
    case = _case(("scores", "labels"), scores, labels)
    args, _ = case.copies()
    got = _invoke(fn, args, {}, case.label)
    _unchanged("scores", scores, args[0], case.label)
    _unchanged("labels", labels, args[1], case.label)
    want = point_adjust(scores, labels)
    if got.shape == want.shape and not np.allclose(got, want):
        if _mistaken(_POINT_ADJUST_MISTAKES, case, got.astype(np.float64), want,
                     1e-6, 1e-9) is None:
            wrong = ~np.isclose(got, want)
            first = int(np.argmax(wrong))
            if not labels[wrong].any():
                raise _Wrong(f"it changes normal points (first at index {first}): they keep "
                             f"their scores ({case.label})")
            for start, stop in _segments(labels):
                if wrong[start:stop].any() and (start == 0 or stop == len(labels)):
                    side = "start" if start == 0 else "end"
                    raise _Wrong(f"the segment at the {side} of the series ({start}:{stop}) "
                                 f"is wrong: find segments with labels padded by a 0 on each "
                                 f"side, so one that touches an end is found too "
                                 f"({case.label})")
    _expect(got, want, case, _POINT_ADJUST_MISTAKES, rtol=1e-6, atol=1e-9,
            what="the adjusted scores")
    return "every segment at its highest score, normal points unchanged, as aecore.anomaly" \
           ".point_adjust gives"


__all__ = ["Mistake", "catalogue"] + [c.__name__ for c in _EXERCISES] + \
          [c.solution.__name__ for c in _EXERCISES]
