"""`aekit tour` / `aekit report`: the files they write, the numbers they agree on, the figures and loaders.

One quick tour (digits subsample, 3 epochs) runs once per test process, in a
subprocess whose output is not a terminal, and is shared with tests/test_browser.py.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest
import torch

import aekit
from aekit import viz
from aekit.cli import main
from aekit.data.images import load_image_folder
from aekit.data.preprocessing import Preprocessing
from aekit.tour import load_tour_data, plan_epochs, run_tour

N_TOUR_MODELS = 6  # PCA + five autoencoders


@functools.cache
def quick_tour_output() -> tuple[Path, str, str]:
    """Run `aekit tour --quick` once; return its output folder, stdout and stderr."""
    out = Path(tempfile.mkdtemp(prefix="aekit-quick-tour-")) / "tour"
    result = subprocess.run(
        [sys.executable, "-m", "aekit", "tour", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout, result.stderr


@functools.cache
def table_tour_output() -> Path:
    """A quick tour of scikit-learn's wine table as a CSV (13 numeric columns, 3 classes); its output folder."""
    from sklearn.datasets import load_wine

    folder = Path(tempfile.mkdtemp(prefix="aekit-table-tour-"))
    wine = load_wine(as_frame=True).data
    wine.to_csv(folder / "wine.csv", index=False)
    run_tour(data=str(folder / "wine.csv"), out=str(folder / "tour"), quick=True)
    return folder / "tour"


@pytest.fixture(scope="module")
def quick_tour():
    return quick_tour_output()


