"""VAE log-likelihood on dynamically binarized MNIST (Burda, Grosse & Salakhutdinov 2016, Table 1).

Protocol: training pixels are redrawn as Bernoulli samples every time an image is used
(``VAE(dynamic_binarization=True)``); the test set is binarized once with a fixed seed;
the test NLL is ``-log mean`` of k=5000 importance weights per image, in nats.
Published: VAE 86.76, IWAE (k=50) 84.78.  The baseline computed in the same run is
the pixel-independent Bernoulli model (PCA has no likelihood for binary data).

The committed result (85.66 nats, 26 min of training on 2 CPU cores) came from

    python benchmarks/vae_loglik.py --epochs 150 --objective iwae --n-importance-samples 5 \
        --learning-rate-schedule cosine --checkpoint-dir runs/iwae150

With a constant step size the same model reached 87.01 after 100 epochs (-ELBO is the
k=1 bound of the trained model, for comparison).

``--posterior iaf`` trains the posterior of Kingma et al. (2016): the Gaussian draw goes
through ``--n-flow-layers`` inverse autoregressive steps of MADE width ``--flow-hidden``
(their smallest MNIST model: 2 steps of 320).  A short comparison at the same budget:

    python benchmarks/vae_loglik.py --n-train 10000 --epochs 8 --k 500 --n-test 1000 --posterior iaf
"""

from __future__ import annotations

import time

import numpy as np

from _common import (
    fit_with_record, load_average, load_mnist_flat, long_run_params, make_parser, print_table, use_passive_openmp,
    write_json,
)

import aekit
from aekit.train.trainer import evaluate_terms

PUBLISHED = {"VAE (Burda et al. 2016, k=5000)": 86.76, "IWAE k=50 (Burda et al. 2016)": 84.78}
TEST_BINARIZATION_SEED = 123


def independent_bernoulli_nll(train_probabilities: np.ndarray, x_test: np.ndarray) -> float:
    """NLL (nats) of binary test images under one Bernoulli per pixel fitted on the train means."""
    p = np.clip(train_probabilities.mean(0), 1e-4, 1 - 1e-4)
    return float(-(x_test * np.log(p) + (1 - x_test) * np.log1p(-p)).sum(1).mean())


def model_name(args) -> str:
    objective = "VAE" if args.objective == "elbo" else f"IWAE k={args.n_importance_samples}"
    schedule = ", cosine" if args.learning_rate_schedule == "cosine" else ""
    posterior = f", IAF {args.n_flow_layers}x{args.flow_hidden}" if args.posterior == "iaf" else ""
    subset = f", {args.n_train} images" if args.n_train < 60000 else ""
    return f"{objective} {args.hidden}-{args.latent_dim}{posterior}, {args.epochs} epochs{schedule}{subset}"


def main() -> None:
    use_passive_openmp()
    parser = make_parser("vae_loglik", __doc__.splitlines()[0], long_run={"epochs": 200, "batch_size": 128})
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    parser.add_argument("--latent-dim", type=int, default=50)
    parser.add_argument("--kl-warmup-epochs", type=int, default=10)
    parser.add_argument("--objective", choices=("elbo", "iwae"), default="elbo")
    parser.add_argument("--n-importance-samples", type=int, default=5, help="training draws per image (iwae)")
    parser.add_argument("--posterior", choices=("gaussian", "iaf"), default="gaussian", help="q(z|x)")
    parser.add_argument("--n-flow-layers", type=int, default=2, help="IAF steps (--posterior iaf)")
    parser.add_argument("--flow-hidden", type=int, nargs="+", default=[320, 320], help="MADE widths of each IAF step")
    parser.add_argument("--n-train", type=int, default=60000, help="training images used (the first N; protocol: all)")
    parser.add_argument("--k", type=int, default=5000, help="importance samples per test image")
    parser.add_argument("--n-test", type=int, default=10000, help="test images scored (protocol: all 10000)")
    args = parser.parse_args()

    x_train, x_test = load_mnist_flat(args.mnist)
    x_train = x_train[: args.n_train]
    rng = np.random.RandomState(TEST_BINARIZATION_SEED)
    x_test_binary = (rng.uniform(size=x_test.shape) < x_test).astype(np.float32)[: args.n_test]

    vae = aekit.VAE(
        hidden=tuple(args.hidden),
        latent_dim=args.latent_dim,
        likelihood="bernoulli",
        dynamic_binarization=True,
        kl_warmup_epochs=args.kl_warmup_epochs if args.objective == "elbo" else 0,  # iwae has no KL term to ramp
        objective=args.objective,
        n_importance_samples=args.n_importance_samples,
        posterior=args.posterior,
        n_flow_layers=args.n_flow_layers,
        flow_hidden=tuple(args.flow_hidden),
        architecture="mlp",
        **long_run_params(args),
    )
    training = fit_with_record(vae, x_train, checkpoint_dir=args.checkpoint_dir)
    elbo = evaluate_terms(vae.module_, vae._to_tensor(x_test_binary))["elbo"]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    log_px = vae.log_likelihood(x_test_binary, n_samples=args.k, random_state=args.seed)
    eval_cpu, eval_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    nll = float(-log_px.mean())
    baseline = independent_bernoulli_nll(x_train, x_test_binary)

    rows = [
        {"model": f"aekit {model_name(args)}", "NLL (nats)": nll,
         "-ELBO": -elbo, "train CPU s": training["train_cpu_seconds"], "train wall s": training["train_wall_seconds"]},
        *({"model": name, "NLL (nats)": value} for name, value in PUBLISHED.items()),
        {"model": "independent Bernoulli pixels (this run)", "NLL (nats)": baseline},
    ]
    print_table(rows, ["model", "NLL (nats)", "-ELBO", "train CPU s", "train wall s"])
    target = 86.8
    print(f"\ntarget NLL <= {target}: {'met' if nll <= target else 'missed'} "
          f"(k={args.k}, {len(x_test_binary)} test images, standard error {log_px.std() / np.sqrt(len(log_px)):.3f})")
    write_json(args.out, {
        "benchmark": "VAE log-likelihood, dynamically binarized MNIST (Burda et al. 2016)",
        "args": vars(args),
        "nll_nats": nll,
        "nll_standard_error": float(log_px.std() / np.sqrt(len(log_px))),
        "neg_elbo_nats": -elbo,
        "published_nll": PUBLISHED,
        "independent_bernoulli_nll": baseline,
        "target_nll": target,
        "target_met": nll <= target,
        **training,
        "eval_cpu_seconds": eval_cpu,
        "eval_wall_seconds": eval_wall,
        "load_average_after_eval": load_average(),
    })


if __name__ == "__main__":
    main()
