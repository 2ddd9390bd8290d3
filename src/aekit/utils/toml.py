"""TOML for run configs: read with the standard library's ``tomllib`` (``tomli`` before Python 3.11),
written here for the one shape a config has (top-level keys and flat tables of them).

Writing needs only what those hold: strings, booleans, integers, floats and arrays of
them; ``None`` (which TOML cannot say) is left out, so that the reader's default applies.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from aekit.utils.files import atomic_write

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def load(path: str | os.PathLike) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; ``TOMLDecodeError`` (a ValueError) names the line of a syntax error."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string (its escapes: \\ \" \n \uXXXX) is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML value")


def _key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)


def dumps(data: dict[str, Any], header: str = "") -> str:
    """TOML text of ``data``: plain values first, then one ``[table]`` per dict value (one level)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in data.items() if k not in tables and v is not None]
    for name, table in tables.items():
        lines += ["", f"[{_key(name)}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def write(path: str | os.PathLike, data: dict[str, Any], header: str = "") -> None:
    """Write :func:`dumps` of ``data`` to ``path`` atomically."""
    text = dumps(data, header)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
