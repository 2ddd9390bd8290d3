"""Regularized autoencoders and VAE relatives on MNIST: each variant's defining property,
measured on held-out test images beside a plain model of the same architecture and budget.

Sparse-KL: mean code activation vs sparsity_target; sparse-L1: fraction of near-zero codes (|z|
<= 1% of the largest |z|); denoising: squared error to the clean image on test images with
Gaussian noise (std 0.5, clipped to [0, 1]); contractive: mean squared Jacobian Frobenius norm
of the encoder; stacked (784-300-150-300-784, with Adam and with SGD + sigmoid units): greedy
pretraining + fine-tuning vs the same net trained end to end for the same total epochs (fit_s
gives the wall time; a pretraining epoch of the second layer, on 300-d codes, is much cheaper
than a full epoch); IWAE (k=5) vs VAE: importance-weighted test log-likelihood; conditional VAE:
accuracy of a logistic regression trained on real images at recognizing samples conditioned on
each digit; and the peak memory of log_likelihood with k=5000. Every reconstruction error is the
per-image sum of squared errors on the test set.

    OMP_WAIT_POLICY=PASSIVE flock /tmp/aekit-heavy.lock python benchmarks/regularizers.py --n-train 10000 --epochs 10
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from _common import load_average, make_parser, print_table, write_json

import aekit
from aekit.models.terms import jacobian_squared_norm

MEMORY_PROBE = """
import resource, sys, time, numpy as np, torch, aekit
torch.set_num_threads(int(sys.argv[4]))
model = aekit.load(sys.argv[1]); x = np.load(sys.argv[2]); k = int(sys.argv[3])
model.log_likelihood(x[:2], n_samples=10)  # warm up allocations and kernels
with open("/proc/self/statm") as f:
    before = int(f.read().split()[1]) * resource.getpagesize() / 1024  # resident now, KiB
started = time.perf_counter()
ll = model.log_likelihood(x, n_samples=k, random_state=0)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(after / 1024, (after - before) / 1024, seconds, float(ll.mean()))
"""


def sse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).sum(1).mean())


def near_zero_fraction(codes: np.ndarray) -> float:
    return float(np.mean(np.abs(codes) <= 0.01 * np.abs(codes).max()))


def jacobian_norm(estimator, x: np.ndarray) -> float:
    with torch.no_grad():
        values = [
            jacobian_squared_norm(estimator.module_.encoder, torch.as_tensor(x[i : i + 500])).mean().item()
            for i in range(0, len(x), 500)
        ]
    return float(np.mean(values))


def timed_fit(estimator, X, y=None):
    started = time.perf_counter()
    estimator.fit(X, y)
    return estimator, time.perf_counter() - started


def log_likelihood_memory(vae, x: np.ndarray, k: int, threads: int) -> dict:
    """Peak resident memory of ``log_likelihood(x, n_samples=k)`` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        model, data = Path(folder) / "vae.aekit", Path(folder) / "x.npy"
        vae.save(model)
        np.save(data, x)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(model), str(data), str(k), str(threads)],
            check=True, capture_output=True, text=True,
        ).stdout.split()
    peak_mb, increase_mb, seconds, mean_ll = map(float, out)
    return {
        "k": k,
        "n_images": len(x),
        "peak_rss_mb": round(peak_mb, 1),
        "peak_above_resident_before_mb": round(increase_mb, 1),
        "seconds": round(seconds, 2),
        "seconds_per_image": round(seconds / len(x), 4),
        "mean_log_likelihood": round(mean_ll, 3),
    }


