"""Clustering MNIST with autoencoder codes + k-means (the DEC protocol, Xie et al. 2016).

Protocol: all 70k MNIST images, an MLP autoencoder 784-500-500-2000-10, k-means
(k=10) on the 10-d codes, scored against the labels by clustering accuracy (best
one-to-one matching), NMI and ARI.  Published AE + k-means accuracy: 0.879 (the
pretrained-autoencoder baseline of the DEC line of work).  Baselines in the same run:
k-means on PCA-10 codes and on raw pixels.  A further row clusters the same codes
scaled to unit length (by direction, as spherical k-means does); it is not the
protocol and is shown beside it, never in its place.

Measured (results/clustering_mnist*.json): 0.797 after 200 epochs with a cosine
schedule; 0.787, 0.788 and 0.773 after 50 epochs for seeds 0, 1 and 2, so the gap to
0.879 is not seed noise.  Pilots on 20k images (40 epochs) found nothing better than
this plain ReLU autoencoder trained with Adam: ELU units, dropout, masking noise, greedy
layer-wise pretraining (``--pretrain-epochs``, with or without masking), SGD with
momentum, and DEC's scaling of the pixels to unit mean square all stayed within the
spread between seeds or below it.

    flock /tmp/aekit-heavy.lock python benchmarks/clustering_mnist.py --epochs 200 --learning-rate-schedule cosine
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.decomposition import PCA

from _common import (
    describe_long_run, fit_with_record, long_run_estimator, make_parser, print_table, use_passive_openmp, write_json,
)

import aekit
from aekit.metrics import kmeans_clustering_scores

PUBLISHED_ACCURACY = 0.879
TARGET = 0.88


def main() -> None:
    use_passive_openmp()
    parser = make_parser(
        "clustering_mnist", __doc__.splitlines()[0], long_run={"epochs": 30, "batch_size": 256, "pretrain_epochs": 0}
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 2000])
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--n-init", type=int, default=20, help="k-means restarts")
    args = parser.parse_args()

    X, y = aekit.datasets.load_mnist(args.mnist, split="all")
    X = X.reshape(len(X), -1)
    rows = []

    started = time.perf_counter()
    raw = kmeans_clustering_scores(X, y, n_init=args.n_init, random_state=args.seed)
    rows.append({"representation": "raw pixels (this run)", **raw, "seconds": time.perf_counter() - started})
    started = time.perf_counter()
    pca_codes = PCA(args.latent_dim, random_state=args.seed).fit_transform(X)
    pca = kmeans_clustering_scores(pca_codes, y, n_init=args.n_init, random_state=args.seed)
    rows.append({"representation": f"PCA-{args.latent_dim} (this run)", **pca, "seconds": time.perf_counter() - started})

    ae = long_run_estimator(args, hidden=tuple(args.hidden), latent_dim=args.latent_dim, architecture="mlp")
    started = time.perf_counter()
    training = fit_with_record(ae, X, checkpoint_dir=args.checkpoint_dir)
    codes = ae.transform(X)
    scores = kmeans_clustering_scores(codes, y, n_init=args.n_init, random_state=args.seed)
    name = f"aekit AE 784-{'-'.join(map(str, args.hidden))}-{args.latent_dim} + k-means, {describe_long_run(args)}"
    rows.append({"representation": name, **scores, "seconds": time.perf_counter() - started})
    # k-means on unit-length codes clusters by direction (spherical k-means); reported beside the
    # protocol's plain k-means, not instead of it.
    unit_codes = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    unit = kmeans_clustering_scores(unit_codes, y, n_init=args.n_init, random_state=args.seed)
    rows.append({"representation": "  the same codes scaled to unit length + k-means", **unit})
    rows.append({"representation": "AE + k-means (published)", "accuracy": PUBLISHED_ACCURACY})

    print_table(rows, ["representation", "accuracy", "nmi", "ari", "seconds"])
    met = scores["accuracy"] >= TARGET
    print(f"\ntarget accuracy >= {TARGET}: {'met' if met else 'missed'}")
    write_json(args.out, {
        "benchmark": "MNIST-70k clustering, AE codes + k-means (DEC protocol)",
        "args": vars(args),
        "rows": rows,
        "autoencoder": scores,
        "autoencoder_unit_length_codes": unit,
        "published_accuracy": PUBLISHED_ACCURACY,
        "target_accuracy": TARGET,
        "target_met": met,
        **training,
    })


if __name__ == "__main__":
    main()
