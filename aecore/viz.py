"""Figures for the book. Every helper returns a `matplotlib.figure.Figure` and shows nothing.

The figures are built without pyplot, so no global figure state leaks between cells, and a
notebook shows each figure exactly once: as the value of its cell, through `_repr_png_`.
"""

from __future__ import annotations

import io
import math

import matplotlib.figure
import matplotlib.ticker
import numpy as np
from keras import ops
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from aecore import _checks
from aecore.anomaly import anomaly_segments
from aecore.models.transformer import patchify, unpatchify


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter displays as PNG without pyplot or ``%matplotlib``."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def _as_images(x, name="x") -> np.ndarray:
    """(n, h, w), (n, h, w, 1) or (n, h*w) with a square h*w -> (n, h, w) for imshow."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim == 3:
        return x
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side == x.shape[1]:
            return x.reshape(len(x), side, side)
    raise ValueError(f"{name} must be images of shape (n, h, w), (n, h, w, 1) or (n, h*w) "
                     f"with a square number of pixels, got {x.shape}.")


def image_grid(images, *, ncols=10, titles=None, row_labels=None, vmin=0.0, vmax=1.0,
               cmap="gray", size=1.0) -> Figure:
    """Images in a grid, row by row; `row_labels` name the rows, `titles` the images."""
    images = _as_images(images, "images")
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image.")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + (0.25 if titles is not None else 0)),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(nrows, ncols)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i >= len(images):
            ax.set_visible(False)
            continue
        ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if row_labels is not None:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, fontsize=9)
    return fig


def reconstruction_grid(x, x_hat, *, n=10, titles=None,
                        labels=("original", "reconstruction")) -> Figure:
    """The first `n` originals (top row) above their reconstructions (bottom row)."""
    x, x_hat = _as_images(x, "x")[:n], _as_images(x_hat, "x_hat")[:n]
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must hold the same images, got {x.shape} and {x_hat.shape}.")
    both = np.concatenate([x, x_hat])
    return image_grid(both, ncols=len(x), row_labels=labels,
                      titles=None if titles is None else list(titles[:len(x)]) + [""] * len(x))


def training_curves(history, *, keys=None, logy=False) -> Figure:
    """Training (solid) and validation (dashed) curves of a Keras `History`, one panel a metric.

    Args:
        history: a `keras.callbacks.History` or its ``.history`` dict.
        keys: the metrics to draw (default: every metric with a training curve).
        logy: log-scale the y axis.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("history must be a keras History (or its .history dict) with at least "
                         "one metric; did fit() run?")
    keys = keys or [k for k in logs if not k.startswith("val_")]
    missing = [k for k in keys if k not in logs]
    if missing:
        raise ValueError(f"history has no metric {missing}; it has {sorted(logs)}.")
    fig = Figure(figsize=(4.2 * len(keys), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys), squeeze=False)).ravel()
    for ax, key in zip(axes, keys):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], label="train", color="#0072B2")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], "--", label="validation", color="#D55E00")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


# Okabe & Ito's palette (readable with the common colour-vision deficiencies) plus two greys.
CLASS_COLORS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                "#D55E00", "#CC79A7", "#000000", "#999999", "#6B3E26")
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6B3E26")
REFERENCE_COLORS = ("#000000", "#999999")


