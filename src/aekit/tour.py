"""``aekit tour`` and ``aekit report``: compare PCA and the autoencoder family on one dataset.

The tour trains PCA, AutoEncoder, DenoisingAutoEncoder, SparseAutoEncoder,
ContractiveAutoEncoder and VAE side by side; the report command evaluates models
trained with ``aekit train``.  Both print a results table and write ``report.html``
(figures embedded), ``metrics.json`` and, for the tour, the fitted models.  The
report, the JSON and the terminal table show the same rounded numbers.

When the data has class labels, one class (the first, by default) is held out from
training: the models then meet it only at test time, which measures how well their
reconstruction error flags inputs unlike anything they were trained on (AUROC).
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import sklearn
import sklearn.base
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import type_of_target
from tqdm.auto import tqdm

import aekit
from aekit import viz
from aekit.data.loaded import LoadedData
from aekit.data.loading import load_data
from aekit.data.preprocessing import Preprocessing
from aekit.estimators import registry
from aekit.runs import RUN_FILE, load_run
from aekit.tour_latents import (
    disentanglement_scores,
    disentanglement_table,
    factor_sampler,
    is_vae_family,
    kl_figure,
    latent_usage,
    traversal_figure,
)
from aekit.tour_samples import samples_section
from aekit.utils.files import atomic_write
from aekit.viz import MetricSpec, MetricsTable, ReportFigure
from aekit.viz.explorer import latent_explorer

METRICS = (
    MetricSpec("reconstruction_error", "test reconstruction error", 3, higher_is_better=False),
    MetricSpec("probe_accuracy", "linear-probe accuracy", 3, higher_is_better=True),
    MetricSpec("auroc", "AUROC, held-out class", 3, higher_is_better=True),
    MetricSpec("fit_seconds", "fit time (s)", 1, higher_is_better=False),
)
TABLE_HEADERS = ("model", "code size", "epochs", "recon. error", "probe acc.", "AUROC", "fit s")
REFERENCE = "PCA"
N_SHOWN = 10  # samples per row in the image figures
MAX_COLUMNS_LISTED = 30  # rows of the error-by-column table of a wide table
TRAINING_STEPS = 2000  # gradient steps per model on the full tour; epochs follow from the data size
# Small data: on digits 80 epochs keep the default tour under 30 s (measured with another job
# running: 100 epochs 32.5 s wall, test errors AE 0.908, sparse 0.795, contractive 1.541;
# 80 epochs 29.5 s, 0.952, 0.959, 1.685; probe accuracy and AUROC within 0.01).
MAX_TOUR_EPOCHS = 80
# Small models on small data spend more time synchronizing two threads than computing
# (measured on digits: 5-15x the CPU time with 2 threads on a busy 2-core machine).
SINGLE_THREAD_BELOW = 20_000_000  # training-set values
DEFAULT_BUDGET = 240.0  # seconds of training for the whole tour; epochs are cut to fit it
PROBE_ROWS = 256  # rows of the two-epoch fit that times each model before its real fit
FEW_SAMPLES = 1000  # below this many training samples an autoencoder rarely beats PCA


# ---------------------------------------------------------------------------- data
@dataclass
class TourData:
    """Train/test inputs scaled for the models, labels when known, and the held-out class."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    name: str
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    held_out: Any = None  # a class never shown to the models in training
    file_split: bool = False  # the test inputs are the data file's own test split
    feature_names: list[str] | None = None  # a table's column names
    test_rows: np.ndarray | None = None  # each test input's row in the data file (None: the file's own test split)
    factors_test: np.ndarray | None = None  # ground-truth factors of the test inputs, when the data has them
    factor_names: list[str] | None = None

    @property
    def is_table(self) -> bool:
        """Samples are a table's rows (named columns, or a few unnamed features), not pictures; a wide
        unnamed array (flattened images, say) is still drawn as pictures."""
        return self.X_train.ndim == 2 and (self.feature_names is not None or self.X_train.shape[1] <= 64)

    @property
    def columns(self) -> list[str]:
        """The features' names: the table's column names, else feature 0, feature 1, ..."""
        return self.feature_names or [f"feature {j}" for j in range(math.prod(self.X_train.shape[1:]))]

    @property
    def fit_mask(self) -> np.ndarray:
        """Training rows the models are fitted on (all but the held-out class)."""
        if self.held_out is None:
            return np.ones(len(self.X_train), dtype=bool)
        return self.y_train != self.held_out

    @property
    def seen_test_mask(self) -> np.ndarray:
        if self.held_out is None:
            return np.ones(len(self.X_test), dtype=bool)
        return self.y_test != self.held_out


