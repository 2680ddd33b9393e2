"""The PostgreSQL store: what only a server store can get wrong (the shared store tests run on it too).

Selecting it from --db, refusing unusable URLs in one line, the same records as SQLite, the
same schema, append-only triggers, concurrent writers on separate connections, `store migrate`.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from workbench.cli import main
from workbench.errors import StoreError
from workbench.report import init_keys
from workbench.serverkey import ServerKey, load_server_key
from workbench.store import SCHEMA_VERSION, Store
from workbench.store import _store as store_module
from workbench.store._copy import COPY_ORDER


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_an_unknown_url_scheme_is_refused_and_creates_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("mysql://wb@db/workbench", "sqlite:///data/w.db", "postgresql:relative", "postgresql:/collapsed"):
        assert main(["users", "add", "root", "--role", "admin", "--db", url]) == 2
        assert "unknown store URL" in _one_line_error(capsys)
    monkeypatch.setenv("WORKBENCH_DB", "mysql://wb@db/workbench")
    assert main(["audit", "verify"]) == 2
    assert "mysql://wb@db/workbench: unknown store URL" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []  # no `mysql:` folder, no SQLite file


def test_bad_credentials_and_an_unreachable_host_exit_2_in_one_line(pg_server, pg_url, capsys) -> None:
    wrong = pg_server.url(pg_url.rsplit("/", 1)[1], password="not-the-password")
    assert main(["audit", "verify", "--db", wrong]) == 2
    line = _one_line_error(capsys)
    assert "cannot connect to the PostgreSQL store" in line and "password authentication failed" in line
    assert "not-the-password" not in line and ":***@" in line  # the password is never printed
    assert main(["users", "add", "ann", "--role", "legal", "--db", "postgresql://wb@127.0.0.1:1/workbench"]) == 2
    assert "Connection refused" in _one_line_error(capsys)
    missing = pg_server.url("no_such_database")
    assert main(["audit", "verify", "--db", missing]) == 2
    assert 'database "no_such_database" does not exist' in _one_line_error(capsys)
    empty = pg_server.fresh_database(migrated=False)  # a reading command never creates the tables
    assert main(["audit", "verify", "--db", empty]) == 2
    assert "no review store in this database" in _one_line_error(capsys)


class _Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


def _script(store: Store) -> None:
    """A review's life: users, evidence, a draft, a sign-off, a waiver, a policy, a decision, a document."""
    ann = store.add_user("ann", ["security", "admin"], actor="cli:t")  # no password: its salt is random
    gus = store.add_user("gus", ["data_governance"], actor="cli:t")
    rid = store.upsert_review("credit", manifest_path="r.yaml", evidence_digest="e" * 64, actor="cli:t")
    store.save_evidence(rid, {"evidence_digest": "e" * 64, "auc": 0.875, "rows": 1000}, actor="cli:t")
    draft = store.save_draft(rid, "q", "1", ann, {"a": "ünïcode", "n": 3}, expected_version=None)
    store.submit_response(rid, "q", ann, expected_version=draft.version)
    store.sign_off(rid, ann, "security", verdict="approve", comment="ok", evidence_digest="e" * 64,
                   policy_digest="p" * 64)
    store.add_waiver(rid, ann, "security", criterion_id="latency", rationale="pilot", expires="2026-03-01",
                     evidence_digest="e" * 64, policy_digest="p" * 64)
    store.register_policy("gbm", policy_id="p", policy_version="1", policy_digest="p" * 64, content={"k": [1]},
                          user=gus)
    store.register_policy("gbm", policy_id="p", policy_version="2", policy_digest="q" * 64, content={"k": [2]},
                          user=gus)
    store.save_document(rid, "readiness", {"rollback": "blue/green"}, actor="cli:t")
    store.add_monitoring_batch(rid, batch_digest="b", rows=10, window_start="a", window_end="b",
                               metrics={"psi": 0.1}, actor="cli:t")
    store.save_decision(rid, {"outcome": "GO"}, actor="cli:t")


def test_the_same_writes_give_the_same_record_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    # Same clock, same calls: every audit entry, and so the chain head, is byte-identical.
    heads, listings = [], []
    for location in (tmp_path / "w.db", pg_url):
        with Store.open(location, clock=_Clock(), key=None) as store:
            _script(store)
            entries = store.audit_entries()
            heads.append(store.audit_head())
            rid = store.list_reviews()[0].review_id
            listings.append((store.list_signoffs(rid), store.list_waivers(rid), store.registered_policy("gbm"),
                             store.list_users(), [e.payload for e in entries]))
            assert store.verify_integrity().ok
    assert heads[0] == heads[1] and heads[0] is not None
    assert listings[0] == listings[1]


