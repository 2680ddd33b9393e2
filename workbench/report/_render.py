"""One entry per output format, each starting from the same :class:`PacketInput`."""

from __future__ import annotations

from typing import Any

from workbench.report._content import build_packet
from workbench.report._model import ChartSpec, Packet, PacketInput


def _prepare(inp: PacketInput, packet: Packet | None, pngs: dict[ChartSpec, bytes] | None
             ) -> tuple[Packet, dict[ChartSpec, bytes]]:
    from workbench.report._charts import render_charts

    packet = packet or build_packet(inp)
    return packet, (pngs if pngs is not None else render_charts(packet))


def render_packet_pdf(inp: PacketInput, *, packet: Packet | None = None,
                      pngs: dict[ChartSpec, bytes] | None = None) -> bytes:
    """The unsigned PDF packet; two calls with the same input return identical bytes.

    Examples
    --------
    >>> pdf = render_packet_pdf(PacketInput("r", "2026-01-01T00:00:00Z", "ci", {}, {"decision": "PENDING"}))
    >>> pdf[:5]
    b'%PDF-'
    """
    from workbench.report._pdf import render_pdf

    packet, pngs = _prepare(inp, packet, pngs)
    return render_pdf(packet, pngs, generated_at=inp.generated_at)


def render_packet_html(inp: PacketInput, *, packet: Packet | None = None,
                       pngs: dict[ChartSpec, bytes] | None = None) -> str:
    """The same content as one self-contained HTML page (charts inlined as data: URIs)."""
    from workbench.report._html import render_html

    packet, pngs = _prepare(inp, packet, pngs)
    return render_html(packet, pngs)


def render_packet_json(inp: PacketInput, *, packet: Packet | None = None, manifest: dict[str, Any] | None = None) -> str:
    """The same content as canonical JSON (optionally with the signed manifest envelope)."""
    from workbench.report._json import render_json

    return render_json(packet or build_packet(inp), manifest=manifest)
