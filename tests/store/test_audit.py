"""The hash-chained audit log: append, re-derivation, triggers, and the four tamper cases."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.errors import PermissionDenied, StoreError
from workbench.store import Store

N_ENTRIES = 12


class Clock:
    """A deterministic clock: one millisecond per call."""

    def __init__(self) -> None:
        self.t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


def _filled(path: Path | str, n: int = N_ENTRIES) -> Path | str:
    with Store.open(path, clock=Clock()) as store:
        for i in range(n):
            store.audit(f"user{i % 3}", "note", f"subject-{i % 4}", {"i": i, "text": f"entry {i} ✓"})
    return path


def _raw(path: Path) -> sqlite3.Connection:
    """Open the file like an attacker would, with the append-only triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def _rederive(path: Path) -> list[str]:
    """Independent oracle: recompute every hash from the documented formula with hashlib."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT seq, ts, actor, action, subject, payload, prev_hash, hash FROM audit_log ORDER BY seq"
    ).fetchall()
    conn.close()
    prev, out = "0" * 64, []
    for seq, ts, actor, action, subject, payload, prev_hash, stored in rows:
        assert prev_hash == prev
        fields = json.dumps([seq, ts, actor, action, subject], ensure_ascii=False, separators=(",", ":"))
        computed = hashlib.sha256(f"{prev}\n{payload}\n{fields}".encode()).hexdigest()
        assert computed == stored, f"seq {seq}"
        out.append(computed)
        prev = computed
    return out


def _verify_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--db", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_untouched_log_verifies_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled(tmp_path / "w.db")
    hashes = _rederive(path)
    code, out = _verify_cli(path, capsys)
    assert code == 0
    assert f"{N_ENTRIES} entries" in out and hashes[-1] in out
    with Store.open(path) as store:
        result = store.verify_audit()
        assert (result.ok, result.checked, result.head_hash) == (True, N_ENTRIES, hashes[-1])
        assert store.audit_head() == hashes[-1]


def test_entries_carry_clock_time_actor_and_canonical_payload(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db", clock=Clock()) as store:
        entry = store.audit("alice", "note", "r1", {"b": [1, 2.5], "a": "é"})
        raw = store._conn.execute("SELECT payload, ts FROM audit_log WHERE seq = 1").fetchone()
    assert raw[0] == '{"a":"é","b":[1,2.5]}'
    assert raw[1] == entry.ts == "2026-01-02T03:04:05.001000+00:00"
    assert entry.prev_hash == "0" * 64 and entry.payload == {"a": "é", "b": [1, 2.5]}


def _edit(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE audit_log SET payload = ? WHERE seq = 5", (json.dumps({"i": 4, "text": "forged"}),))
    return 5


def _delete(conn: sqlite3.Connection) -> int:
    conn.execute("DELETE FROM audit_log WHERE seq = 7")
    return 7


def _swap(conn: sqlite3.Connection) -> int:
    # Swap rows 4 and 5: each takes the other's position in the sequence.
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 4")
    conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = 5")
    conn.execute("UPDATE audit_log SET seq = 5 WHERE seq = -1")
    return 4


def _insert(conn: sqlite3.Connection) -> int:
    # A forged row appended with a wrong prev_hash but a hash computed by the documented formula.
    seq, ts, payload, prev = N_ENTRIES + 1, "2026-01-02T09:00:00.000000+00:00", '{"forged":true}', "f" * 64
    fields = json.dumps([seq, ts, "mallory", "sign_off", "r1"], separators=(",", ":"))
    digest = hashlib.sha256(f"{prev}\n{payload}\n{fields}".encode()).hexdigest()
    conn.execute("INSERT INTO audit_log VALUES (?, ?, 'mallory', 'sign_off', 'r1', ?, ?, ?)",
                 (seq, ts, payload, prev, digest))
    return seq


def _rehash_edit(conn: sqlite3.Connection) -> int:
    # A careful attacker edits seq 6 and recomputes its hash: the link from seq 7 breaks.
    seq, ts, actor, action, subject, _, prev, _ = conn.execute("SELECT * FROM audit_log WHERE seq = 6").fetchone()
    payload = '{"i":5,"text":"rewritten"}'
    fields = json.dumps([seq, ts, actor, action, subject], ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(f"{prev}\n{payload}\n{fields}".encode()).hexdigest()
    conn.execute("UPDATE audit_log SET payload = ?, hash = ? WHERE seq = 6", (payload, digest))
    return 6


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [(_edit, "edited"), (_delete, "deleted"), (_swap, "reordered"), (_insert, "inserted"),
     (_rehash_edit, "edited")],
    ids=["edit-payload", "delete-row", "swap-order", "forged-row", "edit-and-rehash"],
)
def test_tampering_is_detected_and_names_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper, problem: str
) -> None:
    path = _filled(tmp_path / "w.db")
    conn = _raw(path)
    bad_seq = tamper(conn)
    conn.close()
    code, out = _verify_cli(path, capsys)
    assert code == 1
    assert f"seq {bad_seq} " in out and problem in out
    with Store.open(path) as store:
        result = store.verify_audit()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, bad_seq, problem)
    assert result.triggers_present is False


def test_rehash_of_the_second_to_last_row_is_named_with_both_readings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Re-hashing seq N-1 leaves seq N (the last row) self-consistent but unlinked, exactly
    # like a forged append: the message must name both rows rather than guess one.
    path = _filled(tmp_path / "w.db")
    conn = _raw(path)
    seq, ts, actor, action, subject, _, prev, _ = conn.execute(
        "SELECT * FROM audit_log WHERE seq = ?", (N_ENTRIES - 1,)).fetchone()
    payload = '{"i":0,"text":"rewritten"}'
    fields = json.dumps([seq, ts, actor, action, subject], ensure_ascii=False, separators=(",", ":"))
    conn.execute("UPDATE audit_log SET payload = ?, hash = ? WHERE seq = ?",
                 (payload, hashlib.sha256(f"{prev}\n{payload}\n{fields}".encode()).hexdigest(), seq))
    conn.close()
    code, out = _verify_cli(path, capsys)
    assert code == 1
    assert f"seq {N_ENTRIES} was inserted, or seq {N_ENTRIES - 1} was edited and re-hashed" in out


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'x' WHERE seq = 2",
                                 "DELETE FROM audit_log WHERE seq = 2",
                                 "DELETE FROM audit_log"])
def test_update_and_delete_refused_while_triggers_exist(tmp_path: Path, sql: str) -> None:
    path = _filled(tmp_path / "w.db", n=3)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(sql)
    conn.close()
    with Store.open(path) as store:
        assert store.audit_count() == 3 and store.verify_audit().ok


def test_state_change_and_its_audit_entry_roll_back_together(store_location: Path | str) -> None:
    with Store.open(store_location) as store:
        rid = store.upsert_review("r", manifest_path="m.yaml", evidence_digest="e", actor="cli:t")
        before = store.audit_count()
        with pytest.raises(RuntimeError, match="boom"), store.transaction():
            store.save_decision(rid, {"outcome": "GO"}, actor="cli:t")
            with store.transaction():  # nested: joins the outer transaction
                store.audit("cli:t", "note", rid, {})
            raise RuntimeError("boom")
        assert store.audit_count() == before and store.latest_decision(rid) is None
        assert store.verify_audit().ok


def test_denial_inside_a_rolled_back_transaction_is_still_audited(store_location: Path | str) -> None:
    with Store.open(store_location) as store:
        rid = store.upsert_review("r", manifest_path="m.yaml", evidence_digest="e", actor="cli:t")
        user = store.add_user("rita", ["reviewer"], actor="cli:t")
        with pytest.raises(PermissionDenied), store.transaction():
            store.audit("cli:t", "note", rid, {"will": "roll back"})
            store.sign_off(rid, user, "legal", verdict="approve", comment="", evidence_digest="e",
                           policy_digest="p")
        actions = [e.action for e in store.audit_entries(subject=rid)]
        assert actions == ["review_created", "permission_denied"]
        assert store.verify_audit().ok


def test_audit_entry_filters(store_location: Path | str) -> None:
    path = _filled(store_location)
    with Store.open(path) as store:
        every = store.audit_entries()
        assert [e.seq for e in every] == list(range(1, N_ENTRIES + 1))
        by_subject = store.audit_entries(subject="subject-1")
        assert [e.seq for e in by_subject] == [e.seq for e in every if e.subject == "subject-1"]
        assert [e.seq for e in store.audit_entries(actor="user2", limit=2)] == [3, 6]
        assert [e.seq for e in store.audit_entries(limit=2, newest_first=True)] == [N_ENTRIES, N_ENTRIES - 1]
        since = every[5].ts
        assert [e.seq for e in store.audit_entries(since=since)] == list(range(6, N_ENTRIES + 1))
        with pytest.raises(StoreError, match="payload"):
            store.audit("a", "b", "c", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_audit_log_cli_prints_filtered_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled(tmp_path / "w.db")
    assert main(["audit", "log", "--db", str(path), "--subject", "subject-0", "--limit", "2", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs == [5, 9]  # the two newest of subject-0 (seq 1, 5, 9), printed oldest first


_payloads = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none(),
              st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=3)),
    max_size=4,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(_payloads, min_size=1, max_size=8), data=st.data())
def test_any_payloads_verify_and_any_single_edit_is_caught(payloads: list[dict], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.db"
        with Store.open(path) as store:
            for payload in payloads:
                store.audit("actor", "note", "s", payload)
            assert store.verify_audit().ok
        _rederive(path)
        target = data.draw(st.integers(1, len(payloads)), label="seq")
        conn = _raw(path)
        conn.execute("UPDATE audit_log SET payload = payload || ' ' WHERE seq = ?", (target,))
        conn.close()
        with Store.open(path) as store:
            result = store.verify_audit()
        assert (result.ok, result.first_bad_seq, result.problem) == (False, target, "edited")


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 10**12), texts=st.lists(st.text(), min_size=4, max_size=4), payload=st.text())
def test_entry_hash_matches_the_documented_json_formula(seq: int, texts: list[str], payload: str) -> None:
    from workbench.store._audit import entry_hash

    ts, actor, action, subject = texts
    fields = json.dumps([seq, ts, actor, action, subject], ensure_ascii=False, separators=(",", ":"))
    expected = hashlib.sha256(f"{'a' * 64}\n{payload}\n{fields}".encode()).hexdigest()
    assert entry_hash("a" * 64, payload, seq, ts, actor, action, subject) == expected
