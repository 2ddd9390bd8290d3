"""Figures of a clustering in code space: cluster sizes, the centres decoded, and the clusters against labels.

The ``plot_*`` functions take plain arrays, like :mod:`aekit.viz.figures`, and return a
:class:`matplotlib.figure.Figure`; :func:`cluster_figures` draws them for a fitted
:class:`aekit.DeepClustering` as sections of the HTML report.

When labels are known, every figure shows the clusters in the same order: each cluster
beside the class it is matched to by :func:`aekit.metrics.match_clusters` (the matching
that the clustering accuracy uses), so a good clustering reads along the diagonal.

>>> import aekit
>>> from aekit import viz
>>> X, y = aekit.datasets.load_digits()
>>> ae = aekit.AutoEncoder(latent_dim=10, epochs=5, random_state=0).fit(X)
>>> dc = aekit.DeepClustering(ae, n_clusters=10, method="kmeans", n_init=2, random_state=0).fit(X)
>>> [f.title for f in viz.cluster_figures(dc, X, y, labels=dc.labels_)]
['Cluster sizes', 'Decoded cluster centres', 'Clusters against the labels']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from aekit.viz.figures import DPI, FONT_SIZE, MAX_WIDTH_INCHES, SMALL_FONT, PixelScale, image_rows
from aekit.viz.report import MetricsTable, ReportFigure

CENTRES_TITLE = "Decoded cluster centres"  # one section, a figure or a table, under one name
#: Inputs shown under each decoded centre: the cluster's members whose codes lie nearest to it.
N_NEAREST = 3
#: Counts are written in the cells of a confusion matrix up to this many cells (beyond, they would overlap).
MAX_ANNOTATED_CELLS = 400
#: Columns of a table's decoded centres shown in the report (a wider table is cut, and its caption says so).
MAX_TABLE_COLUMNS = 24

_CENTRE_OF_METHOD = {
    "kmeans": "the k-means centre of its codes",
    "dec": "its centre as fine-tuned by DEC",
    "idec": "its centre as fine-tuned by IDEC",
    "n2d": "the mean code of its inputs (N2D's mixture lives in the UMAP space, not the code space)",
}


# ---------------------------------------------------------------------------- order and names
def cluster_order(labels: Any, n_clusters: int, y: Any = None) -> tuple[np.ndarray, dict[Any, Any]]:
    """The order in which the figures show the clusters, and the class matched to each.

    Without labels ``y``: ``0 .. n_clusters - 1`` and an empty matching.  With labels:
    the matched clusters in the order of their classes, then the unmatched ones (more
    clusters than classes, or empty clusters), largest first.

    Returns
    -------
    order : ndarray of shape (n_clusters,)
    matched : dict
        ``{cluster: class}``, as :func:`aekit.metrics.match_clusters`.
    """
    from aekit.metrics import match_clusters  # aekit.metrics brings torch; `import aekit.viz` stays light

    labels = _check_labels(labels, n_clusters)
    if y is None:
        return np.arange(n_clusters), {}
    matched = match_clusters(y, labels)
    rank = {value.item(): i for i, value in enumerate(np.unique(y))}
    first = sorted(matched, key=lambda cluster: rank[matched[cluster]])
    sizes = np.bincount(labels, minlength=n_clusters)
    rest = sorted(set(range(n_clusters)) - set(first), key=lambda cluster: (-sizes[cluster], cluster))
    return np.array(first + rest, dtype=np.int64), matched


def _check_labels(labels: Any, n_clusters: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (
        labels.size and (labels.min() < 0 or labels.max() >= n_clusters)
    ):
        raise ValueError(
            f"cluster labels must be a 1-D array of integers in 0..{n_clusters - 1} (as DeepClustering.labels_); "
            f"got shape {labels.shape}, dtype {labels.dtype}."
        )
    return labels.astype(np.int64)


def _cluster_names(order: Sequence[int], matched: Mapping[Any, Any]) -> list[str]:
    """``#3`` for cluster 3, ``#3 → 7`` when it is matched to class 7."""
    return [f"#{c} → {matched[c]}" if c in matched else f"#{c}" for c in order]


