"""Sparse autoencoders that explain a network: dictionary learning on its activations.

A network's hidden layer may represent more features than it has units, each feature a
direction, a few of them active for any one input ("superposition", Elhage et al. 2022). A
sparse autoencoder trained on the layer's activations learns an over-complete dictionary of
directions and a sparse code over it (Sharkey et al. 2022; Cunningham et al. 2023; Bricken
et al. 2023; Gao et al. 2024). This module has what a chapter on that needs:

- the ground truth: `toy_features` (sparse feature values) and `ToyModel`, the toy model
  of superposition ``x -> h = x W -> ReLU(h W^T + b)``, whose rows of ``W`` are the true
  feature directions of its hidden activations ``h``;
- the measures of the field are in `aecore.metrics`: `mmcs` (how well a dictionary
  recovers known directions), `fraction_of_variance_explained`, `l0`, `dead_latents`;
- `dictionary(autoencoder)`: a sparse autoencoder's learned directions, the rows of its
  linear decoder's kernel, at unit length; `tie_encoder_to_decoder`, the initialisation
  of Gao et al. (2024);
- `split_at(model, layer)`: a `keras.Sequential` classifier cut after a layer into
  ``head`` (input -> activations) and ``tail`` (activations -> outputs), sharing weights, to
  capture a layer's activations and to run the rest of the network on patched ones;
- what a latent responds to: `top_inputs` (its top-activating inputs) and `label_purity`
  (how many of them share a label).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from aecore import _checks


# -- the toy model of superposition ------------------------------------------------------------
def toy_features(n, n_features, *, sparsity, seed=0) -> np.ndarray:
    """Sparse feature values, as in Elhage et al. (2022): each of the `n_features` features
    of each of the `n` samples is 0 with probability `sparsity` and otherwise uniform in
    [0, 1], independently.

    Returns:
        float32 array of shape ``(n, n_features)``.
    """
    n = _checks.positive_int("n", n)
    n_features = _checks.positive_int("n_features", n_features)
    sparsity = _checks.probability("sparsity", sparsity)
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, n_features))
    on = rng.uniform(size=(n, n_features)) >= sparsity
    return (values * on).astype("float32")


@keras.saving.register_keras_serializable(package="aecore")
class ToyModel(keras.Model):
    """The toy model of superposition (Elhage et al. 2022): ``n_features`` sparse features
    squeezed into ``hidden_dim < n_features`` numbers and read back out:

        ``h = x W``  (the hidden activations, linear),
        ``x_hat = ReLU(h W^T + b)``,

    ``W`` of shape ``(n_features, hidden_dim)``, one row per feature: row ``i`` is the
    direction in which feature ``i`` is written into ``h``. Trained with plain
    ``compile(optimizer, loss="mse")`` and ``fit(x, x)``. With sparse features the model
    stores more features than it has dimensions, in nearly orthogonal directions.
    """

    def __init__(self, n_features, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.n_features = _checks.positive_int("n_features", n_features)
        self.hidden_dim = _checks.positive_int("hidden_dim", hidden_dim)
        self.w = self.add_weight(shape=(self.n_features, self.hidden_dim), name="w",
                                 initializer="glorot_normal")
        self.b = self.add_weight(shape=(self.n_features,), name="b", initializer="zeros")

    def hidden(self, x):
        """``x -> h = x W``; NumPy in, NumPy out (tensors in, tensors out)."""
        if ops.is_tensor(x):
            return ops.matmul(x, self.w)
        x = _checks.batch("x", x, (self.n_features,))
        return ops.convert_to_numpy(ops.matmul(ops.convert_to_tensor(x), self.w))

    def call(self, x):
        h = ops.matmul(x, self.w)                                     # (batch, hidden_dim)
        return ops.relu(ops.matmul(h, ops.transpose(self.w)) + self.b)  # (batch, n_features)

    def feature_directions(self) -> np.ndarray:
        """The true feature directions in ``h``: ``W``'s rows, ``(n_features, hidden_dim)``
        (not normalised: a row's length says how strongly the feature is represented)."""
        return ops.convert_to_numpy(self.w)

    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features,
                "hidden_dim": self.hidden_dim}


# -- a sparse autoencoder's dictionary -------------------------------------------------------
def dictionary(autoencoder) -> np.ndarray:
    """The learned directions of a sparse autoencoder with a linear decoder: the rows of
    the kernel of the decoder's first `Dense` layer, one per latent, scaled to length 1:
    ``(latent_dim, output_dim)``. Latent ``j`` adds ``z_j`` times its row to the output."""
    kernel = ops.convert_to_numpy(_dictionary_layer(autoencoder).kernel).astype(np.float64)
    norms = np.linalg.norm(kernel, axis=1, keepdims=True)
    return kernel / np.where(norms == 0, 1.0, norms)


