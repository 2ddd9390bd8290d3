"""Encoders and decoders for any input shape.

An encoder maps a batch of shape ``(n, *model_shape)`` to features of size
``encoder.out_features``; a latent head (see :mod:`aekit.nn.heads`) turns those
features into a code.  A decoder maps a code back to ``(n, *model_shape)``
*parameters* of the likelihood (logits for Bernoulli, means for Gaussian).

``model_shape`` is ``(d,)`` for the MLP and ``(channels, height, width)`` for the
convolutional pair.  The convolutional decoder mirrors the encoder layer by layer
with exactly chosen ``output_padding`` so that any height and width round-trip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

DEFAULT_HIDDEN = {"mlp": (256, 128), "conv": (32, 64)}


def make_activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"activation={name!r} is not supported; choose one of {sorted(ACTIVATIONS)}."
        ) from None


def _nonlinearity(activation: str, dropout: float) -> list[nn.Module]:
    """The activation, then dropout when ``dropout`` > 0.

    Without dropout no module is added, so models keep their layer names (and old
    model files load).
    """
    return [make_activation(activation), *([nn.Dropout(dropout)] if dropout else [])]


def _mlp_layers(sizes: Sequence[int], activation: str, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), *_nonlinearity(activation, dropout)]
    return layers


class MLPEncoder(nn.Sequential):
    """Flatten, then ``Linear -> activation [-> dropout]`` for each hidden size."""

    def __init__(self, model_shape: Sequence[int], hidden: Sequence[int], activation: str, dropout: float = 0.0):
        n_inputs = math.prod(model_shape)
        super().__init__(nn.Flatten(), *_mlp_layers([n_inputs, *hidden], activation, dropout))
        self.out_features = hidden[-1] if hidden else n_inputs


class MLPDecoder(nn.Sequential):
    """Mirror of :class:`MLPEncoder` ending in a linear layer (no output activation)."""

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int],
        model_shape: Sequence[int],
        activation: str,
        dropout: float = 0.0,
    ):
        sizes = [latent_dim, *reversed(hidden)]
        super().__init__(
            *_mlp_layers(sizes, activation, dropout),
            nn.Linear(sizes[-1], math.prod(model_shape)),
            nn.Unflatten(1, tuple(model_shape)),
        )


def conv_feature_shapes(model_shape: Sequence[int], channels: Sequence[int]) -> list[tuple[int, int, int]]:
    """Shapes ``(c, h, w)`` after each stride-2 convolution, input first."""
    shapes = [tuple(model_shape)]
    for c in channels:
        _, h, w = shapes[-1]
        shapes.append((c, (h - 1) // 2 + 1, (w - 1) // 2 + 1))
    return shapes


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1)


def _deconv(c_in: int, c_out: int, out_hw: tuple[int, int], in_hw: tuple[int, int]) -> nn.ConvTranspose2d:
    # With kernel 3, stride 2, padding 1 a transposed conv gives 2*in - 1 + output_padding;
    # choosing output_padding per axis inverts the encoder's size exactly (0 or 1).
    padding = tuple(o - 2 * i + 1 for o, i in zip(out_hw, in_hw))
    return nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=padding)


def conv_stack(shapes: Sequence[tuple[int, int, int]], activation: str, dropout: float = 0.0) -> list[nn.Module]:
    """``conv -> activation [-> dropout]`` from each shape of :func:`conv_feature_shapes` to the next."""
    layers: list[nn.Module] = []
    for (c_in, _, _), (c_out, _, _) in zip(shapes[:-1], shapes[1:]):
        layers += [_conv(c_in, c_out), *_nonlinearity(activation, dropout)]
    return layers


def deconv_stack(shapes: Sequence[tuple[int, int, int]], activation: str, dropout: float = 0.0) -> list[nn.Module]:
    """Transposed convolutions from the last of ``shapes`` back to the first, with no activation after the last."""
    layers: list[nn.Module] = []
    pairs = list(zip(shapes[1:], shapes[:-1]))[::-1]
    for k, ((c_in, h_in, w_in), (c_out, h_out, w_out)) in enumerate(pairs):
        layers.append(_deconv(c_in, c_out, (h_out, w_out), (h_in, w_in)))
        if k < len(pairs) - 1:
            layers += _nonlinearity(activation, dropout)
    return layers


class ConvEncoder(nn.Sequential):
    """Stride-2 3x3 convolutions (one per entry of ``channels``), then flatten."""

    def __init__(self, model_shape: Sequence[int], channels: Sequence[int], activation: str, dropout: float = 0.0):
        shapes = conv_feature_shapes(model_shape, channels)
        super().__init__(*conv_stack(shapes, activation, dropout), nn.Flatten())
        self.out_features = math.prod(shapes[-1])


class ConvDecoder(nn.Sequential):
    """Linear to the encoder's last feature map, then transposed convolutions back to the input."""

    def __init__(
        self,
        latent_dim: int,
        channels: Sequence[int],
        model_shape: Sequence[int],
        activation: str,
        dropout: float = 0.0,
    ):
        shapes = conv_feature_shapes(model_shape, channels)
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, math.prod(shapes[-1])),
            *_nonlinearity(activation, dropout),
            nn.Unflatten(1, shapes[-1]),
        ]
        super().__init__(*layers, *deconv_stack(shapes, activation, dropout))


