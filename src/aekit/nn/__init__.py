"""Torch building blocks: encoders/decoders for any input shape, likelihoods and the vector quantizer."""

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
from aekit.nn.quantizer import VectorQuantizer

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
    "VectorQuantizer",
    "build_encoder_decoder",
    "make_activation",
    "make_likelihood",
]
