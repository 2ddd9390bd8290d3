"""What autoencoders are for: anomaly detection, sampling, latent navigation."""

from aekit.uses.anomaly import AnomalyDetector
from aekit.estimators.code_density import fit_code_density, sample_code_density
from aekit.uses.navigation import interpolate, interpolate_codes, traverse

__all__ = ["AnomalyDetector", "fit_code_density", "interpolate", "interpolate_codes", "sample_code_density", "traverse"]
