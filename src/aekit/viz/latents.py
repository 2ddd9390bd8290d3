"""Figures about how a VAE-family model uses its code: KL per dimension, and the KL weight's trade-off.

Both take plain arrays (from :func:`aekit.metrics.kl_per_dimension`,
:func:`aekit.metrics.active_dimensions`, :func:`aekit.metrics.mig` ...) and return a
:class:`matplotlib.figure.Figure`, like the rest of :mod:`aekit.viz`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from aekit.viz.figures import DPI, FONT_SIZE, MAX_WIDTH_INCHES, MIN_WIDTH_INCHES, SMALL_FONT

ACTIVE_COLOR = "tab:blue"
INACTIVE_COLOR = "0.75"
_MAX_LABELLED_BARS = 32  # beyond this many dims, only every other bar is named (the names would touch)


def _nats(value: float) -> str:
    """A KL value in as few digits as tell it apart: 12, 3.4, 0.56, 0.0071."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 0.95 else f"{value:.2g}"


def plot_kl_per_dimension(kl: Mapping[str, np.ndarray], active: Mapping[str, np.ndarray]) -> Figure:
    """Each model's code dimensions ranked by their mean KL to the prior, active ones in colour.

    Parameters
    ----------
    kl : mapping of model name to array of shape (latent_dim,)
        Mean KL(q(z_j | x) || N(0, 1)) per dimension, in nats
        (:func:`aekit.metrics.kl_per_dimension`).
    active : mapping of model name to bool array of shape (latent_dim,)
        Which dimensions are active (:func:`aekit.metrics.active_dimensions`); same
        keys as ``kl``.

    Returns
    -------
    Figure
        One panel per model, bars sorted from the largest KL, each named by its
        dimension (``z3``) and labelled with its KL.
    """
    if not kl:
        raise ValueError("plot_kl_per_dimension needs the KL of at least one model.")
    if set(kl) != set(active):
        raise ValueError(f"kl and active must name the same models; got {sorted(kl)} and {sorted(active)}.")
    widest = max(len(np.ravel(values)) for values in kl.values())
    fig = Figure(
        figsize=(min(MAX_WIDTH_INCHES, max(MIN_WIDTH_INCHES, 1.5 + 0.4 * widest)), 2.5 * len(kl) + 0.6),
        layout="constrained",
        dpi=DPI,
    )
    axes = fig.subplots(len(kl), 1, squeeze=False)[:, 0]
    for ax, (name, values) in zip(axes, kl.items()):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        is_active = np.asarray(active[name], dtype=bool).reshape(-1)
        if is_active.shape != values.shape:
            raise ValueError(
                f"{name}: {values.size} KL values but {is_active.size} active flags; pass one of each per dimension."
            )
        order = np.argsort(-values, kind="stable")
        x = np.arange(len(order))
        ax.bar(x, values[order], color=np.where(is_active[order], ACTIVE_COLOR, INACTIVE_COLOR), width=0.75)
        top = values.max() if values.size and values.max() > 0 else 1.0
        for xi, v in zip(x, values[order]):
            ax.text(xi, v + 0.02 * top, _nats(v), ha="center", va="bottom",
                    fontsize=SMALL_FONT, rotation=90 if len(order) > 16 else 0)  # fmt: skip
        step = 1 if len(order) <= _MAX_LABELLED_BARS else 2
        ax.xaxis.set_major_locator(FixedLocator(x[::step]))
        ax.set_xticklabels([f"z{d}" for d in order[::step]], fontsize=SMALL_FONT)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylim(0, top * (1.35 if len(order) > 16 else 1.18))
        ax.set_ylabel("mean KL (nats)", fontsize=SMALL_FONT)
        ax.tick_params(labelsize=SMALL_FONT)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.set_title(
            f"{name}: {int(is_active.sum())} of {len(values)} dimensions active, total KL {values.sum():.1f} nats",
            fontsize=FONT_SIZE + 1,
        )
    axes[-1].set_xlabel("code dimension, from the largest KL", fontsize=SMALL_FONT)
    # Upper right is free: the bars fall from left to right.
    axes[0].legend(
        handles=[Patch(color=ACTIVE_COLOR, label="active unit"), Patch(color=INACTIVE_COLOR, label="inactive")],
        loc="upper right", fontsize=SMALL_FONT, frameon=False,
    )  # fmt: skip
    fig.suptitle("Code dimensions ranked by KL to the prior", fontsize=FONT_SIZE + 2)
    return fig


