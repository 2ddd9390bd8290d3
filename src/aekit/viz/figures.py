"""Figures that show what an autoencoder learned, built from plain arrays.

Every function takes numpy arrays (inputs, reconstructions, codes, histories,
scores) keyed by model name and returns a :class:`matplotlib.figure.Figure`; save it
with :func:`save_figure`.  Nothing here touches pyplot's global state, so the
functions are safe in scripts, servers and tests (the Agg renderer, no display).

Samples are drawn by their shape: ``(h, w)`` and ``(1, h, w)`` as grayscale images,
``(3, h, w)`` as color images, and feature vectors ``(d,)`` as a near-square grid of
cells, one per feature, on a diverging color scale.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aekit.utils.files import atomic_write

FONT_SIZE = 10
SMALL_FONT = 9  # points: 12.5 px at DPI, the smallest text in a figure (readable when shown at full size)
TILE_INCHES = 0.78  # one sample at dpi 100 is ~78 px: an 8x8 digit is still crisp, MNIST still fits 10 across
LABEL_INCHES = 2.1  # room for the row names on the left
DPI = 100
MAX_WIDTH_INCHES = 10.4  # the report's column is ~1060 px: wider figures would be shrunk below 100%
MIN_WIDTH_INCHES = 7.0  # room for a title over a few columns of samples


# ---------------------------------------------------------------------------- samples as pictures
@dataclass(frozen=True)
class PixelScale:
    """How sample values map to colors: a value range and a colormap (None for RGB)."""

    low: float
    high: float
    cmap: str | None

    @classmethod
    def for_data(cls, X: np.ndarray) -> PixelScale:
        """[0, 1] in gray for image-like data in that range; else a symmetric diverging scale."""
        X = np.asarray(X, dtype=np.float64)
        finite = X[np.isfinite(X)]
        color = X.ndim == 4 and X.shape[1] in (3, 4)
        if finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0):
            return cls(0.0, 1.0, None if color else "gray")
        if color:
            return cls(float(finite.min()), float(finite.max()), None)
        limit = float(np.percentile(np.abs(finite), 99.5)) or 1.0
        return cls(-limit, limit, "coolwarm")


def as_pictures(X: np.ndarray) -> np.ndarray:
    """A batch of samples as pictures: (n, h, w) or (n, h, w, 3|4).

    Feature vectors (n, d) become (n, s, ceil(d / s)) grids with ``s = ceil(sqrt(d))``,
    padded with NaN (drawn blank).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[np.newaxis]
    if X.ndim == 2:
        n, d = X.shape
        side = math.ceil(math.sqrt(d))
        cols = math.ceil(d / side)
        padded = np.full((n, side * cols), np.nan)
        padded[:, :d] = X
        return padded.reshape(n, side, cols)
    if X.ndim == 3:
        return X
    if X.ndim == 4:
        channels = X.shape[1]
        if channels == 1:
            return X[:, 0]
        if channels in (3, 4):
            return X.transpose(0, 2, 3, 1)
        return X.mean(axis=1)  # no natural color mapping: show the channel mean
    raise ValueError(f"cannot draw samples of shape {X.shape[1:]}; expected (d,), (h, w) or (c, h, w).")


def _to_colors(pictures: np.ndarray, scale: PixelScale) -> np.ndarray:
    """RGB pictures rescaled into [0, 1] (gray pictures are left to the colormap)."""
    if pictures.ndim == 4:
        span = (scale.high - scale.low) or 1.0
        return np.clip((pictures - scale.low) / span, 0.0, 1.0)
    return pictures


def mosaic(pictures: np.ndarray, gap: int = 1) -> np.ndarray:
    """Pictures side by side with ``gap`` blank (NaN, or white for RGB) columns between them."""
    n, h, w = pictures.shape[:3]
    blank = 1.0 if pictures.ndim == 4 else np.nan
    out = np.full((h, n * w + (n - 1) * gap, *pictures.shape[3:]), blank)
    for i, picture in enumerate(pictures):
        out[:, i * (w + gap) : i * (w + gap) + w] = picture
    return out