def _dictionary_layer(autoencoder):
    dense = [l for l in autoencoder.decoder.layers if isinstance(l, keras.layers.Dense)]
    if len(dense) != 1 or dense[0].activation not in (None, keras.activations.linear):
        raise ValueError("a sparse autoencoder's dictionary is a decoder with exactly one "
                         "Dense layer and no activation (dense_decoder(..., "
                         f"output_activation=None)); got {len(dense)} Dense layers.")
    return dense[0]


def tie_encoder_to_decoder(autoencoder) -> None:
    """Start a sparse autoencoder from Gao et al. (2024)'s initialisation: the decoder's
    rows (its dictionary) scaled to length 1, and the encoder's last `Dense` kernel set to
    their transpose, so that each latent first reads the direction it writes. Gao et al.
    found that this keeps most latents of a TopK autoencoder from dying. In place."""
    decoder = _dictionary_layer(autoencoder)
    encoder = [l for l in autoencoder.encoder.layers if isinstance(l, keras.layers.Dense)]
    rows = ops.convert_to_numpy(decoder.kernel)                       # (latents, dims)
    if not encoder or tuple(encoder[-1].kernel.shape) != rows.T.shape:
        raise ValueError("the encoder's last layer must be a Dense layer with kernel shape "
                         f"{rows.T.shape}, the transpose of the decoder's.")
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    decoder.kernel.assign(rows)
    encoder[-1].kernel.assign(rows.T)


# -- capturing and patching a classifier's activations ---------------------------------------
def split_at(model, layer):
    """Cut a `keras.Sequential` model after `layer` (a name or an index into
    ``model.layers``).

    Returns:
        ``(head, tail)``, two `keras.Sequential` models that share the model's layers and
        weights: ``head(x)`` is the layer's output, ``tail(head(x))`` equals ``model(x)``.
        Capture activations with ``head.predict(x)``; run the rest of the network on
        edited activations ``a`` with ``tail.predict(a)``.
    """
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"split_at needs a keras.Sequential model, got "
                         f"{type(model).__name__}.")
    names = [l.name for l in model.layers]
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not in the model; its layers are {names}.")
        index = names.index(layer)
    elif isinstance(layer, int) and not isinstance(layer, bool):
        if not -len(names) <= layer < len(names):
            raise ValueError(f"layer={layer} is out of range for {len(names)} layers.")
        index = layer % len(names)
    else:
        raise ValueError(f"layer must be a layer name or an index, got layer={layer!r}.")
    if index == len(names) - 1:
        raise ValueError(f"layer={layer!r} is the last layer: nothing would be left for "
                         "the tail.")
    layers = model.layers
    head = keras.Sequential([keras.Input(model.input_shape[1:]), *layers[:index + 1]],
                            name=f"{model.name}_head")
    tail = keras.Sequential([keras.Input(head.output_shape[1:]), *layers[index + 1:]],
                            name=f"{model.name}_tail")
    return head, tail


# -- what a latent responds to -----------------------------------------------------------------
def top_inputs(z, latent, n=10) -> np.ndarray:
    """Indices of the `n` inputs on which `latent` (a column of `z`) is largest, largest
    first; only inputs where it is active (non-zero) count, so fewer may come back."""
    z = _checks.matrix("z", z)
    latent = int(latent)
    if not 0 <= latent < z.shape[1]:
        raise ValueError(f"latent={latent} is out of range for {z.shape[1]} latents.")
    n = _checks.positive_int("n", n)
    order = np.argsort(-z[:, latent], kind="stable")[:n]
    return order[z[order, latent] != 0]


def label_purity(z, labels, n=10) -> np.ndarray:
    """For each latent (column of `z`), the share of its `n` top inputs (`top_inputs`)
    that carry the most common label among them: 1 when all its top inputs are of one class.
    NaN for latents active on fewer than `n` inputs. Shape ``(latents,)``."""
    z = _checks.matrix("z", z)
    labels = np.asarray(labels)
    if labels.shape != (len(z),):
        raise ValueError(f"labels must have one entry per row of z, shape ({len(z)},), got "
                         f"{labels.shape}.")
    n = _checks.positive_int("n", n)
    purity = np.full(z.shape[1], np.nan)
    for j in range(z.shape[1]):
        top = top_inputs(z, j, n)
        if len(top) == n:
            purity[j] = np.unique(labels[top], return_counts=True)[1].max() / n
    return purity