def _ordered(labels: Any, n_clusters: int, order: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    labels = _check_labels(labels, n_clusters)
    order = np.arange(n_clusters) if order is None else np.asarray(order, dtype=np.int64)
    if sorted(order.tolist()) != list(range(n_clusters)):
        raise ValueError(f"order must list every cluster 0..{n_clusters - 1} once; got {order.tolist()}.")
    return labels, order


# ---------------------------------------------------------------------------- figures from arrays
def plot_cluster_sizes(
    labels: Any, n_clusters: int, order: Sequence[int] | None = None, matched: Mapping[Any, Any] | None = None
) -> Figure:
    """A bar per cluster: how many inputs it holds, with a dashed line at equal sizes (n / k).

    Parameters
    ----------
    labels : array of shape (n,)
        Cluster of each input, ``0 .. n_clusters - 1``.
    n_clusters : int
        Number of clusters (empty ones get an empty bar).
    order : sequence of int, optional
        The clusters from left to right (default ``0 .. n_clusters - 1``), e.g. from :func:`cluster_order`.
    matched : dict, optional
        ``{cluster: class}``: named under each bar; unmatched clusters are drawn grey.
    """
    labels, order = _ordered(labels, n_clusters, order)
    matched = matched or {}
    sizes = np.bincount(labels, minlength=n_clusters)[order]
    width = min(MAX_WIDTH_INCHES, max(6.0, 0.55 * n_clusters + 1.8))
    fig = Figure(figsize=(width, 3.4), layout="constrained", dpi=DPI)
    ax = fig.add_subplot()
    colors = ["0.6" if matched and c not in matched else "tab:blue" for c in order]
    bars = ax.bar(np.arange(n_clusters), sizes, color=colors, width=0.75)
    if n_clusters <= 40:
        ax.bar_label(bars, fontsize=SMALL_FONT, padding=2)
    ax.axhline(len(labels) / n_clusters, color="0.3", linestyle="--", linewidth=1, label="equal sizes (n / k)")
    ax.set_xticks(np.arange(n_clusters), _cluster_names(order, matched), fontsize=SMALL_FONT,
                  rotation=0 if n_clusters <= 12 else 90)  # fmt: skip
    ax.set_xlim(-0.6, n_clusters - 0.4)
    ax.set_ylim(0, max(1, sizes.max()) * 1.15)
    ax.set_xlabel("cluster" + (" → the label it is matched to" if matched else ""), fontsize=SMALL_FONT)
    ax.set_ylabel("inputs", fontsize=SMALL_FONT)
    ax.tick_params(axis="y", labelsize=SMALL_FONT)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=SMALL_FONT, frameon=False, loc="upper right")
    fig.suptitle(f"Cluster sizes ({len(labels)} inputs, {n_clusters} clusters)", fontsize=FONT_SIZE + 2)
    return fig


