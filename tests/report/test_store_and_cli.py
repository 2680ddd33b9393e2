"""The packet against a real SQLite store and through the `workbench` CLI."""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests._demo import copy_demo
from workbench.canonical import sha256_file
from workbench.cli import main
from workbench.report import (
    collect_packet_input,
    init_keys,
    key_paths,
    render_packet_pdf,
    sign_packet,
    verify_packet,
    write_packet,
)
from workbench.store import Store


def _text(pdf: bytes) -> str:
    return "".join("".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture()
def keys(tmp_path: Path) -> Path:
    return init_keys(tmp_path / "keys").folder


@pytest.fixture()
def stored_review(tmp_path: Path, realistic_input):
    store = Store.open(tmp_path / "wb.db")
    rid = store.upsert_review(realistic_input.review_name, manifest_path="review.yaml",
                              evidence_digest=realistic_input.evidence["evidence_digest"], actor="cli:test")
    store.save_evidence(rid, dict(realistic_input.evidence), actor="cli:test")
    pat = store.add_user("pat", ["product_owner"], actor="cli:admin")
    store.sign_off(rid, pat, "product_owner", verdict="approve", comment="Business case holds.",
                   evidence_digest=realistic_input.evidence["evidence_digest"], policy_digest=realistic_input.policy_digest)
    store.save_decision(rid, dict(realistic_input.decision), actor="cli:test")
    yield store, rid
    store.close()


def test_packet_from_the_store_records_each_export_in_the_audit_log(stored_review, keys, tmp_path: Path,
                                                                    realistic_input) -> None:
    store, rid = stored_review
    inp = collect_packet_input(store, rid, generated_by="alex", policy_text=realistic_input.policy_text,
                               policy_digest=realistic_input.policy_digest)
    assert inp.generated_at == realistic_input.decision["generated_at"]
    assert [s["user"] for s in inp.signoffs] == ["pat"]
    head_before = store.audit_head()
    assert inp.audit_head == head_before
    result = write_packet(inp, tmp_path / "out" / "p.pdf", keys=keys, html=tmp_path / "p.html", store=store, actor="alex")
    exports = store.list_exports(rid)
    assert {(e.kind, e.sha256) for e in exports} == {("packet_pdf", sha256_file(tmp_path / "out" / "p.pdf")),
                                                     ("packet_html", sha256_file(tmp_path / "p.html"))}
    audited = store.audit_entries(subject=rid, action="exported")
    assert [e.payload["sha256"] for e in audited] == [e.sha256 for e in exports]
    assert all(e.actor == "alex" for e in audited)
    assert store.verify_audit().ok
    # The audit excerpt in the PDF names the sign-off entry; the head it states is still in the chain.
    verdict = verify_packet(tmp_path / "out" / "p.pdf", cert=key_paths(keys).signing_cert, store=store)
    assert verdict.valid, verdict.reasons
    assert any(c.name == "audit-chain-head" and c.ok for c in verdict.checks)
    text = _text((tmp_path / "out" / "p.pdf").read_bytes())
    assert "pat" in text and "product_owner" in text and result["sha256"] == sha256_file(tmp_path / "out" / "p.pdf")


def test_two_builds_from_the_same_stored_review_are_byte_identical(stored_review, keys, tmp_path: Path,
                                                                   realistic_input) -> None:
    """The packet freezes the review at its decision: later audit entries (exports, a late sign-off) do not leak in."""
    store, rid = stored_review
    first = write_packet(collect_packet_input(store, rid, generated_by="alex"), tmp_path / "a.pdf", keys=keys,
                         store=store)
    kim = store.add_user("kim", ["security"], actor="cli:admin")
    store.sign_off(rid, kim, "security", verdict="approve", comment="late", policy_digest=realistic_input.policy_digest,
                   evidence_digest=realistic_input.evidence["evidence_digest"])
    inp = collect_packet_input(store, rid, generated_by="alex")
    assert [s["user"] for s in inp.signoffs] == ["pat"]  # kim signed after the decision: re-run the gate
    second = write_packet(inp, tmp_path / "b.pdf", keys=keys, store=store)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert first["sha256"] == second["sha256"]
    assert len(store.list_exports(rid)) == 2


def test_verify_flags_an_audit_head_missing_from_the_chain(realistic_input, keys, tmp_path: Path) -> None:
    pdf, _ = sign_packet(render_packet_pdf(realistic_input), realistic_input, keys=keys)
    with Store.open(tmp_path / "other.db") as other:
        other.audit("cli:test", "note", "x", {})
        result = verify_packet(pdf, cert=key_paths(keys).signing_cert, store=other)
    assert not result.valid
    assert any("is not in the chain" in r for r in result.reasons)


def test_cli_keys_init_then_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    assert main(["keys", "init", "--keys", str(tmp_path / "k"), "--org", "Acme Bank"]) == 0
    assert key_paths(tmp_path / "k").signing_cert.is_file()
    assert main(["keys", "init", "--keys", str(tmp_path / "k")]) == 2
    assert "--force" in capsys.readouterr().err


def test_cli_report_without_a_key_names_keys_init(tmp_path: Path, capsys) -> None:
    rc = main(["report", str(tmp_path / "review.yaml"), "--out", str(tmp_path / "p.pdf"), "--keys", str(tmp_path / "none")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "workbench keys init" in err and err.count("\n") == 1


def test_cli_verify_exit_codes_and_reason(realistic_input, keys, tmp_path: Path, capsys) -> None:
    pdf, _ = sign_packet(render_packet_pdf(realistic_input), realistic_input, keys=keys)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    assert main(["verify", str(good), "--keys", str(keys)]) == 0
    assert "VALID" in capsys.readouterr().out
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    w.root[generic.pdf_name("/Lang")] = generic.TextStringObject("en")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(out.getvalue())
    assert main(["verify", str(bad), "--keys", str(keys)]) == 1
    assert "signature does not cover the whole file: content appended after signing" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.pdf"), "--keys", str(keys)]) == 2


@pytest.mark.slow
def test_demo_review_end_to_end_through_the_cli(demo_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Demo scenario → evidence (small bootstrap) → decision in a store → `report` → `verify --db --manifest`."""
    from workbench.policy import decide_review
    from workbench.artefacts import load_review
    from workbench.evidence import build_evidence
    from workbench.policy import load_policy

    scenario = tmp_path / "scenario"
    manifest = copy_demo(demo_dir, scenario, n_bootstrap=20)
    review = load_review(manifest)
    evidence = build_evidence(review, include=("metrics", "calibration", "drift", "fairness"))
    policy = load_policy(scenario / "policy.yaml")
    db, keys = tmp_path / "wb.db", tmp_path / "keys"
    with Store.open(db) as store:
        rid = store.upsert_review(review.manifest.name, manifest_path=str(review.manifest.source),
                                  evidence_digest=review.evidence_digest, actor="cli:test")
        store.save_evidence(rid, evidence, actor="cli:test")
        decision = decide_review(review, policy, evidence, at=dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC),
                                 store=store, review_id=rid)
        store.save_decision(rid, decision.to_dict(), actor="cli:test")
        ci = store.add_user("ci", ["operations"], password="ci-secret-12", actor="cli:test")
        token, _ = store.create_token("ci", "report", expires=dt.date.today() + dt.timedelta(days=7), actor=ci)
    monkeypatch.setenv("WORKBENCH_TOKEN", token)  # the packet's author is authenticated (a pipeline token)
    assert main(["keys", "init", "--keys", str(keys)]) == 0
    out = tmp_path / "packet.pdf"
    t0 = time.perf_counter()
    assert main(["report", str(manifest), "--out", str(out), "--html", str(tmp_path / "p.html"), "--json",
                 str(tmp_path / "p.json"), "--db", str(db), "--keys", str(keys)]) == 0
    elapsed = time.perf_counter() - t0
    assert main(["report", str(manifest), "--out", str(tmp_path / "again.pdf"), "--db", str(db), "--keys", str(keys)]) == 0
    assert (tmp_path / "again.pdf").read_bytes() == out.read_bytes()  # rebuilt from the same stored review
    capsys.readouterr()
    text = _text(out.read_bytes())
    assert decision.outcome in text
    for c in decision.criteria:
        assert c.id in text, c.id
    assert main(["verify", str(out), "--keys", str(keys), "--db", str(db), "--manifest", str(manifest)]) == 0
    report = capsys.readouterr().out
    assert "ok    evidence-digest-reproduced" in report and "ok    audit-chain-head" in report
    with Store.open(db, create=False) as store:
        assert sorted(e.kind for e in store.list_exports(rid)) == ["packet_html", "packet_json", "packet_pdf", "packet_pdf"]
    print(f"demo packet: {out.stat().st_size:,} bytes, report command {elapsed:.2f} s")
