"""Penalties on the code that turn the plain autoencoder into its regularized relatives.

Each is a :class:`~aekit.models.autoencoder.Penalty` added to an
:class:`~aekit.models.autoencoder.AutoEncoderModule`; the module adds
``weight * value`` to the loss and reports the value in the training history.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import jacrev, vmap

from aekit.models.autoencoder import AutoEncoderModule, Penalty


class L1Activity(Penalty):
    """``sum_j |h_j|`` per sample: pushes most code values to (near) zero."""

    name = "l1"

    def forward(self, model: AutoEncoderModule, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return code.abs().flatten(1).sum(1)


class KLSparsity(Penalty):
    """``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` unit j's mean activation over the batch.

    The code must lie in (0, 1) (a sigmoid code): each unit is treated as a Bernoulli
    variable whose average firing rate is pulled towards ``target`` (Ng's sparse
    autoencoder).  A batch-level penalty, so ``forward`` returns a scalar.
    """

    name = "kl_sparsity"
    _eps = 1e-6

    def __init__(self, weight: float, target: float):
        super().__init__(weight)
        self.target = float(target)

    def forward(self, model: AutoEncoderModule, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        rho = self.target
        rho_hat = code.flatten(1).mean(0).clamp(self._eps, 1 - self._eps)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return kl.sum()


def _leaf_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def _single_sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The Linear of an encoder that is just ``[Flatten] -> Linear -> Sigmoid``, else None."""
    layers = [m for m in _leaf_layers(encoder) if not isinstance(m, nn.Flatten)]
    if len(layers) == 2 and isinstance(layers[0], nn.Linear) and isinstance(layers[1], nn.Sigmoid):
        return layers[0]
    return None


def jacobian_squared_norm(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Exact squared Frobenius norm of the encoder's Jacobian ``||dh/dx||_F^2`` per sample.

    For a one-hidden-layer sigmoid encoder ``h = sigmoid(W x + b)`` the closed form
    ``sum_j (h_j (1 - h_j))^2 ||W_j||^2`` costs one forward pass, O(n (k d)).
    Any other encoder gets the full Jacobian by batched reverse-mode autograd
    (``vmap(jacrev(encoder))``): about ``k`` (code size) vector-Jacobian products per
    sample, vectorized, and O(n k d) memory for ``n`` samples of ``d`` inputs.
    The result stays differentiable with respect to the encoder's weights.  An
    encoder with dropout, in training mode, is differentiated under a mask drawn
    for each sample.
    """
    linear = _single_sigmoid_layer(encoder)
    if linear is not None:
        h = encoder(x)
        return ((h * (1 - h)).square() * linear.weight.square().sum(1)).sum(1)

    def encode_one(sample: torch.Tensor) -> torch.Tensor:
        return encoder(sample.unsqueeze(0)).squeeze(0)

    jacobians = vmap(jacrev(encode_one), randomness="different")(x)  # (n, *code_shape, *input_shape)
    return jacobians.flatten(1).square().sum(1)


class Contraction(Penalty):
    """The contractive penalty ``||dh/dx||_F^2`` per sample (Rifai et al., 2011).

    Evaluated at the encoder's input; see :func:`jacobian_squared_norm` for cost.
    """

    name = "contraction"

    def forward(self, model: AutoEncoderModule, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return jacobian_squared_norm(model.encoder, x)
