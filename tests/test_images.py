"""Image folders as people have them: sizes, colours, aspect ratios, and images written back as PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main
from aekit.data.images import load_image_folder, parse_size, write_image_folder


def _write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def mixed_folder(tmp_path):
    """Six 16x16 colour images with a bright centre square, and two grey 32x16 (portrait) ones."""
    rng = np.random.RandomState(0)
    for i in range(6):
        image = rng.randint(0, 60, (16, 16, 3), dtype=np.uint8)
        image[6:10, 6:10] = 250
        _write(tmp_path / "photos" / f"c{i}.png", image)
    for i in range(2):
        tall = np.zeros((32, 16), np.uint8)
        tall[14:18, 6:10] = 255  # a square in the middle of a tall image
        _write(tmp_path / "photos" / f"g{i}.png", tall)
    return tmp_path / "photos"


def test_defaults_are_said_and_other_aspect_ratios_are_cropped_not_stretched(mixed_folder):
    loaded = load_image_folder(mixed_folder)
    assert loaded.X.shape == (8, 3, 16, 16)
    assert "8 images read as 16x16 rgb (the most common size; colour of the files" in loaded.description
    assert "2 resized, 2 cropped to keep their aspect ratio, 2 converted to rgb" in loaded.description
    tall = loaded.X[loaded.names.index("g0.png"), 0]
    # Cropped about the centre to 16x16, then not resized: the square stays square and centred.
    assert tall[6:10, 6:10].min() == 255 and tall.sum() == 16 * 255
    grey = load_image_folder(mixed_folder, size=(8, 8), color="grey")
    assert grey.X.shape == (8, 8, 8) and "8x8 grey (the size given; colour given" in grey.description
    with pytest.raises(ValueError, match="color must be one of"):
        load_image_folder(mixed_folder, color="cmyk")


def test_sizes_parse_or_say_what_is_expected():
    assert parse_size("64x48") == (64, 48) and parse_size("32X32") == (32, 32)
    for bad in ("64", "ax3", "0x4", "1x2x3"):
        with pytest.raises(ValueError, match="HEIGHTxWIDTH|positive"):
            parse_size(bad)


def test_written_pngs_are_clipped_rounded_and_named(tmp_path):
    images = np.array([[[-22.0, 341.0], [127.6, 3.0]]])
    assert write_image_folder(tmp_path / "out", images, ["a/b.png"]) == 1
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "a" / "b.png")), [[0, 255], [128, 3]])
    with pytest.raises(ValueError, match="PNG takes 1 or 3"):
        write_image_folder(tmp_path / "bad", np.zeros((1, 5, 2, 2)))


def test_cli_reads_folders_as_trained_and_writes_images_back(mixed_folder, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "ae", "--data", str(mixed_folder), "--out", str(run), "--epochs", "2", "--quiet"]
    assert main([*argv, "--size", "8x8", "--color", "grey"]) == 0
    assert "8x8 grey" in capsys.readouterr().err
    assert json.loads((run / "run.json").read_text())["image_folder"] == {"size": [8, 8], "color": "grey"}
    # Later commands read the folder as the run was trained, without the flags.
    assert main(["encode", str(run), str(mixed_folder), "--out", str(tmp_path / "codes.npy")]) == 0
    assert np.load(tmp_path / "codes.npy").shape[0] == 8
    assert main(["reconstruct", str(run), str(mixed_folder), "--out", str(tmp_path / "recon") + "/"]) == 0
    written = sorted(p.name for p in (tmp_path / "recon").iterdir())
    assert written == sorted(f"{c}{i}.png" for c, n in (("c", 6), ("g", 2)) for i in range(n))
    assert np.asarray(Image.open(tmp_path / "recon" / "c0.png")).shape == (8, 8)
    assert main(["encode", str(run), str(mixed_folder), "--out", str(tmp_path / "codes")]) == 2
    assert "only reconstruct and denoise of images" in capsys.readouterr().err


def test_colour_reconstructions_come_back_channels_last_and_in_pixel_range(mixed_folder, tmp_path):
    run = tmp_path / "rgb"
    assert main(["train", "ae", "--data", str(mixed_folder), "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    assert main(["reconstruct", str(run), str(mixed_folder), "--out", str(tmp_path / "r.npy")]) == 0
    recon = np.load(tmp_path / "r.npy")
    assert recon.shape == (8, 16, 16, 3) and 0.0 <= recon.min() and recon.max() <= 255.0
