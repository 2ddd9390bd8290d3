"""A hostile user's battery (issue 19): bad inputs, hostile model files, damaged run folders and
checkpoints, disk and path errors, two writers; each outcome counted as a clear error, a correct
result, a silent wrong result or a raw traceback.

Run it against any aekit checkout (it uses only the public API, ``aekit.load`` and the
``aekit`` command line, so it also runs on commits that predate the fixes)::

    PYTHONPATH=src python benchmarks/hostile_battery.py --label after
    PYTHONPATH=/tmp/base19/src python benchmarks/hostile_battery.py --label before

Each label's counts and per-case outcomes are merged into ``--out`` (default
``benchmarks/results/hostile_battery.json``).  Cases that cannot be staged on this machine (a
read-only folder when running as root, where chmod does not stop writes; a full disk when no
small tmpfs can be mounted) are reported as skipped, with the reason.

Outcomes: "clear" = an exception of a documented kind (ValueError, TypeError, OSError,
the one-writer error) or, on the command line, a non-zero exit with one line on stderr;
"correct" = a result that is right (e.g. an out-of-range row flagged as an outlier);
"silent" = a result where an error (or another result) was due; "raw" = any other exception,
or a command line that raised or printed more than one line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

CLEAR_TYPES = (ValueError, TypeError, OSError)
CLEAR_NAMES = ("FolderBusyError",)  # a RuntimeError by design (not a problem with the input)


class Hang(Exception):
    """A case that did not answer within its time limit."""


def _hang(signum, frame):
    raise Hang


class Battery:
    def __init__(self) -> None:
        self.cases: list[dict] = []

    def record(self, group: str, label: str, outcome: str, note: str = "") -> None:
        self.cases.append({"group": group, "case": label, "outcome": outcome, "note": note[:240]})
        print(f"  {outcome:8s} {group:12s} {label}: {note[:110]}", flush=True)

    def api(self, group: str, label: str, call, correct=None, limit: int = 60, valid: bool = False) -> None:
        """``call()`` should raise a clear error, or return a result that ``correct`` accepts, within ``limit`` s.

        ``valid``: the call is a legitimate use, so any exception is a failure (raw), not a clear refusal.
        """
        started = time.perf_counter()
        previous = signal.signal(signal.SIGALRM, _hang)
        signal.alarm(limit)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = call()
        except Hang:
            self.record(group, label, "raw", f"no answer within {limit} s (a hang)")
            return
        except Exception as exc:  # noqa: BLE001 - classifying every failure is the point
            clear = not valid and (isinstance(exc, CLEAR_TYPES) or type(exc).__name__ in CLEAR_NAMES)
            first = (str(exc).splitlines() or [""])[0]
            seconds = time.perf_counter() - started
            outcome = "clear" if clear else "raw"
            self.record(group, label, outcome, f"{type(exc).__name__} after {seconds:.1f} s: {first}")
            return
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        if correct is not None and correct(result):
            self.record(group, label, "correct", "right result")
        else:
            self.record(group, label, "silent", f"returned {_describe(result)}")

    def cli(self, group: str, label: str, argv: list[str], after=None) -> None:
        """``aekit argv`` should exit non-zero with one line on stderr (``after()``: extra checks, True = fine)."""
        from aekit.cli import main

        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = main(argv)
        except SystemExit as exc:  # argparse: usage and one error line
            code = exc.code
        except Exception as exc:  # noqa: BLE001
            self.record(group, label, "raw", f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
            return
        lines = [line for line in err.getvalue().splitlines() if line.strip() and not line.startswith("usage")]
        lines = [line for line in lines if not line.startswith(" ")]  # argparse's wrapped usage
        extra_ok = after() if after is not None else True
        if code == 0:
            self.record(group, label, "silent", "exit 0")
        elif len(lines) != 1:
            self.record(group, label, "raw", f"exit {code}, {len(lines)} lines: {' | '.join(lines)[:200]}")
        elif not extra_ok:
            self.record(group, label, "silent", f"exit {code} but left damage: {lines[0]}")
        else:
            self.record(group, label, "clear", lines[0])

    def skip(self, group: str, label: str, reason: str) -> None:
        self.record(group, label, "skipped", reason)

    def counts(self) -> dict[str, int]:
        outcomes = ("clear", "correct", "silent", "raw", "skipped")
        return {o: sum(c["outcome"] == o for c in self.cases) for o in outcomes}


def _describe(result) -> str:
    if isinstance(result, np.ndarray):
        if result.dtype.kind in "fc":
            return f"array {result.shape}, {np.isnan(result).mean():.0%} NaN, mean {np.nanmean(result):.4g}"
        return f"array {result.shape}, mean {result.mean():.4g}"
    return type(result).__name__


# ---------------------------------------------------------------------------- the cases
def bad_inputs(b: Battery, X: np.ndarray) -> None:
    import aekit

    tiny = dict(latent_dim=2, hidden=(16,), epochs=3, random_state=0)
    vae = aekit.VAE(**tiny).fit(X)
    bce = aekit.AutoEncoder(loss="bce", **tiny).fit(X)
    ae = aekit.AutoEncoder(**tiny).fit(X)
    for name, model in (("VAE bernoulli", vae), ("AE bce", bce)):
        for method in ("score_samples", "reconstruction_error", "reconstruct", "transform"):
            b.api("scoring", f"{name}.{method}(X*16)", lambda m=model, f=method: getattr(m, f)(X * 16))
    b.api("scoring", "VAE.log_likelihood(X*16)", lambda: vae.log_likelihood(X[:50] * 16, n_samples=10))
    outlier = lambda r: bool((r == -1).all())  # noqa: E731
    elbo = aekit.AnomalyDetector(aekit.VAE(**tiny), score="elbo").fit(X)
    b.api("scoring", "Detector(VAE, elbo).predict(X*16)", lambda: elbo.predict(X * 16), outlier)
    ce = aekit.AnomalyDetector(aekit.AutoEncoder(loss="bce", **tiny), score="cross_entropy").fit(X)
    b.api("scoring", "Detector(AE bce, cross_entropy).predict(X*255)", lambda: ce.predict(X * 255), outlier)
    b.api("scoring", "Detector(AE mse, cross_entropy).fit(X*255)",
          lambda: aekit.AnomalyDetector(aekit.AutoEncoder(**tiny), score="cross_entropy").fit(X * 255))  # fmt: skip

    huge = X.astype(np.float64)
    huge[3, 5] = 1e39
    squared = aekit.AnomalyDetector(aekit.AutoEncoder(**tiny)).fit(X)
    b.api("float32", "AE.score_samples(1e39)", lambda: ae.score_samples(huge))
    b.api("float32", "AE.fit(1e39)", lambda: aekit.AutoEncoder(**tiny).fit(huge))
    b.api("float32", "DAE.fit(1e39)", lambda: aekit.DenoisingAutoEncoder(**tiny).fit(huge))
    b.api("float32", "Detector.predict(1e39)", lambda: squared.predict(huge), lambda r: bool(r[3] == -1))
    overflow = np.full((4, X.shape[1]), 3e38, dtype=np.float32)
    b.api("float32", "AE.reconstruct(3e38 float32)", lambda: ae.reconstruct(overflow))
    b.api("float32", "AE.score_samples(3e38 float32)", lambda: ae.score_samples(overflow),
          lambda r: not np.isnan(r).any())  # fmt: skip

    def last_step():
        est = aekit.AutoEncoder(solver="sgd", learning_rate=10.0, epochs=1, batch_size=256, validation_fraction=0.0,
                                latent_dim=2, hidden=(8,), random_state=0)  # fmt: skip
        est.fit(X[:256] * 1e3)
        return est.reconstruction_error(X[:256] * 1e3)

    b.api("divergence", "SGD lr=10 blow-up on the last step", last_step, lambda r: bool(np.isfinite(r).all()))

    dates = np.arange(40).astype("datetime64[D]").reshape(20, 2)
    b.api("flags", "fit(datetime64)", lambda: aekit.AutoEncoder(**tiny).fit(dates))
    for label, params in [("early_stopping='yes'", {"early_stopping": "yes"}), ("hidden={8: 1}", {"hidden": {8: 1}}),
                          ("verbose='x'", {"verbose": "x"})]:  # fmt: skip
        b.api("flags", label, lambda p=params: aekit.AutoEncoder(**{**tiny, **p}).fit(X))
    b.api("flags", "StackedAutoEncoder(hidden=None)", lambda: aekit.StackedAutoEncoder(hidden=None, epochs=1).fit(X))


def _huge_code(config):
    config["params"]["latent_dim"] = config["fitted"]["latent_dim_"] = 10**9


def _rewrite(path: Path, target: Path, config=None, metadata=None, tensors=None) -> Path:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta, weights = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    meta.pop("checksum", None)
    if config:
        parsed = json.loads(meta["config"])
        config(parsed)
        meta["config"] = json.dumps(parsed)
    if metadata:
        metadata(meta)
    if tensors:
        tensors(weights)
    save_file(weights, str(target), metadata=meta)
    return target


def hostile_files(b: Battery, X: np.ndarray, work: Path) -> None:
    import aekit

    path = work / "model.safetensors"
    aekit.AutoEncoder(latent_dim=2, hidden=(16,), epochs=2, random_state=0).fit(X).save(path)
    cases = {
        "fitted.hidden_=[25000, 25000]": dict(config=lambda c: c["fitted"].update(hidden_=[25000, 25000])),
        "fitted.hidden_=[100000]*2": dict(config=lambda c: c["fitted"].update(hidden_=[100000, 100000])),
        "params.latent_dim=10**9": dict(config=_huge_code),
        "100,000 layers": dict(config=lambda c: c["fitted"].update(hidden_=[4] * 100_000)),
        "100,000-deep JSON": dict(metadata=lambda m: m.update(config='{"params": ' + "[" * 10**5 + "]" * 10**5 + "}")),
        "fitted.transform='x'": dict(config=lambda c: c["fitted"].update(transform="x")),
        "NaN weights": dict(tensors=lambda t: t[sorted(t)[0]].fill_(float("nan"))),
        "inf weights": dict(tensors=lambda t: t[sorted(t)[-1]].fill_(float("inf"))),
    }

    for label, edit in cases.items():
        hostile = _rewrite(path, work / "hostile.safetensors", **edit)
        b.api("model file", label, lambda h=hostile: aekit.load(h), lambda m: False)
    raw = path.read_bytes()
    rng = random.Random(0)
    for i in range(20):
        flipped = bytearray(raw)
        flipped[rng.randrange(len(raw) - 2000, len(raw))] ^= 1 << rng.randrange(8)
        (work / "flip.safetensors").write_bytes(flipped)
        b.api("model file", f"bit flip {i} in the weights", lambda: aekit.load(work / "flip.safetensors"))
    try:
        import pandas as pd

        frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])

        def save_frame_model():
            est = aekit.AutoEncoder(latent_dim=2, hidden=(8,), epochs=1, random_state=0).fit(frame)
            est.save(work / "frame.safetensors")
            return list(aekit.load(work / "frame.safetensors").feature_names_in_) == list(frame.columns)

        b.api("model file", "save a model fitted on a DataFrame", save_frame_model, lambda ok: ok is True, valid=True)
    except ImportError:
        b.skip("model file", "save a model fitted on a DataFrame", "pandas absent")


TRAIN = ["--quiet", "--latent-dim", "2", "--hidden", "8", "--architecture", "mlp", "--epochs", "2", "--seed", "0"]
# Runs keep their checkpoint (the damaged-checkpoint cases edit it); a retrain into a run says --overwrite.
KEEP, OVERWRITE = ["--keep-checkpoint"], ["--overwrite"]


def _train(data: Path, out: Path, *extra: str) -> None:
    from aekit.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "ae", "--data", str(data), "--out", str(out), *TRAIN, *KEEP, *extra]) == 0


def _edit_checkpoint(path: Path, header=None, tensors=None) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta, weights = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    state = json.loads(meta["state"])
    if header:
        header(state)
    if tensors:
        tensors(weights)
    meta["state"] = json.dumps(state)
    save_file(weights, str(path), metadata=meta)


def run_folders(b: Battery, data: Path, work: Path) -> None:
    import torch

    damages = {
        "preprocessing.json missing": lambda r: (r / "preprocessing.json").unlink(),
        "preprocessing.json empty": lambda r: (r / "preprocessing.json").write_text(""),
        "preprocessing.json altered": lambda r: (r / "preprocessing.json").write_text('{"kind": "none"}'),
        "killed before preprocessing.json (model, no run.json)": lambda r: [
            (r / n).unlink() for n in ("preprocessing.json", "run.json")
        ],
        "run.json malformed": lambda r: (r / "run.json").write_text("[1"),
    }
    for index, (label, damage) in enumerate(damages.items()):
        run = work / f"run{index}"
        _train(data, run)
        damage(run)
        out = work / f"codes{index}.npy"
        b.cli("run folder", label, ["encode", str(run), str(data), "--out", str(out)], lambda o=out: not o.exists())

    run = work / "stale"
    _train(data, run)
    for name in ("model.safetensors", "preprocessing.json", "run.json"):
        (run / f".{name}.k1ll3d00.tmp").mkdir()
    _train(data, run, *OVERWRITE)
    left = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    b.record("run folder", "temporaries of killed writes, after a retrain", "silent" if left else "correct",
             f"left {left}" if left else "cleared")  # fmt: skip

    checkpoint_damages = {
        "history: []": dict(header=lambda h: h.update(history=[])),
        "negative epoch": dict(header=lambda h: h.update(epoch=-1)),
        "missing optimizer entry": dict(tensors=lambda t: t.pop(next(k for k in t if k.endswith("exp_avg_sq")))),
        "RNG state of the wrong size": dict(
            tensors=lambda t: t.update({"rng.cpu.0": torch.zeros(7, dtype=torch.uint8)})
        ),
        "weight of the wrong shape": dict(
            tensors=lambda t: t.update({k: torch.zeros(3) for k in [next(k for k in t if k.startswith("module."))]})
        ),
        "optimizer_entries: null": dict(header=lambda h: h.update(optimizer_entries=None)),
    }
    for index, (label, edit) in enumerate(checkpoint_damages.items()):
        run = work / f"ckpt{index}"
        _train(data, run)
        _edit_checkpoint(run / "checkpoint.safetensors", **edit)
        argv = ["train", "ae", "--data", str(data), "--out", str(run), *TRAIN[:-4], "--epochs", "3", "--seed", "0"]
        b.cli("checkpoint", label, [*argv, "--resume"])

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**7, 10**6)})
    with zipfile.ZipFile(work / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", header.getvalue() + b"\0" * 4096)
    b.cli("run folder", ".npz claiming 37 TiB", ["train", "ae", "--data", str(work / "bomb.npz"),
                                                  "--out", str(work / "bomb_run"), "--quiet"])  # fmt: skip

    run = work / "run_same"
    _train(data, run)
    copy = work / "same.npy"
    copy.write_bytes(data.read_bytes())
    before = copy.read_bytes()
    b.cli("run folder", "encode RUN data.npy --out data.npy", ["encode", str(run), str(copy), "--out", str(copy)],
          lambda: copy.read_bytes() == before)  # fmt: skip
    model = run / "model.safetensors"
    b.cli("run folder", "reconstruct --out RUN/model.safetensors",
          ["reconstruct", str(run), str(data), "--out", str(model)], lambda: model.stat().st_size > 1000)  # fmt: skip


def paths_and_disks(b: Battery, data: Path, work: Path) -> None:
    (work / "a_file").write_text("x")
    train = ["train", "ae", "--data", str(data), *TRAIN, "--out"]
    b.cli("paths", "train --out under a file", [*train, str(work / "a_file" / "run")])
    b.cli("paths", "train --out is a file", [*train, str(work / "a_file")])
    run = work / "paths_run"
    _train(data, run)
    b.cli("paths", "encode --out under a file", ["encode", str(run), str(data), "--out", str(work / "a_file" / "z")])
    b.cli("paths", "encode --out is a folder", ["encode", str(run), str(data), "--out", str(work)])
    b.cli("paths", "sample --out under a file", ["sample", str(run), "--out", str(work / "a_file" / "s.npy")])

    readonly = work / "readonly"
    readonly.mkdir()
    os.chmod(readonly, 0o555)
    try:
        (readonly / "probe").write_text("x")
        (readonly / "probe").unlink()
        b.skip("paths", "train into a read-only folder", "running as root: chmod 555 does not stop writes here")
    except OSError:
        b.cli("paths", "train into a read-only folder", [*train, str(readonly / "run")])
    finally:
        os.chmod(readonly, 0o755)

    full = work / "tmpfs"
    full.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)]
    mounted = subprocess.run(mount, capture_output=True, text=True)
    if mounted.returncode != 0:
        b.skip("paths", "train onto a full disk", f"no small tmpfs could be mounted ({mounted.stderr.strip()[:80]})")
    else:
        try:
            b.cli("paths", "train onto a full disk (64 KiB tmpfs)", [*train, str(full / "run")])
        finally:
            subprocess.run(["umount", str(full)], capture_output=True)


def two_writers(b: Battery, data: Path, work: Path) -> None:
    out = work / "shared_run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "aekit", "train", "vae", "--data", str(data), "--out", str(out), "--quiet",
         "--epochs", "400", "--latent-dim", "2", "--hidden", "8", "--architecture", "mlp"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.safetensors").exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        b.cli("one writer", "a second `aekit train` into a folder being trained", ["train", "ae", "--data", str(data),
              "--out", str(out), *TRAIN])  # fmt: skip
    finally:
        first.kill()
        first.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after", help="name of this run in the JSON (e.g. before, after)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "hostile_battery.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    import aekit

    X, _ = aekit.datasets.load_digits(images=False)
    X = X[:600].astype(np.float32)
    battery = Battery()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = work / "digits.npy"
        np.save(data, (X * 255).round().astype(np.uint8))
        for name, stage in [
            ("bad inputs (Python API)", lambda: bad_inputs(battery, X)),
            ("hostile model files", lambda: hostile_files(battery, X, work)),
            ("damaged run folders and checkpoints", lambda: run_folders(battery, data, work)),
            ("paths and disks", lambda: paths_and_disks(battery, data, work)),
            ("two writers", lambda: two_writers(battery, data, work)),
        ]:
            print(f"{name}:", flush=True)
            stage()
    counts = battery.counts()
    groups = sorted({c["group"] for c in battery.cases}, key=[c["group"] for c in battery.cases].index)
    print(f"\n{'group':14s}" + "".join(f"{o:>9s}" for o in counts))
    for group in groups:
        row = [sum(c["group"] == group and c["outcome"] == o for c in battery.cases) for o in counts]
        print(f"{group:14s}" + "".join(f"{n:9d}" for n in row))
    print(f"{'total':14s}" + "".join(f"{n:9d}" for n in counts.values()))
    path = Path(args.out)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[args.label] = {
        "aekit": str(Path(aekit.__file__).parents[1]),
        "aekit_version": aekit.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "counts": counts,
        "cases": battery.cases,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path} [{args.label}]")


if __name__ == "__main__":
    main()
