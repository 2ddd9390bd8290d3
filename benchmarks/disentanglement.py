"""Disentanglement on make_shapes (dSprites' factors, re-rendered at 32x32): VAE, beta-VAE
(beta=4), beta-TCVAE, FactorVAE and DIP-VAE-I at the same budget, several seeds, every metric
of aekit.metrics, fit times, and the scale attribute vector's effect on decoded shapes; plus an
MNIST figure of a vector between two digit classes.

Every model: MLP 1024-256-128-z-128-256-1024, ReLU, Bernoulli likelihood, latent_dim 10, Adam
1e-3, batch 64, the same training images and epochs, no validation split or early stopping;
one training set (random_state 0), the seeds change the models only.  Metrics are taken on
held-out shapes (random_state 1000): MIG (5000 codes), DCI (2000 codes, gradient boosting
with 10 trees per class, fewer than disentanglement_lib's 100 to keep CPU time small), SAP
(5000), FactorVAE score (1000 training and 500 evaluation votes of 64 images; the library
default is 10000/5000), and the Gaussian total correlation of the active code dims (variance
>= 0.05, the FactorVAE score's pruning threshold; a collapsed dim's near-constant value would
otherwise dominate it).  The scale vector is the mean code of held-out shapes of scale >= 0.9
minus that of scale <= 0.6; it is added once to 200 small shapes and the mean foreground mass
(sum of decoded pixel probabilities) and centroid movement (pixels) are measured.

Results are cached per run in --checkpoint-dir (one JSON per model and seed; an interrupted fit
resumes from its epoch checkpoint), so rerunning the command continues where it stopped:

    OMP_WAIT_POLICY=PASSIVE nohup python benchmarks/disentanglement.py --checkpoint-dir /tmp/disent &
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from _common import REPO_ROOT, load_average, make_parser, print_table, use_passive_openmp, write_json

MODELS = {
    "VAE": ("VAE", {}),
    "beta-VAE": ("VAE", {"beta": 4.0}),
    "beta-TCVAE": ("BetaTCVAE", {}),
    "FactorVAE": ("FactorVAE", {}),
    "DIP-VAE-I": ("DIPVAE", {"dip_type": "i"}),
}

# Published dSprites numbers (64x64 dSprites, conv nets, ~300k steps): the kind of values,
# not a target for these 32x32 re-rendered shapes at a CPU budget.  Ranges read off the
# papers' figures; "~" marks the ones we are least sure of.
PUBLISHED = {
    "MIG, Chen et al. 2018 (dSprites)": {
        "VAE": "~0.05-0.1", "beta-VAE": "0.1-0.3", "beta-TCVAE": "0.2-0.4", "FactorVAE": "0.1-0.3",
    },
    "FactorVAE score, Kim & Mnih 2018 (dSprites)": {
        "VAE": "~0.6-0.7", "beta-VAE": "~0.7-0.75 (beta=4)", "FactorVAE": "~0.8-0.85 (best gamma)",
    },
    "Locatello et al. 2019 (dSprites, 50 seeds x 6 settings)": {
        "all": "MIG ~0.05-0.35 and FactorVAE score ~0.55-0.85 across models; seeds move MIG by ~0.1-0.2 "
        "for a fixed setting, as much as the choice of model",
    },
}  # fmt: skip

METRICS = ["mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap",
           "factor_vae_score", "gaussian_tc_active", "active_dims", "scale_area_ratio", "scale_centroid_shift_px",
           "fit_s"]  # fmt: skip


def _area_and_centroid(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices(images.shape[1:])
    area = images.sum(axis=(1, 2))
    centroid = np.stack([(images * cols).sum(axis=(1, 2)), (images * rows).sum(axis=(1, 2))], axis=1) / area[:, None]
    return area, centroid


def measure(est, X_test: np.ndarray, factors_test: np.ndarray, image_size: int, seed: int) -> dict:
    """Every metric of one fitted model on the held-out shapes."""
    import aekit
    from aekit import metrics
    from aekit.data import render_shapes, sample_shapes_factors

    codes = est.transform(X_test)
    dci = metrics.dci(codes[:2000], factors_test[:2000], n_estimators=10, random_state=seed)
    fvae = metrics.factor_vae_score(
        est, sample_shapes_factors, partial(render_shapes, image_size=image_size),
        n_train=1000, n_eval=500, n_variance_estimate=5000, random_state=seed,
    )  # fmt: skip
    active = codes.var(axis=0) >= 0.05
    large, small = factors_test[:, 1] >= 0.9, factors_test[:, 1] <= 0.6
    both = large | small
    vector = aekit.attribute_vector(est, X_test[both], large[both])
    (area_0, centre_0), (area_1, centre_1) = map(
        _area_and_centroid, aekit.shift(est, X_test[small][:200], vector, amounts=[0.0, 1.0])
    )
    return {
        "mig": metrics.mig(codes, factors_test),
        "dci_disentanglement": dci.disentanglement,
        "dci_completeness": dci.completeness,
        "dci_informativeness": dci.informativeness,
        "sap": metrics.sap(codes, factors_test),
        "factor_vae_score": fvae.eval_accuracy,
        "gaussian_tc_active": metrics.gaussian_total_correlation(codes[:, active]) if active.sum() >= 2 else 0.0,
        "active_dims": int(active.sum()),
        "scale_area_ratio": float(area_1.mean() / area_0.mean()),
        "scale_centroid_shift_px": float(np.abs(centre_1 - centre_0).mean()),
        "fit_s": float(sum(est.history_["seconds"])),
        "final_train_kl": float(est.history_["train_kl"][-1]),
        "final_train_reconstruction": float(est.history_["train_reconstruction"][-1]),
    }


def run_one(name: str, seed: int, args, X_train, X_test, factors_test, checkpoint_dir: Path | None) -> dict:
    import aekit

    key = f"{name}-seed{seed}"
    cached = checkpoint_dir / f"{key}.json" if checkpoint_dir else None
    if cached is not None and cached.exists():
        return json.loads(cached.read_text())
    cls_name, params = MODELS[name]
    est = getattr(aekit, cls_name)(
        latent_dim=args.latent_dim, architecture="mlp", epochs=args.epochs, batch_size=64,
        validation_fraction=0.0, early_stopping=False, random_state=seed, **params,
    )  # fmt: skip
    started = time.perf_counter()
    est.fit(X_train, **({"checkpoint_dir": str(checkpoint_dir / key), "resume": True} if checkpoint_dir else {}))
    print(f"{key}: fitted in {time.perf_counter() - started:.0f} s (load {load_average()})", flush=True)
    result = {"model": name, "seed": seed, "params": est.get_params(), **measure(
        est, X_test, factors_test, args.image_size, seed
    )}  # fmt: skip
    if cached is not None:
        cached.write_text(json.dumps(result, default=str))
    return result


def mnist_figure(args, checkpoint_dir: Path | None) -> dict | None:
    """A vector from 4s to 9s, added in steps to test 4s, as a PNG; None without MNIST."""
    if not Path(args.mnist).exists():
        print(f"MNIST not found at {args.mnist}: no MNIST figure")
        return None
    import aekit
    from aekit.data import load_mnist
    from aekit.viz.figures import image_rows, save_figure

    x_train, y_train = load_mnist(args.mnist, split="train")
    x_test, y_test = load_mnist(args.mnist, split="test")
    model_file = checkpoint_dir / "mnist-vae.safetensors" if checkpoint_dir else None
    if model_file is not None and model_file.exists():
        est = aekit.load(model_file)
    else:
        est = aekit.VAE(latent_dim=16, architecture="mlp", epochs=args.mnist_epochs, random_state=0,
                        validation_fraction=0.0, early_stopping=False).fit(x_train[:20000])  # fmt: skip
        if model_file is not None:
            est.save(model_file)
    pair = (y_test == 4) | (y_test == 9)
    vector = aekit.attribute_vector(est, x_test[pair], y_test[pair] == 9)
    amounts = np.linspace(0.0, 1.5, 7)
    fours = x_test[y_test == 4][:6]
    moved = aekit.shift(est, fours, vector, amounts)
    figure = image_rows(
        {f"4 no. {i + 1}": moved[:, i] for i in range(len(fours))},
        "MNIST VAE: test 4s moved along the mean-code vector from 4s to 9s",
        column_labels=[f"{a:.2f}" for a in amounts],
        xlabel="multiple of the vector added to the code (0 = reconstruction)",
    )  # fmt: skip
    save_figure(figure, args.figure)
    print(f"wrote {args.figure}")
    figure_path = Path(args.figure).resolve()
    shown = figure_path.relative_to(REPO_ROOT) if figure_path.is_relative_to(REPO_ROOT) else figure_path
    return {"figure": str(shown), "epochs": args.mnist_epochs, "amounts": amounts.tolist()}


def beta_sweep(args, X_train, X_test, factors_test) -> None:
    """A VAE per beta of --betas (first seed only): test reconstruction error, KL, MIG; the figure and its JSON."""
    import aekit
    from aekit import metrics, viz

    seed = args.seeds[0]
    points = []
    for beta in args.betas:
        est = aekit.VAE(
            latent_dim=args.latent_dim, architecture="mlp", epochs=args.epochs, batch_size=64,
            validation_fraction=0.0, early_stopping=False, random_state=seed, beta=beta,
        )  # fmt: skip
        est.fit(X_train)
        codes = est.transform(X_test)
        point = {
            "beta": beta,
            "reconstruction_error": float(metrics.reconstruction_error(est, X_test).mean()),
            "kl": float(metrics.kl_per_dimension(est, X_test).sum()),
            "mig": metrics.mig(codes, factors_test),
            "active_dims": int(metrics.active_dimensions(est, X_test).sum()),
            "fit_s": float(sum(est.history_["seconds"])),
        }
        points.append(point)
        print(f"beta {beta:g}: " + ", ".join(f"{k} {v:.3g}" for k, v in point.items() if k != "beta")
              + f" (load {load_average()})", flush=True)  # fmt: skip
    print_table([{k: f"{v:.3f}" if isinstance(v, float) else v for k, v in p.items()} for p in points],
                list(points[0]))  # fmt: skip
    column = {key: [p[key] for p in points] for key in points[0]}
    figure = viz.plot_beta_sweep(
        column["beta"], column["reconstruction_error"], column["kl"], column["mig"], column["active_dims"],
        title=f"Which beta? A VAE on {len(X_train)} shapes at {args.image_size}x{args.image_size}, "
        f"{args.epochs} epochs, seed {seed}",
    )  # fmt: skip
    viz.save_figure(figure, args.sweep_figure)
    write_json(str(Path(args.sweep_figure).with_suffix(".json")), {
        "setup": {"n_train": len(X_train), "n_test": len(X_test), "image_size": args.image_size, "epochs": args.epochs,
                  "latent_dim": args.latent_dim, "seed": seed, "threads": args.threads,
                  "load_average_end": load_average()},
        "points": points,
    })  # fmt: skip
    print(f"wrote {args.sweep_figure}")


def summarize(results: list[dict]) -> list[dict]:
    rows = []
    for name in MODELS:
        runs = [r for r in results if r["model"] == name]
        if not runs:
            continue
        row = {"model": name, "seeds": len(runs)}
        for metric in METRICS:
            values = np.array([r[metric] for r in runs], dtype=float)
            row[metric] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                           "min": float(values.min()), "max": float(values.max()), "values": values.tolist()}  # fmt: skip
        rows.append(row)
    return rows


def main() -> None:
    use_passive_openmp()
    parser = make_parser("disentanglement", __doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=10000, help="training shapes")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mnist-epochs", type=int, default=10)
    parser.add_argument(
        "--figure", default=str(REPO_ROOT / "benchmarks" / "results" / "disentanglement_mnist_vector.png")
    )
    parser.add_argument("--checkpoint-dir", help="cache each run's results and checkpoints here; rerunning resumes")
    parser.add_argument("--beta-sweep", action="store_true", help="only train a VAE per --betas and draw the figure")
    parser.add_argument("--betas", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0, 8.0])
    parser.add_argument(
        "--sweep-figure", default=str(REPO_ROOT / "benchmarks" / "results" / "disentanglement_beta_sweep.png"),
        help="the sweep's PNG; its JSON is written beside it",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from aekit.data import make_shapes

    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    X_train, _ = make_shapes(args.n_train, image_size=args.image_size, random_state=0)
    X_test, factors_test = make_shapes(5000, image_size=args.image_size, random_state=1000)
    if args.beta_sweep:
        beta_sweep(args, X_train, X_test, factors_test)
        return
    results = [
        run_one(name, seed, args, X_train, X_test, factors_test, checkpoint_dir)
        for seed in args.seeds
        for name in args.models
    ]
    summary = summarize(results)
    shown = ["mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "factor_vae_score",
             "gaussian_tc_active", "active_dims", "scale_area_ratio", "scale_centroid_shift_px", "fit_s"]  # fmt: skip
    print(f"\n{args.n_train} shapes at {args.image_size}x{args.image_size}, {args.epochs} epochs, seeds {args.seeds}: "
          "mean +- std over seeds\n")  # fmt: skip
    print_table(
        [{"model": row["model"], **{m: f"{row[m]['mean']:.3f}+-{row[m]['std']:.3f}" for m in shown}} for row in summary],
        ["model", *shown],
    )  # fmt: skip
    print("\nper seed:")
    print_table(
        [{"model": row["model"], **{m: " ".join(f"{v:.3f}" for v in row[m]["values"]) for m in ("mig", "factor_vae_score")}}
         for row in summary],
        ["model", "mig", "factor_vae_score"],
    )  # fmt: skip
    print("\nPublished dSprites ranges (64x64, other networks and budgets; approximate):")
    for source, values in PUBLISHED.items():
        print(f"  {source}: " + "; ".join(f"{k} {v}" for k, v in values.items()))
    mnist = mnist_figure(args, checkpoint_dir)
    write_json(args.out, {
        "setup": {"n_train": args.n_train, "image_size": args.image_size, "epochs": args.epochs,
                  "latent_dim": args.latent_dim, "seeds": args.seeds, "threads": args.threads,
                  "load_average_end": load_average()},
        "summary": summary, "runs": results, "published_dsprites": PUBLISHED, "mnist_attribute_vector": mnist,
    })  # fmt: skip


if __name__ == "__main__":
    main()
