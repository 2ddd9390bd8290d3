"""ONNX export: agreement of every family's exported graphs with aekit, and onnxruntime's encode throughput.

* Agreement: every aekit estimator (tables: the Tabular* models on the digits' pixels plus
  the label as a categorical column) is fitted for 2 epochs on the first 1300 digits, its
  encoder, decoder and score exported, and each graph run in onnxruntime on the other
  497 digits; reported: the largest absolute difference from ``transform``,
  ``inverse_transform`` and ``score_samples`` (and the scale of the values compared).
* Throughput: an MLP AutoEncoder and a convolutional VAE (aekit's defaults) are fitted
  for one epoch on 10k MNIST rows; then the 60k training images are encoded by aekit's
  ``transform`` and by onnxruntime running the exported encoder (batches of 4096, as
  ``transform`` uses), both on the same number of threads, in the same process,
  alternately, best of ``--repeats``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from _common import load_mnist_flat, make_parser, print_table, use_passive_openmp, write_json

BATCH = 4096


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, array: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: array[i : i + BATCH]})[0] for i in range(0, len(array), BATCH)]
    )


def _table_inputs(model, frame) -> np.ndarray:
    """Raw rows as the table graphs take them: numbers in their units, categories as their index."""
    columns = []
    for spec in model.schema.columns:
        values = frame[spec.name]
        columns.append(values.map(spec.categories.index).to_numpy(float) if spec.kind == "categorical" else values.to_numpy(float))
    return np.column_stack(columns).astype(np.float32)


def agreement(folder: Path, seed: int) -> list[dict]:
    import pandas as pd

    import aekit
    from aekit.estimators import registry

    X, y = aekit.datasets.load_digits()
    table = pd.DataFrame(X.reshape(len(X), -1)[:, 8:56:4], columns=[f"p{i}" for i in range(12)])
    table["label"] = [f"digit{k}" for k in y]
    rows = []
    for cls in registry.library_estimators():
        tabular = cls.__name__.startswith("Tabular")
        data = table if tabular else X
        train, test = data[:1300], data[1300:]
        model = cls(epochs=2, random_state=seed, verbose=0).fit(train)
        codes = model.transform(test)
        decoded = model.inverse_transform(codes)
        raw = _table_inputs(model, test) if tabular else test
        references = {
            "encoder": (raw, codes),
            "decoder": (codes, _table_inputs(model, decoded) if tabular else decoded),
            "score": (raw, model.score_samples(test)),
        }
        row = {"estimator": cls.__name__}
        for part, (inputs, reference) in references.items():
            path = folder / f"{cls.__name__}_{part}.onnx"
            started = time.perf_counter()
            model.export_onnx(path, part)
            row[f"{part}_export_s"] = round(time.perf_counter() - started, 2)
            out = _run(_session(path, 1), np.ascontiguousarray(inputs, dtype=np.float32))
            row[f"{part}_max_abs_diff"] = float(np.abs(out - np.asarray(reference, dtype=np.float64)).max())
            row[f"{part}_max_abs_value"] = float(np.abs(np.asarray(reference, dtype=np.float64)).max())
        rows.append(row)
        print(row)
    return rows


def throughput(mnist: str, folder: Path, threads: int, repeats: int, seed: int) -> list[dict]:
    import torch

    import aekit

    torch.set_num_threads(threads)
    x_train, _ = load_mnist_flat(mnist)
    images = x_train.reshape(-1, 28, 28)
    rows = []
    for name, model, data in (
        ("AutoEncoder (mlp)", aekit.AutoEncoder(epochs=1, random_state=seed, verbose=0), x_train),
        ("VAE (conv)", aekit.VAE(epochs=1, random_state=seed, verbose=0), images),
    ):
        model.fit(data[:10_000])
        path = folder / f"throughput_{model.architecture_}.onnx"
        model.export_onnx(path, "encoder")
        session = _session(path, threads)
        times = {"aekit": [], "onnxruntime": []}
        for _ in range(repeats):  # alternate, so that load changes hit both
            started = time.perf_counter()
            reference = model.transform(data)
            times["aekit"].append(time.perf_counter() - started)
            started = time.perf_counter()
            out = _run(session, data)
            times["onnxruntime"].append(time.perf_counter() - started)
        best = {k: min(v) for k, v in times.items()}
        rows.append(
            {
                "model": name,
                "rows": len(data),
                "aekit_transform_rows_per_s": round(len(data) / best["aekit"]),
                "onnxruntime_rows_per_s": round(len(data) / best["onnxruntime"]),
                "onnxruntime_over_aekit": round(best["aekit"] / best["onnxruntime"], 3),
                "max_abs_diff": float(np.abs(out - reference).max()),
                "seconds": times,
            }
        )
    return rows


def main() -> None:
    parser = make_parser("onnx_export", __doc__)
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and onnxruntime alike")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-agreement", action="store_true", help="only the throughput")
    args = parser.parse_args()
    use_passive_openmp()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [] if args.skip_agreement else agreement(folder, args.seed)
        speed = throughput(args.mnist, folder, args.threads, args.repeats, args.seed)
    if rows:
        print_table(
            [{k: (f"{v:.2g}" if isinstance(v, float) else v) for k, v in r.items() if "diff" in k or k == "estimator"} for r in rows],
            ["estimator", "encoder_max_abs_diff", "decoder_max_abs_diff", "score_max_abs_diff"],
        )
    print_table(
        [{k: v for k, v in r.items() if k != "seconds"} for r in speed],
        ["model", "rows", "aekit_transform_rows_per_s", "onnxruntime_rows_per_s", "onnxruntime_over_aekit", "max_abs_diff"],
    )
    write_json(args.out, {"threads": args.threads, "batch": BATCH, "agreement": rows, "throughput": speed})


if __name__ == "__main__":
    main()
