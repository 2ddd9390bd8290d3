"""The restricted Boltzmann machine estimator: CD-k / PCD training, Gibbs sampling, AIS log-likelihood."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aekit.estimators import params as parameters
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Widths, changed
from aekit.estimators.stacked import concatenate_phases
from aekit.models.rbm import (
    ContrastiveDivergence,
    DeepBeliefNet,
    RBMModule,
    base_rate_visible_bias,
    bernoulli,
    estimate_log_partition,
)
from aekit.train.checkpoint import Checkpoint
from aekit.train.sources import MappedArray
from aekit.train.trainer import TrainConfig, Trainer
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


class BaseBoltzmann(BaseAutoEncoder):
    """What the RBM and the DBN share: CD-k / PCD training by SGD through aekit's trainer,
    Bernoulli or Gaussian visible units, binary hidden units, and Gibbs sampling."""

    _params_root = True
    _params = {
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
        "device": SHARED_PARAMS["device"],
        "random_state": SHARED_PARAMS["random_state"],
        "verbose": SHARED_PARAMS["verbose"],
        "precision": SHARED_PARAMS["precision"],
    }
    _samples_from_prior = True  # sample() runs Gibbs chains: no code density is kept
    _wide_codes_regularized = True  # hidden layers wider than the input are the rule, not a mistake

    def _unit_interval_setting(self) -> tuple[str, str] | None:
        return ("visible='bernoulli'", "visible='gaussian'") if self.visible == "bernoulli" else None

    def _resolve_architecture(self) -> None:
        self.architecture_ = "mlp"
        self.model_shape_ = (self.n_features_in_,)

    def _layer(self, n_visible: int, n_hidden: int, visible: str) -> ContrastiveDivergence:
        return ContrastiveDivergence(
            RBMModule(n_visible, n_hidden, visible),
            steps=int(self.cd_steps),
            persistent=self.solver == "pcd",
            n_chains=int(self.batch_size),
        )

    def _train_config(self) -> TrainConfig:
        # The CD objective is no likelihood: there is nothing for early stopping to watch.
        return parameters.train_config(
            self, self._param_table, description=type(self).__name__, solver="sgd", early_stopping=False
        )

    def _top_layer(self) -> ContrastiveDivergence:
        raise NotImplementedError

    def sample(self, n_samples: int = 1, steps: int = 1000, random_state: Any = None) -> np.ndarray:
        """``n_samples`` draws after ``steps`` Gibbs steps (in the top RBM of a DBN), then the
        downward pass of means: ``E[v | h]`` of the last hidden states, through every layer.

        For ``solver="pcd"`` the chains start from the persistent chains of training
        (cycled when ``n_samples`` is larger), so few steps already give digits;
        for ``"cd"`` from the base-rate model of the top layer's input (independent
        units with the training means, ``data_mean_``), which needs many steps to mix.
        """
        check_is_fitted(self)
        check_positive_int("n_samples", n_samples)
        check_positive_int("steps", steps)
        layer = self._top_layer()
        rbm = layer.rbm
        generator = _generator(random_state, self.device_)
        with torch.inference_mode():
            if self.solver == "pcd":
                hidden = layer.chains[torch.arange(n_samples, device=layer.chains.device) % layer.chains.shape[0]]
            else:
                mean = torch.as_tensor(self.data_mean_, dtype=torch.float32, device=self.device_)
                if rbm.visible == "bernoulli":
                    v = bernoulli(mean.clamp(0, 1).expand(n_samples, -1), generator)
                else:
                    v = mean + torch.randn(n_samples, mean.numel(), generator=generator, device=self.device_)
                hidden = rbm.sample_hidden(v, generator)
            for _ in range(steps - 1):
                hidden = rbm.sample_hidden(rbm.sample_visible(hidden, generator), generator)
            v = self.module_.decode(hidden).cpu().numpy()
        return self._to_input_layout(v, np.dtype(np.float32))


class RBM(BaseBoltzmann):
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
    >>> from aekit import RBM, datasets
    >>> X, _ = datasets.load_digits(images=False)
    >>> rbm = RBM(n_components=32, epochs=3, random_state=0).fit((X > 0.5).astype(float))
    >>> rbm.components_.shape, rbm.transform(X[:2]).shape
    ((32, 64), (2, 32))
    """

    _params = {
        "n_components": Param(256, Integer(), "Number of binary hidden units."),
        "ais_chains": Param(100, Integer(minimum=2), "AIS runs for log_partition_ (its error falls as 1/sqrt)."),
        "ais_betas": Param(
            10000, Integer(minimum=2), "Inverse temperatures of AIS from 0 to 1 (Salakhutdinov & Murray use 14,500)."
        ),
    }

    def _prepare_fit(self, X: np.ndarray | MappedArray, y: Any) -> None:
        self.data_mean_ = _feature_means(X)
        for name in ("log_partition_", "log_partition_stderr_", "ais_log_partition_path_"):
            self.__dict__.pop(name, None)  # a refit's partition function is estimated anew

    def _build_module(self) -> ContrastiveDivergence:
        return self._layer(self.n_features_in_, int(self.n_components), self.visible)

    def _top_layer(self) -> ContrastiveDivergence:
        return self.module_

    def _fit(self, X: Any, y: Any, checkpoint_dir: str | None, resume: bool, callbacks: list[Any]) -> RBM:
        super()._fit(X, y, checkpoint_dir, resume, callbacks)
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


