"""Estimator parameters, each declared once: default, constraint, documentation, command-line flag.

An estimator class lists its own parameters in ``_params`` (a dict of :class:`Param`);
it inherits its parents' and may redeclare one to change its default or its text.
From that one table come the generated ``__init__`` (scikit-learn's convention: it
only stores its keyword arguments), the validation in ``fit``, the numpydoc
"Parameters" section of the class docstring, the trainer's :class:`TrainConfig` and
the ``aekit train`` flags with their choices.
"""

from __future__ import annotations

import difflib
import inspect
import json
import numbers
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from aekit.nn.blocks import ACTIVATIONS
from aekit.train.trainer import LEARNING_RATE_SCHEDULES, PRECISIONS, SOLVERS, TrainConfig
from aekit.utils.checks import check_number, check_positive_int
from aekit.utils.runtime import resolve_device


class Constraint:
    """What values a parameter accepts; ``check`` raises ValueError naming the parameter."""

    type_text = "object"

    def check(self, name: str, value: Any) -> None:
        """Raise ValueError saying what was wrong and what is accepted."""

    def coerce(self, value: Any) -> Any:
        """The value as the plain Python type the trainer and JSON files expect."""
        return value

    def parse(self, text: str) -> Any:
        """The value of a command-line ``KEY=VALUE`` (JSON, else the bare string)."""
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


@dataclass(frozen=True)
class Integer(Constraint):
    minimum: int = 1
    type_text = "int"

    def check(self, name: str, value: Any) -> None:
        check_positive_int(name, value, self.minimum)

    def coerce(self, value: Any) -> int:
        return int(value)


@dataclass(frozen=True)
class Real(Constraint):
    low: float = 0.0
    high: float = float("inf")
    low_open: bool = False
    high_open: bool = False
    type_text = "float"

    def check(self, name: str, value: Any) -> None:
        check_number(name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)

    def coerce(self, value: Any) -> float:
        return float(value)


class Choice(Constraint):
    def __init__(self, *options: Any):
        self.options = options

    @property
    def type_text(self) -> str:
        return "{" + ", ".join(repr(o) for o in self.options) + "}"

    def check(self, name: str, value: Any) -> None:
        if not any(value == o and type(value) is type(o) for o in self.options):
            raise ValueError(f"{name} must be one of {list(self.options)}; got {value!r}.")

    def parse(self, text: str) -> Any:
        # "16" names the precision "16", not the number 16: strings choices stay strings.
        return text if text in self.options else super().parse(text)


class Flag(Constraint):
    type_text = "bool"

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; got {value!r}.")

    def coerce(self, value: Any) -> bool:
        return bool(value)


