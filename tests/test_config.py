"""Run configs: ``aekit train --config run.toml``, the run folder's resolved config.toml, and the TOML writer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from safetensors.numpy import load_file

import aekit
from aekit.cli import main
from aekit.utils import toml


def test_toml_writer_round_trips_through_tomllib():
    data = {
        "text": 'quote " backslash \\ newline \n tab \t unicode é ☃',
        "path": "C:\\runs\\vae",
        "small": 1e-300,
        "tenth": 0.1,
        "big": -float("inf"),
        "count": -3,
        "flag": False,
        "widths": [256, 128],
        "empty": [],
        "skipped": None,
        "odd key": 1,
        "param": {"beta": 2.5, "likelihood": "gaussian", "on": True, "nothing": None},
    }
    back = toml.tomllib.loads(toml.dumps(data, header="two\nlines"))
    expected = {k: v for k, v in data.items() if v is not None}
    expected["param"] = {k: v for k, v in data["param"].items() if v is not None}
    assert back == expected
    assert math.isnan(toml.tomllib.loads(toml.dumps({"x": float("nan")}))["x"])
    with pytest.raises(TypeError, match="cannot write"):
        toml.dumps({"x": object()})


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _tensors_and_losses(run):
    model = aekit.load(run / "model.safetensors")
    losses = {k: v for k, v in model.history_.items() if k not in ("seconds", "cpu_seconds")}  # clocks differ
    return load_file(run / "model.safetensors"), losses, model


def test_config_reproduces_the_run_bit_for_bit(tmp_path, digits_pixels_npy, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in the config: the run folder's copy holds them resolved
    (tmp_path / "data.npy").write_bytes(digits_pixels_npy.read_bytes())
    config = _write(
        tmp_path / "run.toml",
        'model = "vae"\ndata = "data.npy"\nout = "first"\nepochs = 3\nhidden = [32, 16]\nlatent_dim = 3\n'
        'quiet = true\nseed = 7\n\n[param]\nbeta = 2.5\narchitecture = "mlp"\n',
    )
    assert main(["train", "--config", config, "--epochs", "2"]) == 0  # the flag overrides the key
    first, losses, model = _tensors_and_losses(tmp_path / "first")
    assert model.n_epochs_ == 2 and model.beta == 2.5 and model.hidden == (32, 16) and model.architecture_ == "mlp"
    resolved = toml.load(tmp_path / "first" / "config.toml")
    assert resolved["data"] == str(tmp_path / "data.npy") and resolved["epochs"] == 2 and resolved["seed"] == 7
    assert resolved["param"]["beta"] == 2.5 and resolved["param"]["likelihood"] == "auto"

    monkeypatch.chdir(tmp_path.parent)  # from elsewhere: the stored paths are absolute
    assert main(["train", "--config", str(tmp_path / "first" / "config.toml"), "--out", str(tmp_path / "again")]) == 0
    again, losses_again, _ = _tensors_and_losses(tmp_path / "again")
    assert first.keys() == again.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert losses == losses_again
    assert toml.load(tmp_path / "again" / "config.toml") == {**resolved, "out": str(tmp_path / "again")}


@pytest.mark.parametrize(
    "text, message",
    [
        ('model = "ae"\nbatch-size = 64\n', "unknown key 'batch-size' (did you mean 'batch_size'?)"),
        ('model = "ae"\nepoch = 3\n', "did you mean 'epochs'?"),
        ('model = "ae"\nepochs = "many"\n', "epochs = 'many': expected a number"),
        ('model = "autoencoder"\n', "is not one of"),
        ('model = "ae"\nquiet = "yes"\n', "quiet must be true or false"),
        ('model = "ae"\n[param]\nbetta = 2\n', "unexpected parameter(s) 'betta'"),
        ('model = "ae"\nepochs = \n', "not valid TOML"),
        ('epochs = 2\n', "model, --data, --out not given"),
    ],
)
def test_bad_configs_fail_in_one_line_and_write_nothing(tmp_path, capsys, digits_pixels_npy, text, message):
    config = _write(tmp_path / "run.toml", text)
    extra = ["--data", str(digits_pixels_npy), "--out", str(tmp_path / "run")] if "not given" not in message else []
    assert main(["train", "--config", config, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
    assert main(["train", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
