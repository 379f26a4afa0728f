"""The baselines every autoencoder is measured against, with the same care.

- `PCABaseline`: PCA with an autoencoder's interface. PCA with k components is the best
  *linear* autoencoder with a k-number code (Baldi & Hornik, 1989): `encode` gives the k
  principal coefficients, `decode` maps coefficients back to images, so a chapter scores it
  with exactly the code it uses for its models (``aecore.reconstruction_error(pca, x)``);
  `pca_fill` fills in hidden patches from the visible ones;
- `uniform_quantize`: a continuous code (PCA's, an autoencoder's) rounded to a number of bits;
- classical denoisers (`denoise`, `tune_denoiser`): non-local means, total variation, BM3D,
  and `debias_clipped` for their outputs on clipped Gaussian noise;
- anomaly scores that learn nothing: `knn_distance`; for time series the forecasters'
  residuals (`moving_average_residual`, `seasonal_residual`, with `estimate_period`) and the
  matrix profile (`matrix_profile`), whose peaks are discords.
"""

from __future__ import annotations

import bm3d
import numpy as np
from keras import ops
from scipy.special import ndtr
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from aecore import _checks
from aecore.metrics import psnr
from aecore.models.transformer import unpatchify


class PCABaseline:
    """scikit-learn's PCA on flattened samples, returning samples of the fitted shape.

    Args:
        latent_dim: the number of principal components k.
        seed: ``random_state`` of the (randomised) SVD.
        clip: clip reconstructions to the range of the training data (default). A linear
            reconstruction leaves [0, 1] for about a quarter of Fashion-MNIST's pixels at
            k = 32, while an autoencoder's sigmoid output cannot; clipping is the fair
            comparison, and it lowers PCA's error (by about 4 % at k = 32).

    Attributes:
        pca: the fitted `sklearn.decomposition.PCA` (``explained_variance_`` and so on).
        sample_shape: the shape of one training sample, set by `fit`.
        data_range: ``(min, max)`` of the training data, set by `fit`.

    The ``batch_size`` arguments are accepted for the autoencoders' interface and ignored:
    PCA is one matrix product.
    """

    def __init__(self, latent_dim, *, seed=0, clip=True):
        self.latent_dim = _checks.positive_int("latent_dim", latent_dim)
        self.pca = PCA(n_components=self.latent_dim, random_state=seed)
        self.clip = bool(clip)
        self.sample_shape = None
        self.data_range = None

    def fit(self, x) -> PCABaseline:
        """Fit the components on training samples ``x`` of shape ``(n, *sample_shape)``."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) <= self.latent_dim:
            raise ValueError(f"x must be a batch of more than latent_dim={self.latent_dim} "
                             f"samples, got shape {x.shape}.")
        x = _checks.batch("x", x, x.shape[1:])
        self.pca.fit(x.reshape(len(x), -1))
        self.sample_shape = x.shape[1:]
        self.data_range = (float(x.min()), float(x.max()))
        return self

    def _check_fitted(self):
        if self.sample_shape is None:
            raise ValueError("this PCABaseline is not fitted yet: call fit(x_train) first.")

    def encode(self, x, batch_size=None) -> np.ndarray:
        """Principal coefficients, shape ``(n, latent_dim)``."""
        self._check_fitted()
        x = _checks.batch("x", x, self.sample_shape)
        return self.pca.transform(x.reshape(len(x), -1))

    def decode(self, z, batch_size=None) -> np.ndarray:
        """Samples of shape ``(n, *sample_shape)`` from coefficients ``z`` (clipped to the
        training data's range unless ``clip=False``)."""
        self._check_fitted()
        z = _checks.batch("z", z, (self.latent_dim,))
        x_hat = self.pca.inverse_transform(z).reshape(len(z), *self.sample_shape)
        return np.clip(x_hat, *self.data_range) if self.clip else x_hat

    def reconstruct(self, x, batch_size=None, *, n_components=None) -> np.ndarray:
        """The projection of ``x`` onto the principal subspace, shaped like ``x`` (clipped
        to the training data's range unless ``clip=False``).

        `n_components` (at most `latent_dim`) projects onto the first that many components
        only: one fit with the largest k of a grid serves every smaller k, as when k is
        chosen on validation data (PCA's first k components do not depend on how many
        more were fitted)."""
        if n_components is None:
            return self.decode(self.encode(x))
        k = _checks.positive_int("n_components", n_components)
        if k > self.latent_dim:
            raise ValueError(f"n_components={k} exceeds the {self.latent_dim} components "
                             f"fitted.")
        z = self.encode(x)
        z[:, k:] = 0.0  # the coefficients of the later components, dropped
        return self.decode(z)

    def count_params(self) -> int:
        """Numbers stored by the model: the k basis vectors and the mean sample."""
        self._check_fitted()
        return int(self.pca.components_.size + self.pca.mean_.size)



def pca_fill(pca, x, mask, patch_size, n_components=None, ridge=1e-3) -> np.ndarray:
    """The linear baseline for filling in hidden patches (NumPy).

    For each image, the coefficients ``c`` of the first `n_components` principal directions
    that best explain its *visible* pixels (least squares with a small `ridge`,
    ``min ||W_v c - (x_v - mean_v)||^2 + ridge ||c||^2``) are decoded to a whole image,
    clipped to [0, 1]. ``pca`` is a fitted `aecore.baselines.PCABaseline` (or scikit-learn
    ``PCA``); ``mask`` ``(n, n_patches)`` is 1 where a patch is hidden. Returns images
    shaped like ``x``; only their hidden patches are a prediction.
    """
    pca = getattr(pca, "pca", pca)
    x = np.asarray(x, dtype=np.float64)
    components = np.asarray(pca.components_[:n_components], dtype=np.float64)  # (k, d)
    flat = x.reshape(len(x), -1)
    if flat.shape[1] != components.shape[1]:
        raise ValueError(f"x has {flat.shape[1]} values per sample, the PCA "
                         f"{components.shape[1]}.")
    ridge = _checks.non_negative("ridge", ridge)
    hidden = np.repeat(np.asarray(mask, dtype=np.float64)[..., None],
                       patch_size * patch_size * x.shape[-1], axis=-1)
    hidden = ops.convert_to_numpy(unpatchify(hidden.astype("float32"), patch_size,
                                             x.shape[1:])).reshape(len(x), -1) > 0
    centred = flat - pca.mean_
    out = np.empty_like(flat)
    eye = ridge * np.eye(len(components))
    for i in range(len(x)):
        w = components[:, ~hidden[i]]                                   # (k, visible)
        c = np.linalg.solve(w @ w.T + eye, w @ centred[i, ~hidden[i]])
        out[i] = pca.mean_ + c @ components
    return np.clip(out, 0.0, 1.0).reshape(x.shape).astype("float32")


def uniform_quantize(z, bits, low, high) -> np.ndarray:
    """Round each number of a continuous code to one of ``2**bits`` evenly spaced values.

    Values are clipped to ``[low, high]`` (scalars, or one per code dimension, e.g. the
    training codes' ``min(axis=0)`` and ``max(axis=0)``) and rounded to the nearest of
    ``low + i * (high - low) / (2**bits - 1)``, ``i = 0 .. 2**bits - 1``. Storing ``i``
    takes `bits` bits per number.
    """
    bits = _checks.positive_int("bits", bits)
    z = np.asarray(z, dtype="float64")
    low, high = np.asarray(low, dtype="float64"), np.asarray(high, dtype="float64")
    if np.any(high < low):
        raise ValueError("high must be at least low in every dimension.")
    steps = 2 ** bits - 1
    span = np.where(high > low, high - low, 1.0)
    i = np.round((np.clip(z, low, high) - low) / span * steps)
    return (low + i * (high - low) / steps).astype("float32")


# -- classical denoisers ----------------------------------------------------------------------
def _nl_means(image, h, noise_std):
    h, noise_std = h if isinstance(h, tuple) else (h, noise_std)  # (h, sigma): tuned together
    return denoise_nl_means(image, h=h, sigma=noise_std, patch_size=3, patch_distance=5,
                            fast_mode=True)


def _total_variation(image, weight, noise_std):
    return denoise_tv_chambolle(image, weight=weight)


def _bm3d(image, sigma_psd, noise_std):
    return bm3d.bm3d(image, sigma_psd=sigma_psd)


DENOISERS = {  # name -> (function of one image, the name of its tuned parameter)
    "non-local means": (_nl_means, "h"),           # scikit-image, Buades et al. 2005
    "total variation": (_total_variation, "weight"),  # scikit-image, Chambolle 2004
    "BM3D": (_bm3d, "sigma_psd"),                  # bm3d, Dabov et al. 2007
}


def denoise(images, method, value, *, noise_std=None) -> np.ndarray:
    """Denoise every image of ``(n, height, width)`` in [0, 1] with a classical method.

    Args:
        method: a key of `DENOISERS`: ``"non-local means"`` (`value` is its filtering
            strength h, and `noise_std` is passed as its sigma; or `value` is a pair
            ``(h, sigma)``, to tune both together), ``"total variation"`` (`value`:
            the weight) or ``"BM3D"`` (`value`: the noise level it assumes).

    BM3D takes a fraction of a second per 28 x 28 image (its compiled core runs its own
    threads, so it is not parallelised again here); the others take about a millisecond.

    Returns the outputs clipped to [0, 1], the range of the clean images.
    """
    if method not in DENOISERS:
        raise ValueError(f"method must be one of {sorted(DENOISERS)}, got {method!r}.")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, height, width), got shape {images.shape}.")
    if method == "BM3D" and min(images.shape[1:]) <= 8:  # its 8x8 blocks need room
        raise ValueError(f"BM3D needs images larger than 8 x 8 pixels, got {images.shape[1:]}.")
    function = DENOISERS[method][0]
    out = [function(image, value, noise_std) for image in images]
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)


