"""The restricted Boltzmann machine estimator: CD-k / PCD training, Gibbs sampling, AIS log-likelihood."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aekit.estimators import params as parameters
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Real, changed
from aekit.models.rbm import ContrastiveDivergence, RBMModule, base_rate_visible_bias, estimate_log_partition
from aekit.train.sources import MappedArray
from aekit.train.trainer import TrainConfig
from aekit.utils.checks import check_positive_int
from aekit.utils.runtime import draw_seed


def _feature_means(X: np.ndarray | MappedArray) -> np.ndarray:
    """Per-feature mean of the training rows (chunk by chunk for a memory-mapped input)."""
    if isinstance(X, MappedArray):
        total = sum(block.reshape(block.shape[0], -1).sum(0, dtype=np.float64) for _, block in X.chunks())
        return np.asarray(total / len(X))
    return X.reshape(X.shape[0], -1).mean(0, dtype=np.float64)


def _generator(random_state: Any, device: torch.device) -> torch.Generator:
    return torch.Generator(device).manual_seed(draw_seed(random_state))


class RBM(BaseAutoEncoder):
    """Restricted Boltzmann machine with binary hidden units, trained by contrastive divergence.

    Visible units are Bernoulli (data in [0, 1], as scikit-learn's ``BernoulliRBM``)
    or Gaussian with unit variance (standardized real data).  Training is CD-k
    (Hinton, 2002) or persistent CD (Tieleman, 2008) by SGD with momentum through
    aekit's trainer (progress bar, ``history_``, checkpoints and resume); the
    fitted weights have ``BernoulliRBM``'s names, so users can move between them.

    ``score_samples`` is the log-likelihood ``log p(x) = -F(x) - log Z`` in nats, with
    ``log Z`` estimated by annealed importance sampling from the base-rate model
    (Salakhutdinov & Murray, 2008) on first use (or by :meth:`estimate_log_partition`,
    or :meth:`save`); :meth:`pseudo_likelihood` is ``BernoulliRBM.score_samples``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features_in_)
        The weights ``W`` (read-only copies of the module's).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features_in_,)
    data_mean_ : ndarray of shape (n_features_in_,)
        Mean of each training feature: the base-rate model AIS starts from, and the
        start of the chains of :meth:`sample` for ``solver="cd"``.
    log_partition_ : float
        The AIS estimate of ``log Z`` (once computed).
    log_partition_stderr_ : float
        Its standard error (delta method over the AIS weights).
    ais_log_partition_path_ : ndarray of shape (ais_betas,)
        The running AIS estimate of ``log Z_beta`` along the annealing schedule.
    history_ : dict of lists
        Per epoch: ``train_loss`` (the CD objective, ``mean F(data) - mean F(model)``;
        not a likelihood) and ``train_free_energy`` (mean free energy of the data);
        with a validation split also ``val_reconstruction_error``.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import RBM, datasets
    >>> X, _ = datasets.load_digits(images=False)
    >>> rbm = RBM(n_components=32, epochs=3, random_state=0).fit((X > 0.5).astype(float))
    >>> rbm.components_.shape, rbm.transform(X[:2]).shape
    ((32, 64), (2, 32))
    """

    _params_root = True
    _params = {
        "n_components": Param(256, Integer(), "Number of binary hidden units."),
        "visible": Param(
            "bernoulli",
            Choice("bernoulli", "gaussian"),
            '"bernoulli" for data in [0, 1] (binary or probabilities); "gaussian" for standardized real '
            "data (unit-variance visible units: standardize the features, e.g. with StandardScaler).",
        ),
        "solver": Param(
            "pcd",
            Choice("cd", "pcd"),
            '"cd": contrastive divergence, chains start at the data batch; "pcd": persistent chains '
            "(one per batch row) continue across updates, which gives far better likelihoods.",
        ),
        "cd_steps": Param(1, Integer(), "Gibbs steps of the negative phase per update (the k of CD-k)."),
        "learning_rate": changed(SHARED_PARAMS["learning_rate"], default=0.01),
        "learning_rate_schedule": SHARED_PARAMS["learning_rate_schedule"],
        "momentum": changed(SHARED_PARAMS["momentum"], default=0.9, doc="Momentum of the SGD updates."),
        "weight_decay": changed(
            SHARED_PARAMS["weight_decay"], doc="L2 penalty of the SGD updates (on weights and biases)."
        ),
        "epochs": changed(SHARED_PARAMS["epochs"], default=20),
        "batch_size": changed(SHARED_PARAMS["batch_size"], default=100),
        "validation_fraction": changed(
            SHARED_PARAMS["validation_fraction"],
            default=0.0,
            doc="Held out from X for validation free energies and reconstruction errors (0 disables). "
            "A widening gap between the training and validation free energy shows overfitting.",
        ),
        "ais_chains": Param(100, Integer(minimum=2), "AIS runs for log_partition_ (its error falls as 1/sqrt)."),
        "ais_betas": Param(
            10000, Integer(minimum=2), "Inverse temperatures of AIS from 0 to 1 (Salakhutdinov & Murray use 14,500)."
        ),
        "device": SHARED_PARAMS["device"],
        "random_state": SHARED_PARAMS["random_state"],
        "verbose": SHARED_PARAMS["verbose"],
        "precision": SHARED_PARAMS["precision"],
    }
    _samples_from_prior = True  # sample() runs Gibbs chains: no code density is kept
    _wide_codes_regularized = True  # hidden layers wider than the input are the rule, not a mistake
    _module_cls = ContrastiveDivergence

    # ------------------------------------------------------------------ family API
    def _unit_interval_setting(self) -> tuple[str, str] | None:
        return ("visible='bernoulli'", "visible='gaussian'") if self.visible == "bernoulli" else None

    def _resolve_architecture(self) -> None:
        self.architecture_ = "mlp"
        self.model_shape_ = (self.n_features_in_,)

    def _prepare_fit(self, X: np.ndarray | MappedArray, y: Any) -> None:
        self.data_mean_ = _feature_means(X)
        for name in ("log_partition_", "log_partition_stderr_", "ais_log_partition_path_"):
            self.__dict__.pop(name, None)  # a refit's partition function is estimated anew
        return None

    def _build_module(self) -> ContrastiveDivergence:
        rbm = RBMModule(self.n_features_in_, int(self.n_components), self.visible)
        return ContrastiveDivergence(
            rbm, steps=int(self.cd_steps), persistent=self.solver == "pcd", n_chains=int(self.batch_size)
        )

    def _train_config(self) -> TrainConfig:
        # The CD objective is no likelihood: there is nothing for early stopping to watch.
        return parameters.train_config(
            self, self._param_table, description=type(self).__name__, solver="sgd", early_stopping=False
        )

    def _fit(self, X: Any, y: Any, checkpoint_dir: str | None, resume: bool) -> RBM:
        super()._fit(X, y, checkpoint_dir, resume)
        self._ais_seed = draw_seed(check_random_state(self.random_state))
        return self

    @property
    def latent_dim(self) -> int:
        """The code is the hidden layer: the shared code of the base class sizes it from ``n_components``."""
        return int(self.n_components)

    # ------------------------------------------------------------------ weights
    def _rbm(self) -> RBMModule:
        check_is_fitted(self)
        return self.module_.rbm

    @property
    def components_(self) -> np.ndarray:
        return self._rbm().weight.detach().cpu().numpy().copy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        return self._rbm().hidden_bias.detach().cpu().numpy().copy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        return self._rbm().visible_bias.detach().cpu().numpy().copy()

    # ------------------------------------------------------------------ transforms and sampling
    def gibbs(self, X: Any, steps: int = 1, random_state: Any = None) -> np.ndarray:
        """Visible states after ``steps`` rounds of block Gibbs sampling from ``X`` (binary for Bernoulli units)."""
        check_positive_int("steps", steps)
        X = self._validate_X(X, reset=False)
        generator = _generator(random_state, self.device_)
        v = self._map_batches(lambda xb: self._rbm().gibbs(xb, steps, generator), self._to_tensor(X))
        return self._to_input_layout(v, self._output_dtype(X))

    def sample(self, n_samples: int = 1, steps: int = 1000, random_state: Any = None) -> np.ndarray:
        """``n_samples`` draws after ``steps`` Gibbs steps, as ``E[v | h]`` of the last hidden states.

        For ``solver="pcd"`` the chains start from the persistent chains of training
        (cycled when ``n_samples`` is larger), so few steps already give digits;
        for ``"cd"`` from the base-rate model (independent units with the training
        means), which needs many steps to mix.
        """
        check_positive_int("n_samples", n_samples)
        check_positive_int("steps", steps)
        rbm = self._rbm()
        generator = _generator(random_state, self.device_)
        with torch.inference_mode():
            if self.solver == "pcd":
                chains = self.module_.chains
                hidden = chains[torch.arange(n_samples, device=chains.device) % chains.shape[0]]
            else:
                mean = torch.as_tensor(self.data_mean_, dtype=torch.float32, device=self.device_)
                start = mean.clamp(0, 1).expand(n_samples, -1)
                if self.visible == "bernoulli":
                    v = torch.bernoulli(start, generator=generator)
                else:
                    v = mean + torch.randn(n_samples, mean.numel(), generator=generator, device=self.device_)
                hidden = rbm.sample_hidden(v, generator)
            for _ in range(steps - 1):
                hidden = rbm.sample_hidden(rbm.sample_visible(hidden, generator), generator)
            v = rbm.visible_mean(hidden).cpu().numpy()
        return self._to_input_layout(v, np.dtype(np.float32))

    # ------------------------------------------------------------------ likelihoods
    def free_energy(self, X: Any) -> np.ndarray:
        """``F(x) = -log sum_h exp(-E(x, h))`` per sample, shape (n,): lower is more probable."""
        X = self._validate_X(X, reset=False)
        return self._map_batches(self._rbm().free_energy, self._to_tensor(X)).astype(np.float64)

    def pseudo_likelihood(self, X: Any, random_state: Any = None) -> np.ndarray:
        """scikit-learn's ``BernoulliRBM.score_samples``: a one-bit stochastic pseudo-likelihood, shape (n,).

        For each sample one random unit is flipped; the result is ``n_features`` times
        the log probability of that unit's value given the others.  Bernoulli units only.
        """
        if self.visible != "bernoulli":
            raise ValueError("pseudo_likelihood flips bits: it needs visible='bernoulli'; use score_samples.")
        X = self._validate_X(X, reset=False)
        generator = _generator(random_state, self.device_)
        values = self._map_batches(lambda xb: self._rbm().pseudo_log_likelihood(xb, generator), self._to_tensor(X))
        return values.astype(np.float64)

    def estimate_log_partition(
        self, n_chains: int | None = None, n_betas: int | None = None, betas: Any = None, random_state: Any = None
    ) -> RBM:
        """Estimate ``log Z`` by annealed importance sampling; sets ``log_partition_`` and its error.

        Parameters
        ----------
        n_chains, n_betas : int, optional
            Default to the ``ais_chains`` and ``ais_betas`` parameters.
        betas : array-like, optional
            An increasing schedule from 0 to 1 instead of ``n_betas`` evenly spaced values
            (e.g. the paper's 14,500: steps of 1e-3 to 0.5, 1e-4 to 0.9, 1e-5 to 1).
        random_state : int, RandomState or None
            None draws from the seed kept by ``fit``, so the estimate is the same every time.

        Returns
        -------
        self
        """
        rbm = self._rbm()
        n_chains = int(self.ais_chains if n_chains is None else n_chains)
        n_betas = int(self.ais_betas if n_betas is None else n_betas)
        check_positive_int("n_chains", n_chains, 2)
        check_positive_int("n_betas", n_betas, 2)
        mean = torch.as_tensor(self.data_mean_, dtype=torch.float64)
        base = base_rate_visible_bias(mean[None]) if self.visible == "bernoulli" else mean
        seed = getattr(self, "_ais_seed", 0) if random_state is None else random_state
        result = estimate_log_partition(
            rbm,
            n_chains=n_chains,
            n_betas=n_betas,
            betas=None if betas is None else torch.as_tensor(np.asarray(betas, dtype=np.float64)),
            generator=_generator(seed, self.device_),
            base_visible_bias=base.to(self.device_),
        )
        self.log_partition_ = float(result.log_partition)
        self.log_partition_stderr_ = float(result.standard_error)
        self.ais_log_partition_path_ = result.log_partition_path.numpy()
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """``log p(x)`` in nats per sample, shape (n,) (a log density for Gaussian units).

        ``log Z`` comes from AIS (:meth:`estimate_log_partition`, run on first use with
        ``ais_chains`` and ``ais_betas``); its standard error ``log_partition_stderr_``
        shifts every sample alike.
        """
        X = self._validate_X(X, reset=False)
        if not hasattr(self, "log_partition_"):
            self.estimate_log_partition()
        return -self._map_batches(self._rbm().free_energy, self._to_tensor(X)).astype(np.float64) - self.log_partition_

    def save(self, path: str) -> None:
        """Write the model (with ``log_partition_``, estimated first if needed) to ``path``."""
        if not hasattr(self, "log_partition_"):
            self.estimate_log_partition()
        super().save(path)
