"""Shared fixtures: small real data (scikit-learn's digits) and MNIST when present."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import aekit

REPO = Path(__file__).resolve().parents[1]
MNIST_PATH = Path(os.environ.get("AEKIT_MNIST", REPO.parent / "shared" / "data" / "mnist.npz"))


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
def digits_pixels_npy(tmp_path_factory, digits):
    """The digits as uint8 pixels (0-255) in a .npy file, as a user's image data would be."""
    X, _ = digits
    path = tmp_path_factory.mktemp("data") / "digits.npy"
    np.save(path, (X * 255).round().astype(np.uint8))
    return path


@pytest.fixture(scope="session")
def mnist_path():
    if not MNIST_PATH.is_file():
        pytest.skip(f"MNIST not found at {MNIST_PATH}")
    return MNIST_PATH


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a whole test module (its models are tiny; extra threads only contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def single_blas_thread():
    """k-means, mixtures and friends on tiny arrays: spinning BLAS/OpenMP threads only cost time on a busy machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def crash_after_checkpoint(monkeypatch):
    """A context in which training is killed right after the checkpoint that ``when(checkpoint, state)`` picks.

    The checkpoint is written first, as a process killed just after saving would leave it;
    the context expects the KeyboardInterrupt that stands for the kill.
    """
    from aekit.train.checkpoint import Checkpoint

    @contextlib.contextmanager
    def crash(when: Callable) -> Iterator[None]:
        save = Checkpoint.save

        def save_then_crash(self, state):
            save(self, state)
            if when(self, state):
                raise KeyboardInterrupt

        with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
            patched.setattr(Checkpoint, "save", save_then_crash)
            yield

    return crash
