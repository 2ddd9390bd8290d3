"""Outlier detection on the eleven ODDS tables, beside PyOD's published ROC AUC.

Protocol (PyOD's ``notebooks/benchmark.py``): a random 60/40 train/test split, the
features standardized with the training split's mean and deviation, every detector
fitted on the (contaminated) training split with contamination = the outlier
fraction, test ROC AUC.  PyOD ran one split; here every method sees the same five
splits (seeds 0-4) and the table gives the mean and the spread (standard deviation
over seeds).  aekit's AutoEncoder and VAE run at their defaults (the VAE with
``likelihood="gaussian"``, because its default Bernoulli likelihood needs data in
[0, 1] and standardized features are not), scored through :class:`aekit.AnomalyDetector`
at its default score ("squared+code": the reconstruction error plus the code's Mahalanobis
distance from the training codes).  Same-run baselines: PCA scored as PyOD's
``PCA`` detector scores (every component, distances weighted by explained variance;
Shyu et al. 2003) and scikit-learn's IsolationForest (100 trees, as PyOD's IForest).

    nice -n 10 python benchmarks/odds.py            # all tables, 5 seeds
    nice -n 10 python benchmarks/odds.py --tables glass pima --seeds 0 --ae-param latent_dim=4
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import scipy.io
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from _common import REPO_ROOT, load_average, make_parser, print_table, use_passive_openmp, write_json

DEFAULT_ODDS = REPO_ROOT.parent / "shared" / "data" / "odds"

#: PyOD's published test ROC AUC (one 60/40 split), from ../shared/data/odds/README.md.
PYOD = {  # table: (AutoEncoder, PCA, IForest)
    "arrhythmia": (0.774, 0.781, 0.801),
    "glass": (0.675, 0.675, 0.750),
    "ionosphere": (0.896, 0.796, 0.853),
    "lympho": (0.985, 0.985, 0.993),
    "mnist": (0.864, 0.853, 0.808),
    "optdigits": (0.598, 0.509, 0.702),
    "pima": (0.666, 0.648, 0.680),
    "satellite": (0.663, 0.599, 0.693),
    "shuttle": (0.990, 0.990, 0.997),
    "vertebral": (0.482, 0.403, 0.389),
    "wbc": (0.923, 0.916, 0.932),
}
METHODS = ("AE", "VAE", "PCA", "IForest")


def pyod_pca_scores(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """PyOD's ``PCA`` detector at its defaults: standardize, keep every component, and score
    ``sum_j dist(x, v_j) / explained_variance_ratio_j`` (higher = more outlying)."""
    scaler = StandardScaler().fit(x_train)
    pca = PCA().fit(scaler.transform(x_train))
    weights = pca.explained_variance_ratio_
    keep = weights > 0
    return (cdist(scaler.transform(x_test), pca.components_[keep]) / weights[keep]).sum(1)


def outlier_scores(method: str, x_train, x_test, contamination: float, seed: int, ae_params: dict, vae_params: dict):
    """Test-set outlier scores (higher = more outlying) of one method fitted on ``x_train``."""
    import aekit

    if method == "PCA":
        return pyod_pca_scores(x_train, x_test)
    if method == "IForest":
        return -IsolationForest(n_estimators=100, random_state=seed).fit(x_train).score_samples(x_test)
    estimator = (
        aekit.AutoEncoder(random_state=seed, **ae_params)
        if method == "AE"
        else aekit.VAE(likelihood="gaussian", random_state=seed, **vae_params)
    )
    detector = aekit.AnomalyDetector(estimator, contamination=contamination).fit(x_train)
    return -detector.score_samples(x_test)


def load_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    mat = scipy.io.loadmat(path)
    return np.asarray(mat["X"], dtype=np.float64), np.asarray(mat["y"]).ravel().astype(int)


def _parse_params(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def main() -> None:
    use_passive_openmp()
    parser = make_parser("odds", __doc__.splitlines()[0])
    parser.add_argument("--odds", default=str(DEFAULT_ODDS), help="folder of the ODDS .mat files")
    parser.add_argument("--tables", nargs="+", default=list(PYOD))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--ae-param", action="append", metavar="KEY=VALUE", help="non-default AutoEncoder parameter")
    parser.add_argument("--vae-param", action="append", metavar="KEY=VALUE", help="non-default VAE parameter")
    args = parser.parse_args()
    ae_params, vae_params = _parse_params(args.ae_param), _parse_params(args.vae_param)
    import torch

    torch.set_num_threads(1)

    results: dict[str, dict] = {}
    rows = []
    for table in args.tables:
        X, y = load_table(Path(args.odds) / f"{table}.mat")
        per_method = {m: {"auc": [], "fit_seconds": []} for m in args.methods}
        for seed in args.seeds:
            x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, random_state=seed)
            scaler = StandardScaler().fit(x_tr)  # PyOD's standardizer(X_train, X_test)
            x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
            contamination = float(np.clip(y_tr.mean(), 1e-3, 0.5))
            for method in args.methods:
                started = time.perf_counter()
                scores = outlier_scores(method, x_tr, x_te, contamination, seed, ae_params, vae_params)
                per_method[method]["fit_seconds"].append(time.perf_counter() - started)
                per_method[method]["auc"].append(float(roc_auc_score(y_te, scores)))
        results[table] = {"n_samples": int(len(X)), "n_features": int(X.shape[1]), "methods": per_method}
        row = {"table": table}
        for method in args.methods:
            auc = np.asarray(per_method[method]["auc"])
            row[method] = f"{auc.mean():.3f}±{auc.std():.3f}"
            row[f"{method} s"] = float(np.mean(per_method[method]["fit_seconds"]))
        row["PyOD AE"] = PYOD[table][0]
        row["PyOD PCA"] = PYOD[table][1]
        if "AE" in args.methods and "PCA" in args.methods:
            row["AE-PCA"] = float(np.mean(per_method["AE"]["auc"]) - np.mean(per_method["PCA"]["auc"]))
        rows.append(row)
        print(f"{table}: " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "table"), flush=True)

    summary = {}
    for method in args.methods:
        means = np.array([np.mean(results[t]["methods"][method]["auc"]) for t in args.tables])
        per_seed = np.array([[results[t]["methods"][method]["auc"][i] for t in args.tables] for i in range(len(args.seeds))])
        summary[method] = {
            "mean_auc": float(means.mean()),
            "seed_spread": float(per_seed.mean(1).std()),
            "total_fit_seconds": float(sum(sum(results[t]["methods"][method]["fit_seconds"]) for t in args.tables)),
        }
    pyod_mean = float(np.mean([PYOD[t][0] for t in args.tables]))
    mean_row = {"table": "MEAN"}
    for method in args.methods:
        mean_row[method] = f"{summary[method]['mean_auc']:.3f}±{summary[method]['seed_spread']:.3f}"
        mean_row[f"{method} s"] = summary[method]["total_fit_seconds"] / (len(args.tables) * len(args.seeds))
    mean_row["PyOD AE"] = pyod_mean
    mean_row["PyOD PCA"] = float(np.mean([PYOD[t][1] for t in args.tables]))
    rows.append(mean_row)
    print()
    columns = ["table", *[c for m in args.methods for c in (m, f"{m} s")], "PyOD AE", "PyOD PCA"]
    if "AE-PCA" in rows[0]:
        columns.append("AE-PCA")
    print_table(rows, columns)
    print("\n± is the standard deviation over seeds (for MEAN: of the per-seed mean over tables); 's' = mean fit seconds")
    write_json(
        args.out,
        {
            "protocol": "60/40 split per seed, train-standardized, fitted on the contaminated train split, test ROC AUC",
            "seeds": args.seeds,
            "ae_params": ae_params,
            "vae_params": {"likelihood": "gaussian", **vae_params},
            "pyod_published": {t: dict(zip(("AutoEncoder", "PCA", "IForest"), PYOD[t])) for t in args.tables},
            "pyod_autoencoder_mean": pyod_mean,
            "summary": summary,
            "tables": results,
            "load_average_after": load_average(),
        },
    )


if __name__ == "__main__":
    main()
