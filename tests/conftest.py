"""Shared fixtures: small real data (scikit-learn's digits) and MNIST when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit

REPO = Path(__file__).resolve().parents[1]
MNIST_PATH = Path(os.environ.get("AEKIT_MNIST", REPO.parent / "shared" / "data" / "mnist.npz"))

# Two cores on CI: keep torch from oversubscribing when pytest-xdist is not used.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def digits():
    """Digits as (1797, 8, 8) float32 images in [0, 1] and labels."""
    return aekit.datasets.load_digits()


@pytest.fixture(scope="session")
def digits_split(digits):
    """A fixed train/test split of the digits (first 1400 / rest)."""
    X, y = digits
    return X[:1400], y[:1400], X[1400:], y[1400:]


@pytest.fixture(scope="session")
def mnist_path():
    if not MNIST_PATH.is_file():
        pytest.skip(f"MNIST not found at {MNIST_PATH}")
    return MNIST_PATH


@pytest.fixture
def rng():
    return np.random.RandomState(0)
