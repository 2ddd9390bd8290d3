"""The command line: train -> encode/reconstruct round trip, file formats, clear errors."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import aekit
from aekit.cli import main


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory, digits):
    X, y = digits
    folder = tmp_path_factory.mktemp("data")
    pixels = (X * 255).round().astype(np.uint8)
    np.savez(folder / "digits.npz", x_train=pixels[:1500], y_train=y[:1500], x_test=pixels[1500:], y_test=y[1500:])
    np.save(folder / "digits.npy", pixels)
    table = np.column_stack([X.reshape(len(X), -1)[:, 20:26] * 100 + 5, y])  # unscaled columns
    np.savetxt(folder / "table.csv", table, delimiter=",", header="a,b,c,d,e,f,label", comments="")
    return folder


def test_train_encode_reconstruct_images(tmp_path, digits_files):
    run = tmp_path / "run"
    assert main(["train", "vae", "--data", str(digits_files / "digits.npz"), "--out", str(run),
                 "--latent-dim", "4", "--epochs", "3", "--quiet", "--param", "beta=2"]) == 0
    summary = json.loads((run / "run.json").read_text())
    assert summary["estimator"] == "VAE" and summary["epochs_run"] == 3
    model = aekit.load(run / "model.safetensors")
    assert model.beta == 2 and model.latent_dim == 4

    assert main(["encode", str(run), str(digits_files / "digits.npy"), "--out", str(tmp_path / "z.npy")]) == 0
    codes = np.load(tmp_path / "z.npy")
    pixels = np.load(digits_files / "digits.npy")
    np.testing.assert_allclose(codes, model.transform(pixels / np.float32(255)), rtol=1e-6)

    assert main(["reconstruct", str(run), str(digits_files / "digits.npy"), "--out", str(tmp_path / "r.npy")]) == 0
    recon = np.load(tmp_path / "r.npy")
    assert recon.shape == pixels.shape and 0 <= recon.min() and recon.max() <= 255  # back in pixel units


def test_csv_is_standardized_and_the_scaler_saved(tmp_path, digits_files):
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(digits_files / "table.csv"), "--out", str(run),
                 "--latent-dim", "2", "--hidden", "16", "--epochs", "2", "--quiet"]) == 0
    scaler = json.loads((run / "preprocessing.json").read_text())
    table = np.loadtxt(digits_files / "table.csv", delimiter=",", skiprows=1)
    assert scaler["kind"] == "standardize"
    np.testing.assert_allclose(scaler["mean"], table.mean(0), rtol=1e-6)
    assert main(["reconstruct", str(run), str(digits_files / "table.csv"), "--out", str(tmp_path / "r.csv")]) == 0
    recon = np.loadtxt(tmp_path / "r.csv", delimiter=",")
    assert recon.shape == table.shape
    assert abs(recon.mean(0) - table.mean(0)).max() < 0.5 * table.std(0).max()  # in original units


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "ae", "--data", "missing.npy", "--out", "x"], "No data file"),
        (["encode", "no_run", "missing.npy", "--out", "z.npy"], "has no model.safetensors"),
        (["train", "ae", "--data", "{csv}", "--out", "{tmp}", "--param", "latent_dimm=3"], "unexpected parameter"),
        (["train", "ae", "--data", "{csv}", "--out", "{tmp}", "--param", "loss=hinge"], "loss must be one of"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, digits_files, argv, message, capsys, monkeypatch):
    """In process (an exception escaping main would fail the test); the real entry point is checked below."""
    argv = [a.format(csv=digits_files / "table.csv", tmp=tmp_path / "run") for a in argv]
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_user_error_through_the_real_entry_point_is_one_line_without_traceback(tmp_path):
    argv = ["train", "ae", "--data", "missing.npy", "--out", "x"]
    result = subprocess.run([sys.executable, "-m", "aekit", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "No data file" in result.stderr and "Traceback" not in result.stderr


def test_denoise_score_and_sample_commands(tmp_path, digits_files):
    data = str(digits_files / "digits.npy")
    run = tmp_path / "denoising"
    assert main(["train", "denoising", "--data", data, "--out", str(run), "--epochs", "2", "--quiet",
                 "--param", "noise=masking", "--param", "noise_level=0.3"]) == 0
    model = aekit.load(run / "model.safetensors")
    pixels = np.load(digits_files / "digits.npy")

    assert main(["denoise", str(run), data, "--out", str(tmp_path / "d.npy")]) == 0
    expected = np.clip(model.denoise(pixels / np.float32(255)) * 255, 0, 255)  # pixels: clipped to 0-255
    np.testing.assert_allclose(np.load(tmp_path / "d.npy"), expected, rtol=1e-5)
    assert main(["score", str(run), data, "--out", str(tmp_path / "s.csv")]) == 0
    np.testing.assert_allclose(
        np.loadtxt(tmp_path / "s.csv", delimiter=","), model.score_samples(pixels / np.float32(255)), rtol=1e-5
    )
    assert main(["sample", str(run), "--n", "5", "--seed", "0", "--out", str(tmp_path / "x.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "x.npy"), np.clip(model.sample(5, random_state=0) * 255, 0, 255), rtol=1e-5)

    plain = tmp_path / "plain"
    assert main(["train", "ae", "--data", data, "--out", str(plain), "--epochs", "1", "--quiet"]) == 0
    assert main(["denoise", str(plain), data, "--out", str(tmp_path / "never.npy")]) == 2
    assert not (tmp_path / "never.npy").exists()


def _help(*argv: str) -> str:
    """What ``aekit ARGV --help`` prints, in process (an interpreter per command costs ~1.5 s)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return out.getvalue()


