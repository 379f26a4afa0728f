"""Autoencoders by composition: an encoder, a decoder and optional parts.

``Autoencoder(encoder, decoder, corruption=None, code=None, reconstruction="mse")`` is the
one model class; the builders make the usual halves and the parts add what makes a variant:

>>> from aecore.models import Autoencoder, Corruption, conv_decoder, conv_encoder
>>> denoising_conv = Autoencoder(conv_encoder((28, 28, 1), 32), conv_decoder(32, (28, 28, 1)),
...                              corruption=Corruption("gaussian", 0.3))
"""

from aecore.models.autoencoder import Autoencoder
from aecore.models.builders import conv_decoder, conv_encoder, dense_decoder, dense_encoder
from aecore.models.conditioning import ClassCondition
from aecore.models.conv1d import conv1d_decoder, conv1d_encoder
from aecore.models.masking import (HiddenPatchLoss, PatchDecoder, PatchEncoder,
                                   mae_decoder, mae_encoder, mae_features, masked_error,
                                   masked_images, paste_visible, patchify, pca_fill,
                                   reconstruct_masked, unpatchify)
from aecore.models.parts import Corruption, GaussianCode, KLSparseCode, L1Code, TopKCode
from aecore.models.quantizers import (FSQ, RestartDeadCodes, VectorQuantizer, grid_decoder,
                                      grid_encoder)

__all__ = ["Autoencoder", "Corruption", "GaussianCode", "KLSparseCode", "L1Code", "TopKCode",
           "conv1d_decoder", "conv1d_encoder", "conv_decoder", "conv_encoder",
           "dense_decoder", "dense_encoder",
           "FSQ", "RestartDeadCodes", "VectorQuantizer", "grid_decoder", "grid_encoder",
           "ClassCondition", "HiddenPatchLoss", "PatchDecoder", "PatchEncoder", "mae_decoder",
           "mae_encoder", "mae_features", "masked_error", "masked_images", "paste_visible",
           "patchify",
           "pca_fill", "reconstruct_masked", "unpatchify"]
