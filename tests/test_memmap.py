"""Data larger than memory: a memory-mapped .npy is validated chunk by chunk and trained on batch
by batch, giving exactly the model that in-memory training gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
import aekit.train.sources as sources
from aekit.cli import main
from aekit.train import MappedArray

SMALL = dict(latent_dim=3, hidden=(16,), architecture="mlp", epochs=2, batch_size=64, random_state=0)


def _record_read_sizes(monkeypatch) -> list[int]:
    """From now on, the number of rows of every MappedArray.read, in call order."""
    reads = []
    original_read = MappedArray.read

    def spy(self, rows):
        reads.append(len(rows))
        return original_read(self, rows)

    monkeypatch.setattr(MappedArray, "read", spy)
    return reads


def test_streamed_training_equals_in_memory_training(digits_pixels_npy):
    mapped = np.load(digits_pixels_npy, mmap_mode="r")
    scale = lambda block: block / np.float32(255)  # noqa: E731
    streamed = aekit.AutoEncoder(**SMALL).fit(MappedArray(mapped, scale))
    in_memory = aekit.AutoEncoder(**SMALL).fit(scale(np.asarray(mapped)))
    X = scale(np.asarray(mapped[:200]))
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(X))
    assert streamed.history_["val_loss"] == in_memory.history_["val_loss"]
    np.testing.assert_array_equal(streamed.sample(3, random_state=0), in_memory.sample(3, random_state=0))


def test_cli_streams_large_npy_per_batch_without_reading_it_whole(tmp_path, digits_pixels_npy, monkeypatch):
    args = ["train", "ae", "--data", str(digits_pixels_npy), "--quiet", "--latent-dim", "3", "--hidden", "16",
            "--architecture", "mlp", "--epochs", "2", "--batch-size", "64"]
    assert main(args + ["--out", str(tmp_path / "in_memory")]) == 0

    reads = _record_read_sizes(monkeypatch)
    monkeypatch.setattr(sources, "IN_MEMORY_LIMIT_BYTES", 0)  # treat the digits file as "too large"
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 4 * 64 * 100)  # validate in chunks of 100 float32 rows
    assert main(args + ["--out", str(tmp_path / "streamed")]) == 0
    n = len(np.load(digits_pixels_npy, mmap_mode="r"))
    # Validation chunks, training batches, validation batches (<= 1024 rows); then, once, the
    # training codes that sample()'s density is fitted on (at most 10,000 rows).
    assert reads[:18] == [100] * 17 + [97] and sum(r > 1024 for r in reads) == 1
    assert reads.count(64) >= 2 * (n * 9 // 10 // 64)  # every training batch read on its own

    X = np.load(digits_pixels_npy) / np.float32(255)
    streamed = aekit.load(tmp_path / "streamed" / "model.safetensors")
    in_memory = aekit.load(tmp_path / "in_memory" / "model.safetensors")
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(X))


def test_streamed_input_is_validated_chunk_by_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 4 * 8 * 10)  # 10 rows per chunk
    X = np.random.RandomState(0).rand(50, 8).astype(np.float32)
    X[37, 2] = np.nan
    np.save(tmp_path / "nan.npy", X)
    with pytest.raises(ValueError, match=r"NaN or infinity \(first in row 37\)\. Remove or impute"):
        aekit.AutoEncoder(**SMALL).fit(MappedArray(np.load(tmp_path / "nan.npy", mmap_mode="r")))
    np.save(tmp_path / "wide.npy", np.linspace(-2, 3, 400, dtype=np.float32).reshape(50, 8))
    with pytest.raises(ValueError, match=r"likelihood='bernoulli'.*\[-2, 3\]"):
        aekit.VAE(**SMALL, likelihood="bernoulli").fit(MappedArray(np.load(tmp_path / "wide.npy", mmap_mode="r")))
    np.save(tmp_path / "flat.npy", np.zeros(50, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(50,\); expected \(n, d\) tables"):
        aekit.AutoEncoder(**SMALL).fit(MappedArray(np.load(tmp_path / "flat.npy", mmap_mode="r")))


def test_only_large_memmaps_are_streamed(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 4), dtype=np.uint8))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert not sources.should_stream(mapped) and sources.should_stream(MappedArray(mapped))
    assert not sources.should_stream(np.zeros((10, 4)))


@pytest.mark.parametrize("command, suffix", [("encode", ".npy"), ("reconstruct", ".npy"), ("score", ".csv")])
def test_applying_a_model_to_a_large_file_streams_it_block_by_block(
    command, suffix, tmp_path, monkeypatch, digits_pixels_npy
):
    """encode/reconstruct/score read, run and write a too-large input in blocks, with the
    same result as in memory (to float32 rounding: blocks change the batch sizes)."""
    run = tmp_path / "run"
    train = ["train", "ae", "--data", str(digits_pixels_npy), "--out", str(run), "--latent-dim", "4"]
    assert main(train + ["--hidden", "16", "--architecture", "mlp", "--epochs", "1", "--quiet"]) == 0
    apply = [command, str(run), str(digits_pixels_npy), "--out"]
    assert main(apply + [str(tmp_path / f"in_memory{suffix}")]) == 0

    reads = _record_read_sizes(monkeypatch)
    monkeypatch.setattr(sources, "IN_MEMORY_LIMIT_BYTES", 0)
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 4 * 64 * 500)  # blocks of 500 rows
    assert main(apply + [str(tmp_path / f"streamed{suffix}")]) == 0
    assert reads == [500, 500, 500, 297]

    load = np.load if suffix == ".npy" else lambda path: np.loadtxt(path, delimiter=",")
    in_memory, streamed = load(tmp_path / f"in_memory{suffix}"), load(tmp_path / f"streamed{suffix}")
    assert streamed.shape == in_memory.shape and len(streamed) == 1797
    np.testing.assert_allclose(streamed, in_memory, rtol=1e-5, atol=1e-5)


def test_training_rows_are_indexed_in_the_callers_array_not_copied(monkeypatch):
    from aekit.train import trainer as trainer_module
    from aekit.train.sources import RowSubset

    data = torch.arange(24.0).reshape(12, 2)
    rows = np.array([1, 4, 5, 9])
    subset = RowSubset.of(data, rows)
    assert subset.shape == (4, 2) and len(subset) == 4
    order = torch.tensor([3, 0, 2])
    torch.testing.assert_close(subset[order], data[rows][order])
    torch.testing.assert_close(subset[1:3], data[rows][1:3])
    torch.testing.assert_close(subset.narrow(0, 1, 2)[0:2], data[rows][1:3])
    assert RowSubset.of(data, np.arange(12)) is data

    X = np.random.RandomState(0).rand(40, 6).astype(np.float32)
    seen = {}
    fit = trainer_module.Trainer.fit

    def spy(self, module, x_train, x_val=None, *args, **kwargs):
        seen["train"], seen["val"] = x_train, x_val
        return fit(self, module, x_train, x_val, *args, **kwargs)

    monkeypatch.setattr(trainer_module.Trainer, "fit", spy)
    aekit.AutoEncoder(**SMALL, validation_fraction=0.25).fit(X)
    assert isinstance(seen["train"], RowSubset) and np.shares_memory(seen["train"].data.numpy(), X)
    assert np.shares_memory(seen["val"].data.numpy(), X) and len(seen["train"]) + len(seen["val"]) == 40
    aekit.AutoEncoder(**SMALL, validation_fraction=0.0).fit(X)
    assert np.shares_memory(seen["train"].numpy(), X)  # all rows: the caller's array itself
