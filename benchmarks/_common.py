"""Shared plumbing for the benchmark scripts: arguments, MNIST, tables, JSON results.

Every benchmark takes ``--mnist PATH`` (default ``../shared/data/mnist.npz`` relative
to the repository root) and ``--out FILE`` (default ``benchmarks/results/<name>.json``),
prints a table and writes its measurements as JSON together with the conditions they
were taken under (library versions, threads, load average), because timings on a
shared machine mean little without them.

Scripts call :func:`use_passive_openmp` first: on a machine shared with other jobs,
OpenMP's default spin-waiting makes torch's threads fight the other processes for the
cores (measured here, 2 cores at load ~10: 240 ms per 2-thread VAE training step with
the default policy, 32 ms with ``OMP_WAIT_POLICY=PASSIVE``).

aekit is imported inside the functions that need it, so that a benchmark can time
another library in a process that never loaded aekit (importing aekit starts torch's
worker threads with denormals flushed, which would speed the other library up too).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist.npz"


def use_passive_openmp() -> None:
    """Re-run the script with ``OMP_WAIT_POLICY=PASSIVE`` unless a policy is already set.

    OpenMP reads the policy once, when torch loads, hence the re-exec.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])


def make_parser(
    name: str, description: str, long_run: dict | None = None
) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares.

    A script that trains one long run passes ``long_run`` (its defaults of ``epochs``
    and ``batch_size``, optionally of ``activation``, ``dropout``, ``learning_rate_schedule`` and
    ``pretrain_epochs``, which adds the greedy pretraining options) and gets the training
    options :func:`long_run_estimator` reads, with ``--checkpoint-dir``.
    """
    parser = argparse.ArgumentParser(
        prog=f"python benchmarks/{name}.py",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST), help="MNIST .npz file")
    parser.add_argument(
        "--out", default=str(REPO_ROOT / "benchmarks" / "results" / f"{name}.json"), help="JSON results file"
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state of every model")
    if long_run is not None:
        parser.add_argument("--epochs", type=int, default=long_run["epochs"])
        parser.add_argument("--batch-size", type=int, default=long_run["batch_size"])
        parser.add_argument("--learning-rate", type=float, default=1e-3)
        parser.add_argument(
            "--learning-rate-schedule", choices=("constant", "cosine"),
            default=long_run.get("learning_rate_schedule", "constant"),
        )  # fmt: skip
        parser.add_argument(
            "--activation", default=long_run.get("activation", "relu"), help="hidden-layer activation (e.g. relu, elu)"
        )
        parser.add_argument(
            "--dropout", type=float, default=long_run.get("dropout", 0.0), help="dropout rate after each hidden activation"
        )
        if "pretrain_epochs" in long_run:
            _add_pretraining_options(parser, long_run)
        parser.add_argument(
            "--checkpoint-dir",
            help="checkpoint every epoch of end-to-end training in this folder; rerunning the command resumes",
        )
    return parser


def _add_pretraining_options(parser: argparse.ArgumentParser, long_run: dict) -> None:
    parser.add_argument(
        "--pretrain-epochs", type=int, default=long_run["pretrain_epochs"],
        help="greedy layer-wise pretraining epochs per layer before training end to end (a StackedAutoEncoder)",
    )  # fmt: skip
    parser.add_argument(
        "--pretrain", choices=("autoencoder", "rbm"), default="autoencoder",
        help="what each pretrained layer is: a one-layer autoencoder, or an RBM trained by CD-1 and unrolled "
        "with tied weights (Hinton & Salakhutdinov 2006; sigmoid units, 10 pretraining epochs unless given)",
    )  # fmt: skip
    parser.add_argument("--rbm-learning-rate", type=float, default=0.1, help="SGD step of --pretrain rbm")
    parser.add_argument(
        "--pretrain-noise", choices=("gaussian", "masking"), default=long_run.get("pretrain_noise"),
        help="corrupt each layer's input while pretraining it (a stacked denoising autoencoder)",
    )  # fmt: skip
    parser.add_argument(
        "--pretrain-noise-level", type=float, default=long_run.get("pretrain_noise_level", 0.2),
        help="standard deviation (gaussian) or masked fraction (masking) of --pretrain-noise",
    )  # fmt: skip


def long_run_estimator(args: argparse.Namespace, estimator_class=None, **params):
    """The estimator of a long run, ``estimator_class`` (default :class:`aekit.AutoEncoder`)
    with ``params`` and the parsed training options; with ``--pretrain-epochs`` a
    :class:`aekit.StackedAutoEncoder`, pretrained greedily one layer at a time."""
    import aekit

    if getattr(args, "pretrain", "autoencoder") == "rbm":
        args.pretrain_epochs = args.pretrain_epochs or 10
        if args.activation != "sigmoid":
            print(f"--pretrain rbm unrolls RBMs into sigmoid units: activation {args.activation} -> sigmoid")
            args.activation = "sigmoid"
        params.update(pretraining="rbm", rbm_learning_rate=args.rbm_learning_rate)
    if getattr(args, "pretrain_epochs", 0):
        if estimator_class not in (None, aekit.AutoEncoder):
            raise SystemExit(
                f"--pretrain-epochs trains a StackedAutoEncoder, which cannot also be a {estimator_class.__name__}; "
                "leave out one of the two options."
            )
        estimator_class = aekit.StackedAutoEncoder
        params.update(
            pretrain_epochs=args.pretrain_epochs, pretrain_noise=args.pretrain_noise, noise_level=args.pretrain_noise_level
        )
    return (estimator_class or aekit.AutoEncoder)(**params, **long_run_params(args))


def long_run_params(args: argparse.Namespace) -> dict:
    """Estimator parameters of a long run: the parsed training options, every image used
    for training (no validation split, no early stopping), and a line per epoch."""
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "learning_rate_schedule": args.learning_rate_schedule,
        "activation": args.activation,
        "dropout": args.dropout,
        "validation_fraction": 0.0,
        "early_stopping": False,
        "random_state": args.seed,
        "verbose": 2,
    }


def describe_long_run(args: argparse.Namespace) -> str:
    """The training options of a long run that change its result, for a table row."""
    schedule = ", cosine schedule" if args.learning_rate_schedule == "cosine" else ""
    dropout = f", dropout {args.dropout:g}" if args.dropout else ""
    pretraining = ""
    if getattr(args, "pretrain_epochs", 0):
        noise = f", {args.pretrain_noise} {args.pretrain_noise_level:g}" if args.pretrain_noise else ""
        kind = f" of RBMs (CD-1, rate {args.rbm_learning_rate:g})" if getattr(args, "pretrain", "") == "rbm" else ""
        pretraining = f", {args.pretrain_epochs} pretraining epochs per layer{kind}{noise}"
    return f"{args.activation}{dropout}{pretraining}, {args.epochs} epochs{schedule}"


def load_mnist_flat(path: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST train (60k) and test (10k) images as float32 rows of 784 pixels in [0, 1]."""
    if not Path(path).exists():
        raise SystemExit(f"MNIST file {path} not found; pass --mnist PATH (an .npz with x_train/x_test).")
    from aekit.data import load_mnist

    x_train, _ = load_mnist(path, split="train")
    x_test, _ = load_mnist(path, split="test")
    return x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)


