"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One safetensors file holds the tensors (current and best weights, the optimizer's
moment estimates, every RNG state as bytes) and, in its header, JSON for the rest
(epoch, history, early-stopping counters, optimizer hyperparameters, the settings the
run was started with).  Loading therefore never unpickles anything.  The file is
replaced atomically after every epoch, so a process killed at any moment leaves
either the previous checkpoint or the new one, never a mixture.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aekit.utils.files import atomic_write, remove_stale_temporaries

CHECKPOINT_FILE = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "aekit-checkpoint"
CHECKPOINT_VERSION = 1
# Settings that may change between a run and its resumption: more epochs, other output.
RESUMABLE_CHANGES = ("epochs", "verbose", "patience", "early_stopping")


@dataclass
class TrainingState:
    """The trainer's state at the end of an epoch (``epoch`` epochs done)."""

    epoch: int
    history: dict[str, list]
    best_loss: float
    best_epoch: int
    epochs_without_improvement: int
    finished: bool
    module_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    rng_states: list[torch.Tensor]  # torch's CPU generator, one per rank
    cuda_rng_states: list[torch.Tensor] = field(default_factory=list)
    permutation_rng_state: torch.Tensor | None = None


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from (damaged, foreign or for other settings)."""


@dataclass
class Checkpoint:
    """Where a training run keeps its checkpoint, and whether to continue from it.

    ``fingerprint`` describes the run (estimator, parameters, data shape); resuming
    from a checkpoint written for a different run is refused, except for the
    settings in :data:`RESUMABLE_CHANGES`.
    """

    path: Path
    fingerprint: dict[str, Any]
    resume: bool = False

    def save(self, state: TrainingState) -> None:
        tensors = {f"module.{k}": v for k, v in state.module_state.items()}
        tensors.update({f"best.{k}": v for k, v in state.best_state.items()})
        optimizer_entries = {}
        for index, entry in state.optimizer_state["state"].items():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{index}.{key}"] = value
                else:
                    optimizer_entries.setdefault(str(index), {})[key] = value
        for rank, rng in enumerate(state.rng_states):
            tensors[f"rng.cpu.{rank}"] = rng
        for rank, rng in enumerate(state.cuda_rng_states):
            tensors[f"rng.cuda.{rank}"] = rng
        if state.permutation_rng_state is not None:
            tensors["rng.permutation"] = state.permutation_rng_state
        header = {
            "fingerprint": self.fingerprint,
            "epoch": state.epoch,
            "history": state.history,
            "best_loss": state.best_loss,
            "best_epoch": state.best_epoch,
            "epochs_without_improvement": state.epochs_without_improvement,
            "finished": state.finished,
            "optimizer_param_groups": state.optimizer_state["param_groups"],
            "optimizer_entries": optimizer_entries,
        }
        metadata = {
            "format": CHECKPOINT_FORMAT,
            "format_version": str(CHECKPOINT_VERSION),
            "state": json.dumps(header),
        }
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}

        def write(tmp: str) -> None:
            try:
                save_file(tensors, tmp, metadata=metadata)
            except RuntimeError:  # tensors sharing memory (tied weights): store copies
                save_file({k: v.clone() for k, v in tensors.items()}, tmp, metadata=metadata)

        # Copying 4x the weights first would cost more than writing them (measured: 0.1 s vs 0.03 s).
        atomic_write(self.path, write)

    def load(self) -> TrainingState | None:
        """The saved state, or None when there is no checkpoint yet."""
        # A process killed while saving leaves its temporaries (never the checkpoint) behind.
        remove_stale_temporaries(self.path)
        if not self.path.is_file():
            return None
        try:
            with safe_open(str(self.path), framework="pt") as f:
                metadata = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            if metadata.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("no aekit checkpoint header")
            version = int(metadata["format_version"])
            header = json.loads(metadata["state"])
        except (SafetensorError, OSError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(
                f"{self.path} is not a readable aekit checkpoint ({exc}); delete it to start the run over."
            ) from None
        if version > CHECKPOINT_VERSION:
            raise CheckpointError(f"{self.path} was written by a newer aekit (format {version}); upgrade aekit.")
        if not isinstance(header, dict):
            raise CheckpointError(f"{self.path} has a damaged header; delete it to start the run over.")
        self._check_fingerprint(header.get("fingerprint", {}))

        try:
            return _state(header, tensors)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(
                f"{self.path} has a damaged header ({exc!r}); delete it to start the run over."
            ) from None

    def _check_fingerprint(self, saved: dict[str, Any]) -> None:
        def comparable(fingerprint: dict[str, Any]) -> dict[str, Any]:
            params = {k: v for k, v in fingerprint.get("params", {}).items() if k not in RESUMABLE_CHANGES}
            return {**fingerprint, "params": params}

        old, new = comparable(saved), comparable(_json_round_trip(self.fingerprint))
        if old != new:
            differences = sorted(
                {k for k in set(old) | set(new) if k != "params" and old.get(k) != new.get(k)}
                | {
                    k
                    for k in set(old.get("params", {})) | set(new.get("params", {}))
                    if old.get("params", {}).get(k) != new.get("params", {}).get(k)
                }
            )
            raise CheckpointError(
                f"{self.path} belongs to a run with other settings (different: {', '.join(differences)}). "
                "Resume with the same model, parameters and data, or start over without --resume "
                "(or in another --out folder)."
            )


def _state(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> TrainingState:
    """The training state of a checkpoint's header and tensors (KeyError/TypeError/ValueError when damaged)."""

    def prefixed(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    def per_rank(prefix: str) -> list[torch.Tensor]:
        states = prefixed(prefix)
        return [states[str(rank)] for rank in range(len(states))]

    optimizer_state: dict[int, dict[str, Any]] = {}
    for name, value in prefixed("optimizer.").items():
        index, key = name.split(".", 1)
        optimizer_state.setdefault(int(index), {})[key] = value
    for index, entries in header["optimizer_entries"].items():
        optimizer_state.setdefault(int(index), {}).update(entries)
    param_groups = header["optimizer_param_groups"]
    for group in param_groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    return TrainingState(
        epoch=int(header["epoch"]),
        history=header["history"],
        best_loss=float(header["best_loss"]),
        best_epoch=int(header["best_epoch"]),
        epochs_without_improvement=int(header["epochs_without_improvement"]),
        finished=bool(header["finished"]),
        module_state=prefixed("module."),
        best_state=prefixed("best."),
        optimizer_state={"state": optimizer_state, "param_groups": param_groups},
        rng_states=per_rank("rng.cpu."),
        cuda_rng_states=per_rank("rng.cuda."),
        permutation_rng_state=tensors.get("rng.permutation"),
    )


#: The per-parameter entries each optimizer keeps (others, e.g. a user's, are not checked).
_OPTIMIZER_ENTRIES = {"Adam": {"step", "exp_avg", "exp_avg_sq"}, "SGD": {"momentum_buffer"}}


def check_resumable(
    state: TrainingState, module: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path
) -> None:
    """Refuse a checkpoint whose state could not continue this run, before any of it is applied.

    A checkpoint is written by aekit, but a disk, a copy or a hand can damage it in
    ways the safetensors format does not notice: counters out of range, a history of
    the wrong length, missing optimizer moments, an RNG state of the wrong size, or
    weights of the wrong shape.  Raises :class:`CheckpointError` naming what is wrong.
    """
    problems = []
    if not 0 <= state.epoch or not 0 <= state.best_epoch <= state.epoch:
        problems.append(f"epoch {state.epoch} and best epoch {state.best_epoch} are out of range")
    if state.epochs_without_improvement < 0 or state.epochs_without_improvement > state.epoch:
        problems.append(f"{state.epochs_without_improvement} epochs without improvement after {state.epoch}")
    history = state.history
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        problems.append("the history is not a table of per-epoch lists")
    elif {len(v) for v in history.values()} != {state.epoch} or history.get("epoch") != list(range(1, state.epoch + 1)):
        problems.append(f"the history does not hold one entry per epoch for {state.epoch} epochs")
    expected = module.state_dict()
    for label, weights in (("weights", state.module_state), ("best weights", state.best_state)):
        wrong = sorted(
            set(expected) ^ set(weights)
            | {k for k in set(expected) & set(weights) if weights[k].shape != expected[k].shape}
        )
        if wrong:
            problems.append(f"the {label} do not fit the model ({', '.join(wrong[:4])})")
        elif not all(bool(torch.isfinite(v).all()) for v in weights.values() if v.is_floating_point()):
            problems.append(f"the {label} hold NaN or infinite values")
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    groups = state.optimizer_state["param_groups"]
    if len(groups) != len(optimizer.param_groups) or sum(len(g.get("params", [])) for g in groups) != len(parameters):
        problems.append("the optimizer's parameter groups do not match the model")
    needed = _OPTIMIZER_ENTRIES.get(type(optimizer).__name__)
    for index, entry in state.optimizer_state["state"].items():
        if not 0 <= index < len(parameters):
            problems.append(f"optimizer state for parameter {index}, which the model does not have")
            break
        if needed is not None and not needed <= set(entry):
            problems.append(f"optimizer state of parameter {index} lacks {sorted(needed - set(entry))}")
            break
        shapes = [v.shape for k, v in entry.items() if isinstance(v, torch.Tensor) and k != "step"]
        if any(shape != parameters[index].shape for shape in shapes):
            problems.append(f"optimizer state of parameter {index} has the wrong shape")
            break
    cpu_size = torch.get_rng_state().numel()
    rngs = [*state.rng_states, *([] if state.permutation_rng_state is None else [state.permutation_rng_state])]
    if not state.rng_states or any(r.dtype != torch.uint8 or r.numel() != cpu_size for r in rngs):
        problems.append("a random generator state is missing or of the wrong size")
    if problems:
        raise CheckpointError(
            f"{path} is damaged ({'; '.join(problems)}); it cannot continue this run. Delete it to start "
            "the run over, or restore it from a good copy."
        )


def _json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))



def checkpoint_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / CHECKPOINT_FILE
