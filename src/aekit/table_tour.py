"""``aekit tour --data table.csv`` on a mixed table: the table models side by side, with tabular figures.

A table with categorical columns or gaps cannot go through the array tour (PCA needs
complete numbers), so it gets its own: :class:`aekit.TabularAutoEncoder` and
:class:`aekit.TabularVAE` are fitted on 80% of the rows; the report shows, on the other
20%, each column's reconstruction accuracy (categories) or RMSE (numbers) beside the
most-frequent / mean baseline, the imputation error on hidden cells beside
scikit-learn's SimpleImputer, the category embeddings in 2-D, the per-column errors of
the most anomalous rows, and the training curves.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import aekit
from aekit.data.tables import TableSchema
from aekit.utils.files import atomic_write
from aekit.viz import (
    MetricsTable,
    ReportFigure,
    plot_category_embeddings,
    plot_feature_scores,
    plot_training_curves,
    render_report,
    write_report,
)


def _column_scores(truth: Any, predicted: Any, cells: np.ndarray, schema: TableSchema) -> dict[str, float]:
    out = {}
    for j, spec in enumerate(schema.columns):
        keep = cells[:, j]
        if not keep.any():
            continue
        t, p = truth[spec.name].to_numpy()[keep], np.asarray(predicted[spec.name])[keep]
        if spec.kind == "numeric":
            out[spec.name] = float(np.sqrt(np.mean((t.astype(float) - p.astype(float)) ** 2)))
        else:
            out[spec.name] = float(np.mean(t.astype(str) == p.astype(str)))
    return out


def run_table_tour(frame: Any, name: str, out: str = "aekit-tour", quick: bool = False, seed: int = 0) -> dict:
    """Fit the table models on ``frame`` and write report.html, metrics.json and models/ to ``out``."""
    from sklearn.impute import SimpleImputer

    started = time.perf_counter()
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(frame))
    n_test = max(1, len(frame) // 5)
    train, test = frame.iloc[order[n_test:]], frame.iloc[order[:n_test]]
    schema = TableSchema.infer(train)
    epochs = 5 if quick else 100
    models = {
        "TabularAutoEncoder": aekit.TabularAutoEncoder(latent_dim=4, epochs=epochs, random_state=seed),
        "TabularVAE": aekit.TabularVAE(latent_dim=4, epochs=epochs, random_state=seed),
    }
    baseline = test.copy()
    for spec in schema.columns:
        baseline[spec.name] = train[spec.name].mean() if spec.kind == "numeric" else train[spec.name].mode().iloc[0]
    observed = test.notna().to_numpy()
    hide = observed & (rng.random_sample(observed.shape) < 0.2)
    holed = test.mask(hide)
    simple = holed.copy()
    for spec in schema.columns:
        strategy = "mean" if spec.kind == "numeric" else "most_frequent"
        imputer = SimpleImputer(strategy=strategy).fit(train[[spec.name]].astype(float if spec.kind == "numeric" else object))
        simple[spec.name] = imputer.transform(holed[[spec.name]].astype(float if spec.kind == "numeric" else object))[:, 0]
    metrics: dict[str, Any] = {"baseline": {"reconstruction": _column_scores(test, baseline, observed, schema),
                                            "imputation": _column_scores(test, simple, hide, schema)}}  # fmt: skip
    figures, histories = [], {}
    out_dir = Path(out)
    for label, model in models.items():
        fit_started = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - fit_started
        histories[label] = model.history_
        metrics[label] = {
            "fit_seconds": seconds,
            "epochs": model.n_epochs_,
            "reconstruction": _column_scores(test, model.reconstruct(test), observed, schema),
            "imputation": _column_scores(test, model.impute(holed), hide, schema),
        }
        model.save(out_dir / "models" / f"{label}.safetensors")
    ae = models["TabularAutoEncoder"]
    if ae.category_embeddings_:
        figures.append(ReportFigure.from_figure(
            "Category embeddings (TabularAutoEncoder)", plot_category_embeddings(ae.category_embeddings_),
            "Each category of each categorical column as the encoder sees it, in 2-D. Categories the model "
            "finds interchangeable sit close together; those that predict different rows sit apart.",
        ))  # fmt: skip
    errors = ae.column_errors(test)
    figures.append(ReportFigure.from_figure(
        "Which columns make a row anomalous", plot_feature_scores(errors),
        "The test rows the TabularAutoEncoder reconstructs worst, and each column's share of the error "
        "(squared error in standard deviations, or cross-entropy for a category; 0 for a missing cell).",
    ))  # fmt: skip
    figures.append(ReportFigure.from_figure(
        "Training curves", plot_training_curves(histories), "Training and validation loss per epoch."
    ))  # fmt: skip
    headers = ["column", "metric", "baseline", *models, "impute: SimpleImputer", *(f"impute: {m}" for m in models)]
    rows = []
    for spec in schema.columns:
        metric = "RMSE" if spec.kind == "numeric" else "accuracy"
        cell = lambda d: f"{d[spec.name]:.3g}" if spec.name in d else "-"  # noqa: E731
        rows.append([spec.name, metric, cell(metrics["baseline"]["reconstruction"]),
                     *(cell(metrics[m]["reconstruction"]) for m in models), cell(metrics["baseline"]["imputation"]),
                     *(cell(metrics[m]["imputation"]) for m in models)])  # fmt: skip
    table = MetricsTable(headers, rows, note="Reconstruction of the observed cells of held-out rows (baseline: the "
                         "training rows' most frequent category / mean); imputation of 20% of them hidden at random.")  # fmt: skip
    intro = (f"A table of {len(frame)} rows and {len(schema.columns)} columns ({len(schema.numeric_index)} numeric, "
             f"{len(schema.categorical_index)} categorical). The table models were fitted on {len(train)} rows and are "
             f"compared on the other {len(test)}.")  # fmt: skip
    command = f"aekit tour --data {name} --out {out}" + (" --quick" if quick else "")
    versions = {"aekit": aekit.__version__}
    text = render_report(f"aekit tour: {name}", intro, table, figures, command, versions)
    write_report(out_dir / "report.html", text)
    metrics["seconds"] = time.perf_counter() - started
    payload = json.dumps(metrics, indent=2)
    atomic_write(out_dir / "metrics.json", lambda tmp: Path(tmp).write_text(payload, encoding="utf-8"))
    print(f"aekit tour: wrote {out_dir / 'report.html'} ({metrics['seconds']:.0f} s)")
    return metrics
