"""Networks and the likelihood for mixed tables (numeric and categorical columns, with gaps).

A row arrives in the encoded layout of :class:`aekit.data.tables.TableSchema`: one float
per column, numeric columns standardized, categorical columns as the category's index
(``k`` = a category never seen in fit), NaN for a missing cell.

* :class:`TabularInput` turns a row into encoder features: each numeric value (0 when
  missing) with a missing indicator, and each category through a learned embedding
  (with one extra row for "unseen" and one for "missing"), so nothing is imputed with a
  constant before the model sees it.
* :class:`MixedLikelihood` reads the decoder's output as one value per numeric column
  and one logit per category of each categorical column; its loss is the sum of
  per-column terms (squared error or Gaussian NLL for numbers, cross-entropy for
  categories) over the observed cells only, each column weighted so that numeric and
  categorical columns carry equal total weight whatever their counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from aekit.nn.blocks import MLPEncoder
from aekit.nn.likelihoods import Likelihood

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: What a category never seen in fit costs (nats): the model gives it no more than 1 in 1000.
UNSEEN_NLL = math.log(1000.0)


def embedding_size(n_categories: int) -> int:
    """Default embedding width of a column with ``n_categories`` (fastai's rule, capped at 16)."""
    return int(max(2, min(16, round(1.6 * n_categories**0.56))))


class TabularInput(nn.Module):
    """Encoded rows (n, n_columns) -> (n, out_features): numeric values and missing flags, then embeddings."""

    def __init__(
        self,
        numeric_index: Sequence[int],
        categorical_index: Sequence[int],
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
    ):
        super().__init__()
        self.register_buffer("numeric_index", torch.as_tensor(list(numeric_index), dtype=torch.long), persistent=False)
        self.categorical_index = [int(i) for i in categorical_index]
        self.cardinalities = [int(k) for k in cardinalities]
        # Rows 0..k-1: the categories; k: "unseen"; k+1: "missing".
        self.embeddings = nn.ModuleList(nn.Embedding(k + 2, d) for k, d in zip(self.cardinalities, embedding_dims))
        self.out_features = 2 * len(self.numeric_index) + sum(int(d) for d in embedding_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        if len(self.numeric_index):
            values = x[:, self.numeric_index]
            missing = torch.isnan(values)
            parts += [torch.where(missing, torch.zeros_like(values), values), missing.to(x.dtype)]
        for j, k, embedding in zip(self.categorical_index, self.cardinalities, self.embeddings):
            codes = x[:, j]
            index = torch.where(torch.isnan(codes), torch.full_like(codes, k + 1), codes).long()
            parts.append(embedding(index))
        return torch.cat(parts, dim=1)


class TabularEncoder(nn.Sequential):
    """:class:`TabularInput` followed by an MLP body; ``out_features`` as the other encoders."""

    def __init__(self, table_input: TabularInput, hidden: Sequence[int], activation: str, dropout: float = 0.0):
        body = MLPEncoder((table_input.out_features,), hidden, activation, dropout)
        super().__init__(table_input, body)
        self.out_features = body.out_features


def column_weights(n_numeric: int, n_categorical: int) -> tuple[float, float]:
    """Weights of one numeric and one categorical column: every present type carries an equal
    share of the total weight ``n_numeric + n_categorical`` (the plain sum's scale)."""
    n_types = int(n_numeric > 0) + int(n_categorical > 0)
    total = n_numeric + n_categorical
    numeric = total / (n_types * n_numeric) if n_numeric else 0.0
    categorical = total / (n_types * n_categorical) if n_categorical else 0.0
    return numeric, categorical


class MixedLikelihood(Likelihood):
    """Per-column losses over observed cells: numbers (``"mse"`` or ``"gaussian"``), categories (cross-entropy).

    The decoder output is ``(n, n_numeric + sum(cardinalities))``: the numeric columns'
    values first, then each categorical column's logits.  ``mean`` returns rows in the
    encoded layout (numeric values, the most likely category's index).
    """

    name = "mixed"

    def __init__(
        self,
        numeric_index: Sequence[int],
        categorical_index: Sequence[int],
        cardinalities: Sequence[int],
        numeric: str = "mse",
    ):
        super().__init__()
        if numeric not in ("mse", "gaussian"):
            raise ValueError(f"numeric likelihood must be 'mse' or 'gaussian'; got {numeric!r}.")
        self.numeric_index = [int(i) for i in numeric_index]
        self.categorical_index = [int(i) for i in categorical_index]
        self.cardinalities = [int(k) for k in cardinalities]
        self.n_columns = len(self.numeric_index) + len(self.categorical_index)
        self.numeric = numeric
        if numeric == "gaussian":
            self.log_scale = nn.Parameter(torch.zeros(len(self.numeric_index)))
        w_num, w_cat = column_weights(len(self.numeric_index), len(self.categorical_index))
        weights = torch.empty(self.n_columns)
        weights[self.numeric_index] = w_num
        weights[self.categorical_index] = w_cat
        self.register_buffer("weights", weights, persistent=False)
        self.out_features = len(self.numeric_index) + sum(self.cardinalities)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(numeric outputs (n, n_numeric), [logits (n, k) per categorical column])."""
        n_num = len(self.numeric_index)
        return out[:, :n_num], list(out[:, n_num:].split(self.cardinalities, dim=1)) if self.cardinalities else []

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        numeric, logits = self.split(out)
        rows = out.new_empty(out.shape[0], self.n_columns)
        rows[:, self.numeric_index] = numeric
        for j, column_logits in zip(self.categorical_index, logits):
            rows[:, j] = column_logits.argmax(1).to(out.dtype)
        return rows

    def probabilities(self, out: torch.Tensor) -> list[torch.Tensor]:
        """Softmax probabilities (n, k) of every categorical column."""
        return [logits.softmax(1) for logits in self.split(out)[1]]

    def column_nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Unweighted loss of every cell, (n, n_columns); 0 where ``x`` is missing (NaN)."""
        numeric, logits = self.split(out)
        cells = out.new_zeros(x.shape[0], self.n_columns)
        if self.numeric_index:
            target = x[:, self.numeric_index]
            observed = ~torch.isnan(target)
            error = torch.where(observed, target - numeric, torch.zeros_like(numeric))
            if self.numeric == "gaussian":
                log_scale = self.log_scale.clamp(min=math.log(1e-3))
                nll = 0.5 * (error * torch.exp(-log_scale)).square() + log_scale + _HALF_LOG_2PI
            else:
                nll = error.square()
            cells[:, self.numeric_index] = torch.where(observed, nll, torch.zeros_like(nll))
        for j, k, column_logits in zip(self.categorical_index, self.cardinalities, logits):
            target = x[:, j]
            missing = torch.isnan(target)
            unseen = target >= k
            index = torch.where(missing | unseen, torch.zeros_like(target), target).long()
            # log-softmax and gather rather than F.cross_entropy: the same values, and an exported
            # graph whose shapes onnxruntime infers without a warning.
            ce = -column_logits.log_softmax(1).gather(1, index[:, None])[:, 0]
            cells[:, j] = torch.where(missing, torch.zeros_like(ce), torch.where(unseen, torch.full_like(ce, UNSEEN_NLL), ce))
        return cells

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (self.column_nll(out, x) * self.weights).sum(1)
