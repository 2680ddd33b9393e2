"""The record is the control: every row a decision reads is bound to the MACed, checkpointed chain.

Each test is an attack by someone holding the database file but not the server key, done with
plain ``sqlite3`` or ``psycopg`` as they would (on both backends), and what ``verify_integrity`` / ``workbench audit verify`` says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import IntegrityError, PermissionDenied
from workbench.report import init_keys
from workbench.serverkey import ServerKey, load_server_key
from workbench.store import Store
from workbench.store._audit import entry_hash  # noqa: PLC2701 - the attacker's own re-hashing tool

from tests.store._raw import raw

EV = {"evidence_digest": "e" * 64, "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.717}}}}}


@pytest.fixture
def key() -> ServerKey:
    return ServerKey.generate()


@pytest.fixture
def filled(store_location: Path | str, key: ServerKey) -> tuple[Path | str, str]:
    """A keyed store with a review, evidence, a sign-off, a waiver, a response and a decision (on SQLite,
    then on PostgreSQL: the tamper tests below run against both)."""
    db = store_location
    with Store.open(db, key=key) as store:
        sam = store.add_user("sam", ["security"], password="sam-secret-1", actor="test")
        rid = store.upsert_review("credit", manifest_path="review.yaml", evidence_digest="e" * 64, actor="cli:t")
        store.save_evidence(rid, EV, actor="cli:t")
        store.sign_off(rid, sam, "security", verdict="approve", comment="ok", evidence_digest="e" * 64,
                       policy_digest="p" * 64)
        store.add_waiver(rid, sam, "security", criterion_id="latency", rationale="pilot",
                         expires=dt.date.today() + dt.timedelta(days=30), evidence_digest="e" * 64,
                         policy_digest="p" * 64)
        draft = store.save_draft(rid, "q", "1", sam, {"a": 1}, expected_version=None)
        store.submit_response(rid, "q", sam, expected_version=draft.version)
        store.save_decision(rid, {"outcome": "PENDING"}, actor="cli:t")
        assert store.verify_integrity().ok, store.verify_integrity().message
    return db, rid


def _sql(db: Path | str, *statements: tuple) -> None:
    conn = raw(db)
    for statement in statements:
        conn.execute(*statement)
    conn.commit()
    conn.close()


def _problems(db: Path | str, key: ServerKey | None) -> list[str]:
    with Store.open(db, key=key) as store:
        return [p.message for p in store.verify_integrity().problems]


def test_an_intact_store_verifies_with_rows_and_checkpoints(filled, key):
    db, _ = filled
    with Store.open(db, key=key) as store:
        report = store.require_intact()
    # sam, the review, evidence run, sign-off, waiver, response, decision
    assert report.ok and report.rows == 7 and report.checkpoints >= 2 and report.key_checked


def test_a_role_granted_with_sqlite3_is_an_edited_row(filled, key):
    # Roles decide who may sign: giving sam legal outside the workbench must not go unseen.
    db, _ = filled
    _sql(db, ("UPDATE users SET roles = ? WHERE name = 'sam'", ('["legal", "security"]',)))
    assert any(p.startswith("users row sam was edited") for p in _problems(db, key)), _problems(db, key)


def test_inserted_signoff_row_is_named(filled, key):
    db, rid = filled
    _sql(db, ("INSERT INTO signoffs (review_id, \"user\", role, verdict, comment, evidence_digest, policy_digest, "
              "created_at) VALUES (?, 'sam', 'security', 'approve', 'x', ?, ?, '2026-11-26')",
              (rid, "e" * 64, "p" * 64)))
    assert _problems(db, key) == ["signoffs row 2 was inserted outside the workbench: no audit entry records it"]
    with Store.open(db, key=key) as store, pytest.raises(IntegrityError, match="signoffs row 2 was inserted"):
        store.require_intact()


def test_inserted_waiver_row_is_named(filled, key):
    db, rid = filled
    _sql(db, ("INSERT INTO waivers (review_id, \"user\", role, criterion_id, rationale, expires, evidence_digest, "
              "policy_digest, created_at) VALUES (?, 'sam', 'security', 'fairness', 'x', '2030-01-01', ?, ?, 'now')",
              (rid, "e" * 64, "p" * 64)))
    assert _problems(db, key) == ["waivers row 2 was inserted outside the workbench: no audit entry records it"]


def test_update_raising_the_auc_is_named(filled, key):
    db, _ = filled
    raised = json.dumps({**EV, "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.99}}}}})
    _sql(db, ("UPDATE evidence_runs SET evidence = ? WHERE run_id = 1", (raised,)))
    (problem,) = _problems(db, key)
    assert problem.startswith("evidence_runs row 1 was edited outside the workbench: it no longer matches audit entry seq")


def test_deleted_rows_are_named(filled, key):
    db, _ = filled
    _sql(db, ("DELETE FROM signoffs",), ("DELETE FROM decisions",))
    problems = _problems(db, key)
    assert len(problems) == 2
    assert problems[0].startswith("decisions row 1 was deleted: audit entry seq")
    assert problems[1].startswith("signoffs row 1 was deleted: audit entry seq")


def test_forged_entry_appended_without_the_key_is_detected(filled, key):
    """The attacker inserts a sign-off and appends a chain-valid entry binding it: only the MAC is missing."""
    from workbench.canonical import canonical_json
    from workbench.store._integrity import row_hash  # noqa: PLC2701 - the documented row hash

    db, rid = filled
    conn = raw(db)
    conn.execute("INSERT INTO signoffs (review_id, \"user\", role, verdict, comment, evidence_digest, policy_digest, "
                 "created_at) VALUES (?, 'sam', 'security', 'approve', 'x', ?, ?, 'now')", (rid, "e" * 64, "p" * 64))
    cur = conn.execute("SELECT * FROM signoffs WHERE signoff_id = 2")
    row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    seq, prev = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    payload = canonical_json({"signoff_id": 2, "bound": [["signoffs", "2", row_hash(row)]]})
    ts = "2026-11-26T12:00:00.000000+00:00"
    digest = entry_hash(prev, payload, seq + 1, ts, "sam", "sign_off", rid)
    conn.execute("INSERT INTO audit_log VALUES (?, ?, 'sam', 'sign_off', ?, ?, ?, ?)",
                 (seq + 1, ts, rid, payload, prev, digest))
    conn.execute("INSERT INTO audit_macs VALUES (?, ?)", (seq + 1, hashlib.sha256(digest.encode()).hexdigest()))
    conn.commit()
    conn.close()
    with Store.open(db, key=None) as store:
        assert store.verify_audit().ok  # the plain chain is fooled ...
    (problem,) = _problems(db, key)  # ... the MAC is not
    assert problem == (f"audit entries without a valid MAC (seq {seq + 1}): written without the server key, "
                       "i.e. forged or rewritten outside the workbench")


def test_a_keyed_store_read_without_the_key_is_refused(filled):
    db, _ = filled
    (problem,) = _problems(db, None)
    assert "only the server key can check" in problem


def _rehash_tail(db: Path | str, start: int) -> None:
    """Rewrite audit rows from ``start`` on with re-computed hashes (triggers dropped, as an attacker can)."""
    conn = raw(db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    rows = conn.execute("SELECT seq, ts, actor, action, subject, payload, prev_hash FROM audit_log "
                        "WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
    prev = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (start - 1,)).fetchone()[0]
    for seq, ts, actor, action, subject, payload, _ in rows:
        if seq == start:
            payload = payload.replace('"approve"', '"reject"') if '"approve"' in payload else payload + " "
        digest = entry_hash(prev, payload, seq, ts, actor, action, subject)
        conn.execute("UPDATE audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (payload, prev, digest, seq))
        prev = digest
    conn.commit()
    conn.close()


def test_rehashed_tail_after_a_checkpoint_is_detected(filled, key):
    db, _ = filled
    with Store.open(db, key=key) as store:
        cp = store.checkpoint("test")
    _rehash_tail(db, cp["seq"] - 1)
    problems = _problems(db, key)
    assert any(f"audit log re-hashed after checkpoint {cp['checkpoint_id']}" in p for p in problems)


def test_truncated_tail_after_a_checkpoint_is_detected(filled, key):
    db, _ = filled
    with Store.open(db, key=key) as store:
        cp = store.checkpoint("test")
    conn = raw(db)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq >= ?", (cp["seq"] - 1,))
    conn.commit()
    conn.close()
    problems = _problems(db, key)
    assert f"audit log truncated: checkpoint {cp['checkpoint_id']} signed the head at seq {cp['seq']} but the log " \
           f"ends at seq {cp['seq'] - 2}" in problems


def test_forged_checkpoint_is_detected(filled, key):
    db, _ = filled
    other = ServerKey.generate()
    with Store.open(db, key=other) as store:
        store.checkpoint("forged")  # also MACs nothing: checkpoints are not audit entries
    problems = _problems(db, key)
    assert any("is not signed by the server key: forged or edited" in p for p in problems)


def test_decisions_and_a_daily_checkpoint_sign_the_head(tmp_path, key):
    now = [dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)]
    with Store.open(tmp_path / "w.db", key=key, clock=lambda: now[0]) as store:
        store.audit("cli:t", "note", "store", {})
        now[0] += dt.timedelta(hours=23)
        store.audit("cli:t", "note", "store", {})
        now[0] += dt.timedelta(hours=2)
        store.audit("cli:t", "note", "store", {})
        reasons = [r for (r,) in store._conn.execute("SELECT reason FROM checkpoints ORDER BY checkpoint_id")]
    assert reasons == ["daily", "daily"]


def test_a_v2_store_reports_legacy_rows_until_an_admin_binds_them(tmp_path, key, capsys, monkeypatch):
    from workbench.store._audit import append  # noqa: PLC2701 - writing as a schema-2 workbench did

    db = tmp_path / "w.db"
    with Store.open(db, schema_version=2, key=None) as old:
        old.add_user("root", ["admin"], password="root-secret-1", actor="test")
        old.add_user("sam", ["security"], password="sam-secret-1", actor="test")
        with old.transaction():  # rows and entries as a schema-2 workbench wrote them: nothing bound
            old._conn.execute("INSERT INTO reviews VALUES ('r1', 'credit', 'r.yaml', 'e', 'now', 'cli:t', 'now')")
            append(old._backend, ts="now", actor="cli:t", action="review_created", subject="r1", payload={})
            old._conn.execute("INSERT INTO signoffs VALUES (1, 'r1', 'sam', 'security', 'approve', '', 'e', 'p', 'now')")
            append(old._backend, ts="now", actor="sam", action="sign_off", subject="r1", payload={"signoff_id": 1})
    problems = _problems(db, key)
    assert any("predate MACs" in p or "before the store had a server key" in p for p in problems)
    assert "signoffs row 1 predates row binding (schema 3) and is not bound" in " ".join(problems)
    with Store.open(db, key=key) as store:
        with pytest.raises(PermissionDenied):
            store.bind_legacy(store.get_user("sam"))
        entry = store.bind_legacy(store.get_user("root"))
        # the review, the sign-off and the two users (roles are bound state too)
        assert entry.payload["rows_bound"] == 4 and store.verify_integrity().ok
        assert store.audit_entries(action="audit_bound")[0].actor == "root"


def test_cli_audit_verify_names_table_and_row_and_exits_1(filled, tmp_path, capsys):
    db, _ = filled
    keys = tmp_path / "keys"
    init_keys(keys)
    server = load_server_key(keys)
    db2 = tmp_path / "w2.db"
    with Store.open(db2, key=server) as store:
        store.upsert_review("credit", manifest_path="r.yaml", evidence_digest="e", actor="cli:t")
    assert main(["audit", "verify", "--db", str(db2), "--keys", str(keys)]) == 0
    assert "1 bound rows" in capsys.readouterr().out
    _sql(db2, ("UPDATE reviews SET evidence_digest = 'f'",))
    assert main(["audit", "verify", "--db", str(db2), "--keys", str(keys)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("integrity: reviews row ") and "was edited outside the workbench" in err
    assert main(["audit", "verify", "--db", str(db2), "--keys", str(keys), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["problems"][0]["table"] == "reviews" and out["problems"][0]["kind"] == "edited"


def test_require_intact_sees_a_tamper_by_another_connection_after_a_cached_check(filled, key):
    db, rid = filled
    with Store.open(db, key=key) as store:
        store.require_intact()
        store.save_decision(rid, {"outcome": "GO"}, actor="cli:t")  # own writes keep the cache valid
        store.require_intact()
        _sql(db, ("UPDATE decisions SET decision = '{}' WHERE decision_id = 2",))
        with pytest.raises(IntegrityError, match="decisions row 2 was edited outside the workbench"):
            store.require_intact()