class Widths(Constraint):
    """A tuple of positive integers (layer widths; may be empty), or None when ``allow_none``."""

    def __init__(self, allow_none: bool = True):
        self.allow_none = allow_none

    @property
    def type_text(self) -> str:
        return "tuple of int or None" if self.allow_none else "tuple of int"

    def check(self, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        ok = isinstance(value, (tuple, list)) and all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in value
        )
        if not ok:
            allowed = "None or " if self.allow_none else ""
            raise ValueError(f"{name} must be {allowed}a tuple of positive integers like (256, 128); got {value!r}.")

    def coerce(self, value: Any) -> Any:
        return None if value is None else tuple(int(h) for h in value)

    def parse(self, text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise ValueError(f"expected comma-separated integers like 256,128; got {text!r}") from None
        if not values or min(values) < 1:
            raise ValueError(f"expected positive integers like 256,128; got {text!r}")
        return values


class OrAuto(Constraint):
    """``"auto"`` (the estimator decides from the data in ``fit``), or what ``inner`` accepts."""

    def __init__(self, inner: Constraint):
        self.inner = inner

    @property
    def type_text(self) -> str:
        return f'"auto" or {self.inner.type_text}'

    def check(self, name: str, value: Any) -> None:
        if not (isinstance(value, str) and value == "auto"):
            try:
                self.inner.check(name, value)
            except ValueError as exc:
                raise ValueError(f'{str(exc).rstrip(".")} (or "auto").') from None

    def coerce(self, value: Any) -> Any:
        return value if value == "auto" else self.inner.coerce(value)

    def parse(self, text: str) -> Any:
        return "auto" if text == "auto" else self.inner.parse(text)


class Device(Constraint):
    type_text = '{"auto", "cpu", "cuda"} or str'

    def check(self, name: str, value: Any) -> None:
        resolve_device(value)


class Seed(Constraint):
    type_text = "int, RandomState or None"

    def check(self, name: str, value: Any) -> None:
        try:
            check_random_state(value)
        except ValueError:
            raise ValueError(f"{name} must be None, an int or a numpy RandomState; got {value!r}.") from None


class AnyValue(Constraint):
    """Checked by the estimator itself (e.g. a value that depends on another parameter)."""


@dataclass(frozen=True)
class Param:
    """One estimator parameter: its default, what it accepts, its documentation, and
    whether ``aekit train`` has a flag for it (the others are set with ``--param``)."""

    default: Any
    constraint: Constraint
    doc: str
    cli: bool = False

    def docstring_entry(self, name: str) -> str:
        head = f"{name} : {self.constraint.type_text}, default={self.default!r}"
        body = textwrap.fill(" ".join(self.doc.split()), width=84)
        return head + ("\n" + textwrap.indent(body, "    ") if body else "")

    def cli_flag(self, name: str) -> str:
        return "--" + name.replace("_", "-")


def changed(param: Param, **changes: Any) -> Param:
    """A parent's parameter with another default or documentation (for a subclass)."""
    return replace(param, **changes)


SHARED_PARAMS: dict[str, Param] = {
    "latent_dim": Param(
        "auto",
        OrAuto(Integer()),
        'Size of the code. "auto" sizes it to the input: half the number of input features, at least 1 and at '
        "most 16 (13 features get 6, 64 or more get 16), so the code always compresses; the size used is "
        "latent_dim_.",
        cli=True,
    ),
    "hidden": Param(
        None,
        Widths(),
        "Hidden layer widths of the MLP encoder (mirrored by the decoder), or channel counts of the "
        'stride-2 convolutions. None means (256, 128) for "mlp" and (32, 64) for "conv".',
        cli=True,
    ),
    "architecture": Param(
        "auto", Choice("auto", "mlp", "conv"), '"auto" picks "conv" for image-shaped input (n, h, w) or (n, c, h, w).',
        cli=True,
    ),
    "activation": Param(
        "relu",
        Choice(*ACTIVATIONS),
        'Hidden-layer nonlinearity. For deep MLPs "elu" can train much faster (see benchmarks/README.md).',
    ),
    "dropout": Param(
        0.0,
        Real(0.0, 1.0, high_open=True),
        "Rate of dropout after every hidden activation of the encoder and decoder, during training only "
        "(a regularizer against overfitting; 0 adds no layer).",
    ),
    "epochs": Param(50, Integer(), "Training epochs (the most, with early stopping).", cli=True),
    "batch_size": Param(128, Integer(), "Rows per gradient step.", cli=True),
    "learning_rate": Param(1e-3, Real(0.0, 10.0, low_open=True), "Step size of the optimizer.", cli=True),
    "learning_rate_schedule": Param(
        "constant",
        Choice(*LEARNING_RATE_SCHEDULES),
        '"cosine" lowers the step size from learning_rate towards 0 along a half cosine over the epochs '
        "(set per step; Loshchilov & Hutter, 2017): long runs end lower than at a constant rate.",
        cli=True,
    ),
    "solver": Param(
        "adam",
        Choice(*SOLVERS),
        'The optimizer. "sgd" (with momentum) needs a larger learning_rate than Adam, e.g. 0.01 for MNIST '
        "pixels; it is the optimizer of the classic autoencoder papers (see aekit.StackedAutoEncoder).",
    ),
    "momentum": Param(0.9, Real(0.0, 1.0, high_open=True), 'Momentum of "sgd" (unused by "adam").'),
    "weight_decay": Param(0.0, Real(), "L2 penalty applied by the optimizer."),
    "validation_fraction": Param(
        0.1, Real(0.0, 0.9), "Held out from X for validation losses and early stopping (0 disables).", cli=True
    ),
    "early_stopping": Param(
        True, Flag(), "Stop after patience epochs without improvement and restore the best weights."
    ),
    "patience": Param(10, Integer(), "Epochs without improvement before early stopping."),
    "device": Param("auto", Device(), '"auto" uses CUDA when available.'),
    "random_state": Param(
        None,
        Seed(),
        "Seeds weight initialisation, the validation split, shuffling and sampling noise. Training on CPU "
        "with an int is reproducible.",
    ),
    "verbose": Param(0, Integer(minimum=0), "1 shows a progress bar (on terminals), 2 also prints one line per epoch."),
    "precision": Param(
        "32",
        Choice(*PRECISIONS),
        '"bf16" and "16" train with CUDA autocast (mixed precision; "16" also scales the loss); they need a '
        "CUDA device and are refused on CPU.",
    ),
}

#: Adversarial families (AAE, VAE-GAN) train without early stopping unless asked.
ADVERSARIAL_EARLY_STOPPING = changed(
    SHARED_PARAMS["early_stopping"],
    default=False,
    doc="Stop after patience epochs without improvement and restore the best weights. Off by default: the "
    "generator's terms rise whenever the discriminator learns, so the game's loss says little about the model.",
)

_SECTION = re.compile(r"^(\s*)(Attributes|Notes|Examples|See Also|References)\n\1-{3,}\s*$", re.MULTILINE)


def unknown_params_message(owner: str, unknown: Iterable[str], table: dict[str, Param]) -> str:
    """Names the unknown parameters, the closest valid name of each, and the valid ones."""
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, list(table), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{owner} got unexpected parameter(s) {', '.join(hints)}; valid parameters are {sorted(table)}."


def collect_params(cls: type) -> dict[str, Param]:
    """The parameter table of ``cls``: its own ``_params`` over its parents', own ones first."""
    table: dict[str, Param] = {}
    for klass in cls.__mro__:
        for name, param in vars(klass).get("_params", {}).items():
            table.setdefault(name, param)
        if vars(klass).get("_params_root", False):
            break  # a family whose parameters are of another kind (the RBM's) takes none of its parents'
    return table


def make_init(cls: type, table: dict[str, Param]) -> None:
    """Give ``cls`` an ``__init__`` that stores exactly its parameters (keyword-only, with defaults)."""

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(table)
        if unknown:
            raise TypeError(unknown_params_message(type(self).__name__, unknown, table))
        for name, param in table.items():
            setattr(self, name, params.get(name, param.default))

    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=p.default) for n, p in table.items()]
    )
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    __init__.__doc__ = f"Store the parameters of {cls.__name__} (see the class docstring)."
    cls.__init__ = __init__