def _tile_centers(n: int, width: int, gap: int = 1) -> np.ndarray:
    return np.arange(n) * (width + gap) + (width - 1) / 2


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Width in inches of ``text`` (its longest line) at font ``size`` points."""
    from matplotlib.textpath import TextPath

    widths = [TextPath((0, 0), line, size=size).get_extents().width for line in text.split("\n") if line]
    return max(widths, default=0.0) / 72


def wrap_label(text: str, width: float) -> str:
    """``text`` broken into lines no wider than ``width`` inches at the small font, at spaces,
    underscores and CamelCase joins ("ContractiveAutoEncoder" -> "Contractive" / "AutoEncoder")."""
    lines = []
    for line in str(text).split("\n"):
        fits = text_width(line, SMALL_FONT) <= width
        words = [line] if fits else re.findall(r"[A-Z]+[a-z0-9.]*|[^A-Z\s_]+[_ ]?|[_ ]", line)
        current = ""
        for word in words:
            joined = current + word
            if current and text_width(joined.strip(), SMALL_FONT) > width:
                lines.append(current.strip())
                current = word
            else:
                current = joined
        lines.append(current.strip())
    return "\n".join(lines)


def image_rows(
    rows: Mapping[str, np.ndarray],
    title: str,
    scale: PixelScale | None = None,
    tile_labels: Mapping[str, Sequence[str]] | None = None,
    tile_label_colors: Mapping[str, Sequence[str]] | None = None,
    column_labels: Sequence[str] | None = None,
    xlabel: str | None = None,
) -> Figure:
    """One row of samples per entry of ``rows`` (name -> batch), the name on the left.

    ``scale`` maps values to colors (default: chosen from the first row's values);
    ``tile_labels`` puts a short text under each sample of a row (e.g. a score);
    ``column_labels`` labels the columns once, under the last row.  Long names and
    labels are wrapped to the room they have, and the layout is computed in inches
    (not left to a layout engine, which clips long row names beside pictures of fixed
    aspect), so no text is cut off or runs into its neighbour.
    """
    if not rows:
        raise ValueError("image_rows needs at least one row of samples.")
    scale = scale or PixelScale.for_data(next(iter(rows.values())))
    pictures = {name: _to_colors(as_pictures(batch), scale) for name, batch in rows.items()}
    n_cols = max(len(p) for p in pictures.values())
    h, w = next(iter(pictures.values())).shape[1:3]
    names = {name: wrap_label(name, LABEL_INCHES - 0.2) for name in rows}
    label_w = max(0.6, max(text_width(n) for n in names.values()) + 0.2)
    # Wide pictures get a little more room, as long as the figure stays within MAX_WIDTH_INCHES.
    tile_w = min(TILE_INCHES * min(1.6, max(1.0, w / h)), (MAX_WIDTH_INCHES - label_w - 0.2) / n_cols)
    tile_h = tile_w * h / w
    gap = tile_w / (w + 1)  # the one-pixel gap between tiles, in inches

    def lines_under(labels: Sequence[str] | None) -> tuple[list[str], int]:
        wrapped = [wrap_label(t, tile_w - 0.06) for t in labels or []]
        return wrapped, max((t.count("\n") + 1 for t in wrapped), default=0)

    under = {name: lines_under((tile_labels or {}).get(name)) for name in rows}
    columns, column_lines = lines_under(column_labels)
    line_h = SMALL_FONT * 1.3 / 72
    row_heights = [tile_h + 0.08 + line_h * under[name][1] for name in rows]
    bottom = line_h * column_lines + (0.3 if xlabel else 0) + 0.1
    top = 0.45
    width = max(MIN_WIDTH_INCHES, label_w + n_cols * tile_w + 0.2)
    height = top + sum(row_heights) + bottom
    left = (width - n_cols * tile_w - label_w) / 2 + label_w  # the block of rows centred
    fig = Figure(figsize=(width, height), dpi=DPI)
    y = height - top
    axes = []
    for (name, row), row_h in zip(pictures.items(), row_heights):
        y -= row_h
        ax = fig.add_axes(
            ((left) / width, (y + row_h - tile_h) / height, (n_cols * tile_w - gap) / width, tile_h / height)
        )
        axes.append(ax)
        image = mosaic(row)
        ax.imshow(image, cmap=scale.cmap, vmin=scale.low, vmax=scale.high, interpolation="nearest", aspect="auto")
        ax.set_xlim(-0.5, n_cols * (w + 1) - 1.5)
        ax.set_yticks([])
        ax.set_ylabel(names[name], rotation=0, ha="right", va="center", fontsize=FONT_SIZE, labelpad=6)
        labels = under[name][0]
        if labels:
            ax.set_xticks(_tile_centers(len(row), w), labels, fontsize=SMALL_FONT, va="top")
            ax.tick_params(axis="x", length=0, pad=2)
            for tick, color in zip(ax.get_xticklabels(), (tile_label_colors or {}).get(name, [])):
                tick.set_color(color)
        else:
            ax.set_xticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    if columns:
        axes[-1].set_xticks(_tile_centers(n_cols, w), columns, fontsize=SMALL_FONT)
        axes[-1].tick_params(axis="x", length=0, pad=2)
    if xlabel:
        axes[-1].set_xlabel(xlabel, fontsize=FONT_SIZE, labelpad=2)
    fig.suptitle(title, fontsize=FONT_SIZE + 2, y=1 - 0.08 / height, va="top")
    return fig


# ---------------------------------------------------------------------------- model figures
def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    labels: Sequence | None = None,
    scale: PixelScale | None = None,
) -> Figure:
    """Originals in the top row, each model's reconstructions of them below.

    ``reconstructions`` maps model name -> array shaped like ``originals``; the mean
    squared error per sample (summed over features) is shown next to each name.
    """
    originals = np.asarray(originals)
    rows = {"original": originals}
    for name, recon in reconstructions.items():
        error = np.square(np.asarray(recon, np.float64) - originals).reshape(len(originals), -1).sum(1).mean()
        rows[f"{name}\nerror {error:.2f}"] = np.asarray(recon)
    return image_rows(
        rows,
        "Test inputs (top) and their reconstructions by each model",
        scale,
        column_labels=None if labels is None else [str(v) for v in labels],
        xlabel=None if labels is None else "label of the input",
    )


def _class_colors(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Class index of each point, the classes, and one color per class."""
    from matplotlib import colormaps

    classes, index = np.unique(labels, return_inverse=True)
    if len(classes) <= 10:
        palette = colormaps["tab10"].colors[: len(classes)]
    elif len(classes) <= 20:
        palette = colormaps["tab20"].colors[: len(classes)]
    else:
        palette = colormaps["turbo"](np.linspace(0, 1, len(classes)))
    return index, classes, list(palette)


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, str]:
    """The codes themselves when 2-D (or 1-D, padded with zeros), else their first two principal components.

    Returns the (n, 2) points and the axis name ("code" or "PCA of the k-D code").
    """
    from sklearn.decomposition import PCA

    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    if codes.shape[1] == 2:
        return codes, "code"
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "code"
    return PCA(n_components=2, random_state=0).fit_transform(codes), f"PCA of the {codes.shape[1]}-D code"


