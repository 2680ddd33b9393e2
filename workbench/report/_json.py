"""The packet as JSON: the same content as the PDF, for machines and diffs."""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench.canonical import canonical_json
from workbench.report._model import Chart, ChartRow, Heading, Packet, Para, Table


def _block(block: Any) -> dict[str, Any]:
    kind = {Heading: "heading", Para: "paragraph", Table: "table", Chart: "chart", ChartRow: "charts"}[type(block)]
    return {"type": kind, **dataclasses.asdict(block)}


def packet_dict(packet: Packet, *, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The packet as plain JSON-able data (``schema`` names the format version).

    Examples
    --------
    >>> from workbench.report._model import Cover
    >>> c = Cover("p", "r", "GO", "s", "t", "u", "e", "c", "d", ())
    >>> packet_dict(Packet(c, ()))["cover"]["decision"]
    'GO'
    """
    out: dict[str, Any] = {
        "schema": "workbench.packet/1",
        "cover": dataclasses.asdict(packet.cover),
        "sections": [{"id": s.id, "title": s.title, "blocks": [_block(b) for b in s.blocks]} for s in packet.sections],
    }
    if manifest is not None:
        out["manifest"] = manifest
    return out


def render_json(packet: Packet, *, manifest: dict[str, Any] | None = None) -> str:
    """Canonical JSON text of :func:`packet_dict` (sorted keys, deterministic)."""
    return canonical_json(packet_dict(packet, manifest=manifest))
