"""The stacked autoencoder: greedy layer-wise pretraining, then end-to-end fine-tuning."""

from __future__ import annotations

import torch
from torch import nn

from aekit.data.corruption import make_corruption
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import SHARED_PARAMS, Choice, Integer, Param, Real, Widths, changed
from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.terms import Reconstruction
from aekit.nn.likelihoods import SquaredError
from aekit.train.trainer import Trainer


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
    }
    cli_name = "stacked"

    def _validate_own_params(self) -> None:
        if self.architecture == "conv":
            raise ValueError("StackedAutoEncoder is a fully connected network; use architecture='auto' or 'mlp'.")
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
                layer = self._pretraining_layer(index, encoder, decoder)
                config.description = f"{type(self).__name__} layer {index + 1}"
                phases.append(
                    (
                        f"pretrain_layer{index + 1}",
                        Trainer(config).fit(
                            layer,
                            _encode(below, x_train),
                            None if x_val is None else _encode(below, x_val),
                        ),
                    )
                )
        phases.append(("finetune", super()._train(x_train, x_val, condition_train, condition_val)))
        return _concatenate_phases(phases)


def _concatenate_phases(phases: list[tuple[str, dict[str, list]]]) -> dict[str, list]:
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
