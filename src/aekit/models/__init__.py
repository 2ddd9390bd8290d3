"""Torch modules, one file per model family, all with encode / decode / loss_terms."""

from aekit.models.autoencoder import AutoEncoderModule, Penalty
from aekit.models.base import AutoencoderModule
from aekit.models.vae import VAEModule

__all__ = ["AutoEncoderModule", "AutoencoderModule", "Penalty", "VAEModule"]
