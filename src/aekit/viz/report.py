"""The self-contained HTML report: one file, PNG figures embedded as data URIs.

No scripts, fonts, stylesheets or images are fetched: the file opens offline and can
be mailed or attached as it is.  Its one script, the latent explorer's, is inline.  The CSS reflows from laptop to phone widths:
figures scale down to the page width and the metrics table scrolls sideways inside
its own box instead of widening the page.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from aekit.utils.files import atomic_write
from aekit.viz.figures import figure_png

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.6em;margin:.4em 0}
h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}
p.lead{color:#444}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;background:#fff}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{background:#f0f0f0}
tr.reference td{color:#555;font-style:italic}
figure{margin:1em 0 2em;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{margin-top:.6em;color:#333}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f0f0f0;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
dl.versions{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:0}
dl.versions dt{font-weight:600}
dl.versions dd{margin:0}
@media (max-width:600px){body{font-size:15px}main{padding:8px}figure{padding:4px}}
"""


@dataclass
class ReportFigure:
    """One figure of the report: its heading, PNG bytes and the plain-language caption under it."""

    title: str
    png: bytes
    caption: str

    @classmethod
    def from_figure(cls, title: str, figure: Figure, caption: str) -> ReportFigure:
        return cls(title=title, png=figure_png(figure), caption=caption)


@dataclass
class MetricsTable:
    """Column headers and pre-formatted rows; the row named ``reference`` is styled as the baseline."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    reference: str | None = None
    note: str = ""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def render_report(
    title: str,
    intro: str,
    table: MetricsTable,
    figures: Sequence[ReportFigure],
    command: str,
    versions: Mapping[str, str],
    details: Mapping[str, str] | None = None,
    explorer: str = "",
) -> str:
    """The whole report as one HTML string.

    ``intro``, captions and table cells are plain text (escaped here); ``command`` is
    the command line that produced the report; ``versions`` and ``details`` are shown
    as name/value lists at the end.  ``explorer`` is the HTML of
    :func:`aekit.viz.explorer.latent_explorer` (its one script runs the decoders in
    the page), shown after the figures.
    """
    esc = html.escape
    head = "".join(f"<th scope=col>{esc(h)}</th>" for h in table.headers)
    body = "".join(
        f"<tr{' class=reference' if table.reference is not None and row[0] == table.reference else ''}>"
        + "".join(f"<td>{esc(cell)}</td>" for cell in row)
        + "</tr>\n"
        for row in table.rows
    )
    contents = "".join(f'<li><a href="#{esc(_slug(f.title))}">{esc(f.title)}</a></li>' for f in figures)
    sections = "".join(
        f'<section id="{esc(_slug(f.title))}"><h2>{esc(f.title)}</h2><figure>'
        f'<img src="{_data_uri(f.png)}" alt="{esc(f.title)}">'
        f"<figcaption>{esc(f.caption)}</figcaption></figure></section>\n"
        for f in figures
    )

    def pairs(items: Mapping[str, str]) -> str:
        return "".join(f"<dt>{esc(k)}</dt><dd>{esc(str(v))}</dd>" for k, v in items.items())

    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{esc(title)}</h1>
<p class="lead">{esc(intro)}</p>
<h2 id="results">Results</h2>
<div class="table-wrap"><table id="metrics">
<thead><tr>{head}</tr></thead>
<tbody>
{body}</tbody>
</table></div>
<p>{esc(table.note)}</p>
<nav><strong>Figures</strong><ol>{contents}</ol></nav>
{sections}{_explorer_section(explorer)}<h2 id="provenance">How this report was made</h2>
<p>Command:</p>
<pre id="command">{esc(command)}</pre>
<dl class="versions">{pairs(details or {})}{pairs(versions)}</dl>
</main>
</body>
</html>
"""


def _explorer_section(explorer: str) -> str:
    if not explorer:
        return ""
    return (
        '<section id="latent-explorer"><h2>Latent explorer</h2><p>Drag a slider to move one coordinate of the '
        "code; the image is decoded in this page as you move it (the decoder's weights are embedded). Sliders "
        "start at the code of the first test input and are ranked by how much the model uses each coordinate: "
        "the mean KL divergence to the prior for VAE-family models, the variance of the test codes otherwise "
        "(the ten most used get a slider, the others keep their start value); each spans the test codes' mean "
        "plus or minus three standard deviations.</p>"
        f"{explorer}</section>\n"
    )


def write_report(path: str | os.PathLike, text: str) -> None:
    """Write the report atomically (UTF-8)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
