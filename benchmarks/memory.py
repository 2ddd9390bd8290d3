"""Extra memory of training: peak RSS while fitting an MLP VAE on 60k MNIST, above the RSS with the data loaded.

Each configuration runs in a fresh interpreter that imports torch (and aekit where
it is measured) before the baseline, loads the 60k training images as float32 rows in [0, 1], resets the
kernel's peak-RSS counter (``/proc/self/clear_refs``), trains two epochs and reports
``VmHWM - VmRSS`` from ``/proc/self/status``: the memory training itself added.

* ``aekit``: ``aekit.VAE`` at its defaults (MLP 784-256-128-16, a 10% validation split,
  early stopping keeping the best weights), likelihood Bernoulli;
* ``aekit, no validation``: the same with ``validation_fraction=0``;
* ``bare loop``: the same network and step written directly in torch (fused Adam,
  a shuffled copy of the data per epoch sliced into batches, as a hand-written loop does).

``--before PATH`` adds aekit from another checkout's ``src`` (e.g. the commit before a
change) as ``aekit (before)``, run the same way.  ``--rounds R`` alternates the
configurations R times; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import load_mnist_flat, make_parser, print_table, write_json

EPOCHS = 2
HIDDEN = (256, 128)
LATENT_DIM = 16


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _train_aekit(x: np.ndarray, validation_fraction: float) -> None:
    import aekit

    aekit.VAE(
        likelihood="bernoulli", latent_dim=LATENT_DIM, hidden=HIDDEN, architecture="mlp", epochs=EPOCHS,
        validation_fraction=validation_fraction, random_state=0,
    ).fit(x)  # fmt: skip


def _train_bare(x: np.ndarray) -> None:
    import torch
    from torch import nn

    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    d = x.shape[1]
    encoder = nn.Sequential(
        nn.Linear(d, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], 2 * LATENT_DIM)
    )
    decoder = nn.Sequential(
        nn.Linear(LATENT_DIM, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], d)
    )
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3, fused=True)
    data = torch.from_numpy(x)
    for _ in range(EPOCHS):
        for batch in data[torch.randperm(len(data))].split(128):
            mu, logvar = encoder(batch).chunk(2, dim=-1)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            nll = nn.functional.binary_cross_entropy_with_logits(decoder(z), batch, reduction="sum")
            loss = (nll + 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum()) / len(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


WORKERS = {
    "aekit": lambda x: _train_aekit(x, 0.1),
    "aekit, no validation": lambda x: _train_aekit(x, 0.0),
    "bare loop": _train_bare,
}


def worker(name: str, data: str) -> None:
    import torch  # libraries are imported before the baseline: their code is not training memory

    if name.startswith("aekit"):
        import aekit  # noqa: F401

    torch.set_num_threads(1)
    x = np.load(data)
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS counts from here
    resident = _status_kib("VmRSS")
    WORKERS[name.removesuffix(" (before)")](x)
    print(json.dumps({"extra_mb": (_status_kib("VmHWM") - resident) / 1024}))


def run(name: str, data: Path, src: str | None) -> float:
    env = dict(os.environ, PYTHONPATH=src) if src else dict(os.environ)
    command = [sys.executable, __file__, "--worker", name, "--data", str(data)]
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    if finished.returncode != 0:
        raise SystemExit(f"{name} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])["extra_mb"]


def main() -> None:
    parser = make_parser("memory", __doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", metavar="SRC", help="another checkout's src folder, run as 'aekit (before)'")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    x_train, _ = load_mnist_flat(args.mnist)
    here = str(Path(__file__).resolve().parents[1] / "src")
    configs = {name: here for name in WORKERS}
    if args.before:
        configs["aekit (before)"] = args.before
    extra: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "x.npy"
        np.save(data, np.ascontiguousarray(x_train))
        for _ in range(args.rounds):
            for name, src in configs.items():
                extra[name].append(run(name, data, src))
                print(f"{name}: +{extra[name][-1]:.0f} MB")
    bare = statistics.median(extra["bare loop"])
    rows = [
        {"configuration": name, "extra MB (median)": statistics.median(v), "ratio to bare loop": statistics.median(v) / bare}
        for name, v in extra.items()
    ]
    print()
    print_table(rows, ["configuration", "extra MB (median)", "ratio to bare loop"])
    write_json(
        args.out,
        {"n_train": len(x_train), "epochs": EPOCHS, "rounds": args.rounds, "runs_mb": extra, "results": rows},
    )


if __name__ == "__main__":
    main()