class _ReportParser(HTMLParser):
    """Collects the metrics table's body rows, image sources and figure captions."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self.captions: list[str] = []
        self._in_body = self._in_cell = self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._in_cell = True
            self.rows[-1].append("")
        elif tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "figcaption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._in_cell = False
        elif tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data
        elif self._in_caption:
            self.captions[-1] += data


def parse_report(path: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _formatted(metrics: dict, name: str) -> list[str]:
    m = metrics[name]
    cells = [name, str(m["code_size"]), "-" if m["epochs"] is None else str(m["epochs"])]
    for key, decimals in (("reconstruction_error", 3), ("probe_accuracy", 3), ("auroc", 3), ("fit_seconds", 1)):
        cells.append("n/a" if m[key] is None else f"{m[key]:.{decimals}f}")
    return cells


# ---------------------------------------------------------------------------- the tour
def test_tour_writes_report_metrics_and_loadable_models(quick_tour, digits):
    out, _, _ = quick_tour
    document = json.loads((out / "metrics.json").read_text())
    assert list(document["metrics"]) == [
        "PCA",
        "AutoEncoder",
        "DenoisingAutoEncoder",
        "SparseAutoEncoder",
        "ContractiveAutoEncoder",
        "VAE",
    ]
    assert document["command"] == f"aekit tour --out {out} --quick"
    assert document["versions"]["torch"] == torch.__version__ and document["versions"]["aekit"] == aekit.__version__
    X, _ = digits
    for name in list(document["metrics"])[1:]:
        model = aekit.load(out / "models" / f"{name}.safetensors")
        assert type(model).__name__ == name
        assert model.reconstruct(X[:5]).shape == (5, 8, 8)
    with np.load(out / "models" / "pca.npz") as pca:
        assert pca["components"].shape == (8, 64)
    assert json.loads((out / "models" / "preprocessing.json").read_text())["kind"] == "none"


def test_tour_ranks_the_vae_code_by_kl_and_scores_no_disentanglement_without_factors(quick_tour):
    out, _, _ = quick_tour
    sections = re.findall(r"<h2>([^<]*)</h2>", (out / "report.html").read_text(encoding="utf-8"))
    assert "Code dimensions by KL" in sections and "Latent traversal: VAE" in sections
    assert "Disentanglement scores" not in sections  # digits have no ground-truth factors
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert len(metrics["VAE"]["kl_per_dimension"]) == metrics["VAE"]["code_size"]
    assert all("kl_per_dimension" not in m for name, m in metrics.items() if name != "VAE")


def test_report_numbers_equal_metrics_json_and_terminal_table(quick_tour):
    out, stdout, _ = quick_tour
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    html_rows = parse_report(out / "report.html").rows
    expected = [_formatted(metrics, name) for name in metrics]
    assert len(html_rows) == N_TOUR_MODELS and html_rows == expected
    table_lines = [line.split() for line in stdout.splitlines() if line.split() and line.split()[0] in metrics]
    assert table_lines == expected


def test_held_out_class_is_unseen_in_training_and_detected_by_pca(quick_tour):
    out, _, _ = quick_tour
    document = json.loads((out / "metrics.json").read_text())
    assert document["dataset"]["held_out_class"] == "0"
    # The quick tour subsamples 600 training digits; the 0s among them are not trained on.
    assert 450 < document["dataset"]["n_train"] < 600
    # Even 3-epoch autoencoders are barely trained, but PCA fitted without any 0 already flags them.
    assert document["metrics"]["PCA"]["auroc"] > 0.75
    assert all(0.0 <= m["auroc"] <= 1.0 for m in document["metrics"].values())


def test_report_is_self_contained_with_captions_command_and_versions(quick_tour):
    out, _, _ = quick_tour
    text = (out / "report.html").read_text(encoding="utf-8")
    report = parse_report(out / "report.html")
    assert "http://" not in text and "https://" not in text
    # The one script is the latent explorer's, inline; the others are its models' data (JSON, not run).
    scripts = re.findall(r"<script[^>]*>", text, re.IGNORECASE)
    n_explorers = text.count('<section class="explorer">')
    assert n_explorers >= 4 and scripts == ['<script type="application/json" class="explorer-data">'] * n_explorers + ["<script>"]
    assert re.search(r'<meta name="viewport" content="width=device-width', text)
    assert len(report.images) >= 9 and len(report.captions) == len(report.images)
    assert all(len(caption.split()) >= 15 for caption in report.captions)
    from PIL import Image

    for src in report.images:
        assert src.startswith("data:image/png;base64,")
        width, height = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).size
        assert 300 <= width <= viz.figures.MAX_WIDTH_INCHES * viz.figures.DPI + 1 and height >= 100
    assert f"aekit tour --out {out} --quick" in text
    for version in (aekit.__version__, torch.__version__, np.__version__):
        assert version in text


def test_progress_bars_stay_out_of_non_terminal_output(quick_tour):
    _, stdout, stderr = quick_tour
    for stream in (stdout, stderr):
        assert "\r" not in stream and "it/s" not in stream and "%|" not in stream


def test_tour_says_what_it_is_doing_and_that_a_quick_look_is_under_trained(quick_tour):
    out, stdout, stderr = quick_tour
    assert "aekit tour: 5 autoencoders" in stderr and "of training (budget 240 s)" in stderr
    assert "aekit tour [2/7] AutoEncoder: up to 3 epochs, about" in stderr and "done in" in stderr
    assert "Note: Quick look (--quick): 3 epochs" in stdout and "under-trained" in stdout
    assert "under-trained" in (out / "report.html").read_text(encoding="utf-8")
    assert json.loads((out / "metrics.json").read_text())["caveats"][0].startswith("Quick look")


def test_epochs_are_cut_in_proportion_to_fit_the_budget():
    assert plan_epochs({"a": 1.0, "b": 3.0}, 10, budget=100) == {"a": 10, "b": 10}
    assert plan_epochs({"a": 1.0, "b": 3.0}, 10, budget=20) == {"a": 5, "b": 5}
    assert plan_epochs({"a": 1.0, "b": 3.0}, 10, budget=0.1) == {"a": 1, "b": 1}


def test_a_tour_over_budget_cuts_epochs_and_says_so(tmp_path, capsys):
    document = run_tour(out=str(tmp_path / "tour"), quick=True, budget=0.001)
    assert all(m["epochs"] == 1 for name, m in document["metrics"].items() if name != "PCA")
    assert any("cut to fit the 0.001 s budget" in note for note in document["caveats"])
    assert "--budget 0.001" in document["command"]
    with pytest.raises(ValueError, match="budget must be a positive number"):
        run_tour(out=str(tmp_path / "bad"), budget=0)


# ---------------------------------------------------------------------------- aekit report
def test_report_command_on_trained_runs(tmp_path, digits):
    X, y = digits
    pixels = (X * 255).round().astype(np.uint8)
    data = tmp_path / "digits.npz"
    np.savez(data, x_train=pixels[:1200], y_train=y[:1200], x_test=pixels[1200:1500], y_test=y[1200:1500])
    for model in ("vae", "denoising"):
        argv = [
            "train",
            model,
            "--data",
            str(data),
            "--out",
            str(tmp_path / model),
            "--latent-dim",
            "4",
            "--epochs",
            "2",
            "--architecture",
            "mlp",
            "--hidden",
            "32",
            "--quiet",
        ]
        assert main(argv) == 0
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "vae"), str(tmp_path / "denoising"), "--out", str(out)]) == 0
    document = json.loads((out / "metrics.json").read_text())
    assert list(document["metrics"]) == ["PCA", "VAE (vae)", "DenoisingAutoEncoder (denoising)"]
    assert document["dataset"]["n_test"] == 300 and document["dataset"]["held_out_class"] is None
    assert all(m["auroc"] is None and 0.0 < m["probe_accuracy"] <= 1.0 for m in document["metrics"].values())
    assert document["metrics"]["PCA"]["code_size"] == 4
    report = parse_report(out / "report.html")
    assert report.rows == [_formatted(document["metrics"], name) for name in document["metrics"]]
    text = (out / "report.html").read_text()
    assert "Latent traversal: VAE (vae)" in text and "Denoising" in text


def test_report_without_data_record_says_what_to_do(tmp_path, digits, capsys):
    X, _ = digits
    est = aekit.AutoEncoder(latent_dim=2, epochs=1, architecture="mlp", hidden=(8,), random_state=0).fit(X[:100])
    est.save(tmp_path / "run" / "model.safetensors")
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "has model.safetensors but no run.json: the run was interrupted" in capsys.readouterr().err
    Preprocessing().save(tmp_path / "run" / "preprocessing.json")
    (tmp_path / "run" / "run.json").write_text("{}")  # a run folder of an earlier aekit, without its data
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "pass --data PATH" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "has no model.safetensors" in capsys.readouterr().err


def test_help_of_tour_and_report_shows_examples(capsys):
    for command in ("tour", "report"):
        with pytest.raises(SystemExit) as exit_status:
            main([command, "--help"])
        text = capsys.readouterr().out
        assert exit_status.value.code == 0 and "Example:" in text and "--data" in text


# ---------------------------------------------------------------------------- image folders
def _write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_image_folder_with_class_subfolders_round_trips_pixels_and_labels(tmp_path, digits):
    X, y = digits
    pixels = (X[:30] * 255).round().astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, y[:30])):
        _write_png(tmp_path / "digits" / f"class_{label}" / f"{i:03d}.png", image)
    loaded = load_image_folder(tmp_path / "digits")
    order = np.lexsort((np.arange(30), y[:30]))  # files are read class folder by class folder, then by name
    assert loaded.kind == "images" and loaded.X.dtype == np.uint8
    np.testing.assert_array_equal(loaded.X, pixels[order])  # PNG is lossless
    assert loaded.y.tolist() == [f"class_{label}" for label in y[:30][order]]

    tour_data = load_tour_data(str(tmp_path / "digits"))
    assert tour_data.X_train.shape[1:] == (8, 8) and tour_data.X_train.max() <= 1.0
    assert len(tour_data.X_train) + len(tour_data.X_test) == 30 and tour_data.y_test is not None


def test_image_folder_color_mixed_sizes_and_layout_errors(tmp_path):
    rng = np.random.RandomState(0)
    for i in range(3):
        _write_png(tmp_path / "color" / f"{i}.png", rng.randint(0, 256, (12, 10, 3), dtype=np.uint8))
    _write_png(tmp_path / "color" / "big.png", rng.randint(0, 256, (24, 20, 3), dtype=np.uint8))
    loaded = load_image_folder(tmp_path / "color")
    assert loaded.X.shape == (4, 3, 12, 10) and loaded.y is None  # resized to the most common size

    _write_png(tmp_path / "mixed" / "top.png", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "mixed" / "a" / "one.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="both at the top level and in subfolders"):
        load_image_folder(tmp_path / "mixed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        load_image_folder(tmp_path / "empty")


# ---------------------------------------------------------------------------- figures from Python
def test_code_map_says_how_codes_were_projected(digits):
    X, y = digits
    flat = X.reshape(len(X), -1)[:300]
    fig = viz.plot_code_map({"raw 2-D": flat[:, 20:22], "raw 64-D": flat}, y[:300])
    assert fig.axes[0].get_xlabel() == "code: axis 1"
    assert fig.axes[1].get_xlabel() == "PCA of the 64-D code: axis 1"
    points, _ = viz.project_2d(flat)
    assert points.var(0)[0] >= points.var(0)[1] > 0  # principal components, in order


def test_samples_of_any_shape_become_pictures(tmp_path):
    vectors = viz.as_pictures(np.arange(2 * 10, dtype=float).reshape(2, 10))
    assert vectors.shape == (2, 4, 3) and np.isnan(vectors[0].ravel()[10:]).all()
    assert vectors[1].ravel()[9] == 19
    assert viz.as_pictures(np.zeros((2, 3, 5, 6))).shape == (2, 5, 6, 3)
    assert viz.as_pictures(np.zeros((2, 1, 5, 6))).shape == (2, 5, 6)
    table = np.random.RandomState(0).standard_normal((4, 10))
    assert viz.PixelScale.for_data(table).cmap == "coolwarm"
    fig = viz.plot_reconstructions(table, {"identity": table, "zeros": np.zeros_like(table)})
    assert "error 0.00" in fig.axes[1].get_ylabel()
    viz.save_figure(fig, tmp_path / "recon.png")
    assert (tmp_path / "recon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- layout and data-aware content
def _text_boxes(fig) -> list:
    """Every visible, non-empty text of a rendered figure with its box in pixels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts]


