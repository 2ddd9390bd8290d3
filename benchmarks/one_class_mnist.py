"""One-class MNIST anomaly detection (Ruff et al. 2018, "Deep One-Class Classification", ICML).

Protocol: for each digit, train on that digit's training images only, score the full
10k test set (the other nine digits are the anomalies) and report the AUROC; then
the mean over digits.  aekit models score through ``aekit.AnomalyDetector`` (squared
reconstruction error; the VAE also by its ELBO);
baselines computed in the same run are PCA reconstruction error and scikit-learn's
IsolationForest.  Published Deep SVDD (one-class) AUROCs are printed beside them.

    flock /tmp/aekit-heavy.lock python benchmarks/one_class_mnist.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from _common import load_average, make_parser, print_table, use_passive_openmp, write_json

import aekit
from aekit.metrics import auroc

DEEP_SVDD = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]  # % (Ruff et al. 2018, Table 1)


def pca_error(n_components: int, x_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    pca = PCA(n_components, random_state=seed).fit(x_train)
    return np.square(pca.inverse_transform(pca.transform(x_test)) - x_test).sum(1)


def detectors(args) -> dict[str, aekit.AnomalyDetector]:
    common = dict(architecture="mlp", latent_dim=args.latent_dim, epochs=args.epochs, random_state=args.seed)
    return {
        "AE squared": aekit.AnomalyDetector(aekit.AutoEncoder(**common), score="squared"),
        "VAE squared": aekit.AnomalyDetector(aekit.VAE(**common), score="squared"),
    }


def main() -> None:
    use_passive_openmp()
    parser = make_parser("one_class_mnist", __doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="max epochs (early stopping on 10%% validation)")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--pca-components", type=int, default=32)
    parser.add_argument(
        "--importance-samples", type=int, default=0,
        help="k > 0 adds the VAE's importance-weighted log-likelihood as a score (costly, and a poor "
        "anomaly score here: 90.6 on digit 5 with k=100, below its ELBO-free squared error)",
    )
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()

    x_train, y_train = aekit.datasets.load_mnist(args.mnist, split="train")
    x_test, y_test = aekit.datasets.load_mnist(args.mnist, split="test")
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca_name = f"PCA-{args.pca_components}"
    loglik_name = f"VAE loglik k={args.importance_samples}"
    models = [*detectors(args), "VAE elbo", *([loglik_name] if args.importance_samples else [])]
    columns = ["digit", "Deep SVDD (published)", pca_name, "IsolationForest", *models]
    rows, seconds = [], {}
    load_before = load_average()
    for digit in args.digits:
        normal = x_train[y_train == digit]
        is_anomaly = y_test != digit
        row = {"digit": digit, "Deep SVDD (published)": DEEP_SVDD[digit]}
        row[pca_name] = 100 * auroc(is_anomaly, pca_error(args.pca_components, normal, x_test, args.seed))
        forest = IsolationForest(random_state=args.seed).fit(normal)
        row["IsolationForest"] = 100 * auroc(is_anomaly, -forest.score_samples(x_test))
        for name, detector in detectors(args).items():
            started = time.perf_counter()
            row[name] = 100 * auroc(is_anomaly, -detector.fit(normal).score_samples(x_test))
            seconds.setdefault(name, []).append(time.perf_counter() - started)
        # The same VAE (the last detector's), scored by its likelihood instead of its reconstruction.
        vae = detector.estimator_
        row["VAE elbo"] = 100 * auroc(is_anomaly, -vae.score_samples(x_test))
        if args.importance_samples:
            started = time.perf_counter()
            log_px = aekit.metrics.log_likelihood(vae, x_test, n_samples=args.importance_samples, random_state=args.seed)
            row[loglik_name] = 100 * auroc(is_anomaly, -log_px)
            seconds.setdefault(loglik_name, []).append(time.perf_counter() - started)
        rows.append(row)
        print(" ".join(f"{c}={row[c]:.2f}" if isinstance(row[c], float) else f"{c}={row[c]}" for c in columns), flush=True)

    mean = {"digit": "mean", **{c: float(np.mean([r[c] for r in rows])) for c in columns[1:]}}
    print()
    print_table([*rows, mean], columns)
    best = max(models, key=lambda m: mean[m])
    above_pca = [r["digit"] for r in rows if r[best] > r[pca_name]]
    print(f"\nbest aekit model: {best}, mean AUROC {mean[best]:.2f} (target >= 96.0: "
          f"{'met' if mean[best] >= 96.0 else 'missed'}); above {pca_name} on digits {above_pca} "
          f"({len(above_pca)}/{len(rows)})")
    print("train+score seconds per digit (median): " + ", ".join(f"{m} {np.median(s):.1f}" for m, s in seconds.items()))
    write_json(args.out, {
        "benchmark": "one-class MNIST (Ruff et al. 2018 protocol), AUROC %",
        "args": vars(args),
        "rows": rows,
        "mean": mean,
        "best_model": best,
        "target_mean_auroc": 96.0,
        "target_met": bool(mean[best] >= 96.0 and len(above_pca) == len(rows)),
        "digits_above_pca": above_pca,
        "seconds_per_digit": seconds,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    })


if __name__ == "__main__":
    main()
