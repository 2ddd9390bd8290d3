"""The scikit-learn face shared by every autoencoder estimator.

An estimator owns a configuration (its constructor parameters, declared once in a
table: :mod:`aekit.estimators.params`) and, once fitted, a torch module
(``module_``).  It knows numpy, validation, fitting and saving; the module knows
tensors and losses.  A family says which module it builds (``_module_cls``), from
which parts (``_module_parts``), with which loss terms (``_loss_terms``); a relative
adds a term to its parent's list::

    class SomeVAE(aekit.VAE):
        _params = {"new_weight": Param(1.0, Real(), "Weight of the new term.")}

        def _loss_terms(self):
            return [*super()._loss_terms(), NewTerm(weight=self.new_weight)]
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit.estimators import params as parameters, registry
from aekit.estimators import export
from aekit.estimators.callbacks import call as call_callbacks, check_callbacks
from aekit.estimators.code_density import (
    MAX_CODES_FOR_DENSITY,
    fit_code_density,
    fit_code_flow,
    sample_code_density,
    sample_code_flow,
)
from aekit.estimators.params import SHARED_PARAMS, Param
from aekit.estimators.persistence import save_estimator
from aekit.models.base import BaseModule
from aekit.models.terms import LossTerm, Reconstruction
from aekit.nn.blocks import DEFAULT_HIDDEN, build_encoder_decoder
from aekit.nn.likelihoods import Likelihood, make_likelihood
from aekit.train import distributed
from aekit.train.checkpoint import Checkpoint, checkpoint_path
from aekit.train.sources import MappedArray, MappedSource, RowSubset, should_stream
from aekit.train.trainer import TrainConfig, Trainer, TrainingDivergedError
from aekit.utils.checks import check_positive_int
from aekit.utils.files import folder_lock
from aekit.utils.runtime import denormals_flushed, draw_seed, resolve_device, torch_seeded

FLOAT_DTYPES = (np.float32, np.float64)

INPUT_CHECKS_DOC = """Input checks
------------
``fit`` and every method taking ``X`` raise ValueError saying what to do for NaN/inf,
non-numeric (dates included), empty or single-sample input, wrong dimensions, values
beyond float32's range (about 3.4e38, in which aekit computes) and a feature count or
image shape other than ``fit``'s; integers and float64 are accepted and converted.
``loss="bce"`` and ``likelihood="bernoulli"`` need inputs in [0, 1]: ``fit`` and
every method that encodes, reconstructs or scores refuse other values (ValueError),
because such a model would score them as more likely than real data;
:class:`aekit.AnomalyDetector` instead flags those rows as outliers.  Other losses
warn with :class:`DataScaleWarning` on unscaled training data (``|X| > 1e3`` or a
feature standard deviation > 100).  A loss that becomes NaN during training, or
weights that the last update of an epoch made non-finite, raise
:class:`aekit.train.TrainingDivergedError` (a ValueError) naming the epoch; the
estimator then holds the best finite weights so far.  A row whose error overflows
float32 scores ``-inf`` (error ``+inf``), never NaN.
"""

#: The largest float32: larger float64 inputs would become infinite in the model.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Rounding slack of the [0, 1] check (e.g. 255 / 255 computed in float32).
UNIT_INTERVAL_TOLERANCE = 1e-6

#: Unscaled data: values or feature standard deviations above these train badly with squared errors.
MAX_ABS_VALUE, MAX_FEATURE_STD = 1e3, 1e2


class DataScaleWarning(UserWarning):
    """Inputs on a scale that squared-error and Gaussian losses train badly on."""


class WideCodeWarning(UserWarning):
    """A code at least as wide as the input, which an unregularized autoencoder can fill with a copy."""


def default_latent_dim(n_features: int) -> int:
    """The ``latent_dim="auto"`` size: half the input features, at least 1, at most 16."""
    return min(16, max(1, n_features // 2))


_TUPLE_ATTRIBUTES = ("input_shape_", "model_shape_", "hidden_")
_CODE_DENSITY_ATTRIBUTES = ("code_density_weights_", "code_density_means_", "code_density_covariances_")
_CODE_FLOW_ATTRIBUTES = ("code_flow_layout_", "code_flow_parameters_")
#: ``sample(sampler=...)``: the density fitted on a deterministic autoencoder's codes.
CODE_SAMPLERS = ("gmm", "flow")


_ADVICE = {
    "nan": "Remove or impute the missing or infinite values first (e.g. sklearn.impute.SimpleImputer).",
    "numeric": "aekit needs numeric arrays: encode text or categorical columns as numbers first "
    "(e.g. sklearn.preprocessing.OneHotEncoder).",
    "complex": "Pass real numbers (e.g. the magnitude np.abs(X)).",
    "empty": "Pass a non-empty array with one sample per row.",
    "one_sample": "Training needs at least 2 samples.",
    "features": "Pass data with the same columns (or image shape) as the data given to fit.",
    "ndim": "Pass (n, d) tables or (n, h, w) / (n, c, h, w) images, shaped like the data given to fit.",
    "one_dim": "Reshape your data: X.reshape(-1, 1) if it holds one feature, X.reshape(1, -1) if it is one sample.",
    "scalar": "Pass an array with one sample per row.",
}
_ADVICE_TRIGGERS = (
    ("NaN", "nan"),
    ("infinity", "nan"),
    ("Complex", "complex"),
    ("convert", "numeric"),
    ("dtype", "numeric"),
    ("0 sample", "empty"),
    ("0 feature", "empty"),
    ("minimum of 2 is required", "one_sample"),
    ("features, but", "features"),
    ("Found array with dim", "ndim"),
    ("got 1D array", "one_dim"),
    ("got scalar array", "scalar"),
)


def never_nan(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` with NaN (an overflow in float32, e.g. inf - inf) replaced by ``fill``: the worst
    score or error, so that no ranking or threshold ever takes such a row for a typical one."""
    return np.where(np.isnan(values), fill, values) if np.isnan(values).any() else values


