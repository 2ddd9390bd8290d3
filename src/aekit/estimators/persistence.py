"""Model files: one safetensors file holding the weights and, in its header, the JSON config.

Nothing is ever unpickled: safetensors stores raw tensors plus a JSON header, and
the configuration lives in that header's string metadata.  Writes go to a temporary
file in the same folder and are renamed into place, so a crash or a bad input never
leaves a half-written model where a good one was.

Loading treats the file as untrusted: the header holds a SHA-256 of the configuration
and the tensors (verified when present; files written before it load unchecked), the
JSON nesting is bounded, only fitted-attribute names (``name_``, no method or property)
are applied, weights must be finite, and the stored shapes are compared with those the
configuration implies on torch's "meta" device, which allocates nothing, before the
real module is built: a hostile configuration cannot make aekit allocate gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aekit.estimators import registry
from aekit.estimators.params import SHARED_PARAMS
from aekit.utils.files import atomic_write
from aekit.utils.runtime import resolve_device

FORMAT_NAME = "aekit"
# 2: "estimator" holds the registry key ("aekit.VAE"); version 1 files named aekit's classes bare.
FORMAT_VERSION = 2
_MODULE_PREFIX = "module."
_ARRAY_PREFIX = "array."
#: Deepest JSON nesting a configuration may have (aekit's own are at most 4 deep).
MAX_CONFIG_DEPTH = 32


class ModelFileError(ValueError):
    """A model file that is missing, damaged, foreign or inconsistent."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a model file's JSON config")


