"""aekit: representation learning with autoencoders.

>>> import aekit
>>> X, y = aekit.datasets.load_digits()
>>> vae = aekit.VAE(latent_dim=2, epochs=5, random_state=0).fit(X)
>>> vae.transform(X).shape
(1797, 2)
"""

from aekit import data as datasets
from aekit.estimators import (
    VAE,
    AutoEncoder,
    BaseAutoEncoder,
    ContractiveAutoEncoder,
    DenoisingAutoEncoder,
    SparseAutoEncoder,
    StackedAutoEncoder,
)
from aekit import metrics
from aekit.persistence import ModelFileError, load_estimator as load
from aekit.uses import AnomalyDetector, interpolate, traverse

__version__ = "0.1.0"

__all__ = [
    "AnomalyDetector",
    "VAE",
    "AutoEncoder",
    "BaseAutoEncoder",
    "ContractiveAutoEncoder",
    "DenoisingAutoEncoder",
    "SparseAutoEncoder",
    "StackedAutoEncoder",
    "ModelFileError",
    "datasets",
    "interpolate",
    "load",
    "metrics",
    "traverse",
    "__version__",
]
