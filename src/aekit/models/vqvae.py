"""The VQ-VAE (van den Oord et al., 2017): an autoencoder whose code is a few vectors from a learned codebook.

The encoder gives ``positions`` vectors ``z_e`` of ``D`` dimensions (one, a few, or
a grid of them); each is replaced by its nearest codebook entry ``z_q``
(:class:`~aekit.nn.quantizer.VectorQuantizer`) and the decoder sees those.  The
objective adds to the reconstruction two terms of the forward pass,

* :class:`CodebookLoss` ``||sg[z_e] - z_q||^2``: moves the entries to their vectors
  (only when the codebook learns by gradient; the moving-average update replaces it);
* :class:`Commitment` ``||z_e - sg[z_q]||^2``, weighted by beta: keeps the encoder's
  outputs near the entries they chose, so that they do not grow without bound,

both summed over positions and dimensions per sample, as the reconstruction is summed
over features.  The reconstruction's gradient reaches the encoder through the
quantization unchanged (straight-through).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.terms import ForwardPass, LossTerm
from aekit.nn.quantizer import VectorQuantizer, code_perplexity


@dataclass
class QuantizedPass(ForwardPass):
    """A :class:`ForwardPass` through a quantized code: ``code`` is the encoder's output ``z_e`` (n, positions,
    D), ``quantized`` its nearest entries ``z_q`` (carrying the codebook's gradient), ``z`` what the decoder
    got (``z_q``'s values with the gradient passed straight through to ``z_e``), ``indices`` the entries'
    numbers (n, positions)."""

    quantized: torch.Tensor | None = None
    indices: torch.Tensor | None = None


class CodebookLoss(LossTerm):
    """``||sg[z_e] - z_q||^2`` per sample: pulls each chosen entry towards the encoder output that chose it."""

    name = "codebook"

    def forward(self, module: nn.Module, p: QuantizedPass) -> torch.Tensor:
        return (p.code.detach() - p.quantized).flatten(1).square().sum(1)


class Commitment(LossTerm):
    """``||z_e - sg[z_q]||^2`` per sample (the commitment loss; its weight is the paper's beta)."""

    name = "commitment"

    def forward(self, module: nn.Module, p: QuantizedPass) -> torch.Tensor:
        return (p.code - p.quantized.detach()).flatten(1).square().sum(1)


class VQVAEModule(AutoEncoderModule):
    """encoder -> (n, positions, D) vectors -> :class:`VectorQuantizer` -> flat (n, positions * D) -> decoder.

    ``encode`` gives the quantized vectors flattened position by position (what the
    decoder takes); ``encode_indices`` the entries' numbers.
    """

    def __init__(self, *args: Any, quantizer: VectorQuantizer, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.quantizer = quantizer

    def encode_indices(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """The nearest entry of each code vector, (n, positions)."""
        return self.quantizer.nearest(self.encoder(x))

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.quantizer.lookup(self.encode_indices(x)).flatten(1)

    def decode_indices(self, indices: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstructions from entry numbers (n, positions)."""
        return self.decode(self.quantizer.lookup(indices).flatten(1))

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> QuantizedPass:
        x, x_in = self.training_inputs(x)
        vectors = self.encoder(x_in)
        quantization = self.quantizer(vectors)
        z = quantization.straight_through
        return QuantizedPass(
            x=x,
            x_in=x_in,
            code=vectors,
            z=z,
            out=self.decoder(z.flatten(1)),
            condition=condition,
            quantized=quantization.quantized,
            indices=quantization.indices,
        )

    def diagnostics(self, p: QuantizedPass) -> dict[str, torch.Tensor]:
        return {"perplexity": code_perplexity(p.indices, self.quantizer.codebook_size)}