def plot_confusion_matrix(y: Any, labels: Any, n_clusters: int, order: Sequence[int] | None = None) -> Figure:
    """True labels (rows) against clusters (columns), coloured by the share of each label's inputs.

    The title gives the accuracy (under the best one-to-one matching), NMI and ARI.  With
    ``order`` from :func:`cluster_order` the matched clusters sit on the diagonal.
    """
    from aekit.metrics import ari, clustering_accuracy, nmi

    labels, order = _ordered(labels, n_clusters, order)
    y = np.asarray(y)
    if y.shape != labels.shape:
        raise ValueError(f"y has shape {y.shape} but labels have {labels.shape}; pass one true label per input.")
    classes, class_index = np.unique(y, return_inverse=True)
    counts = np.zeros((len(classes), n_clusters), dtype=np.int64)
    np.add.at(counts, (class_index, labels), 1)
    counts = counts[:, order]
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    width = min(MAX_WIDTH_INCHES, max(5.5, 0.6 * n_clusters + 3.0))
    fig = Figure(figsize=(width, max(3.0, 0.42 * len(classes) + 2.0)), layout="constrained", dpi=DPI)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if counts.size <= MAX_ANNOTATED_CELLS:
        for (row, col), count in np.ndenumerate(counts):
            if count:  # blank zeros keep the eye on where the inputs are
                color = "white" if share[row, col] > 0.55 else "black"
                ax.text(col, row, str(count), ha="center", va="center", fontsize=SMALL_FONT - 1, color=color)
    ax.set_xticks(np.arange(n_clusters), [f"#{c}" for c in order], fontsize=SMALL_FONT,
                  rotation=0 if n_clusters <= 12 else 90)  # fmt: skip
    ax.set_yticks(np.arange(len(classes)), [str(c) for c in classes], fontsize=SMALL_FONT)
    ax.set_xlabel("cluster (ordered by the label it is matched to)", fontsize=SMALL_FONT)
    ax.set_ylabel("true label", fontsize=SMALL_FONT)
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("share of the label's inputs", fontsize=SMALL_FONT)
    bar.ax.tick_params(labelsize=SMALL_FONT)
    fig.suptitle(
        f"Labels against clusters: accuracy {clustering_accuracy(y, labels):.3f}, "
        f"NMI {nmi(y, labels):.3f}, ARI {ari(y, labels):.3f}",
        fontsize=FONT_SIZE + 2,
    )
    return fig


def plot_cluster_centers(
    decoded: np.ndarray,
    mean_inputs: np.ndarray,
    nearest: Sequence[np.ndarray] = (),
    column_labels: Sequence[str] | None = None,
    scale: PixelScale | None = None,
    xlabel: str | None = "cluster and its size",
) -> Figure:
    """Each cluster's centre put through the decoder (top row), the mean of its inputs, and its nearest inputs.

    Parameters
    ----------
    decoded, mean_inputs : ndarray of shape (k, *sample_shape)
        One picture per cluster; a row of NaN is drawn blank (an empty cluster).
    nearest : sequence of ndarray of shape (k, *sample_shape)
        Further rows: the ``i``-th input nearest to each centre (NaN where a cluster has fewer).
    column_labels : sequence of str, optional
        A name under each column (e.g. ``#3 → 7`` and the cluster's size).
    scale : PixelScale, optional
        Value-to-colour mapping; default chosen from ``mean_inputs`` (the data's own range,
        so that a decoder's overshoot does not change the colour map).
    xlabel : str, optional
        Under the last row.
    """
    rows = {"centre,\ndecoded": decoded, "mean of its\ninputs": mean_inputs}
    rows.update({f"nearest\ninput {i + 1}": batch for i, batch in enumerate(nearest)})
    return image_rows(
        rows,
        "Cluster centres put through the decoder, above what each cluster holds",
        scale or PixelScale.for_data(mean_inputs),  # NaN (empty clusters) is left out of the range
        column_labels=column_labels,
        xlabel=xlabel,
    )