def latent_scatter(z, labels, class_names=None, *, title=None, ax_size=5.0, max_points=5000,
                   seed=0) -> Figure:
    """2-D codes as points coloured (and shaped) by class.

    `z` is an ``(n, 2)`` array, or a dict ``{title: (n, 2) array}`` to draw several maps of
    the same samples side by side (e.g. PCA and an autoencoder). Colours and markers both
    encode the class, so the plot reads without colour vision too. At most `max_points`
    points (the same fixed random subset in every panel) keep the figure light.
    """
    panels = dict(z) if isinstance(z, dict) else {title: z}
    labels = np.asarray(labels)
    keep = (np.random.default_rng(seed).choice(len(labels), max_points, replace=False)
            if len(labels) > max_points else np.arange(len(labels)))
    fig = Figure(figsize=(ax_size * len(panels) + 2.2, ax_size), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    for ax, (panel_title, codes) in zip(axes, panels.items()):
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(f"z must have shape (n, 2) for a scatter plot, got {codes.shape}; "
                             "project it to 2-D first (e.g. with PCA).")
        if len(codes) != len(labels):
            raise ValueError(f"labels must have one entry per code: {len(labels)} != "
                             f"{len(codes)}.")
        codes, panel_labels = codes[keep], labels[keep]
        for k in np.unique(panel_labels):
            pts = codes[panel_labels == k]
            name = class_names[k] if class_names is not None else str(k)
            ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.6, label=name,
                       color=CLASS_COLORS[k % len(CLASS_COLORS)],
                       marker=CLASS_MARKERS[k % len(CLASS_MARKERS)], linewidths=0)
        ax.set_xlabel("$z_1$"), ax.set_ylabel("$z_2$")
        if panel_title:
            ax.set_title(panel_title)
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2.5,
                    frameon=False)
    return fig


