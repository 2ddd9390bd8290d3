"""ONNX export: every exported graph runs in onnxruntime and agrees with aekit on the same inputs.

One graph per code path (torch's exporter takes seconds a graph): the VAE's three parts
on a convolutional model, the deterministic encoder and score, a table model's score
(standardization and missing cells inside the graph) and decoder, and the CLI's export
of a run folder whose uint8 scaling the graphs include.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

import aekit
from aekit.cli import main


def run_graph(path, array: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: np.ascontiguousarray(array, dtype=np.float32)})[0]


def metadata(path) -> dict:
    return {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def conv_vae(digits):
    X, _ = digits
    return aekit.VAE(latent_dim=3, epochs=2, random_state=0, verbose=0).fit(X[:600])


def test_vae_parts_agree_with_aekit_at_any_batch_size(tmp_path, conv_vae, digits):
    X = digits[0][600:]
    Z = conv_vae.transform(X)
    expected = {"encoder": (X, Z), "decoder": (Z, conv_vae.inverse_transform(Z)), "score": (X, conv_vae.score_samples(X))}
    for part, (inputs, reference) in expected.items():
        path = tmp_path / f"{part}.onnx"
        conv_vae.export_onnx(path, part)
        for n in (1, 7, len(inputs)):  # the batch axis is dynamic
            out = run_graph(path, inputs[:n])
            assert out.shape == reference[:n].shape
            np.testing.assert_allclose(out, reference[:n], rtol=1e-5, atol=1e-5 * max(1, abs(reference).max()))
        layout = metadata(path)
        assert layout["aekit.part"] == part and layout["aekit.estimator"] == "VAE"
    assert metadata(tmp_path / "encoder.onnx")["aekit.input"] == ["x", ["batch", 8, 8]]


def test_autoencoder_encoder_and_score(tmp_path, digits):
    X = digits[0].reshape(len(digits[0]), -1)
    ae = aekit.AutoEncoder(latent_dim=4, hidden=(32,), epochs=2, random_state=0, verbose=0).fit(X[:600])
    ae.export_onnx(tmp_path / "encoder.onnx", "encoder")
    ae.export_onnx(tmp_path / "score.onnx", "score")
    np.testing.assert_allclose(run_graph(tmp_path / "encoder.onnx", X), ae.transform(X), atol=1e-5)
    score = ae.score_samples(X)
    np.testing.assert_allclose(run_graph(tmp_path / "score.onnx", X), score, atol=1e-5 * abs(score).max())


@pytest.fixture(scope="module")
def people():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "height": rng.normal(170, 10, 300),
            "weight": rng.normal(70, 15, 300),
            "city": rng.choice(["Oslo", "Lima", "Pune"], 300),
        }
    )
    frame.loc[[3, 10], "height"] = np.nan
    frame.loc[5, "city"] = None
    return frame


def raw_rows(estimator, frame) -> np.ndarray:
    """The graphs' input: numbers in their units, categories as their index in the schema, NaN missing."""
    categories = {c.name: c.categories for c in estimator.schema.columns if c.kind == "categorical"}
    columns = [
        frame[name].map(lambda v: np.nan if pd.isna(v) else categories[name].index(v)).to_numpy(float)
        if name in categories else frame[name].to_numpy(float)
        for name in frame.columns
    ]
    return np.column_stack(columns)


def test_table_score_graph_takes_raw_rows(tmp_path, people):
    model = aekit.TabularAutoEncoder(latent_dim=2, epochs=3, random_state=0, verbose=0).fit(people)
    model.export_onnx(tmp_path / "score.onnx", "score")
    score = model.score_samples(people)
    out = run_graph(tmp_path / "score.onnx", raw_rows(model, people))
    assert np.isfinite(out).all()  # missing cells are handled inside the graph, as in aekit
    np.testing.assert_allclose(out, score, rtol=1e-4, atol=1e-4)
    columns = metadata(tmp_path / "score.onnx")["aekit.columns"]
    assert [c["name"] for c in columns] == ["height", "weight", "city"]
    assert columns[2]["categories"] == ["Lima", "Oslo", "Pune"]


def test_table_vae_decoder_returns_units(tmp_path, people):
    model = aekit.TabularVAE(latent_dim=2, epochs=3, random_state=0, verbose=0).fit(people)
    model.export_onnx(tmp_path / "decoder.onnx", "decoder")
    Z = model.transform(people)
    decoded = model.inverse_transform(Z)
    out = run_graph(tmp_path / "decoder.onnx", Z)
    np.testing.assert_allclose(out[:, :2], decoded[["height", "weight"]].to_numpy(), rtol=1e-5, atol=1e-3)
    categories = model.schema.columns[2].categories
    assert [categories[int(k)] for k in out[:, 2]] == decoded["city"].tolist()


def test_bad_part_and_conditional_vae_are_refused(tmp_path, conv_vae, digits):
    with pytest.raises(ValueError, match="choose one of"):
        conv_vae.export_onnx(tmp_path / "x.onnx", "posterior")
    X, y = digits
    conditional = aekit.VAE(latent_dim=2, epochs=1, conditional=True, random_state=0, verbose=0).fit(X[:200], y[:200])
    with pytest.raises(ValueError, match="conditional VAE"):
        conditional.export_onnx(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_cli_export_of_a_pixel_run(tmp_path, digits_pixels_npy):
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), "--latent-dim", "4",
                 "--epochs", "2", "--quiet"]) == 0  # fmt: skip
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["decoder.onnx", "encoder.onnx", "score.onnx"]
    pixels = np.load(digits_pixels_npy)
    assert main(["encode", str(run), str(digits_pixels_npy), "--out", str(tmp_path / "z.npy")]) == 0
    assert main(["score", str(run), str(digits_pixels_npy), "--out", str(tmp_path / "s.npy")]) == 0
    codes, scores = np.load(tmp_path / "z.npy"), np.load(tmp_path / "s.npy")
    # The graphs take the uint8 file's values as they are: the /255 is inside them.
    np.testing.assert_allclose(run_graph(tmp_path / "onnx" / "encoder.onnx", pixels), codes, atol=1e-5)
    np.testing.assert_allclose(run_graph(tmp_path / "onnx" / "score.onnx", pixels), scores, atol=1e-4)
    model = aekit.load(run / "model.safetensors")
    pixels_back = run_graph(tmp_path / "onnx" / "decoder.onnx", codes)
    np.testing.assert_allclose(pixels_back, np.clip(model.inverse_transform(codes) * 255, 0, 255), atol=1e-3)
    assert main(["export", str(run), "--out", str(tmp_path / "o2"), "--part", "coder"]) == 2