def document_params(cls: type, table: dict[str, Param], extra_section: str = "") -> None:
    """Insert the numpydoc "Parameters" section (and ``extra_section``) into the class docstring,
    before its other sections (Attributes, Notes, Examples, ...)."""
    doc = inspect.cleandoc(vars(cls).get("__doc__") or "")
    own = [n for n in table if table[n] is not SHARED_PARAMS.get(n)]
    shared = [n for n in table if n not in own]
    section = "Parameters\n----------\n" + "\n".join(table[n].docstring_entry(n) for n in own)
    section += "\n\nShared parameters (every estimator):\n\n" + "\n".join(table[n].docstring_entry(n) for n in shared) + "\n"
    section += ("\n" + extra_section) if extra_section else ""
    match = _SECTION.search(doc)
    cls.__doc__ = doc.rstrip() + "\n\n" + section if match is None else doc[: match.start()] + section + "\n" + doc[match.start():]


def validate(estimator: Any, table: dict[str, Param]) -> None:
    """Run every parameter's constraint on the estimator's current values."""
    for name, param in table.items():
        param.constraint.check(name, getattr(estimator, name))


def train_config(estimator: Any, table: dict[str, Param], **settings: Any) -> TrainConfig:
    """The trainer's settings: every :class:`TrainConfig` field that is a parameter, as plain types,
    then ``settings`` (which win: e.g. an RBM's ``solver="pcd"`` trains with the trainer's ``"sgd"``)."""
    names = [f.name for f in fields(TrainConfig) if f.name in table]
    return TrainConfig(**{**{n: table[n].constraint.coerce(getattr(estimator, n)) for n in names}, **settings})


def cli_params(tables: Iterable[dict[str, Param]]) -> dict[str, Param]:
    """The parameters that are ``aekit train`` flags: every parameter some model the CLI names marks
    ``cli``, each described (and its flag parsed) by the first table declaring it.

    A flag need not be shared: a model takes the flags of its own parameters and refuses the others
    (e.g. ``--kind`` is the Flow's, ``--latent-dim`` every model's but the Flow's)."""
    flags: dict[str, Param] = {}
    for table in tables:
        for name, param in table.items():
            if param.cli:
                flags.setdefault(name, param)
    return flags
