"""Tables as people have them: pandas loaders, mixed-type autoencoding, gaps, imputation,
category embeddings, per-feature anomaly scores, FPR-calibrated thresholds and the table CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

import aekit  # noqa: E402
from aekit.cli import main  # noqa: E402
from aekit.data.loading import load_data  # noqa: E402
from aekit.data.tables import TableError, TableSchema, UnseenCategoryWarning, read_table  # noqa: E402
from aekit.nn.tabular import MixedLikelihood, column_weights  # noqa: E402

PENGUINS = Path(__file__).resolve().parents[2] / "shared" / "data" / "penguins.csv"
TINY = dict(latent_dim=2, hidden=(32,), batch_size=32, random_state=0)


def structured_table(n: int = 400, seed: int = 0, gaps: float = 0.0) -> pd.DataFrame:
    """x1 ~ N(0,1); x2 = 2 x1 + small noise; size = 'big' iff x1 > 0; flag = x1 > 0.5; k int codes."""
    rng = np.random.RandomState(seed)
    x1 = rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": 2 * x1 + 0.1 * rng.standard_normal(n),
            "size": np.where(x1 > 0, "big", "small"),
            "flag": x1 > 0.5,
            "count": rng.randint(0, 100, n),
        }
    )
    if gaps:
        for name in ("x1", "x2", "size"):
            hide = rng.random_sample(n) < gaps
            frame[name] = frame[name].astype(object).where(~hide, None) if name == "size" else frame[name].where(~hide)
    return frame


# ---------------------------------------------------------------------------- reading tables
def test_csv_with_semicolons_quotes_and_missing_cells(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('name;score;note\n"Smith; J";1.5;ok\nLee;NA;"says ""hi"""\nKim;;\n', encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["name", "score", "note"]
    assert frame["name"].tolist() == ["Smith; J", "Lee", "Kim"]
    assert frame["score"].isna().tolist() == [False, True, True]
    assert frame["note"].iloc[1] == 'says "hi"' and pd.isna(frame["note"].iloc[2])
    loaded = load_data(path)
    assert loaded.kind == "table" and isinstance(loaded.X, pd.DataFrame)


def test_headerless_numeric_csv_is_an_array_and_parquet_reads(tmp_path):
    (tmp_path / "n.csv").write_text("1,2\n3,4\n", encoding="utf-8")
    loaded = load_data(tmp_path / "n.csv")
    np.testing.assert_array_equal(loaded.X, [[1, 2], [3, 4]])
    frame = pd.DataFrame({"a": [1.0, None, 3.0], "b": pd.Categorical(["x", "y", "x"])})
    frame.to_parquet(tmp_path / "t.parquet")
    back = read_table(tmp_path / "t.parquet")
    assert back["b"].dtype == "category" and back["a"].isna().sum() == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,2\n3,4,5\n", "more fields"),
        ("a,b\n1,\n2,\n", "column 'b' has no values"),
        ("a,b\n1,x\n2,3\n4,5\n", "column 'b' mixes numbers and words"),
    ],
)
def test_malformed_tables_give_one_line_errors_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        TableSchema.infer(read_table(path))
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------- the schema
def test_schema_infers_kinds_and_round_trips_dtypes_through_json(tmp_path):
    frame = structured_table(50)
    frame["level"] = pd.Categorical(["lo", "hi"] * 25, categories=["lo", "hi"])
    schema = TableSchema.infer(frame, categorical=["count"])
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"x1": "numeric", "x2": "numeric", "size": "categorical", "flag": "categorical",
                     "count": "categorical", "level": "categorical"}  # fmt: skip
    schema.save(tmp_path / "s.json")
    again = TableSchema.load(tmp_path / "s.json")
    encoded = again.encode(frame)
    decoded = again.decode(encoded[:, again.numeric_index], encoded[:, again.categorical_index])
    assert list(decoded.dtypes.astype(str)) == list(frame.dtypes.astype(str))
    pd.testing.assert_frame_equal(decoded, frame, check_exact=False, rtol=1e-5)


