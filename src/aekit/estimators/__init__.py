"""The scikit-learn estimators; importing this package registers every family (see :mod:`.registry`)."""

from aekit.estimators import registry
from aekit.estimators.aae import AdversarialAutoEncoder
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import BaseAutoEncoder, DataScaleWarning
from aekit.estimators.contractive import ContractiveAutoEncoder
from aekit.estimators.denoising import DenoisingAutoEncoder
from aekit.estimators.dipvae import DIPVAE
from aekit.estimators.factorvae import FactorVAE
from aekit.estimators.flow import Flow
from aekit.estimators.persistence import ModelFileError, load_estimator
from aekit.estimators.rbm import DBN, RBM
from aekit.estimators.sparse import SparseAutoEncoder
from aekit.estimators.stacked import StackedAutoEncoder
from aekit.estimators.tabular import TabularAutoEncoder, TabularVAE
from aekit.estimators.tcvae import BetaTCVAE
from aekit.estimators.vae import VAE
from aekit.estimators.vaegan import VAEGAN
from aekit.estimators.vqvae import VQVAE
from aekit.estimators.wae import WassersteinAutoEncoder

ESTIMATORS = {cls.__name__: cls for cls in registry.library_estimators()}

__all__ = ["BaseAutoEncoder", "DataScaleWarning", "ModelFileError", "load_estimator", *ESTIMATORS]
