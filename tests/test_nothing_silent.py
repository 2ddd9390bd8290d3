"""Nothing silent (issue 19): every hostile input, file, folder or disk state gives a clear error
(or, for an anomaly detector, an outlier), never a wrong answer and never a raw traceback.

Each test names the item of the issue it covers; each failed on 27e1324.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import aekit
from aekit.cli import main
from aekit.estimators.persistence import ModelFileError
from aekit.train import TrainingDivergedError, distributed
from aekit.train.checkpoint import CHECKPOINT_FILE
from aekit.uses.anomaly import WORST_SCORE
from aekit.uses.reconstruction import reconstruction_error
from aekit.utils.files import FolderBusyError, folder_lock, remove_stale_temporaries

TINY = dict(latent_dim=2, hidden=(16,), epochs=3, random_state=0)


@pytest.fixture(scope="module")
def flat(digits):
    X, _ = digits
    return X.reshape(len(X), -1)[:600]


@pytest.fixture(scope="module")
def bernoulli_vae(flat):
    return aekit.VAE(**TINY).fit(flat)


# ---------------------------------------------------------------------------- 1. out-of-range scoring
@pytest.mark.parametrize(
    "method", ["score_samples", "log_likelihood", "transform", "reconstruct", "reconstruction_error"]
)
def test_bernoulli_models_refuse_inputs_outside_the_unit_interval_at_scoring_time(bernoulli_vae, flat, method):
    # Before: score_samples(X * 16) was above that of real data, and log_likelihood positive (p > 1).
    with pytest.raises(ValueError, match=r"likelihood='bernoulli' models inputs in \[0, 1\].*ranges over \[0, 16\]"):
        getattr(bernoulli_vae, method)(flat * 16)
    assert np.isfinite(getattr(bernoulli_vae, method)(flat[:5])).all()


def test_bce_autoencoder_refuses_inputs_outside_the_unit_interval(flat):
    ae = aekit.AutoEncoder(loss="bce", **TINY).fit(flat)
    with pytest.raises(ValueError, match=r"loss='bce' models inputs in \[0, 1\]"):
        ae.score_samples(flat * 255)


def test_detectors_flag_out_of_range_rows_as_outliers(flat):
    elbo = aekit.AnomalyDetector(aekit.VAE(**TINY), score="elbo").fit(flat)
    assert (elbo.predict(flat * 16) == -1).all()  # before: 82% called inliers
    ce = aekit.AnomalyDetector(aekit.AutoEncoder(loss="bce", **TINY), score="cross_entropy").fit(flat)
    assert (ce.predict(flat * 255) == -1).all()  # before: 99% called inliers
    # In a mixed batch only the out-of-range rows are flagged; the others score as they do alone.
    mixed = np.concatenate([flat[:20], flat[20:30] * 255])
    scores = ce.score_samples(mixed)
    np.testing.assert_allclose(scores[:20], ce.score_samples(flat[:20]))
    assert (scores[20:] == WORST_SCORE).all() and (ce.predict(mixed)[20:] == -1).all()
    assert np.isfinite(scores).all()  # finite, so sklearn's metrics (roc_auc_score) take them


def test_cross_entropy_metric_refuses_inputs_outside_the_unit_interval(flat):
    ae = aekit.AutoEncoder(**TINY).fit(flat)
    with pytest.raises(ValueError, match=r"metric='cross_entropy' scores inputs in \[0, 1\]"):
        reconstruction_error(ae, flat * 255, metric="cross_entropy")
    with pytest.raises(ValueError, match=r"score='cross_entropy' needs inputs in \[0, 1\]"):
        aekit.AnomalyDetector(aekit.AutoEncoder(**TINY), score="cross_entropy").fit(flat * 255)


# ---------------------------------------------------------------------------- 2. beyond float32
def test_float64_beyond_float32_is_refused_before_the_cast(flat):
    huge = flat.astype(np.float64)
    huge[3, 5] = 1e39
    ae = aekit.AutoEncoder(**TINY).fit(flat)
    for call in (ae.score_samples, ae.transform, aekit.AutoEncoder(**TINY).fit, aekit.DenoisingAutoEncoder(**TINY).fit):
        with pytest.raises(ValueError, match="beyond float32's range"):
            call(huge)


def test_a_nan_score_is_never_an_inlier(flat, monkeypatch):
    detector = aekit.AnomalyDetector(aekit.VAE(**TINY), score="elbo").fit(flat)
    module = detector.estimator_.module_
    monkeypatch.setattr(module, "score", lambda x: torch.full((x.shape[0],), float("nan")))
    assert (detector.estimator_.score_samples(flat[:4]) == -np.inf).all()  # the estimator: NaN becomes -inf
    monkeypatch.setattr(detector.estimator_, "score_samples", lambda X: np.full(len(X), np.nan))
    assert (detector.predict(flat[:10]) == -1).all()  # before: NaN < 0 is False, so +1 (inlier)


# ---------------------------------------------------------------------------- 6. divergence on the last step
def test_a_blow_up_on_the_last_update_is_caught(digits):
    X, _ = digits
    X = X.reshape(len(X), -1)[:256] * 1e3
    est = aekit.AutoEncoder(solver="sgd", learning_rate=10.0, epochs=1, batch_size=256, validation_fraction=0.0,
                            latent_dim=2, hidden=(8,), random_state=0)  # fmt: skip
    with pytest.warns(aekit.estimators.base.DataScaleWarning), pytest.raises(TrainingDivergedError, match="epoch 1"):
        est.fit(X)  # before: returned a model whose every reconstruction error was inf
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())
    assert np.isfinite(est.reconstruction_error(X)).all()


# ---------------------------------------------------------------------------- 3. model files
@pytest.fixture(scope="module")
def model_file(tmp_path_factory, flat):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    aekit.AutoEncoder(**TINY).fit(flat).save(path)
    return path


def _huge_code(config):
    config["params"]["latent_dim"] = config["fitted"]["latent_dim_"] = 10**9


def _hostile(path, target, config=None, metadata=None, tensors=None):
    with safe_open(str(path), framework="pt") as f:
        meta, weights = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    meta.pop("checksum")  # a hostile file leaves out the checksum (files that predate it have none)
    if config:
        parsed = json.loads(meta["config"])
        config(parsed)
        meta["config"] = json.dumps(parsed)
    if metadata:
        metadata(meta)
    if tensors:
        tensors(weights)
    save_file(weights, str(target), metadata=meta)
    return target


@pytest.mark.parametrize(
    "edit, message",
    [
        (dict(config=lambda c: c["fitted"].update(hidden_=[25000, 25000])), "do not match the configuration"),
        (dict(config=_huge_code), "wrong shapes"),
        (dict(config=lambda c: c["fitted"].update(hidden_=[4] * 100_000)), "100000 hidden layers but"),
        (dict(metadata=lambda m: m.update(config='{"params": ' + "[" * 100_000 + "]" * 100_000 + "}")), "nested"),
        (dict(config=lambda c: c["fitted"].update(transform="x")), r"\['transform'\] are not fitted attributes"),
        (dict(config=lambda c: c["fitted"].update(score_samples_=1, _module=2)), "are not fitted attributes"),
        (dict(tensors=lambda t: t[sorted(t)[0]].fill_(float("nan"))), "NaN or infinite values"),
    ],
    ids=["huge-hidden", "huge-latent", "100k-layers", "deep-json", "method-name", "private-name", "nan-weights"],
)
def test_hostile_model_files_are_refused_quickly(model_file, tmp_path, edit, message):
    import time

    hostile = _hostile(model_file, tmp_path / "hostile.safetensors", **edit)
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=message):
        aekit.load(hostile)
    assert time.perf_counter() - started < 5  # before: 120 s and 4.8 GB for hidden_=[25000, 25000]


def test_bit_flips_in_the_weights_fail_the_checksum(model_file, tmp_path):
    raw = model_file.read_bytes()
    rng = np.random.RandomState(0)
    for i in range(10):  # before: 20 of 20 such flips loaded silently
        flipped = bytearray(raw)
        position = int(rng.randint(len(raw) - 1000, len(raw)))
        flipped[position] ^= 1 << int(rng.randint(8))
        (tmp_path / "flip.safetensors").write_bytes(flipped)
        with pytest.raises(ModelFileError, match="fails its checksum|NaN or infinite"):
            aekit.load(tmp_path / "flip.safetensors")


def test_a_model_fitted_on_a_dataframe_saves_its_column_names(tmp_path, flat):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(flat, columns=[f"pixel_{i}" for i in range(flat.shape[1])])
    est = aekit.AutoEncoder(**TINY).fit(frame)
    est.save(tmp_path / "m.safetensors")  # before: TypeError on the object array of names
    loaded = aekit.load(tmp_path / "m.safetensors")
    assert list(loaded.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(loaded.transform(frame), est.transform(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame.rename(columns={"pixel_0": "other"}))


# ---------------------------------------------------------------------------- 4. run folders and checkpoints
TRAIN = ["--quiet", "--latent-dim", "2", "--hidden", "8", "--architecture", "mlp", "--epochs", "2", "--seed", "0"]


@pytest.fixture()
def run(tmp_path, digits_pixels_npy):
    out = tmp_path / "run"
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(out), *TRAIN, "--keep-checkpoint"]) == 0
    return out


def _one_line_error(capsys, code, expected):
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and expected in err, err


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda r: (r / "preprocessing.json").unlink(), "preprocessing.json is missing"),
        (lambda r: (r / "preprocessing.json").write_text(""), "preprocessing.json is not the file this run wrote"),
        (lambda r: (r / "preprocessing.json").write_text('{"kind": "none"}'), "preprocessing.json is not the file"),
        (lambda r: (r / "run.json").unlink(), "no run.json: the run was interrupted"),
        (lambda r: (r / "run.json").write_text("[1"), "run.json is damaged"),
    ],
    ids=["missing", "empty", "altered", "interrupted", "malformed-manifest"],
)
def test_a_damaged_run_folder_is_a_one_line_error_naming_the_file(
    run, digits_pixels_npy, tmp_path, capsys, damage, expected
):
    damage(run)
    code = main(["encode", str(run), str(digits_pixels_npy), "--out", str(tmp_path / "z.npy")])
    _one_line_error(capsys, code, expected)  # before: "no scaling", codes off by up to 121
    assert not (tmp_path / "z.npy").exists()


def test_run_folder_of_an_earlier_aekit_still_loads_but_needs_its_scaling(run, digits_pixels_npy, tmp_path, capsys):
    summary = json.loads((run / "run.json").read_text())
    del summary["files"]  # run.json as aekit wrote it before the manifest
    (run / "run.json").write_text(json.dumps(summary))
    assert main(["encode", str(run), str(digits_pixels_npy), "--out", str(tmp_path / "z.npy")]) == 0
    (run / "preprocessing.json").unlink()
    code = main(["encode", str(run), str(digits_pixels_npy), "--out", str(tmp_path / "z.npy")])
    _one_line_error(capsys, code, "has no preprocessing.json")


def test_retraining_clears_temporaries_that_killed_writes_left(run, digits_pixels_npy):
    for name in ("model.safetensors", "preprocessing.json", "run.json"):
        (run / f".{name}.k1ll3d00.tmp").mkdir()  # what a kill during that write leaves
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), *TRAIN, "--overwrite"]) == 0
    expected = ["config.toml", "model.safetensors", "preprocessing.json", "run.json"]  # no checkpoint once saved
    assert sorted(p.name for p in run.iterdir()) == expected


def _edit_checkpoint(path, header=None, tensors=None):
    with safe_open(str(path), framework="pt") as f:
        meta, weights = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    state = json.loads(meta["state"])
    if header:
        header(state)
    if tensors:
        tensors(weights)
    meta["state"] = json.dumps(state)
    save_file(weights, str(path), metadata=meta)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (dict(header=lambda h: h.update(history=[])), "history"),
        (dict(header=lambda h: h.update(epoch=-1)), "out of range"),
        (dict(tensors=lambda t: t.pop(next(k for k in t if k.endswith("exp_avg_sq")))), "lacks ['exp_avg_sq']"),
        (dict(tensors=lambda t: t.update({"rng.cpu.0": torch.zeros(7, dtype=torch.uint8)})), "random generator"),
        (dict(tensors=lambda t: t.update({k: torch.zeros(3) for k in [next(k for k in t if k.startswith("module."))]})),
         "do not fit the model"),
        (dict(header=lambda h: h.update(optimizer_entries=None)), "damaged header"),
    ],
    ids=["empty-history", "negative-epoch", "missing-optimizer-entry", "rng-size", "weight-shape", "header-type"],
)
def test_a_damaged_checkpoint_is_refused_before_resuming(run, digits_pixels_npy, capsys, edit, expected):
    _edit_checkpoint(run / CHECKPOINT_FILE, **edit)
    code = main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), *TRAIN[:-4], "--epochs", "3",
                 "--seed", "0", "--resume"])  # fmt: skip
    _one_line_error(capsys, code, expected)


def test_npz_sizes_are_checked_before_decompressing(tmp_path, capsys):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**7, 10**6)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", header.getvalue() + b"\0" * 4096)  # 40 TB claimed by a 1 KB file
    code = main(["train", "ae", "--data", str(tmp_path / "bomb.npz"), "--out", str(tmp_path / "run"), "--quiet"])
    _one_line_error(capsys, code, "GiB once decompressed")  # before: MemoryError, a traceback


def test_an_output_equal_to_an_input_is_refused(run, tmp_path, digits_pixels_npy, capsys):
    data = tmp_path / "data.npy"
    data.write_bytes(digits_pixels_npy.read_bytes())
    before = data.read_bytes()
    _one_line_error(capsys, main(["encode", str(run), str(data), "--out", str(data)]), "is the input")
    assert data.read_bytes() == before  # before: silently replaced with the codes
    model = run / "model.safetensors"
    _one_line_error(capsys, main(["reconstruct", str(run), str(data), "--out", str(model)]), "is the input")


# ---------------------------------------------------------------------------- 5. paths and disks
def test_an_out_under_a_file_fails_before_training(tmp_path, digits_pixels_npy, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    fitted = []
    monkeypatch.setattr(aekit.AutoEncoder, "fit", lambda self, *a, **k: fitted.append(1))
    code = main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(tmp_path / "file" / "run"), *TRAIN])
    _one_line_error(capsys, code, str(tmp_path / "file"))
    assert not fitted  # before: a raw traceback after the first epoch


def test_a_full_disk_at_save_is_one_line_and_keeps_the_earlier_model(run, digits_pixels_npy, capsys, monkeypatch):
    before = (run / "model.safetensors").read_bytes()

    def full(tensors, filename, metadata=None):  # as safetensors reports it
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("aekit.estimators.persistence.save_file", full)
    code = main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), *TRAIN, "--overwrite"])
    _one_line_error(capsys, code, "No space left on device (free some space")
    assert (run / "model.safetensors").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_a_real_full_disk_is_one_line(tmp_path, digits_pixels_npy, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("no small tmpfs can be mounted here (needs root)")
    try:
        code = main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(disk / "run"), *TRAIN])
        _one_line_error(capsys, code, "No space left on device")  # before: a SafetensorError traceback
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# ---------------------------------------------------------------------------- 8. one writer per run folder
def test_a_second_writer_is_refused_naming_the_holder(tmp_path, digits_pixels_npy, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from aekit.utils.files import folder_lock\n"
         f"with folder_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(aekit.__file__).parents[1])},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(out), *TRAIN])
        _one_line_error(capsys, code, f"in use by another aekit process (PID {holder.pid})")
        with pytest.raises(FolderBusyError):
            aekit.AutoEncoder(**TINY).fit(np.random.rand(20, 4), checkpoint_dir=out)
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", "ae", "--data", str(digits_pixels_npy), "--out", str(out), *TRAIN]) == 0  # released


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with folder_lock(tmp_path), folder_lock(tmp_path):
        pass
    with folder_lock(tmp_path):
        pass


def test_the_sweep_leaves_a_live_writers_temporaries(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = tmp_path / f".{CHECKPOINT_FILE}.{os.getpid()}-abc.tmp"
    dead = tmp_path / f".{CHECKPOINT_FILE}.{ended.stdout.strip()}-def.tmp"
    old = tmp_path / f".{CHECKPOINT_FILE}.k1ll3d00.tmp"
    for folder in (live, dead, old):
        folder.mkdir()
    remove_stale_temporaries(tmp_path / CHECKPOINT_FILE)
    assert live.is_dir() and not dead.exists() and not old.exists()


# ---------------------------------------------------------------------------- 9. strict flags and choices
def test_strict_flags_and_choices(flat):
    dates = np.arange(40).astype("datetime64[D]").reshape(20, 2)
    with pytest.raises(ValueError, match="dates or durations"):
        aekit.AutoEncoder(**TINY).fit(dates)  # before: fitted on nanoseconds since 1970
    with pytest.raises(ValueError, match="dates or durations"):
        aekit.AutoEncoder(**TINY).fit(flat).transform(np.zeros((2, 64), dtype="timedelta64[s]"))
    for params, name in [({"early_stopping": "yes"}, "early_stopping"), ({"hidden": {8: 1}}, "hidden"),
                         ({"verbose": "x"}, "verbose")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"^{name} must be"):
            aekit.AutoEncoder(**{**TINY, **params}).fit(flat)
    with pytest.raises(ValueError, match="^hidden must be"):
        aekit.StackedAutoEncoder(hidden=None, epochs=1).fit(flat)


def test_precision_16_is_a_choice_on_the_command_line():
    from aekit.cli import _model_params

    assert _model_params(aekit.AutoEncoder, [("precision", "16")]) == {"precision": "16"}


# ---------------------------------------------------------------------------- 7. distributed
def test_the_collective_timeout_reaches_the_process_group(monkeypatch):
    seen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    distributed.set_timeout(42)
    try:
        assert distributed.context().rank == 1
        assert seen["timeout"].total_seconds() == 42
        message = distributed.describe_failure(RuntimeError("[gloo] Timed out waiting 42000ms for recv\nmore"))
        assert "rank 1 lost the other ranks" in message and "--ddp-timeout=42 s" in message and "--resume" in message
    finally:
        distributed.set_timeout(distributed.DEFAULT_TIMEOUT_SECONDS)
    assert distributed.describe_failure(ValueError("x")) is None


STALL_RANK_1 = """
import os
if os.environ.get("RANK") == "1":
    import time
    import torch.distributed as dist

    original, calls = dist.all_reduce, [0]

    def all_reduce(*args, **kwargs):
        calls[0] += 1
        if calls[0] > 3:  # a few steps in, this rank stops answering (a hung GPU, a stopped node)
            time.sleep(600)
        return original(*args, **kwargs)

    dist.all_reduce = all_reduce
"""


def test_a_stalled_rank_ends_the_job_after_the_ddp_timeout(tmp_path, digits_pixels_npy):
    (tmp_path / "sitecustomize.py").write_text(STALL_RANK_1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    env.pop("WORLD_SIZE", None)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "aekit",
         "train", "ae", *TRAIN, "--data", str(digits_pixels_npy), "--out", str(tmp_path / "run"), "--ddp-timeout", "5"],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    # Before: no timeout (the default of 30 min), the job hung.
    assert result.returncode != 0
    assert "lost the other ranks of this torchrun job" in result.stderr and "--ddp-timeout=5 s" in result.stderr


def test_ddp_timeout_flag_is_checked(capsys):
    with pytest.raises(SystemExit):
        main(["train", "ae", "--data", "x.npy", "--out", "o", "--ddp-timeout", "0"])
    assert "expected a positive number of seconds" in capsys.readouterr().err
