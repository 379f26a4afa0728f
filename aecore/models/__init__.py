"""Autoencoder models. Each is a `keras.Model`: ``model(x) -> x_hat``, ``encode``, ``decode``."""

from aecore.models.base import Autoencoder
from aecore.models.conv import ConvAutoencoder
from aecore.models.dense import DenseAutoencoder
from aecore.models.denoising import DenoisingAutoencoder
from aecore.models.layers import Corruption, Sampling
from aecore.models.sparse import SparseAutoencoder
from aecore.models.variational import VariationalAutoencoder

__all__ = ["Autoencoder", "ConvAutoencoder", "Corruption", "DenoisingAutoencoder",
           "DenseAutoencoder", "Sampling", "SparseAutoencoder", "VariationalAutoencoder"]
