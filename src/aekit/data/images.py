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
from aekit.utils.files import atomic_write

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


COLORS = ("grey", "rgb")
_GREY_MODES = ("1", "L", "I;16", "I", "F")


def _pixels(image, mode: str, height: int, width: int) -> tuple[np.ndarray, bool]:
    """The image at ``height`` x ``width`` in ``mode``, and whether it had to be cropped.

    An image of another aspect ratio is first cropped about its centre to the target's
    ratio, then resized: shapes are never stretched.
    """
    from PIL import Image

    image = image.convert(mode)
    cropped = False
    if image.size != (width, height):
        w, h = image.size
        if abs(w * height - h * width) > max(w, h):  # another aspect ratio, beyond a pixel's rounding
            keep_w, keep_h = (round(h * width / height), h) if w * height > h * width else (w, round(w * height / width))
            left, top = (w - keep_w) // 2, (h - keep_h) // 2
            image, cropped = image.crop((left, top, left + keep_w, top + keep_h)), True
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8), cropped


def parse_size(text: str) -> tuple[int, int]:
    """``"64x48"`` (height x width) as (64, 48), with a message for anything else."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"image size must be HEIGHTxWIDTH in pixels, like 64x64; got {text!r}.") from None
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, like 64x64; got {text!r}.")
    return height, width


def load_image_folder(
    path: str | os.PathLike, size: tuple[int, int] | None = None, color: str | None = None
) -> LoadedData:
    """Load every image in ``path`` as uint8 pixels.

    Parameters
    ----------
    path : folder
        Image files, either directly inside (no labels) or in one subfolder per class
        (labels are the subfolder names).  Not both.
    size : (height, width) or None, default=None
        Resize every image to this size; None keeps the most common size among the
        files (others are resized to it).  An image of another aspect ratio is
        cropped about its centre to the target's ratio first, never stretched.
    color : {"grey", "rgb"} or None, default=None
        Read every image in grey (one channel) or RGB; None reads RGB when any
        file is in colour, else grey.

    Returns
    -------
    LoadedData
        ``X`` of shape (n, h, w) for grayscale images or (n, 3, h, w) for color
        (channels first, as the estimators expect), ``kind="images"``, and ``y`` the
        class names (str) when the images are in subfolders; ``description`` says
        what was chosen and changed (size, colour, how many resized or cropped).
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
    if color is not None and color not in COLORS:
        raise ValueError(f"color must be one of {list(COLORS)} (or None to follow the files); got {color!r}.")
    n_color = sum(image.mode not in _GREY_MODES for image in images)
    chosen = color or ("rgb" if n_color else "grey")
    target = size or Counter(image.size[::-1] for image in images).most_common(1)[0][0]
    height, width = int(target[0]), int(target[1])
    read = [_pixels(image, "RGB" if chosen == "rgb" else "L", height, width) for image in images]
    pixels = np.stack([p for p, _ in read])
    if chosen == "rgb":
        pixels = pixels.transpose(0, 3, 1, 2)
    labels = None if labeled == {False} else np.array([label for _, label in files])
    changes = [
        f"{count} {what}"
        for count, what in (
            (sum(image.size != (width, height) for image in images), "resized"),
            (sum(cropped for _, cropped in read), "cropped to keep their aspect ratio"),
            (len(images) - n_color if chosen == "rgb" else n_color, f"converted to {chosen}"),
        )
        if count
    ]
    description = (
        f"{len(images)} images read as {height}x{width} {chosen}"
        + (" (the most common size" if size is None else " (the size given")
        + ("; colour of the files" if color is None else "; colour given")
        + (f"; {', '.join(changes)}" if changes else "")
        + "); --size HxW and --color grey|rgb choose otherwise"
    )
    names = [str(file.relative_to(folder).with_suffix(".png")) for file, _ in files]
    return LoadedData(X=pixels, y=labels, kind="images", description=description, names=names)


def write_image_folder(folder: str | os.PathLike, images: np.ndarray, names: list[str] | None = None) -> int:
    """Write ``images`` (n, h, w) or (n, c, h, w), values in [0, 255], as PNG files in ``folder``.

    Values are rounded and clipped to 0-255; ``names`` (relative paths, e.g. the
    input files' names) default to 00000.png, 00001.png, ...  Each file is written
    atomically.  Returns the number of files written.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim == 4:
        if images.shape[1] not in (1, 3):
            raise ValueError(f"images of shape {images.shape[1:]} have {images.shape[1]} channels; PNG takes 1 or 3.")
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    elif images.ndim != 3:
        raise ValueError(f"expected images shaped (n, h, w) or (n, c, h, w); got {images.shape}.")
    pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    names = names or [f"{i:05d}.png" for i in range(len(pixels))]
    root = Path(folder)
    for name, image in zip(names, pixels):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp, image=image: Image.fromarray(image).save(tmp, format="PNG"))
    return len(pixels)
