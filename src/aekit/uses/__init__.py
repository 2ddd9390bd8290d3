"""What autoencoders are for: anomaly detection, clustering, sampling, latent navigation."""

from aekit.uses.anomaly import AnomalyDetector
from aekit.uses.clustering import DeepClustering
from aekit.uses.arithmetic import attribute_vector, shift
from aekit.estimators.code_density import fit_code_density, sample_code_density
from aekit.uses.navigation import interpolate, interpolate_codes, traverse

__all__ = [
    "AnomalyDetector",
    "DeepClustering",
    "attribute_vector",
    "fit_code_density",
    "interpolate",
    "interpolate_codes",
    "sample_code_density",
    "shift",
    "traverse",
]