def _class_labels(y: Any, n: int) -> np.ndarray | None:
    """``y`` as a 1-D label array when it holds 2 to 100 classes for ``n`` rows, else None."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n or type_of_target(y) not in ("binary", "multiclass"):
        return None
    return y if 2 <= len(np.unique(y)) <= 100 else None


def _data_name(path: str, loaded: LoadedData) -> str:
    """A title for the data: its file or folder name and what it holds, not the path typed."""
    sample = loaded.X.shape[1:]
    if loaded.kind == "images" and len(sample) >= 2:
        colour = "RGB " if len(sample) == 3 and sample[0] == 3 else "grey " if len(sample) == 2 else ""
        what = f"{len(loaded.X)} {colour}{sample[-2]}x{sample[-1]} images"
    elif loaded.kind == "table":
        what = f"a table of {len(loaded.X)} rows, {math.prod(sample)} columns"
    else:
        what = f"{len(loaded.X)} samples of shape {'x'.join(map(str, sample))}"
    return f"{Path(path).name or path} ({what})"


def load_tour_data(
    path: str | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    image_size: tuple[int, int] | None = None,
    image_color: str | None = None,
) -> TourData:
    """The tour's data: scikit-learn's digits by default, else a data file or image folder.

    Uses the file's test split when it has one (MNIST), else a stratified
    ``test_fraction`` split.  uint8 images are scaled to [0, 1] and CSV columns
    standardized (see :class:`aekit.data.Preprocessing`).  ``image_size`` and
    ``image_color`` choose how an image folder is read (see
    :func:`aekit.data.images.load_image_folder`).
    """
    if path is None:
        X, y = aekit.datasets.load_digits()
        loaded, name = LoadedData(X=X, y=y), "scikit-learn digits (8x8 images)"
    else:
        loaded = load_data(path, size=image_size, color=image_color)
        if loaded.description:
            _say(f"aekit tour: {path}: {loaded.description}")
        name = _data_name(path, loaded)
    preprocessing = Preprocessing.fit(loaded.X, loaded.kind)
    X = preprocessing.apply(loaded.X)
    columns = [str(c) for c in loaded.frame.columns] if loaded.frame is not None else None
    y = _class_labels(loaded.y, len(X))
    factor_names = loaded.factor_names
    if loaded.X_test is not None:
        X_test = preprocessing.apply(loaded.X_test)
        y_test = _class_labels(loaded.y_test, len(X_test)) if y is not None else None
        return TourData(
            X, X_test, y if y_test is not None else None, y_test, name, preprocessing, file_split=True,
            feature_names=columns, factors_test=loaded.factors_test, factor_names=factor_names,
        )  # fmt: skip
    if len(X) < 10:
        raise ValueError(f"{name} has only {len(X)} samples; the tour needs at least 10 (it holds out a test set).")
    counts = None if y is None else np.unique(y, return_counts=True)[1]
    # A stratified split needs two of each class and a test set with room for every class.
    stratified = counts is not None and counts.min() >= 2 and math.ceil(test_fraction * len(X)) >= len(counts)
    stratify = y if stratified else None
    index_train, index_test = train_test_split(
        np.arange(len(X)), test_size=test_fraction, random_state=seed, stratify=stratify
    )
    y_train, y_test = (None, None) if y is None else (y[index_train], y[index_test])
    return TourData(
        X[index_train], X[index_test], y_train, y_test, name, preprocessing, feature_names=columns,
        test_rows=index_test, factors_test=None if loaded.factors is None else loaded.factors[index_test],
        factor_names=factor_names,
    )  # fmt: skip


def _subsample(rng: np.random.RandomState, n: int, limit: int) -> np.ndarray:
    return np.sort(rng.permutation(n)[:limit]) if n > limit else np.arange(n)


def choose_held_out(data: TourData, novel_class: str | None) -> Any:
    """The class to hold out: ``novel_class`` ("none" for no hold-out) or the first class.

    Needs labels and at least three classes, so that two remain to learn from.
    """
    if data.y_train is None or (novel_class is not None and novel_class.lower() == "none"):
        return None
    classes = np.unique(np.concatenate([data.y_train, data.y_test]))
    if novel_class is None:
        return classes[0] if len(classes) >= 3 else None
    matches = [c for c in classes if str(c) == novel_class]
    if not matches:
        raise ValueError(
            f"--novel-class {novel_class!r} is not a label of {data.name}; labels are "
            f"{[str(c) for c in classes[:20]]}{' ...' if len(classes) > 20 else ''} (or pass 'none')."
        )
    if len(classes) < 3:
        raise ValueError("holding out a class needs at least three classes; pass --novel-class none.")
    return matches[0]


# ---------------------------------------------------------------------------- models
class PCABaseline:
    """PCA with the autoencoders' interface (codes, and decodings in the input's shape): the reference."""

    def __init__(self, n_components: int, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> PCABaseline:
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = math.prod(self.input_shape_)
        n_components = min(self.n_components, len(X), self.n_features_in_)
        self.pca_ = PCA(n_components=n_components, random_state=self.random_state).fit(X.reshape(len(X), -1))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        return self.pca_.transform(X.reshape(len(X), -1))

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return self.pca_.inverse_transform(np.asarray(Z)).reshape(len(Z), *self.input_shape_)

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        return self.inverse_transform(self.transform(X))

    def save(self, path: str | Path) -> None:
        """Components, mean and explained variance as a plain .npz (no pickle)."""
        arrays = {
            "components": self.pca_.components_,
            "mean": self.pca_.mean_,
            "explained_variance": self.pca_.explained_variance_,
            "input_shape": np.asarray(self.input_shape_),
        }

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(path, write)


def _unit_range(X: np.ndarray) -> bool:
    return bool(X.min() >= 0.0 and X.max() <= 1.0)


def tour_models(latent_dim: int, epochs: int, unit_range: bool, seed: int = 0) -> dict[str, aekit.BaseAutoEncoder]:
    """The autoencoders of the tour (every registered family with a ``tour_rank``), configured for the data.

    Each family's :meth:`~aekit.BaseAutoEncoder.tour_params` says how it adapts: data
    in [0, 1] gets cross-entropy losses and a Bernoulli VAE, other data squared errors
    and a Gaussian VAE; the sparse autoencoder a 4x wider code, the contractive one an MLP.
    """
    common = {"epochs": epochs, "random_state": seed, "verbose": 1}
    return {cls.__name__: cls(**common, **cls.tour_params(latent_dim, unit_range)) for cls in registry.tour_family()}


def tour_latent_dim(n_features: int) -> int:
    """8 for small inputs (digits' 64 pixels), 16 up to 4096 features (MNIST), else 32."""
    return 8 if n_features <= 256 else 16 if n_features <= 4096 else 32


def tour_epochs(n_train: int, batch_size: int = 128, quick: bool = False) -> int:
    """Epochs for about ``TRAINING_STEPS`` gradient steps, between 5 and ``MAX_TOUR_EPOCHS`` (3 when quick)."""
    if quick:
        return 3
    return int(np.clip(round(TRAINING_STEPS / math.ceil(n_train / batch_size)), 5, MAX_TOUR_EPOCHS))


def epoch_seconds(model: aekit.BaseAutoEncoder, X: np.ndarray) -> float:
    """Seconds one training epoch of ``model`` on ``X`` should take, timed on a short fit.

    The second of two epochs on ``PROBE_ROWS`` rows, scaled to the rows of ``X``: the
    trainer's per-epoch clock leaves out building the network, and the first epoch
    pays one-off costs (first optimizer step, kernel set-up) a long fit pays once.
    """
    rows = min(len(X), PROBE_ROWS)
    probe = sklearn.base.clone(model).set_params(epochs=2, verbose=0, validation_fraction=0.0, early_stopping=False)
    probe.fit(X[:rows])
    validation = 1.0 + model.validation_fraction / 2  # the held-out rows are only evaluated
    return float(probe.history_["seconds"][-1]) * len(X) / rows * validation


def plan_epochs(seconds_per_epoch: Mapping[str, float], epochs: int, budget: float) -> dict[str, int]:
    """Epochs per model: ``epochs`` each when they fit ``budget`` seconds, else all cut in
    the same proportion (at least 1 each), so the slow models do not starve the others."""
    total = epochs * sum(seconds_per_epoch.values())
    factor = min(1.0, budget / total) if total > 0 else 1.0
    return {name: max(1, int(epochs * factor)) for name in seconds_per_epoch}


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads, restoring the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------- evaluation
@dataclass
class ModelResult:
    """A fitted model and what the report needs from it."""

    model: Any
    test_errors: np.ndarray  # per test input, squared error summed over features
    test_codes: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)


