"""Signing: an Ed25519-signed JSON manifest embedded as an attachment, then PAdES over the whole PDF.

Order matters: the manifest (which names the SHA-256 and length of the *unsigned* PDF) is
attached in the same incremental revision that carries the PAdES signature, so the PAdES
signature covers the manifest too. The manifest alone can be checked without a PDF library:
the unsigned document is the first ``unsigned_pdf.bytes`` bytes of the signed file.

The signed file is byte-identical between builds too: RSA PKCS#1 v1.5 and Ed25519 are
deterministic, the signing time is fixed (the decision's time, or the certificate's start
of validity if that is later) and the second half of the trailer /ID is derived from the
content instead of ``os.urandom``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.canonical import canonical_json, digest
from workbench.errors import SigningError
from workbench.report._content import criteria, decision_value
from workbench.report._keys import (
    KeyPaths,
    load_certificate,
    load_ed25519_private,
    require_keys,
)
from workbench.report._model import PacketInput

ATTACHMENT_NAME = "workbench-manifest.json"
MANIFEST_SCHEMA = "workbench.packet-manifest/1"
FIELD_NAME = "WorkbenchSignoff"


def build_manifest(inp: PacketInput, unsigned_pdf: bytes) -> dict[str, Any]:
    """The manifest the packet signs: digests, artefact hashes, decision, sign-offs, chain head.

    Examples
    --------
    >>> m = build_manifest(PacketInput("r", "2026-01-01T00:00:00Z", "ci", {}, {"decision": "GO"}), b"%PDF")
    >>> m["decision"]["decision"], m["unsigned_pdf"]["bytes"]
    ('GO', 4)
    """
    crit = criteria(inp.decision)
    return {
        "schema": MANIFEST_SCHEMA,
        "review": {"name": inp.review_name, "id": inp.review_id},
        "generated_at": inp.generated_at,
        "generated_by": inp.generated_by,
        "evidence_digest": inp.evidence.get("evidence_digest"),
        "evidence_content_digest": inp.evidence.get("digest"),
        "policy_digest": inp.policy_digest or None,
        "artefacts": [{k: a.get(k) for k in ("role", "path", "sha256", "bytes")} for a in inp.evidence.get("artefacts") or ()],
        "decision": {
            "decision": decision_value(inp.decision),
            "digest": digest(inp.decision),
            "criteria": [{"id": c.get("id"), "status": str(c.get("status", "")).upper()} for c in crit],
        },
        "signoffs": [{k: s.get(k) for k in ("user", "role", "at", "evidence_digest", "policy_digest")} for s in inp.signoffs],
        "waivers": [{k: w.get(k) for k in ("criterion", "role", "approver", "expires")} for w in inp.waivers],
        "audit_chain_head": inp.audit_head,
        **({"audit_checkpoint": dict(inp.audit_checkpoint)} if inp.audit_checkpoint else {}),
        "unsigned_pdf": {"sha256": hashlib.sha256(unsigned_pdf).hexdigest(), "bytes": len(unsigned_pdf)},
    }


def sign_manifest(manifest: Mapping[str, Any], key_path: Path) -> dict[str, Any]:
    """The envelope ``{"manifest", "signature": {algorithm, public_key, value}}`` (base64 values).

    The signature is Ed25519 over the UTF-8 bytes of ``canonical_json(manifest)``.
    """
    from cryptography.hazmat.primitives import serialization

    key = load_ed25519_private(key_path)
    message = canonical_json(manifest).encode("utf-8")
    raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "manifest": dict(manifest),
        "signature": {
            "algorithm": "Ed25519",
            "public_key": base64.b64encode(raw_pub).decode("ascii"),
            "value": base64.b64encode(key.sign(message)).decode("ascii"),
        },
    }


def _signing_time(generated_at: str, cert_path: Path) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(generated_at)
    except ValueError as exc:
        raise SigningError(f"decision time {generated_at!r} is not an ISO 8601 timestamp") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    cert = load_certificate(cert_path)
    return max(t.astimezone(_dt.UTC), cert.not_valid_before_utc)


def _fix_modification_date(writer: Any, when: _dt.datetime) -> None:
    """pyHanko stamps /ModDate (and XMP ModifyDate) with the clock; use the signing time instead."""
    base = type(writer._meta)

    class _FixedClockMetadata(base):  # type: ignore[misc, valid-type]
        def __setattr__(self, name: str, value: Any) -> None:
            super().__setattr__(name, when if (name == "last_modified" and value == "now") else value)

    writer._meta.__class__ = _FixedClockMetadata
    writer._meta.last_modified = when


def sign_pdf(unsigned_pdf: bytes, envelope: Mapping[str, Any], keys: KeyPaths, *, signing_time: _dt.datetime,
             reason: str = "Model promotion sign-off packet") -> bytes:
    """Attach the manifest envelope and certify the PDF with PAdES (DocMDP: no changes allowed)."""
    from pyhanko.pdf_utils import embed, generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import MDPPerm

    try:
        signer = signers.SimpleSigner.load(str(keys.signing_key), str(keys.signing_cert))
    except Exception as exc:  # pyHanko raises several types for unreadable key material
        raise SigningError(f"cannot load the signing key/certificate from {keys.folder}: {exc}") from exc
    if signer is None:
        raise SigningError(f"cannot load the signing key/certificate from {keys.folder}: run `workbench keys init --force`")
    data = canonical_json(envelope).encode("utf-8")
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned_pdf))
    # Deterministic second half of /ID (pyHanko would draw it from os.urandom).
    id1 = writer._document_id[0]
    writer._document_id = generic.ArrayObject(
        [id1, generic.ByteStringObject(hashlib.sha256(unsigned_pdf + data).digest()[:16])])
    _fix_modification_date(writer, signing_time)
    spec = embed.FileSpec(
        file_spec_string=ATTACHMENT_NAME, file_name=ATTACHMENT_NAME,
        embedded_data=embed.EmbeddedFileObject.from_file_data(
            writer, data, compress=False, mime_type="application/json",
            params=embed.EmbeddedFileParams(creation_date=signing_time, modification_date=signing_time)),
        description="Ed25519-signed manifest of this sign-off packet (workbench verify checks it)",
        af_relationship=generic.pdf_name("/Data"),
    )
    embed.embed_file(writer, spec)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        certify=True, docmdp_permissions=MDPPerm.NO_CHANGES, reason=reason,
    )

    class _FixedTimeSigner(signers.PdfSigner):
        def init_signing_session(self, pdf_out, existing_fields_only=False):
            session = super().init_signing_session(pdf_out, existing_fields_only)
            session.system_time = signing_time
            return session

    out = io.BytesIO()
    try:
        _FixedTimeSigner(meta, signer=signer).sign_pdf(writer, output=out)
    except Exception as exc:
        raise SigningError(f"PAdES signing with the key in {keys.folder} failed: {exc}") from exc
    return out.getvalue()


def sign_packet(unsigned_pdf: bytes, inp: PacketInput, *, keys: str | Path,
                manifest: Mapping[str, Any] | None = None) -> tuple[bytes, dict[str, Any]]:
    """Sign an unsigned packet: returns ``(signed_pdf_bytes, manifest_envelope)``.

    Parameters
    ----------
    unsigned_pdf : bytes
        Output of :func:`workbench.report.render_packet_pdf`.
    inp : PacketInput
        The input the PDF was built from (the manifest restates its digests).
    keys : path, keyword-only
        The keys folder; a missing key is a :class:`SigningError` naming ``workbench keys init``.
    manifest : mapping, optional
        Use this manifest instead of building one (tests use it to forge mismatches).
    """
    paths = require_keys(keys)
    envelope = sign_manifest(manifest if manifest is not None else build_manifest(inp, unsigned_pdf), paths.manifest_key)
    signed = sign_pdf(unsigned_pdf, envelope, paths, signing_time=_signing_time(inp.generated_at, paths.signing_cert))
    return signed, envelope