class _LayerWidths(Widths):
    """A tuple of layer widths, or one int for a single layer (what scikit-learn's checks pass)."""

    type_text = "tuple of int, or int"

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            check_positive_int(name, value)
        else:
            super().check(name, value)

    def coerce(self, value: Any) -> tuple[int, ...]:
        return (int(value),) if isinstance(value, numbers.Integral) else super().coerce(value)


class DBN(BaseBoltzmann):
    """Deep belief net: a greedy layer-wise stack of RBMs (Hinton, Osindero & Teh, 2006).

    Layer ``i`` is an RBM with ``n_components[i]`` binary hidden units trained, with
    the layers below frozen, on their hidden probabilities (the first on ``X``, with
    ``visible`` units; the others Bernoulli), each for ``epochs`` epochs through
    aekit's trainer.  ``transform`` is the upward pass of hidden probabilities
    through the stack, ``inverse_transform`` the downward pass of visible means;
    ``sample`` runs Gibbs chains in the top RBM (an undirected associative memory)
    and then the downward pass.  ``score_samples`` is minus the squared error of the
    up-down reconstruction (a DBN has no tractable likelihood).

    Attributes
    ----------
    data_mean_ : ndarray of shape (n_components[-2] or n_features_in_,)
        Mean of the top RBM's training input: where the chains of :meth:`sample`
        start for ``solver="cd"``.
    history_ : dict of lists
        Every layer's epochs in order; ``history_["phase"]`` names each ("layer1", ...).

    Examples
    --------
    >>> from aekit import DBN, datasets
    >>> X, _ = datasets.load_digits(images=False)
    >>> dbn = DBN(n_components=(32, 16), epochs=2, random_state=0).fit((X > 0.5).astype(float))
    >>> dbn.transform(X[:2]).shape, sorted(set(dbn.history_["phase"]))
    ((2, 16), ['layer1', 'layer2'])
    """

    _params = {
        "n_components": Param(
            (256, 256), _LayerWidths(allow_none=False), "Hidden units of each RBM, bottom first (at least one layer)."
        ),
        "epochs": changed(SHARED_PARAMS["epochs"], default=20, doc="Training epochs of each layer."),
    }

    def _prepare_fit(self, X: np.ndarray | MappedArray, y: Any) -> None:
        self.data_mean_ = _feature_means(X)  # replaced by the top layer's input mean while training

    def _validate_own_params(self) -> None:
        if len(self._widths()) == 0:
            raise ValueError("n_components must name at least one layer, e.g. (256, 256).")

    def _widths(self) -> tuple[int, ...]:
        return self._param_table["n_components"].constraint.coerce(self.n_components)

    @property
    def latent_dim(self) -> int:
        """The code is the top hidden layer."""
        return self._widths()[-1]

    def _build_module(self) -> DeepBeliefNet:
        widths = [self.n_features_in_, *self._widths()]
        visible = [self.visible] + ["bernoulli"] * (len(widths) - 2)
        return DeepBeliefNet([self._layer(a, b, kind) for a, b, kind in zip(widths, widths[1:], visible)])

    def _top_layer(self) -> ContrastiveDivergence:
        return self.module_.layers[-1]

    def _train(self, x_train, x_val, condition_train, condition_val) -> dict[str, list]:
        """Train each layer on the hidden probabilities of the (frozen) layers below.

        With a checkpoint each layer has its own file next to it, so a resumed fit
        restores the finished layers and continues the interrupted one.
        """
        checkpoint = getattr(self, "_checkpoint", None)
        phases = []
        for index, layer in enumerate(self.module_.layers):
            config = self._train_config()
            config.description = f"{type(self).__name__} layer {index + 1}"
            layer_checkpoint = None
            if checkpoint is not None:
                layer_checkpoint = Checkpoint(
                    checkpoint.path.with_name(f"layer{index + 1}_{checkpoint.path.name}"),
                    {**checkpoint.fingerprint, "layer": index + 1},
                    resume=checkpoint.resume,
                )
            history = Trainer(config).fit(layer, x_train, x_val, checkpoint=layer_checkpoint)
            phases.append((f"layer{index + 1}", history))
            if index < len(self.module_.layers) - 1:
                x_train = _upward(layer.rbm, x_train)
                x_val = None if x_val is None else _upward(layer.rbm, x_val)
                self.data_mean_ = x_train.double().mean(0).cpu().numpy()
        return concatenate_phases(phases)


@torch.no_grad()
def _upward(rbm: RBMModule, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Hidden probabilities of ``x``, batch by batch (``x`` may be a memory-mapped source)."""
    return torch.cat([rbm.hidden_probabilities(x[start : start + batch_size]) for start in range(0, x.shape[0], batch_size)])
