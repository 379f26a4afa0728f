"""The exercise checkers: each accepts a right answer, and names the usual wrong ones.

The wrong answers here are written the way a reader would write them (not taken from the
checkers' own tables of mistakes), so a test fails if a checker stops recognising one.
"""

import math
import textwrap

import numpy as np
import pytest
from keras import ops
from scipy.stats import rankdata

import aecore
from aecore import exercises as ex


def verdict(capsys, check, fn):
    """Run a checker; return (its result, what it printed)."""
    result = check(fn)
    printed = capsys.readouterr().out.strip()
    return result, printed


# == every checker accepts its solution and aecore's own implementation ========================
@pytest.mark.parametrize("check", ex._EXERCISES, ids=lambda c: c.__name__)
def test_solution_passes(capsys, check):
    result, printed = verdict(capsys, check, check.solution)
    assert result is True
    assert printed.startswith("correct: ") and printed.count("\n") == 0


def _corrupt(x, fraction, rng):
    return aecore.data.corrupt(x, "masking", fraction, seed=int(rng.integers(2 ** 31)))


def _numpy_keep(n_patches, mask_ratio, rng):
    from aecore.models.masking import numpy_keep
    return numpy_keep(1, n_patches, mask_ratio, seed=int(rng.integers(2 ** 31)))[2][0]


AECORE_ANSWERS = {
    ex.check_reconstruction_error: aecore.metrics.mse_per_sample,
    ex.check_kl_sparsity: aecore.losses.kl_sparsity,
    ex.check_gaussian_kl: aecore.losses.gaussian_kl,
    ex.check_psnr: aecore.metrics.psnr,
    ex.check_masking_noise: _corrupt,
    ex.check_patch_mask: _numpy_keep,
    ex.check_top_k: lambda h, k: aecore.models.TopKCode(k)(h),
    ex.check_point_adjust: aecore.anomaly.point_adjust,
}


@pytest.mark.parametrize("check", AECORE_ANSWERS, ids=lambda c: c.__name__)
def test_aecore_itself_passes(capsys, check):
    assert verdict(capsys, check, AECORE_ANSWERS[check])[0] is True


def test_patch_mask_count_is_round():
    """The docstring's promise: on the checker's cases aecore's count is round(r * n)."""
    from aecore.models.masking import n_visible
    for n, ratio in [(49, 0.75), (16, 0.75), (50, 0.6), (10, 0.3)]:
        assert n - n_visible(n, ratio) == round(ratio * n)


# == typical wrong answers, each named =========================================================
def _mse_rows(x, y):
    return ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)


def _kl(rho, rho_hat):
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


def _pca_fit(x_train, centre=True):
    mean = x_train.mean(axis=0) if centre else 0
    return mean, np.linalg.svd(x_train - mean, full_matrices=False)[2]


def _pca_no_centring(x_train, x, k):
    _, vt = _pca_fit(x_train, centre=False)
    return x @ vt[:k].T @ vt[:k]


def _pca_columns(x_train, x, k):
    mean, vt = _pca_fit(x_train)
    w = vt[:, :k]
    return mean + (x - mean) @ w @ w.T


def _pca_k_plus_one(x_train, x, k):
    mean, vt = _pca_fit(x_train)
    return mean + (x - mean) @ vt[:k + 1].T @ vt[:k + 1]


def _auroc_ties_win(y, s):
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return np.mean(pos >= neg)


def _auroc_from_ranks(y, s, ranks):
    n_pos = y.sum()
    return (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))


def _masking_keep_fraction(x, fraction, rng):
    return x * (rng.random(x.shape) < fraction)


def _masking_same_mask(x, fraction, rng):
    return x * (rng.random(x.shape[1:]) >= fraction)


def _masking_dropout(x, fraction, rng):
    return x * (rng.random(x.shape) >= fraction) / (1 - fraction)


def _masking_whole_images(x, fraction, rng):
    return x * (rng.random((len(x),) + (1,) * (x.ndim - 1)) >= fraction)


def _masking_in_place(x, fraction, rng):
    x[rng.random(x.shape) < fraction] = 0
    return x


def _masking_global_rng(x, fraction, rng):
    return x * (np.random.random(x.shape) >= fraction)


def _interpolate_open(z_a, z_b, steps):
    t = np.linspace(0, 1, steps + 2)[1:-1, None]
    return z_a + t * (z_b - z_a)


def _interpolate_one_more(z_a, z_b, steps):
    t = np.linspace(0, 1, steps + 1)[:, None]
    return z_a + t * (z_b - z_a)


