"""Screenshots of a tour report at desktop (1280 px) and phone (390 px) width, for the README.

    python docs/screenshots.py REPORT.html NAME [SECTION]   # docs/NAME-desktop.png and docs/NAME-phone.png

Headless Chromium (``chromium`` on the PATH) renders the report offline.  It lays out no
window narrower than 500 px, so the phone view is the report in a 390 px frame of a
wider window, cropped to the frame: the report sees a 390 px viewport, media queries
included, as on a phone.  The phone view starts at SECTION (an id of the report, such
as ``reconstructions``) when given, else at the top; the desktop view at the top.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
DESKTOP = (1280, 2400)
PHONE = (390, 1600)
FRAME = '<!doctype html><body style="margin:0"><iframe src="{src}" style="width:{w}px;height:{h}px;border:0"></iframe>'


def screenshot(url: str, size: tuple[int, int], out: Path, profile: Path) -> None:
    command = [
        shutil.which("chromium") or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--proxy-server=http://127.0.0.1:9",  # offline: any request would fail
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={out}",
        url,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=180)


def save(image: Image.Image, path: Path) -> None:
    """A 256-colour PNG: a third of the size of full colour, no visible change to a report's page."""
    image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(report: str, name: str, section: str = "") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(report, folder / "report.html")
        desktop = DOCS / f"{name}-desktop.png"
        fragment = f"#{section}" if section else ""
        screenshot((folder / "report.html").as_uri(), DESKTOP, desktop, folder / "profile")
        frame = folder / "phone.html"
        frame.write_text(FRAME.format(src="report.html" + fragment, w=PHONE[0], h=PHONE[1]), encoding="utf-8")
        shot = folder / "phone.png"
        screenshot(frame.as_uri(), (500, PHONE[1]), shot, folder / "profile")
        save(Image.open(shot).crop((0, 0, *PHONE)), DOCS / f"{name}-phone.png")
        save(Image.open(desktop), desktop)
    print(f"wrote {desktop} and {DOCS / f'{name}-phone.png'}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