# ---------------------------------------------------------------------------- a fitted clusterer
def cluster_figures(
    clusterer: Any,
    X: Any,
    y: Any = None,
    labels: Any = None,
    to_data_units: Callable[[np.ndarray], np.ndarray] | None = None,
    feature_names: Sequence[str] | None = None,
) -> list[ReportFigure]:
    """The report's sections for a fitted :class:`aekit.DeepClustering` on inputs ``X``.

    Parameters
    ----------
    clusterer : DeepClustering
        Fitted.
    X : array-like
        Inputs as the clusterer takes them (its estimator's units).
    y : array-like of shape (n,), optional
        True labels; adds the confusion matrix and orders the clusters by their matched label.
    labels : array-like of shape (n,), optional
        The cluster of each row of ``X`` when already known (``clusterer.labels_`` for its
        training data); default ``clusterer.predict(X)``.
    to_data_units : callable, optional
        Maps a table's decoded centres from the model's units to the data's (e.g. a run's
        ``Preprocessing.invert``), so the table reads in the data's own units.
    feature_names : sequence of str, optional
        Column names of a table (default: the estimator's ``feature_names_in_`` or x0, x1, ...).

    Returns
    -------
    list of ReportFigure
        Cluster sizes; the decoded centres (a row of images for image data, a table for
        tables); and, with ``y``, the confusion matrix.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clusterer, "cluster_centers_")
    estimator, k = clusterer.estimator_, int(clusterer.n_clusters)
    codes = np.asarray(estimator.transform(X), dtype=np.float64)  # validates X against the estimator
    labels = _check_labels(clusterer.predict(X) if labels is None else labels, k)
    if len(labels) != len(codes):
        raise ValueError(f"labels has {len(labels)} entries for {len(codes)} inputs; pass one cluster per row of X.")
    if y is not None:
        y = np.asarray(y)
        if y.shape != labels.shape:
            raise ValueError(f"y has shape {y.shape} for {len(labels)} inputs; pass one true label per row of X.")
    order, matched = cluster_order(labels, k, y)
    sizes = np.bincount(labels, minlength=k)
    centre = _CENTRE_OF_METHOD.get(clusterer.method, "its centre")
    figures = [
        ReportFigure.from_figure(
            "Cluster sizes",
            plot_cluster_sizes(labels, k, order, matched),
            "How many inputs each cluster holds; the dashed line is what equal clusters would hold. A cluster "
            "far above it may merge several kinds of input, one near zero may be a split-off fragment."
            + (" Under each bar: the label the cluster is matched to (grey bars: no label left to match)."
               if matched else ""),
        ),  # fmt: skip
        _centres_section(clusterer, X, codes, labels, order, matched, sizes, centre, to_data_units, feature_names),
    ]
    if y is not None:
        figures.append(
            ReportFigure.from_figure(
                "Clusters against the labels",
                plot_confusion_matrix(y, labels, k, order),
                "Each row is a true label, each column a cluster; a cell counts the label's inputs in the cluster and "
                "its colour is their share of the label. Clusters are ordered by the label they are matched to (the "
                "one-to-one matching that the accuracy uses), so a good clustering puts its counts on the diagonal; "
                "a row spread over several columns is a label the clustering splits, a column with several dark "
                "cells one that it merges. The clustering never saw the labels.",
            )
        )
    return figures


def decoded_centers(clusterer: Any) -> Any:
    """A fitted clusterer's ``cluster_centers_`` put through its estimator's decoder.

    Returns
    -------
    ndarray of shape (n_clusters, *input_shape), or DataFrame
        One decoded centre per cluster, shaped like one training input (an image for image
        data); NaN for the centre of a cluster left empty (N2D).  A table model decodes to
        a DataFrame, without rows for such clusters.
    """
    estimator = clusterer.estimator_
    centers = np.asarray(clusterer.cluster_centers_, dtype=np.float32)
    present = np.isfinite(centers).all(1)
    decoded = estimator.inverse_transform(centers[present])
    if hasattr(decoded, "columns"):  # a table model decodes to a DataFrame; an empty cluster has no row in it
        return decoded
    out = np.full((len(centers), *np.shape(decoded)[1:]), np.nan)
    out[present] = decoded
    return out


def _centres_section(
    clusterer: Any,
    X: Any,
    codes: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    matched: Mapping[Any, Any],
    sizes: np.ndarray,
    centre: str,
    to_data_units: Callable[[np.ndarray], np.ndarray] | None,
    feature_names: Sequence[str] | None,
) -> ReportFigure:
    """Images of the decoded centres (image data), or a table of them (tables)."""
    decoded = decoded_centers(clusterer)
    if len(clusterer.estimator_.input_shape_) < 2 or hasattr(decoded, "columns"):
        return _centres_table(clusterer, decoded, order, matched, sizes, centre, to_data_units, feature_names)
    pictures = np.asarray(X, dtype=np.float64).reshape(len(labels), *decoded.shape[1:])
    means = np.full(decoded.shape, np.nan)
    nearest = np.full((N_NEAREST, *decoded.shape), np.nan)
    centers = np.asarray(clusterer.cluster_centers_, dtype=np.float64)
    for c in range(len(decoded)):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        means[c] = pictures[members].mean(0)
        # An N2D cluster left empty in training has no centre (NaN); its members' mean code stands in.
        middle = centers[c] if np.isfinite(centers[c]).all() else codes[members].mean(0)
        distance = np.linalg.norm(codes[members] - middle, axis=1)
        closest = members[np.argsort(distance, kind="stable")[:N_NEAREST]]
        nearest[: len(closest), c] = pictures[closest]
    names = [f"{name}\nn={sizes[c]}" for name, c in zip(_cluster_names(order, matched), order)]
    xlabel = "cluster" + (" → the label it is matched to" if matched else "") + ", and its size"
    figure = plot_cluster_centers(
        decoded[order], means[order], list(nearest[:, order]), names, PixelScale.for_data(pictures), xlabel
    )
    caption = (
        f"Top row: each cluster's centre in code space ({centre}) put through the model's decoder, which shows "
        "what the model takes the cluster's typical input to be. Below it: the mean of the cluster's inputs and "
        f"the {N_NEAREST} inputs whose codes lie nearest to the centre. A sharp centre that looks like its inputs "
        "marks a cluster of one kind of input; a blurred or mixed one, a cluster that mixes kinds."
    )
    return ReportFigure.from_figure(CENTRES_TITLE, figure, caption)


def _centres_table(
    clusterer: Any,
    decoded: Any,
    order: np.ndarray,
    matched: Mapping[Any, Any],
    sizes: np.ndarray,
    centre: str,
    to_data_units: Callable[[np.ndarray], np.ndarray] | None,
    feature_names: Sequence[str] | None,
) -> ReportFigure:
    """One row per cluster: its size and decoded centre, in the data's units when ``to_data_units`` is given."""
    present = np.isfinite(np.asarray(clusterer.cluster_centers_, dtype=np.float64)).all(1)
    if hasattr(decoded, "columns"):  # a DataFrame: its own column names and values (categories too)
        names, values = [str(c) for c in decoded.columns], decoded.to_numpy(dtype=object)
    else:
        values = np.asarray(decoded, dtype=np.float64)[present].reshape(int(present.sum()), -1)
        values = np.asarray(to_data_units(values) if to_data_units is not None else values, dtype=object)
        default = getattr(clusterer, "feature_names_in_", None)
        names = [str(n) for n in (feature_names if feature_names is not None else default
                                  if default is not None else [f"x{j}" for j in range(values.shape[1])])]  # fmt: skip
    if len(names) != values.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names for {values.shape[1]} columns; pass one per column.")
    row_of = dict(zip(np.flatnonzero(present).tolist(), values))
    shown = min(len(names), MAX_TABLE_COLUMNS)
    rows = [
        [name, str(sizes[c]), *(_cell(v) for v in row_of[c][:shown])] if c in row_of
        else [name, str(sizes[c]), *(["empty"] * shown)]
        for name, c in zip(_cluster_names(order, matched), order)
    ]  # fmt: skip
    cut = f" The first {shown} of the {len(names)} columns are shown." if shown < len(names) else ""
    caption = (
        f"Each cluster's centre in code space ({centre}) put through the model's decoder: the row the model "
        f"takes as the cluster's typical input{', in the data’s own units' if to_data_units else ''}.{cut}"
    )
    return ReportFigure.from_table(
        CENTRES_TITLE, MetricsTable(["cluster", "size", *names[:shown]], rows), caption
    )


def _cell(value: Any) -> str:
    """A table cell: numbers to 4 significant digits, anything else (a category) as it is."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{float(value):.4g}"
    return str(value)
