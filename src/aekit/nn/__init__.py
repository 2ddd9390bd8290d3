"""Torch building blocks: encoders/decoders for any input shape and likelihoods."""

from aekit.nn.blocks import (
    ACTIVATIONS,
    DEFAULT_HIDDEN,
    ConvDecoder,
    ConvEncoder,
    MLPDecoder,
    MLPEncoder,
    build_encoder_decoder,
    make_activation,
)
from aekit.nn.likelihoods import Bernoulli, Gaussian, Likelihood, SquaredError, make_likelihood

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_HIDDEN",
    "Bernoulli",
    "ConvDecoder",
    "ConvEncoder",
    "Gaussian",
    "Likelihood",
    "MLPDecoder",
    "MLPEncoder",
    "SquaredError",
    "build_encoder_decoder",
    "make_activation",
    "make_likelihood",
]
