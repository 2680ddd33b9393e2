"""`workbench verify` against hostile packets: exact decision, signed revision only, a pinned key, no traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.report import build_manifest, init_keys, key_paths, read_manifest_envelope, render_packet_pdf, sign_packet
from workbench.report import verify_packet
from workbench.report._verify import signed_revision


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys") / "k"
    init_keys(folder)
    return folder


@pytest.fixture(scope="module")
def unsigned(realistic_input) -> bytes:
    return render_packet_pdf(realistic_input)


def test_a_manifest_saying_go_over_a_no_go_packet_is_caught(unsigned, realistic_input, keys) -> None:
    # "GO" is a substring of "NO-GO": the comparison must be exact, not `in`.
    manifest = build_manifest(realistic_input, unsigned)
    assert manifest["decision"]["decision"] == "NO-GO"
    manifest["decision"]["decision"] = "GO"
    forged, _ = sign_packet(unsigned, realistic_input, keys=keys, manifest=manifest)
    p = key_paths(keys)
    result = verify_packet(forged, cert=p.signing_cert, manifest_key=p.manifest_pub)
    assert not result.valid
    assert [c.name for c in result.checks if not c.ok] == ["manifest-matches-pdf"]
    assert "decision" in result.reasons[0]


def test_the_manifest_is_read_from_the_signed_revision(unsigned, realistic_input, keys) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed, envelope = sign_packet(unsigned, realistic_input, keys=keys)
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    w.root[generic.pdf_name("/PageMode")] = generic.pdf_name("/UseOutlines")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    appended = out.getvalue()
    assert len(appended) > len(signed) and signed_revision(appended) == signed
    assert read_manifest_envelope(signed_revision(appended)) == envelope
    assert signed_revision(b"not a pdf") == b"not a pdf"


def test_a_missing_manifest_key_fails_instead_of_trusting_the_embedded_one(unsigned, realistic_input, keys,
                                                                           tmp_path: Path) -> None:
    signed, _ = sign_packet(unsigned, realistic_input, keys=keys)
    result = verify_packet(signed, cert=key_paths(keys).signing_cert, manifest_key=tmp_path / "typo.pem")
    assert not result.valid and "cannot pin the manifest key" in " ".join(result.reasons)


def test_verify_pins_the_manifest_key_kept_beside_the_given_certificate(unsigned, realistic_input, keys,
                                                                       tmp_path: Path, capsys) -> None:
    signed, _ = sign_packet(unsigned, realistic_input, keys=keys)
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(signed)
    other = tmp_path / "other"
    init_keys(other)
    # The auditor is handed the right certificate, but next to it lies another Ed25519 key: pinned, so it fails.
    (other / "signing-cert.pem").write_bytes(key_paths(keys).signing_cert.read_bytes())
    assert main(["verify", str(pdf), "--cert", str(other / "signing-cert.pem"), "--keys", str(tmp_path / "none")]) == 1
    assert "manifest-key" in capsys.readouterr().out
    assert main(["verify", str(pdf), "--cert", str(key_paths(keys).signing_cert), "--keys", str(tmp_path / "none")]) == 0


@pytest.mark.parametrize("content", [b"", b"%PDF-1.7\n garbage \x00\xff", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>"],
                         ids=["empty", "garbage", "truncated"])
def test_verify_never_prints_a_traceback(keys, tmp_path: Path, capsys, content: bytes) -> None:
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(content)
    code = main(["verify", str(pdf), "--keys", str(keys)])
    out = capsys.readouterr()
    assert code in (1, 2) and "Traceback" not in out.out + out.err
    assert "INVALID" in out.out or out.err.startswith("workbench: error:")
