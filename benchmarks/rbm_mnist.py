"""RBM on binarized MNIST: AIS test log-likelihood of CD-1, CD-k and PCD, against scikit-learn's BernoulliRBM.

Protocol (Salakhutdinov & Murray, "On the quantitative analysis of deep belief
networks", ICML 2008): 500 binary hidden units on the 60k training images,
binarized at 0.5; the average test log-likelihood ``log p(x) = -F(x) - log Z`` in
nats, with ``log Z`` by annealed importance sampling from the base-rate model
(their 14,500 inverse temperatures, 100 chains).  Published: CD-25 -86.34, CD-3
-105.50, CD-1 -125.53 (500 hidden, trained far longer than here).

scikit-learn's ``BernoulliRBM`` (PCD-1, its only algorithm) trains on the same data
for the same epochs and batch size in the same run, before aekit is imported (so
its timing is not helped by the denormal flushing aekit starts); aekit computes
the AIS log-likelihood of its weights in the same way.  Both run on one thread
(``torch.set_num_threads(1)``, ``threadpoolctl`` for numpy's BLAS).

Every finished model's results are kept in ``--checkpoint-dir`` (and aekit's runs
are checkpointed every epoch), so rerunning the same command after a kill resumes.

    nohup python benchmarks/rbm_mnist.py --checkpoint-dir /tmp/rbm_ckpt > /tmp/rbm.log 2>&1 &
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from _common import load_average, make_parser, print_table, use_passive_openmp, write_json

PUBLISHED = {
    "CD-25 (Salakhutdinov & Murray 2008)": -86.34,
    "CD-3 (Salakhutdinov & Murray 2008)": -105.50,
    "CD-1 (Salakhutdinov & Murray 2008)": -125.53,
}
TARGET = -90.0


def paper_betas() -> np.ndarray:
    """Salakhutdinov & Murray's schedule: steps of 1e-3 to 0.5, 1e-4 to 0.9, 1e-5 to 1 (14,501 values)."""
    return np.concatenate(
        [np.linspace(0, 0.5, 501)[:-1], np.linspace(0.5, 0.9, 4001)[:-1], np.linspace(0.9, 1.0, 10001)]
    )


def load_binarized(path: str) -> tuple[np.ndarray, np.ndarray]:
    if not Path(path).exists():
        raise SystemExit(f"MNIST file {path} not found; pass --mnist PATH (an .npz with x_train/x_test).")
    with np.load(path) as data:
        x_train, x_test = (
            (data[k].reshape(len(data[k]), -1).astype(np.float32) / 255.0 > 0.5).astype(np.float32)
            for k in ("x_train", "x_test")
        )
    return x_train, x_test


def cached(folder: Path | None, name: str, compute) -> dict:
    """``compute()``'s result, kept as ``folder/name.json`` so a rerun skips it."""
    path = None if folder is None else folder / f"{name}.json"
    if path is not None and path.exists():
        print(f"{name}: results from {path}")
        return json.loads(path.read_text())
    result = compute()
    if path is not None:
        path.write_text(json.dumps(result, indent=2))
    return result


def fit_sklearn(args, x_train: np.ndarray, folder: Path | None) -> dict:
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(
        n_components=args.hidden, learning_rate=args.sklearn_learning_rate, batch_size=args.batch_size,
        n_iter=args.epochs, random_state=args.seed,
    )  # fmt: skip
    load = load_average()
    with threadpool_limits(1):
        cpu, wall = time.process_time(), time.perf_counter()
        rbm.fit(x_train.astype(np.float64))  # what it computes in: float32 input is converted anyway
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if folder is not None:
        np.savez(folder / "sklearn_weights.npz", W=rbm.components_, c=rbm.intercept_hidden_, b=rbm.intercept_visible_)
    return {
        "model": f"sklearn BernoulliRBM PCD-1, lr {args.sklearn_learning_rate}, {args.epochs} epochs",
        "epochs": args.epochs, "train_cpu_seconds": cpu, "train_wall_seconds": wall,
        "epoch_seconds": wall / args.epochs, "epoch_cpu_seconds": cpu / args.epochs, "load_average_before": load,
        "weights": {"W": rbm.components_.tolist(), "c": rbm.intercept_hidden_.tolist(), "b": rbm.intercept_visible_.tolist()},
    }  # fmt: skip


