"""The categorical path on a real mixed table with gaps: Palmer penguins (../shared/data/penguins.csv).

1. Reconstruction: :class:`aekit.TabularAutoEncoder` (defaults) is fitted on 70% of the
   rows, read raw (strings, ``NA``, ``year`` as an integer); on the other 30% it reports
   each categorical column's reconstruction accuracy and each numeric column's RMSE over
   the observed cells, beside the most-frequent / mean baseline of the training rows.
2. Imputation: 20% of the observed cells of the whole table are hidden at random (5
   seeds); each imputer fills them from the rest and is scored on exactly those cells:
   aekit's ``impute`` (a TabularAutoEncoder fitted on the masked table), scikit-learn's
   ``SimpleImputer`` (mean / most frequent) and ``IterativeImputer`` (default
   BayesianRidge, 10 rounds; categories as ordinal codes, rounded to the nearest code).

    nice -n 10 python benchmarks/penguins.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from _common import REPO_ROOT, load_average, make_parser, print_table, use_passive_openmp, write_json

DEFAULT_PENGUINS = REPO_ROOT.parent / "shared" / "data" / "penguins.csv"


def mask_cells(frame, fraction: float, rng: np.random.RandomState):
    """A copy of ``frame`` with ``fraction`` of its observed cells set missing, and the mask."""
    observed = frame.notna().to_numpy()
    hide = observed & (rng.random_sample(observed.shape) < fraction)
    masked = frame.copy()
    for j, name in enumerate(frame.columns):
        column = masked[name].astype(object) if masked[name].dtype.kind in "iub" else masked[name]
        column = column.where(~hide[:, j], None)
        masked[name] = column if frame[name].dtype.kind not in "iub" else column.astype("float64")
    return masked, hide


def scores(truth, filled, hide, numeric, categorical) -> dict:
    out = {}
    for name in numeric:
        j = list(truth.columns).index(name)
        t = truth[name].to_numpy(dtype=float)[hide[:, j]]
        f = np.asarray(filled[name], dtype=float)[hide[:, j]]
        out[name] = float(np.sqrt(np.mean((t - f) ** 2)))
    for name in categorical:
        j = list(truth.columns).index(name)
        t = truth[name].astype(str).to_numpy()[hide[:, j]]
        f = np.asarray(filled[name]).astype(str)[hide[:, j]]
        out[name] = float(np.mean(t == f))
    return out


def sklearn_imputers(masked, numeric, categorical, seed):
    """SimpleImputer and IterativeImputer fills of ``masked`` (categories as ordinal codes)."""
    import pandas as pd
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, SimpleImputer

    simple = masked.copy()
    simple[numeric] = SimpleImputer(strategy="mean").fit_transform(masked[numeric])
    simple[categorical] = SimpleImputer(strategy="most_frequent").fit_transform(masked[categorical].astype(object))

    codes = masked.copy()
    levels = {}
    for name in categorical:
        cat = pd.Categorical(masked[name])
        levels[name] = list(cat.categories)
        codes[name] = np.where(cat.codes < 0, np.nan, cat.codes).astype(float)
    iterative = IterativeImputer(max_iter=10, random_state=seed).fit_transform(codes[numeric + categorical].astype(float))
    it = pd.DataFrame(iterative, columns=numeric + categorical, index=masked.index)
    for name in categorical:
        it[name] = [levels[name][int(k)] for k in np.clip(np.round(it[name]), 0, len(levels[name]) - 1)]
    return simple, it


def main() -> None:
    use_passive_openmp()
    parser = make_parser("penguins", __doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_PENGUINS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mask-fraction", type=float, default=0.2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    import aekit
    from aekit.data.tables import read_table

    if not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found; pass --data PATH")
    table = read_table(args.data)
    from aekit.data.tables import TableSchema

    schema = TableSchema.infer(table)
    numeric = [table.columns[j] for j in schema.numeric_index]
    categorical = [table.columns[j] for j in schema.categorical_index]

    # 1. Reconstruction of held-out rows.
    recon = {}
    for seed in args.seeds:
        rng = np.random.RandomState(seed)
        order = rng.permutation(len(table))
        n_train = int(0.7 * len(table))
        train, test = table.iloc[order[:n_train]], table.iloc[order[n_train:]]
        started = time.perf_counter()
        ae = aekit.TabularAutoEncoder(random_state=seed).fit(train)
        seconds = time.perf_counter() - started
        rec = ae.reconstruct(test)
        observed = test.notna().to_numpy()
        baseline = test.copy()
        for name in numeric:
            baseline[name] = train[name].mean()
        for name in categorical:
            baseline[name] = train[name].mode().iloc[0]
        recon.setdefault("aekit", []).append(scores(test, rec, observed, numeric, categorical))
        recon.setdefault("baseline", []).append(scores(test, baseline, observed, numeric, categorical))
        recon.setdefault("fit_seconds", []).append(seconds)
        recon.setdefault("epochs", []).append(ae.n_epochs_)
    rows = []
    for name in [*categorical, *numeric]:
        a = np.array([r[name] for r in recon["aekit"]])
        b = np.array([r[name] for r in recon["baseline"]])
        rows.append({"column": name, "metric": "accuracy" if name in categorical else "RMSE",
                     "aekit": f"{a.mean():.3f}±{a.std():.3f}", "baseline": f"{b.mean():.3f}±{b.std():.3f}"})  # fmt: skip
    print(f"Reconstruction of held-out rows (30%, {len(args.seeds)} seeds; baseline = training most-frequent / mean); "
          f"fit {np.mean(recon['fit_seconds']):.1f} s, {np.mean(recon['epochs']):.0f} epochs")  # fmt: skip
    print_table(rows, ["column", "metric", "aekit", "baseline"])

    # 2. Imputation of hidden cells.
    imputation = {"aekit": [], "SimpleImputer": [], "IterativeImputer": [], "aekit_fit_seconds": []}
    for seed in args.seeds:
        masked, hide = mask_cells(table, args.mask_fraction, np.random.RandomState(100 + seed))
        started = time.perf_counter()
        filled = aekit.TabularAutoEncoder(random_state=seed).fit(masked).impute(masked)
        imputation["aekit_fit_seconds"].append(time.perf_counter() - started)
        simple, iterative = sklearn_imputers(masked, numeric, categorical, seed)
        imputation["aekit"].append(scores(table, filled, hide, numeric, categorical))
        imputation["SimpleImputer"].append(scores(table, simple, hide, numeric, categorical))
        imputation["IterativeImputer"].append(scores(table, iterative, hide, numeric, categorical))
    rows = []
    for name in [*categorical, *numeric]:
        row = {"column": name, "metric": "accuracy" if name in categorical else "RMSE"}
        for method in ("aekit", "SimpleImputer", "IterativeImputer"):
            v = np.array([r[name] for r in imputation[method]])
            row[method] = f"{v.mean():.3f}±{v.std():.3f}"
        rows.append(row)
    print(f"\nImputation of {args.mask_fraction:.0%} hidden cells ({len(args.seeds)} seeds); aekit fit+impute "
          f"{np.mean(imputation['aekit_fit_seconds']):.1f} s")  # fmt: skip
    print_table(rows, ["column", "metric", "aekit", "SimpleImputer", "IterativeImputer"])
    write_json(args.out, {"data": args.data, "seeds": args.seeds, "numeric": numeric, "categorical": categorical,
                          "reconstruction": recon, "imputation": imputation, "load_average_after": load_average()})  # fmt: skip


if __name__ == "__main__":
    main()
