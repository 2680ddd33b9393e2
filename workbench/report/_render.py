"""One entry per output format, each starting from the same :class:`PacketInput`."""

from __future__ import annotations

from typing import Any

from workbench.report._content import build_packet
from workbench.report._model import ChartSpec, Packet, PacketInput


def _prepare(inp: PacketInput, packet: Packet | None, pngs: dict[ChartSpec, bytes] | None
             ) -> tuple[Packet, dict[ChartSpec, bytes]]:
    from workbench.report._charts import render_charts

    from workbench.report._chart_text import CHART_DATA_ID, chart_data_section

    packet = packet or build_packet(inp)
    pngs = pngs if pngs is not None else render_charts(packet)
    # Every chart restated as a table, after the appendix: the text alternative a reader who
    # cannot see the charts needs (PDF and HTML alike; the JSON export carries the raw data).
    extra = chart_data_section(packet)
    if extra is not None and all(s.id != CHART_DATA_ID for s in packet.sections):
        packet = Packet(packet.cover, (*packet.sections, extra))
    return packet, pngs


def render_packet_pdf(inp: PacketInput, *, packet: Packet | None = None,
                      pngs: dict[ChartSpec, bytes] | None = None) -> bytes:
    """The unsigned, tagged (PDF/UA-1) PDF packet; two calls with the same input return identical bytes.

    Examples
    --------
    >>> pdf = render_packet_pdf(PacketInput("r", "2026-01-01T00:00:00Z", "ci", {}, {"decision": "PENDING"}))
    >>> pdf[:5]
    b'%PDF-'
    """
    from workbench.report._tagged import render_tagged_pdf

    packet, pngs = _prepare(inp, packet, pngs)
    return render_tagged_pdf(packet, pngs, generated_at=inp.generated_at)


def render_packet_html(inp: PacketInput, *, packet: Packet | None = None,
                       pngs: dict[ChartSpec, bytes] | None = None) -> str:
    """The same content as one self-contained HTML page (charts inlined as data: URIs)."""
    from workbench.report._html import render_html

    packet, pngs = _prepare(inp, packet, pngs)
    return render_html(packet, pngs, generated_at=inp.generated_at)


def render_packet_json(inp: PacketInput, *, packet: Packet | None = None, manifest: dict[str, Any] | None = None) -> str:
    """The same content as canonical JSON (optionally with the signed manifest envelope)."""
    from workbench.report._json import render_json

    return render_json(packet or build_packet(inp), manifest=manifest)