class _PlainLogFormatter(matplotlib.ticker.LogFormatter):
    """Log-axis tick labels as plain numbers ("0.01", "0.009"), on the ticks matplotlib's own
    log formatter would label: between two labelled decades only a few minor ticks (2, 3, 4,
    6), none when the axis crosses two or more decades, so neighbouring labels never overlap
    (labelling every minor tick wrote "0.009" on top of "0.01")."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def line_chart(x, series, *, xlabel, ylabel, logx=False, logy=False, title=None,
               hlines=None, vlines=None) -> Figure:
    """One line per entry of `series` ({label: y values at `x`}; with ``x=None``, {label:
    (its own x values, y values)}, drawn in order of x, e.g. a measure against L0 for
    several methods). `hlines` ({label: y}) adds horizontal reference lines (e.g. a
    published baseline), `vlines` ({label: x}) vertical ones (e.g. the noise level a model
    was trained at); references are black or grey, never a colour a series uses."""
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for i, (label, y) in enumerate(series.items()):
        xs = x
        if x is None:
            xs, y = (np.asarray(v, dtype=float) for v in y)
            order = np.argsort(xs)
            xs, y = xs[order], y[order]
        ax.plot(xs, y, marker=CLASS_MARKERS[i % len(CLASS_MARKERS)], label=label,
                color=SERIES_COLORS[i % len(SERIES_COLORS)])
    references = [(ax.axhline, label, y) for label, y in (hlines or {}).items()]
    references += [(ax.axvline, label, v) for label, v in (vlines or {}).items()]
    for i, (draw, label, value) in enumerate(references):
        draw(value, linestyle=(":", "-.", "--")[i % 3], label=label,
             color=REFERENCE_COLORS[i % len(REFERENCE_COLORS)])
    if logx:  # label exactly the measured x values, in plain numbers
        ax.set_xscale("log")
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PlainLogFormatter())
        ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def roc_pr_curves(y_true, scores) -> Figure:
    """ROC and precision-recall curves of several detectors ({label: scores}), anomalies = 1."""
    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    roc_ax, pr_ax = fig.subplots(1, 2)
    for i, (label, s) in enumerate(scores.items()):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        fpr, tpr, _ = roc_curve(y_true, s)
        roc_ax.plot(fpr, tpr, color=color, label=f"{label} (AUROC {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(y_true, s)
        pr_ax.plot(recall, precision, color=color,
                   label=f"{label} (AP {average_precision_score(y_true, s):.3f})")
    roc_ax.plot([0, 1], [0, 1], ":", color="#999999")
    roc_ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC")
    pr_ax.axhline(np.mean(y_true), linestyle=":", color="#999999")
    pr_ax.set(xlabel="recall (anomalies)", ylabel="precision (anomalies)",
              title="Precision-recall")
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if ax is pr_ax else "lower right", fontsize=8)
    return fig


def latent_grid(decode, *, n=15, span=3.0, image_shape=None) -> Figure:
    """Decode an ``n x n`` grid of 2-D codes covering ``[-span, span]^2`` (for a VAE, the
    region where the prior N(0, I) puts most of its mass) into one image mosaic.

    Args:
        decode: a function from codes ``(m, 2)`` to images, e.g. ``model.decode``.
    """
    axis = np.linspace(-span, span, n, dtype=np.float32)
    z = np.array([[a, b] for b in axis[::-1] for a in axis], dtype=np.float32)  # rows: z2 down
    images = _as_images(decode(z), "decoded images")
    h, w = images.shape[1:]
    mosaic = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig = Figure(figsize=(6.5, 6.5), layout="constrained")
    ax = fig.subplots()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1,
              extent=(-span - (axis[1] - axis[0]) / 2, span + (axis[1] - axis[0]) / 2,
                      -span - (axis[1] - axis[0]) / 2, span + (axis[1] - axis[0]) / 2))
    ax.set_xlabel("$z_1$"), ax.set_ylabel("$z_2$")
    return fig


# -- masked autoencoders: what the encoder saw, and what it filled in ----------------------
def masked_images(x, mask, patch_size, fill=0.5) -> np.ndarray:
    """Images with their masked patches painted `fill` (grey), to show what the encoder
    saw. ``mask`` ``(n, n_patches)`` is 1 where hidden (NumPy)."""
    x = np.asarray(x, dtype="float32")
    patches = ops.convert_to_numpy(patchify(x, patch_size))
    patches = np.where(np.asarray(mask)[..., None] > 0, fill, patches)
    return ops.convert_to_numpy(unpatchify(patches, patch_size, x.shape[1:]))


def paste_visible(x, x_hat, mask, patch_size) -> np.ndarray:
    """The visible patches from ``x``, the hidden ones from ``x_hat`` (NumPy): how an MAE's
    fill-in is shown, since its output on visible patches is never scored."""
    x, x_hat = np.asarray(x, dtype="float32"), np.asarray(x_hat, dtype="float32")
    hidden = np.asarray(mask)[..., None] > 0
    patches = np.where(hidden, ops.convert_to_numpy(patchify(x_hat, patch_size)),
                       ops.convert_to_numpy(patchify(x, patch_size)))
    return ops.convert_to_numpy(unpatchify(patches, patch_size, x.shape[1:]))


# -- time series ------------------------------------------------------------------------------
def score_panels(values, scores, labels, *, start=0, threshold=None, boundaries=None,
                title=None):
    """The series on top and one panel per score below, anomalies shaded.

    Args:
        values: the series, shape ``(n,)``.
        scores: ``{name: (n,) scores}``; each panel is scaled to its own range.
        labels: ``(n,)`` 0/1 labels. start: the index of the first point (for the x axis).
        threshold: optional ``{name: threshold}``, drawn as dashed lines.
        boundaries: optional ``{label: index}``, drawn as dotted vertical lines (where the
            fit, validation and test parts begin, say).
    """
    values, labels = np.asarray(values, dtype=np.float64), _checks.binary_labels(labels)
    if values.shape != labels.shape:
        raise ValueError(f"values and labels must have the same shape, got {values.shape} "
                         f"and {labels.shape}.")
    fig = Figure(figsize=(9, 1.8 + 1.0 * len(scores)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1 + len(scores), 1, sharex=True))
    t = start + np.arange(len(values))
    panels = [("series", values), *scores.items()]
    for ax, (name, y) in zip(axes, panels):
        y = np.asarray(y, dtype=np.float64)
        if y.shape != values.shape:
            raise ValueError(f"scores[{name!r}] must have shape {values.shape}, got "
                             f"{y.shape}.")
        ax.plot(t, y, lw=0.8, color="black" if name == "series" else "C0")
        for a, b in anomaly_segments(labels):
            ax.axvspan(start + a, start + b, color="C3", alpha=0.3, lw=0)
        if threshold and name in threshold:
            ax.axhline(threshold[name], color="C1", ls="--", lw=0.8)
        for i, (label, index) in enumerate((boundaries or {}).items()):
            ax.axvline(index, color="grey", ls=":", lw=1)
            if name == "series":  # staggered, so that close boundaries stay readable
                ax.annotate(f" {label}", (index, 1 - 0.12 * (i % 3)), va="top",
                            xycoords=("data", "axes fraction"), fontsize=8,
                            color="dimgrey")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1].set_xlabel("time step")
    if title:
        axes[0].set_title(title)
    return fig
