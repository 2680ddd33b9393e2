"""The signed readiness report: a PDF sign-off packet an auditor can verify offline.

Pipeline: :class:`PacketInput` (everything the packet shows) → :func:`build_packet`
(sections as data) → :func:`render_packet_pdf` / :func:`render_packet_html` /
:func:`render_packet_json` → :func:`sign_packet` (Ed25519 manifest attachment + PAdES) →
:func:`verify_packet`. :func:`write_packet` does all of it and records the export in the store.

Heavy libraries (WeasyPrint, matplotlib, pyHanko) are imported only when a packet is built.
"""

from __future__ import annotations

from workbench.report._collect import (
    collect_packet_input,
    current_environment,
    packet_input_for_review,
    record_export,
    write_packet,
)
from workbench.report._content import (
    SECTION_TITLES,
    build_packet,
    criteria,
    decision_value,
)
from workbench.report._keys import KeyPaths, init_keys, key_paths
from workbench.report._model import Packet, PacketInput
from workbench.report._render import (
    render_packet_html,
    render_packet_json,
    render_packet_pdf,
)
from workbench.report._sign import ATTACHMENT_NAME, build_manifest, sign_packet
from workbench.report._verify import (
    Check,
    VerificationResult,
    read_manifest_envelope,
    verify_packet,
)

from workbench.report._keys import require_keys

__all__ = [
    "ATTACHMENT_NAME",
    "Check",
    "KeyPaths",
    "Packet",
    "PacketInput",
    "SECTION_TITLES",
    "VerificationResult",
    "build_manifest",
    "build_packet",
    "collect_packet_input",
    "criteria",
    "current_environment",
    "decision_value",
    "init_keys",
    "key_paths",
    "packet_input_for_review",
    "read_manifest_envelope",
    "record_export",
    "render_packet_html",
    "render_packet_json",
    "render_packet_pdf",
    "require_keys",
    "sign_packet",
    "verify_packet",
    "write_packet",
]
