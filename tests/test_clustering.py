"""aekit.DeepClustering on digits: k-means on codes, DEC, IDEC and N2D; checks, Pipeline, files, resume.

N2D's first UMAP fit in a process compiles umap-learn's numba kernels (~10-30 s here,
once per process), so the N2D model is fitted once, in a module fixture.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import aekit
from aekit.metrics import clustering_accuracy
from aekit.uses.clustering import soft_assignment, target_distribution


@pytest.fixture(scope="module")
def digits():
    return aekit.datasets.load_digits()  # 8x8 images: the default conv autoencoder


@pytest.fixture(scope="module")
def autoencoder(digits):
    X, _ = digits
    return aekit.AutoEncoder(latent_dim=10, epochs=60, random_state=0).fit(X)


@pytest.fixture(scope="module")
def fitted(digits, autoencoder):
    """One fitted clusterer per method, around the same pretrained autoencoder."""
    X, _ = digits
    return {
        method: aekit.DeepClustering(
            autoencoder, n_clusters=10, method=method, epochs=15, batch_size=64, random_state=0
        ).fit(X)
        for method in ("kmeans", "idec", "n2d")
    }


def test_idec_and_n2d_beat_kmeans_on_codes(digits, fitted):
    _, y = digits
    accuracy = {method: clustering_accuracy(y, model.labels_) for method, model in fitted.items()}
    # Measured: k-means 0.759, IDEC 0.783, N2D 0.85 (DEC, in the next test, 0.80).
    assert accuracy["kmeans"] > 0.7  # a working baseline, not a broken one made to lose
    assert accuracy["idec"] >= accuracy["kmeans"] + 0.015, accuracy
    assert accuracy["n2d"] >= accuracy["kmeans"] + 0.05, accuracy


def test_labels_are_predict_on_the_training_data_and_soft_assignments_agree(digits, fitted):
    X, _ = digits
    for method, model in fitted.items():
        proba = model.predict_proba(X)
        assert proba.shape == (len(X), 10)
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(proba.argmax(1), model.predict(X))
        agreement = (model.predict(X) == model.labels_).mean()
        # UMAP's transform of a training point lands near, not exactly on, its fitted position.
        assert agreement == 1.0 if method != "n2d" else agreement > 0.98, (method, agreement)
        assert model.cluster_centers_.shape == (10, 10)


def test_dec_fine_tunes_a_copy_with_the_trainer_and_stops_on_tol(digits, autoencoder, fitted):
    X, y = digits
    before = {k: v.clone() for k, v in autoencoder.module_.state_dict().items()}
    dec = aekit.DeepClustering(
        autoencoder, n_clusters=10, method="dec", epochs=40, batch_size=64, tol=0.01, random_state=0
    ).fit(X)
    # Measured: 0.774 when tol stops it (k-means 0.759).
    assert clustering_accuracy(y, dec.labels_) >= clustering_accuracy(y, fitted["kmeans"].labels_) + 0.01
    assert all(torch.equal(before[k], v) for k, v in autoencoder.module_.state_dict().items())  # original untouched
    changed = [k for k, v in dec.estimator_.module_.state_dict().items() if not torch.equal(before[k], v)]
    assert any(k.startswith("encoder") for k in changed)
    history = dec.history_
    assert history["epoch"] == list(range(1, len(history["epoch"]) + 1)) and "train_kl" in history
    assert "train_reconstruction" not in history  # DEC: the KL term alone
    assert history["label_change"][-1] < 0.01 and len(history["epoch"]) < 40  # stopped by tol
    assert all(change >= 0.01 for change in history["label_change"][:-1])


def test_target_distribution_sharpens_and_normalizes():
    q = soft_assignment(torch.tensor([[0.0, 0.0], [0.9, 1.0], [3.0, 3.0]]), torch.tensor([[0.0, 0.0], [3.0, 3.0]]), 1.0)
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(1).numpy(), 1.0, rtol=1e-6)
    assert (p.max(1).values[[0, 2]] > q.max(1).values[[0, 2]]).all()  # confident rows get more confident


def test_an_unfitted_estimator_is_fitted_as_a_clone(digits):
    X, y = digits
    X = X.reshape(len(X), -1)
    ae = aekit.AutoEncoder(latent_dim=10, hidden=(64,), epochs=10, random_state=0)
    model = aekit.DeepClustering(ae, n_clusters=10, method="kmeans", random_state=0).fit(X)
    assert not hasattr(ae, "module_") and model.estimator_.n_epochs_ == 10
    assert clustering_accuracy(y, model.labels_) > 0.5


@pytest.mark.parametrize("n_clusters", [1, 0, -3, 2.5, True, 1798])
def test_n_clusters_out_of_range_is_refused_with_advice(digits, autoencoder, n_clusters):
    X, _ = digits
    with pytest.raises(ValueError, match="n_clusters") as error:
        aekit.DeepClustering(autoencoder, n_clusters=n_clusters, method="kmeans").fit(X)
    assert ("smaller n_clusters" if n_clusters == 1798 else ">= 2") in str(error.value)


def test_other_bad_parameters_say_what_is_allowed(digits, autoencoder):
    X, _ = digits
    with pytest.raises(ValueError, match=r"method must be one of \['kmeans', 'dec', 'idec', 'n2d'\]"):
        aekit.DeepClustering(autoencoder, method="spectral").fit(X)
    with pytest.raises(ValueError, match="gamma must be a positive number"):
        aekit.DeepClustering(autoencoder, gamma=0).fit(X)
    with pytest.raises(TypeError, match="aekit autoencoder"):
        aekit.DeepClustering(MinMaxScaler()).fit(X)


def test_works_in_a_pipeline(digits):
    X, y = digits
    X = X.reshape(len(X), -1)
    pipeline = make_pipeline(
        MinMaxScaler(),
        aekit.DeepClustering(aekit.AutoEncoder(latent_dim=10, hidden=(64,), epochs=10, random_state=0), method="dec", epochs=5, random_state=0),
    )  # fmt: skip
    labels = pipeline.fit_predict(X * 16)
    assert clustering_accuracy(y, labels) > 0.5
    np.testing.assert_array_equal(pipeline.predict(X * 16), labels)


@pytest.mark.parametrize("method", ["idec", "n2d"])
def test_save_and_load_without_pickle(digits, fitted, method, tmp_path):
    X, _ = digits
    model = fitted[method]
    model.save(tmp_path / "clusterer")
    assert sorted(p.name for p in (tmp_path / "clusterer").iterdir()) == ["clustering.safetensors", "estimator.safetensors"]
    loaded = aekit.DeepClustering.load(tmp_path / "clusterer")
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    np.testing.assert_array_equal(loaded.labels_, model.labels_)
    np.testing.assert_allclose(loaded.cluster_centers_, model.cluster_centers_)
    np.testing.assert_allclose(loaded.predict_proba(X[:200]), model.predict_proba(X[:200]), atol=1e-5)


def test_load_refuses_what_is_not_a_saved_clusterer(tmp_path):
    with pytest.raises(aekit.ModelFileError, match="not a saved DeepClustering"):
        aekit.DeepClustering.load(tmp_path)


def test_aekit_load_reads_a_saved_clusterer_folder_with_identical_predictions(digits, autoencoder, tmp_path):
    X, _ = digits
    model = aekit.DeepClustering(autoencoder, n_clusters=10, method="idec", epochs=2, batch_size=64, random_state=0).fit(X)
    model.save(tmp_path / "clusterer")
    loaded = aekit.load(tmp_path / "clusterer")
    assert isinstance(loaded, aekit.DeepClustering) and loaded.method == "idec"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert isinstance(aekit.load(tmp_path / "clusterer" / "estimator.safetensors"), aekit.AutoEncoder)  # a model file


def test_aekit_load_says_what_to_pass_for_folders_it_cannot_read(digits, autoencoder, tmp_path):
    X, _ = digits
    with pytest.raises(aekit.ModelFileError, match="not a saved DeepClustering .*est.save"):
        aekit.load(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    autoencoder.save(run / "model.safetensors")
    with pytest.raises(aekit.ModelFileError, match=r"run folder of `aekit train`.*model\.safetensors.*load_run"):
        aekit.load(run)
    aekit.DeepClustering(autoencoder, n_clusters=3, method="kmeans", n_init=1).fit(X).save(tmp_path / "clusterer")
    with pytest.raises(aekit.ModelFileError, match="pass its folder"):
        aekit.load(tmp_path / "clusterer" / "clustering.safetensors")

def test_fine_tuning_resumes_from_its_checkpoint_bit_for_bit(digits, autoencoder, tmp_path):
    X, _ = digits
    params = dict(n_clusters=10, method="idec", batch_size=64, tol=0.0, random_state=0)
    whole = aekit.DeepClustering(autoencoder, epochs=4, **params).fit(X)
    aekit.DeepClustering(autoencoder, epochs=2, **params).fit(X, checkpoint_dir=tmp_path)
    resumed = aekit.DeepClustering(autoencoder, epochs=4, **params).fit(X, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.cluster_centers_, whole.cluster_centers_)
    np.testing.assert_array_equal(resumed.labels_, whole.labels_)


def test_cli_cluster_writes_labels_reports_accuracy_and_saves(digits, tmp_path, capsys):
    from aekit.cli import main

    X, y = digits
    data = tmp_path / "digits.npz"
    np.savez(data, x_train=(X * 255).round().astype(np.uint8), y_train=y)
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(data), "--out", str(run), "--latent-dim", "10", "--epochs", "20",
                 "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "labels.npy"
    assert main(["cluster", str(run), str(data), "--n-clusters", "10", "--method", "dec", "--epochs", "3",
                 "--out", str(out), "--save", str(tmp_path / "clusterer")]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    labels = np.load(out)
    assert labels.shape == (len(X),) and labels.dtype == np.int64 and set(labels) <= set(range(10))
    assert f"cluster sizes: {np.bincount(labels, minlength=10).tolist()}" in printed
    assert f"accuracy {clustering_accuracy(y, labels):.4f}" in printed
    loaded = aekit.DeepClustering.load(tmp_path / "clusterer")
    np.testing.assert_array_equal(loaded.labels_, labels)
    assert main(["cluster", str(run), str(data), "--n-clusters", "1", "--out", str(out)]) == 2
    assert "n_clusters must be an integer >= 2" in capsys.readouterr().err
