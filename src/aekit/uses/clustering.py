"""Deep clustering with an autoencoder: k-means on codes, DEC, IDEC and N2D, as a scikit-learn clusterer.

* ``"kmeans"``: k-means on the codes (the baseline every method below starts from);
* ``"dec"`` (Xie et al. 2016): the cluster centres become parameters, each code gets a
  Student-t soft assignment ``q_ij ∝ (1 + |z_i - mu_j|^2 / alpha)^-(alpha+1)/2`` and the
  encoder and centres minimize ``KL(P || Q)`` against the sharpened target
  ``p_ij ∝ q_ij^2 / f_j`` (``f_j = sum_i q_ij``), refreshed every ``update_interval`` epochs;
  training stops when fewer than a fraction ``tol`` of the labels changed between refreshes;
* ``"idec"`` (Guo et al. 2017): the autoencoder's own training objective (per feature) plus
  ``gamma`` times DEC's loss, so that fine-tuning keeps the decoder and does not distort the
  code space;
* ``"n2d"`` (McConville et al. 2019): UMAP of the codes to ``n_clusters`` dimensions, then a
  Gaussian mixture.

DEC and IDEC fine-tune with aekit's :class:`~aekit.train.Trainer`: the target distribution
travels as the trainer's per-row ``condition`` (batched with the rows, so each batch sees
its own rows' targets), and an epoch-end hook refreshes it in place.
"""

from __future__ import annotations

import contextlib
import copy
import json
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import BaseEstimator, ClusterMixin, MetaEstimatorMixin, clone
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, check_is_fitted

from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.persistence import ModelFileError, load_estimator
from aekit.models.base import BaseModule
from aekit.train.checkpoint import Checkpoint, checkpoint_path
from aekit.train.trainer import TrainConfig, Trainer
from aekit.utils.files import atomic_write, folder_lock
from aekit.utils.runtime import draw_seed, torch_seeded

