"""The clustering report: sizes, decoded centres, confusion matrix; viz functions and `aekit cluster --report`.

k-means and IDEC only: N2D's UMAP compiles numba kernels for ~30 s per process, and the
figures do not depend on the method beyond a caption.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import aekit
from aekit import viz
from aekit.cli import main
from aekit.cluster_report import cluster_report

SECTIONS = ["Cluster sizes", "Decoded cluster centres", "Clusters against the labels"]


@pytest.fixture(scope="module")
def digits():
    return aekit.datasets.load_digits()  # 8x8 images


@pytest.fixture(scope="module")
def clusterer(digits):
    X, _ = digits
    autoencoder = aekit.AutoEncoder(latent_dim=10, epochs=15, random_state=0).fit(X)
    return aekit.DeepClustering(autoencoder, n_clusters=10, method="kmeans", n_init=4, random_state=0).fit(X)


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def test_with_labels_the_report_has_sizes_decoded_centres_and_the_confusion_matrix(digits, clusterer):
    X, y = digits
    figures = viz.cluster_figures(clusterer, X, y, labels=clusterer.labels_)
    assert [f.title for f in figures] == SECTIONS
    assert all(f.png.startswith(b"\x89PNG") and f.table is None for f in figures)
    html = cluster_report(clusterer, X, y, labels=clusterer.labels_, data_name="digits", command="aekit cluster ...")
    assert _section_ids(html) == ["cluster-sizes", "decoded-cluster-centres", "clusters-against-the-labels"]
    accuracy = aekit.metrics.clustering_accuracy(y, clusterer.labels_)
    assert f"<td data-label=\"accuracy\">{accuracy:.4f}</td>" in html


def test_without_labels_there_is_no_confusion_matrix(digits, clusterer):
    X, _ = digits
    figures = viz.cluster_figures(clusterer, X)  # labels from predict
    assert [f.title for f in figures] == SECTIONS[:2]
    html = cluster_report(clusterer, X, data_name="digits", command="aekit cluster ...")
    assert "clusters-against-the-labels" not in _section_ids(html)
    assert '<td data-label="accuracy">n/a</td>' in html and "no labels" in html


def test_decoded_centres_have_the_shape_of_one_input_image(digits, clusterer):
    X, _ = digits
    decoded = viz.decoded_centers(clusterer)
    assert decoded.shape == (10, *X.shape[1:]) == (10, 8, 8)
    expected = clusterer.estimator_.inverse_transform(clusterer.cluster_centers_.astype(np.float32))
    np.testing.assert_allclose(decoded, expected)


def test_clusters_are_ordered_by_the_class_they_are_matched_to():
    y = np.repeat(np.arange(4), 5)
    labels = np.array([2, 0, 3, 1])[y]  # a relabelling, plus an empty cluster 4
    order, matched = viz.cluster_order(labels, 5, y)
    assert order.tolist() == [2, 0, 3, 1, 4] and matched == {2: 0, 0: 1, 3: 2, 1: 3}
    assert viz.cluster_order(labels, 5)[0].tolist() == [0, 1, 2, 3, 4]  # no labels: the clusters' own order
    with pytest.raises(ValueError, match="integers in 0..2"):
        viz.cluster_order(labels, 3, y)


def test_a_table_gets_its_decoded_centres_as_a_table_in_the_data_units(digits):
    X, _ = digits
    rows = X.reshape(len(X), -1)[:, :6]
    autoencoder = aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=3, random_state=0).fit(rows)
    model = aekit.DeepClustering(autoencoder, n_clusters=3, method="kmeans", n_init=2, random_state=0).fit(rows)
    names = [f"pixel {j}" for j in range(6)]
    sizes, centres = viz.cluster_figures(model, rows, to_data_units=lambda v: v * 16, feature_names=names)
    assert centres.title == "Decoded cluster centres" and centres.table is not None and not centres.png
    assert centres.table.headers == ["cluster", "size", *names]
    decoded = viz.decoded_centers(model) * 16
    assert centres.table.rows[0] == ["#0", str((model.labels_ == 0).sum()), *(f"{v:.4g}" for v in decoded[0])]
    assert "in the data’s own units" in centres.caption


def test_cli_cluster_report_for_labelled_images_and_an_unlabelled_table(digits, tmp_path, capsys):
    X, y = digits
    images, table = tmp_path / "digits.npz", tmp_path / "table.npy"
    np.savez(images, x_train=(X * 255).round().astype(np.uint8), y_train=y)
    np.save(table, X.reshape(len(X), -1)[:, :10] * 16)
    for data, run in ((images, "image-run"), (table, "table-run")):
        assert main(["train", "ae", "--data", str(data), "--out", str(tmp_path / run), "--latent-dim", "4",
                     "--epochs", "3", "--quiet"]) == 0  # fmt: skip
    out = tmp_path / "labels.npy"
    report = tmp_path / "clusters.html"
    assert main(["cluster", str(tmp_path / "image-run"), str(images), "--method", "idec", "--epochs", "2",
                 "--out", str(out), "--report", str(report)]) == 0  # fmt: skip
    html = report.read_text(encoding="utf-8")
    assert _section_ids(html) == ["cluster-sizes", "decoded-cluster-centres", "clusters-against-the-labels"]
    assert "--report" in html and "--epochs 2" in html  # the command that made it
    assert f"wrote the clustering report to {report}" in capsys.readouterr().out

    assert main(["cluster", str(tmp_path / "table-run"), str(table), "--method", "kmeans", "--n-clusters", "4",
                 "--out", str(out), "--report", str(report)]) == 0  # fmt: skip
    html = report.read_text(encoding="utf-8")
    assert _section_ids(html) == ["cluster-sizes", "decoded-cluster-centres"]
    assert html.count('<td data-label="cluster">') == 4  # one decoded row per cluster

    capsys.readouterr()
    assert main(["cluster", str(tmp_path / "table-run"), str(table), "--out", str(out), "--report",
                 str(tmp_path / "clusters.png")]) == 2  # fmt: skip
    assert "give a .html file name" in capsys.readouterr().err