def _columns_sqlite(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {t: sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables}
    conn.close()
    return out


def test_a_new_postgresql_database_gets_the_sqlite_schema(tmp_path: Path, pg_server) -> None:
    url = pg_server.fresh_database(migrated=False)
    with Store.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION and store.dialect == "postgresql"
    Store.open(tmp_path / "w.db").close()
    expected = _columns_sqlite(tmp_path / "w.db")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema()").fetchall()
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    actual: dict[str, list[str]] = {}
    for table, column in rows:
        actual.setdefault(table, []).append(column)
    assert {t: sorted(c) for t, c in actual.items()} == expected
    assert set(expected) - {"schema_version"} == set(COPY_ORDER)  # `store migrate` copies every table
    assert versions == [5, 6]  # a new PostgreSQL store starts at schema 5 in one step


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                                 "TRUNCATE audit_log", "UPDATE checkpoints SET reason = 'x'", "TRUNCATE audit_macs"])
def test_append_only_tables_refuse_changes(pg_url: str, sql: str) -> None:
    with Store.open(pg_url, key=ServerKey.generate()) as store:
        store.audit("a", "note", "s", {})
        store.checkpoint("test")
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute(sql)


def test_disabled_triggers_are_reported(pg_url: str, capsys) -> None:
    with Store.open(pg_url) as store:
        store.audit("a", "note", "s", {})
    with psycopg.connect(pg_url) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    assert main(["audit", "verify", "--db", pg_url]) == 0
    assert "append-only triggers on audit_log are missing" in capsys.readouterr().err


WRITERS, PER_WRITER = 4, 25


def test_concurrent_writers_on_separate_connections_lose_nothing(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        rid = store.upsert_review("r", manifest_path="m", evidence_digest="e", actor="cli:t")
        users = [store.add_user(f"u{i}", ["security"], actor="cli:t") for i in range(WRITERS)]
    start, errors = threading.Barrier(WRITERS), []

    def write(user) -> None:  # noqa: ANN001 - a User
        try:
            with Store.open(pg_url) as own:  # its own connection, as another host would have
                start.wait()
                version = None
                for i in range(PER_WRITER):
                    if i % 2:
                        own.sign_off(rid, user, "security", verdict="approve", comment=str(i),
                                     evidence_digest="e", policy_digest="p")
                    else:
                        version = own.save_draft(rid, "q", "1", user, {"i": i}, expected_version=version).version
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with Store.open(pg_url) as store:
        assert [e.seq for e in store.audit_entries()] == list(range(1, store.audit_count() + 1))
        assert store.audit_count() == 1 + WRITERS + WRITERS * PER_WRITER
        assert len(store.list_signoffs(rid)) == WRITERS * (PER_WRITER // 2)
        assert all(store.get_response(rid, "q", u.name).version == (PER_WRITER + 1) // 2 for u in users)
        assert store.verify_integrity().ok


def test_a_writer_blocked_past_the_busy_timeout_gets_a_clear_error(pg_url: str, monkeypatch) -> None:
    from workbench.store._postgres import WRITE_LOCK

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    with Store.open(pg_url) as store, psycopg.connect(pg_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # another host mid-write
        with pytest.raises(StoreError, match=r"the store is busy: .* 0\.2 s; nothing was saved, try again"):
            store.audit("a", "note", "s", {})
        other.rollback()
        store.audit("a", "note", "s", {})
        assert store.audit_count() == 1 and store.verify_audit().ok


def test_store_migrate_copies_sqlite_to_postgresql_and_back_verifying_on_arrival(
        tmp_path: Path, pg_url: str, pg_server, capsys) -> None:
    keys = tmp_path / "keys"
    init_keys(keys)
    source = tmp_path / "w.db"
    with Store.open(source, key=load_server_key(keys), clock=_Clock()) as store:
        _script(store)
        head = store.audit_head()
    assert main(["store", "migrate", "--from", str(source), "--to", pg_url, "--keys", str(keys)]) == 0
    out = capsys.readouterr().out
    assert f"head {head}" in out and "audit chain intact" in out and ":***@" in out
    with Store.open(pg_url, key=load_server_key(keys)) as store:
        assert store.require_intact().ok and store.audit_head() == head
        rid = store.list_reviews()[0].review_id
        ann = store.require_user("ann")  # new rows continue after the copied keys
        assert store.sign_off(rid, ann, "security", verdict="approve", comment="again", evidence_digest="e",
                              policy_digest="p").signoff_id == 2
    back = tmp_path / "back.db"
    assert main(["store", "migrate", "--from", pg_url, "--to", str(back), "--keys", str(keys)]) == 0
    capsys.readouterr()
    with Store.open(back, key=load_server_key(keys)) as store:
        assert store.require_intact().ok and len(store.list_signoffs(rid)) == 2
    # Into a store that is not empty: refused, nothing written.
    assert main(["store", "migrate", "--from", str(source), "--to", str(back), "--keys", str(keys)]) == 2
    assert "not empty" in _one_line_error(capsys)
    # A tampered source is refused before anything is copied.
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE signoffs SET verdict = 'reject' WHERE signoff_id = 1")
    fresh = pg_server.fresh_database()
    assert main(["store", "migrate", "--from", pg_url, "--to", fresh, "--keys", str(keys)]) == 2
    assert "fails its integrity check" in _one_line_error(capsys)
    with Store.open(fresh) as store:
        assert store.audit_count() == 0
