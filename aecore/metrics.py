"""How good is a reconstruction? Per-sample errors, ready for scikit-learn."""

from __future__ import annotations

import numpy as np

from aecore import _checks


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
        raise ValueError("x is empty: pass at least one sample.")
    if hasattr(model, "reconstruct"):  # inference mode: no noise, a VAE decodes z_mean
        return mse_per_sample(x, model.reconstruct(x, batch_size=batch_size))
    return mse_per_sample(x, model.predict(x, batch_size=batch_size, verbose=0))


def mse_per_sample(x, x_hat) -> np.ndarray:
    """Mean squared error per sample between two arrays of the same shape ``(n, ...)``."""
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}.")
    return np.mean((x - x_hat).reshape(len(x), -1) ** 2, axis=1)


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
    from skimage.metrics import structural_similarity

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
    from aecore.models.parts import GaussianCode

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
    from aecore.losses import bernoulli_nll, gaussian_kl

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
    from scipy.special import logsumexp

    from aecore.losses import bernoulli_nll

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
