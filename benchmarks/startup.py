"""Start-up time of the ``aekit`` command against ``import torch`` (issue 21, item 5).

Each command runs in a fresh interpreter; the commands (and, with several ``--src``, the
checkouts) are interleaved round by round, so a change of load on the shared machine hits
all of them.  Reported per command: medians over the rounds of the child's CPU seconds
(user + sys, from ``os.wait4``) and of its wall seconds, and both as a multiple of
``import torch`` measured in the same rounds.

``aekit encode RUN DATA`` applies a small model (an AutoEncoder trained for one epoch on a
2000 x 20 table, before the timing) to that table: it needs the estimators, so its floor is
``import torch, sklearn.base`` (also timed).

    python benchmarks/startup.py --src before=/path/to/old/src --src after=src --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv`` in a fresh process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}): {child.stderr.read().decode()[-400:]}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", action="append", metavar="LABEL=PATH",
        help="a checkout's src folder to time (repeatable; default: this checkout's, labelled 'this')",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = parser.parse_args()
    sources = dict(s.split("=", 1) for s in args.src or [f"this={ROOT / 'src'}"])
    sources = {label: str(Path(path).resolve()) for label, path in sources.items()}

    work = Path(tempfile.mkdtemp(prefix="aekit-startup-"))
    table = work / "table.npy"
    np.save(table, np.random.default_rng(0).normal(size=(2000, 20)).astype(np.float32))
    py, codes = sys.executable, work / "codes.npy"
    base_env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    envs = {label: {**base_env, "PYTHONPATH": path} for label, path in sources.items()}
    first = next(iter(envs.values()))
    train = ["train", "ae", "--data", str(table), "--out", str(work / "run"), "--epochs", "1", "--quiet"]
    subprocess.run([py, "-m", "aekit", *train], env=first, check=True, stdout=subprocess.DEVNULL)

    references = {
        "python -c 'import torch'": [py, "-c", "import torch"],
        "python -c 'import torch, sklearn.base'": [py, "-c", "import torch, sklearn.base"],
    }
    commands = {
        "python -c 'import aekit'": [py, "-c", "import aekit"],
        "aekit --help": [py, "-m", "aekit", "--help"],
        "aekit encode --help": [py, "-m", "aekit", "encode", "--help"],
        "aekit train --help": [py, "-m", "aekit", "train", "--help"],
        "aekit encode RUN DATA": [py, "-m", "aekit", "encode", str(work / "run"), str(table), "--out", str(codes)],
    }
    runs = [(name, "-", argv, base_env) for name, argv in references.items()]
    runs += [(name, label, argv, env) for name, argv in commands.items() for label, env in envs.items()]
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(name, label): [] for name, label, _, _ in runs}
    timed(references["python -c 'import torch'"], base_env)  # warm the file cache before the first round
    for round_ in range(args.rounds):
        order = runs if round_ % 2 == 0 else runs[::-1]
        for name, label, argv, env in order:
            samples[name, label].append(timed(argv, env))
        print(f"round {round_ + 1}/{args.rounds} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)

    medians = {
        key: (statistics.median(c for c, _ in values), statistics.median(w for _, w in values))
        for key, values in samples.items()
    }
    torch_cpu, torch_wall = medians["python -c 'import torch'", "-"]
    rows = [
        {
            "command": name,
            "checkout": label,
            "CPU s": f"{cpu:.2f}",
            "x torch (CPU)": f"{cpu / torch_cpu:.2f}",
            "wall s": f"{wall:.2f}",
            "x torch (wall)": f"{wall / torch_wall:.2f}",
        }
        for (name, label), (cpu, wall) in medians.items()
    ]
    print_table(rows, ["command", "checkout", "CPU s", "x torch (CPU)", "wall s", "x torch (wall)"])
    write_json(
        args.out,
        {
            "rounds": args.rounds,
            "sources": sources,
            "rows": rows,
            "samples": [{"command": n, "checkout": l, "cpu_wall": v} for (n, l), v in samples.items()],
        },
    )


if __name__ == "__main__":
    main()