# ---------------------------------------------------------------------------- the likelihood
def test_missing_cells_are_out_of_the_loss_and_types_weigh_equally():
    assert column_weights(6, 2) == (8 / 12, 8 / 4)  # 6 numeric and 2 categorical columns: half the weight each
    likelihood = MixedLikelihood([0, 1], [2], [3])
    x = torch.tensor([[0.5, float("nan"), 1.0], [float("nan"), 1.0, float("nan")]])
    out = torch.randn(2, 5)
    base = likelihood.column_nll(out, x)
    changed = out.clone()
    changed[0, 1] += 10.0  # the prediction of a missing cell
    changed[1, 2:] += torch.tensor([5.0, -5.0, 1.0])  # the logits of a missing category
    torch.testing.assert_close(likelihood.column_nll(changed, x), base)
    assert base[0, 1] == 0 and base[1, 0] == 0 and base[1, 2] == 0
    expected = (out[0, 0] - 0.5) ** 2
    torch.testing.assert_close(base[0, 0], expected)


# ---------------------------------------------------------------------------- the estimators
@pytest.fixture(scope="module")
def fitted():
    frame = structured_table(400, gaps=0.1)
    return frame, aekit.TabularAutoEncoder(epochs=40, **TINY).fit(frame)


def test_tabular_autoencoder_reconstructs_categories_from_structure(fitted):
    frame, ae = fitted
    clean = structured_table(300, seed=1)
    rec = ae.reconstruct(clean)
    assert list(rec.columns) == list(clean.columns) and rec.index.equals(clean.index)
    assert rec["flag"].dtype == bool and rec["count"].dtype == np.int64 and set(rec["size"]) <= {"big", "small"}
    accuracy = (rec["size"] == clean["size"]).mean()
    assert accuracy > 0.9 > max((clean["size"] == v).mean() for v in ("big", "small"))  # far above the majority
    assert np.sqrt(np.mean((rec["x2"] - clean["x2"]) ** 2)) < 0.5 * clean["x2"].std()
    assert list(ae.feature_names_in_) == list(frame.columns) and ae.n_features_in_ == 5


def test_impute_fills_gaps_from_the_other_columns(fitted):
    frame, ae = fitted
    clean = structured_table(300, seed=2)
    holed = clean.copy()
    holed.loc[::3, "x2"] = np.nan  # x2 is 2 * x1: the model should recover it, the mean cannot
    holed.loc[1::3, "size"] = None
    filled = ae.impute(holed)
    assert filled.isna().sum().sum() == 0
    pd.testing.assert_frame_equal(filled.loc[2::3], clean.loc[2::3], check_dtype=False)  # observed cells unchanged
    gap = holed["x2"].isna()
    model_rmse = np.sqrt(np.mean((filled.loc[gap, "x2"] - clean.loc[gap, "x2"]) ** 2))
    mean_rmse = np.sqrt(np.mean((frame["x2"].mean() - clean.loc[gap, "x2"]) ** 2))
    assert model_rmse < 0.5 * mean_rmse
    gap = holed["size"].isna()
    assert (filled.loc[gap, "size"] == clean.loc[gap, "size"]).mean() > 0.85


def test_unseen_categories_warn_and_wrong_columns_fail(fitted):
    _, ae = fitted
    new = structured_table(10, seed=3)
    new.loc[0, "size"] = "gigantic"
    with pytest.warns(UnseenCategoryWarning, match="'size'"):
        errors = ae.column_errors(new)
    assert errors.loc[0, "size"] > errors.loc[1:, "size"].max()  # an unseen category is costly
    with pytest.raises(TableError, match=r"lacks column\(s\) \['flag'\].*\['extra'\] not seen"):
        ae.transform(new.drop(columns=["flag"]).assign(extra=1.0))
    with pytest.raises(TableError, match="'x1' is numeric in the model but holds 'abc'"):
        ae.transform(new.assign(x1=["abc"] + [1.0] * 9))


def test_embeddings_saving_and_pandas_output(fitted, tmp_path):
    frame, ae = fitted
    embeddings = ae.category_embeddings_
    assert set(embeddings) == {"size", "flag"}
    assert list(embeddings["size"].index) == ["big", "small"] and embeddings["size"].shape[1] >= 2
    ae.save(tmp_path / "m.safetensors")
    again = aekit.load(tmp_path / "m.safetensors")
    np.testing.assert_allclose(again.transform(frame), ae.transform(frame), rtol=1e-5, atol=1e-6)
    pd.testing.assert_frame_equal(again.category_embeddings_["size"], embeddings["size"])
    codes = aekit.TabularAutoEncoder(**{**TINY, "epochs": 1}).set_output(transform="pandas").fit(frame).transform(frame)
    assert isinstance(codes, pd.DataFrame) and codes.shape == (len(frame), 2) and codes.index.equals(frame.index)


