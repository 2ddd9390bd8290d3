"""The training loop: in-memory batching, Adam, validation, early stopping, progress."""

from aekit.train.trainer import Trainer, TrainConfig, evaluate_terms, make_optimizer

__all__ = ["TrainConfig", "Trainer", "evaluate_terms", "make_optimizer"]
