"""The training loop shared by every model.

In-memory data is batched by indexing one tensor with a random permutation: no
per-sample ``Dataset``/``DataLoader`` (measured here: the stock DataLoader over a
TensorDataset costs ~0.3 s per epoch on 50k images, more than a small model's
whole step budget).  On CPU, fused Adam and flushing denormals to zero matter more
than the matrix multiplies (measured: 1.8x faster MLP VAE epochs).

Data larger than memory arrives as a :class:`aekit.train.sources.MappedSource`,
which the loop indexes exactly like a tensor.  Under torchrun the same loop runs
on every rank with DistributedDataParallel (see :mod:`aekit.train.distributed`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from aekit.models.base import BaseModule
from aekit.train import distributed
from aekit.train.checkpoint import Checkpoint, TrainingState, check_resumable
from aekit.utils.runtime import denormals_flushed

PRECISIONS = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}


LEARNING_RATE_SCHEDULES = ("constant", "cosine")
SOLVERS = ("adam", "sgd")


def learning_rate_factor(schedule: str, progress: float) -> float:
    """Multiplier of the base learning rate after ``progress`` (0 to 1) of the planned steps.

    A closed form of the position, not a scheduler object, so that a resumed run
    continues the schedule from its checkpointed epoch with no extra state.
    """
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    learning_rate_schedule: str = "constant"
    solver: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    early_stopping: bool = True
    patience: int = 10
    verbose: int = 0
    description: str = "training"
    precision: str = "32"


class TrainingDivergedError(ValueError):
    """The loss became NaN or infinite; the module holds the best finite weights seen.

    ``history`` has the epochs completed before the divergence.
    """

    def __init__(self, message: str, epoch: int, step: int, history: dict[str, list]):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def make_optimizer(
    parameters, learning_rate: float, weight_decay: float, solver: str = "adam", momentum: float = 0.9
) -> torch.optim.Optimizer:
    """Adam, or SGD with (heavy-ball) momentum, fused into one kernel per step where this torch build can."""
    parameters = list(parameters)
    make = {
        "adam": lambda **fused: torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay, **fused),
        "sgd": lambda **fused: torch.optim.SGD(
            parameters, lr=learning_rate, momentum=momentum, weight_decay=weight_decay, **fused
        ),
    }[solver]
    try:
        return make(fused=True)
    except (RuntimeError, TypeError):
        # Older torch builds only fuse on CUDA.
        return make()


def batched(n: int, batch_size: int, order: torch.Tensor | None = None, min_batch: int = 1):
    """Index tensors (or slices, when ``order`` is None) covering ``range(n)``.

    A last batch of fewer than ``min_batch`` rows (what the module's batch statistics
    need) joins the batch before it, so no row is left out and no term sees too few.
    """
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < min_batch:
        starts.pop()
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else n
        yield slice(start, stop) if order is None else order[start:stop]


def _take(t: torch.Tensor | None, index) -> torch.Tensor | None:
    return None if t is None else t[index]


@torch.no_grad()
def evaluate_terms(
    module: BaseModule,
    x: torch.Tensor,
    condition: torch.Tensor | None = None,
    batch_size: int = 1024,
    epoch: int | None = None,
) -> dict[str, float]:
    """Mean of every loss term over ``x`` with the module in eval mode.

    ``epoch`` sets the terms' scheduled weights as in that (0-based) training epoch;
    None, the default, evaluates the finished model at full weights.
    """
    was_training = module.training
    module.eval()
    sums: dict[str, float] = {}
    for index in batched(x.shape[0], batch_size, min_batch=module.min_batch):
        xb = x[index]
        terms = module.loss_terms(xb, _take(condition, index), epoch)
        n = xb.shape[0]
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + float(value.sum() if value.dim() else value * n)
    module.train(was_training)
    return {name: total / x.shape[0] for name, total in sums.items()}


class _LossTerms(nn.Module):
    """``loss_terms`` as ``forward``: DistributedDataParallel syncs gradients only through forward."""

    def __init__(self, module: BaseModule):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None, epoch: int) -> dict[str, torch.Tensor]:
        return self.module.loss_terms(x, condition, epoch)


class Trainer:
    """Minimizes ``module.loss_terms(x, condition, epoch)["loss"].mean()`` with Adam (or SGD).

    A module with an ``adversary`` network (a discriminator) trains it in the same
    step, in its own optimizer group, on ``module.adversary_loss`` alone; the history
    then has ``train_adversary``.

    The 0-based epoch is passed to the module on every step (and to validation), so
    that terms with scheduled weights (KL warm-up) need no state of their own.

    The history is a dict of per-epoch lists: ``train_<term>`` and ``val_<term>`` for
    every loss term, plus ``epoch`` and ``seconds``.  With ``early_stopping`` the
    weights of the best epoch (by validation loss when there is a validation set,
    else training loss) are restored at the end.

    A loss that becomes NaN or infinite is caught on the step it appears, before
    the optimizer applies it, and the epoch's last update is checked at its end
    (finite weights, and a finite loss on the last batch after it), since the
    epoch's mean of pre-update losses cannot see it: :class:`TrainingDivergedError`
    is raised with the best weights so far (the initial ones if no epoch finished)
    restored into the module, and no checkpoint is written for the failed epoch.

    With a :class:`~aekit.train.checkpoint.Checkpoint` the full state (weights,
    optimizer, RNG states, history, early-stopping counters) is saved atomically
    after every epoch; with ``checkpoint.resume`` training continues from it and, on
    CPU, gives the same weights bit for bit as an uninterrupted run.
    """

    def __init__(self, config: TrainConfig):
        self.config = config

    def _diverged(self, module, best_state, best_epoch: int, epoch: int, step: int, history) -> TrainingDivergedError:
        """Restore the best finite weights and describe where and why training failed."""
        module.load_state_dict(best_state)
        module.eval()
        kept = f"the weights of epoch {best_epoch} (the best so far)" if best_epoch else "the initial weights"
        message = (
            f"{self.config.description}: the training loss became NaN or infinite at epoch {epoch}, step {step}; "
            f"training stopped and {kept} were kept. Likely causes: a learning rate too high for this "
            f"model (learning_rate={self.config.learning_rate:g}; try ten times smaller) or unscaled data "
            "(scale pixels to [0, 1] and standardize table columns, e.g. with sklearn's StandardScaler)."
        )
        return TrainingDivergedError(message, epoch, step, history)

    def fit(
        self,
        module: BaseModule,
        x_train: torch.Tensor,
        x_val: torch.Tensor | None = None,
        condition_train: torch.Tensor | None = None,
        condition_val: torch.Tensor | None = None,
        checkpoint: Checkpoint | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, list]:
        """Train ``module`` and return its history; ``on_epoch_end(epoch, row)`` is called after
        every epoch (1-based, on the main process) with that epoch's history values."""
        if x_train.shape[0] < module.min_batch:
            raise ValueError(
                f"{self.config.description}: its loss needs batches of at least {module.min_batch} rows "
                f"(a batch statistic), but there are {x_train.shape[0]} training rows; pass more data "
                "(or a smaller validation_fraction)."
            )
        if x_val is not None and 0 < x_val.shape[0] < module.min_batch:
            warnings.warn(
                f"{self.config.description}: the validation split has {x_val.shape[0]} row(s), fewer than the "
                f"{module.min_batch} its loss's batch statistics need; training without validation (early "
                "stopping watches the training loss). Pass more data or validation_fraction=0.",
                stacklevel=3,
            )
            x_val = None
        # On CPU, denormal Adam moments slow every step; the caller's numerics are restored afterwards.
        with denormals_flushed() if x_train.device.type == "cpu" else contextlib.nullcontext():
            return self._fit(module, x_train, x_val, condition_train, condition_val, checkpoint, on_epoch_end)

    def _fit(
        self, module, x_train, x_val, condition_train, condition_val, checkpoint, on_epoch_end
    ) -> dict[str, list]:
        cfg = self.config
        device = x_train.device
        ctx = distributed.context()
        model_parameters, adversary_parameters = _split_parameters(module)
        groups = [{"params": model_parameters}]
        if adversary_parameters:
            if ctx.enabled:
                raise ValueError(
                    f"{cfg.description}: models with an adversary network do not train under torchrun yet; "
                    "run it in one process (without torchrun)."
                )
            groups.append({"params": adversary_parameters, **module.adversary_optimizer})
        optimizer = make_optimizer(groups, cfg.learning_rate, cfg.weight_decay, cfg.solver, cfg.momentum)
        # Each group's own rate, which the schedule scales (the adversary's may differ from the model's).
        base_rates = [group["lr"] for group in optimizer.param_groups]
        amp_dtype = PRECISIONS[cfg.precision] if device.type == "cuda" else None
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
        # Shuffling has its own generator so that a resumed run draws the same
        # permutations, and so that every rank draws the same one.
        permutation_rng = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        if ctx.enabled:
            torch.manual_seed(int(torch.randint(2**62, (1,))) + ctx.rank)  # independent noise per rank
        step_model = nn.parallel.DistributedDataParallel(_LossTerms(module)) if ctx.enabled else module.loss_terms

        history: dict[str, list] = {"epoch": [], "seconds": []}
        best_loss, best_epoch, epochs_without_improvement = float("inf"), 0, 0
        best_state = copy.deepcopy(module.state_dict())
        start_epoch, finished = 0, False
        if checkpoint is not None and checkpoint.resume:
            saved = checkpoint.load()
            if saved is not None:
                check_resumable(saved, module, optimizer, checkpoint.path)
                module.load_state_dict(saved.module_state)
                optimizer.load_state_dict(saved.optimizer_state)
                best_state = saved.best_state
                history, best_loss, best_epoch = saved.history, saved.best_loss, saved.best_epoch
                epochs_without_improvement, start_epoch, finished = (
                    saved.epochs_without_improvement,
                    saved.epoch,
                    saved.finished,
                )
                _restore_rng(saved, ctx, device, permutation_rng)
        n = x_train.shape[0]

        progress = tqdm(
            range(start_epoch, 0 if finished else cfg.epochs),
            desc=cfg.description,
            unit="epoch",
            disable=True if cfg.verbose <= 0 or not ctx.is_main else None,
            leave=False,
            dynamic_ncols=True,
        )
        for epoch in progress:
            started, started_cpu = time.perf_counter(), time.process_time()
            module.train()
            order = torch.randperm(n, generator=permutation_rng).to(device)
            totals: torch.Tensor | None = None
            names: list[str] = []
            seen = 0
            steps_per_epoch = sum(1 for _ in batched(n, cfg.batch_size, min_batch=module.min_batch))
            for step, index in enumerate(batched(n, cfg.batch_size, order, module.min_batch), start=1):
                if cfg.learning_rate_schedule != "constant":
                    done = (epoch * steps_per_epoch + step - 1) / (cfg.epochs * steps_per_epoch)
                    factor = learning_rate_factor(cfg.learning_rate_schedule, done)
                    for group, rate in zip(optimizer.param_groups, base_rates):
                        group["lr"] = rate * factor
                if ctx.enabled:
                    if len(index) < ctx.world_size:
                        continue  # a last batch too small to give every rank a sample
                    index = index.tensor_split(ctx.world_size)[ctx.rank]
                with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
                    terms = step_model(x_train[index], _take(condition_train, index), epoch)
                loss = terms["loss"].mean()
                if not _all_finite(loss, ctx):
                    raise self._diverged(module, best_state, best_epoch, epoch + 1, step, history)
                optimizer.zero_grad(set_to_none=True)
                scale = (lambda value: value) if scaler is None else scaler.scale
                if adversary_parameters:
                    # Both gradients are taken at the same weights, then one step moves both groups.
                    scale(loss).backward(inputs=model_parameters)
                    with torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext():
                        adversary_loss = module.adversary_loss(x_train[index], _take(condition_train, index), epoch)
                    adversary_loss = adversary_loss.mean()
                    if not torch.isfinite(adversary_loss):
                        raise self._diverged(module, best_state, best_epoch, epoch + 1, step, history)
                    scale(adversary_loss).backward(inputs=adversary_parameters)
                    terms = {**terms, "adversary": adversary_loss}
                else:
                    scale(loss).backward()
                if scaler is None:
                    optimizer.step()
                else:
                    scaler.step(optimizer)
                    scaler.update()
                with torch.no_grad():
                    batch_means = torch.stack([v.detach().float().mean() for v in terms.values()]) * len(index)
                    totals = batch_means if totals is None else totals + batch_means
                    names = list(terms)
                seen += len(index)
            # The monitored loss is a mean of pre-update losses: it misses a blow-up in the epoch's last
            # update, which the next epoch (or, after the last one, nobody) would see. Check it here.
            if not _finite_after_update(module, x_train[index], _take(condition_train, index), epoch, ctx):
                raise self._diverged(module, best_state, best_epoch, epoch + 1, step, history)
            if ctx.enabled:
                sums = distributed.all_reduce_sum(torch.cat([totals, totals.new_tensor([seen])]))
                totals, seen = sums[:-1], float(sums[-1])
            train_means = dict(zip(names, (totals / seen).tolist()))
            for name, value in train_means.items():
                history.setdefault(f"train_{name}", []).append(value)
            monitored = train_means["loss"]
            if x_val is not None and x_val.shape[0] > 0:
                for name, value in _validation_terms(module, x_val, condition_val, names, ctx, epoch).items():
                    history.setdefault(f"val_{name}", []).append(value)
                monitored = history["val_loss"][-1]
            history["epoch"].append(epoch + 1)
            history.setdefault("learning_rate", []).append(optimizer.param_groups[0]["lr"])
            history["seconds"].append(time.perf_counter() - started)
            # CPU seconds of the whole process (every thread) at the same instants: on a shared machine
            # the wall clock includes waiting for the cores, the CPU clock the work done.
            history.setdefault("cpu_seconds", []).append(time.process_time() - started_cpu)
            if not math.isfinite(monitored):
                # The epoch's last update broke the weights (the next step's loss would show it).
                for values in history.values():
                    values.pop()
                raise self._diverged(module, best_state, best_epoch, epoch + 1, step, history)
            progress.set_postfix(loss=f"{monitored:.4g}")
            if cfg.verbose >= 2 and ctx.is_main:
                tqdm.write(f"{cfg.description} epoch {epoch + 1}/{cfg.epochs}: loss {monitored:.6g}")

            if monitored < best_loss:
                best_loss, best_epoch, epochs_without_improvement = monitored, epoch + 1, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                epochs_without_improvement += 1
            finished = cfg.early_stopping and epochs_without_improvement >= cfg.patience
            if checkpoint is not None:
                state = TrainingState(
                    epoch=epoch + 1,
                    history=history,
                    best_loss=best_loss,
                    best_epoch=best_epoch,
                    epochs_without_improvement=epochs_without_improvement,
                    finished=finished,
                    module_state=module.state_dict(),
                    best_state=best_state,
                    optimizer_state=optimizer.state_dict(),
                    **_rng_states(ctx, device, permutation_rng),
                )
                if ctx.is_main:
                    checkpoint.save(state)
            if on_epoch_end is not None and ctx.is_main:
                on_epoch_end(epoch + 1, {name: values[-1] for name, values in history.items()})
            if finished:
                break
        progress.close()
        if cfg.early_stopping:
            module.load_state_dict(best_state)
        module.eval()
        return history