def plot_code_map(codes: Mapping[str, np.ndarray], labels: Sequence | None = None, max_points: int = 2000) -> Figure:
    """One scatter plot of the codes per model, colored by label.

    A 2-D code is drawn as it is; a wider one through the first two principal
    components of the codes (the axis labels say which).  At most ``max_points``
    points (the first ones) are drawn.
    """
    n_models = len(codes)
    n_cols = min(3, n_models)
    n_rows = math.ceil(n_models / n_cols)
    fig = Figure(figsize=(min(MAX_WIDTH_INCHES, 3.1 * n_cols + 0.9), 3.0 * n_rows + 0.5), layout="constrained", dpi=DPI)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    colors = index = classes = None
    if labels is not None:
        index, classes, palette = _class_colors(np.asarray(labels)[:max_points])
        colors = np.asarray(palette)[index]
    for ax, (name, Z) in zip(axes, codes.items()):
        points, axis_name = project_2d(np.asarray(Z)[:max_points])
        ax.scatter(
            points[:, 0], points[:, 1], s=7, c=colors if colors is not None else "tab:blue", alpha=0.75, linewidths=0
        )
        ax.set_title(name, fontsize=FONT_SIZE + 1)
        ax.set_xlabel(f"{axis_name}: axis 1", fontsize=SMALL_FONT)
        ax.set_ylabel(f"{axis_name}: axis 2", fontsize=SMALL_FONT)
        ax.tick_params(labelsize=SMALL_FONT)
    for ax in axes[n_models:]:
        ax.set_visible(False)
    if classes is not None and len(classes) <= 20:
        handles = [axes[0].scatter([], [], s=30, color=palette[i], label=str(c)) for i, c in enumerate(classes)]
        fig.legend(handles=handles, title="label", loc="outside right center", fontsize=SMALL_FONT, frameon=False)
    fig.suptitle("Codes of the test inputs" + (", colored by label" if labels is not None else ""), fontsize=FONT_SIZE + 2)
    return fig


