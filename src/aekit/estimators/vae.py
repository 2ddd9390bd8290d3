"""The variational autoencoder estimator."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from aekit.estimators.base import UNIT_INTERVAL_TOLERANCE, BaseAutoEncoder
from aekit.estimators.params import Choice, Flag, Integer, Param, Real, Widths
from aekit.models.flows import make_iaf_posterior
from aekit.models.terms import GaussianKL, LossTerm, MonteCarloKL
from aekit.models.vae import OBJECTIVES, VAEModule
from aekit.utils.checks import check_positive_int
from aekit.utils.runtime import draw_seed, torch_seeded

POSTERIORS = ("gaussian", "iaf")


class VAE(BaseAutoEncoder):
    """Variational autoencoder with a diagonal-Gaussian posterior, or an IAF one (beta-VAE when beta != 1).

    Trained by maximizing the ELBO ``E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I))``
    with the reparameterization trick.

    Notes
    -----
    ``transform`` returns the posterior mean, so it is deterministic.
    ``score_samples`` is a deterministic ELBO surrogate (decoder evaluated at the
    posterior mean); :meth:`log_likelihood` gives the importance-weighted estimate.

    With ``posterior="iaf"`` (Kingma et al., 2016) the Gaussian draw ``z_0 = mu + sigma *
    eps`` goes through ``n_flow_layers`` inverse autoregressive steps, each a MADE of
    ``z`` and the encoder's features (widths ``flow_hidden``): ``z_t = s_t * z_{t-1} + (1 -
    s_t) * m_t`` with gates ``s_t`` starting near sigmoid(2), as the paper advises.  The KL
    is then charged as the one-draw estimate ``log q(z|x) - log p(z)`` with ``log q(z|x) =
    log N(z_0; mu, sigma^2) - sum_t log |det dz_t/dz_{t-1}|`` (the paper's objective), and
    :meth:`log_likelihood` weighs its draws by that exact density.  ``transform`` is the
    flow's image of ``mu`` (the draw of noise 0; the posterior mean has no closed form)
    and ``score_samples`` the one-point ELBO there.  The paper's binarized-MNIST models
    use 2 steps of width 320 (its smallest IAF, Table 1), the defaults here.
    """

    _wide_codes_regularized = True
    _params = {
        "beta": Param(1.0, Real(), "Weight of the KL term (beta-VAE; > 1 favours disentangled, blurrier codes)."),
        "likelihood": Param(
            "auto",
            Choice("auto", "bernoulli", "gaussian"),
            "p(x|z). Bernoulli needs inputs in [0, 1]; Gaussian learns one standard deviation per feature. "
            '"auto" picks Bernoulli when the training data lie in [0, 1] (pixels) and Gaussian otherwise '
            "(standardized tables); the choice is likelihood_.",
        ),
        "kl_warmup_epochs": Param(
            0, Integer(minimum=0), "Ramp the KL weight linearly from 1/kl_warmup_epochs to 1 (0 = no warm-up)."
        ),
        "dynamic_binarization": Param(
            False,
            Flag(),
            "Redraw every training batch as Bernoulli samples with the pixel values as probabilities, each time "
            "it is used (the protocol of Burda et al. for binarized MNIST). Needs inputs in [0, 1] and "
            'likelihood="bernoulli".',
        ),
        "kl_free_bits": Param(
            0.0,
            Real(),
            "Free bits (Kingma et al., 2016): each latent dimension's KL, averaged over the batch, is charged at "
            "least this many nats, which keeps dimensions from collapsing to the prior. 0 disables it.",
        ),
        "objective": Param(
            "elbo",
            Choice(*OBJECTIVES),
            '"iwae" trains on the importance-weighted bound with n_importance_samples draws per input (Burda et '
            "al., 2016), a tighter bound than the ELBO; it ignores beta, kl_warmup_epochs and kl_free_bits, "
            "which must stay at their defaults.",
        ),
        "n_importance_samples": Param(
            5, Integer(), 'Draws per input for objective="iwae" (each step costs about k decoder passes).'
        ),
        "conditional": Param(
            False,
            Flag(),
            "A conditional VAE (Sohn et al., 2015): fit(X, y) takes class labels; the encoder models q(z | x, y) "
            "and the decoder p(x | z, y), so the code holds what the label does not (style) and sample(n, y=...) "
            "draws the requested class. sample, inverse_transform(Z, y=...), reconstruct(X, y=...) and "
            "log_likelihood(X, y=...) then need labels. transform(X, y=None) works without them: it encodes each "
            "row under the label with the highest ELBO surrogate (one extra encoder and decoder pass per class).",
        ),
        "posterior": Param(
            "gaussian",
            Choice(*POSTERIORS),
            '"gaussian": q(z|x) is a diagonal Gaussian, its KL in closed form. "iaf": that Gaussian\'s draw is '
            "pushed through an inverse autoregressive flow conditioned on the encoder's features (Kingma et al., "
            "2016), a more flexible posterior; the KL becomes a one-draw estimate (see Notes).",
        ),
        "n_flow_layers": Param(
            2, Integer(), 'IAF steps of posterior="iaf" (the paper: 2 to 8 on MNIST); unused by "gaussian".'
        ),
        "flow_hidden": Param(
            (320, 320),
            Widths(allow_none=False),
            'Hidden widths of each IAF step\'s MADE (the paper\'s width 320); unused by posterior="gaussian".',
        ),
    }
    _module_cls = VAEModule
    _samples_from_prior = True
    #: Relatives whose terms extend the ELBO refuse objective="iwae", whose bound replaces the terms' sum.
    _adds_elbo_terms: ClassVar[bool] = False
    #: Relatives whose terms read the diagonal Gaussian's mean and variance refuse posterior="iaf".
    _gaussian_posterior_terms: ClassVar[bool] = False
    cli_name = "vae"
    tour_rank = 5

    @classmethod
    def tour_params(cls, latent_dim: int, unit_range: bool) -> dict[str, Any]:
        return {"latent_dim": latent_dim, "likelihood": "bernoulli" if unit_range else "gaussian"}

    def _resolve_data_settings(self, low: float, high: float) -> None:
        if self.likelihood != "auto":
            self.likelihood_ = self.likelihood
        else:  # dynamic binarization draws binary data: Bernoulli (its range check then says what is wrong)
            in_unit_interval = low >= -UNIT_INTERVAL_TOLERANCE and high <= 1 + UNIT_INTERVAL_TOLERANCE
            self.likelihood_ = "bernoulli" if in_unit_interval or self.dynamic_binarization else "gaussian"

    def _validate_own_params(self) -> None:
        if self._adds_elbo_terms and self.objective != "elbo":
            raise ValueError(
                f"{type(self).__name__} adds terms to the ELBO, which objective={self.objective!r} would ignore "
                "(its bound replaces the terms' sum); use objective='elbo'."
            )
        if self.dynamic_binarization and self.likelihood == "gaussian":
            raise ValueError(
                "dynamic_binarization=True draws binary data, which needs likelihood='bernoulli'; "
                f"got likelihood={self.likelihood!r}."
            )
        if self.objective == "iwae" and (self.beta != 1.0 or self.kl_warmup_epochs or self.kl_free_bits):
            raise ValueError(
                "objective='iwae' optimizes the importance-weighted bound, which has no separate KL "
                "term to weight: leave beta=1, kl_warmup_epochs=0 and kl_free_bits=0, or use objective='elbo'."
            )
        if self.posterior == "iaf" and self._gaussian_posterior_terms:
            raise ValueError(
                f"{type(self).__name__}'s terms read the mean and variance of a diagonal-Gaussian posterior, which "
                "posterior='iaf' does not have; use posterior='gaussian'."
            )
        if self.posterior == "iaf" and not self.flow_hidden:
            raise ValueError(
                "flow_hidden=() leaves each IAF step's MADE without a hidden layer, which it needs to be "
                "autoregressive; pass one width or more, e.g. flow_hidden=(320, 320)."
            )
        if self.posterior == "iaf" and self.kl_free_bits:
            raise ValueError(
                "kl_free_bits charges each latent dimension's KL, but a flow posterior's KL does not split by "
                "dimension; use kl_free_bits=0 with posterior='iaf', or posterior='gaussian'."
            )

    def _loss_terms(self) -> list[LossTerm]:
        if self.posterior == "iaf":
            kl: LossTerm = MonteCarloKL(self.beta, warmup_epochs=self.kl_warmup_epochs)
        else:
            kl = GaussianKL(self.beta, warmup_epochs=self.kl_warmup_epochs, free_bits=self.kl_free_bits)
        return [*super()._loss_terms(), kl]

    def _posterior_flow(self, context_dim: int) -> torch.nn.Module | None:
        """The IAF steps of ``posterior="iaf"`` for encoder features of ``context_dim`` (None: Gaussian)."""
        if self.posterior != "iaf":
            return None
        return make_iaf_posterior(self.latent_dim_, int(self.n_flow_layers), tuple(self.flow_hidden), context_dim)

    # ------------------------------------------------------------------ conditions
    def _prepare_fit(self, X: np.ndarray, y: Any) -> np.ndarray | None:
        if not self.conditional:
            return None
        if y is None:
            raise ValueError("conditional=True needs class labels: call fit(X, y) with one label per sample.")
        y = column_or_1d(y, warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(y)} labels; pass one label per sample.")
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def _condition(self, y: Any, n: int) -> tuple[torch.Tensor, ...]:
        """One-hot conditions for ``n`` rows as a tuple for ``_map_batches`` (empty when unconditional)."""
        if not self.conditional:
            if y is not None:
                raise ValueError("y was given but this VAE is not conditional; fit with conditional=True to use labels.")
            return ()
        if y is None:
            raise ValueError(f"This VAE is conditional: pass y, labels from {list(self.classes_)}.")
        y = np.asarray(y)
        y = np.full(n, y.item(), dtype=y.dtype) if y.ndim == 0 else column_or_1d(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels for {n} rows; pass one label per row (or a single label).")
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                f"y contains labels {sorted(set(y[unknown].tolist()))} not seen in fit; "
                f"known labels are {list(self.classes_)}."
            )
        return (torch.as_tensor(np.eye(len(self.classes_), dtype=np.float32)[index]).to(self.device_),)

    def _fitted_attributes(self) -> dict[str, Any]:
        attributes = super()._fitted_attributes()
        if "classes_" in attributes:
            attributes["classes_"] = attributes["classes_"].tolist()  # labels may be strings: JSON, not tensors
        return attributes

    def _restore_fitted_attributes(self, attributes: dict[str, Any]) -> None:
        super()._restore_fitted_attributes(attributes)
        if "likelihood_" not in attributes:  # files written before likelihood="auto" existed
            self.likelihood_ = self.likelihood
        if "classes_" in attributes:
            self.classes_ = np.asarray(attributes["classes_"])

    def _module_parts(self) -> dict[str, Any]:
        n_conditions = len(self.classes_) if self.conditional else 0
        body, decoder = self._networks(self.model_shape_, self.latent_dim_ + n_conditions)
        if n_conditions:  # q(z | x, y): the encoder takes the one-hot label as extra features or channels
            channels, *rest = self.model_shape_
            body, _ = self._networks((channels + n_conditions, *rest), self.latent_dim_)
        return {
            "encoder": body,
            "encoder_features": body.out_features,
            "decoder": decoder,
            "likelihood": self._likelihood(self.likelihood_),
            "latent_dim": self.latent_dim_,
            "resample": torch.bernoulli if self.dynamic_binarization else None,
            "objective": self.objective,
            "n_importance_samples": self.n_importance_samples,
            "n_conditions": n_conditions,
            "posterior_flow": self._posterior_flow(body.out_features),
        }

    def transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Posterior means, shape (n, latent_dim).

        A conditional VAE encodes under the labels ``y`` when given, else under the
        label its ELBO surrogate finds most likely for each row.
        """
        if y is None:
            return super().transform(X)
        X = self._validate_X(X, reset=False)
        codes = self._map_batches(self.module_.encode, self._to_tensor(X), *self._condition(y, X.shape[0]))
        return codes.astype(self._output_dtype(X), copy=False)

    def sample(self, n_samples: int = 1, random_state: Any = None, y: Any = None) -> np.ndarray:
        """Decode ``n_samples`` codes drawn from the prior N(0, I); decoder means.

        A conditional VAE needs ``y``: one label for all samples or one per sample.
        """
        return self.inverse_transform(self._draw_codes(n_samples, random_state), y=y)

    def inverse_transform(self, Z: Any, y: Any = None) -> np.ndarray:
        """Decoder mean for codes ``Z`` (n, latent_dim); a conditional VAE needs labels ``y``."""
        return self._decode_codes(Z, lambda n: self._condition(y, n))

    def reconstruct(self, X: Any, y: Any = None) -> np.ndarray:
        """decode(encode(X)).

        A conditional VAE encodes and decodes under the labels ``y`` when given, else
        under the label its ELBO surrogate finds most likely for each row (as
        :meth:`transform`; so do ``reconstruction_error`` and ``score_samples``).
        """
        if y is None:
            return super().reconstruct(X)
        X = self._validate_X(X, reset=False)
        x_hat = self._map_batches(self.module_.reconstruct, self._to_tensor(X), *self._condition(y, X.shape[0]))
        return self._to_input_layout(x_hat, self._output_dtype(X))

    def export_onnx(self, path: Any, part: str = "encoder", input_scaling: Any = None) -> None:
        if getattr(self, "conditional", False):
            raise ValueError(
                "a conditional VAE's graphs would need the label as a second input, which export_onnx does not "
                "write yet; export a VAE fitted without conditional=True."
            )
        super().export_onnx(path, part, input_scaling)

    export_onnx.__doc__ = BaseAutoEncoder.export_onnx.__doc__

    def log_likelihood(
        self,
        X: Any,
        n_samples: int = 1000,
        random_state: Any = None,
        max_batch_elements: int = 2**24,
        y: Any = None,
    ) -> np.ndarray:
        """Importance-weighted estimate of log p(x) in nats, per sample (Burda et al., 2016).

        ``log p(x) ~= logsumexp_k(log p(x, z_k) - log q(z_k|x)) - log k`` with
        ``z_k ~ q(z|x)``.  Work is split into chunks of inputs and importance samples
        so that at most ``max_batch_elements`` decoded values live at once, whatever the
        number of inputs (measured: benchmarks/README.md).  A conditional VAE
        estimates log p(x | y) and needs the labels ``y``.
        """
        check_positive_int("n_samples", n_samples)
        X = self._validate_X(X, reset=False)
        x = self._to_tensor(X)
        condition = self._condition(y, X.shape[0])
        c = condition[0] if condition else None
        rows = max(1, max_batch_elements // self.n_features_in_)  # decoded rows per step
        # Many draws of few inputs per step: the encoder then runs once per input.
        draws_per_step = min(n_samples, rows)
        inputs_per_step = max(1, rows // draws_per_step)
        out = np.empty(x.shape[0], dtype=np.float64)
        with torch_seeded(draw_seed(random_state), self.device_), torch.inference_mode():
            for start in range(0, x.shape[0], inputs_per_step):
                xb = x[start : start + inputs_per_step]
                cb = None if c is None else c[start : start + inputs_per_step]
                log_w = torch.cat(
                    [
                        self.module_.log_importance_weights(xb, min(draws_per_step, n_samples - done), cb)
                        for done in range(0, n_samples, draws_per_step)
                    ],
                    dim=1,
                ).double()
                out[start : start + xb.shape[0]] = (torch.logsumexp(log_w, dim=1) - np.log(n_samples)).cpu().numpy()
        return out
