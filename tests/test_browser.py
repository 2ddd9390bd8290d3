"""The tour's report in a real browser: headless Chromium loads it offline, every image decodes,
nothing is logged to the console, and at laptop (1280 px) and phone (390 px) widths the rendered
elements are measured: no text clipped, overlapping, off-screen or under 12 px, tables stacked into
cards on the phone, a tapped figure shown at full size; a screenshot renders.  Both the digits
report and a table's report are checked.

Chromium is installed from the OS packages when missing (Debian/Ubuntu, as root, non-interactive);
the test is skipped, with the reason, only when that is impossible.  The page is checked by a small
script injected into a copy of the report (whose own one script is the latent explorer's) that
writes its findings into the DOM, which ``--dump-dom`` prints: no DevTools client is needed.
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
from test_tour_report import quick_tour_output, table_tour_output

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
  function box(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  function measure() {
    var images = Array.prototype.map.call(document.images, function (img) {
      return {complete: img.complete, naturalWidth: img.naturalWidth, shownWidth: img.getBoundingClientRect().width};
    });
    // Text that cannot be read: a cell or caption whose content is wider than its box (clipped or spilling),
    // a visible text element smaller than 12 px, anything reaching past the right edge of the viewport.
    var overflowing = [], small = [], outside = [];
    Array.prototype.forEach.call(document.querySelectorAll("th, td, figcaption, h1, h2, p, li, dt, dd, pre, a"),
      function (el) {
        var r = el.getBoundingClientRect();
        if (r.width === 0) return;
        var name = el.tagName + ": " + el.textContent.slice(0, 40);
        if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== "PRE") overflowing.push(name);
        if (parseFloat(getComputedStyle(el).fontSize) < 12) small.push(name + " " + getComputedStyle(el).fontSize);
        if (r.right > window.innerWidth + 1 && !el.closest(".table-wrap")) outside.push(name);
      });
    var wraps = Array.prototype.map.call(document.querySelectorAll(".table-wrap"), function (el) {
      return el.scrollWidth - el.clientWidth;
    });
    // Cells of one table row must not overlap (text run together).
    var overlaps = 0;
    Array.prototype.forEach.call(document.querySelectorAll("tr"), function (tr) {
      var cells = Array.prototype.map.call(tr.children, box);
      for (var i = 0; i < cells.length; i++) for (var j = i + 1; j < cells.length; j++) {
        var a = cells[i], b = cells[j];
        if (a[0] < b[2] - 1 && b[0] < a[2] - 1 && a[1] < b[3] - 1 && b[1] < a[3] - 1) overlaps++;
      }
    });
    var stacked = Array.prototype.map.call(document.querySelectorAll("table.stack td"), function (td) {
      return getComputedStyle(td).display;
    });
    return {images: images, errors: errors.slice(), innerWidth: window.innerWidth,
            scrollWidth: document.documentElement.scrollWidth, overflowing: overflowing, small: small,
            outside: outside, wraps: wraps, overlaps: overlaps, cellDisplays: stacked.filter(function (d, i, a) {
              return a.indexOf(d) === i; })};
  }
  window.addEventListener("load", function () {
    var found = {fitted: measure()};
    // Tap to enlarge: following a figure's own link shows it at its natural size inside its box.
    var link = document.querySelector("figure[id] > a");
    found.zoomed = null;
    if (link) {
      location.hash = link.getAttribute("href");
      var figure = document.querySelector(link.getAttribute("href"));
      var img = figure.querySelector("img");
      found.zoomed = {naturalWidth: img.naturalWidth, shownWidth: img.getBoundingClientRect().width,
                      figureScrolls: figure.scrollWidth > figure.clientWidth,
                      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
    }
    var out = document.createElement("pre");
    out.id = "CHECK_ID";
    out.textContent = JSON.stringify(found);
    if (window.parent !== window) window.parent.postMessage(out.textContent, "*");
    document.body.appendChild(out);
  });
})();
</script>""".replace("CHECK_ID", CHECK_ID)
# Headless Chromium lays out no window narrower than 500 px, so a phone is a 390 px frame in a wider window:
# the report in the frame sees a 390 px viewport (media queries included) and posts its findings up.
PHONE_WIDTH = 390
PHONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe src="SRC" style="width:WIDTHpx;height:HEIGHTpx;border:0;display:block"></iframe>
<script>window.addEventListener("message", function (e) {
  var out = document.createElement("pre"); out.id = "CHECK_ID"; out.textContent = e.data; document.body.appendChild(out);
});</script></body></html>"""


def phone_page(report: Path, folder: Path, height: int = 900) -> Path:
    """A page showing ``report`` (a file in ``folder``) in a phone-sized frame."""
    page = folder / "phone.html"
    text = PHONE_PAGE.replace("SRC", report.name).replace("WIDTH", str(PHONE_WIDTH)).replace("HEIGHT", str(height))
    page.write_text(text.replace("CHECK_ID", CHECK_ID), encoding="utf-8")
    return page


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


def check_in_browser(chromium: str, report: Path, folder: Path, width: int) -> tuple[dict, str]:
    """Load a copy of ``report`` with the check script at ``width`` px; return its findings and Chromium's log."""
    text = report.read_text(encoding="utf-8")
    checked = folder / "checked.html"
    checked.write_text(text.replace("<head>", "<head>\n" + CHECK_SCRIPT, 1), encoding="utf-8")
    url = (phone_page(checked, folder) if width == PHONE_WIDTH else checked).as_uri()
    window = max(width, 500)
    result = run_chromium(
        chromium, folder / "profile", url, f"--window-size={window},900", "--virtual-time-budget=10000", "--dump-dom"
    )
    match = re.search(rf'<pre id="{CHECK_ID}">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, f"the page never finished loading; Chromium said: {result.stderr[-1500:]}"
    return json.loads(html.unescape(match.group(1))), result.stderr


@pytest.mark.parametrize("width", [1280, PHONE_WIDTH])
@pytest.mark.parametrize("data", ["digits", "table"])
def test_every_image_loads_and_no_text_is_clipped_small_or_off_screen(chromium, report, tmp_path, width, data):
    report = report if data == "digits" else table_tour_output() / "report.html"
    found, stderr = check_in_browser(chromium, report, tmp_path, width)
    fitted, zoomed = found["fitted"], found["zoomed"]
    text = report.read_text(encoding="utf-8")
    assert len(fitted["images"]) == text.count("<img ") >= (10 if data == "digits" else 3)
    assert text.count("<table") == (1 if data == "digits" else 4)  # a table also scores its samples
    assert all(img["complete"] and img["naturalWidth"] > 0 for img in fitted["images"]), fitted["images"]
    assert fitted["errors"] == [] and console_messages(stderr) == []
    assert fitted["innerWidth"] == width
    assert fitted["scrollWidth"] <= width, "the page scrolls sideways"
    assert all(0 < img["shownWidth"] <= width for img in fitted["images"])
    assert fitted["overflowing"] == [] and fitted["outside"] == [] and fitted["overlaps"] == 0
    assert fitted["small"] == [], "text below 12 px"
    if width == PHONE_WIDTH:
        # Tables stack into cards, so no column hides off-screen; a tapped figure shows at full size.
        assert "flex" in fitted["cellDisplays"] and set(fitted["cellDisplays"]) <= {"flex", "block"}  # block: text
        assert max(fitted["wraps"]) <= 0
        assert zoomed["shownWidth"] == zoomed["naturalWidth"] > width and zoomed["figureScrolls"]
        assert zoomed["scrollWidth"] <= width, "an enlarged figure must scroll in its box, not widen the page"
    else:
        assert fitted["cellDisplays"] == ["table-cell"] and max(fitted["wraps"]) <= 0


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
