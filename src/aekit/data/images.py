"""Read a folder of image files (PNG, JPEG, BMP, GIF, TIFF) into one uint8 array.

Images directly in the folder are unlabeled; images in subfolders are labeled by the
subfolder's name (the layout of torchvision's ``ImageFolder``).  Pillow, which comes
with matplotlib, decodes the files.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from aekit.data.loaded import LoadedData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def _image_files(folder: Path) -> list[tuple[Path, str | None]]:
    """(file, label) pairs: top-level files unlabeled, files one subfolder down labeled by it."""
    found: list[tuple[Path, str | None]] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            found.append((entry, None))
        elif entry.is_dir() and not entry.name.startswith("."):
            found.extend(
                (f, entry.name) for f in sorted(entry.iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
    return found


def _pixels(image, mode: str, height: int, width: int) -> np.ndarray:
    from PIL import Image

    image = image.convert(mode)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def load_image_folder(path: str | os.PathLike, size: tuple[int, int] | None = None) -> LoadedData:
    """Load every image in ``path`` as uint8 pixels.

    Parameters
    ----------
    path : folder
        Image files, either directly inside (no labels) or in one subfolder per class
        (labels are the subfolder names).  Not both.
    size : (height, width) or None, default=None
        Resize every image to this size; None keeps the most common size among the
        files (others are resized to it).

    Returns
    -------
    LoadedData
        ``X`` of shape (n, h, w) for grayscale images or (n, 3, h, w) for color
        (channels first, as the estimators expect), ``kind="images"``, and ``y`` the
        class names (str) when the images are in subfolders.
    """
    from PIL import Image

    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"No image folder at {folder}; pass a folder of .png/.jpg files.")
    files = _image_files(folder)
    if not files:
        raise ValueError(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); put the images in the folder "
            "itself, or in one subfolder per class."
        )
    labeled = {label is not None for _, label in files}
    if len(labeled) == 2:
        raise ValueError(
            f"{folder} has images both at the top level and in subfolders; put all of them in class "
            "subfolders (labeled) or all at the top level (unlabeled)."
        )
    images = []
    for file, _ in files:
        try:
            with Image.open(file) as image:
                image.load()
                images.append(image.copy())
        except OSError as exc:
            raise ValueError(f"{file} could not be read as an image ({exc}); remove or replace it.") from None
    color = any(image.mode not in ("1", "L", "I;16", "I", "F") for image in images)
    target = size or Counter(image.size[::-1] for image in images).most_common(1)[0][0]
    height, width = int(target[0]), int(target[1])
    mode = "RGB" if color else "L"
    pixels = np.stack([_pixels(image, mode, height, width) for image in images])
    if color:
        pixels = pixels.transpose(0, 3, 1, 2)
    labels = None if labeled == {False} else np.array([label for _, label in files])
    return LoadedData(X=pixels, y=labels, kind="images")
