"""PCA as the book's baseline, with an autoencoder's interface.

PCA with k components is the best *linear* autoencoder with a k-number code (Baldi & Hornik,
1989): `encode` gives the k principal coefficients, `decode` maps coefficients back to images.
Wrapping scikit-learn's `PCA` this way lets a chapter score the baseline with exactly the code
it uses for its models (``aecore.reconstruction_error(pca, x_test)``), on images of any shape.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from aecore import _checks


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

    def reconstruct(self, x, batch_size=None) -> np.ndarray:
        """The projection of ``x`` onto the principal subspace, shaped like ``x`` (clipped
        to the training data's range unless ``clip=False``)."""
        return self.decode(self.encode(x))

    def count_params(self) -> int:
        """Numbers stored by the model: the k basis vectors and the mean sample."""
        self._check_fitted()
        return int(self.pca.components_.size + self.pca.mean_.size)


# -- classical denoisers ----------------------------------------------------------------------
def _nl_means(image, h, noise_std):
    from skimage.restoration import denoise_nl_means
    return denoise_nl_means(image, h=h, sigma=noise_std, patch_size=3, patch_distance=5,
                            fast_mode=True)


def _total_variation(image, weight, noise_std):
    from skimage.restoration import denoise_tv_chambolle
    return denoise_tv_chambolle(image, weight=weight)


def _bm3d(image, sigma_psd, noise_std):
    import bm3d

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
            strength h; `noise_std` is passed as its sigma), ``"total variation"`` (`value`:
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
    from aecore.metrics import psnr

    if len(grid) == 0:
        raise ValueError("grid must hold at least one value to try.")
    scores = {v: float(psnr(x_clean, denoise(x_noisy, method, v, noise_std=noise_std)).mean())
              for v in grid}
    return max(scores, key=scores.get), scores
