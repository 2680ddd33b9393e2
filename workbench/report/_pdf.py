"""The packet as a PDF: reportlab platypus, deterministic bytes.

Invariant mode plus a creation date taken from the decision (never the clock) make two
builds from the same input byte-identical. DejaVu fonts (shipped with matplotlib) are
embedded so symbols such as ≥, − and × print correctly.
"""

from __future__ import annotations

import datetime as _dt
import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

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

_FONTS_REGISTERED = False
_HEADER_BG = "#2F4858"
_ZEBRA = "#F4F6F8"


def _register_fonts() -> None:
    global _FONTS_REGISTERED
    if _FONTS_REGISTERED:
        return
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in (("WB", "DejaVuSans.ttf"), ("WB-Bold", "DejaVuSans-Bold.ttf"),
                       ("WB-Oblique", "DejaVuSans-Oblique.ttf"), ("WB-Mono", "DejaVuSansMono.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(ttf / file)))
    addMapping("WB", 0, 0, "WB")
    addMapping("WB", 1, 0, "WB-Bold")
    addMapping("WB", 0, 1, "WB-Oblique")
    addMapping("WB", 1, 1, "WB-Bold")
    _FONTS_REGISTERED = True


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName="WB", fontSize=9, leading=12, spaceAfter=4)
    return {
        "body": base,
        "lead": ParagraphStyle("lead", parent=base, fontSize=11, leading=15, spaceAfter=6),
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=10, textColor=colors.HexColor("#555555")),
        "missing": ParagraphStyle("missing", parent=base, fontName="WB-Oblique", textColor=colors.HexColor("#666666")),
        "code": ParagraphStyle("code", parent=base, fontName="WB-Mono", fontSize=6.5, leading=8),
        "h1": ParagraphStyle("h1", parent=base, fontName="WB-Bold", fontSize=16, leading=20, spaceAfter=8,
                             textColor=colors.HexColor(_HEADER_BG)),
        "h2": ParagraphStyle("h2", parent=base, fontName="WB-Bold", fontSize=11, leading=14, spaceBefore=8, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base, fontName="WB-Bold", fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.2, spaceAfter=0),
        "cellmono": ParagraphStyle("cellmono", parent=base, fontName="WB-Mono", fontSize=6.8, leading=8.5,
                                   spaceAfter=0, wordWrap="CJK"),
        "head": ParagraphStyle("head", parent=base, fontName="WB-Bold", fontSize=7.5, leading=9.2, spaceAfter=0,
                               textColor=colors.white),
        "title": ParagraphStyle("title", parent=base, fontName="WB-Bold", fontSize=22, leading=27, spaceAfter=6),
        "toc1": ParagraphStyle("toc1", parent=base, fontSize=10.5, leading=16, leftIndent=12),
    }


def _p(text: str, style: Any) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(t: Table, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, TableStyle

    n = len(t.header)
    weights = t.widths if t.widths and len(t.widths) == n else (1.0,) * n
    total = sum(weights)
    col_w = [width * w / total for w in weights]
    data = [[_p(h, styles["head"]) for h in t.header]]
    for row in t.rows:
        cells = list(row) + [""] * (n - len(row))
        data.append([_p(c, styles["cellmono"] if i in t.mono_cols else styles["cell"]) for i, c in enumerate(cells[:n])])
    cmds: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(_HEADER_BG)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#C8CED4")),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for r in range(2, len(data), 2):
        cmds.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor(_ZEBRA)))
    if t.status_col is not None:
        for r, row in enumerate(t.rows, start=1):
            tint = STATUS_TINTS.get(str(row[t.status_col]).upper()) if t.status_col < len(row) else None
            if tint:
                cmds.append(("BACKGROUND", (t.status_col, r), (t.status_col, r), colors.HexColor(tint)))
    out: list[Any] = [LongTable(data, colWidths=col_w, repeatRows=1, style=TableStyle(cmds), hAlign="LEFT")]
    if t.caption:
        out.append(_p(t.caption, styles["note"]))
    return out


def _image(png: bytes, width: float) -> Any:
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    w, h = ImageReader(io.BytesIO(png)).getSize()
    return Image(io.BytesIO(png), width=width, height=width * h / w)


def _charts(row: ChartRow, pngs: dict[ChartSpec, bytes], width: float) -> Any:
    from reportlab.platypus import Table as RLTable

    images = [_image(pngs[c.spec], width * c.width) for c in row.charts]
    if len(images) == 1:
        images[0].hAlign = "LEFT"
        return images[0]
    return RLTable([images], colWidths=[width * c.width + 2 for c in row.charts], hAlign="LEFT",
                   style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])


