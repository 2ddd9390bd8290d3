"""Torch modules, one file per model family, and the loss terms they share (public contract)."""

from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.base import BaseModule
from aekit.models.rbm import ContrastiveDivergence, DeepBeliefNet, RBMModule
from aekit.models.terms import (
    Contraction,
    ForwardPass,
    GaussianKL,
    KLSparsity,
    L1Activity,
    LossTerm,
    Reconstruction,
    gaussian_kl,
    jacobian_squared_norm,
)
from aekit.models.vae import VAEModule
from aekit.models.vqvae import CodebookLoss, Commitment, QuantizedPass, VQVAEModule

__all__ = [
    "AutoEncoderModule",
    "BaseModule",
    "CodebookLoss",
    "Commitment",
    "Contraction",
    "ContrastiveDivergence",
    "DeepBeliefNet",
    "ForwardPass",
    "GaussianKL",
    "KLSparsity",
    "L1Activity",
    "LossTerm",
    "QuantizedPass",
    "RBMModule",
    "Reconstruction",
    "VAEModule",
    "VQVAEModule",
    "gaussian_kl",
    "jacobian_squared_norm",
]
