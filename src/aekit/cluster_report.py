"""The HTML report of one clustering (``aekit cluster ... --report FILE``): the tour's page, clustering sections.

The report is written where the clustering is done, from the labels it has just made:
DEC/IDEC fine-tuning and N2D's UMAP cost minutes on large data, and a second command
that clustered again to draw the figures would pay that twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aekit import viz
from aekit.metrics import ari, clustering_accuracy, nmi
from aekit.viz.clustering import cluster_figures

HEADERS = ("clustering", "clusters", "empty", "smallest", "largest", "accuracy", "NMI", "ARI", "fine-tuning epochs")


def cluster_report(
    clusterer: Any,
    X: Any,
    y: Any = None,
    *,
    labels: Any = None,
    data_name: str,
    command: str,
    to_data_units: Callable[[np.ndarray], np.ndarray] | None = None,
    feature_names: Sequence[str] | None = None,
) -> str:
    """The report of a fitted :class:`aekit.DeepClustering` on ``X`` as one self-contained HTML string.

    Parameters
    ----------
    clusterer : DeepClustering
        Fitted.
    X, y, labels, to_data_units, feature_names
        As :func:`aekit.viz.cluster_figures` (``y``: true labels, optional).
    data_name : str
        What the data is called in the title (e.g. its file).
    command : str
        The command line that made the report, shown at its end.
    """
    from aekit.tour import versions

    labels = clusterer.predict(X) if labels is None else np.asarray(labels)  # once: N2D predicts through UMAP
    figures = cluster_figures(clusterer, X, y, labels, to_data_units, feature_names)
    k, method = int(clusterer.n_clusters), clusterer.method
    sizes = np.bincount(labels, minlength=k)
    scores = ["n/a"] * 3 if y is None else [f"{f(y, labels):.4f}" for f in (clustering_accuracy, nmi, ari)]
    epochs = len(clusterer.history_.get("epoch", [])) if method in ("dec", "idec") else "n/a"
    row = [method, str(k), str(int((sizes == 0).sum())), str(sizes.min()), str(sizes.max()), *scores, str(epochs)]
    note = (
        "Accuracy: the share of inputs whose cluster is matched to their label, under the best one-to-one "
        "matching of clusters to labels (Hungarian algorithm, as in DEC). NMI: normalized mutual information; "
        "ARI: adjusted Rand index (1 = the labels exactly, about 0 = chance). "
        + ("n/a: the data has no labels. " if y is None else "")
    )
    estimator = clusterer.estimator_
    model = f"{type(estimator).__name__}, {estimator.latent_dim_}-D code"
    intro = (
        f"{method} clustering of the {len(labels)} inputs of {data_name} into {k} clusters, in the "
        f"{estimator.latent_dim_}-D codes of a trained {type(estimator).__name__}. "
        + ("The true labels were not used by the clustering; they only score it." if y is not None else "")
    )
    params = clusterer.get_params(deep=False)
    details = {
        "data": f"{data_name}: {len(labels)} inputs of shape {'x'.join(map(str, estimator.input_shape_))}",
        "model": model,
        "clustering": ", ".join(f"{name}={params[name]}" for name in sorted(params) if name != "estimator"),
    }
    return viz.render_report(
        f"aekit cluster: {method}, {k} clusters on {data_name}",
        intro,
        viz.MetricsTable(HEADERS, [row], note=note),
        figures,
        command,
        versions(),
        details,
    )


def write_cluster_report(path: str | os.PathLike, clusterer: Any, X: Any, y: Any = None, **options: Any) -> None:
    """Write :func:`cluster_report` to ``path`` atomically (options as there)."""
    viz.write_report(path, cluster_report(clusterer, X, y, **options))
