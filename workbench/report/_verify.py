"""Verify a signed packet: PAdES signature, whole-file coverage, the Ed25519 manifest, consistency.

Every check runs (nothing stops at the first problem except an unreadable file) and each
failure carries a reason an auditor can act on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.canonical import canonical_json
from workbench.errors import VerificationError
from workbench.report._keys import load_certificate, load_ed25519_public

if TYPE_CHECKING:
    from workbench.store import Store

REASON_APPENDED = "signature does not cover the whole file: content appended after signing"
REASON_NOT_INTACT = "signature is broken: the signed bytes were changed after signing (digest mismatch)"
REASON_OTHER_CERT = "signed with a different certificate than {cert}: the signer is '{signer}'"
REASON_NO_SIGNATURE = "the PDF carries no digital signature"
REASON_NO_MANIFEST = "the PDF carries no embedded workbench manifest"
REASON_MANIFEST_SIG = "embedded manifest signature is invalid: the manifest was changed or signed by another key"
REASON_MANIFEST_KEY = "embedded manifest was signed with a different Ed25519 key than {path}"
REASON_MANIFEST_PDF = "manifest does not match the PDF: {what}"


@dataclass(frozen=True)
class Check:
    """One verification step: its name, whether it passed and why (or what it saw)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    """All checks of one packet; ``valid`` only when every check passed."""

    checks: tuple[Check, ...]
    manifest: dict[str, Any] | None

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(c.detail for c in self.checks if not c.ok)

    @property
    def exit_code(self) -> int:
        """0 valid, 1 invalid (the `workbench verify` contract)."""
        return 0 if self.valid else 1


