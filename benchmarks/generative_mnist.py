"""Sample quality of aekit's generative models on MNIST: offline Fréchet distance and precision/recall.

Every model is fitted on the same training subset and scored by
:func:`aekit.metrics.sample_quality` against held-out test images, in the feature space of
one small classifier trained on the training subset's labels (fixed seed, shared by every
model and seed, so the seeds move the models only).  A model is an estimator and a sampler:
models that share an estimator (AE + GMM and AE + flow, VAE and VAE + flow) share one fit
per seed.  Results are cached per model and seed in ``--checkpoint-dir`` (an interrupted fit
resumes from its epoch checkpoint), so rerunning the command continues where it stopped:

    OMP_WAIT_POLICY=PASSIVE nohup python benchmarks/generative_mnist.py --subset 10000 \\
        --epochs 10 --seeds 0 1 --n-samples 2000 --checkpoint-dir /tmp/generative &
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO_ROOT, load_average, make_parser, print_table, use_passive_openmp, write_json

GRID_SIDE = 8  # samples per side of each model's grid in the figure
REAL_ROW = "real (training images)"  # the metric's floor: held-out images against as many training images


@dataclass(frozen=True)
class Recipe:
    """One benchmarked model: an aekit estimator class, its parameters, and how samples are drawn from it.

    ``sampler`` is ``"own"`` (the estimator's ``sample()``: its prior, its code prior, or a
    deterministic autoencoder's default mixture), ``"flow"`` (``sample(sampler="flow")``) or
    ``"code flow"`` (the code sampler's RealNVP fitted here on the estimator's codes, for
    models whose ``sample()`` offers no flow).
    """

    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    sampler: str = "own"

    def fit_key(self, seed: int) -> str:
        """Models with the same estimator and parameters share this fit."""
        params = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.estimator}({params})-seed{seed}"


def recipes() -> dict[str, Recipe]:
    """The models the issue asks for; VAE-GAN only when this aekit has it."""
    import aekit

    found = {
        "VAE": Recipe("VAE", {"likelihood": "bernoulli"}),
        "VAE + flow": Recipe("VAE", {"likelihood": "bernoulli"}, "code flow"),
        "AE + GMM": Recipe("AutoEncoder", {"loss": "bce"}),
        "AE + flow": Recipe("AutoEncoder", {"loss": "bce"}, "flow"),
        "AAE": Recipe("AdversarialAutoEncoder"),
        "VAE-GAN": Recipe("VAEGAN"),
        "VQ-VAE": Recipe("VQVAE"),
    }
    return {name: r for name, r in found.items() if hasattr(aekit, r.estimator)}


def generative_estimators() -> list[str]:
    """Every registered aekit estimator that can sample: any of them can be named in ``--models``."""
    from aekit.estimators import registry

    return [cls.__name__ for cls in registry.library_estimators() if callable(getattr(cls, "sample", None))]


def resolve_models(names: list[str]) -> dict[str, Recipe]:
    """``--models`` as recipes: a recipe's name, or the class name of any registered generative estimator."""
    known = recipes()
    resolved = {}
    for name in names:
        if name in known:
            resolved[name] = known[name]
        elif name in generative_estimators():
            resolved[name] = Recipe(name)
        else:
            raise SystemExit(
                f"--models: unknown model {name!r}; choose among {list(known)} or a generative estimator "
                f"class of this aekit: {generative_estimators()}."
            )
    return resolved


def make_estimator(recipe: Recipe, args, seed: int):
    """The recipe's estimator at the benchmark's budget: every image trained on, no early stopping."""
    import aekit

    params = {
        "architecture": args.architecture,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "validation_fraction": 0.0,
        "early_stopping": False,
        "random_state": seed,
        "verbose": 1,
        **recipe.params,
    }
    cls = getattr(aekit, recipe.estimator)
    if recipe.estimator != "VQVAE":  # a VQ-VAE's code size follows from its vectors and their width
        params["latent_dim"] = args.latent_dim
    return cls(**{k: v for k, v in params.items() if k in cls().get_params()})


def draw(recipe: Recipe, estimator, x_train: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """``n_samples`` images from ``estimator`` by the recipe's sampler (fitting the sampler's density if needed)."""
    if recipe.sampler == "own":
        return estimator.sample(n_samples, random_state=seed)
    if recipe.sampler == "flow":
        return estimator.sample(n_samples, random_state=seed, sampler="flow")
    from aekit.estimators.code_density import MAX_CODES_FOR_DENSITY, fit_code_flow, sample_code_flow

    # The same flow, on as many training codes, as a deterministic autoencoder's sampler="flow".
    rows = np.sort(np.random.RandomState(seed).permutation(len(x_train))[:MAX_CODES_FOR_DENSITY])
    layout, parameters = fit_code_flow(estimator.transform(x_train[rows]), seed)
    return estimator.inverse_transform(sample_code_flow(layout, parameters, n_samples, random_state=seed))


def timed(action: Callable[[], Any]) -> tuple[Any, float, float]:
    """``action()``'s value, and the CPU seconds (all threads of this process) and wall seconds it took."""
    cpu, wall = time.process_time(), time.perf_counter()
    value = action()
    return value, time.process_time() - cpu, time.perf_counter() - wall


def run_fit(recipes_: dict[str, Recipe], key: str, seed: int, args, data, space, cache: Path | None) -> list[dict]:
    """Fit the estimator of ``key`` once, then draw and score the samples of every model sharing it."""
    from aekit.metrics import sample_quality

    x_train, x_test = data
    sharing = {name: r for name, r in recipes_.items() if r.fit_key(seed) == key}
    first = next(iter(sharing.values()))
    estimator = make_estimator(first, args, seed)
    fit_options = {} if cache is None else {"checkpoint_dir": str(cache / "fits" / key), "resume": True}
    load_before = load_average()
    _, fit_cpu, fit_wall = timed(lambda: estimator.fit(x_train, **fit_options))
    print(f"{key}: fitted in {fit_wall:.0f} s wall, {fit_cpu:.0f} s CPU (load {load_average()})", flush=True)
    results = []
    for name, recipe in sharing.items():
        samples, sample_cpu, sample_wall = timed(lambda: draw(recipe, estimator, x_train, args.n_samples, seed))
        scores = sample_quality(x_test[: args.n_samples], samples, space)
        result = {
            "model": name, "seed": seed, "estimator": recipe.estimator, "sampler": recipe.sampler,
            "params": {k: v for k, v in estimator.get_params().items() if not callable(v)},
            **scores,
            # This process's seconds: a fit resumed from its checkpoint counts its resumed part only, so the
            # trainer's clock summed over the history's epochs (kept in the checkpoint) is reported beside them.
            "fit_cpu_seconds": fit_cpu, "fit_wall_seconds": fit_wall,
            "epoch_seconds_total": float(sum(estimator.history_["seconds"])),
            # Drawing includes fitting the sampler's density (mixture, flow or code prior) on the first call.
            "sample_cpu_seconds": sample_cpu, "sample_wall_seconds": sample_wall,
            "final_train_loss": float(estimator.history_["train_loss"][-1]),
            "load_average_before": load_before, "load_average_after": load_average(),
        }  # fmt: skip
        print(f"  {name}: FD {scores['fd']:.2f}, precision {scores['precision']:.3f}, recall {scores['recall']:.3f}"
              f" (sampling {sample_wall:.0f} s)", flush=True)  # fmt: skip
        if cache is not None:
            np.save(cache / f"{name}-seed{seed}-grid.npy", samples[: GRID_SIDE**2])
            (cache / f"{name}-seed{seed}.json").write_text(json.dumps(result, default=str))
        result["grid"] = samples[: GRID_SIDE**2]
        results.append(result)
    return results


def cached_result(name: str, seed: int, cache: Path | None) -> dict | None:
    if cache is None or not (cache / f"{name}-seed{seed}.json").exists():
        return None
    result = json.loads((cache / f"{name}-seed{seed}.json").read_text())
    result["grid"] = np.load(cache / f"{name}-seed{seed}-grid.npy")
    return result


def summarize(results: list[dict], names: list[str]) -> list[dict]:
    """One row per model: the mean over seeds and the spread (min-max) of each score, and the seconds."""
    rows = []
    for name in names:
        mine = [r for r in results if r["model"] == name]
        if not mine:
            continue
        row = {"model": name, "seeds": len(mine)}
        for key in ("fd", "precision", "recall", "fit_cpu_seconds", "sample_cpu_seconds"):
            values = np.array([r[key] for r in mine if r.get(key) is not None], dtype=float)
            if values.size:
                row[key] = float(values.mean())
                row[f"{key}_min"], row[f"{key}_max"] = float(values.min()), float(values.max())
        rows.append(row)
    return rows


def spread(row: dict, key: str, digits: int) -> str:
    if key not in row:
        return ""
    if row["seeds"] == 1 or row[f"{key}_min"] == row[f"{key}_max"]:
        return f"{row[key]:.{digits}f}"
    return f"{row[key]:.{digits}f} ({row[f'{key}_min']:.{digits}f}-{row[f'{key}_max']:.{digits}f})"


def sample_figure(results: list[dict], names: list[str], seed: int, args):
    """Each model's first GRID_SIDE^2 samples of ``seed`` as a grid, with its scores under it."""
    from aekit import viz

    shown = {r["model"]: r for r in results if r["seed"] == seed and r["model"] in names}
    grids = {name: shown[name]["grid"] for name in names if name in shown}
    notes = {
        name: f"FD {r['fd']:.1f}\nprecision {r['precision']:.2f}\nrecall {r['recall']:.2f}"
        for name, r in shown.items()
    }
    title = (f"MNIST samples (seed {seed}; {args.subset} training images, {args.epochs} epochs, "
             f"{args.architecture}); scores of {args.n_samples} samples")  # fmt: skip
    return viz.plot_sample_grids(grids, notes, title=title)


def main() -> None:
    use_passive_openmp()
    parser = make_parser("generative_mnist", __doc__.splitlines()[0])
    known = list(recipes())
    parser.add_argument("--models", nargs="+", default=known,
                        help=f"recipes ({', '.join(known)}) or any generative estimator class name")  # fmt: skip
    parser.add_argument("--subset", type=int, default=60000, help="training images (the first N)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--architecture", choices=("mlp", "conv"), default="mlp")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--n-samples", type=int, default=10000, help="samples per model, scored against as many test images"
    )
    parser.add_argument("--classifier-epochs", type=int, default=5, help="training epochs of the feature classifier")
    parser.add_argument("--checkpoint-dir", help="cache results and fits here; rerunning the command resumes")
    parser.add_argument("--figure", default=str(REPO_ROOT / "benchmarks" / "results" / "generative_mnist_samples.png"))
    args = parser.parse_args()
    if not 10 <= args.n_samples <= 10000:
        raise SystemExit(
            "--n-samples must be between 10 (precision and recall need neighbours) and 10000 (the test "
            f"images); got {args.n_samples}."
        )

    models = resolve_models(args.models)  # before minutes of loading and training: a misspelt name fails now
    from aekit import viz
    from aekit.data import load_mnist
    from aekit.metrics import fit_feature_extractor, sample_quality

    if not Path(args.mnist).exists():
        raise SystemExit(f"MNIST file {args.mnist} not found; pass --mnist PATH (an .npz with x_train/x_test).")
    x_train, y_train = load_mnist(args.mnist, split="train")
    x_test, y_test = load_mnist(args.mnist, split="test")
    x_train, y_train = x_train[: args.subset], y_train[: args.subset]
    cache = None if args.checkpoint_dir is None else Path(args.checkpoint_dir)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)

    space, space_cpu, _ = timed(lambda: fit_feature_extractor(x_train, y_train, epochs=args.classifier_epochs))
    classifier_accuracy = float(np.mean(space.predict(x_test) == y_test))
    print(f"feature classifier: test accuracy {classifier_accuracy:.4f}, {space_cpu:.0f} s CPU", flush=True)
    results = [{"model": REAL_ROW, "seed": 0,
                **sample_quality(x_test[: args.n_samples], x_train[-args.n_samples :], space)}]  # fmt: skip

    for seed in args.seeds:
        missing = {}
        for name, recipe in models.items():
            cached = cached_result(name, seed, cache)
            if cached is None:
                missing[name] = recipe
            else:
                results.append(cached)
        for key in dict.fromkeys(r.fit_key(seed) for r in missing.values()):
            results.extend(run_fit(missing, key, seed, args, (x_train, x_test), space, cache))

    names = [REAL_ROW, *models]
    rows = summarize(results, names)
    print(f"\n{args.n_samples} samples per model against {args.n_samples} MNIST test images; features of a "
          f"classifier (test accuracy {classifier_accuracy:.3f}); mean over seeds {args.seeds} "
          "(min-max)\n")  # fmt: skip
    print_table(
        [{"model": r["model"], "FD": spread(r, "fd", 2), "precision": spread(r, "precision", 3),
          "recall": spread(r, "recall", 3), "fit CPU s": spread(r, "fit_cpu_seconds", 0),
          "sample CPU s": spread(r, "sample_cpu_seconds", 0)} for r in rows],
        ["model", "FD", "precision", "recall", "fit CPU s", "sample CPU s"],
    )  # fmt: skip
    viz.save_figure(sample_figure(results, list(models), args.seeds[0], args), args.figure)
    print(f"wrote {args.figure}")
    figure_path = Path(args.figure).resolve()
    write_json(args.out, {
        "settings": {
            "subset": args.subset, "epochs": args.epochs, "batch_size": args.batch_size,
            "latent_dim": args.latent_dim, "architecture": args.architecture, "seeds": args.seeds,
            "n_samples": args.n_samples, "classifier_epochs": args.classifier_epochs,
            "feature_space": "penultimate layer (64 ReLU units) of a conv classifier trained on the training "
                             "subset's labels, random_state 0, shared by every model and seed",
            "real": f"the first {args.n_samples} MNIST test images",
        },
        "feature_classifier": {"test_accuracy": classifier_accuracy, "fit_cpu_seconds": space_cpu},
        "summary": rows,
        "runs": [{k: v for k, v in r.items() if k != "grid"} for r in results],
        "figure": str(figure_path.relative_to(REPO_ROOT) if figure_path.is_relative_to(REPO_ROOT) else figure_path),
        "note": "Fréchet distance in this classifier's feature space: not comparable with Inception-FID.",
    })  # fmt: skip


if __name__ == "__main__":
    main()
