"""Versioned schema of the review store: ordered migration functions.

The ``schema_version`` table holds one row per applied migration (``version``,
``applied_at``). Opening a store runs every migration whose number is above the highest
recorded one, each inside a write transaction of the backend (``BEGIN IMMEDIATE`` on SQLite,
the store's advisory lock on PostgreSQL) so two processes opening the same new store cannot
both apply it. A store whose recorded version is above :data:`SCHEMA_VERSION` was written by a
newer workbench and is refused.

These are the SQLite migrations; the PostgreSQL backend has its own list (``_postgres``) of
the same length, so a version number means the same schema on both. Add a migration by
appending a function to :data:`MIGRATIONS` and to the PostgreSQL list; never edit an existing
one (databases in the field already ran it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._backend import Backend

_V1 = """
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    roles TEXT NOT NULL,               -- JSON array of role names, sorted
    password_hash TEXT,                -- scrypt$n$r$p$salt$hash; NULL: cannot log in
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,             -- canonical JSON, hashed as stored
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject);
CREATE INDEX audit_log_actor ON audit_log(actor);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TABLE reviews (
    review_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manifest_path TEXT NOT NULL,
    evidence_digest TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE evidence_runs (
    run_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    evidence_digest TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX evidence_runs_review ON evidence_runs(review_id, evidence_digest);
CREATE TABLE responses (
    response_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    questionnaire_id TEXT NOT NULL,
    questionnaire_version TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    revision INTEGER NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'superseded')),
    answers TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT,
    supersedes INTEGER REFERENCES responses(response_id),
    revision_reason TEXT,
    UNIQUE (review_id, questionnaire_id, reviewer, revision)
);
CREATE TABLE signoffs (
    signoff_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    user TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('approve', 'reject')),
    comment TEXT NOT NULL,
    evidence_digest TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE waivers (
    waiver_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    user TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL,
    criterion_id TEXT NOT NULL,
    rationale TEXT NOT NULL,
    expires TEXT NOT NULL,
    evidence_digest TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE TABLE decisions (
    decision_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    decision TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE exports (
    export_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
"""

_V2 = """
CREATE TABLE documents (
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    kind TEXT NOT NULL CHECK (kind IN ('readiness', 'model_card')),
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (review_id, kind)
);
CREATE TABLE monitoring_batches (
    batch_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    batch_digest TEXT NOT NULL,
    rows INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (review_id, batch_digest)
);
CREATE TABLE alerts (
    alert_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    ack_comment TEXT
);
CREATE INDEX responses_key ON responses(review_id, questionnaire_id, reviewer);
"""

# Who may act (issue 15, items 4-7): demo marking, login throttling, API tokens, four-eyes
# waivers (countersignature columns) and objections.
_V4 = """
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE TABLE login_throttle (
    name TEXT PRIMARY KEY,             -- the name tried, known user or not
    failures INTEGER NOT NULL,         -- consecutive failures since the last success
    last_failure TEXT NOT NULL,
    locked_until TEXT
);
CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    scopes TEXT NOT NULL,              -- JSON array, sorted
    token_hash TEXT NOT NULL,          -- sha256 hex of the secret part; the token is never stored
    expires TEXT NOT NULL,             -- last valid day (ISO date)
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
ALTER TABLE waivers ADD COLUMN countersigned_by TEXT;
ALTER TABLE waivers ADD COLUMN countersigned_role TEXT;
ALTER TABLE waivers ADD COLUMN countersigned_at TEXT;
CREATE TABLE objections (
    objection_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    author TEXT NOT NULL REFERENCES users(name),
    rationale TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'withdrawn')),
    resolved_by TEXT,
    resolved_role TEXT,
    resolution TEXT,
    resolved_at TEXT
);
CREATE INDEX objections_review ON objections(review_id);
"""


_V3 = """
CREATE TABLE audit_macs (
    seq INTEGER PRIMARY KEY,           -- the audit_log entry
    mac TEXT NOT NULL                  -- HMAC-SHA256(server key, entry hash), hex
);
CREATE TRIGGER audit_macs_no_update BEFORE UPDATE ON audit_macs
BEGIN SELECT RAISE(ABORT, 'audit_macs is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_macs_no_delete BEFORE DELETE ON audit_macs
BEGIN SELECT RAISE(ABORT, 'audit_macs is append-only: DELETE refused'); END;
CREATE TABLE checkpoints (
    checkpoint_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,              -- the chain head signed
    head_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,              -- decision | daily | bind | report
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL            -- Ed25519 over canonical {seq, head_hash, created_at, reason}
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused'); END;
CREATE TABLE integrity_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE policy_registrations (
    registration_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,               -- the candidate model name (manifest candidate.name)
    tier TEXT,                         -- risk tier, NULL: any
    version INTEGER NOT NULL,          -- 1, 2, ... per (model, tier)
    policy_id TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    policy_digest TEXT NOT NULL,
    content TEXT NOT NULL,             -- canonical JSON of the policy
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX policy_registrations_model ON policy_registrations(model, tier, version);
"""


def _v3(backend: Backend) -> None:
    backend.run_script(_V3)
    # Entries and rows written before binding existed are reported as "legacy" until an
    # admin with the server key binds them (`workbench audit bind`).
    last = backend.rows("SELECT max(seq) FROM audit_log")[0][0]
    if last:
        backend.insert("integrity_meta", {"name": "legacy_until_seq", "value": str(last)})


_V3_OPERATIONS = """
CREATE TABLE alert_deliveries (
    delivery_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL,           -- no foreign key: `alerts test` runs before any review exists
    alert_id INTEGER REFERENCES alerts(alert_id),  -- NULL for a test alert
    channel TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'dead_letter')),
    receipt TEXT NOT NULL,             -- canonical JSON: HTTP status / SMTP reply, or the error
    body_sha256 TEXT NOT NULL,
    elapsed_ms REAL NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX alert_deliveries_review ON alert_deliveries(review_id, delivery_id);
CREATE TABLE monitor_checkpoints (
    review_id TEXT NOT NULL,
    source TEXT NOT NULL,
    part TEXT NOT NULL,                -- a file of the source, or a DuckDB table
    rows_done INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (review_id, source, part)
);
CREATE TABLE monitor_scores (
    batch_id INTEGER PRIMARY KEY REFERENCES monitoring_batches(batch_id),
    payload BLOB NOT NULL              -- Parquet: id, score, sensitive features (late labels join on id)
);
CREATE TABLE feedback (
    feedback_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('contest', 'complaint', 'praise', 'comment')),
    text TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'upheld', 'overturned')),
    links TEXT NOT NULL,               -- canonical JSON: prediction, top reasons, group values
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (review_id, digest)
);
CREATE TABLE scheduled_reviews (
    schedule_id INTEGER PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews(review_id),
    reasons TEXT NOT NULL,             -- canonical JSON list
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
"""


# Sign-out revocations of the app's browser-reload session tokens (issue 18 item 4), shared by
# every app instance on the store. The app created this same table ad hoc before schema 6, so a
# store that has it already keeps its rows.
_V6 = """
CREATE TABLE IF NOT EXISTS ui_session_revocations (
    token_id TEXT PRIMARY KEY,         -- the random id inside the token (never the token)
    expires_at INTEGER NOT NULL        -- unix seconds; rows past it are purged
);
"""


def _script(sql: str) -> Callable[[Backend], None]:
    def run(backend: Backend) -> None:
        backend.run_script(sql)

    return run


#: Ordered migrations; migration ``i`` (1-based) brings the schema to version ``i``.
# 3: record binding (issue 15 items 1-3); 4: who may act (items 4-7); 5: operations (issue 17);
# 6: app session revocations (issue 18)
MIGRATIONS: tuple[Callable[[Backend], None] | None, ...] = (
    _script(_V1), _script(_V2), _v3, _script(_V4), _script(_V3_OPERATIONS), _script(_V6))
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(backend: Backend) -> int:
    """Highest applied migration number, 0 for an empty database."""
    if not backend.table_exists("schema_version"):
        return 0
    return int(backend.rows("SELECT max(version) FROM schema_version")[0][0] or 0)


def migrate(backend: Backend, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the backend's pending migrations up to ``target``; return the resulting version.

    Each migration runs in its own write transaction together with its ``schema_version`` row.
    A ``None`` in the backend's list is a step folded into the next migration (a new
    PostgreSQL store starts at schema 5 in one step).

    Raises
    ------
    StoreError
        When the store's schema is newer than this code knows, or ``target`` is a version the
        backend never stops at.
    """
    migrations = backend.migrations
    while True:
        with backend.transaction(immediate=True):
            if not backend.table_exists("schema_version"):
                backend.run_script("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                                   "applied_at TEXT NOT NULL);")
            version = current_version(backend)
            if version > len(migrations):
                raise StoreError(
                    f"{backend.location}: the store has schema version {version} but this workbench "
                    f"understands up to version {len(migrations)}; upgrade the workbench "
                    "or open a different --db"
                )
            if version >= target:
                return version
            step = version
            while migrations[step] is None:
                step += 1
            if step + 1 > target:
                raise StoreError(f"{backend.location}: a {backend.dialect} store starts at schema version "
                                 f"{step + 1}, not {target}")
            migrations[step](backend)  # type: ignore[misc]
            backend.insert("schema_version", {"version": step + 1,
                                              "applied_at": datetime.now(UTC).isoformat(timespec="seconds")})


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "current_version", "migrate"]
