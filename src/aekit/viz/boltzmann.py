"""Figures of restricted Boltzmann machines: filters, Gibbs chains, the AIS estimate along the annealing path.

Like :mod:`aekit.viz.figures`, every function takes plain arrays (e.g.
``rbm.components_``, ``rbm.sample(...)``, ``rbm.ais_log_partition_path_``) and returns
a :class:`matplotlib.figure.Figure`, touching no pyplot state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from aekit.viz.figures import DPI, FONT_SIZE, PixelScale, image_rows


def plot_rbm_filters(
    components: np.ndarray, image_shape: Sequence[int], n_filters: int = 64, columns: int = 16, title: str | None = None
) -> Figure:
    """The weights of the first ``n_filters`` hidden units as images (red positive, blue negative).

    Parameters
    ----------
    components : ndarray of shape (n_hidden, n_visible)
        ``RBM.components_`` (or any first-layer weights).
    image_shape : (h, w)
        The shape of one input image, ``h * w == n_visible``.
    n_filters, columns : int
        How many filters, and how many per row.  Each filter has its own symmetric
        color scale, so weak and strong units are both legible.
    """
    components = np.asarray(components, dtype=np.float64)
    h, w = (int(s) for s in image_shape)
    if components.ndim != 2 or components.shape[1] != h * w:
        raise ValueError(
            f"components has shape {components.shape}; expected (n_hidden, {h * w}) for images of shape {(h, w)}."
        )
    filters = components[:n_filters].reshape(-1, h, w)
    filters = filters / np.maximum(np.abs(filters).max(axis=(1, 2), keepdims=True), 1e-12)
    n_rows = math.ceil(len(filters) / columns)
    grid = np.full((n_rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for i, picture in enumerate(filters):
        r, c = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = picture
    fig = Figure(figsize=(min(10.4, 0.6 * columns + 0.4), 0.6 * n_rows + 0.7), layout="constrained", dpi=DPI)
    ax = fig.subplots()
    ax.imshow(grid, cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(title or f"RBM filters: the weights of {len(filters)} hidden units", fontsize=FONT_SIZE + 2)
    return fig


def plot_gibbs_chains(chains: Mapping[str, np.ndarray], scale: PixelScale | None = None) -> Figure:
    """Samples from Gibbs chains, one row per entry (e.g. after 1, 10, 100 and 1000 steps)."""
    return image_rows(dict(chains), "Samples from the Gibbs chains", scale)


def plot_ais_path(
    log_partition_path: np.ndarray,
    betas: np.ndarray | None = None,
    standard_error: float | None = None,
    exact: float | None = None,
) -> Figure:
    """The running AIS estimate of ``log Z_beta`` along the annealing schedule.

    Parameters
    ----------
    log_partition_path : ndarray of shape (n_betas,)
        ``RBM.ais_log_partition_path_`` or ``AISResult.log_partition_path``.
    betas : ndarray of shape (n_betas,), optional
        The schedule (default: evenly spaced from 0 to 1).
    standard_error : float, optional
        Drawn as a band around the final estimate.
    exact : float, optional
        The exact ``log Z`` (small models), drawn as a dashed line.
    """
    path = np.asarray(log_partition_path, dtype=np.float64)
    betas = np.linspace(0, 1, len(path)) if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.shape != path.shape:
        raise ValueError(f"betas has shape {betas.shape} but the path has {path.shape}; pass the schedule of the path.")
    fig = Figure(figsize=(7.0, 3.6), layout="constrained", dpi=DPI)
    ax = fig.subplots()
    ax.plot(betas, path, color="tab:blue", label="AIS estimate of log Z_beta")
    final = path[-1]
    if standard_error is not None:
        ax.axhspan(final - standard_error, final + standard_error, color="tab:blue", alpha=0.2, label="final +- 1 SE")
    if exact is not None:
        ax.axhline(exact, color="black", linestyle="--", linewidth=1, label=f"exact log Z = {exact:.2f}")
    ax.set_xlabel("inverse temperature beta (0: base-rate model, 1: the RBM)", fontsize=FONT_SIZE)
    ax.set_ylabel("log Z_beta", fontsize=FONT_SIZE)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    fig.suptitle(f"Annealed importance sampling: log Z = {final:.2f}", fontsize=FONT_SIZE + 2)
    return fig
