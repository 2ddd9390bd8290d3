"""aekit: representation learning with autoencoders.

>>> import aekit
>>> X, y = aekit.datasets.load_digits()
>>> vae = aekit.VAE(latent_dim=2, epochs=5, random_state=0).fit(X)
>>> vae.transform(X).shape
(1797, 2)
"""

from aekit import data as datasets
from aekit import metrics, tracking
from aekit.estimators import ESTIMATORS, BaseAutoEncoder, ModelFileError, load_estimator as load
from aekit.estimators.callbacks import Callback
from aekit.uses import AnomalyDetector, DeepClustering, attribute_vector, interpolate, shift, traverse

globals().update(ESTIMATORS)  # every registered family, by class name (aekit.VAE, aekit.BetaTCVAE, ...)

__version__ = "0.1.0"

__all__ = [
    *ESTIMATORS,
    "AnomalyDetector",
    "BaseAutoEncoder",
    "Callback",
    "DeepClustering",
    "ModelFileError",
    "attribute_vector",
    "datasets",
    "interpolate",
    "load",
    "metrics",
    "shift",
    "tracking",
    "traverse",
    "__version__",
]