def plot_training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Training and validation loss per epoch, one panel per model.

    ``histories`` maps model name -> ``est.history_`` (lists ``train_loss`` and,
    when there was a validation set, ``val_loss``).  A dotted line marks the epoch
    with the lowest validation loss (the weights kept by early stopping).
    """
    n_models = len(histories)
    n_cols = min(3, n_models)
    n_rows = math.ceil(n_models / n_cols)
    fig = Figure(figsize=(min(MAX_WIDTH_INCHES, 3.4 * n_cols), 2.6 * n_rows + 0.5), layout="constrained", dpi=DPI)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (name, history) in zip(axes, histories.items()):
        train = np.asarray(history.get("train_loss", []), dtype=np.float64)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, color="tab:blue", label="training")
        val = np.asarray(history.get("val_loss", []), dtype=np.float64)
        if val.size:
            ax.plot(np.arange(1, len(val) + 1), val, color="tab:orange", label="validation")
            best = int(np.nanargmin(val)) + 1
            ax.axvline(best, color="0.4", linestyle=":", linewidth=1)
        ax.set_title(name, fontsize=FONT_SIZE + 1)
        ax.set_xlabel("epoch", fontsize=SMALL_FONT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss per sample", fontsize=SMALL_FONT)
        ax.tick_params(labelsize=SMALL_FONT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_FONT, frameon=False)
    for ax in axes[n_models:]:
        ax.set_visible(False)
    fig.suptitle("Training curves (each model's own loss; dotted: epoch kept)", fontsize=FONT_SIZE + 2)
    return fig


def plot_samples(samples: Mapping[str, np.ndarray], scale: PixelScale | None = None) -> Figure:
    """New data generated by each model, one row per model."""
    return image_rows(dict(samples), "Samples generated by each model", scale)


def _grid_mosaic(pictures: np.ndarray, side: int) -> np.ndarray:
    """The first ``side**2`` pictures in ``side`` rows of ``side``, one blank pixel between them
    (missing pictures left blank)."""
    n, h, w = pictures.shape[:3]
    blank = 1.0 if pictures.ndim == 4 else np.nan
    padded = np.full((side * side, *pictures.shape[1:]), blank)
    padded[: min(n, side * side)] = pictures[: side * side]
    rows = [mosaic(padded[r * side : (r + 1) * side]) for r in range(side)]
    gap_row = np.full((1, *rows[0].shape[1:]), blank)
    return np.concatenate([part for row in rows for part in (row, gap_row)][:-1])


def plot_sample_grids(
    samples: Mapping[str, np.ndarray],
    notes: Mapping[str, str] | None = None,
    scale: PixelScale | None = None,
    title: str = "Samples generated by each model",
    panels_per_row: int = 4,
) -> Figure:
    """A square grid of samples per model, side by side, the model's name above and ``notes`` under each.

    Parameters
    ----------
    samples : mapping of str to ndarray
        Model name -> samples ``(n, ...)``; the first ``side**2`` of each are drawn,
        with ``side`` the floor of the square root of the smallest batch (at most 8).
    notes : mapping of str to str, optional
        Text under a model's grid (e.g. its sample-quality scores, one per line).
    scale : PixelScale, optional
        Value-to-color map shared by every grid (default: from the first batch).
    title : str
        Figure title.
    panels_per_row : int
        Grids per row of the figure; more models wrap onto further rows.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not samples:
        raise ValueError("plot_sample_grids needs samples of at least one model.")
    scale = scale or PixelScale.for_data(next(iter(samples.values())))
    pictures = {name: _to_colors(as_pictures(batch), scale) for name, batch in samples.items()}
    side = max(1, min(8, math.isqrt(min(len(p) for p in pictures.values()))))
    grids = {name: _grid_mosaic(p, side) for name, p in pictures.items()}
    # Rows as even as possible: 5 grids as 3 + 2, not 4 + 1.
    columns = math.ceil(len(grids) / math.ceil(len(grids) / max(1, panels_per_row)))
    panel_w = min(2.6, (MAX_WIDTH_INCHES - 0.2) / columns - 0.15)
    text_w = panel_w + 0.1
    h, w = next(iter(grids.values())).shape[:2]
    panel_h = panel_w * h / w
    # wrap_label measures at the small font: widths are scaled for text drawn larger.
    names = {name: wrap_label(name, text_w * SMALL_FONT / FONT_SIZE) for name in grids}
    under = {name: wrap_label((notes or {}).get(name, ""), text_w) for name in grids}
    line_h = SMALL_FONT * 1.35 / 72
    name_lines = max(n.count("\n") + 1 for n in names.values())
    note_lines = max((u.count("\n") + 1 if u else 0) for u in under.values())
    cell_h = line_h * FONT_SIZE / SMALL_FONT * name_lines + 0.05 + panel_h + 0.05 + line_h * note_lines + 0.2
    n_rows = math.ceil(len(grids) / columns)
    width = max(MIN_WIDTH_INCHES, columns * (panel_w + 0.15) + 0.2)
    title = wrap_label(title, (width - 0.4) * SMALL_FONT / (FONT_SIZE + 2))
    top = 0.2 + (title.count("\n") + 1) * (FONT_SIZE + 2) * 1.3 / 72
    height = top + n_rows * cell_h
    left = (width - columns * (panel_w + 0.15) + 0.15) / 2
    fig = Figure(figsize=(width, height), dpi=DPI)
    for i, (name, grid) in enumerate(grids.items()):
        row, col = divmod(i, columns)
        x = left + col * (panel_w + 0.15)
        cell_top = height - top - row * cell_h
        image_top = cell_top - line_h * FONT_SIZE / SMALL_FONT * name_lines - 0.05
        ax = fig.add_axes((x / width, (image_top - panel_h) / height, panel_w / width, panel_h / height))
        ax.imshow(grid, cmap=scale.cmap, vmin=scale.low, vmax=scale.high, interpolation="nearest", aspect="auto")
        ax.set_axis_off()
        centre = (x + panel_w / 2) / width
        fig.text(centre, (image_top + 0.03) / height, names[name], ha="center", va="bottom", fontsize=FONT_SIZE)
        if under[name]:
            fig.text(centre, (image_top - panel_h - 0.05) / height, under[name], ha="center", va="top",
                     fontsize=SMALL_FONT, linespacing=1.2)  # fmt: skip
    fig.suptitle(title, fontsize=FONT_SIZE + 2, y=1 - 0.08 / height, va="top")
    return fig