def evaluate(model: Any, data: TourData, fit_seconds: float | None, epochs: int | None) -> ModelResult:
    """Reconstruction error (seen classes), linear-probe accuracy and held-out-class AUROC on the test set.

    The probe is a logistic regression trained on the codes of every training input
    (the held-out class included: it asks whether the code keeps the class, not whether
    the autoencoder saw it) and scored on the test codes.  A VAE-family model also gets
    its KL per code dimension and active dimensions, and, when the test inputs have
    ground-truth factors, its disentanglement scores (:mod:`aekit.tour_latents`).
    Values are rounded to the decimals the report shows, so the report, metrics.json
    and the terminal agree.
    """
    test_errors = aekit.metrics.reconstruction_error(model, data.X_test)
    test_codes = np.asarray(model.transform(data.X_test))
    metrics: dict[str, Any] = {
        "code_size": int(test_codes.shape[1]),
        "epochs": epochs,
        "reconstruction_error": float(test_errors[data.seen_test_mask].mean()),
        "probe_accuracy": None,
        "auroc": None,
        "fit_seconds": None if fit_seconds is None else float(fit_seconds),
    }
    if data.y_train is not None:
        train_codes = np.asarray(model.transform(data.X_train))
        metrics["probe_accuracy"] = aekit.metrics.linear_probe_accuracy(
            train_codes, data.y_train, test_codes, data.y_test
        )
    if data.held_out is not None:
        metrics["auroc"] = aekit.metrics.auroc(data.y_test == data.held_out, test_errors)
    if is_vae_family(model):
        metrics.update(latent_usage(model, data.X_test))
    if isinstance(model, aekit.VAE) and data.factors_test is not None:
        sampler = factor_sampler(data.X_test, data.factors_test)
        metrics["disentanglement"] = disentanglement_scores(model, data.X_test, data.factors_test, sampler)
    for spec in METRICS:
        if metrics[spec.key] is not None:
            metrics[spec.key] = round(metrics[spec.key], spec.decimals)
    return ModelResult(model, test_errors, test_codes, metrics)


def format_metric(spec: MetricSpec, value: float | None) -> str:
    return "n/a" if value is None else f"{value:.{spec.decimals}f}"