def require_finite(values: np.ndarray, what: str, inputs: np.ndarray) -> np.ndarray:
    """``values``, or a ValueError when the model's float32 arithmetic overflowed on ``inputs``."""
    if not np.isfinite(values).all():
        largest = float(np.abs(inputs).max())
        raise ValueError(
            f"The {what} are not finite: inputs as large as {largest:.4g} overflow this model's float32 "
            "arithmetic. Scale the inputs as the training data was (codes: as transform() gives them)."
        )
    return values


def _refuse_dates(X: Any) -> None:
    """Dates and durations convert to numbers silently (nanoseconds since 1970); refuse them."""
    dtypes = list(X.dtypes) if hasattr(X, "dtypes") and not hasattr(X, "dtype") else [getattr(X, "dtype", None)]
    if any(getattr(dtype, "kind", None) in ("M", "m") for dtype in dtypes):
        raise ValueError(
            "X holds dates or durations (datetime64/timedelta64), which are not features as they are. "
            "Convert them to numbers that mean something first (e.g. day of year, seconds since an event)."
        )


class _FeatureMoments:
    """Per-feature sums of values and squares in float64, added a block of rows at a time."""

    def __init__(self) -> None:
        self.n, self.total, self.total_sq = 0, 0.0, 0.0

    def add(self, rows: np.ndarray) -> None:
        self.n += len(rows)
        self.total = self.total + rows.sum(axis=0, dtype=np.float64)
        self.total_sq = self.total_sq + np.square(rows, dtype=np.float64).sum(axis=0)

    def max_std(self) -> float:
        """The largest feature's standard deviation."""
        mean = self.total / self.n
        return float(np.sqrt(np.maximum(self.total_sq / self.n - mean**2, 0.0)).max())


def _with_advice(message: str) -> str:
    """The first line of scikit-learn's input error (the rest dumps the array), then what to do."""
    for trigger, key in _ADVICE_TRIGGERS:
        if trigger in message:
            return f"{message.splitlines()[0].rstrip(':')}. {_ADVICE[key]}".replace("..", ".")
    return message


class BaseAutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Common fitting, validation, transforms, scoring and saving.

    Fitted attributes: ``module_`` (the torch module), ``input_shape_`` (shape of
    one training sample), ``n_features_in_``, ``model_shape_``, ``architecture_``,
    ``hidden_``, ``latent_dim_`` (the code size used), ``history_`` (per-epoch losses) and ``n_epochs_``.
    """

    _params: ClassVar[dict[str, Param]] = SHARED_PARAMS
    _param_table: ClassVar[dict[str, Param]] = SHARED_PARAMS
    #: The torch module a family builds (from :meth:`_module_parts` and :meth:`_loss_terms`).
    _module_cls: ClassVar[type[BaseModule]]
    #: ``aekit train`` name of the model (None: not offered by the CLI); each class declares its own.
    cli_name: ClassVar[str | None] = None
    #: Position in ``aekit tour`` (None: not in the tour; not inherited); see :meth:`tour_params`.
    tour_rank: ClassVar[int | None] = None
    transform_batch_size: ClassVar[int] = 4096
    # Models with a prior (VAE, WAE) sample from it; the others from a density fitted on their codes.
    _samples_from_prior: ClassVar[bool] = False
    # A penalty (sparsity, noise, contraction, KL) keeps a code as wide as the input from copying it.
    _wide_codes_regularized: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._param_table = parameters.collect_params(cls)
        parameters.make_init(cls, cls._param_table)
        parameters.document_params(cls, cls._param_table, INPUT_CHECKS_DOC)
        registry.register(cls)

    # ------------------------------------------------------------------ family API
    def _module_parts(self) -> dict[str, Any]:
        """The module's networks and likelihood, built for the fitted shapes (keyword arguments of ``_module_cls``)."""
        raise NotImplementedError

    def _loss_terms(self) -> list[LossTerm]:
        """The terms whose weighted sum the module minimizes; relatives extend their parent's list."""
        return [Reconstruction()]

    def _corruption(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """A corruption of the encoder's input during training (denoising), or None."""
        return None

    def _build_module(self) -> BaseModule:
        """Build the torch module from the parameters and the fitted shape attributes."""
        return self._module_cls(**self._module_parts(), terms=self._loss_terms(), corruption=self._corruption())

    def _validate_own_params(self) -> None:
        """Check what the parameter table cannot: rules between parameters (raise ValueError with advice)."""

    @classmethod
    def tour_params(cls, latent_dim: int, unit_range: bool) -> dict[str, Any]:
        """Parameters this family takes in ``aekit tour`` on data of that code size and range."""
        return {"latent_dim": latent_dim}

    def _networks(self, model_shape: tuple[int, ...], latent_dim: int) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Encoder body and decoder for ``model_shape`` and ``latent_dim``, built with this
        estimator's fitted architecture and widths, its activation and its dropout."""
        return build_encoder_decoder(
            self.architecture_, model_shape, self.hidden_, latent_dim, self.activation, self.dropout
        )

    def _likelihood(self, name: str) -> Likelihood:
        return make_likelihood(name, self.model_shape_)

    # ------------------------------------------------------------------ validation
    def _validate_params(self) -> None:
        parameters.validate(self, self._param_table)
        self._validate_own_params()

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray | MappedArray:
        """Validated float array; on ``reset`` also record the input shape and check the scale.

        On ``reset``, a memory-mapped array too large to convert in memory (or a
        :class:`~aekit.train.MappedArray`) is checked chunk by chunk and returned as
        a ``MappedArray`` for batch-by-batch training.  Every call checks the range
        (float32, and [0, 1] for the settings that model it), training or not.
        """
        if reset and should_stream(X):
            return self._validate_streamed(X if isinstance(X, MappedArray) else MappedArray(X))
        _refuse_dates(X)
        try:
            X = self._checked_array(X, reset=reset)
        except ValueError as exc:
            raise ValueError(_with_advice(str(exc))) from None
        flat = X.reshape(X.shape[0], -1)
        low, high = float(flat.min()), float(flat.max())
        if reset:
            self._resolve_data_settings(low, high)  # e.g. likelihood="auto", before the range it implies is checked
        self._check_range(low, high)
        if reset:
            rows = flat[:: max(1, len(flat) // 10_000)]  # spread enough for a warning, without a copy of X
            moments = _FeatureMoments()
            for start in range(0, len(rows), 1024):  # float64 a block at a time: ~6 MB, not a copy of X
                moments.add(rows[start : start + 1024])
            self._check_scale(low, high, moments.max_std())
        return X

    def _checked_array(self, X: Any, *, reset: bool) -> np.ndarray:
        if reset:
            X = validate_data(
                self, X, reset=True, allow_nd=True, dtype=FLOAT_DTYPES, ensure_min_samples=2
            )
            if X.ndim > 4:
                raise ValueError(
                    f"X has shape {X.shape}; expected (n, d) tables or (n, h, w) / (n, c, h, w) images."
                )
            if 0 in X.shape[1:]:
                raise ValueError(
                    f"X has samples of shape {X.shape[1:]}; every sample needs at least one value. "
                    "Pass (n, d) tables or (n, h, w) / (n, c, h, w) images with no empty axis."
                )
            self.input_shape_ = tuple(int(s) for s in X.shape[1:])
            self.n_features_in_ = math.prod(self.input_shape_)
            return X
        check_is_fitted(self)
        if len(self.input_shape_) == 1:
            return validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        X = check_array(X, allow_nd=True, dtype=FLOAT_DTYPES, input_name="X")
        if X.shape[1:] != self.input_shape_:
            if X.ndim == 2 and X.shape[1] == self.n_features_in_:
                return X.reshape(X.shape[0], *self.input_shape_)
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} was fitted on "
                f"samples of shape {self.input_shape_}; pass data shaped like the training data."
            )
        return X

    def _validate_streamed(self, X: MappedArray) -> MappedArray:
        """Check a memory-mapped input chunk by chunk (never all of it in memory at once)."""
        if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating) or X.dtype == bool):
            raise ValueError(f"X has dtype {X.dtype}; aekit needs real numbers (integers or floats).")
        if not 2 <= X.ndim <= 4:
            raise ValueError(
                f"X has shape {X.shape}; expected (n, d) tables or (n, h, w) / (n, c, h, w) images."
            )
        if len(X) < 2:
            raise ValueError(f"X has {len(X)} sample(s); training needs at least 2.")
        low, high = math.inf, -math.inf
        moments = _FeatureMoments()
        for start, block in X.chunks():
            flat = block.reshape(block.shape[0], -1)
            finite = np.isfinite(flat)
            if not finite.all():
                row = start + int(np.flatnonzero(~finite.all(axis=1))[0])
                raise ValueError(
                    f"X contains NaN or infinity (first in row {row}). {_ADVICE['nan']}"
                )
            low, high = min(low, float(flat.min())), max(high, float(flat.max()))
            moments.add(flat)
        self._resolve_data_settings(low, high)
        self._check_range(low, high)
        self._check_scale(low, high, moments.max_std())
        self.input_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_features_in_ = math.prod(self.input_shape_)
        return X

    def _unit_interval_setting(self) -> tuple[str, str] | None:
        """(the setting that needs inputs in [0, 1], the alternative to suggest), or None."""
        if getattr(self, "loss", None) == "bce":
            return "loss='bce'", "loss='mse'"
        if getattr(self, "likelihood_", getattr(self, "likelihood", None)) == "bernoulli":
            return "likelihood='bernoulli'", "likelihood='gaussian'"
        return None

    def _check_range(self, low: float, high: float) -> None:
        """Refuse values the float32 model cannot hold, and values outside [0, 1] where a setting models that range.

        Run on every input, not only in ``fit``: a Bernoulli model scores values above 1
        as *more* likely than real data (a probability above 1), which would make an
        anomaly detector call corrupted input normal.
        """
        if max(abs(low), abs(high)) > FLOAT32_MAX:
            raise ValueError(
                f"X has values up to {max(abs(low), abs(high)):.4g}, beyond float32's range ({FLOAT32_MAX:.4g}), "
                "which aekit computes in; they would become infinite. Rescale X (e.g. sklearn's StandardScaler)."
            )
        setting = self._unit_interval_setting()
        if setting is not None and (low < -UNIT_INTERVAL_TOLERANCE or high > 1 + UNIT_INTERVAL_TOLERANCE):
            raise ValueError(
                f"{setting[0]} models inputs in [0, 1], but X ranges over [{low:.4g}, {high:.4g}]. "
                "Scale X to [0, 1] as the training data was (divide 8-bit pixels by 255, or use sklearn's "
                f"MinMaxScaler), or use {setting[1]}."
            )

    def _resolve_data_settings(self, low: float, high: float) -> None:
        """Decide the ``"auto"`` settings that depend on the training data's range (in ``fit``)."""

    def _check_scale(self, low: float, high: float, max_feature_std: float) -> None:
        if self._unit_interval_setting() is not None:
            return  # _check_range has held these to [0, 1]
        if max(abs(low), abs(high)) > MAX_ABS_VALUE or max_feature_std > MAX_FEATURE_STD:
            warnings.warn(
                f"X looks unscaled (values in [{low:.4g}, {high:.4g}], feature standard deviations up to "
                f"{max_feature_std:.4g}): squared-error and Gaussian losses then take huge, unstable steps "
                "and may diverge. Standardize the features (e.g. sklearn's StandardScaler) or scale "
                "pixels to [0, 1].",
                DataScaleWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------------ shapes
    def _resolve_architecture(self) -> None:
        image_like = len(self.input_shape_) >= 2
        architecture = self.architecture
        if architecture == "auto":
            architecture = "conv" if image_like else "mlp"
        if architecture == "conv":
            if not image_like:
                raise ValueError(
                    "architecture='conv' needs image input shaped (n, h, w) or (n, c, h, w); "
                    f"got samples of shape {self.input_shape_}. Use architecture='mlp'."
                )
            self.model_shape_ = (1, *self.input_shape_) if len(self.input_shape_) == 2 else self.input_shape_
        else:
            self.model_shape_ = (self.n_features_in_,)
        self.architecture_ = architecture
        self.hidden_ = tuple(int(h) for h in (self.hidden if self.hidden is not None else DEFAULT_HIDDEN[architecture]))

    def _resolve_code_size(self) -> None:
        """Set ``latent_dim_``, the code size used ("auto": sized to the input); warn when it cannot compress."""
        self.latent_dim_ = default_latent_dim(self.n_features_in_) if self.latent_dim == "auto" else int(self.latent_dim)
        if self.latent_dim_ >= self.n_features_in_ and not self._wide_codes_regularized:
            warnings.warn(
                f"latent_dim={self.latent_dim_} is not smaller than the {self.n_features_in_} input features: "
                f"{type(self).__name__} has no penalty that stops it from learning the identity, so the code "
                'need not learn any structure. Use a smaller latent_dim (or "auto"), or a regularized model '
                "(SparseAutoEncoder, DenoisingAutoEncoder, ContractiveAutoEncoder, VAE).",
                WideCodeWarning,
                stacklevel=4,
            )

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        """Float32 tensor in model layout on the fitted device (no copy when possible)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not X.flags.writeable:  # e.g. a read-only memory map: torch needs memory it may write
            X = X.copy()
        t = torch.as_tensor(X)
        return t.reshape(t.shape[0], *self.model_shape_).to(self.device_)

    def _map_batches(self, fn: Callable[..., torch.Tensor], x: torch.Tensor, *aligned: torch.Tensor) -> np.ndarray:
        """``fn`` over batches of ``x``; batches of the ``aligned`` tensors (e.g. conditions) are passed alongside."""
        layout = torch.channels_last if self._channels_last_inference() and len(x.shape) == 4 else None
        with torch.inference_mode():
            parts = []
            for start in range(0, x.shape[0], self.transform_batch_size):
                xb, *rest = (t[start : start + self.transform_batch_size] for t in (x, *aligned))
                if layout is not None:
                    xb = xb.contiguous(memory_format=layout)
                parts.append(fn(xb, *rest).cpu())
        return torch.cat(parts).numpy()

    def _channels_last_inference(self) -> bool:
        """Whether a fitted conv model runs inference in channels-last layout: on CPU it wins.

        Measured on this project's 2-core machine (1 thread, MNIST, the default conv net):
        encoding 0.83x and decoding 0.64x the CPU time of the default layout, outputs equal;
        training gains nothing (0.99-1.12x), so fit keeps the default layout.
        """
        return getattr(self, "architecture_", None) == "conv" and self.device_.type == "cpu"

    def _ready_for_inference(self) -> None:
        """Put the fitted module in its inference layout (after fit and after load)."""
        self.module_.eval()
        if self._channels_last_inference():
            self.module_.to(memory_format=torch.channels_last)

    def _output_dtype(self, X: np.ndarray) -> np.dtype:
        return X.dtype if X.dtype in FLOAT_DTYPES else np.dtype(np.float32)

    def _to_input_layout(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return x.reshape(x.shape[0], *self.input_shape_).astype(dtype, copy=False)

    # ------------------------------------------------------------------ fitting
    def _train_config(self) -> TrainConfig:
        return parameters.train_config(self, self._param_table, description=type(self).__name__)

    def _split(self, n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        n_val = int(n * self.validation_fraction)
        order = rng.permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _prepare_fit(self, X: np.ndarray, y: Any) -> np.ndarray | None:
        """Record data-dependent fitted attributes the module needs; return the condition.

        Called after validation and before :meth:`_build_module`.  Conditional models
        return one row of conditioning values per sample; the others ignore ``y``.
        """
        return None

    def _train(
        self,
        x_train: torch.Tensor,
        x_val: torch.Tensor | None,
        condition_train: torch.Tensor | None,
        condition_val: torch.Tensor | None,
    ) -> dict[str, list]:
        """Train ``module_`` and return its history (a schedule of several phases overrides this).

        The checkpoint, when ``fit`` was given a ``checkpoint_dir``, covers this
        (final) training run.
        """
        callbacks = getattr(self, "_callbacks", [])
        return Trainer(self._train_config()).fit(
            self.module_,
            x_train,
            x_val,
            condition_train,
            condition_val,
            checkpoint=getattr(self, "_checkpoint", None),
            on_epoch_end=(lambda epoch, row: call_callbacks(callbacks, "on_epoch_end", self, epoch, row)) if callbacks else None,
        )

    def _run_fingerprint(self, X: np.ndarray | MappedArray) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this fit."""
        params = {
            k: v if v is None or isinstance(v, (bool, int, float, str, tuple, list)) else repr(v)
            for k, v in self.get_params(deep=False).items()
        }
        return {
            "estimator": type(self).__name__,
            "params": params,
            "n_samples": int(X.shape[0]),
            "sample_shape": [int(s) for s in X.shape[1:]],
        }

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        checkpoint_dir: str | None = None,
        resume: bool = False,
        callbacks: Iterable[Any] | None = None,
    ) -> BaseAutoEncoder:
        """Train on ``X`` (n, d), (n, h, w) or (n, c, h, w). ``y`` is ignored.

        ``X`` may be a memory-mapped array (``np.load(path, mmap_mode="r")``) or an
        :class:`aekit.train.MappedArray`: when larger than memory allows it is read
        batch by batch.  With ``checkpoint_dir`` the training state is saved there
        after every epoch (``checkpoint.safetensors``, written atomically; the folder is
        locked against a second writer); with ``resume=True`` training continues from
        that checkpoint when one exists, after its state is checked against the model.
        On CPU a resumed run gives the same weights bit for bit, when it runs with the
        same number of threads (``torch.get_num_threads()``): a convolution's sums are
        ordered by thread, so a conv model's last bits depend on the thread count.
        ``callbacks`` are objects with ``on_epoch_end(estimator, epoch, history_row)`` and/or
        ``on_fit_end(estimator)`` (see :mod:`aekit.estimators.callbacks`; loggers for
        TensorBoard and MLflow are in :mod:`aekit.tracking`).
        Under torchrun, training runs with DistributedDataParallel on every rank.

        Returns the fitted estimator.  Raises :class:`aekit.train.TrainingDivergedError`
        (a ValueError) if the loss becomes NaN; the estimator then holds the best
        finite weights so far.
        """
        # Flushed from the start: torch's worker threads, which copy the flag when the first
        # parallel operation (e.g. gathering the training rows) creates them, then flush too.
        # One writer per checkpoint folder: another process training into it is refused, naming its PID.
        writing = checkpoint_dir is not None and distributed.is_main_process()
        with denormals_flushed(), folder_lock(checkpoint_dir) if writing else contextlib.nullcontext():
            return self._fit(X, y, checkpoint_dir, resume, check_callbacks(callbacks))

    def _fit(
        self, X: Any, y: Any, checkpoint_dir: str | None, resume: bool, callbacks: list[Any]
    ) -> BaseAutoEncoder:
        self._validate_params()
        X = self._validate_X(X, reset=True)
        condition = self._prepare_fit(X, y)
        rng = check_random_state(self.random_state)
        seed = draw_seed(rng)
        self.device_ = distributed.device_for(resolve_device(self.device), distributed.context())
        if self.precision != "32" and self.device_.type != "cuda":
            raise ValueError(
                f"precision={self.precision!r} (mixed precision) needs a CUDA device, but training runs on "
                f"{self.device_.type}; use precision='32'."
            )
        self._resolve_architecture()
        self._resolve_code_size()
        train_idx, val_idx = self._split(X.shape[0], rng)
        if isinstance(X, MappedArray):
            x = MappedSource(X, self.model_shape_, self.device_)
            x_train, x_val = x.subset(train_idx), x.subset(val_idx)
        else:
            x = self._to_tensor(X)
            x_train, x_val = RowSubset.of(x, train_idx), RowSubset.of(x, val_idx)
        self.n_train_samples_ = len(train_idx)  # batch-statistic terms (e.g. total correlation) need it
        c = None if condition is None else torch.as_tensor(condition, dtype=torch.float32).to(self.device_)
        has_val = len(val_idx) > 0
        self._checkpoint = (
            None
            if checkpoint_dir is None
            else Checkpoint(checkpoint_path(checkpoint_dir), self._run_fingerprint(X), resume=bool(resume))
        )
        self._callbacks = callbacks
        try:
            with torch_seeded(seed, self.device_):
                self.module_ = self._build_module().to(self.device_)
                self.history_ = self._train(
                    x_train,
                    x_val if has_val else None,
                    None if c is None else c[train_idx],
                    None if c is None or not has_val else c[val_idx],
                )
        except TrainingDivergedError as exc:
            self.history_ = exc.history
            self.n_epochs_ = len(exc.history["epoch"])
            raise
        finally:
            del self._checkpoint, self._callbacks
        self.n_epochs_ = len(self.history_["epoch"])
        self._ready_for_inference()
        if not self._samples_from_prior:
            self._keep_codes_for_density(x_train, None if c is None else c[train_idx], rng)
        call_callbacks(callbacks, "on_fit_end", self)
        return self

    def _keep_codes_for_density(self, x: torch.Tensor, condition: torch.Tensor | None, rng: np.random.RandomState) -> None:
        """Keep the codes of (at most 10,000) training rows for the density :meth:`sample` draws from.

        The mixture itself is fitted on the first :meth:`sample` or :meth:`save`, with a
        seed drawn here: detectors and grid searches, which never sample, never pay for
        it, and a model samples the same whether it was saved first or not.
        """
        keep = torch.as_tensor(np.sort(rng.permutation(x.shape[0])[:MAX_CODES_FOR_DENSITY]), device=x.device)
        rows = x.subset(keep.cpu().numpy()) if isinstance(x, MappedSource) else RowSubset(x, keep)  # no gathered copy
        codes = self._map_batches(self.module_.encode, rows, *(() if condition is None else (condition[keep],)))
        for name in (*_CODE_DENSITY_ATTRIBUTES, *_CODE_FLOW_ATTRIBUTES):
            self.__dict__.pop(name, None)  # a refit's densities are fitted anew
        self._density_codes = codes if np.isfinite(codes).all() else None
        self._density_seed = draw_seed(rng)

    def _fit_code_density(self) -> None:
        """Fit the Gaussian mixture on the kept training codes, once.

        The codes stay (at most 10,000 rows of ``latent_dim`` floats) for a flow sampler
        asked for later; a loaded model has only the densities its file holds.
        """
        if hasattr(self, "code_density_weights_") or getattr(self, "_density_codes", None) is None:
            return
        density = fit_code_density(self._density_codes, random_state=self._density_seed)
        self.code_density_weights_ = density["weights"]
        self.code_density_means_ = density["means"]
        self.code_density_covariances_ = density["covariances"]

    def _fit_code_flow(self) -> None:
        """Fit the normalizing flow on the kept training codes, once (seconds: it trains a network)."""
        if hasattr(self, "code_flow_parameters_") or getattr(self, "_density_codes", None) is None:
            return
        self.code_flow_layout_, self.code_flow_parameters_ = fit_code_flow(self._density_codes, self._density_seed)

    # ------------------------------------------------------------------ transforms
    @property
    def _n_features_out(self) -> int:
        return int(self.latent_dim_)

    def transform(self, X: Any) -> np.ndarray:
        """Codes of ``X``, shape (n, latent_dim); deterministic (posterior mean for a VAE)."""
        X = self._validate_X(X, reset=False)
        codes = require_finite(self._map_batches(self.module_.encode, self._to_tensor(X)), "codes", X)
        return codes.astype(self._output_dtype(X), copy=False)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Decoder mean for codes ``Z`` (n, latent_dim), in the training input's shape."""
        return self._decode_codes(Z, lambda n: ())

    def _decode_codes(self, Z: Any, conditions_for: Callable[[int], tuple[torch.Tensor, ...]]) -> np.ndarray:
        """Validate codes and decode them, with ``conditions_for(n)`` passed alongside (conditional models)."""
        check_is_fitted(self)
        Z = check_array(Z, dtype=FLOAT_DTYPES, input_name="Z")
        if Z.shape[1] != self.latent_dim_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns but the code has latent_dim={self.latent_dim_}; "
                "pass codes produced by transform()."
            )
        z = torch.as_tensor(np.ascontiguousarray(Z, dtype=np.float32)).to(self.device_)
        x_hat = self._map_batches(self.module_.decode, z, *conditions_for(Z.shape[0]))
        require_finite(x_hat, "decoded values", Z)
        return self._to_input_layout(x_hat, self._output_dtype(Z))

    def reconstruct(self, X: Any) -> np.ndarray:
        """decode(encode(X)), in the shape of ``X``."""
        X = self._validate_X(X, reset=False)
        x_hat = require_finite(self._map_batches(self.module_.reconstruct, self._to_tensor(X)), "reconstructions", X)
        return self._to_input_layout(x_hat, self._output_dtype(X))

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample sum of squared errors over all features, shape (n,). Higher = worse."""
        X = self._validate_X(X, reset=False)
        x = self._to_tensor(X)
        errors = self._map_batches(lambda xb: (self.module_.reconstruct(xb) - xb).flatten(1).square().sum(1), x)
        return never_nan(errors.astype(np.float64), np.inf)

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-sample typicality, higher = more typical (scikit-learn's sign convention).

        Minus the reconstruction error for deterministic autoencoders; a deterministic
        ELBO for the VAE (see :meth:`aekit.VAE.score_samples`).
        """
        X = self._validate_X(X, reset=False)
        return never_nan(self._map_batches(self._score_tensor, self._to_tensor(X)).astype(np.float64), -np.inf)

    def _score_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`score_samples` on a batch in model layout (what the exported score graph computes)."""
        return self.module_.score(x)

    def sample(self, n_samples: int = 1, random_state: Any = None, sampler: str = "gmm") -> np.ndarray:
        """Decode ``n_samples`` codes drawn from the prior, or from a density fitted on the training codes.

        A model with a prior (VAE, WAE, AAE) draws from N(0, I).  A deterministic
        autoencoder has none, so a density is fitted to the codes of (at most 10,000)
        training samples, on the first call that needs it, and kept in the model file
        by :meth:`save` (see :mod:`aekit.estimators.code_density`):

        * ``sampler="gmm"``: a 10-component full-covariance Gaussian mixture
          (``code_density_*_``; fitted by :meth:`save` too);
        * ``sampler="flow"``: a RealNVP normalizing flow (``code_flow_*_``; training it
          takes seconds, so :meth:`save` keeps it only once it was fitted: sample with
          it before saving to have it in the file).

        Returns decoder means in the training input's shape.
        """
        return self.inverse_transform(self._draw_codes(n_samples, random_state, sampler))

    def _draw_codes(self, n_samples: int, random_state: Any, sampler: str = "gmm") -> np.ndarray:
        check_is_fitted(self)
        check_positive_int("n_samples", n_samples)
        if sampler not in CODE_SAMPLERS:
            raise ValueError(f"sampler must be one of {list(CODE_SAMPLERS)}; got {sampler!r}.")
        if self._samples_from_prior:
            if sampler != "gmm":
                raise ValueError(
                    f"{type(self).__name__} samples from its prior N(0, I); sampler={sampler!r} chooses the density "
                    "fitted on a deterministic autoencoder's codes. Call sample() without sampler."
                )
            return check_random_state(random_state).standard_normal((n_samples, self.latent_dim_)).astype(np.float32)
        if sampler == "flow":
            self._fit_code_flow()
            if not hasattr(self, "code_flow_parameters_"):
                raise ValueError(
                    f"This {type(self).__name__} has no code flow to sample from: its training codes are not at hand "
                    "(a model loaded from a file saved before sample(sampler='flow') was called, or training "
                    "diverged). Refit the model and sample with the flow before saving it, or use sampler='gmm'."
                )
            return sample_code_flow(self.code_flow_layout_, self.code_flow_parameters_, n_samples, random_state)
        self._fit_code_density()
        if not hasattr(self, "code_density_weights_"):
            raise ValueError(
                f"This {type(self).__name__} has no code density to sample from: its training codes "
                "were not finite (training diverged) or the model file predates sampling. Refit the model."
            )
        codes = sample_code_density(
            self.code_density_weights_,
            self.code_density_means_,
            self.code_density_covariances_,
            n_samples,
            random_state,
        )
        return codes.astype(np.float32)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean of :meth:`score_samples` (higher is better), for model selection."""
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ export
    def export_onnx(self, path: str | os.PathLike, part: str = "encoder", input_scaling: Any = None) -> None:
        """Write one fitted part as an ONNX graph (one file, dynamic batch axis), atomically.

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file to write.
        part : {"encoder", "decoder", "score"}
            ``"encoder"``: ``x`` (batch, *input_shape) -> ``code`` (batch, latent_dim), as
            :meth:`transform`; ``"decoder"``: ``z`` -> ``reconstruction`` in the input's shape,
            as :meth:`inverse_transform`; ``"score"``: ``x`` -> ``score`` (batch,), as
            :meth:`score_samples`.
        input_scaling : aekit.estimators.export.InputScaling, optional
            The scaling of raw inputs that the model was trained after (``aekit export``
            passes a run folder's), applied inside the graph: ``(x - offset) / scale`` on
            the way in, its inverse (and clip) on the decoder's way out.

        The graph's ``metadata_props`` hold the part, the input and output layout
        (``aekit.*`` keys, JSON values).  Needs the ``onnx`` extra (onnx, onnxruntime,
        onnxscript).  Raises ValueError for an unknown part.
        """
        check_is_fitted(self)
        functions = {"encoder": self.module_.encode, "decoder": self.module_.decode, "score": self._score_tensor}
        export.export_part(
            path,
            part,
            functions.get(part),
            self.module_,
            sample_shape=self.input_shape_,
            model_shape=self.model_shape_,
            latent_dim=self.latent_dim_,
            scaling=input_scaling,
            metadata={"estimator": type(self).__name__, **self._onnx_metadata()},
        )

    def _onnx_metadata(self) -> dict[str, Any]:
        """What a service needs to know besides the layout (a table model: its columns)."""
        return {}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str) -> None:
        """Write weights (safetensors) and configuration (JSON) atomically to ``path``."""
        if not self._samples_from_prior:
            self._fit_code_density()  # the file keeps the density, so a loaded model samples the same
        save_estimator(self, path)

    def _fitted_attributes(self) -> dict[str, Any]:
        """Fitted attributes to persist (everything ending in ``_`` except the module)."""
        attributes = {
            k: v
            for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_") and k not in ("module_", "device_")
        }
        if "feature_names_in_" in attributes:  # column names (an object array): JSON, not tensors
            attributes["feature_names_in_"] = [str(n) for n in attributes["feature_names_in_"]]
        return attributes

    def _restore_fitted_attributes(self, attributes: dict[str, Any]) -> None:
        for name, value in attributes.items():
            setattr(self, name, tuple(value) if name in _TUPLE_ATTRIBUTES else value)
        if "feature_names_in_" in attributes:
            self.feature_names_in_ = np.asarray(attributes["feature_names_in_"], dtype=object)
        if "latent_dim_" not in attributes:  # files written before latent_dim="auto" existed
            self.latent_dim_ = int(self.latent_dim)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