def main() -> None:
    parser = make_parser("regularizers", __doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000, help="training images (first n of the 60k)")
    parser.add_argument("--n-test", type=int, default=10000, help="test images for every measurement")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every model (stacked: in total)")
    parser.add_argument(
        "--stacked", nargs="+", default=["relu:10", "tanh:10", "relu:30", "sigmoid:10:sgd:0.01", "sigmoid:10:sgd:0.003"],
        metavar="ACTIVATION:EPOCHS[:SOLVER:LR]",
        help="stacked vs end-to-end runs (activation of both arms:total epochs of each[:optimizer:step size]; "
        "the default optimizer is Adam with step 1e-3)",
    )
    parser.add_argument(
        "--pretrain-epochs", type=int, default=None,
        help="stacked: epochs per greedy layer (default max(1, total // 10): 1+1+8 beat 2+2+6 at 10 epochs)",
    )
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--sparsity-target", type=float, default=0.05)
    parser.add_argument("--kl-weight", type=float, default=30.0)
    parser.add_argument("--l1-weight", type=float, default=0.03)
    parser.add_argument("--contraction-weight", type=float, default=3.0)
    parser.add_argument("--noise", type=float, default=0.5, help="std of the test (and training) noise")
    parser.add_argument(
        "--cvae", nargs="+", default=["4:30", "16:30", "16:120"], metavar="LATENT_DIM:EPOCHS",
        help="conditional VAE runs (code size:epochs); a large code purges the digit only with long training",
    )
    parser.add_argument("--ll-k", type=int, default=1000, help="importance samples for test log-likelihoods")
    parser.add_argument("--ll-n-test", type=int, default=1000, help="test images scored for log-likelihoods")
    parser.add_argument("--memory-k", type=int, default=5000)
    parser.add_argument("--memory-n-test", type=int, default=100)
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (1 on a shared 2-core machine: more oversubscribes and runs many times slower)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if not Path(args.mnist).exists():
        raise SystemExit(f"MNIST file {args.mnist} not found; pass --mnist PATH (an .npz with x_train/x_test).")
    x_train, y_train = aekit.datasets.load_mnist(args.mnist, "train")
    x_test, y_test = aekit.datasets.load_mnist(args.mnist, "test")
    x_train, y_train = x_train[: args.n_train].reshape(-1, 784), y_train[: args.n_train]
    x_test, y_test = x_test[: args.n_test].reshape(-1, 784), y_test[: args.n_test]
    noisy = np.clip(x_test + args.noise * np.random.RandomState(1).standard_normal(x_test.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    load_before = load_average()

    net = dict(
        hidden=(args.hidden,), latent_dim=args.latent_dim, architecture="mlp", epochs=args.epochs,
        random_state=args.seed,
    )
    rows: list[dict] = []

    def row(model, prop, value, reference, reference_name, estimator, seconds, error=None):
        error = estimator.reconstruction_error(x_test).mean() if error is None else error
        rows.append(
            {
                "model": model, "property": prop, "value": value, "reference": reference,
                "reference_is": reference_name, "test_sse": float(error), "fit_s": round(seconds, 1),
                "epochs": estimator.n_epochs_,
            }
        )
        print_table(rows[-1:], list(rows[-1]))
        print(flush=True)

    ae, s = timed_fit(aekit.AutoEncoder(**net), x_train)
    ae_codes = ae.transform(x_test)
    ae_jacobian = jacobian_norm(ae, x_test)
    row("AutoEncoder", "reference", None, None, "", ae, s)

    kl, s = timed_fit(
        aekit.SparseAutoEncoder(penalty="kl", sparsity_target=args.sparsity_target, sparsity_weight=args.kl_weight, **net),
        x_train,
    )
    row("SparseAutoEncoder(kl)", "mean code activation", float(kl.transform(x_test).mean()),
        args.sparsity_target, "sparsity_target", kl, s)

    l1, s = timed_fit(aekit.SparseAutoEncoder(penalty="l1", sparsity_weight=args.l1_weight, **net), x_train)
    row("SparseAutoEncoder(l1)", "near-zero code fraction", near_zero_fraction(l1.transform(x_test)),
        near_zero_fraction(ae_codes), "plain AE", l1, s)

    dae, s = timed_fit(aekit.DenoisingAutoEncoder(noise="gaussian", noise_level=args.noise, **net), x_train)
    row("DenoisingAutoEncoder", "SSE(denoise(noisy), clean)", sse(dae.denoise(noisy), x_test),
        sse(ae.reconstruct(noisy), x_test), "plain AE reconstructing noisy", dae, s)
    row("(noisy input itself)", "SSE(noisy, clean)", sse(noisy, x_test), None, "", dae, 0.0)

    cae, s = timed_fit(aekit.ContractiveAutoEncoder(contraction_weight=args.contraction_weight, **net), x_train)
    cae0, s0 = timed_fit(aekit.ContractiveAutoEncoder(contraction_weight=0.0, **net), x_train)
    row("ContractiveAutoEncoder", "mean ||dh/dx||_F^2", jacobian_norm(cae, x_test), ae_jacobian, "plain AE", cae, s)
    row("ContractiveAutoEncoder(weight=0)", "mean ||dh/dx||_F^2", jacobian_norm(cae0, x_test), ae_jacobian,
        "plain AE", cae0, s0)

    # The seed example 784-300-150-300-784: two greedy layers, then fine-tuning, against the same
    # net (same activation, optimizer, seed) trained end to end for the same total epochs, and
    # trained for the fine-tuning epochs alone (what the pretraining epochs bought).
    for run in args.stacked:
        activation, total, solver, learning_rate = (run.split(":") + ["adam", "1e-3"])[:4]
        total = int(total)
        pretrain = args.pretrain_epochs if args.pretrain_epochs is not None else max(1, total // 10)
        seed_net = dict(
            hidden=(300,), latent_dim=150, architecture="mlp", activation=activation, random_state=args.seed,
            solver=solver, learning_rate=float(learning_rate),
        )  # fmt: skip
        stacked, s = timed_fit(
            aekit.StackedAutoEncoder(pretrain_epochs=pretrain, epochs=total - 2 * pretrain, **seed_net), x_train
        )
        scratch, s_scratch = timed_fit(aekit.AutoEncoder(epochs=stacked.n_epochs_, **seed_net), x_train)
        finetune_only, s_finetune = timed_fit(aekit.AutoEncoder(epochs=total - 2 * pretrain, **seed_net), x_train)
        scratch_error = float(scratch.reconstruction_error(x_test).mean())
        name = f"784-300-150 {activation}" + ("" if solver == "adam" else f" {solver} lr={learning_rate}")
        row(f"StackedAutoEncoder {name} ({pretrain}+{pretrain}+{total - 2 * pretrain})",
            "test SSE (pretrain+finetune)", float(stacked.reconstruction_error(x_test).mean()),
            scratch_error, "same net end to end", stacked, s)
        row(f"AutoEncoder {name} (end to end)", "test SSE", scratch_error, None, "", scratch, s_scratch)
        row(f"AutoEncoder {name} (fine-tuning epochs only)", "test SSE",
            float(finetune_only.reconstruction_error(x_test).mean()), None, "", finetune_only, s_finetune)

    vae_net = dict(hidden=(args.hidden,), latent_dim=16, architecture="mlp", epochs=args.epochs, random_state=args.seed)
    x_ll = x_test[: args.ll_n_test]
    vae, s = timed_fit(aekit.VAE(**vae_net), x_train)
    iwae, s_iw = timed_fit(aekit.VAE(objective="iwae", n_importance_samples=5, **vae_net), x_train)
    vae_ll = float(vae.log_likelihood(x_ll, n_samples=args.ll_k, random_state=0).mean())
    row("VAE", f"test log p(x), k={args.ll_k}", vae_ll, None, "", vae, s)
    row("VAE(objective='iwae', k=5)", f"test log p(x), k={args.ll_k}",
        float(iwae.log_likelihood(x_ll, n_samples=args.ll_k, random_state=0).mean()), vae_ll, "VAE", iwae, s_iw)

    classifier = LogisticRegression(max_iter=300).fit(x_train, y_train)
    labels = np.repeat(np.arange(10), 100)
    for run in args.cvae:
        latent_dim, epochs = map(int, run.split(":"))
        cvae, s = timed_fit(
            aekit.VAE(conditional=True, **{**vae_net, "latent_dim": latent_dim, "epochs": epochs}), x_train, y_train
        )
        samples = cvae.sample(len(labels), random_state=0, y=labels)
        row(f"VAE(conditional=True, latent_dim={latent_dim})", "classifier accuracy on samples",
            float(classifier.score(samples, labels)), float(classifier.score(x_test, y_test)),
            "classifier on real test images", cvae, s, error=sse(cvae.reconstruct(x_test, y=y_test), x_test))

    memory = log_likelihood_memory(vae, x_test[: args.memory_n_test], args.memory_k, args.threads)
    memory["extrapolated_seconds_10k"] = round(memory["seconds_per_image"] * 10000)
    print(f"log_likelihood k={args.memory_k} on {memory['n_images']} images: {memory}")

    print()
    print_table(rows, ["model", "property", "value", "reference", "reference_is", "test_sse", "fit_s", "epochs"])
    write_json(
        args.out,
        {
            "args": vars(args),
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "rows": rows,
            "log_likelihood_memory": memory,
        },
    )


if __name__ == "__main__":
    main()
