"""The scikit-learn estimators."""

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.vae import VAE

__all__ = ["AutoEncoder", "BaseAutoEncoder", "VAE"]
