"""The training loop: in-memory or memory-mapped batching, Adam, validation, early stopping,
NaN guards, checkpoints and resume, progress, and DistributedDataParallel under torchrun."""

from aekit.train.checkpoint import Checkpoint, CheckpointError
from aekit.train.sources import MappedArray
from aekit.train.trainer import Trainer, TrainConfig, TrainingDivergedError, evaluate_terms, make_optimizer

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "MappedArray",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "evaluate_terms",
    "make_optimizer",
]
