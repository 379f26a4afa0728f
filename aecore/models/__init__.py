"""Autoencoder models. Each is a `keras.Model`: ``model(x) -> x_hat``, ``encode``, ``decode``."""

from aecore.models.base import Autoencoder
from aecore.models.dense import DenseAutoencoder

__all__ = ["Autoencoder", "DenseAutoencoder"]
