"""Figures for table models: category embeddings in 2-D and per-column anomaly scores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def _two_d(points: np.ndarray) -> tuple[np.ndarray, str]:
    """The first two principal axes of ``points`` (as they are when they have two columns)."""
    if points.shape[1] <= 2:
        return (points if points.shape[1] == 2 else np.column_stack([points[:, 0], np.zeros(len(points))])), "dimensions"
    centered = points - points.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T, "first two principal axes"


def plot_category_embeddings(embeddings: Mapping[str, Any], max_columns: int = 6) -> Figure:
    """One panel per categorical column: each category's learned embedding, in 2-D
    (its first two principal axes when wider), labeled.  ``embeddings`` maps a column to a
    DataFrame (category x dimension), as ``est.category_embeddings_``."""
    names = list(embeddings)[:max_columns]
    n = max(1, len(names))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows), layout="constrained")
    for k, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, k + 1)
        frame = embeddings[name]
        xy, axes = _two_d(np.asarray(frame, dtype=np.float64))
        ax.scatter(xy[:, 0], xy[:, 1], s=36, color="#3366aa")
        for (x, y), label in zip(xy, frame.index):
            ax.annotate(str(label), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=9)
        ax.set_title(f"{name} ({len(frame)} categories; {axes})", fontsize=10)
        ax.margins(0.25)
    if not names:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, "no categorical columns", ha="center", va="center")
    return fig


def plot_feature_scores(scores: Any, rows: Sequence[int] | None = None, max_rows: int = 8) -> Figure:
    """Per-column errors of the most anomalous rows as a heat map (rows x columns).

    ``scores`` is a DataFrame (as ``AnomalyDetector.feature_scores``); ``rows`` the
    positions to show (default: the ``max_rows`` with the largest total)."""
    values = np.asarray(scores, dtype=np.float64)
    if rows is None:
        rows = np.argsort(-values.sum(1))[:max_rows]
    shown = values[list(rows)]
    columns = [str(c) for c in getattr(scores, "columns", range(values.shape[1]))]
    index = getattr(scores, "index", np.arange(len(values)))
    fig = Figure(figsize=(max(5.0, 0.7 * len(columns) + 2), 0.45 * len(shown) + 1.8), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(shown, aspect="auto", cmap="Reds")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(shown)), [f"row {index[i]}" for i in rows])
    fig.colorbar(image, ax=ax, label="column's share of the error")
    return fig