def save_estimator(estimator: Any, path: str | os.PathLike) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no faithful JSON form
    fitted = estimator._fitted_attributes()
    arrays = {k: v for k, v in fitted.items() if isinstance(v, np.ndarray)}
    config = {
        "params": _jsonable(params),
        "fitted": _jsonable({k: v for k, v in fitted.items() if k not in arrays}),
    }
    tensors = {
        _MODULE_PREFIX + k: v.detach().to("cpu").contiguous()
        for k, v in estimator.module_.state_dict().items()
    }
    tensors.update({_ARRAY_PREFIX + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    key, config_text = registry.registry_key(type(estimator)), json.dumps(config)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "estimator": key,
        "config": config_text,
        "checksum": checksum(key, config_text, tensors),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def checksum(estimator_key: str, config_text: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the estimator name, the configuration and every tensor (name, dtype, shape, bytes)."""
    digest = hashlib.sha256(f"{estimator_key}\n{config_text}\n".encode())
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return "sha256:" + digest.hexdigest()


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (iterative: a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check_attribute_names(cls: type, names: list[str]) -> None:
    """Only fitted attributes (``name_``) may come from a file, never one that replaces a method or property."""
    bad = sorted(
        n
        for n in names
        if not (isinstance(n, str) and n.isidentifier() and n.endswith("_") and not n.startswith("_"))
        or n in ("module_", "device_")
        or hasattr(cls, n)
    )
    if bad:
        raise ModelFileError(
            f"fitted attributes {bad} are not fitted attributes of {cls.__name__} (they would replace its "
            "methods or internals)"
        )


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}; pass the path given to save().")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{path} is not a readable aekit model file ({exc}). It may be truncated, altered "
            "or of another format; save the model again with est.save(path)."
        ) from None
    return metadata, tensors


def _check_config(estimator: Any) -> None:
    """Parameters pass the estimator's own checks and the recorded shapes agree with each other."""
    estimator._validate_params()
    input_shape, model_shape = estimator.input_shape_, estimator.model_shape_
    sizes = [*input_shape, *model_shape]
    if (
        not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
        or math.prod(input_shape) != estimator.n_features_in_
        or math.prod(model_shape) != estimator.n_features_in_
        or estimator.architecture_ not in set(SHARED_PARAMS["architecture"].constraint.options) - {"auto"}
    ):
        raise ValueError(
            f"input shape {input_shape}, model shape {model_shape}, {estimator.n_features_in_} features "
            f"and architecture {estimator.architecture_!r} do not agree"
        )
    latent_dim = estimator.latent_dim_
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1 or (
        estimator.latent_dim != "auto" and latent_dim != estimator.latent_dim
    ):
        raise ValueError(f"latent_dim={estimator.latent_dim!r} and the fitted latent_dim_={latent_dim!r} do not agree")


def load_estimator(path: str | os.PathLike) -> Any:
    """Rebuild a fitted estimator saved with ``est.save(path)``.

    Raises :class:`ModelFileError` (a ValueError) naming the file when it is not an
    aekit model, was written by a newer format, or its weights do not match its
    configuration.
    """
    path = Path(path)
    metadata, tensors = _read(path)
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is a safetensors file but not an aekit model (no aekit header).")
    try:
        version = int(metadata.get("format_version", ""))
        config = json.loads(metadata["config"])
        if _depth(config) > MAX_CONFIG_DEPTH:
            raise ValueError(f"configuration nested deeper than {MAX_CONFIG_DEPTH} levels")
        params, fitted = config["params"], config["fitted"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        reason = "configuration nested too deeply" if isinstance(exc, RecursionError) else repr(exc)
        raise ModelFileError(f"{path} has a damaged aekit header ({reason}); save the model again.") from None
    if "checksum" in metadata and metadata["checksum"] != checksum(
        str(metadata.get("estimator", "")), metadata["config"], tensors
    ):
        raise ModelFileError(
            f"{path} fails its checksum: its weights or configuration changed after it was saved (a damaged "
            "disk or copy, or an edit). Save the model again, or restore the file from a good copy."
        )
    not_finite = sorted(k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if not_finite:
        raise ModelFileError(
            f"{path} holds NaN or infinite values in {not_finite[:5]}{' ...' if len(not_finite) > 5 else ''}; "
            "a model with such weights gives NaN results. Refit and save it again."
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in aekit model format {version}, newer than this aekit reads "
            f"({FORMAT_VERSION}); upgrade aekit to load it."
        )
    cls = registry.lookup(str(metadata.get("estimator", "")))
    if cls is None:
        raise ModelFileError(
            f"{path} holds an unknown estimator {metadata.get('estimator')!r}; if it is a class of your own, "
            "import the module that defines it before calling aekit.load."
        )
    try:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        estimator = cls(**params)
    except (TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path} has parameters this aekit does not know: {exc}") from None
    arrays = {k[len(_ARRAY_PREFIX):]: v.numpy() for k, v in tensors.items() if k.startswith(_ARRAY_PREFIX)}
    state = {k[len(_MODULE_PREFIX):]: v for k, v in tensors.items() if k.startswith(_MODULE_PREFIX)}
    try:
        _check_attribute_names(cls, [*fitted, *arrays])
        estimator._restore_fitted_attributes({**fitted, **arrays})
        _check_config(estimator)
        if len(getattr(estimator, "hidden_", ())) > len(state):  # every layer holds at least one tensor
            raise ValueError(f"{len(estimator.hidden_)} hidden layers but {len(state)} weight tensors")
        estimator.device_ = resolve_device(estimator.device)
        with torch.device("meta"):  # shapes only: nothing is allocated, whatever the configuration says
            expected = estimator._build_module().state_dict()
    except (TypeError, ValueError, AttributeError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise ModelFileError(
            f"{path} has an invalid configuration ({exc}); the file was altered or damaged. Save the model again."
        ) from None
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if state[k].shape != expected[k].shape
    ]
    unexplained = set(tensors) - {_MODULE_PREFIX + k for k in state} - {_ARRAY_PREFIX + k for k in arrays}
    if missing or extra or wrong or unexplained:
        raise ModelFileError(
            f"{path}: weights do not match the configuration (missing {missing}, unexpected "
            f"{extra + sorted(unexplained)}, wrong shapes {wrong}); the file was altered or mixed up."
        )
    module = estimator._build_module()
    module.load_state_dict(state)
    estimator.module_ = module.to(estimator.device_)
    estimator._ready_for_inference()
    return estimator