def table_rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row of formatted cells per model: the same strings in the terminal and the report."""
    return [
        [
            name,
            str(m["code_size"]),
            "-" if m["epochs"] is None else str(m["epochs"]),
            *(format_metric(spec, m[spec.key]) for spec in METRICS),
        ]
        for name, m in results.items()
    ]


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(TABLE_HEADERS), *rows]) for i in range(len(TABLE_HEADERS))]
    lines = [list(TABLE_HEADERS), *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    )


# ---------------------------------------------------------------------------- figures
def _classes_in_turn(y: np.ndarray | None, n: int, limit: int = N_SHOWN) -> np.ndarray:
    """Indices of up to ``limit`` inputs taking the classes in turn (one of each class, then a second...)."""
    if y is None:
        return np.arange(min(n, limit))
    _, class_index = np.unique(y, return_inverse=True)
    rank_in_class = np.empty(len(y), dtype=np.int64)
    for c in range(class_index.max() + 1):
        members = np.flatnonzero(class_index == c)
        rank_in_class[members] = np.arange(len(members))
    return np.lexsort((class_index, rank_in_class))[:limit]


def _pair(data: TourData) -> tuple[int, int]:
    """Two test inputs of different seen classes (or the first two)."""
    seen = np.flatnonzero(data.seen_test_mask)
    if data.y_test is not None:
        others = seen[data.y_test[seen] != data.y_test[seen[0]]]
        if len(others):
            return int(seen[0]), int(others[0])
    return int(seen[0]), int(seen[min(1, len(seen) - 1)])


def _looks(data: TourData) -> tuple[str, str]:
    """What the pictures' fine detail is and what one code dimension might control, in words
    that fit the data: grey images (digits, drawings) or colour photographs."""
    if data.X_train.ndim == 4 and data.X_train.shape[1] in (3, 4):
        return "edges, textures and colours", "brightness, a colour, or where an edge or object lies"
    return "thin strokes and edges", "stroke thickness, slant, or overall shape"


def _best_detector(results: Mapping[str, ModelResult], data: TourData) -> str:
    """The model whose errors the anomaly table explains: the best AUROC, else the lowest error."""
    if data.held_out is not None:
        return max(results, key=lambda n: results[n].metrics["auroc"])
    return min(results, key=lambda n: results[n].metrics["reconstruction_error"])


def _column_errors(results: Mapping[str, ModelResult], data: TourData) -> dict[str, np.ndarray]:
    """Each model's squared error per feature, per test input: (n_test, n_features)."""
    return {name: np.square(r.model.reconstruct(data.X_test) - data.X_test) for name, r in results.items()}


def _table_figures(results: Mapping[str, ModelResult], data: TourData) -> tuple[ReportFigure, ReportFigure]:
    """For a table, tables: each column's reconstruction error per model, and the worst rows explained."""
    errors = _column_errors(results, data)
    seen = data.seen_test_mask
    names = list(results)
    per_column = np.column_stack([errors[n][seen].mean(0) for n in names])  # (features, models)
    listed = np.arange(len(per_column))
    if len(listed) > MAX_COLUMNS_LISTED:  # the worst-rebuilt columns, in the file's order
        listed = np.sort(np.argsort(-per_column.mean(1), kind="stable")[:MAX_COLUMNS_LISTED])
    rows = [
        [data.columns[j], *(f"{v:.3g}" for v in per_column[j]), names[int(np.argmin(per_column[j]))]]
        for j in listed
    ]
    which = (
        f"the {len(listed)} of the {len(per_column)} columns with the largest mean error"
        if len(listed) < len(per_column)
        else "each column"
    )
    units = "standard deviations squared" if data.preprocessing.kind == "standardize" else "the data's units squared"
    by_column = ReportFigure.from_table(
        "Reconstruction error by column",
        MetricsTable(["column", *names, "best"], rows, note=""),
        f"Mean squared error of {which} on the test rows ({units}), by model; the last column names the "
        "model that rebuilds it best. A column every model rebuilds badly is one the others do not predict: "
        "it carries information of its own (or noise).",
    )
    best = _best_detector(results, data)
    total = errors[best].sum(1)
    worst = np.argsort(-total, kind="stable")[:8]
    original = data.preprocessing.invert(data.X_test[worst])
    rebuilt = data.preprocessing.invert(results[best].model.reconstruct(data.X_test[worst]))
    has_labels = data.y_test is not None
    table_rows = []
    for k, i in enumerate(worst):
        share = errors[best][i] / (total[i] or 1.0)
        top = np.argsort(-share, kind="stable")[:3]
        explained = "; ".join(
            f"{data.columns[j]} {original[k, j]:.4g} rebuilt as {rebuilt[k, j]:.4g} ({share[j]:.0%})" for j in top
        )
        row = f"test input {i}" if data.test_rows is None else f"row {int(data.test_rows[i]) + 1}"
        label = []
        if has_labels:
            novel = data.held_out is not None and data.y_test[i] == data.held_out
            label = [f"{data.y_test[i]}{' (held out)' if novel else ''}"]
        table_rows.append([row, *label, f"{total[i]:.4g}", explained])
    headers = ["data row", *(["label"] if has_labels else []), "error", "columns with the largest errors"]
    anomalies = ReportFigure.from_table(
        "Most anomalous rows",
        MetricsTable(headers, table_rows, text_columns=(len(headers) - 1,)),
        f"The test rows {best} reconstructs worst (it "
        + ("separates the held-out class best" if data.held_out is not None else "has the lowest error")
        + "), with the three columns that make up most of each row's error: the value in the file, the value "
        "rebuilt from the code, and that column's share of the row's squared error. Data rows count from 1, "
        "the header not included."
        + (
            f" Rows of class {data.held_out} were never seen in training: a good detector lists them first."
            if data.held_out is not None
            else ""
        ),
    )
    return by_column, anomalies


