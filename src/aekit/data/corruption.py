"""Input corruptions for denoising autoencoders (Vincent et al., 2008).

Each corruption is a parameter-free ``nn.Module`` mapping a batch to a freshly
corrupted copy; used as ``AutoEncoderModule(corruption=...)`` it is applied to the
encoder's input at every training step while the loss targets the clean input.
All randomness comes from torch's global RNG, which the estimators seed from
``random_state``, so training stays reproducible.
"""

from __future__ import annotations

import torch
from torch import nn

NOISE_KINDS = ("gaussian", "masking", "salt_pepper")


class GaussianNoise(nn.Module):
    """``x + std * eps``, clipped to ``[low, high]`` when bounds are given."""

    def __init__(self, std: float, low: float | None = None, high: float | None = None):
        super().__init__()
        self.std, self.low, self.high = float(std), low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noisy = x + self.std * torch.randn_like(x)
        if self.low is not None or self.high is not None:
            noisy = noisy.clamp(self.low, self.high)
        return noisy

    def extra_repr(self) -> str:
        return f"std={self.std}, low={self.low}, high={self.high}"


class Masking(nn.Module):
    """Sets each value to zero independently with probability ``fraction``."""

    def __init__(self, fraction: float):
        super().__init__()
        self.fraction = float(fraction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.rand_like(x) >= self.fraction)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}"


class MissingCells(nn.Module):
    """Marks each cell missing (NaN) independently with probability ``fraction``: the
    corruption of a table model, which learns to fill gaps from the cells it sees."""

    def __init__(self, fraction: float):
        super().__init__()
        self.fraction = float(fraction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(torch.rand_like(x) < self.fraction, torch.full_like(x, float("nan")), x)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}"


class SaltPepper(nn.Module):
    """Sets each value with probability ``fraction`` to ``low`` or ``high`` (even odds)."""

    def __init__(self, fraction: float, low: float = 0.0, high: float = 1.0):
        super().__init__()
        self.fraction, self.low, self.high = float(fraction), float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(x)
        hit = u < self.fraction
        # Reuse the same uniform draw: given a hit, u / fraction is uniform on [0, 1).
        salt = u < 0.5 * self.fraction
        return torch.where(hit, torch.where(salt, self.high, self.low), x)

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, low={self.low}, high={self.high}"


def make_corruption(
    kind: str, level: float, low: float | None = None, high: float | None = None
) -> nn.Module:
    """The corruption ``kind`` at ``level`` (std for gaussian, fraction otherwise).

    ``low``/``high`` bound the data: gaussian noise is clipped to them and
    salt-and-pepper writes them (defaults 0 and 1).
    """
    if kind == "gaussian":
        return GaussianNoise(level, low, high)
    if kind == "masking":
        return Masking(level)
    if kind == "salt_pepper":
        return SaltPepper(level, 0.0 if low is None else low, 1.0 if high is None else high)
    raise ValueError(f"noise must be one of {NOISE_KINDS}; got {kind!r}.")
