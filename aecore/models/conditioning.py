"""Conditioning an autoencoder on a class label: the part of a conditional VAE (Sohn et al.
2015), ``Autoencoder(..., condition=ClassCondition(10))``.

The label reaches both halves as a one-hot vector: the encoder gets it as extra input
channels (an image gets ``n_classes`` constant planes, a flat input ``n_classes`` more
values), and the decoder gets it appended to the code. A conditional model is called on
``[x, labels]``: ``model.fit([x, y], epochs=...)``, ``model.reconstruct(x, labels=y)``,
``model.decode(z, labels=y)``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from aecore import _checks


@keras.saving.register_keras_serializable(package="aecore")
class ClassCondition(keras.layers.Layer):
    """One-hot class labels joined to an autoencoder's input and code.

    Args:
        n_classes: number of classes; labels are integers in ``[0, n_classes)``.

    Build the halves for the joined shapes: an encoder for ``(H, W, C + n_classes)``
    images (or ``(d + n_classes,)`` vectors) and a decoder for ``latent_dim + n_classes``
    inputs; `Autoencoder` checks both.
    """

    def __init__(self, n_classes, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = _checks.positive_int("n_classes", n_classes)
        self.built = True  # no weights

    def one_hot(self, labels):
        """``(batch,)`` integers -> ``(batch, n_classes)`` one-hot floats."""
        return ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), self.n_classes)

    def join_input(self, x, labels):
        """The encoder's input: ``x`` with the one-hot label as extra channels (images,
        ``(batch, H, W, C) -> (batch, H, W, C + n)``) or extra values (vectors)."""
        hot = ops.cast(self.one_hot(labels), x.dtype)
        if len(x.shape) == 2:
            return ops.concatenate([x, hot], axis=-1)
        planes = ops.broadcast_to(hot[:, None, None, :],
                                  (ops.shape(x)[0], *x.shape[1:-1], self.n_classes))
        return ops.concatenate([x, planes], axis=-1)

    def join_code(self, z, labels):
        """The decoder's input: the one-hot label appended to the code's last axis,
        ``(batch, latent) -> (batch, latent + n_classes)`` (a grid code gets it at every
        position)."""
        hot = ops.cast(self.one_hot(labels), z.dtype)
        if len(z.shape) > 2:
            hot = ops.broadcast_to(ops.reshape(hot, (-1, *[1] * (len(z.shape) - 2),
                                                     self.n_classes)),
                                   (*ops.shape(z)[:-1], self.n_classes))
        return ops.concatenate([z, hot], axis=-1)

    def code_shape(self, code_shape):
        """The shape the decoder takes for a code of `code_shape`: the label joined."""
        if isinstance(code_shape, list):
            raise ValueError("ClassCondition joins the label to a code of one tensor, got a "
                             f"code of shapes {code_shape}.")
        return (*code_shape[:-1], code_shape[-1] + self.n_classes)

    def call(self, x, labels):
        return self.join_input(x, labels)

    def sample_shape(self, encoder_input_shape):
        """The shape of one sample ``x`` for an encoder that takes `encoder_input_shape`
        (the label's channels or values removed)."""
        shape = tuple(int(d) for d in encoder_input_shape)
        if shape[-1] <= self.n_classes:
            raise ValueError(f"the encoder takes {shape}: its last axis must hold the "
                             f"sample's channels plus n_classes={self.n_classes} for the "
                             "label (build it for the joined shape).")
        return (*shape[:-1], shape[-1] - self.n_classes)

    def check_labels(self, labels, n):
        """`labels` as an int array of ``n`` values in ``[0, n_classes)``, or a ValueError."""
        if labels is None:
            raise ValueError("this autoencoder is conditioned on a class label: pass "
                             "labels=... (integers in [0, n_classes)).")
        labels = np.asarray(labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be {n} integers, one per sample, got an array "
                             f"of shape {labels.shape} and dtype {labels.dtype}.")
        if n and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"labels must lie in [0, {self.n_classes}), got values from "
                             f"{labels.min()} to {labels.max()}.")
        return labels.astype("int32")

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}
