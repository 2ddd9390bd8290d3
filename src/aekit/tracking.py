"""Experiment trackers as ``fit`` callbacks: TensorBoard and MLflow::

    logger = aekit.tracking.TensorBoardLogger("runs/tb", images=X[:8])
    aekit.VAE().fit(X, callbacks=[logger, aekit.tracking.MLflowLogger("mlruns")])

``aekit train ... --log tensorboard:DIR`` and ``--log mlflow:DIR`` do the same from the
command line.  Each logger writes every epoch's history values (``train_loss``,
``val_loss``, each loss term, ``seconds``, ``learning_rate``) as metrics at step = epoch;
see the classes for what else.  The libraries are imported when a logger is made, so
that aekit does not need them otherwise (``pip install "aekit[tracking]"``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from aekit.estimators.callbacks import Callback

_INSTALL = 'python3 -m pip install "aekit[tracking]"'
#: How many inputs (and their reconstructions) the TensorBoard image grid shows at most.
MAX_GRID_IMAGES = 16


def _metrics(history_row: dict[str, float]) -> dict[str, float]:
    """The row's finite numbers by name (``epoch`` is the step, ``phase`` a label)."""
    return {
        name: float(value)
        for name, value in history_row.items()
        if name != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


def _plain_params(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters as JSON values (tuples as lists, anything else by its repr)."""
    plain = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, tuple):
            value = list(value)
        plain[name] = value if value is None or isinstance(value, (bool, int, float, str, list)) else repr(value)
    return plain


def _params(estimator: Any) -> dict[str, str]:
    """The parameters as MLflow's strings: a string as it is, anything else as JSON."""
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in _plain_params(estimator).items()}


def _import(module: str, what: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ImportError(f"{what} needs {module.split('.')[0]}: {_INSTALL}") from None


def reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """One (channels, 2h + 1, n w + n - 1) image in [0, 1]: the inputs on top, their reconstructions
    below, a one-pixel gap between tiles; grey images have one channel."""
    def tiles(images: np.ndarray) -> np.ndarray:
        images = images if images.ndim == 4 else images[:, None]  # (n, c, h, w)
        n, c, h, w = images.shape
        row = np.ones((c, h, n * w + n - 1), dtype=np.float32)
        for i, image in enumerate(images):
            row[:, :, i * (w + 1) : i * (w + 1) + w] = image
        return row

    top, bottom = tiles(originals), tiles(reconstructions)
    gap = np.ones((top.shape[0], 1, top.shape[2]), dtype=np.float32)
    return np.clip(np.concatenate([top, gap, bottom], axis=1), 0.0, 1.0)


class TensorBoardLogger(Callback):
    """Write scalars per epoch and, at the end of fit, a reconstruction grid to a TensorBoard log.

    Parameters
    ----------
    log_dir : str or path-like
        The event files' folder (``tensorboard --logdir DIR`` shows it).
    images : array, optional
        Inputs (as given to ``fit``, at most 16 used) whose reconstructions the image
        ``reconstructions`` shows at fit end (inputs on top, reconstructions below;
        values are clipped to [0, 1]).  Only image models, shaped (n, h, w) or
        (n, c, h, w) with 1 or 3 channels, get one.

    Scalars are tagged ``train/<name>`` and ``val/<name>`` (``train_loss`` ->
    ``train/loss``); ``seconds`` and ``learning_rate`` keep their names.  The
    estimator's parameters are written once as the text ``params`` (JSON).
    """

    def __init__(self, log_dir: str | os.PathLike, images: Any = None):
        tensorboard = _import("torch.utils.tensorboard", "TensorBoardLogger")
        self.log_dir = str(log_dir)
        self.images = None if images is None else np.asarray(images)[:MAX_GRID_IMAGES]
        self._writer = tensorboard.SummaryWriter(self.log_dir)
        self._params_written = False

    @staticmethod
    def tag(name: str) -> str:
        split, sep, rest = name.partition("_")
        return f"{split}/{rest}" if sep and split in ("train", "val") else name

    def on_epoch_end(self, estimator: Any, epoch: int, history_row: dict[str, float]) -> None:
        if not self._params_written:
            self._writer.add_text("params", json.dumps(_plain_params(estimator), indent=1), 0)
            self._params_written = True
        for name, value in _metrics(history_row).items():
            self._writer.add_scalar(self.tag(name), value, epoch)

    def on_fit_end(self, estimator: Any) -> None:
        shape = getattr(estimator, "input_shape_", ())
        image_like = len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3))
        if self.images is not None and image_like:
            grid = reconstruction_grid(self.images.reshape(-1, *shape), estimator.reconstruct(self.images))
            self._writer.add_image("reconstructions", grid, estimator.n_epochs_, dataformats="CHW")
        self._writer.flush()
        self._writer.close()


