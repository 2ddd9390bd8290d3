"""Autoencoders for tables as people have them: DataFrames in, DataFrames out.

:class:`TabularAutoEncoder` and :class:`TabularVAE` are :class:`~aekit.AutoEncoder` and
:class:`~aekit.VAE` with three parts swapped for tables (:class:`TabularMixin`): the input
check (a :class:`~aekit.data.tables.TableSchema` fitted on the training table encodes every
table), the encoder's first layer (:class:`~aekit.nn.tabular.TabularInput`: numeric values
with missing flags, categories through learned embeddings) and the likelihood
(:class:`~aekit.nn.tabular.MixedLikelihood`: per-column terms over observed cells).  The
training loop, the loss-term contract, saving and loading are the parents'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from aekit.data.corruption import MissingCells
from aekit.data.tables import TableError, TableSchema, as_frame
from aekit.estimators import export
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import AnyValue, Choice, Integer, Param, Real, changed
from aekit.estimators.vae import VAE
from aekit.nn.blocks import MLPDecoder
from aekit.nn.tabular import MixedLikelihood, TabularEncoder, TabularInput, embedding_size

_NAMES_DOC = "None or a list of column names"


class _Names(AnyValue):
    type_text = "list of str or None"

    def check(self, name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be None or a list of column names like ['sex', 'island']; got {value!r}.")

    def coerce(self, value: Any) -> Any:
        return None if value is None else [str(v) for v in value]

    def parse(self, text: str) -> list[str]:
        return [v.strip() for v in text.split(",") if v.strip()]


TABULAR_PARAMS = {
    "categorical": Param(
        None,
        _Names(),
        "Columns to treat as categorical, besides those inferred (strings, pandas categoricals, booleans); "
        "e.g. integer codes with few values such as a year.",
    ),
    "numeric": Param(None, _Names(), "Columns to treat as numeric whatever their dtype (words in them count as missing)."),
    "missing_fraction": Param(
        0.2,
        Real(0.0, 1.0, high_open=True),
        "Fraction of observed cells hidden from the encoder at every training step (denoising by masking): "
        "what teaches impute() to fill gaps. The loss still scores those cells.",
    ),
    "embedding_dim": Param(
        None,
        AnyValue(),
        "Width of every category embedding; None sizes each column's to its number of categories "
        "(1.6 * k ** 0.56, between 2 and 16).",
    ),
}


class TabularMixin:
    """What makes an estimator take mixed tables: schema, embeddings, masked per-column loss.

    Fitted attributes besides the parent's: ``schema_`` (the column schema as a JSON-able
    dict), ``feature_names_in_`` and ``n_features_in_`` (the table's columns).
    """

    _params = TABULAR_PARAMS
    _numeric_likelihood = "mse"

    # ------------------------------------------------------------------ schema and input
    @property
    def schema(self) -> TableSchema:
        check_is_fitted(self, "schema_")
        return TableSchema.from_dict(self.schema_)

    def _validate_own_params(self) -> None:
        super()._validate_own_params()
        if self.architecture == "conv":
            raise ValueError("architecture='conv' is for images; a table model uses architecture='mlp' (or 'auto').")
        if self.embedding_dim is not None and (
            isinstance(self.embedding_dim, bool) or not isinstance(self.embedding_dim, (int, np.integer)) or self.embedding_dim < 1
        ):
            raise ValueError(f"embedding_dim must be None or a positive integer; got {self.embedding_dim!r}.")

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        _refuse_non_tables(X)
        if reset:
            frame = as_frame(X)
            if frame.shape[1] == 0:
                raise ValueError(
                    f"X has 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required; "
                    "pass a table with columns."
                )
            if len(frame) < 2:
                raise ValueError(f"X has {len(frame)} sample(s) (rows); training needs at least 2.")
            schema = TableSchema.infer(frame, self.categorical, self.numeric)
            self.schema_ = schema.to_dict()
            self.feature_names_in_ = np.asarray(schema.names, dtype=object)
            self.n_features_in_ = len(schema.names)
            self.input_shape_ = (self.n_features_in_,)
            return schema.encode(frame, "the training table")
        check_is_fitted(self, "schema_")
        if hasattr(X, "columns") or hasattr(X, "to_frame"):
            frame = as_frame(X)
        else:
            array = np.asarray(X, dtype=object if not np.asarray(X).dtype.kind in "fiub" else None)
            if array.ndim != 2 or array.shape[1] != self.n_features_in_:
                found = f"{array.shape[1]} features" if array.ndim == 2 else f"shape {array.shape}"
                reshape = " Reshape your data: one row per sample." if array.ndim == 1 else ""
                raise ValueError(
                    f"X has {found}, but {type(self).__name__} is expecting {self.n_features_in_} features as input "
                    f"(the columns {list(self.feature_names_in_)}); pass a DataFrame with those columns.{reshape}"
                )
            frame = as_frame(array, list(self.feature_names_in_))
        return self.schema.encode(frame)

    def _to_frame_index(self, X: Any) -> Any:
        return X.index if hasattr(X, "index") and hasattr(X, "columns") else None

    # ------------------------------------------------------------------ networks
    def _table_parts(self, latent_dim: int) -> tuple[TabularEncoder, nn.Module, MixedLikelihood]:
        schema = self.schema
        dims = [int(self.embedding_dim) if self.embedding_dim else embedding_size(k) for k in schema.cardinalities]
        table_input = TabularInput(schema.numeric_index, schema.categorical_index, schema.cardinalities, dims)
        likelihood = MixedLikelihood(
            schema.numeric_index, schema.categorical_index, schema.cardinalities, numeric=self._numeric_likelihood
        )
        encoder = TabularEncoder(table_input, self.hidden_, self.activation, self.dropout)
        decoder = MLPDecoder(latent_dim, self.hidden_, (likelihood.out_features,), self.activation, self.dropout)
        return encoder, decoder, likelihood

    def _corruption(self):
        return MissingCells(self.missing_fraction) if self.missing_fraction > 0 else None

    def _table_input(self) -> TabularInput:
        return next(m for m in self.module_.modules() if isinstance(m, TabularInput))

    # ------------------------------------------------------------------ outputs as tables
    def _decode_frame(self, out: np.ndarray, index: Any = None) -> Any:
        schema = self.schema
        return schema.decode(out[:, schema.numeric_index], out[:, schema.categorical_index], index=index)

    def inverse_transform(self, Z: Any, y: Any = None) -> Any:
        """Decoded rows for codes ``Z`` as a DataFrame with the training columns and dtypes
        (the most likely category of each categorical column, numbers in their units)."""
        decoded = super().inverse_transform(Z) if y is None else super().inverse_transform(Z, y=y)
        return self._decode_frame(decoded)

    def sample(self, n_samples: int = 1, random_state: Any = None, **kwargs: Any) -> Any:
        """New rows as a DataFrame (decoded draws from the prior or the code density)."""
        return self.inverse_transform(self._draw_codes(n_samples, random_state))

    def reconstruct(self, X: Any, y: Any = None) -> Any:
        """decode(encode(X)) as a DataFrame with the original columns, dtypes and index."""
        encoded = self._validate_X(X, reset=False)
        out = self._map_batches(self.module_.reconstruct, self._to_tensor(encoded))
        return self._decode_frame(out, self._to_frame_index(X))

    def _cell_losses(self, xb: torch.Tensor) -> torch.Tensor:
        """The weighted loss of every cell of the encoded rows ``xb``, (n, n_columns)."""
        module = self.module_
        code = module.encode(xb)
        out = module.decoder(code) if not hasattr(module, "decoder_output") else module.decoder_output(code)
        return module.likelihood.column_nll(out, xb) * module.likelihood.weights

    def _column_nll(self, encoded: np.ndarray) -> np.ndarray:
        return self._map_batches(self._cell_losses, self._to_tensor(encoded)).astype(np.float64)

    def column_errors(self, X: Any) -> Any:
        """Per-column reconstruction errors as a DataFrame (rows of ``X`` x columns), higher = worse.

        Each cell is that column's weighted loss term: squared error in standard deviations
        (Gaussian NLL for the VAE) for a numeric column, cross-entropy in nats for a
        categorical one, 0 for a missing cell; a row sums to :meth:`reconstruction_error`.
        """
        import pandas as pd

        errors = self._column_nll(self._validate_X(X, reset=False))
        return pd.DataFrame(errors, columns=list(self.feature_names_in_), index=self._to_frame_index(X))

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-row sum of the weighted per-column losses over observed cells, shape (n,)."""
        return self._column_nll(self._validate_X(X, reset=False)).sum(1)

    def impute(self, X: Any) -> Any:
        """``X`` with every missing cell filled from the model (the reconstruction of the row
        from its observed cells); observed cells are returned unchanged."""
        frame = as_frame(X, list(self.feature_names_in_)) if not hasattr(X, "columns") else X
        encoded = self._validate_X(frame, reset=False)
        out = self._map_batches(self.module_.reconstruct, self._to_tensor(encoded))
        filled = self._decode_frame(out, frame.index)
        frame = self.schema.check_columns(frame)
        result = frame.copy()
        for name in frame.columns:
            gaps = frame[name].isna().to_numpy()
            if gaps.any():
                column = frame[name].astype(object) if frame[name].dtype.kind in "iub" else frame[name].copy()
                column[gaps] = filled[name][gaps].to_numpy()
                try:
                    result[name] = column.astype(filled[name].dtype)
                except (TypeError, ValueError):
                    result[name] = column
        return result

    # ------------------------------------------------------------------ export
    def export_onnx(self, path: Any, part: str = "encoder", input_scaling: Any = None) -> None:
        """Write one fitted part as an ONNX graph over raw rows (see :meth:`aekit.AutoEncoder.export_onnx`).

        The graph takes (batch, n_columns) float32 rows in the training columns' order:
        numeric columns in their own units (the graph standardizes them as ``fit``
        did), categorical columns as the index of the category in
        ``schema_["columns"][j]["categories"]`` (NaN marks a missing cell in either).
        Mapping strings to those indices is the caller's step: the categories are in the
        graph's ``aekit.columns`` metadata.  The decoder returns numeric columns in
        their units and each categorical column's most likely category index.
        """
        if input_scaling is not None:
            raise ValueError(
                f"{type(self).__name__} standardizes its numeric columns itself (from its schema); "
                "call export_onnx without input_scaling."
            )
        schema = self.schema
        numeric = [c.kind == "numeric" for c in schema.columns]
        scaling = export.InputScaling(
            offset=np.array([c.mean if n else 0.0 for c, n in zip(schema.columns, numeric)]),
            scale=np.array([c.scale if n else 1.0 for c, n in zip(schema.columns, numeric)]),
        )
        super().export_onnx(path, part, scaling)

    def _onnx_metadata(self) -> dict[str, Any]:
        return {"columns": [{"name": c.name, "kind": c.kind, "categories": c.categories} for c in self.schema.columns]}

    # ------------------------------------------------------------------ category embeddings
    @property
    def category_embeddings_(self) -> dict[str, Any]:
        """``{column: DataFrame (category x dimension)}``: the learned embedding of every category."""
        import pandas as pd

        check_is_fitted(self, "module_")
        schema = self.schema
        table_input = self._table_input()
        out = {}
        for spec, embedding in zip((schema.columns[j] for j in schema.categorical_index), table_input.embeddings):
            weights = embedding.weight.detach().cpu().numpy()[: spec.n_categories]
            out[spec.name] = pd.DataFrame(
                weights, index=pd.Index([str(c) for c in spec.categories], name=spec.name),
                columns=[f"dim{i}" for i in range(weights.shape[1])],
            )
        return out

    # ------------------------------------------------------------------ persistence
    def _fitted_attributes(self) -> dict[str, Any]:
        attributes = super()._fitted_attributes()
        attributes.pop("category_embeddings_", None)
        return attributes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # Codes are float32 whatever the columns' types: a mixed table has no one dtype to keep.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _refuse_non_tables(X: Any) -> None:
    """Sparse matrices and complex numbers have no table form: say so before pandas converts them oddly."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("X is a sparse matrix, and sparse input is not supported: pass X.toarray() or a DataFrame.")
    dtypes = list(X.dtypes) if hasattr(X, "dtypes") and not hasattr(X, "dtype") else [np.asarray(X).dtype]
    if any(getattr(dtype, "kind", None) == "c" for dtype in dtypes):
        raise ValueError(
            "Complex data not supported: no column type takes complex numbers; pass real ones (e.g. np.abs(X))."
        )


class TabularAutoEncoder(TabularMixin, AutoEncoder):
    """Autoencoder for mixed tables: numeric and categorical columns, missing values, DataFrames in and out.

    Numeric columns are standardized; categorical columns (strings, pandas categoricals,
    booleans, and any listed in ``categorical``) enter the encoder through learned
    embeddings and leave the decoder as logits scored with cross-entropy.  The loss sums
    per-column terms over observed cells only (a missing cell is never imputed with a
    constant), numeric and categorical columns carrying equal total weight.  A category
    never seen in fit maps to an "unseen" slot with a warning.

    Attributes
    ----------
    category_embeddings_ : dict of DataFrame
        ``{column: category x dimension}`` embeddings.
    schema_ : dict
        The column schema (kinds, standardization, categories, dtypes).

    Examples
    --------
    >>> import pandas as pd, aekit
    >>> df = pd.DataFrame({"size": [1.0, 2.0, None, 4.0] * 10, "color": ["red", "blue", "red", None] * 10})
    >>> ae = aekit.TabularAutoEncoder(latent_dim=2, epochs=3, random_state=0).fit(df)
    >>> int(ae.impute(df).isna().sum().sum())
    0
    """

    _params = {
        "loss": Param("mse", Choice("mse"), "Numeric columns are scored by squared error (in standard deviations)."),
    }
    cli_name = None
    tour_rank = None
    table_form_of = "ae"

    def _module_parts(self) -> dict[str, Any]:
        body, decoder, likelihood = self._table_parts(self.latent_dim_)
        encoder = nn.Sequential(body, nn.Linear(body.out_features, self.latent_dim_))
        return {"encoder": encoder, "decoder": decoder, "likelihood": likelihood}

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus :meth:`reconstruction_error` (higher = more typical)."""
        return -self.reconstruction_error(X)

    def _score_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return -self._cell_losses(x).sum(1)


class TabularVAE(TabularMixin, VAE):
    """Variational autoencoder for mixed tables (see :class:`TabularAutoEncoder`); numeric
    columns have a Gaussian likelihood with a learned deviation per column."""

    _params = {
        "likelihood": Param("gaussian", Choice("gaussian"), "Numeric columns: Gaussian with a learned deviation each."),
        "conditional": changed(VAE._param_table["conditional"], default=False, doc="Not available for tables."),
    }
    _numeric_likelihood = "gaussian"
    cli_name = None
    tour_rank = None
    table_form_of = "vae"

    def _validate_own_params(self) -> None:
        super()._validate_own_params()
        if self.conditional:
            raise ValueError("TabularVAE does not take conditional=True; use aekit.VAE on numeric arrays.")

    def _module_parts(self) -> dict[str, Any]:
        encoder, decoder, likelihood = self._table_parts(self.latent_dim_)
        return {
            "encoder": encoder,
            "encoder_features": encoder.out_features,
            "decoder": decoder,
            "likelihood": likelihood,
            "latent_dim": self.latent_dim_,
            "resample": None,
            "objective": self.objective,
            "n_importance_samples": self.n_importance_samples,
            "n_conditions": 0,
            "posterior_flow": self._posterior_flow(encoder.out_features),
        }

    def transform(self, X: Any, y: Any = None) -> np.ndarray:
        return super().transform(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """The deterministic ELBO over observed cells (higher = more typical)."""
        encoded = self._validate_X(X, reset=False)
        return self._map_batches(self.module_.score, self._to_tensor(encoded)).astype(np.float64)


def table_form(cli_name: str) -> type | None:
    """The table estimator standing for the CLI model ``cli_name`` (None when there is none)."""
    return {cls.table_form_of: cls for cls in (TabularAutoEncoder, TabularVAE)}.get(cli_name)


__all__ = ["TableError", "TabularAutoEncoder", "TabularMixin", "TabularVAE", "table_form"]