def plot_beta_sweep(
    betas: Sequence[float],
    reconstruction: np.ndarray,
    kl: np.ndarray,
    mig: np.ndarray,
    active_dims: np.ndarray | None = None,
    title: str = "Which beta? Reconstruction, KL and MIG against the KL weight",
) -> Figure:
    """Reconstruction error, KL and MIG against the KL weight beta, one panel each.

    Parameters
    ----------
    betas : sequence of float
        The KL weights trained, positive (drawn on a log axis).
    reconstruction, kl, mig : array-like of shape (n_betas,) or (n_seeds, n_betas)
        Test reconstruction error, total KL to the prior (nats) and MIG of each
        model.  With several seeds the line is the mean and each seed is a dot.
    active_dims : array-like of shape (n_betas,) or (n_seeds, n_betas), optional
        Active code dimensions, written beside the KL points.
    title : str
        The figure's title.

    Returns
    -------
    Figure
        Three panels sharing the beta axis; the beta with the highest mean MIG is
        marked by a dotted line in each.
    """
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    if betas.size < 2 or not (np.isfinite(betas).all() and (betas > 0).all()):
        raise ValueError(f"betas must be at least two positive numbers (a sweep); got {betas.tolist()}.")
    panels = {}
    for name, values in (("reconstruction", reconstruction), ("kl", kl), ("mig", mig), ("active_dims", active_dims)):
        if values is None:
            continue
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        if values.shape[1] != betas.size:
            raise ValueError(f"{name} must hold one value per beta ({betas.size}); got shape {values.shape}.")
        panels[name] = values
    best = betas[int(np.nanargmax(np.nanmean(panels["mig"], axis=0)))]
    fig = Figure(figsize=(MAX_WIDTH_INCHES, 3.4), layout="constrained", dpi=DPI)
    axes = fig.subplots(1, 3, sharex=True)
    specs = (
        ("reconstruction", "test reconstruction error\n(lower is better)", "tab:blue"),
        ("kl", "KL to the prior, nats\n(information in the code)", "tab:orange"),
        ("mig", "MIG\n(higher is better)", "tab:green"),
    )
    for ax, (key, label, color) in zip(axes, specs):
        values = panels[key]
        mean = np.nanmean(values, axis=0)
        ax.plot(betas, mean, color=color, marker="o", linewidth=2)
        if len(values) > 1:
            for seed_values in values:
                ax.scatter(betas, seed_values, color=color, s=12, alpha=0.5, linewidths=0)
        ax.axvline(best, color="0.35", linestyle=":", linewidth=1.2)
        ax.set_xscale("log", base=2)
        ax.set_xticks(betas, [f"{b:g}" for b in betas])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("beta (KL weight)", fontsize=SMALL_FONT)
        ax.set_title(label, fontsize=FONT_SIZE)
        ax.tick_params(labelsize=SMALL_FONT)
        ax.grid(alpha=0.3)
        ax.margins(x=0.08, y=0.15)
    if "active_dims" in panels:
        points = zip(betas, np.nanmean(panels["kl"], axis=0), np.nanmean(panels["active_dims"], axis=0))
        for i, (b, v, dims) in enumerate(points):
            last = i == betas.size - 1  # written to the left of the last point, which sits on the right edge
            axes[1].annotate(
                f"{dims:.0f} active", (b, v), textcoords="offset points", xytext=(-5 if last else 5, 5),
                ha="right" if last else "left", fontsize=SMALL_FONT, color="0.3",
            )  # fmt: skip
    axes[2].set_ylim(bottom=0)
    fig.suptitle(f"{title} (dotted: best MIG, beta {best:g})", fontsize=FONT_SIZE + 1)
    return fig
