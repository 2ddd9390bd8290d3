"""The report's "Samples" section: every generative model's samples with its Fréchet distance, precision and recall.

The tour tests reuse the quick tour and the table tour of tests/test_tour_report.py
(run once per test process); the others fit a tiny autoencoder on the digits.
"""

from __future__ import annotations

import json
import re

import matplotlib.text
import numpy as np
import pytest
from test_tour_report import parse_report, quick_tour_output, table_tour_output

import aekit
from aekit import viz
from aekit.tour import PCABaseline, TourData, build_figures, evaluate
from aekit.tour_samples import REFERENCE_NAME, samples_section

GENERATIVE_TOUR_MODELS = ["AutoEncoder", "DenoisingAutoEncoder", "SparseAutoEncoder", "ContractiveAutoEncoder", "VAE"]


def _samples_section_html(text: str) -> str:
    start = text.index('<section id="samples">')
    return text[start : text.index("</section>", start)]


def _figure_texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(matplotlib.text.Text) if t.get_text().strip()]


@pytest.fixture(scope="module")
def tiny_autoencoder(digits_split):
    X_train, _, _, _ = digits_split
    return aekit.AutoEncoder(latent_dim=4, epochs=2, architecture="mlp", hidden=(32,), random_state=0).fit(X_train)


def test_the_tour_scores_every_generative_model_and_shows_the_scores_beside_its_samples():
    out, _, _ = quick_tour_output()
    document = json.loads((out / "metrics.json").read_text())
    qualities = {name: m.get("sample_quality") for name, m in document["metrics"].items()}
    assert qualities.pop("PCA") is None  # PCA cannot sample
    assert list(qualities) == GENERATIVE_TOUR_MODELS
    for quality in qualities.values():
        assert set(quality) == {"fd", "precision", "recall"}
        assert quality["fd"] > 0 and 0 <= quality["precision"] <= 1 and 0 <= quality["recall"] <= 1
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "Samples" in re.findall(r"<h2>([^<]*)</h2>", text) and "Generated samples" not in text
    section = _samples_section_html(text)
    assert section.count("<img ") == 1
    caption = re.search(r"<figcaption>(.*?)</figcaption>", section, re.S).group(1)
    # The digits have labels: the features are a classifier's, and the caption says so and warns about FID.
    assert "classifier trained on" in caption and "not comparable with Inception-FID" in caption
    assert "held out" not in caption and "test inputs of the classes seen in training" in caption


def test_a_table_gets_a_table_of_scores_with_real_rows_as_the_reference():
    out = table_tour_output()
    text = (out / "report.html").read_text(encoding="utf-8")
    section = _samples_section_html(text)
    assert "<img " not in section and "randomly initialised MLP" in section  # wine as a CSV has no labels
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    rows = [row for row in parse_report(out / "report.html").rows if row[0] in (REFERENCE_NAME, *metrics)][-6:]
    assert [row[0] for row in rows] == [REFERENCE_NAME, *GENERATIVE_TOUR_MODELS]
    for name, *cells in rows[1:]:
        quality = metrics[name]["sample_quality"]
        assert cells == [f"{quality['fd']:.2f}", f"{quality['precision']:.3f}", f"{quality['recall']:.3f}"]


def test_each_grid_has_its_model_name_and_its_numbers_under_it(tiny_autoencoder, digits_split):
    X_train, _, X_test, _ = digits_split
    figure, scores = samples_section(
        {"AE": tiny_autoencoder, "PCA": PCABaseline(4).fit(X_train)}, X_train, None, X_test, as_pictures=True
    )
    assert list(scores) == ["AE"]  # PCA has no sample(): left out, not an error
    texts = _figure_texts(viz.plot_sample_grids({"AE": X_test[:16]}, {"AE": "FD 1.00"}))
    assert "AE" in texts and "FD 1.00" in texts
    assert figure.title == "Samples" and "randomly initialised convolutional network" in figure.caption
    assert f"For scale, {REFERENCE_NAME}" in figure.caption  # the real data's scores, beside the models'


def test_without_a_generative_model_there_is_no_samples_section_and_the_report_still_builds(digits_split):
    X_train, y_train, X_test, y_test = digits_split

    class NoSampler(aekit.AutoEncoder):
        """A model file from before sampling: sample() says it cannot."""

        def sample(self, n_samples=1, random_state=None, sampler="gmm"):
            raise ValueError("no code density")

    silent = NoSampler(latent_dim=2, epochs=1, architecture="mlp", hidden=(8,), random_state=0).fit(X_train[:200])
    assert samples_section({"PCA": PCABaseline(2).fit(X_train), "old": silent}, X_train, y_train, X_test, True) == (
        None,
        {},
    )
    data = TourData(X_train, X_test, y_train, y_test, name="digits")
    pca = PCABaseline(4).fit(X_train)
    results = {"PCA": evaluate(pca, data, 0.0, None)}
    sections = [f.title for f in build_figures(results, data)]
    assert "Samples" not in sections and "Interpolations" in sections
    assert "sample_quality" not in results["PCA"].metrics


def test_too_few_test_inputs_show_samples_unscored(tiny_autoencoder, digits_split):
    X_train, y_train, X_test, _ = digits_split
    figure, scores = samples_section({"AE": tiny_autoencoder}, X_train, y_train, X_test[:5], as_pictures=True)
    assert scores == {} and "too few to score" in figure.caption
    assert samples_section({"AE": tiny_autoencoder}, X_train, y_train, X_test[:5], as_pictures=False) == (None, {})


def test_sample_grids_keep_rows_even_and_reject_nothing_to_draw():
    batch = np.random.RandomState(0).random_sample((9, 8, 8))
    figure = viz.plot_sample_grids({name: batch for name in "abcde"})
    lefts = sorted({round(ax.get_position().x0, 3) for ax in figure.axes})
    assert len(figure.axes) == 5 and len(lefts) == 3  # 3 + 2, not 4 + 1
    with pytest.raises(ValueError, match="at least one model"):
        viz.plot_sample_grids({})