def _interpolate_reversed(z_a, z_b, steps):
    t = np.linspace(0, 1, steps)[:, None]
    return z_b + t * (z_a - z_b)


def _top_k_no_relu(h, k):
    kth = np.sort(h, axis=-1)[..., -k][..., None]
    return np.where(h >= kth, h, 0)


def _top_k_batch_axis(h, k):
    kth = np.sort(h, axis=0)[-k]
    return np.maximum(np.where(h >= kth, h, 0), 0)


def _top_k_smallest(h, k):
    kth = np.sort(h, axis=-1)[..., k - 1][..., None]
    return np.maximum(np.where(h <= kth, h, 0), 0)


def _segments(labels):
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))


def _adjust_mean(scores, labels):
    out = scores.copy()
    for a, b in _segments(labels):
        out[a:b] = scores[a:b].mean()
    return out


def _adjust_first_only(scores, labels):
    out = scores.copy()
    a, b = next(iter(_segments(labels)))
    out[a:b] = scores[a:b].max()
    return out


def _adjust_one_past(scores, labels):
    out = scores.copy()
    for a, b in _segments(labels):
        out[a:b + 1] = scores[a:b + 1].max()
    return out


def _adjust_in_place(scores, labels):
    for a, b in _segments(labels):
        scores[a:b] = scores[a:b].max()
    return scores


def _adjust_zero_normals(scores, labels):
    out = np.zeros_like(scores)
    for a, b in _segments(labels):
        out[a:b] = scores[a:b].max()
    return out


def _adjust_misses_start(scores, labels):      # a start is a 1 after a 0: not at index 0
    out = scores.copy()
    for i in range(1, len(labels)):
        if labels[i] == 1 and labels[i - 1] == 0:
            j = i
            while j < len(labels) and labels[j] == 1:
                j += 1
            out[i:j] = scores[i:j].max()
    return out


def _patch_keep_ratio(n, ratio, rng):
    mask = np.zeros(n, int)
    mask[rng.permutation(n)[:round(n * (1 - ratio))]] = 1
    return mask


def _patch_truncated(n, ratio, rng):
    mask = np.zeros(n, int)
    mask[rng.permutation(n)[:int(n * ratio)]] = 1
    return mask


def _patch_first(n, ratio, rng):
    mask = np.zeros(n, int)
    mask[:round(n * ratio)] = 1
    return mask


def _patch_coin(n, ratio, rng):
    return (rng.random(n) < ratio).astype(int)


def _patch_block(n, ratio, rng):      # random, exact count, but a contiguous block
    hidden = round(n * ratio)
    start = rng.integers(0, n - hidden + 1)
    mask = np.zeros(n, int)
    mask[start:start + hidden] = 1
    return mask


def _standardize_own_stats(train, features):
    return (features - features.mean(0)) / features.std(0)


def _standardize_variance(train, features):
    var = train.var(0)
    return (features - train.mean(0)) / np.where(var > 0, var, 1)


def _standardize_nan(train, features):
    return (features - train.mean(0)) / train.std(0)


def _standardize_eps(train, features):
    return (features - train.mean(0)) / (train.std(0) + 1e-8)


def _vq_argmax(h, codebook):
    return np.argmax(((h[..., None, :] - codebook) ** 2).sum(-1), axis=-1)


def _vq_dot(h, codebook):
    return np.argmax(h @ codebook.T, axis=-1)


def _vq_wrong_axis(h, codebook):
    return np.argmin(((h[..., None, :] - codebook) ** 2).sum(-2), axis=-1)


def _vq_flat(h, codebook):
    flat = h.reshape(-1, h.shape[-1])
    return np.argmin(((flat[:, None] - codebook) ** 2).sum(-1), axis=-1)