def build_figures(results: Mapping[str, ModelResult], data: TourData) -> list[ReportFigure]:
    """Every figure of the report, with its caption; figures a model set cannot make are skipped.

    Pictures of samples are drawn only for images: a table's rows get tables instead
    (error by column, the worst rows explained by their columns).
    """
    figures = []
    scale = viz.PixelScale.for_data(data.X_train)
    has_labels = data.y_test is not None
    held = f" (class {data.held_out} was held out from training)" if data.held_out is not None else ""
    networks = {name: r for name, r in results.items() if isinstance(r.model, aekit.BaseAutoEncoder)}
    metrics = {name: r.metrics for name, r in results.items()}
    figures.append(
        ReportFigure.from_figure(
            "Comparison at a glance",
            viz.plot_metrics(metrics, METRICS, reference=REFERENCE),
            "Each bar is one model on the test inputs; the dashed line marks PCA with the same code size, "
            "the classic linear baseline. Reconstruction error is the squared difference between input and "
            "reconstruction summed over features (lower is better). "
            + (
                "Probe accuracy is how often a linear classifier reads the correct label from the code: a high "
                "value means the code keeps the class. "
                if has_labels
                else ""
            )
            + (
                "AUROC is how well reconstruction error ranks inputs of the held-out class above the others "
                "(0.5 is chance, 1 is perfect). "
                if data.held_out is not None
                else ""
            )
            + "Fit time is in seconds.",
        )
    )
    table_figures = _table_figures(results, data) if data.is_table else None
    shown = _classes_in_turn(data.y_test, len(data.X_test))
    if table_figures:
        figures.append(table_figures[0])
    else:
        detail, factors = _looks(data)
        figures.append(
            ReportFigure.from_figure(
                "Reconstructions",
                viz.plot_reconstructions(
                    data.X_test[shown],
                    {name: r.model.reconstruct(data.X_test[shown]) for name, r in results.items()},
                    labels=None if not has_labels else data.y_test[shown],
                    scale=scale,
                ),
                "The top row shows test inputs the models never trained on; each row below is one model's "
                f"attempt to rebuild them from its code. Look for which models keep the fine detail ({detail}) "
                f"and which blur it; the number beside each name is the mean error over these inputs{held}.",
            )
        )
    figures.append(
        ReportFigure.from_figure(
            "Map of the codes",
            viz.plot_code_map({name: r.test_codes for name, r in results.items()}, data.y_test),
            "Each dot is one test "
            + ("row" if data.is_table else "input")
            + " placed by its code (codes wider than two numbers are flattened to "
            "their two main directions by PCA, as the axis labels say). "
            + (
                "Colors are the true labels, which the models never saw: well separated color clusters mean "
                "the model grouped similar inputs on its own."
                if has_labels
                else "Clusters and gaps show structure the model found in the data."
            ),
        )
    )
    if networks:
        figures.append(
            ReportFigure.from_figure(
                "Training curves",
                viz.plot_training_curves({name: r.model.history_ for name, r in networks.items()}),
                "Loss per epoch on the training data (blue) and on a held-back validation part (orange). "
                "Both should fall and level off; a validation curve that turns upward while training keeps "
                "falling is overfitting. Each model minimizes its own loss, so compare shapes, not heights.",
            )
        )
    usage = {name: r.metrics for name, r in networks.items() if is_vae_family(r.model)}
    if usage:
        figures.append(kl_figure(usage))
    scores = {name: r.metrics["disentanglement"] for name, r in networks.items() if "disentanglement" in r.metrics}
    if scores:
        has_sampler = factor_sampler(data.X_test, data.factors_test) is not None
        names = data.factor_names or [f"factor {k}" for k in range(data.factors_test.shape[1])]
        figures.append(disentanglement_table(scores, names, has_sampler))
    samples, sample_scores = samples_section(
        {name: r.model for name, r in results.items()},
        data.X_train[data.fit_mask],
        None if data.y_train is None else data.y_train[data.fit_mask],
        data.X_test[data.seen_test_mask],
        as_pictures=not data.is_table,
        scale=scale,
    )
    for name, quality in sample_scores.items():
        results[name].metrics["sample_quality"] = quality  # into metrics.json with the other numbers
    if samples is not None and not data.is_table:
        figures.append(samples)
    if not data.is_table:
        figures.extend(_picture_figures(results, networks, data, scale))
    if data.held_out is not None:
        figures.append(
            ReportFigure.from_figure(
                "Detecting the held-out class",
                viz.plot_detection(
                    {name: r.test_errors for name, r in results.items()},
                    data.y_test == data.held_out,
                    f"class {data.held_out}",
                ),
                f"Every test input scored by its reconstruction error, class {data.held_out} (never seen in "
                "training) against the seen classes. First panel: each model's ROC curve, the share of the "
                "held-out class caught against the share of seen inputs wrongly flagged as the threshold is "
                "lowered (the diagonal is chance; AUROC is the area under the curve). Other panels: each model's "
                "scores of the two groups; the less the red and blue overlap, the better a threshold separates them.",
            )
        )
    if table_figures:
        figures.append(table_figures[1])
        if samples is not None:
            figures.append(samples)
    else:
        figures.append(
            ReportFigure.from_figure(
                "Anomalies",
                viz.plot_anomalies(
                    data.X_test,
                    {name: r.test_errors for name, r in results.items()},
                    labels=data.y_test,
                    novel_label=data.held_out,
                    n_show=N_SHOWN,
                    scale=scale,
                ),
                "The test inputs each model reconstructs worst, with their reconstruction errors"
                + (
                    f"; labels in red belong to class {data.held_out}, which the models never saw in training. "
                    "A good anomaly detector puts those first."
                    if data.held_out is not None
                    else ". These are the inputs least like the training data according to each model."
                ),
            )
        )
        denoisers = [(name, r) for name, r in networks.items() if hasattr(r.model, "denoise")]
        if denoisers:
            figures.append(_denoising_figure(denoisers[0][1].model, results, data, shown, scale))
    return figures


