"""The one autoencoder model of the book: an encoder, a decoder and optional parts."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from aecore import _checks
from aecore.losses import RECONSTRUCTION_LOSSES


def _output_dim(model, what):
    shape = tuple(model.output_shape)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(f"the {what} must output flat vectors (batch, units), "
                         f"got output shape {shape}.")
    return int(shape[-1])


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
    masked (MAE)              ``Autoencoder(mae_encoder(...), mae_decoder(...),``
                              ``code=HiddenPatchLoss(4))``
    conditional               ``..., condition=ClassCondition(10)``, called on ``[x, y]``
    ========================  =================================================

    Args:
        encoder: a built Keras model ``(batch, *input_shape) -> (batch, units)``.
        decoder: a built Keras model ``(batch, latent_dim) -> (batch, *input_shape)``.
        corruption: optional layer applied to the input while training (`Corruption`).
        code: optional code part between encoder and decoder (`GaussianCode`, `L1Code`,
            `KLSparseCode`, `TopKCode`); it may add loss terms.
        reconstruction: ``"mse"`` (mean over values) or ``"bernoulli"`` (binary
            cross-entropy summed over values, the VAE's likelihood).
        condition: optional `ClassCondition`: the model is then called on ``[x, labels]``
            (``fit([x, y])``), the encoder gets the one-hot label as extra channels and the
            decoder gets it after the code; `encode`, `decode`, `reconstruct` take
            ``labels=``.

    Training: ``model.compile(optimizer="adam")`` then ``model.fit(x, epochs=...)`` (or
    ``fit(x_noisy, x_clean)``). The loss is the sum of the terms of `objective`, and `fit`
    logs each term by name next to their sum, ``loss``; `loss_terms` evaluates them on any
    batch at inference.

    Inference: `encode`, `decode` and `reconstruct` take NumPy arrays (checked, run in
    batches, NumPy returned) or tensors (called directly). Nothing is corrupted or sampled
    at inference: a VAE's `encode` returns ``z_mean``.
    """

    def __init__(self, encoder, decoder, *, corruption=None, code=None,
                 reconstruction="mse", condition=None, **kwargs):
        super().__init__(**kwargs)
        for what, part in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(part, keras.Model):
                raise ValueError(f"{what} must be a keras.Model (e.g. aecore.models.dense_"
                                 f"{what}(...)), got {type(part).__name__}.")
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction must be one of {tuple(RECONSTRUCTION_LOSSES)}, "
                             f"got reconstruction={reconstruction!r}.")
        self.encoder, self.decoder = encoder, decoder
        self.corruption, self.code, self.reconstruction = corruption, code, reconstruction
        self.condition = condition
        self.sample_shape = tuple(int(d) for d in encoder.input_shape[1:])
        extra = 0  # label values the decoder takes after the code
        if condition is not None:
            self.sample_shape = condition.sample_shape(self.sample_shape)
            extra = condition.n_classes
        units = _output_dim(encoder, "encoder")
        self.latent_dim = code.code_dim(units) if code is not None else units
        if tuple(decoder.input_shape[1:]) != (self.latent_dim + extra,):
            raise ValueError(f"the decoder takes {tuple(decoder.input_shape[1:])}, but the "
                             f"code has {self.latent_dim} numbers"
                             + (f" and the label {extra}." if extra else "."))
        if tuple(decoder.output_shape[1:]) != self.sample_shape:
            raise ValueError(f"the decoder outputs {tuple(decoder.output_shape[1:])}, but the "
                             f"encoder takes {self.sample_shape}.")
        names = ["reconstruction", *(code.terms if code is not None else ())]
        # Keras tracks these (model.metrics lists each once), so fit logs every term by name
        self.term_trackers = {n: keras.metrics.Mean(name=n) for n in names}
        if condition is None:
            self.build((None, *self.sample_shape))
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
        return self.decoder(self._join_code(z, labels), training=training)

    def _join_input(self, x, labels):
        return x if self.condition is None else self.condition.join_input(x, labels)

    def _join_code(self, z, labels):
        return z if self.condition is None else self.condition.join_code(z, labels)

    def objective(self, x, x_hat, h, z):
        """The training objective, term by term; the loss is the sum of the terms.

        `x` is the target, `x_hat` the reconstruction, `h` the encoder's output and `z`
        the code the decoder received (the same as `h` without a code part).
        """
        reconstruction = RECONSTRUCTION_LOSSES[self.reconstruction]   # mse or bernoulli
        own = getattr(self.code, "reconstruction_term", None)  # a part may score its own way
        terms = {"reconstruction": ops.mean(reconstruction(x, x_hat)) if own is None
                 else own(x, x_hat, h)}                   # (an MAE: hidden patches only)
        if self.code is not None:
            terms.update(self.code.loss_terms(h, z))  # kl, l1 or sparsity, weighted
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
                "an Autoencoder computes its own loss (see Autoencoder.objective): compile it with an "
                "optimizer only, e.g. model.compile(optimizer='adam'), and choose the "
                f"reconstruction loss with Autoencoder(..., reconstruction=...); got "
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
        return _checks.batch("x", x, self.sample_shape, unit_range=bounded)

    def _check_labels(self, labels, n):
        if self.condition is None:
            if labels is not None:
                raise ValueError("labels= is for a conditional Autoencoder (condition="
                                 "ClassCondition(...)); this one has no condition.")
            return None
        return self.condition.check_labels(labels, n)

    def _predict_encoder(self, x, labels, batch_size):
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
            return h if self.code is None else ops.convert_to_numpy(self.code(h))
        h = self.encoder(self._join_input(x, labels), training=False)
        return h if self.code is None else self.code(h, training=False)

    def encode_raw(self, x, batch_size=256, labels=None) -> np.ndarray:
        """The encoder's own output, before the code part (a VAE: z_mean and z_log_var)."""
        x = self._check_inputs(x)
        return self._predict_encoder(x, self._check_labels(labels, len(x)), batch_size)

    def decode(self, z, batch_size=256, labels=None):
        """``z -> x_hat``; NumPy in, NumPy out."""
        if not ops.is_tensor(z):
            z = _checks.batch("z", z, (self.latent_dim,))
            labels = self._check_labels(labels, len(z))
            if labels is not None:
                z = ops.convert_to_numpy(self._join_code(z, labels))
            return self.decoder.predict(z, batch_size=batch_size, verbose=0)
        return self.decoder(self._join_code(z, labels), training=False)

    def reconstruct(self, x, batch_size=256, labels=None) -> np.ndarray:
        """``x -> x_hat`` at inference (no corruption, no sampling), as NumPy."""
        x = self._check_inputs(x)
        labels = self._check_labels(labels, len(x))
        inputs = x if labels is None else [x, labels]
        return self.predict(inputs, batch_size=batch_size, verbose=0)

    # -- saving ---------------------------------------------------------------------------------
    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(),
                "encoder": serialize(self.encoder), "decoder": serialize(self.decoder),
                "corruption": serialize(self.corruption), "code": serialize(self.code),
                "reconstruction": self.reconstruction,
                "condition": serialize(self.condition)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "corruption", "code", "condition"):
            config[key] = keras.saving.deserialize_keras_object(config.get(key))
        return cls(**config)
