"""Normalizing flows: invertible layers with exact log-determinants, stacked on N(0, I).

Every layer maps per sample ``forward(x) -> (y, log_det)`` and ``inverse(y) -> (x,
log_det)``, where ``log_det`` has shape ``(n,)`` and is ``log |det dy/dx|`` for
``forward`` and ``log |det dx/dy|`` for ``inverse`` (so the two are negatives of each
other at matching points).  A :class:`Flow` runs its layers ``forward`` from data to
the base space ("normalizing" direction), so by the change of variables

    log p(x) = log N(f(x); 0, I) + log |det df/dx|,

and samples by running the layers ``inverse`` on base noise.

Layers:

* :class:`ActNorm` -- element-wise affine ``(x - loc) / scale`` with optional
  data-dependent initialisation (Kingma & Dhariwal, 2018).
* :class:`Permutation` and :class:`Reverse` -- reorder the dimensions (log-det 0).
* :class:`AffineCoupling` -- RealNVP (Dinh et al., 2017): half the dimensions,
  chosen by a mask, set a shift and a tanh-bounded log-scale for the other half.
  Both directions cost one pass.
* :class:`MaskedAffineAutoregressive` -- MAF (Papamakarios et al., 2017): dimension
  ``i`` is shifted and scaled by a :class:`MADE` of ``x[:i]``.  Density is one pass;
  sampling (``inverse``) takes ``dim`` passes.
* :class:`InverseAutoregressive` -- one IAF step (Kingma et al., 2016),
  ``z' = sigma * z + (1 - sigma) * m`` with ``(m, s) = MADE(z, h)`` and
  ``sigma = sigmoid(s)``: MAF's cheap pass used in the sampling direction, for a
  flexible VAE posterior.  See its docstring for how the log-densities chain.

Every layer takes an optional ``context`` of shape ``(n, context_dim)``; layers built
without one (``context_dim=0``, and the ActNorm and permutations) ignore it.  Like
the other model modules this file knows tensors only: no numpy, no input validation.
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.base import BaseModule
from aekit.models.terms import ForwardPass, LossTerm, standard_normal_log_prob

FLOW_KINDS = ("realnvp", "maf")


class InvertibleLayer(nn.Module):
    """A bijection with a tractable log-determinant, evaluated per sample.

    Subclasses implement :meth:`forward` and :meth:`inverse`.
    """

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log |det dy/dx|)`` with ``y`` shaped like ``x`` and the log-det ``(n,)``."""
        raise NotImplementedError

    def inverse(
        self, y: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, log |det dx/dy|)``: undoes :meth:`forward`."""
        raise NotImplementedError


def _bounded(raw: torch.Tensor, limit: float) -> torch.Tensor:
    """``limit * tanh(raw / limit)``: about ``raw`` near 0, never beyond ``+-limit``.

    Unbounded log-scales let one layer blow a sample up by ``exp(large)`` early in
    training; the bound caps each layer's factor at ``exp(limit)``.
    """
    return limit * torch.tanh(raw / limit)


class ActNorm(InvertibleLayer):
    """Element-wise affine ``y = (x - loc) * exp(-log_scale)``, log-det ``-sum(log_scale)``.

    Parameters
    ----------
    dim : int
        Number of features.
    data_init : bool
        If True, the first :meth:`forward` sets ``loc`` and ``log_scale`` to the batch's
        per-feature mean and log standard deviation, so the output starts standardized
        (the "actnorm" of Glow).  If False, the layer starts as the identity.

    Notes
    -----
    A :class:`Flow` made of this layer alone is the Gaussian ``N(loc, diag(exp(2 *
    log_scale)))``.
    """

    def __init__(self, dim: int, data_init: bool = True):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        # A buffer, so a loaded model keeps its parameters instead of re-initialising.
        self.register_buffer("initialized", torch.tensor(not data_init))

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        self.loc.copy_(x.mean(0))
        self.log_scale.copy_(x.std(0, unbiased=False).clamp_min(1e-6).log())
        self.initialized.fill_(True)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.initialized:
            self._initialize(x)
        y = (x - self.loc) * torch.exp(-self.log_scale)
        return y, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(
        self, y: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = y * torch.exp(self.log_scale) + self.loc
        return x, self.log_scale.sum().expand(y.shape[0])


class Permutation(InvertibleLayer):
    """``y = x[:, order]``; a permutation has ``|det| = 1``.

    Placed between autoregressive or coupling layers so that every dimension gets
    to condition the others.
    """

    def __init__(self, order: Sequence[int] | torch.Tensor):
        super().__init__()
        order = torch.as_tensor(order, dtype=torch.long)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, self.order], x.new_zeros(x.shape[0])

    def inverse(
        self, y: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return y[:, self.inverse_order], y.new_zeros(y.shape[0])


class Reverse(Permutation):
    """Reverses the order of the ``dim`` features (MAF's choice between layers)."""

    def __init__(self, dim: int):
        super().__init__(torch.arange(dim - 1, -1, -1))


def _mlp(n_inputs: int, hidden: Sequence[int], n_outputs: int) -> nn.Sequential:
    """``Linear -> ReLU`` per hidden width, then a zero-initialised output layer.

    The zero output makes every coupling layer start as the identity, so a deep
    stack starts as a well-behaved (standard-normal) density.
    """
    sizes = [n_inputs, *hidden]
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    output = nn.Linear(sizes[-1], n_outputs)
    nn.init.zeros_(output.weight)
    nn.init.zeros_(output.bias)
    return nn.Sequential(*layers, output)


class AffineCoupling(InvertibleLayer):
    """RealNVP's affine coupling: ``y = x * exp(s(x_kept)) + t(x_kept)`` on the other dimensions.

    ``x_kept = x * mask`` passes through unchanged and conditions, through an MLP,
    the shift ``t`` and log-scale ``s`` of the dimensions where the mask is 0.  The
    Jacobian is triangular, so ``log |det| = sum(s)``; the inverse
    ``x = (y - t) * exp(-s)`` reuses ``s`` and ``t`` of the unchanged half.

    Parameters
    ----------
    dim : int
        Number of features, at least 2 (one to keep, one to transform).
    hidden : sequence of int
        Widths of the conditioner MLP's hidden layers.
    parity : int
        0 keeps the even-indexed features, 1 the odd ones; alternate it between
        layers so every feature is transformed.
    context_dim : int
        Size of the optional context, concatenated to the conditioner's input.
    max_log_scale : float
        Bound on ``|s|`` per layer (a smooth tanh clamp) for numerical stability.
    """

    def __init__(
        self,
        dim: int,
        hidden: Sequence[int] = (64, 64),
        parity: int = 0,
        context_dim: int = 0,
        max_log_scale: float = 3.0,
    ):
        super().__init__()
        if dim < 2:
            raise ValueError(f"AffineCoupling needs dim >= 2 (one half conditions the other); got {dim}.")
        self.register_buffer("mask", (torch.arange(dim) % 2 == parity).to(torch.get_default_dtype()))
        self.conditioner = _mlp(dim + context_dim, hidden, 2 * dim)
        self.uses_context = context_dim > 0
        self.max_log_scale = float(max_log_scale)

    def _shift_log_scale(
        self, kept: torch.Tensor, context: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.cat([kept, context], 1) if self.uses_context else kept
        shift, raw_log_scale = self.conditioner(inputs).chunk(2, dim=1)
        transformed = 1 - self.mask
        # Zero shift and log-scale on the kept dimensions make them pass through exactly.
        return shift * transformed, _bounded(raw_log_scale, self.max_log_scale) * transformed

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_log_scale(x * self.mask, context)
        return x * torch.exp(log_scale) + shift, log_scale.sum(1)

    def inverse(
        self, y: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_log_scale(y * self.mask, context)
        return (y - shift) * torch.exp(-log_scale), -log_scale.sum(1)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    An MLP of :class:`MaskedLinear` layers whose ``n_params`` outputs for feature ``i``
    depend only on the inputs ``x[:, :i]`` (and on the context, which enters the
    first layer unmasked).  Input ``i`` has degree ``i + 1``; hidden units get degrees
    ``1 .. dim-1`` in turn and see the inputs of degree at most theirs; output ``i``
    sees the hidden units of degree below ``i + 1``.

    ``forward`` returns a tuple of ``n_params`` tensors, each ``(n, dim)``.  The output
    layer starts at zero, so an autoregressive layer built on it starts as the identity.
    """

    def __init__(self, dim: int, hidden: Sequence[int], n_params: int = 2, context_dim: int = 0):
        super().__init__()
        if not hidden:
            raise ValueError("MADE needs at least one hidden layer.")
        self.n_params = n_params
        input_degrees = torch.arange(1, dim + 1)
        # With dim == 1 there is no earlier input to see: the hidden units get degree
        # 0, so the single output depends on the context (and biases) only.
        hidden_degrees = [torch.arange(width) % max(dim - 1, 1) + min(dim - 1, 1) for width in hidden]
        degrees = [input_degrees, *hidden_degrees]
        self.hidden_layers = nn.ModuleList(
            MaskedLinear(len(d_in), len(d_out), d_out[:, None] >= d_in[None, :])
            for d_in, d_out in zip(degrees[:-1], degrees[1:])
        )
        output_degrees = input_degrees.repeat(n_params)
        self.output_layer = MaskedLinear(
            hidden[-1], n_params * dim, output_degrees[:, None] > hidden_degrees[-1][None, :]
        )
        nn.init.zeros_(self.output_layer.weight)
        nn.init.zeros_(self.output_layer.bias)
        self.context_layer = nn.Linear(context_dim, hidden[0], bias=False) if context_dim else None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        h = x
        for k, layer in enumerate(self.hidden_layers):
            h = layer(h)
            if k == 0 and self.context_layer is not None:
                h = h + self.context_layer(context)
            h = F.relu(h)
        return self.output_layer(h).chunk(self.n_params, dim=1)


class MaskedAffineAutoregressive(InvertibleLayer):
    """One MAF layer: ``u_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``.

    ``forward`` (data to noise, used for the density) is one :class:`MADE` pass with
    log-det ``-sum(alpha)``.  ``inverse`` (noise to data, used for sampling) must
    produce ``x_i`` before ``mu_{i+1}`` can be computed, so it takes ``dim`` passes.

    Parameters
    ----------
    dim : int
        Number of features.
    hidden : sequence of int
        Hidden widths of the MADE.
    context_dim : int
        Size of the optional context.
    max_log_scale : float
        Smooth bound on ``|alpha|`` per layer.
    """

    def __init__(
        self, dim: int, hidden: Sequence[int] = (64, 64), context_dim: int = 0, max_log_scale: float = 3.0
    ):
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden, n_params=2, context_dim=context_dim)
        self.max_log_scale = float(max_log_scale)

    def _shift_log_scale(
        self, x: torch.Tensor, context: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift, raw_log_scale = self.made(x, context)
        return shift, _bounded(raw_log_scale, self.max_log_scale)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_log_scale(x, context)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(1)

    def inverse(
        self, u: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # After pass k the first k features are exact (feature i depends on x_<i only),
        # so dim passes give x; no in-place writes, so autograd can go through it.
        x = torch.zeros_like(u)
        for _ in range(self.dim):
            shift, log_scale = self._shift_log_scale(x, context)
            x = u * torch.exp(log_scale) + shift
        return x, log_scale.sum(1)


class InverseAutoregressive(InvertibleLayer):
    """One IAF step (Kingma et al., 2016): ``z' = sigma * z + (1 - sigma) * m``.

    ``(m, s) = MADE(z, h)`` with ``sigma = sigmoid(s + gate_bias)``, so ``z'_i``
    depends on ``z_<=i`` and the context ``h``; in the form ``z' = mu(z, h) + sigma *
    z`` the shift is ``mu = (1 - sigma) * m``.  The Jacobian is triangular with
    diagonal ``sigma``: ``log |det dz'/dz| = sum(log sigma)``.  ``forward`` is one
    pass; ``inverse`` takes ``dim`` passes.

    As a VAE posterior: with ``z_0 = mu(x) + sigma(x) * eps`` and the encoder's
    features ``h``, apply steps ``z_t, log_det_t = step(z_{t-1}, h)`` (with a
    :class:`Reverse` between steps) and ``log q(z_T | x) = log q(z_0 | x) - sum_t
    log_det_t``: sampling and scoring one's own samples are both single passes.

    Parameters
    ----------
    dim : int
        Latent size.
    hidden : sequence of int
        Hidden widths of the MADE.
    context_dim : int
        Size of the context ``h`` (0 for none).
    gate_bias : float
        Added to ``s`` so that ``sigma`` starts near ``sigmoid(gate_bias)``, i.e. each
        step starts close to keeping ``z`` (the paper's "forget gate bias" of 1 or 2).
    """

    def __init__(
        self, dim: int, hidden: Sequence[int] = (64, 64), context_dim: int = 0, gate_bias: float = 2.0
    ):
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden, n_params=2, context_dim=context_dim)
        self.gate_bias = float(gate_bias)

    def _gate(self, z: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(m, s + gate_bias)``, the target and the gate's logit."""
        m, s = self.made(z, context)
        return m, s + self.gate_bias

    def forward(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m, logit = self._gate(z, context)
        sigma = torch.sigmoid(logit)
        # logsigmoid rather than log(sigmoid): no -inf when the gate saturates.
        return sigma * z + (1 - sigma) * m, F.logsigmoid(logit).sum(1)

    def inverse(
        self, z_next: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros_like(z_next)
        for _ in range(self.dim):
            m, logit = self._gate(z, context)
            sigma = torch.sigmoid(logit)
            z = (z_next - (1 - sigma) * m) / sigma
        return z, -F.logsigmoid(logit).sum(1)


class Flow(nn.Module):
    """A stack of invertible layers on a standard-normal base ``N(0, I_dim)``.

    The layers run ``forward`` from data to base; ``log_prob`` is exact.  Calling the
    module returns :meth:`log_prob`, the quantity to maximize in training.

    Parameters
    ----------
    layers : sequence of InvertibleLayer
        Applied in order from data to base space.
    dim : int
        Number of features.
    """

    def __init__(self, layers: Sequence[InvertibleLayer], dim: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.dim = dim
        # Tells sample() the device and dtype even when no layer has parameters;
        # not persistent, so it stays out of the state dict.
        self.register_buffer("_reference", torch.zeros(0), persistent=False)

    def transform(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Data to base: ``(z, log |det dz/dx|)``."""
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, layer_log_det = layer(x, context)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(
        self, z: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Base to data: ``(x, log |det dx/dz|)``."""
        log_det = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, layer_log_det = layer.inverse(z, context)
            log_det = log_det + layer_log_det
        return z, log_det

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Exact ``log p(x)`` per sample, shape ``(n,)``, in nats."""
        z, log_det = self.transform(x, context)
        return standard_normal_log_prob(z) + log_det

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_prob(x, context)

    def _base_sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        ref = self._reference
        return torch.randn(n, self.dim, generator=generator, device=ref.device, dtype=ref.dtype)

    def sample(
        self, n: int, context: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` samples ``(n, dim)``; ``context``, if given, is ``(n, context_dim)``.

        ``generator`` (on the flow's device) makes the draw reproducible without
        touching the global random state.
        """
        return self.inverse(self._base_sample(n, generator), context)[0]

    def sample_with_log_prob(
        self, n: int, context: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples and their ``log p``, from the sampling path alone.

        ``log p(x) = log N(z) - log |det dx/dz|``: no second (for MAF, sequential)
        pass through the flow is needed.
        """
        z = self._base_sample(n, generator)
        x, log_det = self.inverse(z, context)
        return x, standard_normal_log_prob(z) - log_det


def make_flow(
    dim: int,
    n_layers: int = 4,
    hidden: Sequence[int] = (64, 64),
    kind: str = "realnvp",
    context_dim: int = 0,
) -> Flow:
    """A flow of ``n_layers`` steps, each an :class:`ActNorm` then a transform.

    Parameters
    ----------
    dim : int
        Number of features (at least 2 for "realnvp").
    n_layers : int
        Number of coupling or autoregressive layers.
    hidden : sequence of int
        Hidden widths of each conditioner network.
    kind : {"realnvp", "maf"}
        "realnvp": :class:`AffineCoupling` with alternating masks (fast both ways).
        "maf": :class:`MaskedAffineAutoregressive` with a :class:`Reverse` between
        layers (fast density, sampling ``dim`` times slower).
    context_dim : int
        Size of an optional conditioning input passed to every transform.

    Returns
    -------
    Flow
        Its ActNorms initialise from the first batch that goes through ``log_prob``
        or ``transform``; pass training data through once before sampling.
    """
    if kind not in FLOW_KINDS:
        raise ValueError(f"kind={kind!r} is not one of {FLOW_KINDS}.")
    layers: list[InvertibleLayer] = []
    for k in range(n_layers):
        layers.append(ActNorm(dim))
        if kind == "realnvp":
            layers.append(AffineCoupling(dim, hidden, parity=k % 2, context_dim=context_dim))
        else:
            if k > 0:
                layers.append(Reverse(dim))
            layers.append(MaskedAffineAutoregressive(dim, hidden, context_dim=context_dim))
    return Flow(layers, dim)


def make_iaf_posterior(
    dim: int, n_layers: int = 2, hidden: Sequence[int] = (320, 320), context_dim: int = 0, gate_bias: float = 2.0
) -> Flow:
    """A VAE posterior flow of ``n_layers`` :class:`InverseAutoregressive` steps (Kingma et al., 2016).

    A :class:`Reverse` between steps lets every dimension condition the others, as in the
    paper; the output keeps the dimension order of the input.  Run with :meth:`Flow.transform` on a Gaussian draw ``z_0`` and the encoder's
    features ``h`` as context: ``z, log_det = flow.transform(z_0, h)``, then
    ``log q(z|x) = log q(z_0|x) - log_det``.  (Here the layers run in the sampling
    direction; the flow's standard-normal base is not used.)

    Parameters
    ----------
    dim : int
        Latent size.
    n_layers : int
        IAF steps; the paper's MNIST models use 2 to 8.
    hidden : sequence of int
        Hidden widths of each step's MADE (the paper's "width", 320 or 1920).
    context_dim : int
        Size of the encoder features ``h`` every step sees.
    gate_bias : float
        Starts each gate near ``sigmoid(gate_bias)``: a step first changes ``z`` little.
    """
    layers: list[InvertibleLayer] = []
    for k in range(n_layers):
        if k > 0:
            layers.append(Reverse(dim))
        layers.append(InverseAutoregressive(dim, hidden, context_dim=context_dim, gate_bias=gate_bias))
    if n_layers % 2 == 0:
        # Back to the Gaussian's order: steps whose outputs stay near their inputs then leave z near z_0,
        # dimension by dimension (an odd number of reversals would swap the code's dimensions).
        layers.append(Reverse(dim))
    return Flow(layers, dim)


class FlowNegativeLogLikelihood(LossTerm):
    """``-log p(x)`` per sample, in nats, from the flow's forward pass (what a flow minimizes)."""

    name = "nll"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return -(standard_normal_log_prob(p.code) + p.out)


class FlowModule(BaseModule):
    """A :class:`Flow` behind the model interface, so aekit's trainer fits it like any model.

    The "code" of ``x`` is its image ``f(x)`` in the base space and decoding is ``f^-1``:
    a bijection, so ``reconstruct`` gives ``x`` back up to rounding.  In the
    :class:`~aekit.models.terms.ForwardPass`, ``out`` holds ``log |det df/dx|`` per
    sample, the one extra quantity the likelihood needs; ``score`` is the exact
    ``log p(x)``.
    """

    def __init__(self, flow: Flow, terms: Sequence[LossTerm] | None = None):
        super().__init__([FlowNegativeLogLikelihood()] if terms is None else terms)
        self.flow = flow

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow.transform(x)[0]

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow.inverse(z)[0]

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> ForwardPass:
        z, log_det = self.flow.transform(x)
        return ForwardPass(x=x, x_in=x, code=z, z=z, out=log_det, condition=condition)

    def score(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.flow.log_prob(x)