def _split_parameters(module: BaseModule) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(the model's trainable parameters, its adversary's)."""
    adversary = {id(p) for p in module.adversary.parameters()} if module.adversary is not None else set()
    trainable = [p for p in module.parameters() if p.requires_grad]
    return [p for p in trainable if id(p) not in adversary], [p for p in trainable if id(p) in adversary]


def _all_finite(loss: torch.Tensor, ctx: distributed.DistributedContext) -> bool:
    finite = torch.isfinite(loss)
    if ctx.enabled:  # every rank must stop on the same step, or the others hang in all-reduce
        return bool(distributed.all_reduce_sum((~finite).to(torch.float64)) == 0)
    return bool(finite)


def _finite_after_update(
    module: BaseModule,
    xb: torch.Tensor,
    condition: torch.Tensor | None,
    epoch: int,
    ctx: distributed.DistributedContext,
) -> bool:
    """Whether the weights and the loss of the last batch under them are finite.

    One forward pass of one batch per epoch, with the random generators put back
    afterwards so that training draws the same noise as without the check.
    """
    finite = all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point())
    if finite:
        devices = [xb.device] if xb.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            finite = bool(torch.isfinite(module.loss_terms(xb, condition, epoch)["loss"].mean()))
    return _all_finite(torch.tensor(float(finite) if finite else float("nan")), ctx)


def _validation_terms(
    module: BaseModule,
    x_val: torch.Tensor,
    condition_val: torch.Tensor | None,
    names: list[str],
    ctx: distributed.DistributedContext,
    epoch: int,
) -> dict[str, float]:
    """Validation means at ``epoch``'s term weights; under torchrun each rank evaluates its share."""
    if not ctx.enabled:
        return evaluate_terms(module, x_val, condition_val, epoch=epoch)
    start, stop = distributed.shard_bounds(x_val.shape[0], ctx)
    sums = torch.zeros(len(names) + 1, dtype=torch.float64)
    if stop > start:
        shard_condition = None if condition_val is None else condition_val[start:stop]
        means = evaluate_terms(module, x_val.narrow(0, start, stop - start), shard_condition, epoch=epoch)
        sums = torch.tensor([means[name] * (stop - start) for name in names] + [stop - start], dtype=torch.float64)
    sums = distributed.all_reduce_sum(sums)
    return {name: float(sums[i] / sums[-1]) for i, name in enumerate(names)}


def _rng_states(
    ctx: distributed.DistributedContext, device: torch.device, permutation_rng: torch.Generator
) -> dict[str, object]:
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    if ctx.enabled:
        cpu_states = distributed.all_gather_bytes(cpu)
        cuda_states = distributed.all_gather_bytes(cuda) if cuda is not None else []
    else:
        cpu_states, cuda_states = [cpu], [] if cuda is None else [cuda]
    return {
        "rng_states": cpu_states,
        "cuda_rng_states": cuda_states,
        "permutation_rng_state": permutation_rng.get_state(),
    }


def _restore_rng(
    saved: TrainingState, ctx: distributed.DistributedContext, device: torch.device, permutation_rng: torch.Generator
) -> None:
    """Put every generator back where the checkpointed run left it (per rank when the layout matches)."""
    if saved.permutation_rng_state is not None:
        permutation_rng.set_state(saved.permutation_rng_state)
    if len(saved.rng_states) == ctx.world_size:
        torch.set_rng_state(saved.rng_states[ctx.rank])
        if device.type == "cuda" and len(saved.cuda_rng_states) == ctx.world_size:
            torch.cuda.set_rng_state(saved.cuda_rng_states[ctx.rank], device)
