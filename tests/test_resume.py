"""Checkpoints: a run killed with SIGKILL mid-epoch resumes to the same weights, bit for bit,
as an uninterrupted run; no file in the run folder is ever half-written."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open

import aekit
from aekit.cli import main
from aekit.train import CheckpointError
from aekit.train.checkpoint import CHECKPOINT_FILE

TRAIN = ["vae", "--quiet", "--latent-dim", "2", "--hidden", "32", "--architecture", "mlp",
         "--epochs", "6", "--batch-size", "16", "--seed", "3", "--validation-fraction", "0.2"]


def _tensors(path):
    with safe_open(str(path), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


def _every_file_parses(folder) -> int:
    """Read each file in ``folder`` the way aekit reads it; return how many were read."""
    read = 0
    for path in folder.iterdir():
        if path.name.startswith("."):
            # atomic_write's temporary folders ".<name>.*.tmp", never read by aekit
            continue
        try:
            if path.suffix == ".safetensors":
                metadata, _ = _tensors(path)
                json.loads(metadata.get("state") or metadata["config"])
            else:
                json.loads(path.read_text())
        except FileNotFoundError:
            continue  # replaced between listing and reading
        read += 1
    return read


def _checkpoint_epoch(path) -> int:
    try:
        return json.loads(_tensors(path)[0]["state"])["epoch"]
    except Exception:  # noqa: BLE001 - not there yet
        return 0


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, digits_pixels_npy):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the killed subprocess runs with OMP_NUM_THREADS=1: same float sums
    try:
        reference = tmp_path / "reference"
        assert main(["train", *TRAIN, "--data", str(digits_pixels_npy), "--out", str(reference)]) == 0

        run = tmp_path / "run"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "aekit", "train", *TRAIN, "--data", str(digits_pixels_npy), "--out", str(run)], env=env
        )
        files_read = 0
        deadline = time.monotonic() + 300
        while _checkpoint_epoch(run / CHECKPOINT_FILE) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "training ended or stalled before epoch 2"
            if run.is_dir():
                files_read += _every_file_parses(run)
            time.sleep(0.01)
        time.sleep(0.05)  # into epoch 3
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
        assert not (run / "model.safetensors").exists()
        files_read += _every_file_parses(run)
        killed_at = _checkpoint_epoch(run / CHECKPOINT_FILE)
        assert 2 <= killed_at < 6 and files_read > 0
        # what a kill in the middle of writing the checkpoint leaves (safetensors' own temporary inside)
        stale = run / f".{CHECKPOINT_FILE}.k1ll3d00.tmp"
        stale.mkdir(exist_ok=True)
        (stale / ".tmpAbC123").write_bytes(b"half a checkpoint")

        assert main(["train", *TRAIN, "--data", str(digits_pixels_npy), "--out", str(run), "--resume"]) == 0
    finally:
        torch.set_num_threads(threads)
    _, resumed = _tensors(run / "model.safetensors")
    _, uninterrupted = _tensors(reference / "model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)  # bit for bit
    summary, expected = (json.loads((d / "run.json").read_text()) for d in (run, reference))
    assert summary["final"] == expected["final"] and summary["epochs_run"] == 6
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


def test_resuming_with_more_epochs_equals_training_longer(tmp_path, digits):
    X, _ = digits
    params = dict(latent_dim=3, hidden=(16,), architecture="mlp", batch_size=64, random_state=1, likelihood="gaussian")
    aekit.VAE(epochs=2, **params).fit(X[:500], checkpoint_dir=tmp_path)
    resumed = aekit.VAE(epochs=4, **params).fit(X[:500], checkpoint_dir=tmp_path, resume=True)
    straight = aekit.VAE(epochs=4, **params).fit(X[:500])
    np.testing.assert_array_equal(resumed.transform(X[500:600]), straight.transform(X[500:600]))
    drop_seconds = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds")}  # noqa: E731
    assert drop_seconds(resumed.history_) == drop_seconds(straight.history_)


def test_an_interrupted_sgd_run_with_a_cosine_schedule_resumes_exactly(tmp_path, digits, crash_after_checkpoint):
    """The momentum buffers and the position in the learning-rate schedule survive the restart."""
    X, _ = digits
    params = dict(latent_dim=3, hidden=(16,), architecture="mlp", batch_size=64, random_state=1, epochs=4)
    params |= dict(solver="sgd", learning_rate=0.05, learning_rate_schedule="cosine")
    with crash_after_checkpoint(lambda checkpoint, state: state.epoch == 2):
        aekit.AutoEncoder(**params).fit(X[:500], checkpoint_dir=tmp_path)
    resumed = aekit.AutoEncoder(**params).fit(X[:500], checkpoint_dir=tmp_path, resume=True)
    straight = aekit.AutoEncoder(**params).fit(X[:500])
    np.testing.assert_array_equal(resumed.transform(X[500:600]), straight.transform(X[500:600]))
    assert resumed.history_["learning_rate"] == straight.history_["learning_rate"]
    assert straight.history_["learning_rate"][-1] < 1e-3


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, digits):
    X, _ = digits
    aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=1).fit(X[:200], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="other settings.*latent_dim"):
        aekit.AutoEncoder(latent_dim=4, hidden=(16,), epochs=1).fit(X[:200], checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="n_samples"):
        aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=1).fit(X[:300], checkpoint_dir=tmp_path, resume=True)


def test_checkpoint_loading_never_unpickles(tmp_path, digits):
    X, _ = digits

    class Boom:
        def __reduce__(self):
            return (exec, (f"open({str(tmp_path / 'pwned')!r}, 'w').write('x')",))

    (tmp_path / CHECKPOINT_FILE).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="not a readable aekit checkpoint"):
        aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=1).fit(X[:200], checkpoint_dir=tmp_path, resume=True)
    assert not (tmp_path / "pwned").exists()
