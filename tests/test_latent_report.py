"""The report's sections on a VAE-family code (KL ranking, traversals, disentanglement scores), the "which beta?" figure."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import aekit
from aekit import viz
from aekit.cli import main
from aekit.data import SHAPES_FACTORS, load_data
from aekit.tour_latents import factor_sampler, kl_figure, latent_usage

from test_tour_report import parse_report

SHAPES_SIZE = 16


@pytest.fixture(scope="module")
def shapes_file(tmp_path_factory):
    """make_shapes images as uint8 pixels with their factors, in the .npz layout the report reads."""
    images, factors = aekit.datasets.make_shapes(600, image_size=SHAPES_SIZE, random_state=0)
    test, factors_test = aekit.datasets.make_shapes(200, image_size=SHAPES_SIZE, random_state=1)
    path = tmp_path_factory.mktemp("shapes") / "shapes.npz"
    np.savez(
        path, x_train=(images * 255).astype(np.uint8), factors_train=factors, x_test=(test * 255).astype(np.uint8),
        factors_test=factors_test, factor_names=np.array(SHAPES_FACTORS),
    )  # fmt: skip
    return path


def _train(model: str, data, out) -> None:
    argv = ["train", model, "--data", str(data), "--out", str(out), "--latent-dim", "4", "--epochs", "2",
            "--architecture", "mlp", "--hidden", "32", "--quiet"]  # fmt: skip
    assert main(argv) == 0


def _sections(report_file) -> list[str]:
    return re.findall(r"<h2>([^<]*)</h2>", report_file.read_text(encoding="utf-8"))


def test_a_vae_report_ranks_kl_traverses_and_scores_known_factors_and_an_autoencoder_report_does_not(
    tmp_path, shapes_file
):
    _train("vae", shapes_file, tmp_path / "vae")
    _train("ae", shapes_file, tmp_path / "ae")
    assert main(["report", str(tmp_path / "vae"), "--out", str(tmp_path / "vae-report")]) == 0
    assert main(["report", str(tmp_path / "ae"), "--out", str(tmp_path / "ae-report")]) == 0

    sections = _sections(tmp_path / "vae-report" / "report.html")
    assert {"Code dimensions by KL", "Disentanglement scores", "Latent traversal: VAE (vae)"} <= set(sections)
    # The ranking comes before the traversal it ranks for.
    assert sections.index("Code dimensions by KL") < sections.index("Latent traversal: VAE (vae)")
    document = json.loads((tmp_path / "vae-report" / "metrics.json").read_text())
    vae = document["metrics"]["VAE (vae)"]
    assert len(vae["kl_per_dimension"]) == 4 and set(vae["active_dimensions"]) <= set(range(4))
    scores = vae["disentanglement"]
    assert set(scores) == {"mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap",
                           "factor_vae_score"}  # fmt: skip
    # Shapes are recognised and re-rendered, so even the FactorVAE score is there.
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    table = parse_report(tmp_path / "vae-report" / "report.html").rows
    assert ["VAE (vae)", *(f"{scores[key]:.3f}" for key in scores)] in table

    sections = _sections(tmp_path / "ae-report" / "report.html")
    assert not {"Code dimensions by KL", "Disentanglement scores"} & set(sections)
    assert not any(section.startswith("Latent traversal") for section in sections)
    document = json.loads((tmp_path / "ae-report" / "metrics.json").read_text())
    assert "disentanglement" not in document["metrics"]["AutoEncoder (ae)"]


def test_a_vae_report_without_factors_has_the_ranking_but_no_scores(tmp_path, digits):
    X, y = digits
    data = tmp_path / "digits.npz"
    np.savez(data, x_train=(X[:600] * 255).astype(np.uint8), y_train=y[:600])
    _train("vae", data, tmp_path / "vae")
    assert main(["report", str(tmp_path / "vae"), "--out", str(tmp_path / "report")]) == 0
    sections = _sections(tmp_path / "report" / "report.html")
    assert "Code dimensions by KL" in sections and "Disentanglement scores" not in sections


def _vae_with_known_dims(digits) -> aekit.VAE:
    """A VAE whose posterior is set by hand: z1 and z3 are the prior for every input (KL 0, inactive),
    z2 moves three times as far as z0 with the input, so it carries the most information."""
    X, _ = digits
    est = aekit.VAE(latent_dim=4, epochs=1, architecture="mlp", hidden=(32,), random_state=0).fit(X[:300])
    posterior = est.module_.posterior
    features = posterior.in_features
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        posterior.weight.zero_()
        posterior.bias.zero_()  # mean 0, log-variance 0: the prior, in every dim
        for dim, reach in ((0, 1.0), (2, 3.0)):
            posterior.weight[dim] = reach * torch.randn(features, generator=rng)
            posterior.bias[4 + dim] = -2.0  # a confident posterior: part of the KL whatever the mean
    return est


def test_kl_ranking_orders_dimensions_by_information_and_marks_the_collapsed_ones(digits):
    X, _ = digits
    usage = latent_usage(_vae_with_known_dims(digits), X[300:600])
    kl = np.array(usage["kl_per_dimension"])
    assert usage["active_dimensions"] == [0, 2]
    assert kl[2] > kl[0] > 0.0 and kl[1] == kl[3] == 0.0

    figure = kl_figure({"VAE": usage})
    drawn = viz.plot_kl_per_dimension({"VAE": kl}, {"VAE": np.isin(np.arange(4), usage["active_dimensions"])})
    (ax,) = drawn.axes
    bars = ax.patches
    assert [t.get_text() for t in ax.get_xticklabels()] == ["z2", "z0", "z1", "z3"]
    np.testing.assert_allclose([b.get_height() for b in bars], kl[[2, 0, 1, 3]])
    colors = [tuple(np.round(b.get_facecolor(), 3)) for b in bars]
    assert colors[0] == colors[1] != colors[2] == colors[3]
    assert ax.get_title() == "VAE: 2 of 4 dimensions active, total KL " + f"{kl.sum():.1f} nats"
    assert figure.png.startswith(b"\x89PNG")


def test_the_traversal_rows_are_the_dimensions_in_kl_order(digits, monkeypatch):
    from aekit.tour_latents import traversal_figure

    X, _ = digits
    est = _vae_with_known_dims(digits)
    kl = np.array(latent_usage(est, X[300:600])["kl_per_dimension"])
    traversed = []
    plot_traversal = viz.plot_traversal

    def spy(grid, dims, values, **kwargs):
        traversed.append(list(dims))
        return plot_traversal(grid, dims, values, **kwargs)

    monkeypatch.setattr(viz, "plot_traversal", spy)
    figure = traversal_figure("VAE", est, X[0], kl, viz.PixelScale(0.0, 1.0, "gray"), "stroke thickness")
    assert traversed == [[2, 0, 1, 3]] and figure.title == "Latent traversal: VAE"


def test_the_factor_vae_score_draws_shapes_grids_or_nothing(shapes_file):
    loaded = load_data(shapes_file)
    test = loaded.X_test.astype(np.float32) / 255
    shapes = factor_sampler(test, loaded.factors_test)
    drawn = shapes.sample_factors(5, np.random.RandomState(0))
    np.testing.assert_array_equal(shapes.render(drawn), aekit.datasets.render_shapes(drawn, SHAPES_SIZE))

    images, factors = aekit.datasets.shapes_factor_grid(16, n_values={"orientation": 2, "pos_x": 2, "pos_y": 2})
    noisy = images + 0.01  # not shapes any more, but still every combination once
    assert factor_sampler(noisy, factors) is not None
    assert factor_sampler(noisy[1:], factors[1:]) is None


def test_npz_factors_must_describe_the_samples(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.zeros((10, 4)), factors=np.zeros((9, 2)))
    with pytest.raises(ValueError, match="one row per sample \\(10\\)"):
        load_data(path)
    np.savez(path, X=np.zeros((10, 4)), factors=np.zeros((10, 2)), factor_names=np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="names 3 factors but 'factors' has 2 columns"):
        load_data(path)
    np.savez(path, X=np.zeros((10, 4)), factors=np.ones((10, 2)), factor_names=np.array(["a", "b"]))
    loaded = load_data(path)
    assert loaded.factors.shape == (10, 2) and loaded.factor_names == ["a", "b"] and loaded.factors_test is None


def test_beta_sweep_figure_marks_the_best_mig_and_rejects_mismatched_lengths():
    betas = [0.5, 1.0, 2.0, 4.0]
    figure = viz.plot_beta_sweep(
        betas, [5.0, 5.5, 6.0, 7.0], [12.0, 9.0, 7.0, 5.0], [0.05, 0.1, 0.3, 0.2], active_dims=[6, 5, 4, 3]
    )
    kl = figure.axes[1]
    assert "best MIG, beta 2" in figure.get_suptitle()
    assert all(ax.get_xscale() == "log" for ax in figure.axes)
    assert [t.get_text() for t in kl.texts] == ["6 active", "5 active", "4 active", "3 active"]
    seeds = viz.plot_beta_sweep(betas, np.ones((3, 4)), np.ones((3, 4)), [[0.1, 0.2, 0.1, 0.0]] * 3)
    assert len(seeds.axes[2].collections) == 3  # one dot per seed and beta, a scatter per seed
    with pytest.raises(ValueError, match="mig must hold one value per beta \\(4\\)"):
        viz.plot_beta_sweep(betas, [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(ValueError, match="at least two positive numbers"):
        viz.plot_beta_sweep([0.0, 1.0], [1, 2], [1, 2], [1, 2])
