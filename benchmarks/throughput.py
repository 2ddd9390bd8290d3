"""Training throughput of an MLP VAE on MNIST, against the float32 matmul ceiling and pythae.

The model is 784-512-256-(16 x 2)-256-512-784 with ReLU and a Bernoulli likelihood,
trained with batch 128 on x_train[:50000] through the public API.  Reported:

* seconds per epoch: median of ``history_["seconds"]`` over epochs 2 and later;
* samples/s and achieved GFLOP/s: a training step costs ~3x the forward matmul FLOPs
  (forward, input gradient, weight gradient), 2*in*out per sample per linear layer,
  the 256 -> 32 posterior head included; elementwise work is not counted;
* the ceiling: GFLOP/s of exactly those matmuls (``addmm`` forward, ``mm`` for both
  gradients, batch 128, the model's layer shapes) timed in the same process;
* if pythae is importable, pythae's VAE with the same layers, batch size, Adam
  (lr 1e-3) and epochs, trained in the same run, and the epoch-time ratio.

Every training run happens in a fresh Python process that imports only the library
it times, so each library runs as its users get it: aekit's first fit starts torch's
worker threads with denormals flushed, which would otherwise speed up pythae in the same process
(``--pythae-flush-denormal`` adds that configuration as a third row).  With
``--rounds R`` the libraries are trained alternately R times each (the machine may be
shared; alternating spreads load changes over all of them).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _common import load_average, load_mnist_flat, make_parser, print_table, use_passive_openmp, write_json

N_TRAIN = 50_000
BATCH_SIZE = 128
LATENT_DIM = 16
HIDDEN = (512, 256)
N_PIXELS = 784


def layer_shapes() -> list[tuple[int, int]]:
    """(in, out) of every linear layer of the benchmarked VAE, posterior head included."""
    encoder = [N_PIXELS, *HIDDEN]
    decoder = [LATENT_DIM, *reversed(HIDDEN), N_PIXELS]
    return (
        list(zip(encoder[:-1], encoder[1:]))
        + [(HIDDEN[-1], 2 * LATENT_DIM)]
        + list(zip(decoder[:-1], decoder[1:]))
    )


def forward_flops_per_sample() -> int:
    return sum(2 * n_in * n_out for n_in, n_out in layer_shapes())


def matmul_ceiling(batch_size: int = BATCH_SIZE, repeats: int = 200) -> float:
    """GFLOP/s of the training step's matmuls alone, at the model's shapes.

    Per layer: ``y = b + x W^T`` (forward), ``dx = dy W`` and ``dW = dy^T x``
    (backward), with the memory layouts autograd uses.
    """
    operands = [
        (torch.rand(batch_size, n_in), torch.randn(n_out, n_in), torch.randn(n_out), torch.randn(batch_size, n_out))
        for n_in, n_out in layer_shapes()
    ]

    def step() -> None:
        for x, weight, bias, grad_out in operands:
            torch.addmm(bias, x, weight.t())
            grad_out.mm(weight)
            grad_out.t().mm(x)

    for _ in range(20):
        step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return 3 * forward_flops_per_sample() * batch_size / statistics.median(times) / 1e9


def train_aekit(x: np.ndarray, epochs: int, seed: int) -> list[float]:
    import aekit

    vae = aekit.VAE(
        latent_dim=LATENT_DIM,
        hidden=HIDDEN,
        architecture="mlp",
        batch_size=BATCH_SIZE,
        learning_rate=1e-3,
        epochs=epochs,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=seed,
    ).fit(x)
    return list(vae.history_["seconds"])


def train_plain_torch(x: np.ndarray, epochs: int, seed: int) -> list[float]:
    """The floor: the same VAE step written directly in torch, with nothing around it.

    Fused Adam, denormals flushed, one shuffled copy of the data per epoch sliced into
    batches; no validation, history, checks or checkpoints.
    """
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    encoder = nn.Sequential(
        nn.Linear(N_PIXELS, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(),
        nn.Linear(HIDDEN[1], 2 * LATENT_DIM),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(LATENT_DIM, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(),
        nn.Linear(HIDDEN[0], N_PIXELS),
    )  # fmt: skip
    parameters = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3, fused=True)
    data = torch.from_numpy(x)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        shuffled = data[torch.randperm(len(data))]
        for batch in shuffled.split(BATCH_SIZE):
            mu, logvar = encoder(batch).chunk(2, dim=-1)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            nll = nn.functional.binary_cross_entropy_with_logits(decoder(z), batch, reduction="sum")
            kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum()
            loss = (nll + kl) / len(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    return seconds


def pythae_available() -> bool:
    try:
        import pythae  # noqa: F401
    except ImportError:
        return False
    return True


def train_pythae(x: np.ndarray, epochs: int, seed: int, flush_denormal: bool = False) -> list[float]:
    """pythae 0.1.x VAE with our layers, timed per epoch by a training callback.

    pythae's per-batch progress bar is left out (it only adds to pythae's time).
    """
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    logging.getLogger("pythae").setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(N_PIXELS, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU()
            )
            self.head = nn.Linear(HIDDEN[1], 2 * LATENT_DIM)

        def forward(self, x):
            mu, log_var = self.head(self.body(x)).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(LATENT_DIM, HIDDEN[1]), nn.ReLU(),
                nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(),
                nn.Linear(HIDDEN[0], N_PIXELS), nn.Sigmoid(),
            )  # fmt: skip

        def forward(self, z):
            return ModelOutput(reconstruction=self.layers(z))

    class EpochTimer(TrainingCallback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_epoch_begin(self, training_config, **kwargs):
            self.started = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            self.seconds.append(time.perf_counter() - self.started)

    class QuietTrainer(BaseTrainer):
        def _setup_callbacks(self):
            super()._setup_callbacks()
            self.callback_handler.callbacks = [
                c for c in self.callback_handler.callbacks if type(c).__name__ != "ProgressBarCallback"
            ]

    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(seed)
    config = VAEConfig(input_dim=(N_PIXELS,), latent_dim=LATENT_DIM, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    timer = EpochTimer()
    data = torch.from_numpy(x)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = QuietTrainer(
            model,
            BaseDataset(data, torch.zeros(len(data))),
            training_config=BaseTrainerConfig(
                output_dir=output_dir,
                num_epochs=epochs,
                learning_rate=1e-3,
                per_device_train_batch_size=BATCH_SIZE,
                optimizer_cls="Adam",
                keep_best_on_train=True,  # without an eval set pythae only keeps a model this way
                no_cuda=True,
                seed=seed,
            ),
            callbacks=[timer],
        )
        trainer.train()
    return timer.seconds


def summarize(name: str, runs: list[list[float]], ceiling: float, loads: list[float]) -> dict:
    """Throughput from the median epoch time, pooling every run's epochs 2 and later."""
    epoch_seconds = statistics.median(s for seconds in runs for s in seconds[1:])
    samples_per_second = N_TRAIN / epoch_seconds
    gflops = 3 * forward_flops_per_sample() * samples_per_second / 1e9
    return {
        "library": name,
        "s/epoch": epoch_seconds,
        "samples/s": samples_per_second,
        "GFLOP/s": gflops,
        "% ceiling": 100 * gflops / ceiling,
        "max load": max(loads),
        "epoch_seconds": runs,
    }