def test_image_rows_keep_every_label_whole_and_apart():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rng = np.random.RandomState(0)
    photos = rng.random_sample((10, 3, 64, 64))
    names = ["ContractiveAutoEncoder", "DenoisingAutoEncoder", "VAE"]
    labels = [f"class_flower_{i}" for i in range(10)]
    figures = [
        viz.plot_reconstructions(photos, {n: photos for n in names}, labels=labels),
        viz.plot_anomalies(photos, {n: rng.gamma(2, 300, 10) for n in names}, labels=labels, novel_label=labels[3]),
    ]
    for fig in figures:
        FigureCanvasAgg(fig)
        boxes = _text_boxes(fig)
        width, height = fig.canvas.get_width_height()
        assert len(boxes) >= 15  # row names, column labels or scores, title
        for text, box in boxes:  # inside the canvas: nothing clipped ("ntractiveAutoEncoder")
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text
        for i, (a, box_a) in enumerate(boxes):  # no two texts overlap (labels run together)
            for b, box_b in boxes[i + 1 :]:
                assert not box_a.overlaps(box_b), (a, b)
        assert all(t.get_fontsize() * viz.figures.DPI / 72 >= 12 for t in fig.findobj(matplotlib.text.Text))


def test_traversal_names_dimensions_that_change_nothing():
    rng = np.random.RandomState(0)
    grid = np.repeat(rng.random_sample((2, 1, 8, 8)), 9, axis=1)  # two rows, each one picture nine times
    grid[0] += np.linspace(0, 0.5, 9)[:, None, None]  # the first row brightens along the row
    scale = viz.PixelScale(0.0, 1.0, "gray")
    np.testing.assert_allclose(viz.traversal_change(grid, scale), [0.5, 0.0])
    fig = viz.plot_traversal(grid, [3, 7], np.linspace(-3, 3, 9), scale=scale)
    assert [ax.get_ylabel() for ax in fig.axes] == ["z3\nchange 50%", "z7\nchange 0%"]