def test_tabular_vae_trains_with_gaps_and_scores_typical_rows_higher():
    frame = structured_table(300, gaps=0.1)
    vae = aekit.TabularVAE(epochs=30, **TINY).fit(frame)
    assert np.isfinite(vae.history_["train_loss"]).all()
    odd = structured_table(50, seed=4)
    odd["x2"] = -odd["x2"]  # breaks x2 = 2 x1
    assert np.median(vae.score_samples(odd)) < np.median(vae.score_samples(structured_table(50, seed=5)))


def test_plain_estimators_take_numeric_dataframes():
    frame = structured_table(100)[["x1", "x2"]]
    ae = aekit.AutoEncoder(epochs=2, **TINY).set_output(transform="pandas").fit(frame)
    assert list(ae.feature_names_in_) == ["x1", "x2"]
    assert isinstance(ae.transform(frame), pd.DataFrame)


# ---------------------------------------------------------------------------- anomaly detection
def test_feature_scores_point_at_the_broken_feature():
    rng = np.random.RandomState(0)
    z = rng.standard_normal((600, 2))
    X = (z @ rng.standard_normal((2, 10)) / np.sqrt(2)).astype(np.float32)  # 10 features on a plane
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(epochs=60, **TINY)).fit(X)
    broken = X[:20].copy()
    broken[:, 3] += 4.0  # leaves the plane along feature 3 only
    scores = detector.feature_scores(broken)
    assert scores.shape == (20, 10) and (scores.argmax(1) == 3).mean() >= 0.9
    # The per-feature errors add up to the reconstruction part of the default score.
    np.testing.assert_allclose(scores.sum(1), detector.estimator_.reconstruction_error(broken), rtol=1e-4)


def test_fpr_threshold_flags_the_requested_share_of_new_inliers():
    rng = np.random.RandomState(1)
    X = rng.standard_normal((1500, 4)).astype(np.float32)
    detector = aekit.AnomalyDetector(aekit.AutoEncoder(epochs=5, **TINY), threshold="fpr", fpr=0.05, random_state=0)
    detector.fit(X)
    assert len(detector.calibration_scores_) == 300
    new = rng.standard_normal((4000, 4)).astype(np.float32)
    flagged = (detector.predict(new) == -1).mean()
    assert 0.03 < flagged < 0.075  # fpr 0.05, up to the calibration set's sampling error
    p = detector.p_values(new)
    np.testing.assert_array_equal(detector.predict(new) == -1, p <= 0.05)
    assert abs(np.mean(p <= 0.2) - 0.2) < 0.04  # p-values of inliers are close to uniform
    proba = detector.predict_proba(new)
    np.testing.assert_allclose(proba.sum(1), 1.0) and np.testing.assert_allclose(proba[:, 0], p)
    outliers = new[:200] * 4
    assert detector.p_values(outliers).mean() < 0.1


def test_detector_on_a_mixed_table_explains_with_columns():
    frame = structured_table(300)
    detector = aekit.AnomalyDetector(aekit.TabularAutoEncoder(epochs=30, **TINY), threshold="fpr", random_state=0)
    detector.fit(frame)
    odd = structured_table(20, seed=6)
    odd["size"] = np.where(odd["size"] == "big", "small", "big")  # contradicts x1
    scores = detector.feature_scores(odd)
    assert list(scores.columns) == list(frame.columns)
    assert (scores.idxmax(axis=1) == "size").mean() >= 0.8
    assert detector.p_values(odd).mean() < detector.p_values(structured_table(20, seed=7)).mean()