WRONG = [
    # chapter 1
    ("scalar mean", ex.check_reconstruction_error, lambda x, y: np.mean((x - y) ** 2),
     ["whole batch", "one error per image"]),
    ("sum over pixels", ex.check_reconstruction_error,
     lambda x, y: ((x - y) ** 2).reshape(len(x), -1).sum(axis=1), ["sums", "mean belongs"]),
    ("batch axis", ex.check_reconstruction_error, lambda x, y: ((x - y) ** 2).mean(axis=0),
     ["axis 0", "every axis but the first"]),
    ("last axis", ex.check_reconstruction_error, lambda x, y: ((x - y) ** 2).mean(axis=-1),
     ["last axis only"]),
    # chapter 2
    ("no biases", ex.check_param_count,
     lambda n, h, d: sum(a * b for a, b in zip([n, *h, d, *h[::-1], n],
                                               [*h, d, *h[::-1], n])), ["bias"]),
    ("no output layer", ex.check_param_count,
     lambda n, h, d: sum(a * b + b for a, b in zip([n, *h, d, *h[::-1]],
                                                   [*h, d, *h[::-1]])), ["last layer"]),
    ("not mirrored", ex.check_param_count,
     lambda n, h, d: sum(a * b + b for a, b in zip([n, *h, d, *h], [*h, d, *h, n])),
     ["mirror", "reversed"]),
    # chapter 3
    ("same as valid", ex.check_conv_output_size,
     lambda s, k, st, p: (s - k) // st + 1, ["'same' like 'valid'"]),
    ("floor for same", ex.check_conv_output_size,
     lambda s, k, st, p: s // st if p == "same" else (s - k) // st + 1, ["down", "ceil"]),
    ("valid without + 1", ex.check_conv_output_size,
     lambda s, k, st, p: math.ceil(s / st) if p == "same" else (s - k) // st,
     ["+ 1"]),
    ("true division", ex.check_conv_output_size,
     lambda s, k, st, p: s / st if p == "same" else (s - k) / st + 1, ["whole number"]),
    # chapter 4
    ("keeps the fraction", ex.check_masking_noise, _masking_keep_fraction,
     ["1 - fraction", "share set to 0"]),
    ("same mask", ex.check_masking_noise, _masking_same_mask, ["same mask"]),
    ("scaled like dropout", ex.check_masking_noise, _masking_dropout,
     ["scales the values it keeps", "dropout"]),
    ("in place", ex.check_masking_noise, _masking_in_place, ["in place"]),
    ("whole images", ex.check_masking_noise, _masking_whole_images, ["whole images"]),
    ("global rng", ex.check_masking_noise, _masking_global_rng, ["same seed", "`rng`"]),
    # chapter 5
    ("rho_hat over units", ex.check_kl_sparsity,
     lambda z, t: np.sum(_kl(t, z.mean(axis=1))), ["rho_hat", "over the batch (axis 0)"]),
    ("KL swapped", ex.check_kl_sparsity, lambda z, t: np.sum(_kl(z.mean(axis=0), t)),
     ["KL(rho_hat || rho)", "swapped"]),
    ("mean over units", ex.check_kl_sparsity, lambda z, t: np.mean(_kl(t, z.mean(axis=0))),
     ["averages the KL over the units", "sum belongs"]),
    # chapter 6
    ("variance as std", ex.check_reparameterize,
     lambda m, v, e: m + ops.exp(v) * e, ["variance", "exp(z_log_var / 2)"]),
    ("log-variance as std", ex.check_reparameterize, lambda m, v, e: m + v * e,
     ["log-variance"]),
    ("mean over dims", ex.check_gaussian_kl,
     lambda m, v: -0.5 * ops.mean(1 + v - m ** 2 - ops.exp(v), axis=-1),
     ["averages over the latent dimensions", "sum belongs"]),
    ("sign", ex.check_gaussian_kl,
     lambda m, v: 0.5 * ops.sum(1 + v - m ** 2 - ops.exp(v), axis=-1), ["wrong sign"]),
    ("KL of the batch", ex.check_gaussian_kl,
     lambda m, v: -0.5 * np.sum(1 + v - m ** 2 - np.exp(v)) / len(m),
     ["one number for the batch"]),
    # chapter 7
    ("no centring", ex.check_pca_reconstruction, _pca_no_centring, ["centre"]),
    ("wrong axis", ex.check_pca_reconstruction, _pca_columns, ["columns of vt", "rows"]),
    ("k + 1", ex.check_pca_reconstruction, _pca_k_plus_one, ["k + 1", "off by one"]),
    # chapter 8
    ("ties as wins", ex.check_auroc, _auroc_ties_win, ["tie", "as a win", "1/2"]),
    ("ordinal ranks", ex.check_auroc,
     lambda y, s: _auroc_from_ranks(y, s, np.argsort(np.argsort(s)) + 1.0), ["tie", "1/2"]),
    ("normal positive", ex.check_auroc,
     lambda y, s: _auroc_from_ranks(1 - y, s, rankdata(s)), ["1 - AUROC"]),
    ("accuracy", ex.check_auroc, lambda y, s: np.mean((s > np.median(s)) == y),
     ["accuracy at a threshold"]),
    # chapter 9
    ("natural log", ex.check_psnr,
     lambda x, y, data_range=1.0: 10 * np.log(data_range ** 2 / _mse_rows(x, y)),
     ["natural log", "log10"]),
    ("batch MSE", ex.check_psnr,
     lambda x, y, data_range=1.0: np.full(len(x), 10 * np.log10(
         data_range ** 2 / np.mean((x - y) ** 2))), ["whole batch", "per image"]),
    ("20 log10 MSE", ex.check_psnr,
     lambda x, y, data_range=1.0: 20 * np.log10(data_range / _mse_rows(x, y)),
     ["20 log10", "RMSE"]),
    ("range not squared", ex.check_psnr,
     lambda x, y, data_range=1.0: 10 * np.log10(data_range / _mse_rows(x, y)),
     ["square data_range"]),
    # chapter 10
    ("own statistics", ex.check_standardize, _standardize_own_stats, ["`features` itself"]),
    ("variance", ex.check_standardize, _standardize_variance, ["variance"]),
    ("constant feature NaN", ex.check_standardize, _standardize_nan,
     ["constant", "NaN", "StandardScaler", "by 1"]),
    ("constant feature eps", ex.check_standardize, _standardize_eps,
     ["constant", "StandardScaler"]),
    # chapter 11
    ("ends excluded", ex.check_interpolate, _interpolate_open, ["leaves out the two ends"]),
    ("one too many", ex.check_interpolate, _interpolate_one_more, ["steps + 1", "off by one"]),
    ("reversed", ex.check_interpolate, _interpolate_reversed, ["from z_b to z_a"]),
    # chapter 12
    ("argmax", ex.check_nearest_code, _vq_argmax, ["farthest", "argmin"]),
    ("dot product", ex.check_nearest_code, _vq_dot, ["dot product"]),
    ("wrong axis", ex.check_nearest_code, _vq_wrong_axis, ["codebook axis", "last axis"]),
    ("flattened", ex.check_nearest_code, _vq_flat, ["h.shape[:-1]"]),
    ("no stop_gradient", ex.check_straight_through, lambda h, e: h + (e - h),
     ["flows into e and not into h", "stop_gradient"]),
    ("plain e", ex.check_straight_through, lambda h, e: e,
     ["flows into e and not into h"]),
    ("e not stopped", ex.check_straight_through,
     lambda h, e: h + e - ops.stop_gradient(h), ["also reaches e"]),
    ("sign inside", ex.check_straight_through, lambda h, e: h + ops.stop_gradient(h - e),
     ["2h - e", "(e - h)"]),
    ("numpy", ex.check_straight_through,
     lambda h, e: np.asarray(h) + (np.asarray(e) - np.asarray(h)), ["no gradient reaches h"]),
    # chapter 13
    ("keeps the ratio", ex.check_patch_mask, _patch_keep_ratio, ["number to keep"]),
    ("truncated", ex.check_patch_mask, _patch_truncated, ["off by one"]),
    ("not random", ex.check_patch_mask, _patch_first, ["every seed gives the same mask"]),
    ("coin per patch", ex.check_patch_mask, _patch_coin, ["changes from draw to draw"]),
    ("contiguous block", ex.check_patch_mask, _patch_block, ["equally likely"]),
    # chapter 14
    ("no relu", ex.check_top_k, _top_k_no_relu, ["ReLU after the selection"]),
    ("batch axis", ex.check_top_k, _top_k_batch_axis, ["batch axis (axis 0)"]),
    ("smallest", ex.check_top_k, _top_k_smallest, ["k smallest"]),
    # chapter 15
    ("mean", ex.check_point_adjust, _adjust_mean, ["mean score", "highest score"]),
    ("first only", ex.check_point_adjust, _adjust_first_only, ["first segment only"]),
    ("one past the end", ex.check_point_adjust, _adjust_one_past,
     ["right after each segment", "off by one"]),
    ("normals zeroed", ex.check_point_adjust, _adjust_zero_normals, ["normal points"]),
    ("in place", ex.check_point_adjust, _adjust_in_place, ["in place"]),
    ("start missed", ex.check_point_adjust, _adjust_misses_start, ["start of the series"]),
]


@pytest.mark.parametrize("name, check, fn, words", WRONG,
                         ids=[f"{c.__name__}-{n}" for n, c, _, _ in WRONG])
def test_wrong_answer_is_named(capsys, name, check, fn, words):
    result, printed = verdict(capsys, check, fn)
    assert result is False
    assert printed.startswith("wrong: ") and printed.count("\n") == 0, printed
    for word in words:
        assert word in printed, printed


def test_every_checker_names_two_mistakes_in_these_tests():
    named = {}
    for _, check, _, _ in WRONG:
        named[check] = named.get(check, 0) + 1
    assert all(named.get(check, 0) >= 2 for check in ex._EXERCISES), named


@pytest.mark.parametrize("check", ex._EXERCISES, ids=lambda c: c.__name__)
def test_every_listed_mistake_is_named(capsys, check):
    """The catalogue's promise: each mistake a checker lists as a computation is caught
    and named by its own message (the others are written out in WRONG above)."""
    for mistake in check.mistakes:
        if mistake.fn is not None:
            result, printed = verdict(capsys, check, mistake.fn)
            assert result is False and mistake.message in printed, (mistake.name, printed)


# == what a reader may get wrong about the exercise itself =====================================
def test_exception_in_readers_function_is_reported(capsys):
    def my_psnr(x, x_hat, data_range=1.0):
        mse = ((x - x_hat) ** 2).mean(axis=(1, 2, 3, 4))
        return 10 * np.log10(data_range ** 2 / mse)

    result, printed = verdict(capsys, ex.check_psnr, my_psnr)
    assert result is False and printed.count("\n") == 0
    assert "raised" in printed and "AxisError" in printed
    assert "mean(axis=(1, 2, 3, 4))" in printed          # the line that failed


@pytest.mark.parametrize("check", ex._EXERCISES, ids=lambda c: c.__name__)
def test_no_checker_raises(capsys, check):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    for fn, words in [(broken, "raised ZeroDivisionError"), (lambda *a, **k: None, "None"),
                      (lambda *a, **k: "a string", "not numbers"), (42, "function itself")]:
        result, printed = verdict(capsys, check, fn)
        assert result is False and words in printed and printed.count("\n") == 0, printed


def test_a_nan_is_reported(capsys):
    result, printed = verdict(capsys, ex.check_kl_sparsity, lambda z, t: np.nan)
    assert result is False and "NaN" in printed


def test_catalogue_covers_every_chapter():
    table = ex.catalogue()
    assert sorted({row["chapter"] for row in table}) == list(range(1, 16))
    for row in table:
        assert row["checker"].startswith("check_") and row["solution"].startswith("solution_")
        assert row["checker"][6:] == row["solution"][9:]
        assert len(row["mistakes"]) >= 2
        assert hasattr(ex, row["checker"]) and hasattr(ex, row["solution"])


# == the backend-agnostic checkers on JAX =======================================================
JAX_SCRIPT = textwrap.dedent("""
    import contextlib, io, json
    import keras
    import numpy as np
    from keras import ops
    from aecore import exercises as ex
    assert keras.backend.backend() == "jax"

    def run(check, fn):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = check(fn)
        return [result, out.getvalue().strip()]

    results = {c.__name__: run(c, c.solution) for c in [
        ex.check_reconstruction_error, ex.check_kl_sparsity, ex.check_reparameterize,
        ex.check_gaussian_kl, ex.check_psnr, ex.check_nearest_code,
        ex.check_straight_through, ex.check_top_k]}
    results["no_stop_gradient"] = run(ex.check_straight_through, lambda h, e: h + (e - h))
    results["numpy"] = run(ex.check_straight_through,
                           lambda h, e: np.asarray(h) + (np.asarray(e) - np.asarray(h)))
    results["kl_mean"] = run(ex.check_gaussian_kl, lambda m, v: -0.5 * ops.mean(
        1 + v - m ** 2 - ops.exp(v), axis=-1))
    print("RESULTS" + json.dumps(results))
""")


def test_checkers_on_jax(run_on_jax):
    results = run_on_jax(JAX_SCRIPT)
    for name in ["check_reconstruction_error", "check_kl_sparsity", "check_reparameterize",
                 "check_gaussian_kl", "check_psnr", "check_nearest_code",
                 "check_straight_through", "check_top_k"]:
        assert results[name][0] is True, results[name]
    assert "checked on jax" in results["check_straight_through"][1]
    assert results["no_stop_gradient"][0] is False
    assert "flows into e and not into h" in results["no_stop_gradient"][1]
    assert "while its gradient was taken" in results["numpy"][1]
    assert "averages over the latent dimensions" in results["kl_mean"][1]