def tune_denoiser(x_clean, x_noisy, method, grid, *, noise_std=None):
    """The value of `grid` with the best mean PSNR of `denoise` on (validation) images.

    Returns ``(best_value, {value: mean PSNR in dB})``.
    """
    if len(grid) == 0:
        raise ValueError("grid must hold at least one value to try.")
    scores = {v: float(psnr(x_clean, denoise(x_noisy, method, v, noise_std=noise_std)).mean())
              for v in grid}
    return max(scores, key=scores.get), scores


def debias_clipped(images, noise_std) -> np.ndarray:
    """Undo the bias of Gaussian noise clipped to [0, 1] in a denoiser's output.

    Noise of std `noise_std` clipped to [0, 1] is not zero-mean: a pixel of value x becomes
    ``clip(x + e, 0, 1)``, whose mean is ``m(x) = x (Phi(b) - Phi(a)) + s (phi(a) - phi(b))
    + 1 - Phi(b)`` with ``a = -x / s``, ``b = (1 - x) / s`` (about 0.12 on black pixels at
    s = 0.3). A denoiser built for zero-mean noise estimates ``m(x)``; this maps its output
    back through the inverse of the increasing function ``m`` (values below ``m(0)`` give 0,
    above ``m(1)`` give 1), the debias step of Foi (2009) for clipped observations.
    """
    s = float(noise_std)
    if s <= 0:
        return np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    x = np.linspace(0.0, 1.0, 2001)
    a, b = -x / s, (1.0 - x) / s
    pdf = lambda t: np.exp(-0.5 * t ** 2) / np.sqrt(2 * np.pi)  # noqa: E731
    m = x * (ndtr(b) - ndtr(a)) + s * (pdf(a) - pdf(b)) + 1.0 - ndtr(b)
    return np.interp(np.asarray(images, dtype=np.float64), m, x).astype(np.float32)


