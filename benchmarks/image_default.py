"""Which network should ``architecture="auto"`` pick for images? Quality per CPU second, MLP against conv.

Each data set is fitted by ``aekit.AutoEncoder`` at its defaults with ``architecture="mlp"``
and with ``architecture="conv"``; after every epoch a callback records the process's CPU
seconds so far and the held-out squared error per image.  The table gives the held-out
error each network has reached at common CPU budgets (the last epoch within the budget),
and its encoding speed (rows/s of ``transform``).  Two data sets: MNIST (a random subset,
28x28 grey) and 64x64 RGB crops of scikit-learn's two bundled photographs (the kind of
image folder the first-hour tour meets).  One thread, so CPU seconds are the work done.

    nice python benchmarks/image_default.py                       # both data sets
    nice python benchmarks/image_default.py --datasets photos --mlp-epochs 40 --conv-epochs 15
"""

from __future__ import annotations

import time

import numpy as np
import torch

from _common import load_average, load_mnist_flat, make_parser, print_table, use_passive_openmp, write_json


class ErrorByCpuSecond:
    """Records (CPU seconds since fit began, held-out squared error per image) after each epoch."""

    def __init__(self, X_test: np.ndarray):
        self.X_test = X_test
        self.points: list[tuple[float, float]] = []
        self.started = time.process_time()
        self.evaluating = 0.0  # the callback's own work, left out of the training clock

    def on_epoch_end(self, estimator, epoch, history_row) -> None:
        began = time.process_time()
        trained = began - self.started - self.evaluating
        error = float(estimator.reconstruction_error(self.X_test).mean())
        self.evaluating += time.process_time() - began
        self.points.append((trained, error))


def photo_crops(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` random size x size RGB crops (uint8, channels first) of scikit-learn's bundled photographs."""
    from sklearn.datasets import load_sample_images

    rng = np.random.RandomState(seed)
    photos = load_sample_images().images
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        top, left = rng.randint(0, photo.shape[0] - size), rng.randint(0, photo.shape[1] - size)
        crops.append(photo[top : top + size, left : left + size].transpose(2, 0, 1))
    return np.stack(crops)


def error_at(points: list[tuple[float, float]], budget: float) -> float | None:
    """The held-out error after the last epoch that ended within ``budget`` CPU seconds."""
    within = [error for seconds, error in points if seconds <= budget]
    return within[-1] if within else None


def run(name: str, X: np.ndarray, X_test: np.ndarray, epochs: dict, seed: int) -> dict:
    import aekit

    result = {}
    for architecture in ("mlp", "conv"):
        recorder = ErrorByCpuSecond(X_test)
        estimator = aekit.AutoEncoder(architecture=architecture, epochs=epochs[architecture], random_state=seed)
        estimator.fit(X, callbacks=[recorder])
        began = time.perf_counter()
        estimator.transform(X_test)
        result[architecture] = {
            "cpu_seconds_and_test_error": recorder.points,
            "encode_rows_per_second": len(X_test) / (time.perf_counter() - began),
            "latent_dim": int(estimator.latent_dim_),
            "epochs": epochs[architecture],
        }
        print(f"{name} {architecture}: {recorder.points[-1][1]:.3f} after {recorder.points[-1][0]:.0f} CPU s", flush=True)
    return result


def main() -> None:
    use_passive_openmp()
    parser = make_parser("image_default", __doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "photos"], choices=["mnist", "photos"])
    parser.add_argument("--mnist-train", type=int, default=10000, help="MNIST training images (a random subset)")
    parser.add_argument("--mlp-epochs", type=int, default=30)
    parser.add_argument("--conv-epochs", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.RandomState(args.seed)
    epochs = {"mlp": args.mlp_epochs, "conv": args.conv_epochs}
    results, rows = {}, []
    for name in args.datasets:
        if name == "mnist":
            x_train, x_test = load_mnist_flat(args.mnist)
            X = x_train[rng.choice(len(x_train), args.mnist_train, replace=False)].reshape(-1, 28, 28)
            X_test = x_test[:2000].reshape(-1, 28, 28)
        else:
            crops = photo_crops(600, 64, args.seed).astype(np.float32) / 255
            X, X_test = crops[:500], crops[500:]
        results[name] = run(name, X, X_test, epochs, args.seed)
        longest = min(points["cpu_seconds_and_test_error"][-1][0] for points in results[name].values())
        for fraction in (0.25, 0.5, 1.0):
            budget = fraction * longest
            row = {"data": name, "CPU budget (s)": round(budget, 1)}
            for architecture, measured in results[name].items():
                row[f"{architecture} test error"] = error_at(measured["cpu_seconds_and_test_error"], budget)
            rows.append(row)
        for architecture, measured in results[name].items():
            rows[-1][f"{architecture} encode rows/s"] = round(measured["encode_rows_per_second"])
    columns = ["data", "CPU budget (s)", "mlp test error", "conv test error", "mlp encode rows/s", "conv encode rows/s"]
    print_table(rows, columns)
    write_json(args.out, {"args": vars(args), "rows": rows, "results": results, "load_average_after": load_average()})


if __name__ == "__main__":
    main()
