"""The report's sections on the code of a VAE-family model: KL per dimension, traversals, disentanglement.

For every model with a posterior q(z|x) (:class:`aekit.VAE` and its relatives) the
report ranks the code dimensions by their mean KL to the prior, marks the active
ones, and traverses the top dimensions; when the test inputs come with their
ground-truth factors of variation (an .npz with ``factors_train`` / ``factors_test``,
e.g. written from :func:`aekit.datasets.make_shapes`), it also scores how well each
factor has a code dimension of its own.  :func:`latent_usage` and
:func:`disentanglement_scores` compute the numbers (they go into metrics.json);
the ``*_figure`` functions draw them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

import aekit
from aekit import viz
from aekit.data.shapes import SHAPES_FACTORS, render_shapes
from aekit.metrics.disentanglement import FactorGridSampler, factor_grid_sampler, independent_factor_sampler
from aekit.viz import MetricsTable, ReportFigure

FLAT_TRAVERSAL = 0.05  # a traversal row whose decodings change by less than this share of the pixel range
# (measured: an under-trained VAE on 80 photographs changes its rows by 3%, visibly nothing; digits by 9-10%)
COLLAPSED_KL = 0.1  # nats: a code dimension the posterior leaves at the prior
TRAVERSED_DIMS = 8
TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 9)

# The scores at a report's budget, as benchmarks/disentanglement.py takes them: every test
# input (at most SCORED_ROWS) for MIG and SAP, DCI on DCI_ROWS with DCI_TREES boosting stages
# (disentanglement_lib: 100), FactorVAE score on FACTOR_VAE_VOTES training / evaluation votes
# (library default 10000 / 5000) -- a few seconds per model on a CPU.
SCORED_ROWS = 5000
DCI_ROWS = 2000
DCI_TREES = 10
FACTOR_VAE_VOTES = (500, 250)
FACTOR_VAE_VARIANCE_ROWS = 2000
SCORES = (  # key in metrics.json, column header
    ("mig", "MIG"),
    ("dci_disentanglement", "DCI disentanglement"),
    ("dci_completeness", "DCI completeness"),
    ("dci_informativeness", "DCI informativeness"),
    ("sap", "SAP"),
    ("factor_vae_score", "FactorVAE score"),
)
SCORE_DECIMALS = 3


def is_vae_family(model: Any) -> bool:
    """Whether ``model`` has a Gaussian posterior whose KL per dimension the report can rank (not an IAF's)."""
    return isinstance(model, aekit.VAE) and model.posterior == "gaussian"


def latent_usage(model: Any, X_test: np.ndarray) -> dict[str, list]:
    """Mean KL to the prior of each code dimension (nats, rounded as shown) and the active dimensions' indices."""
    kl = aekit.metrics.kl_per_dimension(model, X_test)
    active = aekit.metrics.active_dimensions(model, X_test)
    return {
        "kl_per_dimension": [round(float(v), SCORE_DECIMALS) for v in kl],
        "active_dimensions": np.flatnonzero(active).tolist(),
    }


# ---------------------------------------------------------------------------- disentanglement scores
def _shapes_sampler(X_test: np.ndarray, factors_test: np.ndarray) -> FactorGridSampler | None:
    """Draw and render :func:`aekit.datasets.make_shapes` images, when the test inputs are exactly those."""
    if factors_test.shape[1] != len(SHAPES_FACTORS) or X_test.shape[-1] != X_test.shape[-2]:
        return None
    sample_shape, size = X_test.shape[1:], X_test.shape[-1]
    if math.prod(sample_shape) != size * size:
        return None
    checked = slice(0, 16)  # a few inputs tell shapes from other data; rendering them all would cost seconds
    try:
        rendered = render_shapes(factors_test[checked], size)
    except ValueError:  # factors outside the shapes' ranges: some other data set
        return None
    if not np.array_equal(rendered.reshape(X_test[checked].shape), X_test[checked]):
        return None

    def render(factors: np.ndarray) -> np.ndarray:
        return render_shapes(factors, size).reshape(len(factors), *sample_shape).astype(X_test.dtype)

    # The values the test inputs take: a model trained on a subsampled grid is scored on its own values.
    return FactorGridSampler(independent_factor_sampler(factors_test), render)


def factor_sampler(X_test: np.ndarray, factors_test: np.ndarray) -> FactorGridSampler | None:
    """How the FactorVAE score can draw inputs with a factor held fixed, or None when it cannot.

    Shapes are re-rendered (:func:`aekit.datasets.render_shapes`); test inputs that form
    a complete factor grid are looked up (:func:`aekit.metrics.factor_grid_sampler`);
    other data has no input for an arbitrary combination of factor values.
    """
    shapes = _shapes_sampler(X_test, factors_test)
    if shapes is not None:
        return shapes
    try:
        return factor_grid_sampler(factors_test, X_test)
    except ValueError:
        return None


def disentanglement_scores(
    model: Any, X_test: np.ndarray, factors_test: np.ndarray, sampler: FactorGridSampler | None
) -> dict[str, float | None | str]:
    """MIG, the three DCI scores, SAP and (with a ``sampler``) the FactorVAE score on the test inputs.

    Rounded as the report shows them.  A metric the data cannot support (a factor
    that takes one value in the test inputs, say) gives ``None`` for every score and
    its message under ``"error"``.
    """
    rows = np.random.RandomState(0).permutation(len(X_test))[:SCORED_ROWS]
    codes = np.asarray(model.transform(X_test[rows]))
    factors = factors_test[rows]
    try:
        dci = aekit.metrics.dci(codes[:DCI_ROWS], factors[:DCI_ROWS], n_estimators=DCI_TREES, random_state=0)
        scores: dict[str, float | None | str] = {
            "mig": aekit.metrics.mig(codes, factors),
            "dci_disentanglement": dci.disentanglement,
            "dci_completeness": dci.completeness,
            "dci_informativeness": dci.informativeness,
            "sap": aekit.metrics.sap(codes, factors),
            "factor_vae_score": None,
        }
        if sampler is not None:
            n_train, n_eval = FACTOR_VAE_VOTES
            with warnings.catch_warnings():  # every dim collapsed: the score is 0, and the table shows it
                warnings.simplefilter("ignore", UserWarning)
                scores["factor_vae_score"] = aekit.metrics.factor_vae_score(
                    model, *sampler, n_train=n_train, n_eval=n_eval,
                    n_variance_estimate=FACTOR_VAE_VARIANCE_ROWS, random_state=0,
                ).eval_accuracy  # fmt: skip
    except ValueError as exc:
        return {**{key: None for key, _ in SCORES}, "error": str(exc)}
    return {k: None if v is None else round(float(v), SCORE_DECIMALS) for k, v in scores.items()}


def disentanglement_table(
    scores: Mapping[str, Mapping[str, Any]], factor_names: list[str], has_sampler: bool
) -> ReportFigure:
    """The scores of each VAE-family model, one row each, with what they mean."""
    rows = [
        [name, *("n/a" if s.get(key) is None else f"{s[key]:.{SCORE_DECIMALS}f}" for key, _ in SCORES)]
        for name, s in scores.items()
    ]
    failed = [f"{name}: {s['error']}" for name, s in scores.items() if s.get("error")]
    factor_vae = (
        f"The FactorVAE score (Kim & Mnih 2018) is the accuracy of a majority vote that names the factor held "
        f"fixed from the dimension that varies least ({FACTOR_VAE_VOTES[0]} training and {FACTOR_VAE_VOTES[1]} "
        "evaluation votes of 64 inputs; 1 / number of factors is chance)."
        if has_sampler
        else "The FactorVAE score is n/a: it needs inputs for any combination of factor values, which only "
        "shapes data (re-rendered) or test inputs forming a complete factor grid provide."
    )
    return ReportFigure.from_table(
        "Disentanglement scores",
        MetricsTable(["model", *(header for _, header in SCORES)], rows, note=""),
        f"How well each ground-truth factor ({', '.join(factor_names)}) has a code dimension of its own, on the "
        "test inputs (higher is better for every score; 0 to 1). MIG (Chen et al. 2018): the gap in mutual "
        "information between the two dimensions most informative of a factor, over the factor's entropy. DCI "
        "(Eastwood & Williams 2018), from boosted trees predicting each factor from the code "
        f"({min(DCI_ROWS, SCORED_ROWS)} inputs, {DCI_TREES} stages): disentanglement (each dimension informs one "
        "factor), completeness (each factor lives in one dimension), informativeness (the trees' test accuracy). "
        "SAP (Kumar et al. 2018): the gap in accuracy between the two dimensions best at predicting a factor "
        f"alone. {factor_vae} Factors with more than 64 values are cut into 20 bins, as disentanglement_lib "
        "does. Published dSprites MIGs are roughly 0.1-0.4 for the disentangling families; "
        "benchmarks/README.md has aekit's numbers on shapes."
        + (" Not scored: " + " ".join(failed) if failed else ""),
    )


# ---------------------------------------------------------------------------- figures
def kl_figure(usage: Mapping[str, Mapping[str, list]]) -> ReportFigure:
    """Every VAE-family model's code dimensions ranked by KL, active ones marked."""
    kl = {name: np.asarray(u["kl_per_dimension"]) for name, u in usage.items()}
    active = {name: np.isin(np.arange(len(kl[name])), u["active_dimensions"]) for name, u in usage.items()}
    return ReportFigure.from_figure(
        "Code dimensions by KL",
        viz.plot_kl_per_dimension(kl, active),
        "Each bar is one code dimension of a VAE-family model, ranked by its mean KL divergence from the "
        "posterior q(z_j|x) to the prior N(0, 1) on the test inputs: how many nats of information about the "
        "input it carries. Blue dimensions are active units (the posterior mean varies across inputs, variance "
        "above 0.01; Burda et al. 2016); grey ones have collapsed onto the prior and the decoder ignores them. "
        "While tuning the KL weight (beta), inspect this distribution: a larger beta switches dimensions off and "
        "blurs reconstructions, a smaller one spreads information over many entangled dimensions "
        "(the beta sweep in benchmarks/README.md shows the trade-off on shapes).",
    )


def traversal_comment(dims: np.ndarray, change: np.ndarray, kl: np.ndarray) -> str:
    """What the traversal shows about the code, computed: dimensions whose decodings barely change, and why."""
    flat = change < FLAT_TRAVERSAL
    if not flat.any():
        return ""
    names = ", ".join(f"z{d}" for d in dims[flat])
    if flat.all():
        said = f" No row changes by {FLAT_TRAVERSAL:.0%} of the pixel range or more"
    else:
        one = flat.sum() == 1
        said = (
            f" {'Row' if one else 'Rows'} {names} change{'s' if one else ''} by less than "
            f"{FLAT_TRAVERSAL:.0%} of the pixel range"
        )
    if (kl[flat] < COLLAPSED_KL).all():
        why = (
            f": the posterior has collapsed onto the prior there (KL under {COLLAPSED_KL} nats), so the VAE does "
            "not use those dimensions."
        )
    else:
        why = (
            f": the encoder spreads inputs along {'them' if flat.sum() > 1 else 'it'} (KL up to "
            f"{kl[flat].max():.1f} nats) but the decoder barely responds, drawing much the same picture whatever "
            "the code. The VAE is under-trained or has too little data: give it more of either (raise --budget)."
        )
    return said + why


def traversal_figure(
    name: str, model: Any, x: np.ndarray, kl: np.ndarray, scale: viz.PixelScale, properties: str
) -> ReportFigure:
    """The top-KL dimensions of one model traversed from the code of ``x``.

    ``properties`` says in words what one dimension of such data might control.
    """
    dims = np.argsort(-kl, kind="stable")[: min(TRAVERSED_DIMS, len(kl))]
    grid = aekit.traverse(model, x, dims=dims, values=TRAVERSAL_VALUES)
    return ReportFigure.from_figure(
        f"Latent traversal: {name}",
        viz.plot_traversal(grid, [int(d) for d in dims], TRAVERSAL_VALUES, model_name=name, scale=scale),
        "Starting from one test input's code, each row changes a single code dimension from -3 to +3 "
        "standard deviations and decodes the result; the number under each row's name is how much its "
        "pictures change (the mean range of a pixel across the row, as a share of the pixel range). "
        "Rows are the dimensions carrying the most information (largest KL, as ranked above). A dimension that "
        f"changes one recognizable property ({properties}) is an interpretable factor."
        + traversal_comment(dims, viz.traversal_change(grid, scale), kl[dims]),
    )