def plot_interpolations(paths: Mapping[str, np.ndarray], scale: PixelScale | None = None) -> Figure:
    """Decoded paths in code space between two inputs, one row per model.

    Each row of ``paths`` is as from :func:`aekit.interpolate`: its first and last
    samples are the reconstructions of the two inputs.
    """
    n = max(len(p) for p in paths.values())
    column_labels = [f"{t:.2f}" for t in np.linspace(0, 1, n)]
    return image_rows(
        dict(paths),
        "Interpolation between two test inputs in code space",
        scale,
        column_labels=column_labels,
        xlabel="position along the path (0 = first input, 1 = second input)",
    )


def traversal_change(grid: np.ndarray, scale: PixelScale) -> np.ndarray:
    """How much each row of a traversal changes its decoding: the mean over features of the
    range (max - min) across the row, as a fraction of the pixel scale's range.

    Near 0 means the decoder ignores that code dimension (for a VAE: a collapsed,
    unused dimension).
    """
    grid = np.asarray(grid, dtype=np.float64)
    spread = grid.max(axis=1) - grid.min(axis=1)
    return spread.reshape(len(grid), -1).mean(axis=1) / ((scale.high - scale.low) or 1.0)


def plot_traversal(
    grid: np.ndarray,
    dims: Sequence[int],
    values: Sequence[float],
    model_name: str = "VAE",
    scale: PixelScale | None = None,
) -> Figure:
    """Latent traversal: row ``i`` decodes one code with dimension ``dims[i]`` set to each of ``values``.

    ``grid`` has shape (len(dims), len(values), *sample_shape), as from :func:`aekit.traverse`.
    Each row's name says how much its decodings change (:func:`traversal_change`).
    """
    grid = np.asarray(grid)
    scale = scale or PixelScale.for_data(grid.reshape(-1, *grid.shape[2:]))
    change = traversal_change(grid, scale)
    rows = {f"z{d}\nchange {c:.0%}": grid[i] for i, (d, c) in enumerate(zip(dims, change))}
    return image_rows(
        rows,
        f"{model_name}: one code dimension changed at a time",
        scale,
        column_labels=[f"{v:+.1f}" for v in values],
        xlabel="value given to that code dimension (the prior is N(0, 1))",
    )


