"""The packet as a tagged PDF (PDF/UA-1): WeasyPrint renders the packet's HTML.

WeasyPrint's ``pdf/ua-1`` variant writes the structure tree from the HTML (headings, lists,
tables with TH cells and their scope, figures with the ``img`` alt text, captions), marks
page headers and footers as artifacts, sets ``/Lang`` from ``<html lang>``, ``/MarkInfo``,
``DisplayDocTitle`` and the PDF/UA identification in the XMP metadata, and makes the
outline from the section headings.

Same bytes for the same input: the creation and modification dates come from the decision
(``dcterms.created``), the file identifier is a digest of the content (``pdf_identifier=True``
makes pydyf hash the document) and the fonts are the DejaVu files shipped with matplotlib,
loaded by path, so the machine's font configuration cannot change the output.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.report._model import ChartSpec, Packet

PDF_VARIANT = "pdf/ua-1"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _font_css() -> str:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = (("DejaVu Sans", "normal", "normal", "DejaVuSans.ttf"), ("DejaVu Sans", "bold", "normal", "DejaVuSans-Bold.ttf"),
             ("DejaVu Sans", "normal", "italic", "DejaVuSans-Oblique.ttf"),
             ("DejaVu Sans", "bold", "italic", "DejaVuSans-BoldOblique.ttf"),
             ("DejaVu Sans Mono", "normal", "normal", "DejaVuSansMono.ttf"),
             ("DejaVu Sans Mono", "bold", "normal", "DejaVuSansMono-Bold.ttf"))
    return "".join(f"@font-face{{font-family:\"{fam}\";font-weight:{w};font-style:{s};src:url(\"{(ttf / f).as_uri()}\")}}"
                   for fam, w, s, f in faces)


def _scope_header_cells(_document: Any, pdf: Any) -> None:
    """Give every TH its /Scope (Column for the header row, Row for the first column).

    WeasyPrint links each TD to its headers with /Headers and /IDs, which PDF/UA accepts;
    /Scope on the header cell itself makes the association explicit for checkers and
    readers that only look at the TH. The ID WeasyPrint gives a header cell is
    ``"<table>-<row>-<column>"``, and the packet's HTML has header cells only in the
    header row (``scope=col``) and in the first column (``scope=row``).
    """
    import pydyf

    for obj in pdf.objects:
        if isinstance(obj, pydyf.Dictionary) and obj.get("S") == "/TH" and "ID" in obj:
            row = str(obj["ID"].string).split("-")[1]
            obj["A"]["Scope"] = "/Column" if row == "0" else "/Row"


def render_tagged_pdf(packet: Packet, pngs: dict[ChartSpec, bytes], *, generated_at: str) -> bytes:
    """Lay the packet out as a tagged PDF/UA-1 document; same packet and timestamp → same bytes.

    Raises
    ------
    WorkbenchError
        When WeasyPrint reports an accessibility error (an image without alt text, a
        missing language): the packet must not silently lose its structure.
    """
    import weasyprint

    from workbench.report._html import render_html

    html = render_html(packet, pngs, media="print", generated_at=generated_at)
    collect = _Collect()
    log = logging.getLogger("weasyprint")
    log.addHandler(collect)
    try:
        document: Any = weasyprint.HTML(string=html, base_url=".")
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_identifier=True, finisher=_scope_header_cells,
                                 stylesheets=[weasyprint.CSS(string=_font_css())])
    finally:
        log.removeHandler(collect)
    if collect.messages:
        raise WorkbenchError("the tagged PDF renderer reported: " + "; ".join(dict.fromkeys(collect.messages)))
    return pdf
