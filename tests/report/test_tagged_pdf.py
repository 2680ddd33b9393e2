"""The packet PDF is tagged for assistive technology (PDF/UA-1 target), checked with pikepdf.

What a screen reader needs from the file, read from the file itself: the document is marked,
has a structure tree reachable from every page, a language and a title shown in the window;
every chart image is a Figure with an alt text that states what it shows; every table has
header cells; headings do not skip levels; the outline matches the contents list.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pikepdf
import pytest

from workbench.report import (
    build_packet,
    init_keys,
    key_paths,
    render_packet_html,
    render_packet_pdf,
    sign_packet,
    verify_packet,
)
from workbench.report._chart_text import CHART_DATA_TITLE, chart_alt, chart_data_section, iter_chart_specs
from workbench.report._charts import iter_charts


@pytest.fixture(scope="module")
def pdf(realistic_input) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(render_packet_pdf(realistic_input)))


def _walk(node: pikepdf.Object, parents: tuple[str, ...] = ()) -> Iterator[tuple[pikepdf.Dictionary, tuple[str, ...]]]:
    """Every structure element below ``node`` with the types of its ancestors."""
    kids = node.get("/K")
    if kids is None:
        return
    for kid in (kids if isinstance(kids, pikepdf.Array) else [kids]):
        if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
            yield kid, parents
            yield from _walk(kid, (*parents, str(kid.S)))


def _elements(pdf: pikepdf.Pdf) -> list[tuple[pikepdf.Dictionary, tuple[str, ...]]]:
    return list(_walk(pdf.Root.StructTreeRoot))


def test_document_is_marked_with_language_title_and_structure(pdf) -> None:
    root = pdf.Root
    assert bool(root.MarkInfo.Marked) is True
    assert "/StructTreeRoot" in root and "/ParentTree" in root.StructTreeRoot
    assert str(root.Lang) == "en"
    assert bool(root.ViewerPreferences.DisplayDocTitle) is True
    assert str(pdf.docinfo.Title).startswith("Sign-off packet: credit-approval")
    with pdf.open_metadata() as meta:
        assert meta.get("pdfuaid:part") == "1"
        assert meta.get("dc:title") == str(pdf.docinfo.Title)
    for number, page in enumerate(pdf.pages, start=1):
        assert "/StructParents" in page.obj, f"page {number} is not in the structure tree"


def test_every_chart_is_a_figure_whose_alt_says_what_it_shows(pdf, realistic_input) -> None:
    packet = build_packet(realistic_input)
    specs = list(iter_chart_specs(packet))
    figures = [e for e, _ in _elements(pdf) if e.S == "/Figure"]
    assert len(specs) >= 5
    assert len(figures) == len(list(iter_charts(packet)))
    alts = [str(f.Alt) for f in figures]
    assert alts == [chart_alt(s, n) for n, s in enumerate(specs, start=1)]
    for alt, spec in zip(alts, specs, strict=True):
        assert spec.title in alt and "table C" in alt
        for series in spec.series:
            assert series.label in alt
    # WeasyPrint shares one resource dictionary between pages: count distinct image objects.
    images = {img.objgen for page in pdf.pages for img in page.get_images().values()}
    assert len(images) == len(specs)


def test_every_table_has_header_cells_and_the_chart_data_is_tabulated(pdf, realistic_input) -> None:
    elements = _elements(pdf)
    tables = [e for e, _ in elements if e.S == "/Table"]
    cells = [(e, parents) for e, parents in elements if e.S in ("/TH", "/TD")]
    assert len(tables) > 20
    for table in tables:
        kinds = {str(e.S) for e, _ in _walk(table)}
        assert "/TH" in kinds, "a table without header cells"
    for cell, _ in cells:
        if cell.S == "/TH":  # the association is explicit: a scope on the header cell ...
            assert str(cell.A.Scope) in ("/Column", "/Row")
        else:  # ... and every data cell names its header cells
            assert len(cell.A.Headers) >= 1
    assert all("/Table" in parents for _, parents in cells)
    section = chart_data_section(build_packet(realistic_input))
    assert section is not None and section.title == CHART_DATA_TITLE
    assert sum(1 for b in section.blocks if hasattr(b, "rows")) == len(list(iter_chart_specs(build_packet(realistic_input))))


def test_headings_do_not_skip_levels_and_the_outline_matches_the_contents(pdf, realistic_input) -> None:
    levels = [int(str(e.S)[2:]) for e, _ in _elements(pdf) if str(e.S) in ("/H1", "/H2", "/H3", "/H4", "/H5", "/H6")]
    assert levels[0] == 1 and levels.count(1) == 1
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from {before} to {after}"
    with pdf.open_outline() as outline:
        titles = [item.title for item in outline.root]
    packet = build_packet(realistic_input)
    expected = [f"{n}. {s.title}" for n, s in enumerate(packet.sections, start=1)] + [
        f"{len(packet.sections) + 1}. {CHART_DATA_TITLE}"]
    assert titles == expected
    html = render_packet_html(realistic_input)
    for title in expected:
        assert f">{title}</a></li>" in html  # the contents list names the same entries


def test_contents_is_a_list_and_running_heads_are_artifacts(pdf) -> None:
    elements = _elements(pdf)
    assert any(e.S == "/L" for e, _ in elements) and any(e.S == "/LI" for e, _ in elements)
    # The running header repeats the review name on every page; tagged, a screen reader would
    # read it 13 times. It must be outside the structure tree (an artifact).
    page = pdf.pages[1]
    content = pikepdf.unparse_content_stream(pikepdf.parse_content_stream(page))
    assert b"/Artifact" in content


def test_signed_tagged_packet_verifies_and_keeps_its_structure(realistic_input, tmp_path) -> None:
    keys = init_keys(tmp_path / "keys").folder
    signed, _ = sign_packet(render_packet_pdf(realistic_input), realistic_input, keys=keys)
    p = key_paths(keys)
    result = verify_packet(signed, cert=p.signing_cert, manifest_key=p.manifest_pub)
    assert result.valid, result.reasons
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        assert bool(pdf.Root.MarkInfo.Marked) and "/StructTreeRoot" in pdf.Root and str(pdf.Root.Lang) == "en"


def test_render_time_is_bounded(realistic_input) -> None:
    """Guard against a layout regression (a table that cannot break makes WeasyPrint crawl)."""
    start = time.perf_counter()
    render_packet_pdf(realistic_input)
    assert time.perf_counter() - start < 30