def plot_anomalies(
    X: np.ndarray,
    scores: Mapping[str, np.ndarray],
    labels: Sequence | None = None,
    novel_label=None,
    n_show: int = 8,
    scale: PixelScale | None = None,
) -> Figure:
    """For each model, the ``n_show`` inputs it scores as most anomalous, with their scores.

    ``scores`` maps model name -> anomaly score per row of ``X`` (higher = more
    anomalous).  With ``labels``, each score is followed by the input's label, in red
    when it is ``novel_label`` (a class the models never saw).
    """
    X = np.asarray(X)
    rows, tile_labels, colors = {}, {}, {}
    for name, score in scores.items():
        top = np.argsort(-np.asarray(score), kind="stable")[:n_show]
        rows[name] = X[top]
        if labels is None:
            tile_labels[name] = [f"{score[i]:.4g}" for i in top]
        else:
            tile_labels[name] = [f"{score[i]:.4g}\n{labels[i]}" for i in top]
            colors[name] = ["tab:red" if labels[i] == novel_label else "black" for i in top]
    return image_rows(
        rows,
        "Most anomalous test inputs (score = reconstruction error"
        + (", label under it)" if labels is not None else ")"),
        scale,
        tile_labels=tile_labels,
        tile_label_colors=colors,
    )


