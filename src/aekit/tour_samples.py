"""The report's "Samples" section: every generative model's samples beside their offline quality scores.

Each model in the report that can :meth:`sample` (VAE-family models and adversarial
autoencoders from their prior, deterministic autoencoders from a Gaussian mixture on
their codes, a VQ-VAE from its code prior, a flow from its base distribution) draws
``SCORED_SAMPLES`` samples; they are scored by :func:`aekit.metrics.sample_quality`
(Fréchet distance, precision, recall) against as many test inputs of the classes seen
in training, in one feature space fitted for the report: the penultimate layer of a
small classifier trained on the training labels when the data has labels, else a fixed
randomly initialised network.  The scores go into metrics.json as each model's
``sample_quality``; images get a figure of sample grids, tables a table of the scores.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from aekit import viz
from aekit.metrics import fit_feature_extractor, sample_quality
from aekit.metrics.generative import FeatureSpace
from aekit.viz import MetricsTable, ReportFigure

SCORED_SAMPLES = 1000  # per model: seconds of scoring on a CPU, and the Fréchet distance's bias stays small
MIN_SCORED = 10  # fewer seen test inputs than this make the scores noise: samples are shown unscored
FEATURE_ROWS = 10_000  # training rows the feature network learns from (subsampled beyond)
FEATURE_STEPS = 1000  # classifier steps (batches of 128), between 2 and 20 epochs: ~10-30 s on MNIST, 1 s on digits
FEATURE_SEED = 0
REFERENCE_NAME = "training inputs"
QUALITY_DECIMALS = {"fd": 2, "precision": 3, "recall": 3}
QUALITY_LABELS = {"fd": "FD", "precision": "precision", "recall": "recall"}


def draw_samples(model: Any, n_samples: int) -> np.ndarray | None:
    """``n_samples`` samples of ``model`` (seed 0), or None when it cannot sample.

    A model cannot when it has no ``sample`` (PCA), or its ``sample`` says why not: a
    model file saved without its code density, a conditional VAE that needs labels.
    """
    if not callable(getattr(model, "sample", None)):
        return None
    with contextlib.suppress(ValueError):
        samples = np.asarray(model.sample(n_samples, random_state=0))
        if np.isfinite(samples).all():
            return samples
    return None


def report_feature_space(X_train: np.ndarray, y_train: np.ndarray | None) -> tuple[FeatureSpace, str]:
    """The feature space the report scores samples in, and a sentence saying which it is."""
    rows = np.random.RandomState(FEATURE_SEED).permutation(len(X_train))[:FEATURE_ROWS]
    X, y = X_train[np.sort(rows)], None if y_train is None else y_train[np.sort(rows)]
    network = "convolutional" if X.ndim > 2 else "MLP"
    if y is None or len(np.unique(y)) < 2:
        space = fit_feature_extractor(X, None, random_state=FEATURE_SEED)
        return space, (
            f"a fixed, randomly initialised {network} network (the data has no labels to train a classifier on; random "
            "features separate data from noise but are less sensitive to what makes a sample look right)"
        )
    epochs = int(np.clip(round(FEATURE_STEPS / math.ceil(len(X) / 128)), 2, 20))
    space = fit_feature_extractor(X, y, epochs=epochs, random_state=FEATURE_SEED)
    return space, f"the penultimate layer of a small {network} classifier trained on {len(X)} training inputs' labels"


def score_samples_of(
    samples: Mapping[str, np.ndarray], real: np.ndarray, space: FeatureSpace
) -> dict[str, dict[str, float]]:
    """Each model's scores against ``real``, rounded as the report shows them."""
    scores = {}
    for name, batch in samples.items():
        quality = sample_quality(real, batch[: len(real)], space)
        scores[name] = {key: round(value, QUALITY_DECIMALS[key]) for key, value in quality.items()}
    return scores


def _formatted(quality: Mapping[str, float]) -> dict[str, str]:
    """A model's scores as text, label -> value, rounded as in metrics.json."""
    return {QUALITY_LABELS[key]: f"{quality[key]:.{QUALITY_DECIMALS[key]}f}" for key in QUALITY_DECIMALS}


