"""Training and encoding throughput on MNIST: aekit against a hand-written torch loop,
the matmul/conv ceiling and pythae, on the MLP and the conv path.

Models (batch 128, Adam lr 1e-3, Bernoulli likelihood, 16-d code, x_train[:--n-train]):

* MLP VAE 784-512-256-(16 x 2)-256-512-784, ReLU: aekit, the same step by hand ("hand mlp"),
  and pythae's VAE with the same layers if pythae is importable;
* conv VAE, aekit's default conv net for 28x28 (3x3 stride-2 convolutions 1-32-64, a linear
  posterior head 3136 -> 32, the mirror-image decoder): aekit, and the same net by hand with
  the default (contiguous) layout and with model and batches in ``torch.channels_last``.
  (pythae's conv VAE is not compared: not written, as pythae is not installed here.)

Per run: wall and CPU seconds (user + sys of the process) per epoch, taken at the same
instants (aekit: ``history_["seconds"]`` and ``history_["cpu_seconds"]``; hand loops and
pythae: ``time.perf_counter`` and ``time.process_time``); the table gives the medians over
epochs 2 and later, pooled over rounds.  Achieved GFLOP/s = 3 x forward FLOPs per sample x
samples/s (elementwise work and Adam not counted), over the ceiling: the same matmuls or
convolutions alone (forward and both gradients, batch 128), measured at the start of every
round in the parent process; each round's runs are normalized by that round's ceiling.

Encoding (rows/s, 10k test images, median of 3 passes, after a 1-epoch fit): aekit's
``transform``, calling the fitted module's ``encode`` directly under ``inference_mode`` in
the same batches, and PCA(16).transform.

Every run happens in a fresh Python process that imports only what it times, and with
``--rounds R`` the runs alternate R times (the machine may be shared).
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _common import load_average, load_mnist_flat, make_parser, print_table, use_passive_openmp, write_json

BATCH_SIZE = 128
LATENT_DIM = 16
HIDDEN = (512, 256)
N_PIXELS = 784
CHANNELS = (32, 64)  # aekit's default conv channels
SIDE = 28


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


def conv_layers() -> list[tuple[str, int, int, int]]:
    """(kind, in channels, out channels, input side) of the conv VAE's (transposed) convolutions."""
    sides = [SIDE, (SIDE + 1) // 2, (SIDE + 3) // 4]  # 28, 14, 7
    return [
        ("conv", 1, CHANNELS[0], sides[0]),
        ("conv", CHANNELS[0], CHANNELS[1], sides[1]),
        ("deconv", CHANNELS[1], CHANNELS[0], sides[2]),
        ("deconv", CHANNELS[0], 1, sides[1]),
    ]


def conv_linear_shapes() -> list[tuple[int, int]]:
    flat = CHANNELS[1] * ((SIDE + 3) // 4) ** 2
    return [(flat, 2 * LATENT_DIM), (LATENT_DIM, flat)]


def conv_forward_flops_per_sample() -> int:
    """2 x the multiply-adds of every layer: a stride-2 3x3 convolution makes 9 per pair of channels and
    pixel of its smaller (output) map, a transposed one the same per pixel of its smaller (input) map."""
    def small_side(kind: str, side: int) -> int:
        return (side + 1) // 2 if kind == "conv" else side

    convs = sum(2 * 9 * c_in * c_out * small_side(kind, side) ** 2 for kind, c_in, c_out, side in conv_layers())
    return convs + sum(2 * n_in * n_out for n_in, n_out in conv_linear_shapes())


def _median_seconds(step: Callable[[], None], repeats: int) -> float:
    for _ in range(max(3, repeats // 10)):
        step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def conv_ceiling(batch_size: int = BATCH_SIZE, repeats: int = 30) -> float:
    """GFLOP/s of the conv VAE's convolutions and linear layers alone, forward and backward (input and
    weight gradients), batch 128, in the faster of the contiguous and channels-last layouts."""
    best = 0.0
    for layout in (torch.contiguous_format, torch.channels_last):
        operands = []
        for kind, c_in, c_out, side in conv_layers():
            layer = (
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
                if kind == "conv"
                else nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
            ).to(memory_format=layout)
            x = torch.rand(batch_size, c_in, side, side).contiguous(memory_format=layout).requires_grad_()
            operands.append((layer, x, torch.randn_like(layer(x))))
        for n_in, n_out in conv_linear_shapes():
            layer = nn.Linear(n_in, n_out)
            x = torch.rand(batch_size, n_in, requires_grad=True)
            operands.append((layer, x, torch.randn(batch_size, n_out)))

        def step() -> None:
            for layer, x, grad in operands:
                layer(x).backward(grad)

        best = max(best, 3 * conv_forward_flops_per_sample() * batch_size / _median_seconds(step, repeats) / 1e9)
    return best


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

    return 3 * forward_flops_per_sample() * batch_size / _median_seconds(step, repeats) / 1e9


Clocks = dict  # {"wall": [per epoch], "cpu": [per epoch]}


def aekit_vae(architecture: str, epochs: int, seed: int):
    import aekit

    return aekit.VAE(
        latent_dim=LATENT_DIM,
        hidden=HIDDEN if architecture == "mlp" else CHANNELS,
        architecture=architecture,
        batch_size=BATCH_SIZE,
        learning_rate=1e-3,
        epochs=epochs,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=seed,
        verbose=0,
    )


def train_aekit(x: np.ndarray, epochs: int, seed: int, architecture: str = "mlp") -> Clocks:
    x = x if architecture == "mlp" else x.reshape(len(x), SIDE, SIDE)
    vae = aekit_vae(architecture, epochs, seed).fit(x)
    return {"wall": list(vae.history_["seconds"]), "cpu": list(vae.history_["cpu_seconds"])}


def _hand_loop(encoder: nn.Module, decoder: nn.Module, data: torch.Tensor, epochs: int, layout=None) -> Clocks:
    """The VAE step with nothing around it: fused Adam, denormals flushed, one shuffled copy of the
    data per epoch sliced into batches; no validation, history, checks or checkpoints."""
    torch.set_flush_denormal(True)
    parameters = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3, fused=True)
    clocks: Clocks = {"wall": [], "cpu": []}
    for _ in range(epochs):
        started, started_cpu = time.perf_counter(), time.process_time()
        shuffled = data[torch.randperm(len(data))]
        for batch in shuffled.split(BATCH_SIZE):
            if layout is not None:
                batch = batch.contiguous(memory_format=layout)
            mu, logvar = encoder(batch).chunk(2, dim=-1)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            nll = nn.functional.binary_cross_entropy_with_logits(decoder(z), batch, reduction="sum")
            kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum()
            loss = (nll + kl) / len(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        clocks["wall"].append(time.perf_counter() - started)
        clocks["cpu"].append(time.process_time() - started_cpu)
    return clocks


def train_hand_conv(x: np.ndarray, epochs: int, seed: int, channels_last: bool = False) -> Clocks:
    """aekit's conv VAE written directly in torch (same layers and initialization order)."""
    torch.manual_seed(seed)
    flat, low = CHANNELS[1] * ((SIDE + 3) // 4) ** 2, (SIDE + 3) // 4
    encoder = nn.Sequential(
        nn.Conv2d(1, CHANNELS[0], 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(CHANNELS[0], CHANNELS[1], 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(flat, 2 * LATENT_DIM),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(LATENT_DIM, flat), nn.ReLU(), nn.Unflatten(1, (CHANNELS[1], low, low)),
        nn.ConvTranspose2d(CHANNELS[1], CHANNELS[0], 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(CHANNELS[0], 1, 3, stride=2, padding=1, output_padding=1),
    )  # fmt: skip
    layout = torch.channels_last if channels_last else None
    if layout is not None:
        encoder, decoder = encoder.to(memory_format=layout), decoder.to(memory_format=layout)
    return _hand_loop(encoder, decoder, torch.from_numpy(x).reshape(len(x), 1, SIDE, SIDE), epochs, layout)


def train_hand_mlp(x: np.ndarray, epochs: int, seed: int) -> Clocks:
    """The floor: the same MLP VAE step written directly in torch."""
    torch.manual_seed(seed)
    encoder = nn.Sequential(
        nn.Linear(N_PIXELS, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(),
        nn.Linear(HIDDEN[1], 2 * LATENT_DIM),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(LATENT_DIM, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(),
        nn.Linear(HIDDEN[0], N_PIXELS),
    )  # fmt: skip
    return _hand_loop(encoder, decoder, torch.from_numpy(x), epochs)


def pythae_available() -> bool:
    try:
        import pythae  # noqa: F401
    except ImportError:
        return False
    return True


def train_pythae(x: np.ndarray, epochs: int, seed: int, flush_denormal: bool = False) -> Clocks:
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
            self.clocks: Clocks = {"wall": [], "cpu": []}

        def on_epoch_begin(self, training_config, **kwargs):
            self.started, self.started_cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, training_config, **kwargs):
            self.clocks["wall"].append(time.perf_counter() - self.started)
            self.clocks["cpu"].append(time.process_time() - self.started_cpu)

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
    return timer.clocks


def encode_throughput(x: np.ndarray, x_test: np.ndarray, epochs: int, seed: int) -> dict:
    """Rows/s (wall and CPU) encoding ``x_test``: aekit's transform, the fitted module's encode called
    directly in the same batches, and PCA(16), each the median of 3 passes after a warm-up pass."""
    from sklearn.decomposition import PCA

    def rate(encode: Callable[[], object]) -> dict:
        encode()
        walls, cpus = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            encode()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - started_cpu)
        return {"rows/s": len(x_test) / statistics.median(walls), "rows/CPU-s": len(x_test) / statistics.median(cpus)}

    def direct(vae, inputs: torch.Tensor) -> Callable[[], object]:
        def encode() -> object:
            with torch.inference_mode():
                return [vae.module_.encode(b) for b in inputs.split(vae.transform_batch_size)]

        return encode

    rates = {}
    for architecture in ("mlp", "conv"):
        shaped = (lambda a: a) if architecture == "mlp" else (lambda a: a.reshape(len(a), SIDE, SIDE))
        vae = aekit_vae(architecture, 1, seed).fit(shaped(x))
        test = shaped(x_test)
        rates[f"aekit {architecture} transform"] = rate(lambda: vae.transform(test))
        inputs = torch.from_numpy(x_test).reshape(len(x_test), *vae.model_shape_)
        rates[f"{architecture} module.encode"] = rate(direct(vae, inputs))
    pca = PCA(LATENT_DIM, random_state=seed).fit(x)
    rates["PCA(16) transform"] = rate(lambda: pca.transform(x_test))
    return rates


#: name -> (path, trainer(x, epochs, seed) -> Clocks)
TRAINERS: dict[str, tuple[str, Callable[..., Clocks]]] = {
    "aekit mlp": ("mlp", train_aekit),
    "hand mlp": ("mlp", train_hand_mlp),
    "pythae mlp": ("mlp", train_pythae),
    "pythae+flush mlp": ("mlp", lambda x, epochs, seed: train_pythae(x, epochs, seed, flush_denormal=True)),
    "aekit conv": ("conv", lambda x, epochs, seed: train_aekit(x, epochs, seed, "conv")),
    "hand conv": ("conv", train_hand_conv),
    "hand conv channels_last": ("conv", lambda x, epochs, seed: train_hand_conv(x, epochs, seed, channels_last=True)),
}
FLOPS = {"mlp": forward_flops_per_sample, "conv": conv_forward_flops_per_sample}


def run_in_fresh_process(name: str, scratch: Path, epochs: int, seed: int) -> dict:
    """What worker ``name`` (a trainer, or "encode") reports, run by this script in a new interpreter."""
    command = [sys.executable, __file__, "--worker", name, "--data", str(scratch)]
    command += ["--epochs", str(epochs), "--seed", str(seed)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"{name} failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _median_after_first(per_epoch: list[float]) -> float:
    return statistics.median(per_epoch[1:] if len(per_epoch) > 1 else per_epoch)


def summarize(name: str, rounds: list[dict], n_train: int) -> dict:
    """Medians of the epochs 2+ pooled over rounds; % ceiling is each round's own ratio, then the median."""
    path = TRAINERS[name][0]
    wall = statistics.median(s for r in rounds for s in (r["wall"][1:] or r["wall"]))
    cpu = statistics.median(s for r in rounds for s in (r["cpu"][1:] or r["cpu"]))
    gflops = 3 * FLOPS[path]() * n_train / wall / 1e9
    of_ceiling = [3 * FLOPS[path]() * n_train / _median_after_first(r["wall"]) / 1e9 / r["ceiling"] for r in rounds]
    return {
        "run": name,
        "s/epoch": wall,
        "CPU s/epoch": cpu,
        "samples/s": n_train / wall,
        "GFLOP/s": gflops,
        "% ceiling": 100 * statistics.median(of_ceiling),
        "max load": max(r["load"] for r in rounds),
        "rounds": rounds,
    }


def paired_ratio(rounds_a: list[dict], rounds_b: list[dict], clock: str) -> float:
    """Median over rounds of a's median epoch (2+) over b's in the same round."""
    return statistics.median(
        _median_after_first(a[clock]) / _median_after_first(b[clock]) for a, b in zip(rounds_a, rounds_b)
    )


def main() -> None:
    use_passive_openmp()
    parser = make_parser("throughput", __doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per training run (median over 2+)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating training runs per library")
    parser.add_argument("--n-train", type=int, default=50_000, help="training images (default 50000)")
    parser.add_argument("--paths", default="mlp,conv", help="which nets: mlp, conv or both (default mlp,conv)")
    parser.add_argument("--no-encode", action="store_true", help="skip the encoding throughput")
    parser.add_argument("--no-pythae", action="store_true", help="skip the pythae comparison")
    parser.add_argument(
        "--pythae-flush-denormal",
        action="store_true",
        help="also train pythae with denormals flushed to zero (as our trainer does); "
        "by default pythae runs as its users get it",
    )
    parser.add_argument("--worker", choices=[*sorted(TRAINERS), "encode"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        scratch = Path(args.data)
        x = np.load(scratch / "x_train.npy")
        if args.worker == "encode":
            report = encode_throughput(x, np.load(scratch / "x_test.npy"), args.epochs, args.seed)
        else:
            report = TRAINERS[args.worker][1](x, args.epochs, args.seed)
        print(json.dumps(report))
        return

    x_train, x_test = load_mnist_flat(args.mnist)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    with_pythae = "mlp" in paths and not args.no_pythae and pythae_available()
    if "mlp" in paths and not args.no_pythae and not with_pythae:
        print("pythae is not importable: skipping the comparison (pip install --no-deps pythae==0.1.2)")
    names = [n for n, (path, _) in TRAINERS.items() if path in paths and (with_pythae or not n.startswith("pythae"))]
    if not args.pythae_flush_denormal:
        names = [n for n in names if n != "pythae+flush mlp"]
    ceilings_of = {"mlp": matmul_ceiling, "conv": conv_ceiling}
    rounds: dict[str, list[dict]] = {name: [] for name in names}
    ceilings: dict[str, list[float]] = {path: [] for path in paths}
    encodes: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "x_train.npy", np.ascontiguousarray(x_train[: args.n_train]))
        np.save(Path(scratch) / "x_test.npy", np.ascontiguousarray(x_test))
        for round_ in range(args.rounds):
            for path in paths:
                ceilings[path].append(ceilings_of[path]())
                print(f"round {round_ + 1}: {path} ceiling {ceilings[path][-1]:.1f} GFLOP/s (load {load_average()})")
            for name in names if round_ % 2 == 0 else names[::-1]:
                load = load_average()
                clocks = run_in_fresh_process(name, Path(scratch), args.epochs, args.seed)
                rounds[name].append(
                    {**clocks, "ceiling": ceilings[TRAINERS[name][0]][-1], "load": max(load, load_average())}
                )
                print(
                    f"  {name}: wall " + " ".join(f"{s:.2f}" for s in clocks["wall"])
                    + " / CPU " + " ".join(f"{s:.2f}" for s in clocks["cpu"]) + f" s/epoch (load {load_average()})"
                )  # fmt: skip
            if not args.no_encode:
                encodes.append(run_in_fresh_process("encode", Path(scratch), args.epochs, args.seed))

    rows = [summarize(name, rounds[name], args.n_train) for name in names]
    for row in rows:
        hand = "hand " + TRAINERS[row["run"]][0]
        row["x hand (CPU)"] = paired_ratio(rounds[row["run"]], rounds[hand], "cpu")
        row["x hand (wall)"] = paired_ratio(rounds[row["run"]], rounds[hand], "wall")
    print()
    columns = ["run", "s/epoch", "CPU s/epoch", "x hand (wall)", "x hand (CPU)", "samples/s", "GFLOP/s", "% ceiling"]
    print_table(rows, [*columns, "max load"])
    result = {
        "models": {
            "mlp": f"VAE {N_PIXELS}-{HIDDEN[0]}-{HIDDEN[1]}-{LATENT_DIM}-{HIDDEN[1]}-{HIDDEN[0]}-{N_PIXELS}",
            "conv": f"VAE conv {CHANNELS} 3x3 stride 2, {LATENT_DIM}-d code",
        },
        "n_train": args.n_train,
        "batch_size": BATCH_SIZE,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "each_run_in_a_fresh_process": True,
        "forward_flops_per_sample": {path: FLOPS[path]() for path in paths},
        "ceiling_gflops_per_round": ceilings,
        "results": rows,
    }
    if "aekit mlp" in rounds and "pythae mlp" in rounds:
        for clock in ("wall", "cpu"):
            ratio = paired_ratio(rounds["aekit mlp"], rounds["pythae mlp"], clock)
            print(f"aekit / pythae ({clock}): {ratio:.3f}")
            result[f"aekit_over_pythae_{clock}"] = ratio
    if "aekit conv" in rounds:
        for clock in ("wall", "cpu"):
            result[f"aekit_conv_over_hand_channels_last_{clock}"] = paired_ratio(
                rounds["aekit conv"], rounds["hand conv channels_last"], clock
            )
    if encodes:
        encode_rows = [
            {
                "encoder": what,
                "rows/s": statistics.median(e[what]["rows/s"] for e in encodes),
                "rows/CPU-s": statistics.median(e[what]["rows/CPU-s"] for e in encodes),
            }
            for what in encodes[0]
        ]
        print(f"\nencoding the {len(x_test)} test images (median over {len(encodes)} rounds):")
        print_table(encode_rows, ["encoder", "rows/s", "rows/CPU-s"])
        result["encode"] = {"rows": encode_rows, "per_round": encodes}
    write_json(args.out, result)


if __name__ == "__main__":
    main()
