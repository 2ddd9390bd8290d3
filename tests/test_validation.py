"""Bad input at every boundary (estimators, detector, CLI) fails with a message saying what to do;
NaN during training stops with the best weights kept and nothing saved overwritten."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.estimators.base import DataScaleWarning
from aekit.train import TrainingDivergedError

SMALL = dict(latent_dim=2, hidden=(8,), epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def table(digits):
    X, y = digits
    return X[:120].reshape(120, -1).astype(np.float32), y[:120]


@pytest.fixture(scope="module")
def fitted(table):
    X, _ = table
    return aekit.AutoEncoder(**SMALL).fit(X), aekit.AutoEncoder(**SMALL, architecture="conv").fit(X.reshape(-1, 8, 8))


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


FIT_ERRORS = [
    ("nan", lambda X: _with(X, 3, 5, np.nan), r"contains NaN\. Remove or impute"),
    ("inf", lambda X: _with(X, 7, 1, np.inf), r"contains infinity.*Remove or impute"),
    ("strings", lambda X: np.array([["a", "b"], ["c", "d"]], dtype=object), r"could not convert.*encode text"),
    ("complex", lambda X: X.astype(np.complex64), r"Complex data not supported\. Pass real numbers"),
    ("1-d", lambda X: X[:, 0], r"got 1D array.*X\.reshape\(-1, 1\)"),
    ("scalar", lambda X: 3.0, r"got scalar array.*one sample per row"),
    ("5-d", lambda X: np.zeros((4, 1, 2, 2, 2)), r"expected \(n, d\) tables or \(n, h, w\)"),
    ("empty", lambda X: X[:0], r"0 sample\(s\).*Pass a non-empty array"),
    ("no features", lambda X: X[:, :0], r"0 feature\(s\).*Pass a non-empty array"),
    ("one sample", lambda X: X[:1], r"1 sample\(s\).*needs at least 2 samples"),
]


@pytest.mark.parametrize("name, make, message", FIT_ERRORS, ids=[case[0] for case in FIT_ERRORS])
def test_fit_rejects_bad_input_with_advice(table, name, make, message):
    X, _ = table
    with pytest.raises(ValueError, match=message):
        aekit.AutoEncoder(**SMALL).fit(make(X))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ae, img, X: ae.transform(X[:, :5]), r"5 features.*expecting 64.*same columns"),
        (lambda ae, img, X: ae.transform(_with(X, 0, 0, np.nan)), r"contains NaN"),
        (lambda ae, img, X: ae.reconstruct(X[:0]), r"0 sample\(s\)"),
        (lambda ae, img, X: ae.score_samples(X.reshape(-1, 8, 8)), r"dim 3.*shaped like the data given to fit"),
        (lambda ae, img, X: img.reconstruct(X.reshape(-1, 4, 16)), r"shape \(4, 16\).*fitted on samples of shape \(8, 8\)"),
        (lambda ae, img, X: ae.inverse_transform(np.zeros((2, 3))), r"Z has 3 columns.*latent_dim=2"),
    ],
    ids=["feature-count", "nan", "empty", "ndim", "image-shape", "code-width"],
)
def test_fitted_methods_reject_mismatched_input(fitted, table, call, message):
    ae, img = fitted
    with pytest.raises(ValueError, match=message):
        call(ae, img, table[0])


def test_integers_and_float64_are_accepted_and_converted(table):
    X, _ = table
    ints = (X * 16).round().astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # small integers are not "unscaled"
        ae = aekit.AutoEncoder(**SMALL).fit(ints)
    assert ae.transform(ints).dtype == np.float32
    ae64 = aekit.AutoEncoder(**SMALL).fit(X.astype(np.float64))
    assert ae64.transform(X.astype(np.float64)).dtype == np.float64
    np.testing.assert_allclose(ae64.transform(X.astype(np.float64)), ae64.transform(X), rtol=1e-6)


def test_unscaled_data_warns_and_unit_interval_losses_refuse_it(table):
    X, _ = table
    with pytest.warns(DataScaleWarning, match=r"looks unscaled.*StandardScaler"):
        aekit.AutoEncoder(**SMALL).fit(X * 1e4)
    with pytest.raises(ValueError, match=r"loss='bce' models inputs in \[0, 1\].*\[0, 16\].*loss='mse'"):
        aekit.AutoEncoder(**SMALL, loss="bce").fit(X * 16)
    with pytest.raises(ValueError, match=r"likelihood='bernoulli'.*\[-1, 1\].*likelihood='gaussian'"):
        aekit.VAE(**SMALL, likelihood="bernoulli").fit(X * 2 - 1)


def test_auto_likelihood_follows_the_training_range_and_auto_code_size_the_width(table):
    X, _ = table  # digits scaled to [0, 1]
    assert aekit.VAE(**SMALL).fit(X).likelihood_ == "bernoulli"
    centred = aekit.VAE(**{**SMALL, "latent_dim": "auto"}).fit(X * 2 - 1)
    assert centred.likelihood_ == "gaussian" and centred.latent_dim_ == 16 == centred.transform(X).shape[1]
    assert aekit.VAE(**{**SMALL, "latent_dim": "auto"}).fit(X[:, :13]).latent_dim_ == 6
    assert aekit.AutoEncoder(**{**SMALL, "latent_dim": "auto"}).fit(X[:, :4]).latent_dim_ == 2
    with pytest.warns(aekit.estimators.base.WideCodeWarning, match="latent_dim=8 is not smaller than the 4 input"):
        aekit.AutoEncoder(**{**SMALL, "latent_dim": 8}).fit(X[:, :4])
    with warnings.catch_warnings():
        warnings.simplefilter("error", aekit.estimators.base.WideCodeWarning)  # a penalty makes wide codes useful
        aekit.SparseAutoEncoder(**{**SMALL, "latent_dim": 8}).fit(X[:, :4])


def test_conditional_vae_labels_must_match(table):
    X, y = table
    cvae = aekit.VAE(**SMALL, likelihood="gaussian", conditional=True)
    with pytest.raises(ValueError, match="120 samples but y has 50 labels"):
        cvae.fit(X, y[:50])
    with pytest.raises(ValueError, match=r"needs class labels: call fit\(X, y\)"):
        cvae.fit(X)


def test_detector_and_precision_are_validated(table):
    X, _ = table
    with pytest.raises(ValueError, match="contains NaN"):
        aekit.AnomalyDetector(aekit.AutoEncoder(**SMALL)).fit(_with(X, 0, 0, np.nan))
    with pytest.raises(ValueError, match="precision='bf16'.*needs a CUDA device"):
        aekit.AutoEncoder(**SMALL, device="cpu", precision="bf16").fit(X)
    with pytest.raises(ValueError, match="solver must be one of"):
        aekit.AutoEncoder(**SMALL, solver="lbfgs").fit(X)
    with pytest.raises(ValueError, match=re.escape("momentum must be a number in [0.0, 1.0); got 1.0")):
        aekit.AutoEncoder(**SMALL, solver="sgd", momentum=1.0).fit(X)
    with pytest.raises(ValueError, match=re.escape("dropout must be a number in [0.0, 1.0); got 1.0")):
        aekit.AutoEncoder(**SMALL, dropout=1.0).fit(X)
    with pytest.raises(ValueError, match="learning_rate_schedule must be one of"):
        aekit.AutoEncoder(**SMALL, learning_rate_schedule="linear").fit(X)
    with pytest.raises(ValueError, match="precision must be one of"):
        aekit.AutoEncoder(**SMALL, precision="8").fit(X)


# ---------------------------------------------------------------------------- NaN during training
def _poison_after(module, n_good_steps):
    """Make the module's loss NaN from step ``n_good_steps + 1`` on (counting training steps only, not
    the trainer's gradient-free check of each epoch's last update)."""
    original, calls = module.loss_terms, {"n": 0}

    def loss_terms(x, condition=None, epoch=None):
        terms = original(x, condition, epoch)
        if module.training and torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] > n_good_steps:
                terms["loss"] = terms["loss"] * float("nan")
        return terms

    module.loss_terms = loss_terms


def test_nan_loss_stops_on_its_step_and_keeps_the_best_weights(table, monkeypatch):
    X, _ = table
    from aekit.estimators.autoencoder import AutoEncoder

    build = AutoEncoder._build_module

    def poisoned(self):
        module = build(self)
        _poison_after(module, n_good_steps=2 * 4 + 1)  # 108 training rows / 32 = 4 steps per epoch
        return module

    monkeypatch.setattr(AutoEncoder, "_build_module", poisoned)
    ae = aekit.AutoEncoder(**{**SMALL, "epochs": 10, "early_stopping": False})
    with pytest.raises(TrainingDivergedError, match=r"at epoch 3, step 2.*weights of epoch [12] \(the best so far\).*learning rate.*unscaled") as info:
        ae.fit(X)
    assert info.value.epoch == 3 and info.value.step == 2
    assert ae.n_epochs_ == 2 and len(ae.history_["train_loss"]) == 2
    assert all(torch.isfinite(p).all() for p in ae.module_.parameters())
    assert np.isfinite(ae.transform(X)).all()


def test_cli_divergence_exits_2_and_leaves_the_saved_model_alone(tmp_path, table, capsys):
    X, _ = table
    data = tmp_path / "data.npy"
    np.save(data, (X / 16 * 255).round().astype(np.uint8))
    run = tmp_path / "run"
    base = ["train", "ae", "--data", str(data), "--out", str(run), "--quiet",
            "--latent-dim", "2", "--hidden", "8", "--architecture", "mlp"]
    assert main(base + ["--epochs", "1", "--keep-checkpoint"]) == 0
    model_before = (run / "model.safetensors").read_bytes()
    checkpoint_before = (run / "checkpoint.safetensors").read_bytes()
    np.save(data, np.full((120, 64), 1e30, dtype=np.float32))  # finite, but squared errors overflow
    capsys.readouterr()
    with pytest.warns(DataScaleWarning):
        assert main(base + ["--epochs", "3", "--overwrite"]) == 2
    assert "NaN or infinite at epoch 1, step 1" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == model_before
    assert (run / "checkpoint.safetensors").read_bytes() == checkpoint_before


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda d: np.savetxt(d / "x.csv", np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]), delimiter=","),
         # A gap is a missing value that `ae`/`vae` train around (their table forms); other models refuse it.
         ["train", "sparse", "--data", "{d}/x.csv", "--out", "{d}/run"], "gaps, which model 'sparse' does not take"),
        (lambda d: np.save(d / "x.npy", np.zeros(5, dtype=np.float32)),
         ["train", "ae", "--data", "{d}/x.npy", "--out", "{d}/run"], "got 1D array"),
        (lambda d: np.save(d / "x.npy", np.zeros((1, 4), dtype=np.float32)),
         ["train", "ae", "--data", "{d}/x.npy", "--out", "{d}/run"], "at least 2 samples"),
        (lambda d: np.save(d / "x.npy", np.full((9, 4), 0.5, dtype=np.float32)),
         ["train", "vae", "--data", "{d}/x.npy", "--out", "{d}/run", "--param", "precision=bf16"], "needs a CUDA device"),
    ],
    ids=["csv-nan", "npy-1d", "npy-one-sample", "cpu-bf16"],
)
def test_cli_reports_bad_data_in_one_line(tmp_path, capsys, make, args, message):
    """In-process (tests/test_cli.py checks the subprocess exit path has no traceback)."""
    make(tmp_path)
    assert main([a.format(d=tmp_path) for a in args] + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model.safetensors").exists()