# ---------------------------------------------------------------------------- the command line
@pytest.fixture()
def people(tmp_path):
    frame = structured_table(200, gaps=0.1)
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "people.csv", index=False)
    return tmp_path / "people.csv"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_cli_trains_on_a_mixed_table_and_checks_new_files(tmp_path, people, capsys):
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(people), "--drop", "id", "--categorical", "count", "--out", str(run),
                 "--latent-dim", "2", "--hidden", "16", "--epochs", "3", "--quiet"]) == 0  # fmt: skip
    schema = json.loads((run / "schema.json").read_text())
    assert {c["name"]: c["kind"] for c in schema["columns"]}["count"] == "categorical"
    assert (run / "embeddings" / "size.csv").is_file() and (run / "model.safetensors").is_file()
    assert main(["reconstruct", str(run), str(people), "--drop", "id", "--out", str(tmp_path / "r.csv")]) == 0
    rec = pd.read_csv(tmp_path / "r.csv")
    assert list(rec.columns) == ["x1", "x2", "size", "flag", "count"] and set(rec["size"]) <= {"big", "small"}
    assert main(["impute", str(run), str(people), "--drop", "id", "--out", str(tmp_path / "i.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "i.parquet").isna().sum().sum() == 0
    before = _files(tmp_path)
    assert main(["encode", str(run), str(people), "--out", str(tmp_path / "z.npy")]) == 2  # forgot --drop id
    assert "has column(s) ['id'] not seen in fit" in capsys.readouterr().err
    assert _files(tmp_path) == before


def test_cli_checks_a_numeric_table_by_its_column_names(tmp_path, capsys):
    """A numeric CSV trains the plain model; later files are matched to its columns by name."""
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.standard_normal((120, 3)) * [1, 10, 100], columns=["a", "b", "c"])
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame[["c", "a", "b"]].to_csv(tmp_path / "shuffled.csv", index=False)
    frame.rename(columns={"c": "d"}).to_csv(tmp_path / "renamed.csv", index=False)
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(tmp_path / "train.csv"), "--out", str(run), "--latent-dim", "2",
                 "--hidden", "8", "--epochs", "2", "--quiet"]) == 0  # fmt: skip
    assert json.loads((run / "run.json").read_text())["columns"] == ["a", "b", "c"]
    for name in ("train", "shuffled"):
        assert main(["encode", str(run), str(tmp_path / f"{name}.csv"), "--out", str(tmp_path / f"{name}.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "train.npy"), np.load(tmp_path / "shuffled.npy"))
    capsys.readouterr()
    before = _files(tmp_path)
    assert main(["encode", str(run), str(tmp_path / "renamed.csv"), "--out", str(tmp_path / "z.npy")]) == 2
    assert "lacks column(s) ['c'] and has column(s) ['d'] not seen in fit" in capsys.readouterr().err
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,c\n1,x,2\n3,y,4,5\n", "more fields"),
        ("a,b,c\n1,x,\n3,y,\n", "column 'c' has no values"),
        ("a,b,c\n1,x,7\n3,y,seven\n5,x,8\n", "column 'c' mixes numbers and words"),
    ],
)
def test_cli_refuses_malformed_tables_and_writes_nothing(tmp_path, text, message, capsys):
    (tmp_path / "bad.csv").write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(tmp_path / "bad.csv"), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not run.exists()


@pytest.mark.skipif(not PENGUINS.is_file(), reason="../shared/data/penguins.csv is absent")
def test_cli_trains_on_the_raw_penguins_file(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "vae", "--data", str(PENGUINS), "--out", str(run), "--latent-dim", "2",
                 "--hidden", "16", "--epochs", "2", "--quiet"]) == 0  # fmt: skip
    kinds = {c["name"]: c["kind"] for c in json.loads((run / "schema.json").read_text())["columns"]}
    assert kinds["species"] == kinds["island"] == kinds["sex"] == "categorical" and kinds["year"] == "numeric"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["score", str(run), str(PENGUINS), "--out", str(tmp_path / "s.npy")]) == 0
    assert np.isfinite(np.load(tmp_path / "s.npy")).all()


def test_tour_on_a_mixed_table_shows_the_tabular_figures(tmp_path, people):
    out = tmp_path / "tour"
    assert main(["tour", "--data", str(people), "--out", str(out), "--quick"]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Category embeddings" in html and "Which columns make a row anomalous" in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["TabularAutoEncoder"]["reconstruction"]) >= {"x1", "size"}