def plot_detection(
    scores: Mapping[str, np.ndarray], is_novel: np.ndarray, novel_name: str = "the held-out class"
) -> Figure:
    """How well each model's score separates novel inputs: ROC curves, then one histogram per model.

    ``scores`` maps model name -> anomaly score per input (higher = more anomalous);
    ``is_novel`` marks the inputs of the class the models never saw.  The first panel
    draws every model's ROC curve (AUROC in the legend); each further panel the
    model's scores of the seen (blue) and novel (red) inputs, on a log scale when
    they span more than two decades.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    is_novel = np.asarray(is_novel, dtype=bool)
    if is_novel.all() or not is_novel.any():
        raise ValueError("plot_detection needs both novel and seen inputs; is_novel is all one value.")
    n_panels = len(scores) + 1
    n_cols = min(3, n_panels)
    n_rows = math.ceil(n_panels / n_cols)
    fig = Figure(figsize=(MAX_WIDTH_INCHES, 3.0 * n_rows + 0.5), layout="constrained", dpi=DPI)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    roc = axes[0]
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        fpr, tpr, _ = roc_curve(is_novel, score)
        roc.plot(fpr, tpr, label=f"{wrap_label(name, 1.6)} {roc_auc_score(is_novel, score):.2f}", linewidth=1.4)
    roc.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
    roc.set_title("ROC curves (AUROC in legend)", fontsize=FONT_SIZE + 1)
    roc.set_xlabel("false alarms (seen inputs flagged)", fontsize=SMALL_FONT)
    roc.set_ylabel(f"{novel_name} caught", fontsize=SMALL_FONT)
    roc.legend(fontsize=SMALL_FONT, frameon=False, loc="lower right", handlelength=1.2)
    for ax, (name, score) in zip(axes[1:], scores.items()):
        score = np.asarray(score, dtype=np.float64)
        positive = score[score > 0]
        log = positive.size == score.size and positive.max() > 100 * positive.min()
        edges = np.geomspace(score.min(), score.max(), 31) if log else np.linspace(score.min(), score.max(), 31)
        ax.hist(score[~is_novel], bins=edges, density=True, alpha=0.6, color="tab:blue", label="seen classes")
        ax.hist(score[is_novel], bins=edges, density=True, alpha=0.6, color="tab:red", label=novel_name)
        if log:
            ax.set_xscale("log")
        ax.set_title(name, fontsize=FONT_SIZE + 1)
        ax.set_xlabel("anomaly score (reconstruction error)", fontsize=SMALL_FONT)
        ax.set_yticks([])
        ax.legend(fontsize=SMALL_FONT, frameon=False, loc="best")
    for ax in axes:
        ax.tick_params(labelsize=SMALL_FONT)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.suptitle(f"Telling {novel_name} apart from the seen classes by reconstruction error", fontsize=FONT_SIZE + 2)
    return fig


def plot_denoising(
    clean: np.ndarray,
    corrupted: np.ndarray,
    denoised: Mapping[str, np.ndarray],
    noise: str = "",
    scale: PixelScale | None = None,
) -> Figure:
    """Clean inputs, their corrupted versions, and each model's reconstruction of the corrupted ones.

    Each row's name carries its mean squared distance to the clean inputs.
    """
    clean = np.asarray(clean, dtype=np.float64)

    def distance(batch: np.ndarray) -> float:
        return float(np.square(np.asarray(batch, np.float64) - clean).reshape(len(clean), -1).sum(1).mean())

    rows = {"clean": clean, f"corrupted{noise}\nerror {distance(corrupted):.2f}": corrupted}
    rows.update({f"{name}\nerror {distance(batch):.2f}": batch for name, batch in denoised.items()})
    return image_rows(rows, "Denoising: models given the corrupted row (error = distance to the clean row)", scale)


@dataclass(frozen=True)
class MetricSpec:
    """One comparison metric: its key, a readable name, decimals shown and which direction is better."""

    key: str
    name: str
    decimals: int
    higher_is_better: bool


def plot_metrics(
    metrics: Mapping[str, Mapping[str, float | None]], specs: Sequence[MetricSpec], reference: str = "PCA"
) -> Figure:
    """Horizontal bars per metric (one panel each) with a dashed line at the ``reference`` model's value.

    Metrics missing (None) for every model are left out; values are written on the
    bars with the spec's number of decimals.
    """
    names = list(metrics)
    shown = [s for s in specs if any(metrics[n].get(s.key) is not None for n in names)]
    fig = Figure(
        figsize=(min(MAX_WIDTH_INCHES, 2.2 * len(shown) + 2.0), 0.4 * len(names) + 1.5), layout="constrained", dpi=DPI
    )
    axes = fig.subplots(1, len(shown), squeeze=False, sharey=True)[0]
    y = np.arange(len(names))
    for ax, spec in zip(axes, shown):
        values = np.array([np.nan if metrics[n].get(spec.key) is None else metrics[n][spec.key] for n in names], float)
        colors = ["0.6" if n == reference else "tab:blue" for n in names]
        ax.barh(y, np.nan_to_num(values), color=colors)
        for yi, v in zip(y, values):
            text = "n/a" if np.isnan(v) else f"{v:.{spec.decimals}f}"
            ax.text(0 if np.isnan(v) else v, yi, f" {text}", va="center", fontsize=SMALL_FONT)
        if reference in names and not np.isnan(values[names.index(reference)]):
            ax.axvline(values[names.index(reference)], color="0.3", linestyle="--", linewidth=1)
        finite = values[np.isfinite(values)]
        ax.set_xlim(0, (finite.max() if finite.size else 1.0) * 1.35 or 1.0)
        ax.set_title(f"{spec.name}\n({'higher' if spec.higher_is_better else 'lower'} is better)", fontsize=FONT_SIZE)
        ax.tick_params(labelsize=SMALL_FONT)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.suptitle(f"Comparison on the test inputs (dashed line: {reference})", fontsize=FONT_SIZE + 2)
    return fig


# ---------------------------------------------------------------------------- saving
def figure_png(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    """Write the figure as a PNG file, atomically."""
    from pathlib import Path

    png = figure_png(fig)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))
