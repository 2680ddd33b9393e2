"""Reviews, evidence, decisions, exports, documents, waivers and monitoring records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from workbench.canonical import digest
from workbench.errors import PermissionDenied, StaleWriteError, StoreError
from workbench.store import Store

TODAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "w.db", clock=lambda: TODAY) as s:
        yield s


@pytest.fixture
def review(store: Store) -> str:
    return store.upsert_review("credit 2.3", manifest_path="/r/review.yaml", evidence_digest="e1", actor="cli:t")


def test_review_id_is_stable_and_upsert_updates(store: Store, review: str) -> None:
    expected = hashlib.sha256(json.dumps(["credit 2.3"], separators=(",", ":")).encode())
    assert review == expected.hexdigest()[:16]
    # The same review checked out elsewhere (e.g. on a CI runner) is the same review.
    again = store.upsert_review("credit 2.3", manifest_path="/ci/build/review.yaml", evidence_digest="e2", actor="cli:t")
    assert again == review and store.get_review(review).evidence_digest == "e2"  # type: ignore[union-attr]
    assert store.get_review(review).manifest_path == "/ci/build/review.yaml"  # type: ignore[union-attr]
    assert [r.review_id for r in store.list_reviews()] == [review]
    assert [e.action for e in store.audit_entries(subject=review)] == ["review_created", "review_updated"]


def test_evidence_runs_by_latest_and_by_digest(store: Store, review: str) -> None:
    ev1 = {"schema_version": 1, "evidence_digest": "e1", "models": {"candidate": {"auc": 0.8}}}
    ev2 = {"schema_version": 1, "evidence_digest": "e2", "models": {}, "digest": "given"}
    run1 = store.save_evidence(review, ev1, actor="cli:t")
    run2 = store.save_evidence(review, ev2, actor="cli:t")
    assert store.latest_evidence(review).run_id == run2  # type: ignore[union-attr]
    found = store.evidence_by_digest(review, "e1")
    assert found.run_id == run1 and found.evidence == ev1  # type: ignore[union-attr]
    assert found.content_digest == digest(ev1)  # type: ignore[union-attr]
    assert store.latest_evidence(review).content_digest == "given"  # type: ignore[union-attr]
    assert [r.evidence for r in store.list_evidence_runs(review)] == [None, None]
    with pytest.raises(StoreError, match="evidence_digest"):
        store.save_evidence(review, {"models": {}}, actor="cli:t")


def test_decisions_and_exports(store: Store, review: str) -> None:
    assert store.latest_decision(review) is None
    store.save_decision(review, {"outcome": "PENDING"}, actor="cli:t")
    second = store.save_decision(review, {"outcome": "GO", "criteria": []}, actor="cli:t")
    latest = store.latest_decision(review)
    assert latest.decision_id == second and latest.digest == digest({"outcome": "GO", "criteria": []})  # type: ignore[union-attr]
    assert [d.decision["outcome"] for d in store.list_decisions(review)] == ["PENDING", "GO"]
    export_id = store.record_export(review, actor="cli:t", kind="packet_pdf", sha256="ab" * 32, path="p.pdf",
                                    bytes=1234)
    (record,) = store.list_exports(review)
    assert (record.export_id, record.kind, record.bytes) == (export_id, "packet_pdf", 1234)
    outcomes = [e.payload.get("outcome") for e in store.audit_entries(action="decision_saved")]
    assert outcomes == ["PENDING", "GO"]


def test_documents_use_optimistic_versions(store: Store, review: str) -> None:
    assert store.get_document(review, "model_card") is None
    doc = store.save_document(review, "model_card", {"owner": "risk"}, actor="alice")
    doc2 = store.save_document(review, "model_card", {"owner": "credit"}, actor="bob", expected_version=doc.version)
    assert (doc2.version, doc2.content, doc2.updated_by) == (2, {"owner": "credit"}, "bob")
    with pytest.raises(StaleWriteError, match="saved meanwhile by bob"):
        store.save_document(review, "model_card", {"owner": "x"}, actor="alice", expected_version=1)
    with pytest.raises(StoreError, match="document kind"):
        store.save_document(review, "memo", {}, actor="alice")  # type: ignore[arg-type]


def test_waivers_need_the_role_a_rationale_and_a_future_expiry(store: Store, review: str) -> None:
    gov = store.add_user("carol", ["data_governance"], actor="cli:t")
    ops = store.add_user("frank", ["operations"], actor="cli:t")
    admin = store.add_user("root", ["admin"], actor="cli:t")
    kwargs = {"criterion_id": "fairness.dp_ratio", "evidence_digest": "e1", "policy_digest": "p1"}
    with pytest.raises(StoreError, match="rationale"):
        store.add_waiver(review, gov, "data_governance", rationale="", expires=date(2026, 6, 1), **kwargs)
    with pytest.raises(StoreError, match="must expire after today"):
        store.add_waiver(review, gov, "data_governance", rationale="ok", expires=date(2026, 3, 1), **kwargs)
    with pytest.raises(PermissionDenied):
        store.add_waiver(review, ops, "data_governance", rationale="ok", expires=date(2026, 6, 1), **kwargs)
    waiver = store.add_waiver(review, gov, "data_governance", rationale="small group, monitored",
                              expires="2026-06-01", **kwargs)  # type: ignore[arg-type]
    assert not waiver.is_active(date(2026, 5, 1)) and waiver.state == "proposed"  # one pair of eyes is not enough
    legal = store.add_user("lena", ["legal"], actor="cli:t")
    allowed = ("data_governance", "legal")
    with pytest.raises(PermissionDenied, match="four-eyes-waiver"):
        store.countersign_waiver(waiver.waiver_id, gov, "data_governance", allowed_roles=allowed,
                                 evidence_digest="e1", policy_digest="p1")
    with pytest.raises(PermissionDenied, match="waivable-by"):
        store.countersign_waiver(waiver.waiver_id, ops, "operations", allowed_roles=allowed,
                                 evidence_digest="e1", policy_digest="p1")
    with pytest.raises(PermissionDenied, match="stale: the evidence changed"):
        store.countersign_waiver(waiver.waiver_id, legal, "legal", allowed_roles=allowed,
                                 evidence_digest="e2", policy_digest="p1")
    waiver = store.countersign_waiver(waiver.waiver_id, legal, "legal", allowed_roles=allowed,
                                      evidence_digest="e1", policy_digest="p1")
    assert waiver.state == "countersigned" and waiver.countersigned_by == "lena"
    refused = [e.payload["reason"] for e in store.audit_entries(action="permission_denied")]
    assert any(r.startswith("four-eyes-waiver") for r in refused) and any(r.startswith("waivable-by") for r in refused)
    assert waiver.is_active(date(2026, 6, 1)) and not waiver.is_active(date(2026, 6, 2))
    assert [w.waiver_id for w in store.list_waivers(review, active_only=True)] == [waiver.waiver_id]
    with pytest.raises(PermissionDenied):
        store.revoke_waiver(waiver.waiver_id, ops, reason="no")
    revoked = store.revoke_waiver(waiver.waiver_id, admin, reason="superseded by retraining")
    assert revoked.revoked_by == "root" and store.list_waivers(review, active_only=True) == []
    with pytest.raises(StoreError, match="already revoked"):
        store.revoke_waiver(waiver.waiver_id, admin, reason="again")
    with pytest.raises(StoreError, match="signed-in User"):
        store.add_waiver(review, "carol", "data_governance", rationale="ok", expires=date(2026, 6, 1),  # type: ignore[arg-type]
                         **kwargs)


def test_sign_off_validation(store: Store, review: str) -> None:
    legal = store.add_user("erin", ["legal"], actor="cli:t")
    with pytest.raises(StoreError, match="verdict"):
        store.sign_off(review, legal, "legal", verdict="maybe", comment="", evidence_digest="e", policy_digest="p")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="rejection needs a comment"):
        store.sign_off(review, legal, "legal", verdict="reject", comment="", evidence_digest="e", policy_digest="p")
    rejected = store.sign_off(review, legal, "legal", verdict="reject", comment="DPIA missing",
                              evidence_digest="e", policy_digest="p")
    assert store.list_signoffs(review) == [rejected]


def test_monitoring_batches_are_idempotent_and_alerts_acknowledged(store: Store, review: str) -> None:
    kwargs = {"rows": 500, "window_start": "2026-02-01", "window_end": "2026-02-07", "actor": "monitor"}
    batch = store.add_monitoring_batch(review, batch_digest="b1", metrics={"psi": 0.3}, **kwargs)
    again = store.add_monitoring_batch(review, batch_digest="b1", metrics={"psi": 0.9}, **kwargs)
    assert again == batch and len(store.list_monitoring_batches(review)) == 1
    alert = store.add_alert(review, rule="psi>0.25", severity="warning", message="drift: retrain soon",
                            details={"psi": 0.3}, actor="monitor")
    assert [a.alert_id for a in store.list_alerts(review, open_only=True)] == [alert.alert_id]
    acked = store.acknowledge_alert(alert.alert_id, actor="frank", comment="retraining scheduled")
    assert acked.acknowledged_by == "frank" and store.list_alerts(review, open_only=True) == []
    with pytest.raises(StoreError, match="severity"):
        store.add_alert(review, rule="r", severity="bad", message="m", details={}, actor="monitor")
    actions = [e.action for e in store.audit_entries(subject=review)][1:]
    assert actions == ["monitoring_batch_added", "alert_raised", "alert_acknowledged"]


def _writes(store: Store, review: str):
    sec = store.add_user("sec", ["security", "data_governance"], actor="cli:t")
    doc = {"v": None}

    def save_doc() -> None:
        doc["v"] = store.save_document(review, "readiness", {"a": 1}, actor="x", expected_version=doc["v"]).version

    return {
        "upsert_review": lambda: store.upsert_review("n", manifest_path="m", evidence_digest="e", actor="x"),
        "save_evidence": lambda: store.save_evidence(review, {"evidence_digest": "e"}, actor="x"),
        "save_decision": lambda: store.save_decision(review, {"outcome": "GO"}, actor="x"),
        "record_export": lambda: store.record_export(review, actor="x", kind="k", sha256="s", path="p", bytes=1),
        "save_document": save_doc,
        "sign_off": lambda: store.sign_off(review, sec, "security", verdict="approve", comment="",
                                           evidence_digest="e", policy_digest="p"),
        "add_waiver": lambda: store.add_waiver(review, sec, "data_governance", criterion_id="c", rationale="r",
                                               expires=date(2027, 1, 1), evidence_digest="e", policy_digest="p"),
        "add_alert": lambda: store.add_alert(review, rule="r", severity="info", message="m", details={},
                                             actor="x"),
        "add_user": lambda: store.add_user(f"u{store.audit_count()}", ["legal"], actor="x"),
        "disable_user": lambda: store.disable_user("sec", actor="x"),
    }


@pytest.mark.parametrize("method", ["upsert_review", "save_evidence", "save_decision", "record_export",
                                    "save_document", "sign_off", "add_waiver", "add_alert", "add_user",
                                    "disable_user"])
def test_every_write_path_appends_exactly_one_audit_entry(store: Store, review: str, method: str) -> None:
    write = _writes(store, review)[method]
    for _ in range(2 if method != "disable_user" else 1):
        before = store.audit_count()
        write()
        assert store.audit_count() == before + 1
    assert store.verify_audit().ok
