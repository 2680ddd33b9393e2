"""Copy a whole store into a new one (SQLite to PostgreSQL, or back) and verify it on arrival.

Rows are copied exactly as stored (same keys, same text, the audit log and its MACs and signed
checkpoints untouched), so every row hash, entry hash and signature checks out in the copy
with the same server key. The copy and its integrity check run in one transaction of the
target: a copy that does not verify is rolled back, leaving the target empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._integrity import IntegrityReport
    from workbench.store._store import Store

#: Every table of the schema in copy order (foreign keys point to tables earlier in the list).
COPY_ORDER = (
    "users", "reviews", "evidence_runs", "responses", "signoffs", "waivers", "decisions", "exports", "documents",
    "monitoring_batches", "alerts", "store_meta", "login_throttle", "api_tokens", "objections", "audit_log",
    "audit_macs", "checkpoints", "integrity_meta", "policy_registrations", "alert_deliveries",
    "monitor_checkpoints", "monitor_scores", "feedback", "scheduled_reviews", "ui_session_revocations",
)


def copy_store(source: Store, target: Store) -> IntegrityReport:
    """Copy ``source`` into the empty ``target`` and return the target's integrity report.

    Raises
    ------
    StoreError
        The source fails its own integrity check, the schemas differ, the target already holds
        users or audit entries, or the copy does not verify (then nothing was written).
    """
    before = source.verify_integrity()
    if not before.ok:
        raise StoreError(f"{source.path}: the source store fails its integrity check ({before.message}); "
                         "nothing was copied")
    if source.schema_version != target.schema_version:
        raise StoreError(f"{source.path} has schema {source.schema_version}, {target.path} has "
                         f"{target.schema_version}: open both with the same workbench")
    occupied = [t for t in ("users", "audit_log", "reviews") if target._fetchall(f"SELECT 1 AS x FROM {t} LIMIT 1")]
    if occupied:
        raise StoreError(f"{target.path}: the target store is not empty (it has {', '.join(occupied)}); "
                         "copy into a new database")
    with target.transaction():
        for table in COPY_ORDER:
            for row in source._fetchall(f"SELECT * FROM {table} ORDER BY 1"):
                target._insert(table, row)
        target._reset_keys(COPY_ORDER)
        after = target.verify_integrity()
        if not after.ok or after.head_hash != before.head_hash or after.entries != before.entries:
            raise StoreError(f"{target.path}: the copy does not verify ({after.message}); nothing was written")
    return after


__all__ = ["COPY_ORDER", "copy_store"]