def _cover(packet: Packet, styles: dict[str, Any], width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Spacer
    from reportlab.platypus import Table as RLTable

    c = packet.cover
    badge_style = styles["title"].clone("badge", textColor=colors.white, alignment=1, fontSize=26, leading=32)
    badge = RLTable([[_p(c.decision, badge_style)]], colWidths=[width * 0.45], hAlign="LEFT",
                    style=[("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(DECISION_COLOURS.get(c.decision, "#555555"))),
                           ("TOPPADDING", (0, 0), (-1, -1), 8), ("BOTTOMPADDING", (0, 0), (-1, -1), 10)])
    out: list[Any] = [
        _p(c.product + " — sign-off packet", styles["note"]),
        _p(c.review_name, styles["title"]),
        Spacer(1, 6), badge, Spacer(1, 8),
        _p(c.decision_sentence, styles["lead"]),
        Spacer(1, 6),
    ]
    models = Table(("Role", "Model", "Version", "SHA-256"), tuple(c.models) or (("—", "—", "—", "—"),),
                   widths=(1.2, 1.8, 1.2, 6.0), mono_cols=(3,))
    out += _table(models, styles, width)
    out.append(Spacer(1, 8))
    facts = Table(("Item", "Value"), (
        ("Decision", c.decision), ("Date (from the decision)", c.generated_at), ("Generated by", c.generated_by),
        ("Evidence digest", c.evidence_digest), ("Evidence content digest", c.content_digest),
        ("Policy digest", c.policy_digest), ("Decision threshold", c.threshold),
    ), widths=(2.3, 7.9), mono_cols=(1,))
    out += _table(facts, styles, width)
    out.append(_p("How to verify: run “workbench verify PACKET.pdf --cert CERT”. The PDF carries a PAdES "
                  "signature over the whole file and an attachment, workbench-manifest.json, signed with Ed25519, "
                  "that restates these digests and the SHA-256 of the unsigned document.", styles["note"]))
    return out


def render_pdf(packet: Packet, pngs: dict[ChartSpec, bytes], *, generated_at: str) -> bytes:
    """Lay the packet out as PDF bytes; same packet and timestamp → same bytes.

    Parameters
    ----------
    packet : Packet
        Content from :func:`workbench.report.build_packet`.
    pngs : dict
        Chart PNGs from :func:`workbench.report._charts.render_charts`.
    generated_at : str
        ISO timestamp written as the PDF creation date (from the decision).
    """
    _register_fonts()
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        PageBreak,
        PageTemplate,
        Preformatted,
        Spacer,
    )
    from reportlab.platypus.tableofcontents import TableOfContents

    styles = _styles()
    buf = io.BytesIO()
    cover = packet.cover
    date_text = _pdf_date(generated_at)

    class _Doc(BaseDocTemplate):
        def afterFlowable(self, flowable: Any) -> None:
            key = getattr(flowable, "_toc_key", None)
            if key:
                self.notify("TOCEntry", (0, flowable.getPlainText(), self.page, key))
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=0)

    doc = _Doc(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=20 * mm, bottomMargin=16 * mm,
               title=f"Sign-off packet: {cover.review_name}", author=cover.generated_by,
               subject=f"decision={cover.decision}; evidence_digest={cover.evidence_digest}; policy_digest={cover.policy_digest}",
               creator=cover.product, producer=cover.product, keywords=["sign-off packet", cover.decision],
               invariant=1, pageCompression=1)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0)
    width = doc.width

    def decorate(canv: Any, d: Any) -> None:
        canv.saveState()
        canv._doc.setDateFormatter(lambda *_: date_text)
        canv.setFont("WB", 7)
        canv.setFillColorRGB(0.33, 0.33, 0.33)
        top = A4[1] - 11 * mm
        canv.drawString(d.leftMargin, top, cover.review_name[:80])
        canv.drawRightString(A4[0] - d.rightMargin, top, f"evidence digest {cover.evidence_digest[:16]}  ·  {cover.decision}")
        canv.setLineWidth(0.3)
        canv.line(d.leftMargin, top - 2.5, A4[0] - d.rightMargin, top - 2.5)
        canv.drawString(d.leftMargin, 9 * mm, f"{cover.product} · generated {generated_at}")
        canv.drawRightString(A4[0] - d.rightMargin, 9 * mm, f"Page {d.page}")
        canv.restoreState()

    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=decorate)])
    story: list[Any] = _cover(packet, styles, width)
    story.append(Spacer(1, 10))
    story.append(_p("Contents", styles["h2"]))
    toc = TableOfContents()
    toc.levelStyles = [styles["toc1"]]
    toc.dotsMinLevel = 0
    story.append(toc)
    for number, section in enumerate(packet.sections, start=1):
        story.append(PageBreak())
        title = _p(f"{number}. {section.title}", styles["h1"])
        title._toc_key = f"sec-{section.id}"
        story.append(title)
        for block in section.blocks:
            if isinstance(block, Heading):
                story.append(_p(block.text, styles["h2" if block.level <= 2 else "h3"]))
            elif isinstance(block, Para):
                if block.style == "code":
                    story.append(Preformatted(block.text, styles["code"], maxLineLength=118))
                else:
                    story.append(_p(block.text, styles[block.style]))
            elif isinstance(block, Table):
                story += _table(block, styles, width)
                story.append(Spacer(1, 4))
            elif isinstance(block, ChartRow):
                story.append(_charts(block, pngs, width))
            elif isinstance(block, Chart):
                story.append(_charts(ChartRow((block,)), pngs, width))
    doc.multiBuild(story)
    return buf.getvalue()


def _pdf_date(iso: str) -> str:
    """ISO 8601 → PDF date string ``D:YYYYMMDDHHmmSS+00'00'`` (UTC)."""
    try:
        t = _dt.datetime.fromisoformat(iso)
    except ValueError:
        t = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    t = t.astimezone(_dt.UTC)
    return t.strftime("D:%Y%m%d%H%M%S+00'00'")
