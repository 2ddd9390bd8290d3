"""Callbacks on fit and the two trackers on them, read back with TensorBoard's and MLflow's own readers."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import aekit
from aekit.cli import main
from aekit.tracking import MLflowLogger, TensorBoardLogger, reconstruction_grid


class Recorder(aekit.Callback):
    def __init__(self):
        self.rows, self.ended = [], []

    def on_epoch_end(self, estimator, epoch, history_row):
        self.rows.append((epoch, dict(history_row), estimator.module_.training))

    def on_fit_end(self, estimator):
        self.ended.append(estimator.n_epochs_)


@pytest.fixture(scope="module")
def images(digits):
    return digits[0][:400]


def test_callbacks_see_every_epoch_row_and_the_fitted_model(images):
    recorder = Recorder()

    class OnlyEnd:  # duck typing: one hook is enough
        seen = None

        def on_fit_end(self, estimator):
            OnlyEnd.seen = estimator.latent_dim_

    vae = aekit.VAE(latent_dim=2, epochs=3, random_state=0).fit(images, callbacks=[recorder, OnlyEnd()])
    assert [epoch for epoch, _, _ in recorder.rows] == [1, 2, 3] and recorder.ended == [3] and OnlyEnd.seen == 2
    for i, (_, row, _) in enumerate(recorder.rows):
        assert row == {name: values[i] for name, values in vae.history_.items()}
    # The same fit without callbacks learns the same weights: the hooks change nothing.
    plain = aekit.VAE(latent_dim=2, epochs=3, random_state=0).fit(images)
    np.testing.assert_array_equal(plain.transform(images), vae.transform(images))
    with pytest.raises(TypeError, match="not a callback"):
        aekit.VAE(epochs=1).fit(images, callbacks=[TensorBoardLogger])
    with pytest.raises(TypeError, match="must be a list"):
        aekit.VAE(epochs=1).fit(images, callbacks=recorder)


def test_tensorboard_scalars_and_reconstruction_grid(tmp_path, images):
    logger = TensorBoardLogger(tmp_path / "tb", images=images[:6])
    ae = aekit.AutoEncoder(latent_dim=4, epochs=3, random_state=0).fit(images, callbacks=[logger])
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0}).Reload()
    assert {"train/loss", "val/loss", "train/reconstruction", "seconds", "learning_rate"} <= set(events.Tags()["scalars"])
    for tag, name in (("train/loss", "train_loss"), ("val/loss", "val_loss")):
        logged = events.Scalars(tag)
        assert [e.step for e in logged] == [1, 2, 3]
        np.testing.assert_allclose([e.value for e in logged], ae.history_[name], rtol=1e-6)
    (image,) = events.Images("reconstructions")
    assert (image.height, image.width) == (2 * 8 + 1, 6 * 8 + 5)  # inputs on top, reconstructions below
    grid = reconstruction_grid(images[:6], ae.reconstruct(images[:6]))
    assert grid.shape == (1, 17, 53) and np.allclose(grid[0, :8, :8], images[0]) and np.allclose(grid[0, 9:, :8], np.clip(ae.reconstruct(images[:1])[0], 0, 1))


def test_mlflow_params_metrics_and_model_artifact(tmp_path, images):
    logger = MLflowLogger(tmp_path / "mlruns", experiment="digits", run_name="vae")
    vae = aekit.VAE(latent_dim=3, epochs=2, random_state=0).fit(images, callbacks=[logger])
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("digits").experiment_id])
    assert run.info.run_name == "vae" and run.info.status == "FINISHED"
    assert run.data.params["latent_dim"] == "3" and run.data.params["estimator"] == "VAE"
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in history] == [1, 2]
    np.testing.assert_allclose([m.value for m in history], vae.history_["train_loss"])
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["model.safetensors"]
    saved = aekit.load(client.download_artifacts(run.info.run_id, "model.safetensors", str(tmp_path)))
    np.testing.assert_array_equal(saved.transform(images), vae.transform(images))


def test_cli_log_to_both(tmp_path, digits_pixels_npy, capsys):
    run = tmp_path / "run"
    log = f"tensorboard:{tmp_path / 'tb'},mlflow:{tmp_path / 'ml'}"
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), "--epochs", "2",
                 "--latent-dim", "4", "--quiet", "--log", log]) == 0  # fmt: skip
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert len(events.Scalars("train/loss")) == 2 and events.Tags()["images"] == ["reconstructions"]
    client = MlflowClient(tracking_uri=(tmp_path / "ml").as_uri())
    (run_info,) = client.search_runs([client.get_experiment_by_name("aekit").experiment_id])
    assert len(client.get_metric_history(run_info.info.run_id, "val_loss")) == 2
    assert "log = \"tensorboard:" + str(tmp_path / "tb") in (run / "config.toml").read_text()
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(tmp_path / "other"), "--log", "wandb:x"]) == 2
    assert "expected tensorboard:DIR or mlflow:DIR" in capsys.readouterr().err and not (tmp_path / "other").exists()
