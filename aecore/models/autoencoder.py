"""The one autoencoder model of the book: an encoder, a decoder and optional parts."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aecore import _checks, losses


def _shapes(shape):
    """A model's input or output shape without the batch axis: a tuple, or a list of
    tuples for several tensors (a masked autoencoder's code is ``[tokens, hidden]``)."""
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(shape_i[1:]) for shape_i in shape]
    return tuple(shape[1:])


def _with_batch(shapes):
    if isinstance(shapes, list):
        return [(None, *s) for s in shapes]
    return (None, *shapes)


def _float32(value):
    """Losses are computed in float32 whatever the layers' precision (mixed precision)."""
    if isinstance(value, (list, tuple)):
        return [_float32(v) for v in value]
    return ops.cast(value, "float32")


def _empty(shapes):
    """An empty batch of the given per-sample shape(s), as NumPy float32."""
    if isinstance(shapes, list):
        return [np.zeros((0, *s), dtype="float32") for s in shapes]
    return np.zeros((0, *shapes), dtype="float32")


@keras.saving.register_keras_serializable(package="aecore")
class Autoencoder(keras.Model):
    """``x -> [corruption] -> encoder -> [code part] -> decoder -> x_hat``.

    Every autoencoder of the book is this class with other halves and parts:

    ========================  =================================================
    basic, deep               ``Autoencoder(dense_encoder(...), dense_decoder(...))``
    convolutional             ``Autoencoder(conv_encoder(...), conv_decoder(...))``
    denoising                 ``..., corruption=Corruption("gaussian", 0.3)``
    sparse                    ``..., code=KLSparseCode(0.05)``, `L1Code`, `TopKCode`
    variational               ``..., code=GaussianCode(), reconstruction="bernoulli"``
    vector-quantised          ``Autoencoder(grid_encoder(...), grid_decoder(...),``
                              ``code=VectorQuantizer(64, 8))`` (or `FSQ`)
    masked (MAE)              ``Autoencoder(mae_encoder(...), mae_decoder(...),``
                              ``reconstruction=HiddenPatchMSE())``
    conditional               ``..., condition=ClassCondition(10)``, called on ``[x, y]``
    ========================  =================================================

    Args:
        encoder: a built Keras model ``(batch, *input_shape) -> h``; ``h`` has any shape: a
            vector ``(batch, units)``, a grid ``(batch, 7, 7, d)``, or a list of tensors.
        decoder: a built Keras model from the code to ``(batch, *input_shape)``; it must
            take exactly the shape the code has (checked here).
        corruption: optional layer applied to the input while training (`Corruption`).
        code: optional code part between encoder and decoder (`GaussianCode`, `L1Code`,
            `KLSparseCode`, `TopKCode`, `VectorQuantizer`, `FSQ`); it may add loss terms.
            It works on the last axis of the encoder's output, whatever its rank, and says
            when it cannot take that shape.
        reconstruction: ``"mse"`` (mean over values), ``"bernoulli"`` (binary
            cross-entropy summed over values, the VAE's likelihood) or a loss object from
            `aecore.losses` (`HiddenPatchMSE` for a masked autoencoder).
        condition: optional `ClassCondition`: the model is then called on ``[x, labels]``
            (``fit([x, y])``), the encoder gets the one-hot label as extra channels and the
            decoder gets it after the code; `encode`, `decode`, `reconstruct` take
            ``labels=``.

    Attributes:
        sample_shape: the shape of one input sample.
        code_shape: the shape of one sample's code ``z`` (a list of shapes for a code of
            several tensors).
        latent_dim: the number of numbers in one code (``code_shape``'s size), or None for
            a code of several tensors.

    Training: ``model.compile(optimizer="adam")`` then ``model.fit(x, epochs=...)`` (or
    ``fit(x_noisy, x_clean)``). The loss is the sum of the terms of `objective`, and `fit`
    logs each term by name next to their sum, ``loss``; `loss_terms` evaluates them on any
    batch at inference. Losses are computed in float32, so the model trains under Keras'
    mixed precision (``keras.mixed_precision.set_global_policy("mixed_bfloat16")``).

    Inference: `encode`, `decode` and `reconstruct` take NumPy arrays (checked, run in
    batches, NumPy returned; an empty batch gives an empty array) or tensors (called
    directly). Nothing is corrupted or sampled at inference: a VAE's `encode` returns
    ``z_mean``.
    """

    def __init__(self, encoder, decoder, *, corruption=None, code=None,
                 reconstruction="mse", condition=None, **kwargs):
        super().__init__(**kwargs)
        for what, part in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(part, keras.Model):
                raise ValueError(f"{what} must be a keras.Model (e.g. aecore.models.dense_"
                                 f"{what}(...)), got {type(part).__name__}.")
        self.encoder, self.decoder = encoder, decoder
        self.corruption, self.code, self.condition = corruption, code, condition
        self.reconstruction = reconstruction
        self.reconstruction_loss = losses.reconstruction_loss(reconstruction)
        self.reconstruction_loss.check_model(encoder, decoder)
        self.sample_shape = _shapes(encoder.input_shape)
        if condition is not None:
            self.sample_shape = condition.sample_shape(self.sample_shape)
        h_shape = encoder.output_shape
        z_shape = h_shape if code is None else code.compute_output_shape(h_shape)
        self.code_shape = _shapes(z_shape)
        self.latent_dim = (None if isinstance(self.code_shape, list)
                           else math.prod(self.code_shape))
        takes = self.code_shape if condition is None else condition.code_shape(self.code_shape)
        if _shapes(decoder.input_shape) != takes:
            label = " with the label joined" if condition is not None else ""
            raise ValueError(f"the decoder takes {_shapes(decoder.input_shape)}, but the "
                             f"code{label} has shape {takes} (encoder output "
                             f"{_shapes(h_shape)}"
                             + (f", then {type(code).__name__}" if code is not None else "")
                             + ").")
        if _shapes(decoder.output_shape) != self.sample_shape:
            raise ValueError(f"the decoder outputs {_shapes(decoder.output_shape)}, but the "
                             f"encoder takes {self.sample_shape}.")
        names = ["reconstruction", *(code.terms if code is not None else ())]
        # Keras tracks these (model.metrics lists each once), so fit logs every term by name
        self.term_trackers = {n: keras.metrics.Mean(name=n) for n in names}
        if condition is None:
            self.build(_with_batch(self.sample_shape))
        else:
            self.built = True  # the halves are built; the model has no weights of its own

    # -- the forward pass and the objective ---------------------------------------------------
    def call(self, x, training=None):
        labels = None
        if self.condition is not None:
            x, labels = x                                # called on [x, labels]
        if self.corruption is not None:
            x = self.corruption(x, training=training)   # identity unless training
        h = self.encoder(self._join_input(x, labels), training=training)
        z = h if self.code is None else self.code(h, training=training)
        # kept for compute_loss, which runs next in the same step (on any backend)
        object.__setattr__(self, "_step_codes", (h, z))
        x_hat = self.decoder(self._join_code(z, labels), training=training)
        return ops.cast(x_hat, "float32")               # float32 out, also in mixed precision

    def _join_input(self, x, labels):
        return x if self.condition is None else self.condition.join_input(x, labels)

    def _join_code(self, z, labels):
        return z if self.condition is None else self.condition.join_code(z, labels)

    def objective(self, x, x_hat, h, z):
        """The training objective, term by term; the loss is the sum of the terms.

        `x` is the target, `x_hat` the reconstruction, `h` the encoder's output and `z`
        the code the decoder received (the same as `h` without a code part).
        """
        x, x_hat, h, z = _float32(x), _float32(x_hat), _float32(h), _float32(z)
        terms = {"reconstruction": ops.mean(self.reconstruction_loss(x, x_hat, z))}
        if self.code is not None:
            terms.update(self.code.loss_terms(h, z))  # kl, l1, sparsity, codebook, ...
        return terms

    def loss_terms(self, x, x_hat, labels=None):
        """`objective` on a batch at inference: the code part's terms are those of ``x``'s
        own pass, uncorrupted and unsampled. ``x_hat`` is any reconstruction of ``x``, e.g.
        ``model.reconstruct(x)``."""
        if not ops.is_tensor(x):
            x = self._check_inputs(x)
            labels = self._check_labels(labels, len(x))
        h = self.encoder(self._join_input(x, labels), training=False)
        z = h if self.code is None else self.code(h, training=False)
        return self.objective(x, x_hat, h, z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if getattr(self, "loss", None) is not None:  # set by compile(loss=...)
            raise ValueError(
                "an Autoencoder computes its own loss (see Autoencoder.objective): compile "
                "it with an optimizer only, e.g. model.compile(optimizer='adam'), and choose "
                "the reconstruction loss with Autoencoder(..., reconstruction=...); got "
                f"loss={self.loss!r}.")
        h, z = self._step_codes  # this step's forward pass, corrupted and sampled if training
        if y is None:  # the target is the input (a conditional model's x is [x, labels])
            y = x if self.condition is None else x[0]
        terms = self.objective(y, y_pred, h, z)
        batch = ops.shape(y_pred)[0]  # weighted like Keras' own "loss", so the logs add up
        for name, value in terms.items():
            self.term_trackers[name].update_state(value, sample_weight=batch)
        return ops.sum(ops.stack(list(terms.values())))

    # -- inference ----------------------------------------------------------------------------
    def _check_inputs(self, x):
        activations = [l.activation for l in self.decoder.layers if hasattr(l, "activation")]
        bounded = bool(activations) and getattr(activations[-1], "__name__", "") == "sigmoid"
        # a model trained on unclipped noise is meant for inputs outside [0, 1]
        unclipped = getattr(self.corruption, "kind", None) == "gaussian_unclipped"
        return _checks.batch("x", x, self.sample_shape, unit_range=bounded and not unclipped)

    def _check_codes(self, z):
        if isinstance(self.code_shape, list):
            if not isinstance(z, (list, tuple)) or len(z) != len(self.code_shape):
                raise ValueError(f"z must be a list of {len(self.code_shape)} arrays of "
                                 f"shapes {self.code_shape}, as encode returns it.")
            z = [_checks.batch(f"z[{i}]", zi, s) for i, (zi, s)
                 in enumerate(zip(z, self.code_shape))]
            if len({len(zi) for zi in z}) != 1:
                raise ValueError("the arrays of z must hold the same number of samples.")
            return z, len(z[0])
        z = _checks.batch("z", z, self.code_shape)
        return z, len(z)

    def _check_labels(self, labels, n):
        if self.condition is None:
            if labels is not None:
                raise ValueError("labels= is for a conditional Autoencoder (condition="
                                 "ClassCondition(...)); this one has no condition.")
            return None
        return self.condition.check_labels(labels, n)

    def _predict_encoder(self, x, labels, batch_size):
        if len(x) == 0:
            return _empty(_shapes(self.encoder.output_shape))
        if self.condition is None:
            return self.encoder.predict(x, batch_size=batch_size, verbose=0)
        return np.concatenate([ops.convert_to_numpy(self.encoder(  # joined batch by batch
            self._join_input(ops.convert_to_tensor(x[i:i + batch_size]),
                             labels[i:i + batch_size]), training=False))
            for i in range(0, len(x), batch_size)])

    def encode(self, x, batch_size=256, labels=None):
        """``x -> z`` at inference (a VAE: ``z_mean``); NumPy in, NumPy out."""
        if not ops.is_tensor(x):
            x = self._check_inputs(x)
            h = self._predict_encoder(x, self._check_labels(labels, len(x)), batch_size)
            if self.code is None:
                return h
            if len(x) == 0:
                return _empty(self.code_shape)
            return np.concatenate([ops.convert_to_numpy(self.code(h[i:i + batch_size]))
                                   for i in range(0, len(h), batch_size)])
        h = self.encoder(self._join_input(x, labels), training=False)
        return h if self.code is None else self.code(h, training=False)

    def encode_raw(self, x, batch_size=256, labels=None):
        """The encoder's own output, before the code part (a VAE: z_mean and z_log_var)."""
        x = self._check_inputs(x)
        return self._predict_encoder(x, self._check_labels(labels, len(x)), batch_size)

    def decode(self, z, batch_size=256, labels=None):
        """``z -> x_hat``; NumPy in, NumPy out."""
        if ops.is_tensor(z) or (isinstance(z, (list, tuple)) and z and ops.is_tensor(z[0])):
            return self.decoder(self._join_code(z, labels), training=False)
        z, n = self._check_codes(z)
        labels = self._check_labels(labels, n)
        if n == 0:
            return _empty(self.sample_shape)
        if labels is not None:
            z = ops.convert_to_numpy(self._join_code(z, labels))
        return self.decoder.predict(z, batch_size=batch_size, verbose=0).astype("float32")

    def reconstruct(self, x, batch_size=256, labels=None) -> np.ndarray:
        """``x -> x_hat`` at inference (no corruption, no sampling), as NumPy."""
        x = self._check_inputs(x)
        labels = self._check_labels(labels, len(x))
        if len(x) == 0:
            return _empty(self.sample_shape)
        inputs = x if labels is None else [x, labels]
        return self.predict(inputs, batch_size=batch_size, verbose=0)

    # -- saving ---------------------------------------------------------------------------------
    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        reconstruction = (self.reconstruction if isinstance(self.reconstruction, str)
                          else serialize(self.reconstruction))
        return {**super().get_config(),
                "encoder": serialize(self.encoder), "decoder": serialize(self.decoder),
                "corruption": serialize(self.corruption), "code": serialize(self.code),
                "reconstruction": reconstruction,
                "condition": serialize(self.condition)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "corruption", "code", "condition"):
            config[key] = keras.saving.deserialize_keras_object(config.get(key))
        if isinstance(config.get("reconstruction"), dict):
            config["reconstruction"] = keras.saving.deserialize_keras_object(
                config["reconstruction"])
        return cls(**config)