def build_encoder_decoder(
    architecture: str,
    model_shape: Sequence[int],
    hidden: Sequence[int],
    latent_dim: int,
    activation: str,
    dropout: float = 0.0,
) -> tuple[nn.Module, nn.Module]:
    """The encoder body and the decoder for ``architecture`` ("mlp" or "conv").

    ``hidden`` holds layer widths for the MLP and channel counts for the conv net;
    ``dropout`` > 0 follows every hidden activation with dropout of that rate.
    """
    if architecture == "mlp":
        return (
            MLPEncoder(model_shape, hidden, activation, dropout),
            MLPDecoder(latent_dim, hidden, model_shape, activation, dropout),
        )
    if architecture == "conv":
        if not hidden:
            raise ValueError("architecture='conv' needs at least one entry in `hidden` (channels).")
        return (
            ConvEncoder(model_shape, hidden, activation, dropout),
            ConvDecoder(latent_dim, hidden, model_shape, activation, dropout),
        )
    raise ValueError(f"architecture={architecture!r} is not one of 'auto', 'mlp', 'conv'.")


class ConvGridEncoder(nn.Sequential):
    """The :class:`ConvEncoder`'s convolutions, then a 1x1 convolution to ``code_dim`` channels: a grid of
    code vectors ``(n, code_dim, h', w')`` (no flattening), one per position of the last feature map."""

    def __init__(
        self, model_shape: Sequence[int], channels: Sequence[int], code_dim: int, activation: str, dropout: float = 0.0
    ):
        shapes = conv_feature_shapes(model_shape, channels)
        super().__init__(*conv_stack(shapes, activation, dropout), nn.Conv2d(shapes[-1][0], code_dim, kernel_size=1))
        self.grid = shapes[-1][1:]


class ConvGridDecoder(nn.Sequential):
    """Mirror of :class:`ConvGridEncoder`: a 1x1 convolution from ``code_dim`` channels, then the
    :class:`ConvDecoder`'s transposed convolutions back to ``model_shape``."""

    def __init__(
        self, code_dim: int, channels: Sequence[int], model_shape: Sequence[int], activation: str, dropout: float = 0.0
    ):
        shapes = conv_feature_shapes(model_shape, channels)
        super().__init__(
            nn.Conv2d(code_dim, shapes[-1][0], kernel_size=1),
            *_nonlinearity(activation, dropout),
            *deconv_stack(shapes, activation, dropout),
        )
