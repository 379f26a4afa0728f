"""Figures for the book. Every helper returns a `matplotlib.figure.Figure` and shows nothing.

The figures are built without pyplot, so no global figure state leaks between cells, and a
notebook shows each figure exactly once: as the value of its cell, through `_repr_png_`.
"""

from __future__ import annotations

import io
import math

import matplotlib.figure
import numpy as np


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


def latent_scatter(z, labels, class_names=None, *, title=None, ax_size=5.0, max_points=5000,
                   seed=0) -> Figure:
    """2-D codes as points coloured (and shaped) by class.

    Colours and markers both encode the class, so the plot reads without colour vision too.
    At most `max_points` points (a fixed random subset) keep the figure light.
    """
    z, labels = np.asarray(z), np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (n, 2) for a scatter plot, got {z.shape}; "
                         "project it to 2-D first (e.g. with PCA).")
    if len(labels) != len(z):
        raise ValueError(f"labels must have one entry per code: {len(labels)} != {len(z)}.")
    if len(z) > max_points:
        keep = np.random.default_rng(seed).choice(len(z), max_points, replace=False)
        z, labels = z[keep], labels[keep]
    fig = Figure(figsize=(ax_size + 2.2, ax_size), layout="constrained")
    ax = fig.subplots()
    for k in np.unique(labels):
        pts = z[labels == k]
        name = class_names[k] if class_names is not None else str(k)
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.6, label=name,
                   color=CLASS_COLORS[k % len(CLASS_COLORS)],
                   marker=CLASS_MARKERS[k % len(CLASS_MARKERS)], linewidths=0)
    ax.set_xlabel("$z_1$"), ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2.5, frameon=False)
    return fig
