"""Settings for every test, the doctests in src/aekit included (the fixtures live in tests/conftest.py)."""

import os

# Spinning OpenMP threads starve each other (and the subprocesses that some tests start)
# on a 2-core machine: measured 3-10x slower steps under load. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

# The test models are small: one thread was 1.5-2x faster than two here (digits AE + VAE,
# 20 epochs: 4.8 s vs 10.2 s), and it makes float sums independent of the core count.
torch.set_num_threads(1)
