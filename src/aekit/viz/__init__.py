"""Figures (matplotlib, no display needed) and the self-contained HTML report.

>>> import aekit
>>> from aekit import viz
>>> X, y = aekit.datasets.load_digits()
>>> ae = aekit.AutoEncoder(latent_dim=2, epochs=3, random_state=0).fit(X)
>>> fig = viz.plot_reconstructions(X[:8], {"AutoEncoder": ae.reconstruct(X[:8])}, labels=y[:8])
>>> viz.save_figure(fig, "reconstructions.png")  # doctest: +SKIP
"""

from aekit.viz.boltzmann import plot_ais_path, plot_gibbs_chains, plot_rbm_filters
from aekit.viz.clustering import (
    cluster_figures,
    cluster_order,
    decoded_centers,
    plot_cluster_centers,
    plot_cluster_sizes,
    plot_confusion_matrix,
)
from aekit.viz.figures import (
    MetricSpec,
    PixelScale,
    as_pictures,
    figure_png,
    image_rows,
    plot_anomalies,
    plot_code_map,
    plot_denoising,
    plot_detection,
    plot_interpolations,
    plot_metrics,
    plot_reconstructions,
    plot_sample_grids,
    plot_samples,
    plot_training_curves,
    plot_traversal,
    project_2d,
    save_figure,
    text_width,
    traversal_change,
    wrap_label,
)
from aekit.viz.latents import plot_beta_sweep, plot_kl_per_dimension
from aekit.viz.report import MetricsTable, ReportFigure, render_report, write_report
from aekit.viz.tables import plot_category_embeddings, plot_feature_scores

__all__ = [
    "plot_category_embeddings",
    "plot_feature_scores",
    "MetricSpec",
    "MetricsTable",
    "PixelScale",
    "ReportFigure",
    "as_pictures",
    "cluster_figures",
    "cluster_order",
    "decoded_centers",
    "figure_png",
    "image_rows",
    "plot_ais_path",
    "plot_anomalies",
    "plot_beta_sweep",
    "plot_cluster_centers",
    "plot_cluster_sizes",
    "plot_code_map",
    "plot_confusion_matrix",
    "plot_denoising",
    "plot_detection",
    "plot_gibbs_chains",
    "plot_interpolations",
    "plot_kl_per_dimension",
    "plot_metrics",
    "plot_rbm_filters",
    "plot_reconstructions",
    "plot_sample_grids",
    "plot_samples",
    "plot_training_curves",
    "plot_traversal",
    "project_2d",
    "render_report",
    "save_figure",
    "text_width",
    "traversal_change",
    "wrap_label",
    "write_report",
]