def _picture_figures(
    results: Mapping[str, ModelResult], networks: Mapping[str, ModelResult], data: TourData, scale: viz.PixelScale
) -> list[ReportFigure]:
    """Interpolations and the VAE's traversal: decodings drawn as pictures."""
    figures = []
    a, b = _pair(data)
    paths = {
        name: aekit.interpolate(
            r.model,
            data.X_test[a],
            data.X_test[b],
            n_steps=N_SHOWN,
            method="slerp" if isinstance(r.model, aekit.VAE) else "linear",
        )
        for name, r in results.items()
    }
    figures.append(
        ReportFigure.from_figure(
            "Interpolations",
            viz.plot_interpolations(paths, scale),
            "Each row walks in a straight line (a great circle for the VAE) through code space from one "
            "test input to another and decodes the points on the way. A smooth change through plausible "
            "inputs means the code space is well organized; PCA simply cross-fades the two.",
        )
    )
    _, properties = _looks(data)
    for name, r in networks.items():
        if is_vae_family(r.model):
            kl = np.asarray(r.metrics["kl_per_dimension"])
            figures.append(traversal_figure(name, r.model, data.X_test[a], kl, scale, properties))
    return figures


def _denoising_figure(
    denoiser: Any, results: Mapping[str, ModelResult], data: TourData, shown: np.ndarray, scale: viz.PixelScale
) -> ReportFigure:
    """Corrupt test inputs with the denoiser's own training noise; every model then reconstructs them."""
    from aekit.data.corruption import make_corruption

    corruption = make_corruption(denoiser.noise, float(denoiser.noise_level), denoiser.data_min_, denoiser.data_max_)
    clean = data.X_test[shown]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        corrupted = corruption(torch.as_tensor(clean, dtype=torch.float32)).numpy().astype(clean.dtype)
    denoised = {
        name: r.model.denoise(corrupted) if hasattr(r.model, "denoise") else r.model.reconstruct(corrupted)
        for name, r in results.items()
    }
    return ReportFigure.from_figure(
        "Denoising",
        viz.plot_denoising(
            clean, corrupted, denoised, noise=f" ({denoiser.noise}, level {denoiser.noise_level})", scale=scale
        ),
        "Clean test inputs (top), the same inputs with the noise the denoising autoencoder was trained on, "
        "and every model's reconstruction of the noisy version. The number beside each row is its distance "
        "to the clean row: the denoising autoencoder should remove the most noise.",
    )


# ---------------------------------------------------------------------------- outputs
def versions() -> dict[str, str]:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {
        "aekit": aekit.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": f"{device}, {torch.get_num_threads()} torch thread(s)",
    }


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def write_outputs(
    out: Path,
    title: str,
    intro: str,
    data: TourData,
    results: Mapping[str, ModelResult],
    figures: list[ReportFigure],
    command: str,
    started: float,
    extra: Mapping[str, Any],
) -> dict:
    """Write report.html and metrics.json with the same numbers; return the metrics document."""
    metrics = {name: r.metrics for name, r in results.items()}
    rows = table_rows(metrics)
    shape = "x".join(str(s) for s in data.X_train.shape[1:])
    dataset = {
        "name": data.name,
        "n_train": int(data.fit_mask.sum()),
        "n_test": len(data.X_test),
        "sample_shape": list(data.X_train.shape[1:]),
        "labels": data.y_train is not None,
        "held_out_class": None if data.held_out is None else str(data.held_out),
    }
    finished = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    wall_seconds = round(time.perf_counter() - started, 1)
    details = {
        "data": f"{data.name}: {dataset['n_train']} training and {dataset['n_test']} test samples of shape {shape}",
        **({"held-out class": str(data.held_out)} if data.held_out is not None else {}),
        **{k: _describe(v) for k, v in extra.items()},
        "finished": finished,
        "wall time": f"{wall_seconds} s",
    }
    note = (
        f"Reconstruction error: squared difference summed over the {math.prod(data.X_train.shape[1:])} features, "
        "averaged over the test inputs"
        + (f" of the classes seen in training (class {data.held_out} excluded)" if data.held_out is not None else "")
        + ". Probe accuracy: logistic regression trained on the training codes, scored on the test codes. "
        + ("AUROC: reconstruction error as a detector of the held-out class. " if data.held_out is not None else "")
        + "n/a: not available for this data."
    )
    explorer, _ = latent_explorer({name: r.model for name, r in results.items()}, data.X_test)
    text = viz.render_report(
        title,
        intro,
        MetricsTable(TABLE_HEADERS, rows, reference=REFERENCE, note=note),
        figures,
        command,
        versions(),
        details,
        explorer,
    )
    viz.write_report(out / "report.html", text)
    document = {
        "title": title,
        "command": command,
        "dataset": dataset,
        "metrics": metrics,
        "metric_definitions": {spec.key: spec.name for spec in METRICS},
        "wall_seconds": wall_seconds,
        "finished": finished,
        "versions": versions(),
        **{k: v for k, v in extra.items()},
    }
    json_text = json.dumps(document, indent=2)
    atomic_write(out / "metrics.json", lambda tmp: Path(tmp).write_text(json_text, encoding="utf-8"))
    print(f"\n{title}\n{details['data']}\n")
    print(format_table(rows))
    for caveat in extra.get("caveats", []):
        print(f"\nNote: {caveat}")
    print(f"\nwrote {out / 'report.html'} and {out / 'metrics.json'} ({wall_seconds} s)")
    return document


