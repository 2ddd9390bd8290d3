"""Run folders a user can live with: no silent overwrite, no spare checkpoint, outlier flags from the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.cli import main

TRAIN = ["--quiet", "--latent-dim", "4", "--hidden", "16", "--architecture", "mlp", "--epochs", "3", "--seed", "0"]


@pytest.fixture
def pixels(tmp_path, digits):
    X, y = digits
    path = tmp_path / "train.npy"
    np.save(path, (X[y != 0].reshape(-1, 64) * 255).round().astype(np.uint8))
    mixed = tmp_path / "mixed.npy"
    np.save(mixed, (X[:300].reshape(-1, 64) * 255).round().astype(np.uint8))  # zeros are the novel class
    return path, mixed, y[:300]


def test_an_existing_run_is_replaced_only_on_request_and_the_checkpoint_is_dropped(tmp_path, pixels, capsys):
    data, _, _ = pixels
    run = tmp_path / "run"
    argv = ["train", "ae", "--data", str(data), "--out", str(run), *TRAIN]
    assert main(argv) == 0
    assert sorted(p.name for p in run.iterdir()) == ["config.toml", "model.safetensors", "preprocessing.json", "run.json"]
    model = (run / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds a run (run.json, model.safetensors); pass --overwrite" in err and "--resume" in err
    assert (run / "model.safetensors").read_bytes() == model
    assert main([*argv, "--overwrite", "--keep-checkpoint"]) == 0
    assert (run / "checkpoint.safetensors").is_file()
    assert main([*argv[:-2], "--epochs", "5", "--resume"]) == 0  # a kept checkpoint continues with more epochs


def test_detect_flags_the_novel_class_at_the_training_threshold(tmp_path, pixels, capsys):
    data, mixed, labels = pixels
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(data), "--out", str(run), "--quiet", "--architecture", "mlp",
                 "--epochs", "20", "--seed", "0"]) == 0  # fmt: skip
    flags = tmp_path / "flags.csv"
    assert main(["detect", str(run), str(mixed), "--contamination", "0.05", "--out", str(flags)]) == 0
    assert "flagged" in capsys.readouterr().out
    table = np.genfromtxt(flags, delimiter=",", names=True)
    assert table.dtype.names == ("row", "score", "p_value", "outlier") and len(table) == 300
    outlier = table["outlier"].astype(bool)
    novel = labels == 0
    assert outlier[novel].mean() > 3 * outlier[~novel].mean()  # the unseen class is flagged far more often
    assert 0.01 < outlier[~novel].mean() < 0.15  # about the 5% asked for, on rows like the training data
    assert np.all((table["p_value"] > 0) & (table["p_value"] <= 1))
    assert main(["detect", str(run), str(mixed), "--out", str(tmp_path / "f.npy")]) == 2
    assert "give a .csv file name" in capsys.readouterr().err
    assert main(["detect", str(run), str(mixed), "--calibrate", str(tmp_path / "none.npy"), "--out", str(flags)]) == 2
    assert "--calibrate FILE" in capsys.readouterr().err