def ais_scores(module, x_train, x_test, betas, n_chains: int, seed: int) -> dict:
    """AIS log Z of an RBMModule and the mean log-likelihoods it gives (test; first 10k training rows)."""
    from aekit.models.rbm import base_rate_visible_bias, estimate_log_partition

    started = time.process_time()
    result = estimate_log_partition(
        module, n_chains=n_chains, betas=torch.as_tensor(betas), generator=torch.Generator().manual_seed(seed),
        base_visible_bias=base_rate_visible_bias(torch.as_tensor(x_train)),
    )  # fmt: skip
    with torch.no_grad():
        test = float((-module.free_energy(torch.as_tensor(x_test)).double() - result.log_partition).mean())
        train = float((-module.free_energy(torch.as_tensor(x_train[:10000])).double() - result.log_partition).mean())
    return {
        "log_partition": result.log_partition, "log_partition_stderr": result.standard_error,
        "test_log_likelihood": test, "train_log_likelihood_first_10k": train, "ais_cpu_seconds": time.process_time() - started,
        "ais_path_every_100": result.log_partition_path[::100].tolist(),
    }  # fmt: skip


def main() -> None:
    use_passive_openmp()
    parser = make_parser("rbm_mnist", __doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the head-to-head runs (sklearn, CD-1, CD-k, PCD)")
    parser.add_argument("--long-epochs", type=int, default=100, help="epochs of the long PCD run (cosine schedule)")
    parser.add_argument("--cd-k", type=int, default=10, help="the k of the CD-k run")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.01, help="aekit's SGD step (momentum 0.9)")
    parser.add_argument("--sklearn-learning-rate", type=float, default=0.1, help="BernoulliRBM's step (no momentum)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--ais-chains", type=int, default=100)
    parser.add_argument("--train-rows", type=int, default=60000, help="fewer for a quick check")
    parser.add_argument("--checkpoint-dir", help="keep finished results and per-epoch checkpoints here; a rerun resumes")
    parser.add_argument(
        "--only", help="train just this setting (cd1, cd<k>, pcd1, pcd1_long) into --checkpoint-dir, e.g. in a "
        "second process beside a run of the others; a final run without --only then writes the table",
    )  # fmt: skip
    args = parser.parse_args()

    torch.set_num_threads(1)
    folder = None if args.checkpoint_dir is None else Path(args.checkpoint_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    x_train, x_test = load_binarized(args.mnist)
    x_train = x_train[: args.train_rows]
    betas = paper_betas()

    sklearn_run = cached(folder, "sklearn", lambda: fit_sklearn(args, x_train, folder))

    import aekit  # after scikit-learn's timing: see the module docstring
    from aekit.models.rbm import RBMModule

    def sklearn_scores() -> dict:
        w = sklearn_run["weights"]
        module = RBMModule(x_train.shape[1], args.hidden)
        with torch.no_grad():
            module.weight.copy_(torch.tensor(w["W"]))
            module.hidden_bias.copy_(torch.tensor(w["c"]))
            module.visible_bias.copy_(torch.tensor(w["b"]))
        return ais_scores(module, x_train, x_test, betas, args.ais_chains, args.seed)

    rows = [{**{k: v for k, v in sklearn_run.items() if k != "weights"}, **cached(folder, "sklearn_ais", sklearn_scores)}]

    settings = [
        ("cd1", f"aekit RBM CD-1, {args.epochs} epochs", dict(solver="cd", cd_steps=1, epochs=args.epochs)),
        (f"cd{args.cd_k}", f"aekit RBM CD-{args.cd_k}, {args.epochs} epochs", dict(solver="cd", cd_steps=args.cd_k, epochs=args.epochs)),
        ("pcd1", f"aekit RBM PCD-1, {args.epochs} epochs", dict(solver="pcd", cd_steps=1, epochs=args.epochs)),
        ("pcd1_long", f"aekit RBM PCD-1, {args.long_epochs} epochs, cosine schedule",
         dict(solver="pcd", cd_steps=1, epochs=args.long_epochs, learning_rate_schedule="cosine")),
    ]  # fmt: skip
    if args.only is not None:
        if folder is None or args.only not in {key for key, _, _ in settings}:
            raise SystemExit(f"--only needs --checkpoint-dir and one of {[key for key, _, _ in settings]}")
        settings = [s for s in settings if s[0] == args.only]
    for key, name, params in settings:

        def run(params=params, key=key, name=name) -> dict:
            rbm = aekit.RBM(
                n_components=args.hidden, batch_size=args.batch_size, learning_rate=args.learning_rate,
                weight_decay=args.weight_decay, random_state=args.seed, verbose=1, **params,
            )  # fmt: skip
            load = load_average()
            cpu, wall = time.process_time(), time.perf_counter()
            checkpoint = None if folder is None else str(folder / key)
            rbm.fit(x_train, checkpoint_dir=checkpoint, resume=checkpoint is not None)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            seconds = rbm.history_["seconds"]
            result = {
                "model": name, "params": params, "epochs": len(seconds),
                "train_cpu_seconds": cpu, "train_wall_seconds": wall,  # the resumed part only, after a kill
                "epoch_seconds": float(np.median(seconds)), "epoch_seconds_all": seconds, "load_average_before": load,
                "pseudo_likelihood_test": float(rbm.pseudo_likelihood(x_test, random_state=0).mean()),
                **ais_scores(rbm.module_.rbm, x_train, x_test, betas, args.ais_chains, args.seed),
            }  # fmt: skip
            return result

        rows.append(cached(folder, key, run))
        print(f"{rows[-1]['model']}: test log-likelihood {rows[-1]['test_log_likelihood']:.2f}", flush=True)
    if args.only is not None:
        return

    # CPU seconds per epoch (one thread each): the machine is shared, so wall seconds carry other jobs' load.
    for row in rows:
        row["epoch_cpu_seconds"] = row["train_cpu_seconds"] / row["epochs"]
        row["epoch_time_vs_sklearn"] = row["epoch_cpu_seconds"] / rows[0]["epoch_cpu_seconds"]
    rows += [{"model": k, "test_log_likelihood": v} for k, v in PUBLISHED.items()]
    columns = ["model", "test_log_likelihood", "log_partition_stderr", "train_log_likelihood_first_10k",
               "epoch_cpu_seconds", "epoch_time_vs_sklearn", "train_cpu_seconds"]  # fmt: skip
    print_table(rows, columns)
    aekit_rows = [r for r in rows if r["model"].startswith("aekit")]
    best = max(aekit_rows, key=lambda r: r["test_log_likelihood"])
    same_epochs_pcd = next(r for r in aekit_rows if r["model"].startswith("aekit RBM PCD-1") and r["epochs"] == args.epochs)
    summary = {
        "best_aekit": best["model"], "best_test_log_likelihood": best["test_log_likelihood"],
        "target": TARGET, "target_met": best["test_log_likelihood"] > TARGET and best["train_cpu_seconds"] <= 3600,
        "pcd_epoch_time_vs_sklearn": same_epochs_pcd["epoch_time_vs_sklearn"],
        "pcd_minus_sklearn_test_log_likelihood_same_epochs":
            same_epochs_pcd["test_log_likelihood"] - rows[0]["test_log_likelihood"],
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    write_json(args.out, {
        "benchmark": "RBM, 500 hidden, binarized MNIST, AIS test log-likelihood (nats)",
        "args": vars(args), "rows": rows, "published": PUBLISHED, "summary": summary,
        "threads": {"torch": torch.get_num_threads(), "numpy_blas": 1, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
    })  # fmt: skip


if __name__ == "__main__":
    main()
