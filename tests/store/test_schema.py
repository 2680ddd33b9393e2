"""Opening the store: pragmas, migrations from version 1, refusing newer files, bad paths."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from workbench.store._backend import SQLiteBackend
from workbench.store._schema import MIGRATIONS, SCHEMA_VERSION, migrate
from workbench.errors import StoreError
from workbench.store import Store


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    return names


def test_new_store_has_pragmas_current_schema_and_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "w.db"
    with Store.open(path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        assert store.db.table_names()  # the sqlite-utils view of the same file
    assert {"users", "audit_log", "reviews", "responses", "documents", "alerts"} <= _tables(path)


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db") as store:
        with pytest.raises(StoreError, match="FOREIGN KEY"), store.transaction():
            store._execute("INSERT INTO decisions (review_id, decision, digest, created_at, created_by) "
                           "VALUES ('nope', '{}', 'd', 't', 'a')")


def test_version_1_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # Build a version-1 file by running only migration 1, then write data the v1 way.
    backend = SQLiteBackend.connect(path, create=True, migrations=MIGRATIONS)
    assert migrate(backend, target=1) == 1
    backend.close()
    assert "documents" not in _tables(path)
    with Store.open(path, schema_version=1) as old:
        assert old.schema_version == 1
        rid = old.upsert_review("legacy", manifest_path="r.yaml", evidence_digest="e0", actor="cli:old")
        old.add_user("ann", ["legal"], password="legal-pass-1", actor="cli:old")
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.get_review(rid).name == "legacy"  # type: ignore[union-attr]
        assert store.authenticate("ann", "legal-pass-1").roles == ("legal",)
        doc = store.save_document(rid, "readiness", {"rollback": "blue/green"}, actor="cli:new")
        assert doc.version == 1
        actions = [e.action for e in store.audit_entries()]
        assert actions == ["review_created", "user_added", "login", "document_saved"]
        assert store.verify_audit().ok
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 7,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=f"version {SCHEMA_VERSION + 7}.*up to version {SCHEMA_VERSION}"):
        Store.open(path)


def test_missing_file_with_create_false_and_non_database_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no review store"):
        Store.open(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store.open(junk)


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    for _ in range(3):
        with Store.open(path) as store:
            store.audit("a", "open", "s", {})
    with Store.open(path) as store:
        assert store.audit_count() == 3 and store.schema_version == SCHEMA_VERSION


def test_naive_clock_is_rejected(tmp_path: Path) -> None:
    from datetime import datetime

    with Store.open(tmp_path / "w.db", clock=lambda: datetime(2026, 1, 1)) as store:
        with pytest.raises(StoreError, match="timezone-aware"):
            store.audit("a", "b", "c", {})


def test_schema_6_keeps_the_session_revocations_the_app_made_before(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Store.open(path, schema_version=5).close()
    conn = sqlite3.connect(path)  # what workbench_ui.session_token created ad hoc before schema 6
    conn.execute("CREATE TABLE IF NOT EXISTS ui_session_revocations (token_id TEXT PRIMARY KEY, "
                 "expires_at INTEGER NOT NULL)")
    conn.execute("INSERT INTO ui_session_revocations VALUES (?, ?)", ("ab" * 16, 4_000_000_000))
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        assert store.session_revoked("ab" * 16) and not store.session_revoked("cd" * 16)
        assert store.verify_integrity().ok
