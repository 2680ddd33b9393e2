"""The packet as one self-contained HTML file: inline CSS, charts as data: URIs.

The same markup serves the screen (``media="screen"``) and, with print CSS, the tagged PDF
(:mod:`workbench.report._tagged`), so its structure is the PDF's structure: one ``h1`` (the
review), an ``h2`` per section, ``h3``/``h4`` below; tables with ``th`` header cells (``scope``
set); every chart an ``img`` whose ``alt`` says what it shows, with a caption pointing to its
numbers in the "Chart data" section. Status is always a word; colour only helps.
"""

from __future__ import annotations

import base64
import re
from html import escape as _escape
from typing import Literal

from workbench.report._chart_text import CHART_DATA_ID, chart_alt, chart_numbers
from workbench.report._model import (
    DECISION_COLOURS,
    STATUS_TINTS,
    Chart,
    ChartRow,
    ChartSpec,
    Heading,
    Packet,
    Para,
    Table,
)

#: Characters no HTML or PDF text may carry (C0/C1 controls other than tab and newline).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_CSS_COMMON = """
h1,h2{color:#2F4858}
h2{border-bottom:2px solid #2F4858;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.5em 0 1em}
caption{caption-side:bottom;text-align:left;color:#555;font-size:.9em;padding-top:2px}
th{background:#2F4858;color:#fff;text-align:left;font-weight:bold}
tbody th{background:#E4E8EC;color:#1d1d1d}
td{border-bottom:1px solid #C8CED4;vertical-align:top}
tbody tr:nth-child(even) td{background:#F4F6F8}
.mono{font-family:"DejaVu Sans Mono",monospace;word-break:break-all}
.badge{display:inline-block;color:#fff;font-weight:bold;padding:.25em 1em;border-radius:4px;margin:0}
.note{color:#555}.missing{color:#555;font-style:italic}
pre{background:#F4F6F8;padding:.6em;white-space:pre-wrap;word-break:break-all}
figure{display:inline-block;vertical-align:top;margin:0 0 .6em 0}
figure img{width:100%}
figcaption{color:#555}
.charts{margin:.3em 0}
"""
_CSS_SCREEN = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:14px;line-height:1.45;color:#1d1d1d;max-width:1040px;margin:2em auto;padding:0 1em}
h2{margin-top:2em}
table{font-size:12.5px}
th,td{padding:3px 6px}
.mono,pre{font-size:11.5px}.badge{font-size:28px}.note,figcaption{font-size:12px}.lead{font-size:16px}
nav ol{columns:2;list-style:none;padding-left:0}
"""
# Print: A4, running header and footer in the page margins (WeasyPrint marks margin boxes as
# artifacts, so a screen reader does not read them on every page), a new page per section and
# bookmarks only for the section headings, so the outline matches the contents list.
_CSS_PRINT = """
@page{size:A4;margin:20mm 16mm 16mm 16mm;
 @top-left{content:%(head_left)s;font-size:7pt;color:#555;vertical-align:bottom;padding-bottom:3pt;border-bottom:.3pt solid #555}
 @top-right{content:%(head_right)s;font-size:7pt;color:#555;vertical-align:bottom;padding-bottom:3pt;border-bottom:.3pt solid #555}
 @bottom-left{content:%(foot_left)s;font-size:7pt;color:#555}
 @bottom-right{content:"Page " counter(page) " of " counter(pages);font-size:7pt;color:#555}}
html{font-family:"DejaVu Sans",sans-serif;font-size:8.6pt;line-height:1.35;color:#1d1d1d}
h1{font-size:20pt;margin:.2em 0 .3em;bookmark-level:none}
h2{font-size:14pt;margin:0 0 .5em;bookmark-level:1;break-after:avoid}
h3{font-size:10.5pt;margin:.9em 0 .3em;bookmark-level:none;break-after:avoid}
h4{font-size:9pt;margin:.7em 0 .25em;bookmark-level:none;break-after:avoid}
section{break-before:page}
table{font-size:7.2pt}
thead{display:table-header-group}
tr{break-inside:avoid}
th,td{padding:2.2pt 3pt}
.mono{font-size:6.6pt}
pre{font-size:6.3pt;line-height:1.25}
.badge{font-size:22pt}
.note,figcaption{font-size:7pt}.lead{font-size:10.5pt}
figure{break-inside:avoid}
nav ol{columns:1;font-size:10pt;line-height:1.7;list-style:none;padding-left:0}
nav a{color:#1d1d1d;text-decoration:none}
nav a::after{content:leader(".") target-counter(attr(href), page)}
"""


def clean(text: object) -> str:
    """Text safe for HTML and PDF: control characters removed, markup escaped.

    Examples
    --------
    >>> clean("a<b>\\x00 & c")
    'a&lt;b&gt; &amp; c'
    """
    return _escape(_CONTROL.sub("", str(text)))


def _css_string(text: str) -> str:
    """A CSS string literal (quotes and backslashes escaped, no newlines).

    CSS ends a string at any newline (LF, CR, FF): one left in a review name would cut the
    stylesheet short and, with it, most of the packet's layout.

    >>> _css_string('a"b\\r\\nc')
    '"a\\\\"b  c"'
    """
    text = _CONTROL.sub("", text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r", " ").replace("\n", " ").replace("\f", " ")
    return f'"{text}"'


def _table(t: Table, *, row_headers: bool = False) -> str:
    """A data table: header cells ``th scope=col``; with ``row_headers`` the first column is ``th scope=row``."""
    head = "".join(f"<th scope=\"col\">{clean(h)}</th>" for h in t.header)
    rows = []
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            style = ""
            if i == t.status_col and str(c).upper() in STATUS_TINTS:
                style = f" style=\"background:{STATUS_TINTS[str(c).upper()]}\""
            cls = " class=\"mono\"" if i in t.mono_cols else ""
            tag = "th scope=\"row\"" if row_headers and i == 0 else "td"
            cells.append(f"<{tag}{cls}{style}>{clean(c)}</{tag.split()[0]}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{clean(t.caption)}</caption>" if t.caption else ""
    cols = ""
    if t.widths and len(t.widths) == len(t.header):
        total = sum(t.widths)
        cols = "<colgroup>" + "".join(f"<col style=\"width:{100 * w / total:.1f}%\">" for w in t.widths) + "</colgroup>"
    return f"<table>{cap}{cols}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(spec: ChartSpec, pngs: dict[ChartSpec, bytes], width: float, number: int) -> str:
    data = base64.b64encode(pngs[spec]).decode("ascii")
    # Two charts side by side take 49% each; leave room for the gap between them.
    return (f"<figure style=\"width:{min(100, int(width * 100))}%\">"
            f"<img src=\"data:image/png;base64,{data}\" alt=\"{clean(chart_alt(spec, number))}\">"
            f"<figcaption>Figure C{number}: {clean(spec.title)}. Numbers: "
            f"<a href=\"#chart-{number}\">table C{number}</a>.</figcaption></figure>")


def render_html(packet: Packet, pngs: dict[ChartSpec, bytes], *, media: Literal["screen", "print"] = "screen",
                generated_at: str | None = None) -> str:
    """A single HTML document with no external resources (works offline, can be archived).

    ``media="print"`` adds the page layout the tagged PDF uses; ``generated_at`` (from the
    decision, never the clock) becomes the document's creation date.
    """
    c = packet.cover
    colour = DECISION_COLOURS.get(c.decision, "#555555")
    numbers = chart_numbers(packet)
    css = _CSS_COMMON + (_CSS_SCREEN if media == "screen" else _CSS_PRINT % {
        "head_left": _css_string(c.review_name[:80]),
        "head_right": _css_string(f"evidence digest {c.evidence_digest[:16]}  ·  {c.decision}"),
        "foot_left": _css_string(f"{c.product} · generated {generated_at or c.generated_at}"),
    })
    title = f"Sign-off packet: {c.review_name}"
    date = clean(generated_at or c.generated_at)
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{clean(title)}</title>",
        f"<meta name=\"author\" content=\"{clean(c.generated_by)}\">",
        f"<meta name=\"description\" content=\"{clean(f'decision={c.decision}; evidence_digest={c.evidence_digest}; policy_digest={c.policy_digest}')}\">",
        f"<meta name=\"keywords\" content=\"sign-off packet, {clean(c.decision)}\">",
        f"<meta name=\"generator\" content=\"{clean(c.product)}\">",
        f"<meta name=\"dcterms.created\" content=\"{date}\"><meta name=\"dcterms.modified\" content=\"{date}\">",
        f"<style>{css}</style></head><body>",
        f"<header><p class=\"note\">{clean(c.product)} — sign-off packet</p><h1>{clean(c.review_name)}</h1>",
        f"<p class=\"badge\" style=\"background:{colour}\">Decision: {clean(c.decision)}</p>",
        f"<p class=\"lead\">{clean(c.decision_sentence)}</p></header>",
        _table(Table(("Role", "Model", "Version", "SHA-256"), tuple(c.models) or (("—", "—", "—", "—"),), mono_cols=(3,),
                     widths=(1.2, 1.8, 1.2, 6.0), caption="Models under review.")),
        _table(Table(("Item", "Value"), (("Decision", c.decision), ("Date (from the decision)", c.generated_at),
                                          ("Generated by", c.generated_by), ("Evidence digest", c.evidence_digest),
                                          ("Evidence content digest", c.content_digest), ("Policy digest", c.policy_digest),
                                          ("Decision threshold", c.threshold)),
                     widths=(2.3, 7.9), mono_cols=(1,)), row_headers=True),
        "<p class=\"note\">How to verify: run “workbench verify PACKET.pdf --cert CERT”. The PDF carries a PAdES "
        "signature over the whole file and an attachment, workbench-manifest.json, signed with Ed25519, that restates "
        "these digests and the SHA-256 of the unsigned document.</p>",
        "<nav aria-labelledby=\"contents\"><h2 id=\"contents\" style=\"bookmark-level:none\">Contents</h2><ol>",
        *(f"<li><a href=\"#sec-{s.id}\">{n}. {clean(s.title)}</a></li>" for n, s in enumerate(packet.sections, start=1)),
        "</ol></nav>",
    ]
    for n, s in enumerate(packet.sections, start=1):
        parts.append(f"<section id=\"sec-{s.id}\" aria-labelledby=\"h-{s.id}\"><h2 id=\"h-{s.id}\">{n}. {clean(s.title)}</h2>")
        chart_no, last = 0, 2
        for b in s.blocks:
            if isinstance(b, Heading):
                # Section h2 → sub-headings h3/h4, never skipping a level (PDF/UA, WCAG 1.3.1).
                level = last = min(4, b.level + 1, last + 1)
                anchor = ""
                if s.id == CHART_DATA_ID:
                    chart_no += 1
                    anchor = f" id=\"chart-{chart_no}\""
                parts.append(f"<h{level}{anchor}>{clean(b.text)}</h{level}>")
            elif isinstance(b, Para):
                parts.append(f"<pre>{clean(b.text)}</pre>" if b.style == "code" else f"<p class=\"{b.style}\">{clean(b.text)}</p>")
            elif isinstance(b, Table):
                parts.append(_table(b))
            elif isinstance(b, (ChartRow, Chart)):
                charts = b.charts if isinstance(b, ChartRow) else (b,)
                parts.append("<div class=\"charts\">" + "".join(
                    _figure(ch.spec, pngs, ch.width, numbers[ch.spec]) for ch in charts) + "</div>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