# -- anomaly scores that learn nothing --------------------------------------------------------
def knn_distance(x_fit, x, k=5) -> np.ndarray:
    """Anomaly score of each sample of `x`: its mean Euclidean distance to its `k` nearest
    samples of `x_fit` (the normal data), on flattened samples. A strong baseline that
    learns nothing: an image far from every normal image it resembles is unusual.
    """
    x_fit = np.asarray(x_fit, dtype=np.float32).reshape(len(x_fit), -1)
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    k = _checks.positive_int("k", k)
    if k > len(x_fit):
        raise ValueError(f"k={k} exceeds the {len(x_fit)} samples of x_fit.")
    if x.shape[1] != x_fit.shape[1]:
        raise ValueError(f"x and x_fit must have samples of the same size, got "
                         f"{x.shape[1]} and {x_fit.shape[1]} values.")
    distances, _ = NearestNeighbors(n_neighbors=k).fit(x_fit).kneighbors(x)
    return distances.mean(axis=1)


def moving_average_residual(x, window) -> np.ndarray:
    """Absolute error of forecasting each point by the mean of the `window` points before
    it. The first `window` points, which have no full history, get NaN."""
    x = _checks.series("x", x).astype(np.float64)
    window = _checks.positive_int("window", window)
    if x.ndim != 1 or window >= len(x):
        raise ValueError(f"x must be 1-D and longer than window={window}, got {x.shape}.")
    cumsum = np.concatenate([[0.0], np.cumsum(x)])
    forecast = (cumsum[window:-1] - cumsum[:-window - 1]) / window   # mean of x[t-w:t]
    return np.concatenate([np.full(window, np.nan), np.abs(x[window:] - forecast)])


