"""The scikit-learn estimators."""

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.contractive import ContractiveAutoEncoder
from aekit.estimators.denoising import DenoisingAutoEncoder
from aekit.estimators.sparse import SparseAutoEncoder
from aekit.estimators.stacked import StackedAutoEncoder
from aekit.estimators.vae import VAE

__all__ = [
    "AutoEncoder",
    "BaseAutoEncoder",
    "ContractiveAutoEncoder",
    "DenoisingAutoEncoder",
    "SparseAutoEncoder",
    "StackedAutoEncoder",
    "VAE",
]
