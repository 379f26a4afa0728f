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
    ========================  =================================================

    Args:
        encoder: a built Keras model ``(batch, *input_shape) -> (batch, units)``.
        decoder: a built Keras model ``(batch, latent_dim) -> (batch, *input_shape)``.
        corruption: optional layer applied to the input while training (`Corruption`).
        code: optional code part between encoder and decoder (`GaussianCode`, `L1Code`,
            `KLSparseCode`, `TopKCode`); it may add loss terms.
        reconstruction: ``"mse"`` (mean over values) or ``"bernoulli"`` (binary
            cross-entropy summed over values, the VAE's likelihood).

    Training: ``model.compile(optimizer="adam")`` then ``model.fit(x, epochs=...)`` (or
    ``fit(x_noisy, x_clean)``). The loss is the sum of the terms of `objective`, and `fit`
    logs each term by name next to their sum, ``loss``; `loss_terms` evaluates them on any
    batch at inference.

    Inference: `encode`, `decode` and `reconstruct` take NumPy arrays (checked, run in
    batches, NumPy returned) or tensors (called directly). Nothing is corrupted or sampled
    at inference: a VAE's `encode` returns ``z_mean``.
    """

    def __init__(self, encoder, decoder, *, corruption=None, code=None,
                 reconstruction="mse", **kwargs):
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
        self.sample_shape = tuple(int(d) for d in encoder.input_shape[1:])
        units = _output_dim(encoder, "encoder")
        self.latent_dim = code.code_dim(units) if code is not None else units
        if tuple(decoder.input_shape[1:]) != (self.latent_dim,):
            raise ValueError(f"the decoder takes {tuple(decoder.input_shape[1:])}, but the "
                             f"code has {self.latent_dim} numbers.")
        if tuple(decoder.output_shape[1:]) != self.sample_shape:
            raise ValueError(f"the decoder outputs {tuple(decoder.output_shape[1:])}, but the "
                             f"encoder takes {self.sample_shape}.")
        names = ["reconstruction", *(code.terms if code is not None else ())]
        # Keras tracks these (model.metrics lists each once), so fit logs every term by name
        self.term_trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.build((None, *self.sample_shape))

    # -- the forward pass and the objective ---------------------------------------------------
    def call(self, x, training=None):
        if self.corruption is not None:
            x = self.corruption(x, training=training)   # identity unless training
        h = self.encoder(x, training=training)
        z = h if self.code is None else self.code(h, training=training)
        # kept for compute_loss, which runs next in the same step (on any backend)
        object.__setattr__(self, "_step_codes", (h, z))
        return self.decoder(z, training=training)

    def objective(self, x, x_hat, h, z):
        """The training objective, term by term; the loss is the sum of the terms.

        `x` is the target, `x_hat` the reconstruction, `h` the encoder's output and `z`
        the code the decoder received (the same as `h` without a code part).
        """
        reconstruction = RECONSTRUCTION_LOSSES[self.reconstruction]   # mse or bernoulli
        terms = {"reconstruction": ops.mean(reconstruction(x, x_hat))}
        if self.code is not None:
            terms.update(self.code.loss_terms(h, z))  # kl, l1 or sparsity, weighted
        return terms

    def loss_terms(self, x, x_hat):
        """`objective` on a batch at inference: the code part's terms are those of ``x``'s
        own pass, uncorrupted and unsampled. ``x_hat`` is any reconstruction of ``x``, e.g.
        ``model.reconstruct(x)``."""
        if not ops.is_tensor(x):
            x = self._check_inputs(x)
        h = self.encoder(x, training=False)
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
        terms = self.objective(x if y is None else y, y_pred, h, z)
        batch = ops.shape(y_pred)[0]  # weighted like Keras' own "loss", so the logs add up
        for name, value in terms.items():
            self.term_trackers[name].update_state(value, sample_weight=batch)
        return ops.sum(ops.stack(list(terms.values())))

    # -- inference ----------------------------------------------------------------------------
    def _check_inputs(self, x):
        activations = [l.activation for l in self.decoder.layers if hasattr(l, "activation")]
        bounded = bool(activations) and getattr(activations[-1], "__name__", "") == "sigmoid"
        return _checks.batch("x", x, self.sample_shape, unit_range=bounded)

    def encode(self, x, batch_size=256):
        """``x -> z`` at inference (a VAE: ``z_mean``); NumPy in, NumPy out."""
        if not ops.is_tensor(x):
            x = self._check_inputs(x)
            h = self.encoder.predict(x, batch_size=batch_size, verbose=0)
            return h if self.code is None else ops.convert_to_numpy(self.code(h))
        h = self.encoder(x, training=False)
        return h if self.code is None else self.code(h, training=False)

    def encode_raw(self, x, batch_size=256) -> np.ndarray:
        """The encoder's own output, before the code part (a VAE: z_mean and z_log_var)."""
        x = self._check_inputs(x)
        return self.encoder.predict(x, batch_size=batch_size, verbose=0)

    def decode(self, z, batch_size=256):
        """``z -> x_hat``; NumPy in, NumPy out."""
        if not ops.is_tensor(z):
            z = _checks.batch("z", z, (self.latent_dim,))
            return self.decoder.predict(z, batch_size=batch_size, verbose=0)
        return self.decoder(z, training=False)

    def reconstruct(self, x, batch_size=256) -> np.ndarray:
        """``x -> x_hat`` at inference (no corruption, no sampling), as NumPy."""
        x = self._check_inputs(x)
        return self.predict(x, batch_size=batch_size, verbose=0)

    # -- saving ---------------------------------------------------------------------------------
    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(),
                "encoder": serialize(self.encoder), "decoder": serialize(self.decoder),
                "corruption": serialize(self.corruption), "code": serialize(self.code),
                "reconstruction": self.reconstruction}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "corruption", "code"):
            config[key] = keras.saving.deserialize_keras_object(config.get(key))
        return cls(**config)