def read_manifest_envelope(pdf: bytes) -> dict[str, Any] | None:
    """The embedded manifest envelope of a packet, or None when there is none."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from workbench.report._sign import ATTACHMENT_NAME

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for i in range(0, len(names) - 1, 2):
        if str(names[i]) == ATTACHMENT_NAME:
            spec = names[i + 1].get_object()
            data = spec["/EF"]["/F"].get_object().data
            return json.loads(data.decode("utf-8"))
    return None


def _pades_checks(pdf: bytes, cert_path: Path) -> list[Check]:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sigs = reader.embedded_signatures
    if not sigs:
        return [Check("pdf-signature", False, REASON_NO_SIGNATURE)]
    trusted = load_cert_from_pemder(str(cert_path))
    sig = sigs[-1]
    checks: list[Check] = []
    signer = sig.signer_cert
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[trusted], allow_fetching=False))
    # The signer is the named certificate itself, or (production) chains up to it as a trust root.
    if signer.dump() == trusted.dump() or status.trusted:
        checks.append(Check("signer-certificate", True, f"signed by {signer.subject.human_friendly}"))
    else:
        checks.append(Check("signer-certificate", False,
                            REASON_OTHER_CERT.format(cert=cert_path, signer=signer.subject.human_friendly)))
    checks.append(Check("signature-intact", bool(status.intact and status.valid),
                        "signature is cryptographically intact" if status.intact and status.valid else REASON_NOT_INTACT))
    covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    checks.append(Check("signature-covers-file", covers,
                        "signature covers the whole file" if covers else REASON_APPENDED))
    if status.docmdp_ok is False or (status.modification_level is not None and status.modification_level.value > 0
                                     and not covers):
        checks.append(Check("no-later-modifications", False,
                            "document modified after certification"
                            + (f" ({status.modification_level.name.lower()})" if status.modification_level else "")))
    else:
        checks.append(Check("no-later-modifications", True, "no modification after signing"))
    if len(sigs) > 1:
        checks.append(Check("single-signature", False, f"{len(sigs)} signatures found; a packet carries exactly one"))
    return checks


def _manifest_checks(pdf: bytes, envelope: Mapping[str, Any] | None, manifest_key: Path | None) -> list[Check]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if envelope is None:
        return [Check("manifest-present", False, REASON_NO_MANIFEST)]
    manifest = envelope.get("manifest") or {}
    sig = envelope.get("signature") or {}
    checks: list[Check] = []
    try:
        embedded = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(sig.get("public_key", "")))
        embedded.verify(base64.b64decode(sig.get("value", "")), canonical_json(manifest).encode("utf-8"))
        checks.append(Check("manifest-signature", True, "Ed25519 manifest signature valid"))
    except (InvalidSignature, ValueError, TypeError):
        checks.append(Check("manifest-signature", False, REASON_MANIFEST_SIG))
        embedded = None
    if manifest_key is not None and not manifest_key.is_file():
        checks.append(Check("manifest-key", False, f"manifest key {manifest_key} not found: cannot pin the manifest key"))
    elif manifest_key is not None and embedded is not None:
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        same = load_ed25519_public(manifest_key).public_bytes(*raw) == embedded.public_bytes(*raw)
        checks.append(Check("manifest-key", same, f"manifest key matches {manifest_key}" if same
                            else REASON_MANIFEST_KEY.format(path=manifest_key)))
    checks.append(_manifest_matches_pdf(pdf, manifest))
    return checks


def _manifest_matches_pdf(pdf: bytes, manifest: Mapping[str, Any]) -> Check:
    unsigned = manifest.get("unsigned_pdf") or {}
    n = unsigned.get("bytes")
    if not isinstance(n, int) or n <= 0 or n > len(pdf):
        return Check("manifest-matches-pdf", False, REASON_MANIFEST_PDF.format(what="unsigned length out of range"))
    if hashlib.sha256(pdf[:n]).hexdigest() != unsigned.get("sha256"):
        return Check("manifest-matches-pdf", False,
                     REASON_MANIFEST_PDF.format(what="the unsigned document's SHA-256 differs (manifest from another packet?)"))
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf[:n]))
    text = "".join((reader.pages[0].extract_text() or "").split())
    stated = {"decision": (manifest.get("decision") or {}).get("decision"), "evidence digest": manifest.get("evidence_digest"),
              "policy digest": manifest.get("policy_digest")}
    # Compared exactly, field by field: "GO" is a substring of "NO-GO", a digest prefix of a longer one.
    shown = _document_fields(reader, text)
    wrong = [k for k, v in stated.items() if not v or shown.get(k) != str(v)]
    if wrong:
        return Check("manifest-matches-pdf", False,
                     REASON_MANIFEST_PDF.format(what=f"the cover page does not state the manifest's {', '.join(wrong)}"))
    return Check("manifest-matches-pdf", True, "manifest matches the unsigned document and its cover page")


# The cover table's row "Decision | NO-GO" followed by "Date (from the decision)", whitespace removed.
_COVER_DECISION = re.compile(r"Decision([A-Z][A-Z-]*?)Date\(fromthedecision\)")


def _document_fields(reader: Any, cover_text: str) -> dict[str, str | None]:
    """Decision and digests as the unsigned document states them: its metadata, confirmed by the cover page."""
    subject = str((reader.metadata or {}).get("/Subject") or "")
    fields = dict(part.strip().split("=", 1) for part in subject.split(";") if "=" in part)
    found = _COVER_DECISION.findall(cover_text)
    decision = fields.get("decision")
    if len(set(found)) != 1 or found[0] != decision:
        decision = None  # the cover page and the metadata disagree, or the cover states no single decision
    out: dict[str, str | None] = {"decision": decision}
    for key, name in (("evidence digest", "evidence_digest"), ("policy digest", "policy_digest")):
        value = fields.get(name)
        out[key] = value if value and value in cover_text else None
    return out


def signed_revision(pdf: bytes) -> bytes:
    """The bytes the (last) signature covers; the whole file when it carries no readable signature.

    Anything appended after signing (a second manifest attachment, say) is not part of it, so what
    verification reports is what was signed.
    """
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        sigs = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
        if not sigs:
            return pdf
        start, length = sigs[-1].byte_range[2], sigs[-1].byte_range[3]
        end = int(start) + int(length)
        return pdf[:end] if 0 < end <= len(pdf) else pdf
    except Exception:  # noqa: BLE001 - a damaged file: the signature checks report it
        return pdf


def _reproducibility_checks(manifest: Mapping[str, Any], *, store: Store | None, review_manifest: Path | None) -> list[Check]:
    checks: list[Check] = []
    if review_manifest is not None:
        from workbench.engine import open_review

        derived = open_review(review_manifest, sample=0).evidence_digest  # a scale review: its lineage, no rows
        ok = derived == manifest.get("evidence_digest")
        checks.append(Check("evidence-digest-reproduced", ok,
                            f"evidence digest re-derived from the artefacts of {review_manifest}" if ok else
                            f"evidence digest re-derived from {review_manifest} is {derived}, the packet states "
                            f"{manifest.get('evidence_digest')}: the artefacts changed since signing"))
    if store is not None:
        head = manifest.get("audit_chain_head")
        chain = store.verify_audit()
        if not chain.ok:
            checks.append(Check("audit-chain", False, f"audit chain of {store.path} is broken: {chain.message}"))
        elif head is None:
            checks.append(Check("audit-chain-head", False, "the manifest names no audit chain head"))
        else:
            seqs = [e.seq for e in store.audit_entries() if e.hash == head]
            checks.append(Check("audit-chain-head", bool(seqs),
                                f"audit chain head is entry {seqs[0]} of an intact chain" if seqs else
                                f"audit chain head {head[:16]}… is not in the chain of {store.path}"))
    return checks


def verify_packet(pdf: bytes | str | Path, *, cert: str | Path, manifest_key: str | Path | None = None,
                  store: Store | None = None, review_manifest: str | Path | None = None) -> VerificationResult:
    """Check a signed packet; see :class:`VerificationResult` for the outcome.

    Parameters
    ----------
    pdf : bytes or path
        The signed packet.
    cert : path, keyword-only
        The certificate the packet must be signed with (PEM or DER).
    manifest_key : path, optional
        Ed25519 public key (PEM) the manifest must be signed with; when None only the embedded
        key is used — it is covered by the PAdES signature, so the certificate vouches for it.
    store : Store, optional
        Check the manifest's audit chain head is in the (intact) chain of this store.
    review_manifest : path, optional
        ``review.yaml``: re-derive the evidence digest from the artefacts and compare.

    Raises
    ------
    VerificationError
        Only when the file or certificate cannot be read at all.
    """
    if not isinstance(pdf, bytes):
        try:
            pdf = Path(pdf).read_bytes()
        except OSError as exc:
            raise VerificationError(f"cannot read the packet {pdf!s}: {exc}") from exc
    load_certificate(Path(cert))  # a clear error for an unreadable certificate
    try:
        checks = _pades_checks(pdf, Path(cert))
    except Exception as exc:  # noqa: BLE001 - a damaged file makes the PDF parser raise many kinds of errors
        checks = [Check("pdf-structure", False, f"the PDF structure is damaged, so the signature cannot be checked ({exc})")]
    envelope = None
    try:
        envelope = read_manifest_envelope(signed_revision(pdf))
        checks += _manifest_checks(pdf, envelope, Path(manifest_key) if manifest_key else None)
    except Exception as exc:  # noqa: BLE001 - same: any parser error means "cannot be read"
        checks.append(Check("manifest-readable", False, f"the embedded manifest cannot be read ({exc})"))
    manifest = (envelope or {}).get("manifest") if envelope else None
    if manifest is not None and (store is not None or review_manifest is not None):
        checks += _reproducibility_checks(manifest, store=store,
                                          review_manifest=Path(review_manifest) if review_manifest else None)
    return VerificationResult(tuple(checks), manifest)
