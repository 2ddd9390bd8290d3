"""ONNX export of a fitted estimator's encoder, decoder or score (see ``BaseAutoEncoder.export_onnx``).

Each part is one graph with a dynamic batch axis, run by any ONNX runtime:

* ``encoder``: ``x`` (batch, *input_shape) -> ``code`` (batch, latent_dim), what ``transform`` gives;
* ``decoder``: ``z`` (batch, latent_dim) -> ``reconstruction`` (batch, *input_shape), ``inverse_transform``;
* ``score``: ``x`` -> ``score`` (batch,), ``score_samples`` (higher = more typical).

An :class:`InputScaling` puts a service's raw inputs on the model's scale inside the
graph (``(x - offset) / scale`` per feature, and back on the decoder's output): the run
folder's scaling (uint8 pixels / 255, standardized CSV columns) or a table model's
standardization of its numeric columns.  The graphs are made by torch's
``torch.export``-based exporter (``dynamo=True``, which needs ``onnxscript``): the
TorchScript exporter still in torch 2.13 warns that it will be removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from aekit.utils.files import atomic_write

PARTS = ("encoder", "decoder", "score")
_INSTALL = 'python3 -m pip install "aekit[onnx]" (onnx, onnxruntime, onnxscript)'


@dataclass(frozen=True)
class InputScaling:
    """Raw input ``x`` -> model input ``(x - offset) / scale``, per feature; decoder outputs go back.

    ``offset`` and ``scale`` are scalars or arrays of one sample's shape; ``clip``
    bounds the decoder's output in raw units (pixels: 0 to 255).
    """

    offset: Any = 0.0
    scale: Any = 1.0
    clip: tuple[float, float] | None = None


class _Part(nn.Module):
    """One exported part: raw input -> scaling -> the estimator's tensor function -> raw output."""

    def __init__(
        self,
        part: str,
        fn: Callable[[torch.Tensor], torch.Tensor],
        owner: nn.Module,
        model_shape: tuple[int, ...],
        sample_shape: tuple[int, ...],
        scaling: InputScaling | None,
    ):
        super().__init__()
        self.owner = owner  # registers the weights, so that the graph holds them as initializers
        self.part, self.fn, self.model_shape, self.sample_shape = part, fn, model_shape, sample_shape
        scaling = scaling or InputScaling()
        for name in ("offset", "scale"):
            value = np.broadcast_to(np.asarray(getattr(scaling, name), dtype=np.float32), sample_shape)
            self.register_buffer(name, torch.as_tensor(value.copy()), persistent=False)
        self.clip = scaling.clip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part == "decoder":
            out = self.fn(x).reshape(-1, *self.sample_shape) * self.scale + self.offset
            return out if self.clip is None else out.clamp(*self.clip)
        return self.fn(((x - self.offset) / self.scale).reshape(-1, *self.model_shape))


def _require_onnx() -> None:
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            raise ImportError(f"ONNX export needs the package {name!r}: {_INSTALL}") from None


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's progress prints, its warnings about optional torchvision ops, and deprecation noise
    from its dependencies say nothing about the user's model."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_part(
    path: str | os.PathLike,
    part: str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    owner: nn.Module,
    sample_shape: tuple[int, ...],
    model_shape: tuple[int, ...],
    latent_dim: int,
    scaling: InputScaling | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write ``fn`` (a tensor function of ``owner``'s module) as the ONNX graph of ``part``, atomically.

    Raises ValueError for a ``part`` not in :data:`PARTS` (before ``fn`` is looked at).

    ``sample_shape`` is one raw sample's shape (the graph's input for encoder/score, its
    output for the decoder); ``model_shape`` what ``fn`` takes or returns.  ``metadata``
    goes into the model's ``metadata_props`` (JSON values), with the part and the layout.
    """
    if part not in PARTS:
        raise ValueError(f"part={part!r} is not an exportable part; choose one of {list(PARTS)}.")
    _require_onnx()
    import onnx

    shapes = {"x": sample_shape, "z": (latent_dim,), "code": (latent_dim,), "reconstruction": sample_shape, "score": ()}
    input_name, output_name = {"encoder": ("x", "code"), "decoder": ("z", "reconstruction"), "score": ("x", "score")}[part]
    device = next(owner.parameters()).device
    example = torch.zeros(2, *shapes[input_name], device=device)  # two rows: no size-1 specialization
    was_training = owner.training
    owner.eval()
    graph = _Part(part, fn, owner, model_shape, sample_shape, scaling).to(device)

    def write(tmp: str) -> None:
        with _quiet_exporter(), torch.no_grad():
            torch.onnx.export(
                graph,
                (example,),
                tmp,
                input_names=[input_name],
                output_names=[output_name],
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                dynamo=True,
                external_data=False,
            )
        model = onnx.load(tmp)
        layout = {
            "part": part,
            "input": [input_name, ["batch", *shapes[input_name]]],
            "output": [output_name, ["batch", *shapes[output_name]]],
            **(metadata or {}),
        }
        onnx.helper.set_model_props(model, {f"aekit.{k}": json.dumps(v) for k, v in layout.items()})
        onnx.save(model, tmp)

    try:
        atomic_write(path, write)
    finally:
        owner.train(was_training)


__all__ = ["PARTS", "InputScaling", "export_part"]