class MLflowLogger(Callback):
    """Log a fit as an MLflow run: the parameters, every epoch's metrics, and the model file as an artifact.

    Parameters
    ----------
    tracking_uri : str or path-like
        A folder (a local file store, created when missing) or any MLflow tracking URI
        (``file:...``, ``sqlite:///mlflow.db``, ``http://...``).
    experiment : str, default="aekit"
        The experiment the run joins (created when missing).
    run_name : str, optional
        The run's name (MLflow picks one when None).

    The model is saved as ``model.safetensors`` (``aekit.load`` reads it back) at fit end,
    and the run is then marked finished.  MLflow 3 keeps its folder store in maintenance
    mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is set; a logger given a folder
    or a ``file:`` URI sets it to ``true`` for this process (unless already set).
    """

    def __init__(self, tracking_uri: str | os.PathLike, experiment: str = "aekit", run_name: str | None = None):
        self.tracking_uri = self._uri(tracking_uri)
        if self.tracking_uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        tracking = _import("mlflow.tracking", "MLflowLogger")
        self._entities = _import("mlflow.entities", "MLflowLogger")
        self.client = tracking.MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        self._params_logged = False

    @staticmethod
    def _uri(target: str | os.PathLike) -> str:
        text = str(target)
        if ":" in text and not (len(text) > 1 and text[1] == ":"):  # a URI, not a Windows drive letter
            return text
        return Path(text).resolve().as_uri()

    def on_epoch_end(self, estimator: Any, epoch: int, history_row: dict[str, float]) -> None:
        Metric, Param = self._entities.Metric, self._entities.Param
        params = []
        if not self._params_logged:  # MLflow keeps a parameter's first value; values are capped at 6000 characters
            values = {"estimator": type(estimator).__name__, **_params(estimator)}
            params = [Param(name, value[:6000]) for name, value in values.items()]
        stamp = int(time.time() * 1000)
        metrics = [Metric(name, value, stamp, epoch) for name, value in _metrics(history_row).items()]
        self.client.log_batch(self.run_id, metrics=metrics, params=params)
        self._params_logged = True

    def on_fit_end(self, estimator: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.safetensors"
            estimator.save(path)
            self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, "FINISHED")


def parse_log_spec(spec: str) -> list[tuple[str, str]]:
    """``"tensorboard:DIR,mlflow:DIR"`` as ``[("tensorboard", DIR), ("mlflow", DIR)]``; ValueError otherwise."""
    out = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        kind, sep, target = item.partition(":")
        if kind not in LOGGERS or not sep or not target:
            raise ValueError(
                f"--log {item!r}: expected tensorboard:DIR or mlflow:DIR (several separated by commas), "
                "e.g. --log tensorboard:runs/tb."
            )
        out.append((kind, target))
    return out


LOGGERS = {"tensorboard": TensorBoardLogger, "mlflow": MLflowLogger}

__all__ = ["LOGGERS", "MLflowLogger", "TensorBoardLogger", "parse_log_spec", "reconstruction_grid"]
