"""save -> load gives identical outputs; damaged or foreign files fail clearly, naming the file."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import save_file
import torch

import aekit
from aekit.estimators.persistence import ModelFileError


@pytest.fixture(scope="module")
def saved_vae(tmp_path_factory, digits):
    X, _ = digits
    est = aekit.VAE(latent_dim=3, likelihood="gaussian", epochs=2, random_state=0).fit(X[:300])
    path = tmp_path_factory.mktemp("model") / "vae.safetensors"
    est.save(path)
    return est, path, X[300:400]


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_round_trip_gives_identical_outputs(tmp_path, digits, architecture):
    X, _ = digits
    est = aekit.AutoEncoder(latent_dim=4, architecture=architecture, epochs=2, random_state=0).fit(X[:200])
    est.save(tmp_path / "ae.safetensors")
    loaded = aekit.load(tmp_path / "ae.safetensors")
    assert type(loaded) is aekit.AutoEncoder and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.transform(X[200:260]), est.transform(X[200:260]))
    np.testing.assert_array_equal(loaded.reconstruct(X[200:260]), est.reconstruct(X[200:260]))
    assert loaded.history_ == est.history_ and loaded.input_shape_ == est.input_shape_


def test_vae_round_trip_keeps_the_learned_likelihood(saved_vae):
    est, path, X = saved_vae
    loaded = aekit.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(5, random_state=1), est.sample(5, random_state=1))


def test_file_is_not_a_pickle_and_header_is_json(saved_vae):
    _, path, _ = saved_vae
    raw = path.read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "aekit"
    assert json.loads(header["__metadata__"]["config"])["params"]["latent_dim"] == 3


def test_truncated_file_is_rejected_with_its_name(saved_vae, tmp_path):
    _, path, _ = saved_vae
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="truncated.safetensors"):
        aekit.load(bad)


def test_pickle_renamed_as_a_model_is_rejected_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('pwned')" % str(tmp_path / "pwned"),))

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="not a readable aekit model"):
        aekit.load(bad)
    assert not (tmp_path / "pwned").exists()


def test_foreign_safetensors_file_is_rejected(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(ModelFileError, match="not an aekit model"):
        aekit.load(path)


def _rewrite(path, target, edit_metadata=None, edit_tensors=None):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    # A deliberate edit drops the checksum, as a hostile file would (files that predate it have none),
    # so that the checks behind it are what is tested.
    metadata.pop("checksum", None)
    if edit_metadata:
        edit_metadata(metadata)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, str(target), metadata=metadata)
    return target


def test_newer_format_version_is_rejected(saved_vae, tmp_path):
    _, path, _ = saved_vae
    newer = _rewrite(path, tmp_path / "newer.safetensors", edit_metadata=lambda m: m.update(format_version="99"))
    with pytest.raises(ModelFileError, match="newer"):
        aekit.load(newer)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.pop(next(k for k in t if k.startswith("module."))), "missing"),
        (lambda t: t.update({"module.extra": torch.zeros(1)}), "unexpected"),
        (lambda t: t.update({k: torch.zeros(7) for k in [next(k for k in t if k.endswith("bias"))]}), "wrong shapes"),
    ],
)
def test_weights_that_do_not_match_the_config_are_rejected(saved_vae, tmp_path, edit, message):
    _, path, _ = saved_vae
    altered = _rewrite(path, tmp_path / "altered.safetensors", edit_tensors=edit)
    with pytest.raises(ModelFileError, match=message):
        aekit.load(altered)


def test_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        aekit.load(tmp_path / "nope.safetensors")


def test_failed_save_leaves_the_previous_file_intact(saved_vae, tmp_path, monkeypatch):
    est, path, X = saved_vae
    target = tmp_path / "keep.safetensors"
    target.write_bytes(path.read_bytes())
    before = target.read_bytes()

    def explode(tensors, filename, metadata=None):
        # as safetensors 0.8 does: write a temporary of its own beside the file it was given
        (Path(filename).parent / ".tmpAbC123").write_bytes(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr("aekit.estimators.persistence.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        est.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def _edit_config(edit):
    def apply(metadata):
        config = json.loads(metadata["config"])
        edit(config)
        metadata["config"] = json.dumps(config)

    return apply


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: (c["params"].update(latent_dim=5), c["fitted"].update(latent_dim_=5)), "wrong shapes"),
        (lambda c: c["params"].update(latent_dim=5), r"latent_dim_=\d+ do not agree"),
        (lambda c: c["params"].update(latent_dim="abc"), "latent_dim must be an integer"),
        (lambda c: c["params"].update(activation="bogus"), "activation must be one of"),
        (lambda c: c["fitted"].update(input_shape_=[8, 9]), r"input shape \(8, 9\).*do not agree"),
        (lambda c: c["fitted"].update(n_features_in_=65), "do not agree"),
        (lambda c: c["fitted"].pop("input_shape_"), "no attribute 'input_shape_'"),
        (lambda c: c.update(params=[1, 2]), "parameters this aekit does not know"),
    ],
    ids=["latent-dim-vs-weights", "latent-dim-vs-fitted", "param-type", "param-value", "input-shape", "feature-count", "missing-shape", "structure"],
)
def test_config_is_validated_against_itself_and_the_weights(saved_vae, tmp_path, edit, message):
    _, path, _ = saved_vae
    altered = _rewrite(path, tmp_path / "config.safetensors", edit_metadata=_edit_config(edit))
    with pytest.raises(ModelFileError, match=message):
        aekit.load(altered)


def test_saved_files_get_the_usual_permissions(saved_vae, tmp_path):
    import os

    est, _, _ = saved_vae
    umask = os.umask(0o022)
    try:
        est.save(tmp_path / "m.safetensors")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644
