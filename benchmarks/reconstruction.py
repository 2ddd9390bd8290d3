"""Test reconstruction error on MNIST: PCA vs aekit.AutoEncoder, plus the VAE's negative ELBO.

Every model is fitted on the 60k training images (pixels in [0, 1], flattened to 784)
and evaluated on the 10k test images.  Reported per latent size:

* squared error per test image, summed over the 784 pixels: PCA (scikit-learn) and
  ``aekit.AutoEncoder`` (``reconstruction_error``), and the VAE decoded at the
  posterior mean;
* the VAE's negative ELBO in nats per test image, a Monte Carlo estimate: the mean of
  the module's ``elbo`` loss term (one reparameterized draw of z per image) averaged
  over ``--elbo-draws`` passes over the test set;
* fit times in seconds.

The networks train on all 60k images (no validation split, no early stopping).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.decomposition import PCA

import aekit
from _common import use_passive_openmp, load_average, load_mnist_flat, make_parser, print_table, write_json
from aekit.utils.runtime import torch_seeded
from aekit.train.trainer import evaluate_terms


def timed_fit(estimator, X: np.ndarray) -> float:
    started = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - started


def pca_row(k: int, x_train: np.ndarray, x_test: np.ndarray, seed: int) -> dict:
    # Exact (eigendecomposition of the 784x784 covariance): the randomized solver that
    # "auto" picks here is slightly off the optimum PCA is the baseline for.
    pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=seed)
    seconds = timed_fit(pca, x_train)
    error = np.square(pca.inverse_transform(pca.transform(x_test)) - x_test).sum(1).mean()
    return {"model": "PCA", "latent": k, "test SSE/image": float(error), "fit s": seconds}


def network_params(args) -> dict:
    return {
        "hidden": tuple(args.hidden),
        "architecture": "mlp",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "validation_fraction": 0.0,
        "early_stopping": False,
        "random_state": args.seed,
    }


def autoencoder_row(k: int, x_train: np.ndarray, x_test: np.ndarray, args) -> dict:
    ae = aekit.AutoEncoder(latent_dim=k, loss=args.loss, **network_params(args))
    seconds = timed_fit(ae, x_train)
    error = ae.reconstruction_error(x_test).mean()
    return {
        "model": f"AutoEncoder ({args.loss})",
        "latent": k,
        "test SSE/image": float(error),
        "fit s": seconds,
        "s/epoch": float(np.median(ae.history_["seconds"])),
        "final train loss": ae.history_["train_loss"][-1],
    }


def vae_row(k: int, x_train: np.ndarray, x_test: np.ndarray, args) -> dict:
    vae = aekit.VAE(latent_dim=k, likelihood="bernoulli", **network_params(args))
    seconds = timed_fit(vae, x_train)
    x = torch.as_tensor(x_test)
    with torch_seeded(args.seed, torch.device("cpu")):
        elbos = [evaluate_terms(vae.module_, x)["elbo"] for _ in range(args.elbo_draws)]
    return {
        "model": "VAE (bernoulli)",
        "latent": k,
        "test SSE/image": float(vae.reconstruction_error(x_test).mean()),
        "test -ELBO nats": -float(np.mean(elbos)),
        "fit s": seconds,
        "s/epoch": float(np.median(vae.history_["seconds"])),
        "final train loss": vae.history_["train_loss"][-1],
    }


def main() -> None:
    use_passive_openmp()
    parser = make_parser("reconstruction", __doc__.split("\n\n")[0])
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[2, 16, 32])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256], help="MLP widths (AE and VAE)")
    parser.add_argument("--loss", choices=["mse", "bce"], default="bce", help="AutoEncoder loss")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--elbo-draws", type=int, default=5, help="passes over the test set for the ELBO")
    parser.add_argument("--models", nargs="+", choices=["pca", "ae", "vae"], default=["pca", "ae", "vae"])
    args = parser.parse_args()

    x_train, x_test = load_mnist_flat(args.mnist)
    builders = {"pca": lambda k: pca_row(k, x_train, x_test, args.seed),
                "ae": lambda k: autoencoder_row(k, x_train, x_test, args),
                "vae": lambda k: vae_row(k, x_train, x_test, args)}  # fmt: skip
    rows = []
    for k in args.latent_dims:
        for model in args.models:
            load_before = load_average()
            row = builders[model](k)
            row["load"] = max(load_before, load_average())
            print({name: round(v, 4) if isinstance(v, float) else v for name, v in row.items()}, flush=True)
            rows.append(row)

    pca_error = {row["latent"]: row["test SSE/image"] for row in rows if row["model"] == "PCA"}
    for row in rows:
        if row["model"] != "PCA" and row["latent"] in pca_error:
            row["x PCA"] = row["test SSE/image"] / pca_error[row["latent"]]
    print()
    columns = ["model", "latent", "test SSE/image", "x PCA", "test -ELBO nats", "fit s", "s/epoch", "load"]
    print_table(rows, columns)
    write_json(args.out, {"settings": {k: v for k, v in vars(args).items() if k not in ("mnist", "out")}, "results": rows})


if __name__ == "__main__":
    main()
