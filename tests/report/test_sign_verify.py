"""Signing and verification on real PDFs, real keys and real tampering (no mocks)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from workbench.errors import SigningError
from workbench.report import (
    build_manifest,
    init_keys,
    key_paths,
    read_manifest_envelope,
    render_packet_pdf,
    sign_packet,
    verify_packet,
)
from workbench.report._sign import _signing_time, sign_manifest, sign_pdf
from workbench.report._verify import (
    REASON_APPENDED,
    REASON_MANIFEST_SIG,
    REASON_NOT_INTACT,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys") / "k"
    init_keys(folder)
    return folder


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys2") / "k"
    init_keys(folder, organisation="Mallory Ltd")
    return folder


@pytest.fixture(scope="module")
def unsigned(realistic_input) -> bytes:
    return render_packet_pdf(realistic_input)


@pytest.fixture(scope="module")
def signed(unsigned, realistic_input, keys) -> bytes:
    return sign_packet(unsigned, realistic_input, keys=keys)[0]


def _verify(pdf: bytes, keys: Path, **kw):
    p = key_paths(keys)
    return verify_packet(pdf, cert=p.signing_cert, manifest_key=p.manifest_pub, **kw)


def test_keys_init_writes_private_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    paths = init_keys(tmp_path / "keys")
    assert stat.S_IMODE(paths.folder.stat().st_mode) == 0o700
    for p in (paths.signing_key, paths.signing_cert, paths.manifest_key, paths.manifest_pub):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    before = paths.signing_key.read_bytes()
    with pytest.raises(SigningError, match="--force"):
        init_keys(tmp_path / "keys")
    init_keys(tmp_path / "keys", force=True)
    assert paths.signing_key.read_bytes() != before


def test_signing_without_a_key_names_keys_init(tmp_path: Path, unsigned, realistic_input) -> None:
    with pytest.raises(SigningError, match="workbench keys init"):
        sign_packet(unsigned, realistic_input, keys=tmp_path / "nothing-here")


def test_sign_then_verify_passes_every_check(signed, keys) -> None:
    result = _verify(signed, keys)
    assert result.valid, result.reasons
    names = {c.name for c in result.checks}
    assert {"signer-certificate", "signature-intact", "signature-covers-file", "no-later-modifications",
            "manifest-signature", "manifest-key", "manifest-matches-pdf"} <= names
    assert result.exit_code == 0


def test_poppler_pdfsig_agrees_the_signature_is_valid(signed, tmp_path: Path) -> None:
    import subprocess

    f = tmp_path / "p.pdf"
    f.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(f)], capture_output=True, text=True, check=False).stdout
    assert "Signature is Valid" in out and "Total document signed" in out


@pytest.mark.parametrize("where", [0.02, 0.3, 0.6, 0.97])
def test_flipping_one_byte_anywhere_fails(signed, keys, where: float) -> None:
    i = int(len(signed) * where)
    tampered = signed[:i] + bytes([signed[i] ^ 0x01]) + signed[i + 1:]
    result = _verify(tampered, keys)
    assert not result.valid
    assert result.exit_code == 1
    assert result.reasons


def test_flipping_a_byte_of_page_content_breaks_the_digest(signed, keys) -> None:
    # A byte inside the first page's compressed content stream: the file still parses.
    m = re.search(rb"stream\r?\n", signed[len(signed) // 3:])
    i = len(signed) // 3 + m.end() + 20
    tampered = signed[:i] + bytes([signed[i] ^ 0x01]) + signed[i + 1:]
    result = _verify(tampered, keys)
    assert REASON_NOT_INTACT in result.reasons


def test_incremental_update_after_signing_is_detected(signed, keys) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    info = w.root  # any change: add a harmless-looking key to the catalog
    info[generic.pdf_name("/PageMode")] = generic.pdf_name("/UseOutlines")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    result = _verify(out.getvalue(), keys)
    assert not result.valid
    assert REASON_APPENDED in result.reasons


def test_swapping_in_the_manifest_of_another_packet_is_detected(unsigned, realistic_input, keys) -> None:
    other = dataclasses.replace(realistic_input, review_name="another review")
    other_pdf = render_packet_pdf(other)
    foreign = build_manifest(other, other_pdf)  # validly signed, but about another document
    forged, _ = sign_packet(unsigned, realistic_input, keys=keys, manifest=foreign)
    result = _verify(forged, keys)
    assert [c.name for c in result.checks if not c.ok] == ["manifest-matches-pdf"]
    assert "manifest does not match the PDF" in result.reasons[0]


def test_editing_the_manifest_breaks_its_ed25519_signature(unsigned, realistic_input, keys) -> None:
    paths = key_paths(keys)
    envelope = sign_manifest(build_manifest(realistic_input, unsigned), paths.manifest_key)
    envelope["manifest"]["decision"]["decision"] = "GO"  # the forger's wish
    forged = sign_pdf(unsigned, envelope, paths, signing_time=_signing_time(realistic_input.generated_at, paths.signing_cert))
    result = _verify(forged, keys)
    assert REASON_MANIFEST_SIG in result.reasons


def test_rewriting_the_embedded_manifest_in_place_is_detected(signed, keys) -> None:
    # The attachment is stored uncompressed; change the decision inside it, same length.
    i = signed.index(b'"decision":"NO-GO"')
    tampered = signed[:i] + b'"decision":"GO!!!"' + signed[i + len(b'"decision":"NO-GO"'):]
    result = _verify(tampered, keys)
    assert REASON_NOT_INTACT in result.reasons
    assert REASON_MANIFEST_SIG in result.reasons


def test_signed_with_another_key_than_cert_names(unsigned, realistic_input, keys, other_keys) -> None:
    by_other, _ = sign_packet(unsigned, realistic_input, keys=other_keys)
    result = _verify(by_other, keys)
    assert not result.valid
    failing = {c.name: c.detail for c in result.checks if not c.ok}
    assert failing["signer-certificate"].startswith("signed with a different certificate than")
    assert "Mallory Ltd" in failing["signer-certificate"]
    assert "manifest-key" in failing  # the manifest key differs too


def test_manifest_checks_out_without_a_pdf_library(signed, keys) -> None:
    """What an auditor can do with only hashlib and an Ed25519 implementation."""
    start = signed.index(b'{"manifest":')
    depth, end = 0, start
    for end in range(start, len(signed)):
        depth += {ord("{"): 1, ord("}"): -1}.get(signed[end], 0)
        if depth == 0:
            break
    envelope = json.loads(signed[start:end + 1])
    manifest = envelope["manifest"]
    message = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(envelope["signature"]["public_key"]))
    key.verify(base64.b64decode(envelope["signature"]["value"]), message)  # raises if invalid
    n = manifest["unsigned_pdf"]["bytes"]
    assert hashlib.sha256(signed[:n]).hexdigest() == manifest["unsigned_pdf"]["sha256"]
    assert envelope == read_manifest_envelope(signed)


def test_manifest_restates_the_input(signed, realistic_input) -> None:
    m = read_manifest_envelope(signed)["manifest"]
    ev = realistic_input.evidence
    assert m["evidence_digest"] == ev["evidence_digest"]
    assert m["policy_digest"] == realistic_input.policy_digest
    assert [a["sha256"] for a in m["artefacts"]] == [a["sha256"] for a in ev["artefacts"]]
    assert m["decision"]["decision"] == "NO-GO"
    assert [c["id"] for c in m["decision"]["criteria"]] == [c["id"] for c in realistic_input.decision["criteria"]]
    assert [s["user"] for s in m["signoffs"]] == [s["user"] for s in realistic_input.signoffs]
    assert m["audit_chain_head"] == realistic_input.audit_head


def test_signed_packet_is_byte_identical_when_rebuilt(signed, realistic_input, keys) -> None:
    again = sign_packet(render_packet_pdf(realistic_input), realistic_input, keys=keys)[0]
    assert again == signed


def _issue(folder: Path, ca_key, ca_name, *, cn: str) -> None:
    """An organisation-style keys folder: an end-entity certificate issued by a CA (not self-signed)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    init_keys(folder)  # for the Ed25519 manifest key; the PAdES key and certificate are replaced below
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = key_paths(folder)
    paths.signing_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    paths.signing_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ca(tmp_path: Path, name: str):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, subject, path


def test_organisation_certificate_verifies_against_its_ca(tmp_path: Path, unsigned, realistic_input) -> None:
    ca_key, ca_name, ca_pem = _ca(tmp_path, "Acme Root CA")
    _, _, other_ca_pem = _ca(tmp_path, "Other Root CA")
    _issue(tmp_path / "org", ca_key, ca_name, cn="Acme packet signing")
    pdf, _ = sign_packet(unsigned, realistic_input, keys=tmp_path / "org")
    ok = verify_packet(pdf, cert=ca_pem)
    assert ok.valid, ok.reasons
    bad = verify_packet(pdf, cert=other_ca_pem)
    assert [c.name for c in bad.checks if not c.ok] == ["signer-certificate"]