def tour_command(
    data: str | None,
    out: str,
    quick: bool,
    novel_class: str | None,
    budget: float = DEFAULT_BUDGET,
    image_size: tuple[int, int] | None = None,
    image_color: str | None = None,
) -> str:
    """The ``aekit tour`` command line equivalent to these arguments."""
    parts = ["aekit", "tour"]
    if data is not None:
        parts += ["--data", str(data)]
    parts += ["--out", str(out)]
    if novel_class is not None:
        parts += ["--novel-class", novel_class]
    if budget != DEFAULT_BUDGET:
        parts += ["--budget", f"{budget:g}"]
    if image_size is not None:
        parts += ["--size", f"{image_size[0]}x{image_size[1]}"]
    if image_color is not None:
        parts += ["--color", image_color]
    if quick:
        parts.append("--quick")
    return shlex.join(parts)


def run_tour(
    data: str | None = None,
    out: str = "aekit-tour",
    quick: bool = False,
    novel_class: str | None = None,
    budget: float = DEFAULT_BUDGET,
    image_size: tuple[int, int] | None = None,
    image_color: str | None = None,
) -> dict:
    """Train PCA and the autoencoder family on ``data`` and write the report.

    Parameters
    ----------
    data : path or None
        A data file (.npy/.npz/.csv, MNIST .npz) or an image folder; None uses
        scikit-learn's digits.
    out : folder
        Receives report.html, metrics.json and models/ (one .safetensors per
        autoencoder, pca.npz and preprocessing.json).
    quick : bool
        Train on a subsample for a few epochs (tests, a first look).
    novel_class : str or None
        Label of the class held out from training ("none": hold out nothing); None
        holds out the first class when the data has at least three.
    budget : float
        Seconds of training for all the models together.  Each model is timed on a
        one-epoch fit first, and its epochs are cut to its share of what is left
        (what a fast model leaves goes to the next); the report says which were cut.
    image_size, image_color
        How an image folder is read: (height, width) and "grey" or "rgb"; None
        follows the files (the most common size; RGB if any is in colour).

    Returns
    -------
    dict
        The contents of metrics.json.
    """
    started = time.perf_counter()
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of seconds; got {budget!r}.")
    command = tour_command(data, out, quick, novel_class, budget, image_size, image_color)
    tour_data = load_tour_data(data, image_size=image_size, image_color=image_color)
    if quick:
        rng = np.random.RandomState(0)
        keep_train = _subsample(rng, len(tour_data.X_train), 600)
        keep_test = _subsample(rng, len(tour_data.X_test), 200)
        tour_data.X_train, tour_data.X_test = tour_data.X_train[keep_train], tour_data.X_test[keep_test]
        if tour_data.test_rows is not None:
            tour_data.test_rows = tour_data.test_rows[keep_test]
        if tour_data.factors_test is not None:
            tour_data.factors_test = tour_data.factors_test[keep_test]
        if tour_data.y_train is not None:
            tour_data.y_train, tour_data.y_test = tour_data.y_train[keep_train], tour_data.y_test[keep_test]
    tour_data.held_out = choose_held_out(tour_data, novel_class)
    X_fit = tour_data.X_train[tour_data.fit_mask]
    n_features = math.prod(X_fit.shape[1:])
    latent_dim = tour_latent_dim(n_features)
    epochs = tour_epochs(len(X_fit), quick=quick)
    models: dict[str, Any] = {REFERENCE: PCABaseline(latent_dim)}
    models.update(tour_models(latent_dim, epochs, _unit_range(X_fit)))
    out_dir = Path(out)

    results: dict[str, ModelResult] = {}
    threads = 1 if X_fit.size < SINGLE_THREAD_BELOW else torch.get_num_threads()
    stages = [*models, "figures"]
    with torch_threads(threads):
        # The first fit in a process pays one-off costs (lazy imports, kernel set-up: ~2 s measured);
        # paying them here keeps the fit-time column a comparison of models, not of their order.
        aekit.AutoEncoder(latent_dim=2, epochs=1, validation_fraction=0.0, random_state=0).fit(X_fit[:64])
    with torch_threads(threads):
        # Every model is timed first, so the epochs fit the budget and the user hears how long it will take.
        per_epoch = {name: epoch_seconds(m, X_fit) for name, m in models.items() if name != REFERENCE}
    planned = plan_epochs(per_epoch, epochs, budget)
    cut = {name: (planned[name], epochs) for name in planned if planned[name] < epochs}
    expected = {name: planned[name] * per_epoch[name] for name in planned}
    _say(
        f"aekit tour: {len(planned)} autoencoders, {len(X_fit)} samples, about {sum(expected.values()):.0f} s of "
        f"training (budget {budget:g} s" + (f"; epochs cut for {', '.join(cut)})" if cut else ")")
    )
    with (
        torch_threads(threads),
        tqdm(stages, desc="aekit tour", unit="step", leave=False, dynamic_ncols=True, disable=None) as bar,
    ):
        for position, name in enumerate(stages, start=1):
            bar.set_description(f"aekit tour: {name}")
            if name == "figures":
                _say(f"aekit tour [{position}/{len(stages)}] figures and report")
                figures = build_figures(results, tour_data)
            else:
                model = models[name]
                line = f"aekit tour [{position}/{len(stages)}] {name}"
                if name in planned:
                    model.set_params(epochs=planned[name])
                    line += f": up to {planned[name]} epochs, about {expected.pop(name):.2g} s"
                _say(line)
                fit_started = time.perf_counter()
                model.fit(X_fit)
                fit_seconds = time.perf_counter() - fit_started
                results[name] = evaluate(model, tour_data, fit_seconds, getattr(model, "n_epochs_", None))
                model.save(out_dir / "models" / (f"{name}.safetensors" if name != REFERENCE else "pca.npz"))
                _say(f"    done in {fit_seconds:.1f} s; about {sum(expected.values()):.0f} s of training left")
            bar.update()
    tour_data.preprocessing.save(out_dir / "models" / "preprocessing.json")
    title = f"aekit tour: {tour_data.name}"
    intro = (
        "PCA and five autoencoders were trained side by side on the same data, each compressing every input "
        f"into a code of {latent_dim} numbers (the sparse autoencoder: {4 * latent_dim}, mostly zeros) and "
        "rebuilding the input from it. The table compares them on test inputs none of them trained on; the "
        "figures show what each one learned."
        + (
            f" Class {tour_data.held_out} was left out of training to test anomaly detection."
            if tour_data.held_out is not None
            else ""
        )
    )
    notes = caveats(results, len(X_fit), quick, epochs, cut, budget)
    settings = {"latent_dim": latent_dim, "epochs": epochs, "budget_seconds": budget, "quick": quick}
    extra = {"settings": {**settings, "torch_threads": threads}, "caveats": notes}
    return write_outputs(out_dir, title, " ".join([intro, *notes]), tour_data, results, figures, command, started, extra)


