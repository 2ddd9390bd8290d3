"""The one registry of estimator classes, feeding ``aekit.load``, the CLI's model names, the tour and ``__all__``.

Keys are collision-safe: aekit's own classes are ``"aekit.<Name>"`` and any other
class is ``"<module>.<qualname>"``, so a user's class named ``VAE`` can never stand
in for aekit's when a model file is loaded.
"""

from __future__ import annotations

from typing import Any

_CLASSES: dict[str, type] = {}


def registry_key(cls: type) -> str:
    if cls.__module__.split(".")[0] == "aekit":
        return f"aekit.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def register(cls: type) -> None:
    key = registry_key(cls)
    existing = _CLASSES.get(key)
    if existing is not None and existing.__module__.split(".")[0] == "aekit" and existing is not cls:
        raise TypeError(f"{cls.__module__}.{cls.__qualname__}: aekit already has an estimator named {key}.")
    _CLASSES[key] = cls


def lookup(key: str) -> type | None:
    """The class saved under ``key``; files written before the registry had keys name aekit's classes bare."""
    return _CLASSES.get(key if "." in key else f"aekit.{key}")


def library_estimators() -> list[type]:
    """aekit's own public estimator classes, in the order they were defined."""
    return [cls for key, cls in _CLASSES.items() if key.startswith("aekit.") and not cls.__name__.startswith("Base")]


def cli_models() -> dict[str, type]:
    """``aekit train`` names of aekit's estimators: each class's own ``cli_name`` (never inherited)."""
    return {vars(cls)["cli_name"]: cls for cls in library_estimators() if vars(cls).get("cli_name")}


def tour_family() -> list[Any]:
    """aekit's estimators in ``aekit tour``: those declaring a ``tour_rank`` themselves, in its order."""
    members = [cls for cls in library_estimators() if vars(cls).get("tour_rank") is not None]
    return sorted(members, key=lambda cls: vars(cls)["tour_rank"])
