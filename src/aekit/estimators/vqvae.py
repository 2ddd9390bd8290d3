"""The VQ-VAE estimator: a code of codebook entries, and an autoregressive prior over them to sample from."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted
from torch import nn

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.code_density import MAX_CODES_FOR_DENSITY, fit_code_prior, sample_code_prior
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Real, changed
from aekit.models.terms import LossTerm
from aekit.models.vqvae import CodebookLoss, Commitment, VQVAEModule
from aekit.nn.blocks import ConvGridDecoder, ConvGridEncoder, conv_feature_shapes
from aekit.nn.quantizer import CODEBOOK_UPDATES, GridToVectors, VectorQuantizer, VectorsToGrid
from aekit.train.sources import MappedSource, RowSubset
from aekit.utils.checks import check_positive_int
from aekit.utils.runtime import draw_seed

_CODE_PRIOR_ATTRIBUTES = ("code_prior_layout_", "code_prior_parameters_")


class VQVAE(AutoEncoder):
    """Vector-quantized autoencoder (van den Oord et al., 2017, "Neural Discrete Representation Learning").

    The encoder gives code vectors of ``code_dim`` dimensions: ``n_latent_vectors`` of
    them for the MLP, one per cell of the last feature map for ``architecture="conv"``
    (a 2x2 grid for 8x8 digits, 7x7 for MNIST with the default two stride-2 layers).
    Each is replaced by the nearest of ``codebook_size`` learned entries, and the
    decoder reconstructs from those; the reconstruction's gradient passes the
    quantization straight through to the encoder.  The objective is the reconstruction
    plus ``commitment_weight`` times the commitment loss ``||z_e - sg[z_q]||^2`` (the
    history's ``commitment``), plus, with ``codebook_update="loss"``, the codebook
    loss ``||sg[z_e] - z_q||^2`` (``codebook``); with ``"ema"`` the entries are instead
    moving averages of the vectors assigned to them (the paper's appendix A.1), with
    Laplace-smoothed counts.  Both are summed over the code's positions and
    dimensions, as the reconstruction is over features.  The paper's settings:
    ``commitment_weight`` (beta) 0.25, EMA decay 0.99, and for images ``K = 512``
    entries of ``D = 64`` dimensions, which are this class's defaults.

    Entries unused for ``restart_unused_after`` training steps are restarted at
    random encoder outputs of the current batch (and the first batch initialises them
    all), so that few entries go to waste; ``history_`` records ``perplexity``, the
    exponential of the entropy of a batch's entry usage (the number of entries in
    use, had they been used equally).  :meth:`codebook_perplexity` gives it for a data
    set.

    ``transform`` returns the quantized code vectors flattened position by position,
    shape (n, positions * code_dim) (``latent_dim_`` columns; columns ``[p * D, (p + 1)
    * D)`` are position ``p``'s vector, grid cells in raster order); ``inverse_transform``
    decodes such vectors as given (without snapping them to the codebook, so that
    interpolations decode too).  :meth:`encode_indices` gives the entry numbers,
    :meth:`decode_indices` decodes them.  ``sample`` draws entry numbers from an
    autoregressive prior (a GRU over the positions; see
    :mod:`aekit.models.code_prior`) fitted by maximum likelihood on the entries of (at
    most 10,000) training samples, on the first ``sample`` or ``save``, and kept in the
    model file, so a loaded model samples as the fitted one.  Its cost grows with the
    positions: 2-6 CPU seconds in all for the digits (4 or 8 positions), about 9 CPU
    seconds per epoch for 10,000 MNIST codes of 49 positions (one thread; at most 100
    epochs, stopping 5 after the best held-out likelihood), so minutes there.

    Attributes
    ----------
    code_prior_layout_, code_prior_parameters_ : dict, ndarray
        The fitted prior over entry numbers (after the first ``sample`` or ``save``).

    Examples
    --------
    >>> from aekit import VQVAE, datasets
    >>> X, y = datasets.load_digits()
    >>> vq = VQVAE(codebook_size=32, code_dim=8, epochs=2, random_state=0).fit(X)
    >>> vq.transform(X[:3]).shape, vq.encode_indices(X[:3]).shape
    ((3, 32), (3, 4))
    """

    _params = {
        "codebook_size": Param(
            512, Integer(minimum=2), "Number K of codebook entries (the paper's 512); each position's code is one."
        ),
        "code_dim": Param(64, Integer(), "Dimensions D of each code vector and codebook entry (the paper's 64)."),
        "n_latent_vectors": Param(
            8,
            Integer(),
            'Code vectors of the MLP encoder (architecture="mlp"); a conv encoder has one per cell of its last '
            "feature map instead.",
        ),
        "commitment_weight": Param(
            0.25,
            Real(),
            "Weight (the paper's beta, 0.25) of the commitment loss ||z_e - sg[z_q]||^2, which keeps the encoder's "
            "outputs near the entries they pick.",
        ),
        "codebook_update": Param(
            "ema",
            Choice(*CODEBOOK_UPDATES),
            '"ema": each entry is the moving average of the vectors assigned to it (no codebook loss; the paper '
            'found it learns faster); "loss": entries are parameters moved by the codebook loss ||sg[z_e] - z_q||^2.',
        ),
        "ema_decay": Param(
            0.99, Real(0.0, 1.0, high_open=True), 'Decay of the moving averages of codebook_update="ema" (the paper: 0.99).'
        ),
        "restart_unused_after": Param(
            100,
            Integer(minimum=0),
            "Training steps an entry may go unassigned before it is restarted at a random encoder output of the "
            "batch; 0 never restarts (and keeps the small uniform initialisation instead of initialising the "
            "entries from the first batch).",
        ),
        "latent_dim": changed(
            SHARED_PARAMS["latent_dim"],
            doc='Keep "auto": the code\'s size is its number of vectors times code_dim (n_latent_vectors for the '
            "MLP, the grid of the conv encoder), recorded in latent_dim_. An int is accepted when it is that size.",
        ),
    }
    _module_cls = VQVAEModule
    cli_name = "vqvae"
    # A quantized code holds at most positions * log2(codebook_size) bits, however many columns it has.
    _wide_codes_regularized = True

    # ------------------------------------------------------------------ shapes and module
    def _code_grid(self) -> tuple[int, ...]:
        """The positions of the code: ``(n_latent_vectors,)`` for the MLP, the encoder's ``(h', w')`` for conv."""
        if self.architecture_ == "conv":
            return tuple(conv_feature_shapes(self.model_shape_, self.hidden_)[-1][1:])
        return (int(self.n_latent_vectors),)

    @property
    def n_positions_(self) -> int:
        """How many code vectors (entry numbers) each sample has."""
        return math.prod(self._code_grid())

    def _resolve_code_size(self) -> None:
        size = self.n_positions_ * int(self.code_dim)
        if self.latent_dim != "auto" and self.latent_dim != size:
            raise ValueError(
                f"latent_dim={self.latent_dim!r}, but this VQVAE's code has {self.n_positions_} vector(s) of "
                f"code_dim={self.code_dim}, {size} values. Leave latent_dim='auto' and size the code with code_dim "
                "(and n_latent_vectors for the MLP, or hidden, the conv encoder's layers)."
            )
        self.latent_dim_ = size

    def _module_parts(self) -> dict[str, Any]:
        code_dim = int(self.code_dim)
        if self.architecture_ == "conv":
            parts = {
                "encoder": nn.Sequential(
                    ConvGridEncoder(self.model_shape_, self.hidden_, code_dim, self.activation, self.dropout),
                    GridToVectors(),
                ),
                "decoder": nn.Sequential(
                    VectorsToGrid(self._code_grid(), code_dim),
                    ConvGridDecoder(code_dim, self.hidden_, self.model_shape_, self.activation, self.dropout),
                ),
                "likelihood": self._likelihood(self.loss),
            }
        else:  # the autoencoder's MLP with a code of latent_dim_ values, read as n_latent_vectors vectors
            parts = super()._module_parts()
            parts["encoder"] = nn.Sequential(parts["encoder"], nn.Unflatten(1, (self.n_positions_, code_dim)))
        quantizer = VectorQuantizer(
            int(self.codebook_size), code_dim, self.codebook_update, float(self.ema_decay), int(self.restart_unused_after)
        )
        return {**parts, "quantizer": quantizer}

    def _loss_terms(self) -> list[LossTerm]:
        codebook = [CodebookLoss()] if self.codebook_update == "loss" else []
        return [*super()._loss_terms(), *codebook, Commitment(self.commitment_weight)]

    # ------------------------------------------------------------------ entry numbers
    def encode_indices(self, X: Any) -> np.ndarray:
        """The codebook entry of each code vector of ``X``, integers in ``[0, codebook_size)``, shape (n, positions)
        (grid cells in raster order)."""
        X = self._validate_X(X, reset=False)
        return self._map_batches(self.module_.encode_indices, self._to_tensor(X)).astype(np.int64, copy=False)

    def decode_indices(self, indices: Any) -> np.ndarray:
        """Decoder means for entry numbers (n, positions), as :meth:`encode_indices` gives them, in the training
        input's shape."""
        check_is_fitted(self)
        indices = check_array(indices, dtype=None, input_name="indices")
        if not np.issubdtype(indices.dtype, np.integer) and not (
            np.issubdtype(indices.dtype, np.floating) and np.all(indices == np.round(indices))
        ):
            raise ValueError(
                f"indices must be integer entry numbers; got dtype {indices.dtype}. Pass what encode_indices() gives."
            )
        if indices.shape[1] != self.n_positions_ or indices.min() < 0 or indices.max() >= self.codebook_size:
            raise ValueError(
                f"indices must have {self.n_positions_} columns (one per code position) of entry numbers in "
                f"[0, {self.codebook_size}); got shape {indices.shape} with values in [{indices.min()}, "
                f"{indices.max()}]. Pass what encode_indices() gives."
            )
        entries = torch.as_tensor(indices.astype(np.int64)).to(self.device_)
        decoded = self._map_batches(self.module_.decode_indices, entries)
        return self._to_input_layout(decoded, np.dtype(np.float32))

    def codebook_perplexity(self, X: Any) -> float:
        """``exp`` of the entropy of the entries' usage over all code vectors of ``X``: how many entries are in use
        (exactly so when they are used equally); between 1 and ``codebook_size``."""
        counts = np.bincount(self.encode_indices(X).ravel(), minlength=int(self.codebook_size))
        p = counts[counts > 0] / counts.sum()
        return float(np.exp(-(p * np.log(p)).sum()))

    # ------------------------------------------------------------------ the prior and sampling
    def _keep_codes_for_density(self, x: torch.Tensor, condition: torch.Tensor | None, rng: np.random.RandomState) -> None:
        """Keep the entry numbers of (at most 10,000) training rows for the prior, and a seed to fit it with.

        The prior is fitted on the first :meth:`sample` or :meth:`save` (seconds), so
        grid searches and detectors that never sample never pay for it, and a model
        samples the same whether it was saved first or not.
        """
        keep = np.sort(rng.permutation(x.shape[0])[:MAX_CODES_FOR_DENSITY])
        rows = x.subset(keep) if isinstance(x, MappedSource) else RowSubset(x, torch.as_tensor(keep, device=x.device))
        for name in _CODE_PRIOR_ATTRIBUTES:
            self.__dict__.pop(name, None)  # a refit's prior is fitted anew
        self._density_codes = self._map_batches(self.module_.encode_indices, rows)
        self._density_seed = draw_seed(rng)

    def _fit_code_density(self) -> None:
        """Fit the autoregressive prior on the kept entry numbers, once (the VQ-VAE's density of its codes)."""
        if hasattr(self, "code_prior_parameters_") or getattr(self, "_density_codes", None) is None:
            return
        self.code_prior_layout_, self.code_prior_parameters_ = fit_code_prior(
            self._density_codes, int(self.codebook_size), self._density_seed
        )

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """Decode ``n_samples`` entry sequences drawn from the prior over entry numbers, in the training input's shape.

        The prior is fitted on the first call (or by :meth:`save`); the same
        ``random_state`` gives the same samples, also from a loaded model.
        """
        check_is_fitted(self)
        check_positive_int("n_samples", n_samples)
        self._fit_code_density()
        if not hasattr(self, "code_prior_parameters_"):
            raise ValueError(
                "This VQVAE has no prior over its codes to sample from: its training codes are not at hand (a "
                "model file saved without one). Refit the model, and save it after fitting."
            )
        if self.code_prior_layout_.get("codebook_size") != self.codebook_size or (
            self.code_prior_layout_.get("n_positions") != self.n_positions_
        ):
            raise ValueError(
                f"The code prior's layout {self.code_prior_layout_} does not fit this model's {self.n_positions_} "
                f"positions of {self.codebook_size} entries; the model file was altered. Refit the model."
            )
        indices = sample_code_prior(self.code_prior_layout_, self.code_prior_parameters_, n_samples, random_state)
        return self.decode_indices(indices)