def load_average() -> float:
    """One-minute load average (the machine is shared; quote it beside every timing)."""
    return round(os.getloadavg()[0], 2)


def fit_with_record(estimator, X, y=None, checkpoint_dir: str | None = None) -> dict:
    """Fit ``estimator`` and return what a long benchmark run reports about its training:
    CPU and wall seconds, the median epoch, the loss per epoch, the load around it.

    With ``checkpoint_dir`` the run is checkpointed every epoch and a rerun of the same
    command resumes it (the seconds then count the resumed part only).
    """
    load_before = load_average()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    if checkpoint_dir is None:
        estimator.fit(X, y)
    else:
        estimator.fit(X, y, checkpoint_dir=checkpoint_dir, resume=True)
    return {
        "train_cpu_seconds": time.process_time() - cpu_started,
        "train_wall_seconds": time.perf_counter() - wall_started,
        "median_epoch_seconds": float(np.median(estimator.history_["seconds"])),
        "train_loss_per_epoch": estimator.history_["train_loss"],
        **({"phase_per_epoch": estimator.history_["phase"]} if "phase" in estimator.history_ else {}),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "torch_threads": torch.get_num_threads(),
    }


def print_table(rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Print ``rows`` (dicts) as an aligned text table with the given columns."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1e3 else f"{value:.0f}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def environment() -> dict:
    """The conditions a measurement was taken under."""
    import aekit

    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "aekit": aekit.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` plus the environment to ``path`` (creating its folder)."""
    from aekit.utils.files import atomic_write

    text = json.dumps({"environment": environment(), **payload}, indent=2) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    print(f"\nwrote {path}")
