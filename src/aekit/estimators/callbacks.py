"""Callbacks on ``fit``: code that sees every epoch's losses and the fitted model (loggers, trackers).

``est.fit(X, callbacks=[...])`` calls, on every callback that has them:

* ``on_epoch_end(estimator, epoch, history_row)`` after each training epoch (1-based), with
  that epoch's ``history_`` values (``train_loss``, ``val_loss``, every term, ``seconds``,
  ``learning_rate``); ``estimator.module_`` holds the weights of that epoch;
* ``on_fit_end(estimator)`` once the fit has finished (fitted attributes set, the best
  weights restored).

Callbacks are an argument of ``fit``, not a constructor parameter: they change nothing
the model learns, they hold open files or connections that ``clone``, ``get_params`` and
the JSON model file cannot carry, and a grid search should not copy them.  A schedule of
several phases (``StackedAutoEncoder``) reports the epochs of its final (fine-tuning) phase.
Under torchrun only the main process calls them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HOOKS = ("on_epoch_end", "on_fit_end")


class Callback:
    """Base class with no-op hooks; subclass it and override either (duck typing works too)."""

    def on_epoch_end(self, estimator: Any, epoch: int, history_row: dict[str, float]) -> None:
        """Called after every epoch with that epoch's history values."""

    def on_fit_end(self, estimator: Any) -> None:
        """Called once, with the fitted estimator."""


def check_callbacks(callbacks: Iterable[Any] | None) -> list[Any]:
    """The callbacks as a list; TypeError for one with neither hook (e.g. a class passed instead of an instance)."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes)) or any(
        hasattr(callbacks, hook) for hook in HOOKS
    ):
        raise TypeError(f"callbacks must be a list of callback objects, e.g. callbacks=[logger]; got {callbacks!r}.")
    callbacks = list(callbacks)
    for callback in callbacks:
        if isinstance(callback, type) or not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise TypeError(
                f"{callback!r} is not a callback: pass objects with on_epoch_end(estimator, epoch, history_row) "
                "and/or on_fit_end(estimator) methods (instances, e.g. aekit.tracking.TensorBoardLogger('runs/tb'))."
            )
    return callbacks


def call(callbacks: list[Any], hook: str, *args: Any) -> None:
    """Call ``hook(*args)`` on every callback that has it, in order."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