def test_help_shows_an_example_for_every_command():
    for command in ["tour", "report", "train", "encode", "reconstruct", "denoise", "score", "sample", "impute"]:
        assert "xample" in _help(command), command
    result = subprocess.run([sys.executable, "-m", "aekit", "--help"], capture_output=True, text=True)  # the real entry
    assert result.returncode == 0 and "Example:" in result.stdout


def test_import_and_help_start_without_torch_or_scikit_learn():
    """`import aekit`, `aekit --help` and a command's --help import the estimators only when used (start-up)."""
    code = (
        "import contextlib, io, sys\n"
        "import aekit\n"
        "from aekit.cli import main\n"
        "for argv in (['--help'], ['encode', '--help'], ['detect', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'scipy', 'pandas'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_train_help_is_enough_alone():
    text = _help("train")
    assert "--data people.csv --drop id" in text and "--data photos/" in text  # a table and an image folder
    assert "vae: beta=1.0, likelihood='auto'" in text and "denoising: noise='gaussian', noise_level=0.3" in text
    assert "(default: 'auto')" in text and "(default: 50)" in text


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_pickled_object_arrays_are_refused_not_loaded(tmp_path, suffix, capsys):
    path = tmp_path / f"objects{suffix}"
    objects = np.array([{"a": 1}, {"b": 2}], dtype=object)
    if suffix == ".npy":
        np.save(path, objects, allow_pickle=True)
    else:
        np.savez(path, X=objects)
    assert main(["train", "ae", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "never loads" in capsys.readouterr().err


def test_train_accepts_a_folder_of_images(tmp_path, digits):
    from PIL import Image

    X, y = digits
    for i in range(40):
        folder = tmp_path / "images" / str(y[i])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((X[i] * 255).astype(np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", "ae", "--data", str(tmp_path / "images"), "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    assert aekit.load(run / "model.safetensors").input_shape_ == (8, 8)


def test_train_flow_takes_its_own_flags_and_writes_a_run_folder(tmp_path, digits_files, capsys):
    table = str(digits_files / "table.csv")
    run = tmp_path / "flow"
    assert main(["train", "flow", "--data", table, "--drop", "label", "--out", str(run), "--kind", "maf",
                 "--n-layers", "2", "--hidden", "16", "--epochs", "2", "--quiet"]) == 0
    summary = json.loads((run / "run.json").read_text())
    assert summary["model"] == "flow" and summary["estimator"] == "Flow" and summary["epochs_run"] == 2
    model = aekit.load(run / "model.safetensors")
    assert (model.kind, model.n_layers, model.hidden) == ("maf", 2, (16,))
    config = (run / "config.toml").read_text()
    assert 'kind = "maf"' in config and "n_layers = 2" in config and "latent_dim" not in config
    # The run folder serves the other commands (the scaler is applied, as for every model) ...
    assert main(["score", str(run), table, "--drop", "label", "--out", str(tmp_path / "s.csv")]) == 0
    assert main(["sample", str(run), "--n", "4", "--seed", "0", "--out", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (4, 6)
    # ... and its resolved config trains the same model again.
    assert main(["train", "--config", str(run / "config.toml"), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    again = aekit.load(tmp_path / "again" / "model.safetensors")
    for name, tensor in model.module_.state_dict().items():
        np.testing.assert_array_equal(again.module_.state_dict()[name].numpy(), tensor.numpy(), err_msg=name)
    assert "Flow" in capsys.readouterr().out


@pytest.mark.parametrize(
    "model, flag, value",
    [("flow", "--latent-dim", "3"), ("flow", "--architecture", "mlp"), ("vae", "--kind", "maf"), ("ae", "--n-layers", "2")],
)
def test_a_flag_of_another_models_parameter_is_refused(tmp_path, digits_files, capsys, model, flag, value):
    argv = ["train", model, "--data", str(digits_files / "table.csv"), "--out", str(tmp_path / "run"), flag, value]
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and flag in errors[0] and "has no such parameter" in errors[0], errors
    assert not (tmp_path / "run").exists()


def test_train_vaegan_writes_a_run_with_its_discriminator(tmp_path, digits_files):
    run = tmp_path / "vaegan"
    assert main(["train", "vaegan", "--data", str(digits_files / "digits.npy"), "--out", str(run), "--epochs", "2",
                 "--hidden", "8,16", "--quiet", "--param", "discriminator_hidden=8,16",
                 "--param", "adversarial_weight=0.5"]) == 0
    model = aekit.load(run / "model.safetensors")
    assert type(model) is aekit.VAEGAN and model.adversarial_weight == 0.5 and model.discriminator_hidden == (8, 16)
    assert model.module_.adversary is not None
    final = json.loads((run / "run.json").read_text())["final"]
    assert {"train_adversary", "train_feature_reconstruction", "train_adversarial"} <= set(final)
    assert main(["sample", str(run), "--n", "3", "--seed", "0", "--out", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (3, 8, 8)
