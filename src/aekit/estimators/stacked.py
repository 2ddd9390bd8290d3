"""The stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from aekit.data.corruption import make_corruption
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Real, Widths, changed
from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.rbm import ContrastiveDivergence, RBMModule
from aekit.models.terms import Reconstruction
from aekit.nn.likelihoods import SquaredError
from aekit.train.trainer import TrainConfig, Trainer

#: Hinton & Salakhutdinov's (2006) code: momentum 0.9, weight cost 2e-4, and the top
#: (linear) layer at a hundredth of the others' learning rate (0.001 vs 0.1).
RBM_MOMENTUM, RBM_WEIGHT_DECAY, RBM_TOP_RATE_FACTOR = 0.9, 2e-4, 0.01


def _layer_groups(network: nn.Module) -> list[nn.Sequential]:
    """Split a chain of ``Linear`` layers into one group per ``Linear``.

    Modules before the first ``Linear`` (``Flatten``) join it; those after a
    ``Linear`` (its activation, ``Unflatten``) join that ``Linear``.  The groups
    share, not copy, the network's layers.
    """
    groups: list[list[nn.Module]] = [[]]
    for layer in (m for m in network.modules() if not list(m.children())):
        if isinstance(layer, nn.Linear) and any(isinstance(m, nn.Linear) for m in groups[-1]):
            groups.append([])
        groups[-1].append(layer)
    return [nn.Sequential(*group) for group in groups]


# Corruptions that need no data range, since codes above the first layer have none.
PRETRAIN_NOISE_KINDS = ("gaussian", "masking")


@torch.no_grad()
def _encode(layers: list[nn.Module], x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    if not layers:
        return x
    stack = nn.Sequential(*layers).eval()
    return torch.cat([stack(x[start : start + batch_size]) for start in range(0, x.shape[0], batch_size)])


class StackedAutoEncoder(AutoEncoder):
    """Deep MLP autoencoder trained greedily one layer at a time, then fine-tuned end to end.

    The network is ``d - hidden... - latent_dim - ...hidden - d`` (the same as
    :class:`aekit.AutoEncoder` with ``architecture="mlp"``).  Layer ``i`` is first
    trained as a one-layer autoencoder on the codes of the (frozen) layers below it
    (Bengio et al., 2007; Vincent et al., 2010 with ``pretrain_noise``), sharing its
    weights with the deep network; then the whole network is trained for
    ``epochs`` epochs.  ``history_`` holds every epoch of both phases in order, with
    ``history_["phase"]`` naming each ("pretrain_layer1", ..., "finetune").  Losses
    of layers above the first are squared errors on codes, not on the data.

    With ``pretraining="rbm"`` each layer is instead a restricted Boltzmann machine
    trained by CD-1 on the hidden probabilities of the one below (Bernoulli visible
    units for data in [0, 1], unit-variance Gaussian ones otherwise; the top one with
    linear Gaussian hidden units, whose real-valued states are the code), and the
    stack is unrolled into encoder and decoder with tied initial weights: encoder
    layer ``W``, ``c``, decoder layer ``W^T``, ``b`` (Hinton & Salakhutdinov, 2006).
    The unrolled network is the RBMs' only with ``activation="sigmoid"``, which it requires.

    Pretraining is what makes the network learn in the classic setting of sigmoid units
    and SGD (``activation="sigmoid", solver="sgd"``); with Adam (the default) the deep
    network trains well from a random start.  Measurements: benchmarks/README.md.

    Examples
    --------
    >>> from aekit import StackedAutoEncoder, datasets
    >>> X, y = datasets.load_digits(images=False)
    >>> sae = StackedAutoEncoder(hidden=(32,), latent_dim=8, pretrain_epochs=2, epochs=2, random_state=0).fit(X)
    >>> sorted(set(sae.history_["phase"]))
    ['finetune', 'pretrain_layer1', 'pretrain_layer2']
    """

    _params = {
        "hidden": changed(
            SHARED_PARAMS["hidden"],
            default=(300, 150),
            constraint=Widths(allow_none=False),
            doc="Hidden widths of the encoder (the code of size latent_dim comes after them). The classic "
            "784-300-150-300-784 network is hidden=(300,), latent_dim=150.",
        ),
        "pretrain_epochs": Param(10, Integer(minimum=0), "Epochs of greedy pretraining per layer (0 skips pretraining)."),
        "pretrain_noise": Param(
            None,
            Choice(None, *PRETRAIN_NOISE_KINDS),
            "Corrupt each layer's input while pretraining it (a stacked denoising autoencoder).",
        ),
        "noise_level": Param(0.3, Real(), "Standard deviation or fraction for pretrain_noise."),
        "pretraining": Param(
            "autoencoder",
            Choice("autoencoder", "rbm"),
            '"autoencoder": each layer a one-layer autoencoder; "rbm": each layer an RBM trained by CD-1, '
            "unrolled with tied initial weights (Hinton & Salakhutdinov, 2006; needs activation='sigmoid').",
        ),
        "rbm_learning_rate": Param(
            0.1,
            Real(0.0, 10.0, low_open=True),
            "SGD step of the RBMs of pretraining='rbm' (momentum 0.9, weight decay 2e-4; the top, linear layer "
            "at a hundredth of it), as in Hinton & Salakhutdinov's code.",
        ),
    }
    cli_name = "stacked"

    def _validate_own_params(self) -> None:
        if self.architecture == "conv":
            raise ValueError("StackedAutoEncoder is a fully connected network; use architecture='auto' or 'mlp'.")
        if self.pretraining == "rbm" and self.activation != "sigmoid":
            raise ValueError(
                f"pretraining='rbm' unrolls RBMs into sigmoid units, but activation={self.activation!r}; "
                "pass activation='sigmoid' (or pretraining='autoencoder')."
            )
        if self.pretraining == "rbm" and self.pretrain_noise is not None:
            raise ValueError("pretrain_noise corrupts autoencoder layers; with pretraining='rbm' leave it None.")
        if self.pretrain_noise == "masking" and self.noise_level >= 1.0:
            raise ValueError("noise_level is the masked fraction for pretrain_noise='masking'; it must be below 1.")

    def _resolve_architecture(self) -> None:
        self.architecture_ = "mlp"
        self.model_shape_ = (self.n_features_in_,)
        self.hidden_ = tuple(int(h) for h in self.hidden)

    def _pretraining_layer(self, index: int, encoder: nn.Module, decoder: nn.Module) -> AutoEncoderModule:
        likelihood = self.module_.likelihood if index == 0 else SquaredError()
        corruption = None
        if self.pretrain_noise is not None:
            corruption = make_corruption(self.pretrain_noise, float(self.noise_level))
        return AutoEncoderModule(encoder, decoder, likelihood, [Reconstruction()], corruption=corruption)

    def _train(self, x_train, x_val, condition_train, condition_val) -> dict[str, list]:
        encoder_layers = _layer_groups(self.module_.encoder)
        decoder_layers = _layer_groups(self.module_.decoder)[::-1]
        phases: list[tuple[str, dict[str, list]]] = []
        if self.pretrain_epochs > 0:
            config = self._train_config()
            config.epochs = int(self.pretrain_epochs)
            for index, (encoder, decoder) in enumerate(zip(encoder_layers, decoder_layers)):
                below = encoder_layers[:index]
                config.description = f"{type(self).__name__} layer {index + 1}"
                inputs = (_encode(below, x_train), None if x_val is None else _encode(below, x_val))
                if self.pretraining == "rbm":
                    top = index == len(encoder_layers) - 1
                    history = _pretrain_rbm(encoder, decoder, inputs, config, float(self.rbm_learning_rate), top)
                else:
                    history = Trainer(config).fit(self._pretraining_layer(index, encoder, decoder), *inputs)
                phases.append((f"pretrain_layer{index + 1}", history))
        phases.append(("finetune", super()._train(x_train, x_val, condition_train, condition_val)))
        return concatenate_phases(phases)


def _linear(group: nn.Module) -> nn.Linear:
    return next(m for m in group.modules() if isinstance(m, nn.Linear))


def _pretrain_rbm(
    encoder: nn.Module,
    decoder: nn.Module,
    inputs: tuple[torch.Tensor, torch.Tensor | None],
    config: TrainConfig,
    learning_rate: float,
    top: bool,
) -> dict[str, list]:
    """Train an RBM by CD-1 on ``inputs`` and copy it into the layer pair (tied: ``W`` and ``W^T``)."""
    x_train = inputs[0]
    forward, backward = _linear(encoder), _linear(decoder)
    unit_interval = bool(x_train.min() >= 0 and x_train.max() <= 1)
    rbm = RBMModule(
        forward.in_features,
        forward.out_features,
        visible="bernoulli" if unit_interval else "gaussian",
        hidden="gaussian" if top else "binary",
    ).to(x_train.device)
    config = replace(
        config,
        solver="sgd",
        momentum=RBM_MOMENTUM,
        weight_decay=RBM_WEIGHT_DECAY,
        early_stopping=False,
        learning_rate=learning_rate * (RBM_TOP_RATE_FACTOR if top else 1.0),
    )
    history = Trainer(config).fit(ContrastiveDivergence(rbm, steps=1, persistent=False), *inputs)
    with torch.no_grad():
        forward.weight.copy_(rbm.weight)
        forward.bias.copy_(rbm.hidden_bias)
        backward.weight.copy_(rbm.weight.T)
        backward.bias.copy_(rbm.visible_bias)
    return history


def concatenate_phases(phases: list[tuple[str, dict[str, list]]]) -> dict[str, list]:
    """One per-epoch history across phases; ``epoch`` counts on, ``phase`` names each epoch."""
    keys = sorted({k for _, history in phases for k in history if k != "epoch"})
    merged: dict[str, list] = {"epoch": [], "phase": [], **{k: [] for k in keys}}
    for name, history in phases:
        n = len(history["epoch"])
        merged["phase"] += [name] * n
        for k in keys:
            merged[k] += history.get(k, [float("nan")] * n)
    merged["epoch"] = list(range(1, len(merged["phase"]) + 1))
    return merged