def test_a_table_gets_tables_not_heat_maps_and_captions_about_columns():
    out = table_tour_output()
    text = (out / "report.html").read_text(encoding="utf-8")
    report = parse_report(out / "report.html")
    sections = re.findall(r"<h2>([^<]*)</h2>", text)
    assert "Reconstructions" not in sections and "Samples" in sections  # scores in a table, no pictures
    assert {"Reconstruction error by column", "Most anomalous rows"} <= set(sections)
    columns = [row[0] for row in report.rows[N_TOUR_MODELS:][:13]]
    assert columns == ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
                       "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
                       "od280/od315_of_diluted_wines", "proline"]  # fmt: skip
    worst = report.rows[N_TOUR_MODELS + 13 : N_TOUR_MODELS + 21]  # then the samples' scores
    assert len(worst) == 8 and all(re.search(r"rebuilt as .*\(\d+%\)", row[-1]) for row in worst)
    assert all(row[0].startswith("row ") and 1 <= int(row[0][4:]) <= 178 for row in worst)
    assert "stroke" not in text and "slant" not in text


def test_captions_fit_the_data(quick_tour):
    out, _, _ = quick_tour
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "thin strokes and edges" in text and "textures and colours" not in text
    assert "ROC curve" in text and "Detecting the held-out class" in text
