"""Measures, in NumPy: one number per sample where that makes sense, ready for scikit-learn.

- reconstructions: `reconstruction_error`, `mse_per_sample`, `psnr`, `ssim`,
  `masked_error` (a masked autoencoder's error on hidden patches);
- codes: `code_activity`, `l0`, `dead_latents`, `codebook_usage`, `bits_per_image`;
- a VAE's likelihood: `elbo_terms`, `importance_weighted_nll`;
- dictionaries: `max_cosine_similarity`, `mmcs`, `fraction_of_variance_explained`.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops
from scipy.special import logsumexp
from skimage.metrics import structural_similarity
from sklearn.metrics import r2_score

from aecore import _checks
from aecore.losses import bernoulli_nll, gaussian_kl, mse
from aecore.models.masking import patch_encoder, reconstruct_masked
from aecore.models.parts import GaussianCode


def reconstruction_error(model, x, batch_size=256) -> np.ndarray:
    """Mean squared error between each sample and its reconstruction.

    Args:
        model: an `aecore` autoencoder (its deterministic ``reconstruct(x)`` is used), or any
            Keras model whose ``predict(x)`` returns arrays shaped like `x`.
        x: array of samples, shape ``(n, *model's input_shape)``, finite values.

    Returns:
        float64 array of shape ``(n,)``: the mean over pixels of ``(x - x_hat) ** 2``.
    """
    x = _checks.batch("x", x, getattr(model, "sample_shape", np.shape(x)[1:]))
    if len(x) == 0:
        return np.zeros(0)
    if hasattr(model, "reconstruct"):  # inference mode: no noise, a VAE decodes z_mean
        return mse_per_sample(x, model.reconstruct(x, batch_size=batch_size))
    return mse_per_sample(x, model.predict(x, batch_size=batch_size, verbose=0))


def mse_per_sample(x, x_hat) -> np.ndarray:
    """Mean squared error per sample between two arrays of the same shape ``(n, ...)``:
    `aecore.losses.mse` in float64, as NumPy."""
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}.")
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(ops.convert_to_numpy(mse(x, x_hat)), dtype=np.float64)


def psnr(x, x_hat, data_range=1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per sample, in dB: ``10 log10(data_range^2 / MSE)``.

    Higher is better; +6 dB is roughly half the error amplitude. A perfect reconstruction
    gives ``inf``.
    """
    mse = mse_per_sample(x, x_hat)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def code_activity(z, dead_threshold=0.01) -> dict:
    """How sparse is a code? For codes ``z`` of shape ``(n, latent_dim)``:

    - ``mean_activation``: the mean of ``z`` over samples and units (compare with a sparse
      autoencoder's target rho);
    - ``active_fraction``: the fraction of values above `dead_threshold`;
    - ``dead_fraction``: the fraction of units never above `dead_threshold` on these samples.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"z must be codes of shape (n, latent_dim) with n > 0, got {z.shape}.")
    active = z > dead_threshold
    return {"mean_activation": float(z.mean()),
            "active_fraction": float(active.mean()),
            "dead_fraction": float((~active.any(axis=0)).mean())}


def ssim(x, x_hat, data_range=1.0) -> np.ndarray:
    """Structural similarity per image (scikit-image's SSIM, 7x7 windows), in [-1, 1].

    `x` and `x_hat` are images of shape ``(n, h, w)`` or ``(n, h, w, 1)``.
    """
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}.")
    if x.ndim == 4 and x.shape[-1] == 1:
        x, x_hat = x[..., 0], x_hat[..., 0]
    if x.ndim != 3:
        raise ValueError(f"ssim needs images (n, h, w) or (n, h, w, 1), got {x.shape}.")
    return np.array([structural_similarity(a, b, data_range=data_range)
                     for a, b in zip(x, x_hat)])


def _posterior(vae, x, batch_size, what, labels=None):
    """``(x, z_mean, z_log_var)`` of a VAE's q(z|x) for samples ``x``, as float64 NumPy
    (a conditional VAE's q(z|x, y) with ``labels``)."""
    if not isinstance(getattr(vae, "code", None), GaussianCode):
        raise ValueError(f"{what} needs a VAE: an Autoencoder with code=GaussianCode().")
    extra = {} if labels is None else {"labels": labels}
    h = vae.encode_raw(x, batch_size=batch_size, **extra).astype(np.float64)
    z_mean, z_log_var = np.split(h, 2, axis=-1)
    return np.asarray(x, dtype=np.float32), z_mean, z_log_var


def elbo_terms(vae, x, draws=1, seed=0, batch_size=256, labels=None) -> dict:
    """A VAE's negative ELBO on ``x``, in nats per sample, estimated with explicit sampling.

    For each sample: ``reconstruction`` = E_q[-log p(x|z)] (Bernoulli, summed over pixels),
    estimated with `draws` codes z drawn from q(z|x); ``kl`` = KL(q(z|x) || N(0, I)) in
    closed form, whatever the model's beta. Returns their means over ``x``, ``neg_elbo``
    (their sum) and ``neg_elbo_std`` (the spread over draws of the one-draw estimate).

    Args:
        vae: an `Autoencoder` with a `GaussianCode` and a sigmoid decoder.
        x: samples in [0, 1].
        draws: codes drawn per sample.
        seed: seed of the draws (NumPy), so the estimate repeats exactly.
        labels: the class of each sample, for a conditional VAE (``condition=
            ClassCondition(...)``); its ELBO then bounds log p(x | y), not log p(x).
    """
    draws = _checks.positive_int("draws", draws)
    x, z_mean, z_log_var = _posterior(vae, x, batch_size, "elbo_terms", labels)
    extra = {} if labels is None else {"labels": labels}
    kl = np.asarray(gaussian_kl(z_mean, z_log_var), dtype=np.float64)
    rng = np.random.default_rng(seed)
    nll = []
    for _ in range(draws):
        z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape, np.float32)
        x_hat = vae.decode(z.astype(np.float32), batch_size=batch_size, **extra)
        nll.append(np.asarray(bernoulli_nll(x, x_hat), dtype=np.float64))
    nll = np.array(nll)                                   # (draws, n)
    per_draw = (nll + kl).mean(axis=1)
    return {"reconstruction": float(nll.mean()), "kl": float(kl.mean()),
            "neg_elbo": float(per_draw.mean()), "neg_elbo_std": float(per_draw.std())}


def importance_weighted_nll(vae, x, k=100, seed=0, batch_size=256) -> np.ndarray:
    """A VAE's negative log-likelihood per sample, ``-log p(x)`` in nats, estimated with `k`
    importance samples from q(z|x) (Burda et al. 2016):

        log p(x) ~ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x).

    With ``k = 1`` its mean is the negative ELBO; it tightens towards ``-log p(x)`` as `k`
    grows, so it is never above the ELBO's estimate on average.

    Returns:
        float64 array of shape ``(n,)``.
    """
    k = _checks.positive_int("k", k)
    x, means, log_vars = _posterior(vae, x, batch_size, "importance_weighted_nll")
    rng = np.random.default_rng(seed)
    log_2pi = np.log(2 * np.pi)
    nll = np.empty(len(x))
    chunk = max(1, 65536 // k)  # k codes for each of `chunk` samples decoded at once
    for start in range(0, len(x), chunk):
        z_mean, z_log_var = means[start:start + chunk], log_vars[start:start + chunk]
        eps = rng.standard_normal((k, *z_mean.shape))                      # (k, m, d)
        z = z_mean + np.exp(0.5 * z_log_var) * eps
        x_hat = vae.decode(z.reshape(-1, z.shape[-1]).astype(np.float32),
                           batch_size=max(batch_size, 4096))
        x_rep = np.broadcast_to(x[start:start + chunk], (k, *x[start:start + chunk].shape))
        log_px_z = -np.asarray(bernoulli_nll(x_rep.reshape(x_hat.shape), x_hat),
                               dtype=np.float64).reshape(k, -1)
        log_pz = -0.5 * np.sum(z ** 2 + log_2pi, axis=-1)
        log_qz = -0.5 * np.sum(eps ** 2 + log_2pi + z_log_var, axis=-1)
        nll[start:start + chunk] = -(logsumexp(log_px_z + log_pz - log_qz, axis=0) - np.log(k))
    return nll


def masked_error(model, x, seed=0, mask_ratio=None) -> np.ndarray:
    """A masked autoencoder's error per image on the hidden patches only, for a seeded
    mask (`aecore.models.reconstruct_masked`): the quantity it is trained to make small."""
    layer = patch_encoder(model)
    x_hat, mask = reconstruct_masked(model, x, seed=seed, mask_ratio=mask_ratio)
    p, shape = layer.patch_size, layer.image_shape
    weights = np.repeat(np.repeat(mask.reshape(len(x), shape[0] // p, shape[1] // p),
                                  p, axis=1), p, axis=2)[..., None]     # a pixel per pixel
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(ops.convert_to_numpy(mse(x, x_hat.astype(np.float64), weights)))


# -- discrete codes -------------------------------------------------------------------------------
def codebook_usage(indices, num_codes) -> dict:
    """How much of a codebook a set of codes uses.

    Args:
        indices: code indices of any shape (e.g. ``(images, positions)``).
        num_codes: the codebook's size K.

    Returns:
        ``{"perplexity": exp(entropy of the usage frequencies), "used": codes used at
        least once, "dead": codes never used}``. The perplexity is K when every code is used
        equally often and 1 when a single code takes everything.
    """
    num_codes = _checks.positive_int("num_codes", num_codes)
    indices = np.asarray(indices)
    if indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a non-empty integer array, got {indices.dtype} "
                         f"of shape {indices.shape}.")
    if indices.min() < 0 or indices.max() >= num_codes:
        raise ValueError(f"indices must lie in [0, {num_codes}), got values from "
                         f"{indices.min()} to {indices.max()}.")
    p = np.bincount(indices.ravel(), minlength=num_codes) / indices.size
    nz = p[p > 0]
    used = int(nz.size)
    return {"perplexity": float(np.exp(-np.sum(nz * np.log(nz)))), "used": used,
            "dead": num_codes - used}


def bits_per_image(positions, num_codes) -> float:
    """Bits to store a code of `positions` symbols, each one of `num_codes` values:
    ``positions * log2(num_codes)`` (a fixed-length code, no entropy coding).

    A 7 x 7 grid with a 64-entry codebook: ``bits_per_image(49, 64) = 294``; 49 numbers
    quantised to 6 bits each: ``bits_per_image(49, 2**6)``, the same.
    """
    positions = _checks.positive_int("positions", positions)
    num_codes = _checks.positive_int("num_codes", num_codes)
    return positions * math.log2(num_codes)


# -- dictionaries: how well learned directions recover known ones --------------------------------
def max_cosine_similarity(true, learned) -> np.ndarray:
    """For each true direction (a row of `true`), the largest cosine similarity with any
    learned direction (a row of `learned`): ``(n_true,)``, each in [-1, 1].

    Signs count: a learned direction pointing the opposite way has cosine -1. To score a
    method whose directions have no sign (PCA, ICA), pass ``np.vstack([d, -d])``.
    """
    true = _checks.unit_rows("true", _checks.matrix("true", true))
    learned = _checks.unit_rows("learned", _checks.matrix("learned", learned, true.shape[1]))
    return (true @ learned.T).max(axis=1)


def mmcs(true, learned) -> float:
    """Mean max cosine similarity (Sharkey et al. 2022): the mean over the true directions
    of `max_cosine_similarity`. 1 when every true direction is in the dictionary."""
    return float(max_cosine_similarity(true, learned).mean())


def fraction_of_variance_explained(x, x_hat) -> float:
    """``1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2`` over samples and dimensions:
    scikit-learn's R^2 weighted by each dimension's variance.

    1 is a perfect reconstruction; 0 is no better than predicting the mean activation.
    """
    x = _checks.matrix("x", x)
    x_hat = _checks.matrix("x_hat", x_hat, x.shape[1])
    if x_hat.shape != x.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and "
                         f"{x_hat.shape}.")
    if not np.any(x.var(axis=0) > 0):
        raise ValueError("x has no variance: the fraction explained is undefined.")
    return float(r2_score(x, x_hat, multioutput="variance_weighted"))


def l0(z) -> float:
    """The mean number of non-zero latents per input (rows of `z`)."""
    return float(np.count_nonzero(_checks.matrix("z", z), axis=1).mean())


def dead_latents(z) -> np.ndarray:
    """A boolean mask over the latents (columns of `z`): True where a latent is zero for
    every input given. ``dead_latents(z).mean()`` is the dead fraction."""
    return ~np.any(_checks.matrix("z", z) != 0, axis=0)