METHODS = ("kmeans", "dec", "idec", "n2d")
ESTIMATOR_FILE, CLUSTERING_FILE = "estimator.safetensors", "clustering.safetensors"
CLUSTERING_FORMAT = "aekit-deep-clustering"
#: Gaussian-mixture arrays that fully define its predictions (``predict``, ``predict_proba``).
_MIXTURE_ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def soft_assignment(codes: torch.Tensor, centers: torch.Tensor, alpha: float) -> torch.Tensor:
    """Student-t similarity of every code to every centre, normalized per row: DEC's ``q``, (n, k)."""
    kernel = (1.0 + torch.cdist(codes, centers).square() / alpha).pow(-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's target ``p_ij = (q_ij^2 / f_j) / sum_j'(q_ij'^2 / f_j')``: confident assignments sharpened,
    each cluster's weight divided by its soft size so that large clusters do not swallow the rest."""
    weight = q.square() / q.sum(0)
    return weight / weight.sum(1, keepdim=True)


class ClusteringModule(BaseModule):
    """An autoencoder's module with trainable cluster centres; loss ``KL(P || Q) + reconstruction_weight * L_ae``.

    The trainer hands the target ``P`` of each batch's rows as its ``condition``.  With
    ``reconstruction_weight > 0`` (IDEC) ``L_ae`` is the autoencoder's whole training
    objective (its reconstruction and whatever regularizer the family adds), so any family works.
    """

    def __init__(self, autoencoder: BaseModule, centers: torch.Tensor, alpha: float, reconstruction_weight: float):
        super().__init__(terms=[])
        self.autoencoder = autoencoder
        self.centers = torch.nn.Parameter(centers.clone())
        self.alpha, self.reconstruction_weight = float(alpha), float(reconstruction_weight)

    @property
    def min_batch(self) -> int:
        return self.autoencoder.min_batch

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.autoencoder.encode(x)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        return soft_assignment(self.encode(x), self.centers, self.alpha)

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> dict[str, torch.Tensor]:
        if condition is None:
            raise ValueError("ClusteringModule needs the target distribution of the batch's rows as its condition.")
        q = self.assign(x)
        kl = (condition * (condition.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1)
        if self.reconstruction_weight == 0:
            return {"kl": kl, "loss": kl}
        reconstruction = self.autoencoder.loss_terms(x, None, None)["loss"]
        return {"kl": kl, "reconstruction": reconstruction, "loss": kl + self.reconstruction_weight * reconstruction}


class _Converged(Exception):
    """Raised by the epoch-end hook when fewer than ``tol`` of the labels changed."""


class DeepClustering(ClusterMixin, MetaEstimatorMixin, BaseEstimator):
    """Cluster data in an autoencoder's code space: k-means, DEC, IDEC or N2D (see the module docstring).

    Parameters
    ----------
    estimator : aekit estimator
        An autoencoder.  Unfitted: a clone is fitted on ``X`` first (the pretraining); fitted:
        a copy is used as it is (``"dec"``/``"idec"`` fine-tune the copy, never the original).
    n_clusters : int, default=10
        Number of clusters, at least 2 and at most the number of samples.
    method : {"kmeans", "dec", "idec", "n2d"}, default="idec"
    gamma : float, default=0.1
        IDEC's weight of the clustering loss against the reconstruction loss averaged over
        features (the paper's ``L_r + gamma * L_c``, where ``L_r`` is a mean squared error).
        aekit's losses sum over features and Adam ignores the overall scale of a loss, so the
        same objective is charged as ``KL + L_ae / (gamma * n_features)``.  "idec" only.
    alpha : float, default=1.0
        Degrees of freedom of the Student-t soft assignment (DEC and IDEC use 1).
    epochs : int, default=100
        Most fine-tuning epochs of ``"dec"``/``"idec"`` (the ``tol`` test usually stops earlier).
    batch_size : int, default=256
    learning_rate : float, default=1e-3
        Adam's step size for fine-tuning (IDEC's setting).
    update_interval : int, default=1
        Epochs between refreshes of the target distribution (the papers count 140 batches of
        256 on MNIST, about half an epoch).
    tol : float, default=0.001
        Stop once fewer than this fraction of labels changed between two refreshes.
    n_init : int, default=20
        k-means restarts (the initial centres of DEC/IDEC, and the ``"kmeans"`` method).
    umap_n_neighbors, umap_min_dist, umap_metric : UMAP's ``n_neighbors`` (20), ``min_dist``
        (0.0) and ``metric`` ("euclidean"), N2D's settings; ``"n2d"`` only.
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
        1 shows a progress bar of the fine-tuning epochs.

    Attributes
    ----------
    estimator_ : the (fine-tuned) autoencoder
    labels_ : ndarray (n_samples,)
    cluster_centers_ : ndarray (n_clusters, latent_dim)
        Centres in code space: k-means's, the fine-tuned DEC/IDEC centres, or for N2D the
        mean code of each cluster (the mixture lives in the UMAP space, ``mixture_``).
    history_ : dict of lists
        Fine-tuning epochs (``train_kl``, ``train_reconstruction``, ``label_change`` per refresh, ...).
    n_features_in_ : int

    Examples
    --------
    >>> import aekit
    >>> X, y = aekit.datasets.load_digits()
    >>> dc = aekit.DeepClustering(aekit.AutoEncoder(latent_dim=10, epochs=5), n_clusters=10, method="kmeans")
    >>> dc.fit_predict(X).shape
    (1797,)
    """

    def __init__(
        self,
        estimator: Any,
        n_clusters: int = 10,
        method: str = "idec",
        gamma: float = 0.1,
        alpha: float = 1.0,
        epochs: int = 100,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        update_interval: int = 1,
        tol: float = 0.001,
        n_init: int = 20,
        umap_n_neighbors: int = 20,
        umap_min_dist: float = 0.0,
        umap_metric: str = "euclidean",
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.estimator = estimator
        self.n_clusters = n_clusters
        self.method = method
        self.gamma = gamma
        self.alpha = alpha
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.update_interval = update_interval
        self.tol = tol
        self.n_init = n_init
        self.umap_n_neighbors = umap_n_neighbors
        self.umap_min_dist = umap_min_dist
        self.umap_metric = umap_metric
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _validate_params(self, n_samples: int) -> None:
        if not isinstance(self.estimator, BaseAutoEncoder):
            raise TypeError(f"estimator must be an aekit autoencoder (e.g. aekit.AutoEncoder()); got {self.estimator!r}.")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}; got {self.method!r}.")
        if n_samples < 2:
            raise ValueError(f"X has {n_samples} sample(s) (n_samples={n_samples}); clustering needs at least 2.")
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
            raise ValueError(f"n_clusters must be an integer >= 2 (one cluster is no clustering); got {k!r}.")
        if k > n_samples:
            raise ValueError(
                f"n_clusters={k} is more than the {n_samples} samples in X: every cluster needs a sample. "
                "Pass more data or a smaller n_clusters."
            )
        for name in ("epochs", "batch_size", "update_interval", "n_init", "umap_n_neighbors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
        for name, low in (("umap_min_dist", 0.0), ("tol", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low:
                raise ValueError(f"{name} must be a number >= {low:g}; got {value!r}.")
        for name in ("gamma", "alpha", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number; got {value!r}.")

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, *, checkpoint_dir: str | None = None, resume: bool = False) -> DeepClustering:
        """Fit (or adopt) the autoencoder, then cluster its codes of ``X``. ``y`` is ignored.

        With ``checkpoint_dir``, DEC/IDEC fine-tuning is checkpointed there after every epoch
        and ``resume=True`` continues it (the pretraining of an unfitted estimator is not:
        fit and save it first, e.g. with ``aekit train``, to checkpoint that too).
        """
        self._validate_params(_num_samples(X))
        rng = check_random_state(self.random_state)
        try:
            check_is_fitted(self.estimator, "module_")
            self.estimator_ = copy.deepcopy(self.estimator)
        except NotFittedError:
            self.estimator_ = clone(self.estimator).fit(X)
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        codes = self.estimator_.transform(X).astype(np.float64)
        self.history_ = {}
        if self.method == "n2d":
            self._fit_n2d(codes, draw_seed(rng))
            return self
        kmeans = KMeans(self.n_clusters, n_init=self.n_init, random_state=draw_seed(rng)).fit(codes)
        self.cluster_centers_ = kmeans.cluster_centers_
        if self.method in ("dec", "idec"):
            with folder_lock(checkpoint_dir) if checkpoint_dir is not None else contextlib.nullcontext():
                self._fine_tune(X, checkpoint_dir, resume, draw_seed(rng))
        self.labels_ = self.predict(X)
        return self

    def _fine_tune(self, X: Any, checkpoint_dir: str | None, resume: bool, seed: int) -> None:
        """DEC/IDEC: train encoder and centres on KL(P || Q) with aekit's trainer, refreshing P."""
        est = self.estimator_
        x = est._to_tensor(est._validate_X(X, reset=False))
        weight = 1.0 / (self.gamma * est.n_features_in_) if self.method == "idec" else 0.0
        centers = torch.as_tensor(self.cluster_centers_, dtype=torch.float32, device=x.device)
        # Trained in the default layout, as fit trains (a fitted conv model infers channels-last, and
        # resumed optimizer moments, read from a file, are in the default layout).
        est.module_.to(memory_format=torch.contiguous_format)
        module = ClusteringModule(est.module_, centers, self.alpha, weight)
        checkpoint = None
        if checkpoint_dir is not None:
            fingerprint = {"estimator": "DeepClustering", "params": _json_params(self), "n_samples": int(x.shape[0])}
            checkpoint = Checkpoint(checkpoint_path(checkpoint_dir), fingerprint, resume=bool(resume))
            saved = checkpoint.load() if resume else None
            if saved is not None:  # the target of a resumed run comes from the weights it resumes
                module.load_state_dict(saved.module_state)
        q = self._assign_all(module, x)
        target, labels = target_distribution(q), q.argmax(1)
        history: dict[str, list] = {}

        def refresh(epoch: int, row: dict[str, float]) -> None:
            nonlocal labels
            for name, value in row.items():
                history.setdefault(name, []).append(value)
            if epoch % self.update_interval:
                return
            q = self._assign_all(module, x)
            target.copy_(target_distribution(q))
            new_labels = q.argmax(1)
            change = float((new_labels != labels).double().mean())
            labels = new_labels
            history.setdefault("label_change", []).append(change)
            if change < self.tol:
                raise _Converged

        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            early_stopping=False,  # DEC's loss falls as P sharpens; the tol test on labels decides the end
            verbose=self.verbose,
            description=f"DeepClustering({self.method})",
        )
        module.train()
        try:
            with torch_seeded(seed, x.device):
                Trainer(config).fit(module, x, condition_train=target, checkpoint=checkpoint, on_epoch_end=refresh)
        except _Converged:
            pass
        module.eval()
        est._ready_for_inference()
        if not est._samples_from_prior:  # sample() draws from a density on the codes, which have moved
            est._keep_codes_for_density(x, None, check_random_state(seed))
        self.history_ = history
        self.cluster_centers_ = module.centers.detach().cpu().numpy().astype(np.float64)

    @staticmethod
    @torch.no_grad()
    def _assign_all(module: ClusteringModule, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        was_training = module.training
        module.eval()
        q = torch.cat([module.assign(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])
        module.train(was_training)
        return q

    def _umap(self, seed: int) -> Any:
        try:
            import umap
        except ImportError as exc:  # pragma: no cover - a dependency, but say how to get it
            raise ImportError("method='n2d' needs umap-learn: pip install umap-learn (or aekit[all]).") from exc
        return umap.UMAP(
            n_components=self.n_clusters,
            n_neighbors=self.umap_n_neighbors,
            min_dist=self.umap_min_dist,
            metric=self.umap_metric,
            random_state=seed,
            n_jobs=1,  # a seeded UMAP runs on one thread anyway; saying so silences its warning
        )

    def _fit_n2d(self, codes: np.ndarray, seed: int) -> None:
        """N2D: UMAP of the codes to n_clusters dimensions, then a full-covariance Gaussian mixture."""
        # UMAP's neighbour graph needs more points than neighbours; tiny inputs use what they have.
        self.umap_ = self._umap(seed).set_params(n_neighbors=min(self.umap_n_neighbors, len(codes) - 1))
        embedding = self.umap_.fit_transform(codes)
        self.mixture_ = GaussianMixture(self.n_clusters, covariance_type="full", random_state=seed).fit(embedding)
        self.labels_ = self.mixture_.predict(embedding)
        # What a saved model needs to rebuild the same UMAP (it has no pickle-free form of its own).
        self._umap_seed, self._train_codes = seed, codes.astype(np.float32)
        self.cluster_centers_ = np.stack(
            [codes[self.labels_ == j].mean(0) if (self.labels_ == j).any() else np.full(codes.shape[1], np.nan)
             for j in range(self.n_clusters)]
        )  # fmt: skip

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Soft assignments (n, n_clusters), rows summing to 1: DEC's Student-t ``q`` on the centres
        (k-means, DEC, IDEC) or the Gaussian mixture's responsibilities in the UMAP space (N2D)."""
        check_is_fitted(self, "cluster_centers_")
        codes = self.estimator_.transform(X).astype(np.float64)
        if self.method == "n2d":
            return self.mixture_.predict_proba(self.umap_.transform(codes))
        q = soft_assignment(torch.as_tensor(codes), torch.as_tensor(self.cluster_centers_), float(self.alpha))
        return q.numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most likely cluster of every row of ``X`` (for k-means/DEC/IDEC: the nearest centre)."""
        return self.predict_proba(X).argmax(1)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write a folder: the autoencoder's model file and the clusterer's arrays + JSON (safetensors; no pickle).

        :func:`aekit.load` (or :meth:`load`) reads the folder back.

        An N2D model keeps its training codes, from which :meth:`load` rebuilds the same UMAP
        (seeded), because umap-learn has no pickle-free file format.
        """
        check_is_fitted(self, "cluster_centers_")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.estimator_.save(folder / ESTIMATOR_FILE)
        arrays = {"cluster_centers_": self.cluster_centers_, "labels_": self.labels_}
        if self.method == "n2d":
            arrays.update({f"mixture.{name}": getattr(self.mixture_, name) for name in _MIXTURE_ARRAYS})
            arrays["train_codes"] = self._train_codes
        tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in arrays.items()}
        config = {"params": _json_params(self), "history": self.history_, "umap_seed": getattr(self, "_umap_seed", None)}
        metadata = {"format": CLUSTERING_FORMAT, "format_version": "1", "config": json.dumps(config)}
        atomic_write(folder / CLUSTERING_FILE, lambda tmp: save_file(tensors, tmp, metadata=metadata))

    @classmethod
    def load(cls, path: str | os.PathLike) -> DeepClustering:
        """Read a folder written by :meth:`save`; raises :class:`aekit.ModelFileError` for anything else."""
        folder = Path(path)
        file = folder / CLUSTERING_FILE
        if not file.is_file() or not (folder / ESTIMATOR_FILE).is_file():
            raise ModelFileError(
                f"{folder} is not a saved DeepClustering (it needs {ESTIMATOR_FILE} and {CLUSTERING_FILE}); "
                "pass the folder that DeepClustering.save() or `aekit cluster --save` wrote."
            )
        try:
            with safe_open(str(file), framework="pt") as f:
                metadata = f.metadata() or {}
                arrays = {k: f.get_tensor(k).numpy() for k in f.keys()}
            if metadata.get("format") != CLUSTERING_FORMAT:
                raise ValueError("not a DeepClustering file")
            config = json.loads(metadata["config"])
        except Exception as exc:
            raise ModelFileError(f"{file} is damaged or not a DeepClustering file ({exc}); save the model again.") from None
        estimator = load_estimator(folder / ESTIMATOR_FILE)
        unknown = set(config["params"]) - set(cls._get_param_names())
        if unknown:
            raise ModelFileError(f"{file} has parameters {sorted(unknown)} that DeepClustering does not take; save the model again.")
        model = cls(estimator, **config["params"])
        model._validate_params(len(arrays["labels_"]))
        model.estimator_ = estimator
        model.n_features_in_ = estimator.n_features_in_
        model.history_ = config["history"]
        model.cluster_centers_, model.labels_ = arrays["cluster_centers_"], arrays["labels_"]
        if model.method == "n2d":
            model._umap_seed, model._train_codes = config["umap_seed"], arrays["train_codes"]
            model.umap_ = model._umap(model._umap_seed).set_params(
                n_neighbors=min(model.umap_n_neighbors, len(model._train_codes) - 1)
            )
            model.umap_.fit(model._train_codes.astype(np.float64))
            model.mixture_ = GaussianMixture(model.n_clusters, covariance_type="full")
            for name in _MIXTURE_ARRAYS:
                setattr(model.mixture_, name, arrays[f"mixture.{name}"])
        return model


def _json_params(model: DeepClustering) -> dict[str, Any]:
    """The clusterer's own parameters (not the estimator, which has its own file) as JSON values."""
    params = model.get_params(deep=False)
    params.pop("estimator")
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no faithful JSON form
    return params