TRAINERS = {
    "aekit": train_aekit,
    "plain torch": train_plain_torch,
    "pythae": train_pythae,
    "pythae+flush": lambda x, epochs, seed: train_pythae(x, epochs, seed, flush_denormal=True),
}


def train_in_fresh_process(name: str, data_path: Path, epochs: int, seed: int) -> list[float]:
    """Epoch seconds of ``TRAINERS[name]``, run by this script in a new interpreter."""
    command = [sys.executable, __file__, "--worker", name, "--data", str(data_path)]
    command += ["--epochs", str(epochs), "--seed", str(seed)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"training {name} failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])["epoch_seconds"]


def main() -> None:
    use_passive_openmp()
    parser = make_parser("throughput", __doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per training run (median over 2+)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating training runs per library")
    parser.add_argument("--no-pythae", action="store_true", help="skip the pythae comparison")
    parser.add_argument(
        "--pythae-flush-denormal",
        action="store_true",
        help="also train pythae with denormals flushed to zero (as our trainer does); "
        "by default pythae runs as its users get it",
    )
    parser.add_argument("--worker", choices=sorted(TRAINERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        seconds = TRAINERS[args.worker](np.load(args.data), args.epochs, args.seed)
        print(json.dumps({"epoch_seconds": seconds}))
        return

    x_train, _ = load_mnist_flat(args.mnist)
    with_pythae = not args.no_pythae and pythae_available()
    if not args.no_pythae and not with_pythae:
        print("pythae is not importable: skipping the comparison (pip install --no-deps pythae==0.1.2)")

    libraries = ["aekit", "plain torch"]
    if with_pythae:
        libraries += ["pythae", "pythae+flush"] if args.pythae_flush_denormal else ["pythae"]
    runs: dict[str, list[list[float]]] = {name: [] for name in libraries}
    loads: dict[str, list[float]] = {name: [] for name in libraries}
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        data_path = Path(scratch) / "x_train.npy"
        np.save(data_path, np.ascontiguousarray(x_train[:N_TRAIN]))
        for _ in range(args.rounds):
            ceilings.append(matmul_ceiling())
            print(f"float32 matmul ceiling at the model's shapes: {ceilings[-1]:.1f} GFLOP/s (load {load_average()})")
            for name in libraries:
                loads[name].append(load_average())
                runs[name].append(train_in_fresh_process(name, data_path, args.epochs, args.seed))
                loads[name].append(load_average())
                print(f"{name}: " + " ".join(f"{s:.2f}" for s in runs[name][-1]) + f" s/epoch (load {loads[name][-1]})")

    ceiling = max(ceilings)  # the best the matmuls achieved; load only lowers it
    rows = [summarize(name, runs[name], ceiling, loads[name]) for name in libraries]
    print()
    print_table(rows, ["library", "s/epoch", "samples/s", "GFLOP/s", "% ceiling", "max load"])
    result = {
        "model": f"MLP VAE {N_PIXELS}-{HIDDEN[0]}-{HIDDEN[1]}-{LATENT_DIM}-{HIDDEN[1]}-{HIDDEN[0]}-{N_PIXELS}",
        "n_train": N_TRAIN,
        "batch_size": BATCH_SIZE,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "each_run_in_a_fresh_process": True,
        "forward_flops_per_sample": forward_flops_per_sample(),
        "matmul_ceiling_gflops": ceiling,
        "matmul_ceiling_per_round": ceilings,
        "results": rows,
    }
    for row in rows[1:]:
        ratio = rows[0]["s/epoch"] / row["s/epoch"]
        print(f"aekit / {row['library']} epoch time: {ratio:.3f}")
        result[f"epoch_time_ratio_aekit_over_{row['library']}"] = ratio
    write_json(args.out, result)


if __name__ == "__main__":
    main()
