"""The normalizing-flow density estimator: exact log-densities and samples, on the autoencoders' API."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Widths, changed
from aekit.models.flows import FLOW_KINDS, FlowModule, make_flow


class Flow(BaseAutoEncoder):
    """Normalizing flow: an invertible map ``f`` of the data onto ``N(0, I)``, fitted by exact maximum likelihood.

    ``log p(x) = log N(f(x); 0, I) + log |det df/dx|`` (see :mod:`aekit.models.flows`):
    :meth:`score_samples` and :meth:`log_likelihood` are this exact log-density in
    nats (a density: it may be positive), :meth:`sample` maps base noise through
    ``f^-1``.  ``transform`` is ``f`` (the code has as many columns as the input,
    ``latent_dim_ = n_features_in_``) and ``inverse_transform`` is ``f^-1``, so
    ``reconstruct`` returns its input up to rounding: use the log-density, not a
    reconstruction error, to score (``AnomalyDetector(Flow(), score="log_likelihood")``).
    Images are modelled as flat vectors of their pixels.

    Each of ``n_layers`` steps is an ActNorm (initialised from the first training
    batch) then a RealNVP affine coupling (Dinh et al., 2017; fast both ways) or a MAF
    layer (Papamakarios et al., 2017; fast density, sampling ``n_features`` times
    slower).  Standardize tables first: the flow models the density of the values given.

    Examples
    --------
    >>> import numpy as np, aekit
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> flow = aekit.Flow(epochs=5, random_state=0).fit(X)
    >>> flow.score_samples(X[:3]).shape, flow.sample(4, random_state=0).shape
    ((3,), (4, 2))
    """

    _params_root = True
    _params = {
        "kind": Param(
            "realnvp",
            Choice(*FLOW_KINDS),
            '"realnvp": affine couplings with alternating masks (needs at least 2 features); "maf": masked '
            "autoregressive layers, more flexible per layer, sampling one feature at a time.",
            cli=True,
        ),
        "n_layers": Param(5, Integer(), "Coupling or autoregressive steps (each after an ActNorm).", cli=True),
        "hidden": Param(
            (64, 64),
            Widths(allow_none=False),
            "Hidden widths of each step's conditioner MLP (a MADE for \"maf\").",
            cli=True,
        ),
        "epochs": changed(SHARED_PARAMS["epochs"], default=100),
        **{
            name: SHARED_PARAMS[name]
            for name in (
                "batch_size",
                "learning_rate",
                "learning_rate_schedule",
                "weight_decay",
                "validation_fraction",
                "early_stopping",
                "patience",
                "device",
                "random_state",
                "verbose",
                "precision",
            )
        },
    }
    _module_cls = FlowModule
    # A bijection: the "code" is as wide as the input by construction, and samples come from N(0, I).
    _wide_codes_regularized = True
    _samples_from_prior = True
    cli_name = "flow"

    @property
    def latent_dim(self) -> int:
        """The base space has as many dimensions as the data (fitted)."""
        return int(self.n_features_in_)

    def _resolve_architecture(self) -> None:
        self.architecture_ = "mlp"
        self.model_shape_ = (self.n_features_in_,)
        self.hidden_ = tuple(int(h) for h in self.hidden)

    def _resolve_code_size(self) -> None:
        if self.kind == "realnvp" and self.n_features_in_ < 2:
            raise ValueError(
                'kind="realnvp" splits the features in two halves, but X has 1 feature(s). Use kind="maf", '
                "which models a single feature too."
            )
        self.latent_dim_ = int(self.n_features_in_)

    def _build_module(self) -> FlowModule:
        return FlowModule(make_flow(self.n_features_in_, int(self.n_layers), self.hidden_, self.kind))

    def log_likelihood(self, X: Any, n_samples: Any = None, random_state: Any = None) -> np.ndarray:
        """Exact ``log p(x)`` per sample in nats, shape (n,): :meth:`score_samples` under the VAE's name.

        ``n_samples`` and ``random_state`` are accepted so the flow stands where a VAE's
        importance-weighted estimate does (``AnomalyDetector(score="log_likelihood")``);
        an exact density needs neither.
        """
        return self.score_samples(X)
