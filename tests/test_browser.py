"""The tour's report in a real browser: headless Chromium loads it offline, every image decodes,
nothing is logged to the console, the page fits laptop and phone widths, and a screenshot renders.

Chromium is installed from the OS packages when missing (Debian/Ubuntu, as root, non-interactive);
the test is skipped, with the reason, only when that is impossible.  The page is checked by a small
script injected into a copy of the report (the report itself has no scripts) that writes its
findings into the DOM, which ``--dump-dom`` prints: no DevTools client is needed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_tour_report import quick_tour_output

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_COMMANDS = (
    ["apt-get", "update", "-q"],
    ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
)
# Any request leaving the machine goes to a closed local port and fails loudly.
OFFLINE_FLAGS = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
CHECK_ID = "aekit-browser-check"
CHECK_SCRIPT = """<script>
(function () {
  var errors = [];
  var consoleError = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
  window.addEventListener("error", function (event) {
    var target = event.target || {};
    errors.push("error: " + (event.message || target.src || target.href || "unknown").slice(0, 200));
  }, true);
  window.addEventListener("load", function () {
    var images = Array.prototype.map.call(document.images, function (img) {
      return {complete: img.complete, naturalWidth: img.naturalWidth, shownWidth: img.getBoundingClientRect().width};
    });
    var out = document.createElement("pre");
    out.id = "CHECK_ID";
    out.textContent = JSON.stringify({
      images: images, errors: errors, innerWidth: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth
    });
    document.body.appendChild(out);
  });
})();
</script>""".replace("CHECK_ID", CHECK_ID)


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def install_chromium() -> str:
    """apt-get install chromium; return why it could not be done ("" on success)."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this system; install Chromium with the system's package manager"
    if os.geteuid() != 0:
        return "not running as root, so apt-get cannot install chromium; install it first"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in INSTALL_COMMANDS:
        try:
            result = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=1200, check=False
            )
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` timed out"
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed: {(result.stderr or result.stdout)[-400:]}"
    return ""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = install_chromium()
        path = find_chromium()
        if path is None:
            pytest.skip(
                f"headless Chromium is missing and could not be installed: {reason or 'not found after install'}"
            )
    return path


def run_chromium(chromium: str, profile: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *OFFLINE_FLAGS,
        *args,
        url,
    ]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def console_messages(stderr: str) -> list[str]:
    """Page console messages Chromium logged (``...:CONSOLE...] "text", source: ...``)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report() -> Path:
    out, _, _ = quick_tour_output()
    return out / "report.html"


@pytest.mark.parametrize("width", [1280, 500])  # 500 px: the narrowest window headless Chromium lays out
def test_every_image_loads_without_console_errors_and_page_fits_width(chromium, report, tmp_path, width):
    text = report.read_text(encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(text.replace("<head>", "<head>\n" + CHECK_SCRIPT, 1), encoding="utf-8")
    result = run_chromium(
        chromium,
        tmp_path / "profile",
        checked.as_uri(),
        f"--window-size={width},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
    )
    match = re.search(rf'<pre id="{CHECK_ID}">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, f"the page never finished loading; Chromium said: {result.stderr[-1500:]}"
    found = json.loads(html.unescape(match.group(1)))

    assert len(found["images"]) == text.count("<img ") >= 9
    assert all(img["complete"] and img["naturalWidth"] > 0 for img in found["images"]), found["images"]
    assert found["errors"] == []
    assert console_messages(result.stderr) == []
    assert found["innerWidth"] == width
    assert found["scrollWidth"] <= found["innerWidth"], "the page scrolls sideways"
    assert all(0 < img["shownWidth"] <= width for img in found["images"])


def test_screenshot_renders_the_report(chromium, report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    result = run_chromium(
        chromium, tmp_path / "profile", report.as_uri(), "--window-size=1280,2000", f"--screenshot={shot}"
    )
    assert console_messages(result.stderr) == []
    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float64) / 255
    assert image.shape == (2000, 1280)
    # Text, table and figures: a good share of the page is drawn, not blank background.
    assert image.std() > 0.1 and (image < 0.5).mean() > 0.01
