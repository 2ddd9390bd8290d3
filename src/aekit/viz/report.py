"""The self-contained HTML report: one file, PNG figures embedded as data URIs.

No scripts, fonts, stylesheets or images are fetched: the file opens offline and can
be mailed or attached as it is; its one script, the latent explorer's, is inline.  The
CSS reflows from laptop to phone widths, with no script: on a narrow screen every
table stacks into one card per row (each value beside its column's name), figures
scale down to the page width, and tapping a figure shows it at full size, scrolling
sideways inside its own box (the ``:target`` of a link), so its text is as large as
on a laptop.
"""

from __future__ import annotations

import base64
import html
import os
import re
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
h1{font-size:1.6em;margin:.4em 0;overflow-wrap:anywhere}
h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}
p.lead{color:#444}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;background:#fff}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.text{white-space:normal;text-align:left;min-width:16em}
thead th{background:#f0f0f0;white-space:normal;vertical-align:bottom}
tr.reference td{color:#555;font-style:italic}
figure{margin:1em 0 2em;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px;overflow-x:auto}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figure:target img{max-width:none}
figcaption{margin-top:.6em;color:#333}
a.size{display:none;font-size:.9em}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f0f0f0;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
dl.versions{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:0}
dl.versions dt{font-weight:600}
dl.versions dd{margin:0;overflow-wrap:anywhere}
@media (max-width:700px){
body{font-size:15px}main{padding:8px}figure{padding:4px}
figure:not(:target) a.enlarge,figure:target a.fit{display:inline-block;margin-top:.3em}
table.stack,table.stack tbody{display:block;width:100%}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.stack tr{display:grid;grid-template-columns:1fr 1fr;column-gap:1.2em;border:1px solid #ddd;border-radius:6px;margin:0 0 .6em;padding:.3em .6em}
table.stack td{display:flex;gap:1em;justify-content:space-between;white-space:normal;border:0;padding:.1em 0;text-align:right;min-width:0}
table.stack td::before{content:attr(data-label);color:#555;text-align:left;min-width:0}
table.stack td:first-child{font-weight:600;border-bottom:1px solid #eee;margin-bottom:.2em;grid-column:1/-1}
table.stack td.text{display:block;grid-column:1/-1;text-align:left}
table.stack td.text::before{display:block}
table.stack td:first-child::before{content:none}
dl.versions{grid-template-columns:1fr}
}
"""


@dataclass
class MetricsTable:
    """Column headers and pre-formatted rows; the row named ``reference`` is styled as the baseline.

    Columns listed in ``text_columns`` hold sentences (wrapped) rather than numbers.
    """

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    reference: str | None = None
    note: str = ""
    text_columns: Sequence[int] = ()


@dataclass
class ReportFigure:
    """One figure of the report: its heading, PNG bytes (or a table) and the plain-language caption under it."""

    title: str
    png: bytes
    caption: str
    table: MetricsTable | None = None

    @classmethod
    def from_figure(cls, title: str, figure: Figure, caption: str) -> ReportFigure:
        return cls(title=title, png=figure_png(figure), caption=caption)

    @classmethod
    def from_table(cls, title: str, table: MetricsTable, caption: str) -> ReportFigure:
        """A table in place of a picture: numbers a reader can read at any width, and copy."""
        return cls(title=title, png=b"", caption=caption, table=table)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


ZERO_WIDTH_SPACE = "\u200b"  # where a card's label (CSS generated text, which takes no <wbr>) may break
CAMEL_JOIN = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _header(text: str) -> str:
    """A column header that may break between the words of a CamelCase name (DenoisingAutoEncoder)."""
    return CAMEL_JOIN.sub("<wbr>", html.escape(text))


def _table(table: MetricsTable, table_id: str) -> str:
    """A table that stacks into one card per row on a narrow screen (each cell labelled by its header)."""
    esc = html.escape
    head = "".join(f"<th scope=col>{_header(h)}</th>" for h in table.headers)
    body = "".join(
        f"<tr{' class=reference' if table.reference is not None and row[0] == table.reference else ''}>"
        + "".join(
            f'<td data-label="{esc(CAMEL_JOIN.sub(ZERO_WIDTH_SPACE, label))}"'
            f'{" class=text" if j in table.text_columns else ""}>{esc(cell)}</td>'
            for j, (label, cell) in enumerate(zip(table.headers, row))
        )
        + "</tr>\n"
        for row in table.rows
    )
    return (
        f'<div class="table-wrap"><table class="stack" id="{esc(table_id)}">\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table></div>"
    )


def _section(f: ReportFigure) -> str:
    """One titled section: a table, or a figure that a tap shows at full size (its own ``:target``)."""
    esc = html.escape
    slug = _slug(f.title)
    if f.table is not None:
        body = f"<figure>{_table(f.table, slug + '-table')}<figcaption>{esc(f.caption)}</figcaption></figure>"
    else:
        body = (
            f'<figure id="{slug}-full"><a href="#{slug}-full"><img src="{_data_uri(f.png)}" alt="{esc(f.title)}"></a>'
            f'<a class="size enlarge" href="#{slug}-full">Show at full size (scroll sideways)</a>'
            f'<a class="size fit" href="#{slug}">Fit to the screen</a>'
            f"<figcaption>{esc(f.caption)}</figcaption></figure>"
        )
    return f'<section id="{esc(slug)}"><h2>{esc(f.title)}</h2>{body}</section>\n'


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
    contents = "".join(f'<li><a href="#{esc(_slug(f.title))}">{esc(f.title)}</a></li>' for f in figures)
    sections = "".join(_section(f) for f in figures)

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
{_table(table, "metrics")}
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
