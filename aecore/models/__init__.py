"""Autoencoders by composition: an encoder, a decoder and optional parts.

``Autoencoder(encoder, decoder, corruption=None, code=None, reconstruction="mse")`` is the
one model class; the builders make the usual halves and the parts add what makes a variant:

>>> from aecore.models import Autoencoder, Corruption, conv_decoder, conv_encoder
>>> denoising_conv = Autoencoder(conv_encoder((28, 28, 1), 32), conv_decoder(32, (28, 28, 1)),
...                              corruption=Corruption("gaussian", 0.3))

- `autoencoder`: `Autoencoder`;
- `builders`: the halves (dense, convolutional, 1-D convolutional, grid, masked) and
  `masked_autoencoder`;
- `parts`: `Corruption` and the code parts `GaussianCode`, `L1Code`, `KLSparseCode`,
  `TopKCode`; `quantizers`: the discrete code parts `VectorQuantizer`, `FSQ` and the
  `RestartDeadCodes` callback; `conditioning`: `ClassCondition`;
- `masking`: the masked autoencoder's layers and masks; `transformer`: generic token layers;
- `prior`: a learned prior over discrete codes (`code_prior`).
"""

from aecore.models.autoencoder import Autoencoder
from aecore.models.builders import (conv1d_decoder, conv1d_encoder, conv_decoder,
                                    conv_encoder, dense_decoder, dense_encoder,
                                    grid_decoder, grid_encoder, mae_decoder, mae_encoder,
                                    masked_autoencoder)
from aecore.models.conditioning import ClassCondition
from aecore.models.masking import (PatchDecoder, PatchEncoder, mae_features,
                                   reconstruct_masked)
from aecore.models.parts import Corruption, GaussianCode, KLSparseCode, L1Code, TopKCode
from aecore.models.prior import code_prior, prior_bits, prior_inputs, sample_prior
from aecore.models.quantizers import FSQ, RestartDeadCodes, VectorQuantizer

__all__ = ["Autoencoder", "ClassCondition", "Corruption", "FSQ", "GaussianCode",
           "KLSparseCode", "L1Code", "PatchDecoder", "PatchEncoder", "RestartDeadCodes",
           "TopKCode", "VectorQuantizer", "code_prior", "conv1d_decoder", "conv1d_encoder",
           "conv_decoder", "conv_encoder", "dense_decoder", "dense_encoder", "grid_decoder",
           "grid_encoder", "mae_decoder", "mae_encoder", "mae_features", "masked_autoencoder",
           "prior_bits", "prior_inputs", "reconstruct_masked", "sample_prior"]