def seasonal_residual(x, period, n_periods=1) -> np.ndarray:
    """Absolute error of forecasting each point by the mean of the points 1, 2, ...,
    `n_periods` periods before it (``n_periods=1``: the seasonal naive forecast). The
    first ``period * n_periods`` points get NaN."""
    x = _checks.series("x", x).astype(np.float64)
    period = _checks.positive_int("period", period)
    n_periods = _checks.positive_int("n_periods", n_periods)
    lag = period * n_periods
    if x.ndim != 1 or lag >= len(x):
        raise ValueError(f"x must be 1-D and longer than period * n_periods = {lag}, got "
                         f"{x.shape}.")
    forecast = np.mean([x[lag - k * period:len(x) - k * period]
                        for k in range(1, n_periods + 1)], axis=0)
    return np.concatenate([np.full(lag, np.nan), np.abs(x[lag:] - forecast)])


def matrix_profile(x, window, reference=None) -> np.ndarray:
    """The matrix profile of a series: for each window of `window` points of `x` (one
    starting at every point, ``len(x) - window + 1`` in all), the Euclidean distance between
    the z-normalised window and its nearest z-normalised window

    - of `reference` (an AB-join), when given: how far each window lies from anything seen
      in normal data, the one-class use;
    - of `x` itself otherwise (a self-join), leaving out the windows that start within
      ``ceil(window / 4)`` points of it (its trivial matches).

    A window far from every other is a **discord**, and the profile is the strong simple
    baseline of time-series anomaly detection (Yeh et al. 2016; Wu & Keogh 2021): it learns
    nothing, and one number, the window, sets it. Computed with `stumpy.stump` (in the
    ``notebooks`` extra of aecore; its first call compiles with numba, some seconds).
    `aecore.timeseries.window_scores_to_points` turns it into a score per point.
    """
    try:
        import stumpy  # an optional dependency: only this baseline needs it
    except ImportError:
        raise ImportError("matrix_profile needs stumpy: pip install stumpy  (or pip install "
                          "'aecore[notebooks]')") from None
    x = _checks.series("x", x).astype(np.float64)
    window = _checks.positive_int("window", window)
    if x.ndim != 1 or not 3 <= window <= len(x):
        raise ValueError(f"x must be 1-D with at least window points and window at least 3, "
                         f"got x of shape {x.shape} and window={window}.")
    if reference is None:
        if 2 * window > len(x):
            raise ValueError(f"a self-join needs at least 2 * window = {2 * window} points, "
                             f"got {len(x)}.")
        profile = stumpy.stump(x, window)
    else:
        reference = _checks.series("reference", reference).astype(np.float64)
        if reference.ndim != 1 or len(reference) < window:
            raise ValueError(f"reference must be 1-D with at least window={window} points, "
                             f"got shape {reference.shape}.")
        profile = stumpy.stump(x, window, T_B=reference, ignore_trivial=False)
    return np.asarray(profile[:, 0], dtype=np.float64)


def estimate_period(x, max_period=None) -> int:
    """The length of one cycle of a periodic series, from its autocorrelation.

    The autocorrelation of a smooth series is high at small lags whatever its period, so
    the period is taken as the lag of the highest autocorrelation *after it first turns
    negative* (half a cycle), up to `max_period` (default: half the series).
    """
    x = _checks.series("x", x).astype(np.float64)
    if x.ndim != 1 or len(x) < 4:
        raise ValueError(f"x must be 1-D with at least 4 points, got shape {x.shape}.")
    max_period = len(x) // 2 if max_period is None else max_period
    max_period = _checks.positive_int("max_period", max_period)
    if max_period >= len(x):
        raise ValueError(f"max_period must be less than len(x) = {len(x)}, got "
                         f"max_period={max_period}.")
    centred = x - x.mean()
    lags = np.arange(1, max_period + 1)
    acf = np.array([np.dot(centred[:-lag], centred[lag:]) for lag in lags])
    negative = np.flatnonzero(acf < 0)
    if len(negative) == 0:
        raise ValueError(f"the autocorrelation of x never turns negative up to lag "
                         f"{max_period}: no period found.")
    first = negative[0]
    return int(lags[first + int(np.argmax(acf[first:]))])