def _say(line: str) -> None:
    """A progress line on stderr, printed whether or not it is a terminal (logs and CI see it too)."""
    tqdm.write(line, file=sys.stderr)


def caveats(
    results: Mapping[str, ModelResult],
    n_train: int,
    quick: bool,
    epochs: int,
    cut: Mapping[str, tuple[int, int]],
    budget: float,
) -> list[str]:
    """What a reader must know before trusting the table: under-training, budget cuts, too little data."""
    notes = []
    if quick:
        notes.append(
            f"Quick look (--quick): {epochs} epochs on {n_train} samples. The autoencoders are under-trained, so "
            "these numbers do not rank them (an AUROC below 0.5 or an error far above PCA's says so); run "
            "without --quick for a comparison."
        )
    if cut:
        listed = ", ".join(f"{name} {done} of {planned}" for name, (done, planned) in cut.items())
        notes.append(
            f"Epochs were cut to fit the {budget:g} s budget ({listed}); those models may be under-trained: "
            "raise --budget for a full run."
        )
    errors = {name: r.metrics["reconstruction_error"] for name, r in results.items()}
    if not quick and REFERENCE in errors and all(errors[REFERENCE] <= e for n, e in errors.items() if n != REFERENCE):
        notes.append(
            f"PCA reconstructs better than every autoencoder here. "
            + (
                f"With {n_train} training samples there is too little data for them to learn more than PCA's "
                f"linear code (they usually need thousands): add data, or use PCA."
                if n_train < FEW_SAMPLES
                else "Train longer (raise --budget) or try a wider code before preferring an autoencoder."
            )
        )
    return notes


def run_report(run_dirs: list[str], data: str | None = None, out: str | None = None) -> dict:
    """The tour's report for models trained with ``aekit train`` (one or more run folders).

    The data is ``data`` or the file the first run was trained on (recorded in its
    run.json); PCA with the first model's code size is the reference.  Writes
    report.html and metrics.json into ``out`` (default: the first run folder).
    """
    started = time.perf_counter()
    runs = []
    for run_dir in run_dirs:
        model, preprocessing = load_run(run_dir)
        run_file = Path(run_dir) / RUN_FILE
        summary = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
        runs.append((Path(run_dir), model, preprocessing, summary))
    data_path = data or runs[0][3].get("data")
    if data_path is None:
        raise ValueError(f"{run_dirs[0]} does not record its data file; pass --data PATH.")
    if not Path(data_path).exists():
        raise FileNotFoundError(f"No data at {data_path} (recorded in {runs[0][0] / RUN_FILE}); pass --data PATH.")
    tour_data = load_tour_data(data_path)
    if any(p != tour_data.preprocessing for _, _, p, _ in runs):
        raise ValueError(
            f"The runs' saved scaling differs from the scaling of {data_path}; pass the data the models "
            "were trained on with --data."
        )
    note = (
        ""
        if tour_data.file_split
        else (
            "The data file has no separate test split, so the test inputs are a 20% split that the models "
            "may have seen in training: expect optimistic numbers."
        )
    )
    first_dim = int(runs[0][1].latent_dim_)
    results: dict[str, ModelResult] = {}
    pca_started = time.perf_counter()
    pca = PCABaseline(first_dim).fit(tour_data.X_train)
    results[REFERENCE] = evaluate(pca, tour_data, time.perf_counter() - pca_started, None)
    for run_dir, model, _, summary in tqdm(runs, desc="aekit report", leave=False, dynamic_ncols=True, disable=None):
        name = f"{type(model).__name__} ({run_dir.name})"
        results[name] = evaluate(model, tour_data, summary.get("fit_seconds"), model.n_epochs_)
    figures = build_figures(results, tour_data)
    out_dir = Path(out) if out is not None else runs[0][0]
    command = shlex.join(["aekit", "report", *map(str, run_dirs), "--data", str(data_path), "--out", str(out_dir)])
    title = f"aekit report: {', '.join(results)} on {tour_data.name}"
    intro = (
        "Models trained with `aekit train`, compared with PCA of the same code size on the data's test inputs. " + note
    )
    extra = {"runs": [str(r[0]) for r in runs]}
    return write_outputs(out_dir, title, intro, tour_data, results, figures, command, started, extra)