def _note(quality: Mapping[str, float]) -> str:
    """A model's scores, one per line, for under its grid of samples."""
    return "\n".join(f"{label} {value}" for label, value in _formatted(quality).items())


def _how_scored(n_scored: int, space_text: str, reference: Mapping[str, float]) -> str:
    """The caption's account of the scores: what was compared, in which features, what the numbers mean."""
    return (
        f"Scores compare {n_scored} samples of each model with {n_scored} test inputs of the classes seen in "
        f"training, in the feature space of {space_text}. FD is the Fréchet distance between Gaussians fitted to "
        "the two feature sets (lower is better, 0 for identical sets); precision is the share of samples that "
        "fall within the test inputs' neighbourhoods (are they realistic?), recall the share of test inputs within "
        "the samples' neighbourhoods (is the variety covered?; Kynkäänniemi et al. 2019, k=3). These numbers are "
        "specific to this data and report and are not comparable with Inception-FID values from papers. "
        f"For scale, {REFERENCE_NAME} (real data, not generated) score "
        + ", ".join(f"{label} {value}" for label, value in _formatted(reference).items())
        + "."
    )


def samples_section(
    models: Mapping[str, Any],
    X_train: np.ndarray,
    y_train: np.ndarray | None,
    X_real: np.ndarray,
    as_pictures: bool,
    scale: viz.PixelScale | None = None,
) -> tuple[ReportFigure | None, dict[str, dict[str, float]]]:
    """The "Samples" section and each generative model's scores; (None, {}) when no model can sample.

    Parameters
    ----------
    models : mapping of str to estimator
        Every model of the report; those that cannot sample are left out.
    X_train, y_train : ndarray, ndarray or None
        The inputs the models were trained on (and their labels), for the feature space.
    X_real : ndarray
        Test inputs the samples are compared with (the classes seen in training).
    as_pictures : bool
        Draw the samples as grids (images), or give a table of the scores (table rows).
    scale : PixelScale, optional
        Colors of the pictures.
    """
    n_scored = min(SCORED_SAMPLES, len(X_real), len(X_train))
    samples = {name: s for name, model in models.items() if (s := draw_samples(model, max(n_scored, 64))) is not None}
    if not samples:
        return None, {}
    scored = n_scored >= MIN_SCORED
    scores, space_text, reference = {}, "", {}
    # For scale: real training inputs scored as if they were samples (the best a model could hope for).
    training = X_train[np.random.RandomState(FEATURE_SEED + 1).permutation(len(X_train))[: max(n_scored, 64)]]
    if scored:
        space, space_text = report_feature_space(X_train, y_train)
        real = X_real[np.random.RandomState(FEATURE_SEED).permutation(len(X_real))[:n_scored]]
        scores = score_samples_of(samples, real, space)
        reference = score_samples_of({REFERENCE_NAME: training}, real, space)
    how = _how_scored(n_scored, space_text, reference[REFERENCE_NAME]) if scored else (
        f"With {len(X_real)} test inputs there are too few to score the samples (at least {MIN_SCORED} needed)."
    )
    samplers = (
        "Each model draws from its own sampler: VAE-family models and adversarial autoencoders decode draws from "
        "their prior, other autoencoders decode draws from a Gaussian mixture fitted to their training codes, a "
        "VQ-VAE decodes codes drawn from its autoregressive code prior. "
    )
    if as_pictures:
        shown = {**({REFERENCE_NAME: training} if scored else {}), **samples}
        notes = {name: _note(q) for name, q in {**reference, **scores}.items()}
        title = "Samples of each generative model, beside real training inputs"
        figure = viz.plot_sample_grids(shown, notes, scale, title)
        return ReportFigure.from_figure(
            "Samples", figure, "New inputs invented by each model, first samples of the scored set. " + samplers + how
        ), scores
    if not scored:
        return None, {}
    rows = [[name, *_formatted(q).values()] for name, q in {**reference, **scores}.items()]
    table = MetricsTable(("model", *QUALITY_LABELS.values()), rows, reference=REFERENCE_NAME)
    return ReportFigure.from_table("Samples", table, "How realistic and varied each model's generated rows are. "
                                   + samplers + how), scores  # fmt: skip
