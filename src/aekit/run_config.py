"""Run configs: ``aekit train --config run.toml``, and the resolved ``config.toml`` a run folder keeps.

A config holds one key per ``aekit train`` flag, named as the flag without its dashes and
with underscores (``batch_size = 64``, ``data = "mnist.npz"``, ``model = "vae"``), and a
``[param]`` table for what ``--param KEY=VALUE`` sets.  Every value is read as if it had
been typed after its flag (``hidden = [256, 128]`` as ``--hidden 256,128``), so the flags'
own checks apply; a flag given on the command line overrides the file's key.  The run
folder's ``config.toml`` is the resolved run: every flag's value (the model's effective
default where none was given), every estimator parameter TOML can hold, and absolute
paths, so that ``aekit train --config RUN_DIR/config.toml --out OTHER`` trains the same
model again (bit for bit on CPU).
"""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path
from typing import Any

from aekit.utils import toml

CONFIG_FILE = "config.toml"
PARAM_TABLE = "param"
#: Keys about one invocation rather than the run: the config file itself, resuming (what a folder
#: holds) and replacing the run already in --out.
NOT_RECORDED = ("config", "resume", "overwrite", "help")
#: Flags whose value names a file or folder: recorded as absolute paths.
PATH_KEYS = ("data", "out")


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.dest not in ("help", "config")}


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The TOML file at ``path``, or a ValueError saying what is wrong with it."""
    try:
        return toml.load(path)
    except FileNotFoundError:
        raise ValueError(f"--config {path}: no such file; pass a TOML file (e.g. a run folder's {CONFIG_FILE}).") from None
    except toml.TOMLDecodeError as exc:
        raise ValueError(f"--config {path} is not valid TOML ({exc}); fix that line.") from None


def _flag_text(value: Any) -> str:
    """What one would type after the flag: lists comma-separated, floats exactly."""
    if isinstance(value, (list, tuple)):
        return ",".join(_flag_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _closest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key.replace("-", "_"), valid, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def merge_config(args: argparse.Namespace, parser: argparse.ArgumentParser, config: dict[str, Any], source: str) -> dict[str, Any]:
    """Set every attribute of ``args`` the command line left unset (None) from ``config``;
    return its ``[param]`` table.  Unknown keys raise ValueError naming the closest valid one."""
    actions = _actions(parser)
    valid = sorted(actions)  # --param's dest is the [param] table's name
    for key, value in config.items():
        if key not in valid:
            raise ValueError(f"{source}: unknown key {key!r}{_closest(key, valid)}; valid keys are {valid}.")
        if key == PARAM_TABLE:
            if not isinstance(value, dict):
                raise ValueError(f"{source}: {PARAM_TABLE} must be a table ([{PARAM_TABLE}] then KEY = value lines).")
            continue
        if getattr(args, key) is not None:
            continue  # the command line wins
        setattr(args, key, _parsed(actions[key], key, value, source))
    return dict(config.get(PARAM_TABLE, {}))


def _parsed(action: argparse.Action, key: str, value: Any, source: str) -> Any:
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ValueError(f"{source}: {key} must be true or false; got {value!r}.")
        return value
    if isinstance(value, dict):
        raise ValueError(f"{source}: {key} takes a value, not a table; write {key} = ... above the first [table].")
    text = _flag_text(value)
    try:
        parsed = action.type(text) if action.type is not None else text
    except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
        raise ValueError(f"{source}: {key} = {value!r}: {exc}") from None
    if action.choices is not None and parsed not in action.choices:
        raise ValueError(f"{source}: {key} = {value!r} is not one of {sorted(action.choices)}.")
    return parsed


def resolved_config(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    estimator: Any,
    own_flags: tuple[str, ...],
    managed: tuple[str, ...],
) -> dict[str, Any]:
    """The run as a config: every flag's value (``own_flags``, the estimator parameters with a flag,
    at the estimator's effective value), paths made absolute, and the other parameters as ``[param]``
    except the ``managed`` ones, which flags of other names set (``random_state`` by ``seed``)."""
    params = estimator.get_params(deep=False)
    config: dict[str, Any] = {}
    for key in _actions(parser):
        if key in NOT_RECORDED or key == PARAM_TABLE:
            continue
        value = params.get(key) if key in own_flags else getattr(args, key)
        if key in PATH_KEYS and value is not None:
            value = str(Path(value).resolve())
        config[key] = _plain(value)
    config[PARAM_TABLE] = {
        key: _plain(value) for key, value in params.items() if key not in config and key not in managed and _writable(value)
    }
    return config


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _writable(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_writable(v) for v in value)
    return isinstance(value, (bool, int, float, str))


def write_config(path: str | os.PathLike, config: dict[str, Any]) -> None:
    header = (
        "aekit train configuration, resolved (every flag, every parameter TOML can hold).\n"
        f"Run it again with: aekit train --config {Path(path).name} --out OTHER_DIR (flags override keys)."
    )
    toml.write(path, config, header)
