"""The review store: every piece of review state, in one SQLite file or one PostgreSQL database.

Open it with :meth:`Store.open`. The store talks to its database through a small backend
(``_backend.Backend``): the embedded default is a SQLite file through sqlite-utils
(WAL-journalled, a 5 s busy timeout, foreign keys); ``postgresql://user@host/dbname`` selects
the PostgreSQL backend (``_postgres``) for teams running several app instances. Each backend
runs its own ordered migrations (a newer schema is refused). One ``Store`` may be shared by
threads (a lock serialises its use); separate processes and hosts coordinate through the database.

Every write method runs in one write transaction holding the store's write lock (SQLite's
``BEGIN IMMEDIATE``, a PostgreSQL advisory lock) and appends exactly one hash-chained audit
entry in the same transaction, so a state change and its audit row commit together or not
at all. ``actor`` arguments take a user name (``str``) or a :class:`~workbench.auth.User`;
a ``User`` is authorised (and refusals audited), a plain string is a trusted local actor
such as ``"cli:alice"`` (whoever runs the CLI can write the file anyway). Methods that
decide on behalf of a role (sign-offs, waivers) always need a ``User``.

Methods
-------
Lifecycle
    ``Store.open(path_or_url, *, create=True, clock=None) -> Store``; ``close()``; context manager;
    ``path`` (the file, or the URL without its password); ``dialect`` (``sqlite``/``postgresql``);
    ``db`` (the ``sqlite_utils.Database`` of a SQLite store); ``schema_version``;
    ``transaction()`` (re-entrant write transaction ... ``COMMIT``/``ROLLBACK``);
    ``now()`` (the store clock as UTC ISO-8601).
Audit
    ``audit(actor, action, subject, payload) -> AuditEntry``;
    ``audit_entries(*, subject=None, actor=None, action=None, since=None, limit=None,
    newest_first=False) -> list[AuditEntry]``; ``verify_audit() -> AuditVerification``;
    ``audit_head() -> str | None``; ``audit_count() -> int``.
Integrity (``workbench/store/_integrity.py``: rows bound to the chain, MACs, checkpoints)
    ``server_key`` (the ``ServerKey`` or None); ``verify_integrity() -> IntegrityReport``;
    ``require_intact() -> IntegrityReport`` (raises ``IntegrityError``); ``checkpoint(reason)``
    (sign the head); ``checkpoint_at(seq)`` (the signed checkpoint of that head); ``bind_legacy(admin)`` (bind rows written before schema 3).
Policies (``workbench/store/_policies.py``)
    ``register_policy(model, *, policy_id, policy_version, policy_digest, content, user, tier=None)
    -> PolicyRegistration``; ``registered_policy(model, *, tier=None)``; ``list_policies(model=None)``.
Users and permissions (``workbench/_store_users.py``)
    ``add_user(name, roles, *, password=None, display_name=None, actor) -> User``;
    ``get_user(name) -> User | None``; ``require_user(name) -> User``;
    ``list_users(*, include_disabled=True) -> list[User]``;
    ``disable_user(name, *, actor) -> User``; ``enable_user(name, *, actor) -> User``;
    ``set_password(name, password, *, actor) -> User``; ``set_roles(name, roles, *, actor) -> User``;
    ``authenticate(name, password) -> User``;
    ``authorize(user, action, *, role=None, subject=None) -> None``;
    ``has_active_user_for(role) -> bool``; ``users_by_role() -> dict[str, list[str]]``.
Reviews, evidence, decisions, exports, documents (``workbench/_store_reviews.py``)
    ``review_id_for(name) -> str``;
    ``upsert_review(name, *, manifest_path, evidence_digest, actor) -> str``;
    ``get_review(review_id) -> Review | None``; ``list_reviews() -> list[Review]``;
    ``save_evidence(review_id, evidence, *, actor) -> int``;
    ``latest_evidence(review_id) -> EvidenceRun | None``;
    ``evidence_by_digest(review_id, evidence_digest) -> EvidenceRun | None``;
    ``list_evidence_runs(review_id) -> list[EvidenceRun]`` (without the JSON);
    ``save_decision(review_id, decision, *, actor) -> int``;
    ``latest_decision(review_id) -> DecisionRecord | None``;
    ``list_decisions(review_id) -> list[DecisionRecord]``;
    ``record_export(review_id, *, actor, kind, sha256, path, bytes) -> int``;
    ``list_exports(review_id) -> list[ExportRecord]``;
    ``save_document(review_id, kind, content, *, actor, expected_version=None) -> Document``;
    ``get_document(review_id, kind) -> Document | None``.
Questionnaire responses (``workbench/_store_responses.py``)
    ``save_draft(review_id, questionnaire_id, questionnaire_version, reviewer, answers, *,
    expected_version) -> Response``;
    ``submit_response(review_id, questionnaire_id, reviewer, *, expected_version) -> Response``;
    ``revise_response(review_id, questionnaire_id, reviewer, *, reason, actor) -> Response``;
    ``get_response(review_id, questionnaire_id, reviewer, *, revision=None) -> Response | None``;
    ``list_responses(review_id, questionnaire_id=None, *, status=None, current_only=True)``.
Sign-offs and waivers (``workbench/_store_signoffs.py``)
    ``sign_off(review_id, user, role, *, verdict, comment, evidence_digest, policy_digest)
    -> SignOff``; ``list_signoffs(review_id) -> list[SignOff]``;
    ``add_waiver(review_id, user, role, *, criterion_id, rationale, expires, evidence_digest,
    policy_digest) -> Waiver``; ``list_waivers(review_id, *, active_only=False, on=None)``;
    ``countersign_waiver(waiver_id, user, role, *, allowed_roles, evidence_digest, policy_digest)
    -> Waiver`` (four eyes: a waiver applies only once countersigned by someone else);
    ``revoke_waiver(waiver_id, user, *, reason) -> Waiver``.
Who may act (``_users``, ``_tokens``, ``_objections``)
    ``authenticate`` is throttled per name (back-off, lock-out; ``unlock_user``);
    ``deny(user, action, subject, reason)`` audits and raises a refusal;
    ``is_demo`` / ``mark_demo(actor=)``; ``create_token(owner, scopes, *, expires, actor)``,
    ``authenticate_token(text, *, scope)``, ``get_token``, ``list_tokens``, ``revoke_token``;
    ``get_waiver(waiver_id)``;
    ``add_objection(review_id, user, *, rationale)``, ``list_objections``, ``get_objection``,
    ``resolve_objection(objection_id, user, *, outcome, rationale, role, allowed_roles)``.
Monitoring (``workbench/_store_monitoring.py``)
    ``add_monitoring_batch(review_id, *, batch_digest, rows, window_start, window_end,
    metrics, actor) -> MonitoringBatch``; ``find_monitoring_batch(review_id, batch_digest)``;
    ``list_monitoring_batches(review_id)``;
    ``add_alert(review_id, *, rule, severity, message, details, actor) -> Alert``;
    ``list_alerts(review_id, *, open_only=False)``;
    ``acknowledge_alert(alert_id, *, actor, comment="") -> Alert``.
Operations (``workbench/store/_operations.py``)
    ``record_delivery(...) -> Delivery``; ``list_deliveries(review_id, *, alert_id=None)``;
    ``checkpoints(review_id, source)``; ``record_live_window(...) -> MonitoringBatch`` (window and
    checkpoint in one transaction); ``advance_checkpoint(...)``; ``batch_scores(batch_id)``;
    ``update_batch_metrics(batch_id, metrics, *, reason, actor)``;
    ``add_feedback(review_id, *, record_id, kind, text, outcome, links, actor) -> (Feedback, bool)``;
    ``list_feedback(review_id)``; ``open_scheduled_review(review_id, *, reasons, actor)``;
    ``list_scheduled_reviews(review_id)``.
App sessions (``workbench/store/_sessions.py``)
    ``session_secret() -> bytes`` (the store's half of the cookie-signing secret);
    ``revoke_session(token_id, *, expires_at, actor)`` (sign-out, audited);
    ``session_revoked(token_id) -> bool``;
    ``spend_session_grant(grant_id, *, expires_at, user, session_id) -> bool`` (single use, audited).

Examples
--------
>>> import tempfile, pathlib
>>> with Store.open(pathlib.Path(tempfile.mkdtemp()) / "w.db") as store:
...     entry = store.audit("cli:test", "note", "store", {"text": "hello"})
...     (entry.seq, store.verify_audit().ok)
(1, True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.store import _audit as _store_audit
from workbench.store import _integrity
from workbench.store._backend import BUSY_TIMEOUT_MS, Backend, Location, SQLiteBackend, parse_location
from workbench.store._integrity import IntegrityReport
from workbench.store._audit import AuditEntry, AuditVerification
from workbench.store._policies import PoliciesMixin, PolicyRegistration
from workbench.store._monitoring import Alert, MonitoringBatch, MonitoringMixin
from workbench.store._objections import Objection, ObjectionsMixin
from workbench.store._operations import OperationsMixin
from workbench.store._postgres import PostgresBackend
from workbench.store._tokens import ApiToken, TokensMixin
from workbench.store._responses import Response, ResponsesMixin
from workbench.store._reviews import (
    DecisionRecord,
    Document,
    EvidenceRun,
    ExportRecord,
    Review,
    ReviewsMixin,
)
from workbench.store._schema import MIGRATIONS, SCHEMA_VERSION, current_version, migrate
from workbench.store._sessions import SessionsMixin
from workbench.store._signoffs import SignOff, SignoffsMixin, Waiver
from workbench.store._users import UsersMixin
from workbench.auth import ROLES, User
from workbench.serverkey import ServerKey, load_server_key
from workbench.errors import IntegrityError, StoreError, WorkbenchError

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store(UsersMixin, ReviewsMixin, ResponsesMixin, SignoffsMixin, MonitoringMixin, PoliciesMixin,
            TokensMixin, ObjectionsMixin, OperationsMixin, SessionsMixin):
    """An open review store. Create with :meth:`Store.open`, not the constructor."""

    def __init__(self, backend: Backend, *, location: Location, clock: Callable[[], datetime],
                 key: ServerKey | None = None):
        self._key = key
        self._intact_at: str | None = None
        self._intact_report: IntegrityReport | None = None
        self._backend = backend
        self._path = location if isinstance(location, Path) else backend.location
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._pending_denials: list[tuple[str, str, str, dict[str, Any]]] = []

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = True,
        clock: Callable[[], datetime] | None = None,
        schema_version: int = SCHEMA_VERSION,
        key: ServerKey | None | str = "auto",
    ) -> Store:
        """Open (and create/upgrade) the store at ``path``.

        Parameters
        ----------
        path : str or Path
            The SQLite file (its parent folder is created when ``create`` is true), or a
            ``postgresql://user@host/dbname`` URL (the database must exist; its tables are
            created on first use). Any other ``scheme://`` is refused.
        create : bool
            When False a missing file (or a PostgreSQL database without the workbench's tables) is
            an error instead of a new empty store.
        clock : callable, optional
            Returns the current time as an aware ``datetime`` (tests inject a fixed clock).
        schema_version : int
            Migrate only up to this version (tests build old databases with it).
        key : ServerKey, None or "auto"
            The server key that MACs audit entries and signs checkpoints
            (:mod:`workbench.serverkey`); ``"auto"`` loads it from ``$WORKBENCH_KEYS`` or
            ``~/.workbench/keys`` when present, None opens the store without a key.

        Raises
        ------
        StoreError
            The file is missing (``create=False``), not a SQLite database, the server refuses
            the connection, or the schema is newer than this workbench understands.
        """
        location = parse_location(path)
        if key == "auto":
            key = load_server_key()
        backend: Backend
        if isinstance(location, Path):
            backend = SQLiteBackend.connect(location, create=create, migrations=MIGRATIONS,
                                            busy_timeout_ms=BUSY_TIMEOUT_MS)
        else:
            backend = PostgresBackend.connect(location, busy_timeout_ms=BUSY_TIMEOUT_MS)
        try:
            if not create and not isinstance(backend, SQLiteBackend) and current_version(backend) == 0:
                raise StoreError(f"{backend.location}: no review store in this database (no workbench tables); "
                                 "check --db / WORKBENCH_DB")
            migrate(backend, target=schema_version)
        except backend.errors as exc:
            backend.close()
            detail = " ".join(str(exc).split())[:300]
            raise StoreError(f"{backend.location}: not a usable review store ({detail}); check --db") from exc
        except BaseException:
            backend.close()
            raise
        if schema_version < 3:  # a store held at an older schema (tests) has nowhere to keep MACs
            key = None
        return cls(backend, location=location, clock=clock or _utc_now, key=key)  # type: ignore[arg-type]

    @property
    def path(self) -> Location:
        """The SQLite file of this store, or its PostgreSQL URL without the password."""
        return self._path

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._backend.dialect

    @property
    def db(self) -> sqlite_utils.Database:
        """The ``sqlite_utils.Database`` of a SQLite store (StoreError on PostgreSQL)."""
        if not isinstance(self._backend, SQLiteBackend):
            raise StoreError(f"{self._path}: a PostgreSQL store has no sqlite-utils view")
        return self._backend.db

    @property
    def _conn(self) -> sqlite3.Connection:
        # The raw sqlite3 connection (tests tamper with it as an attacker would).
        if not isinstance(self._backend, SQLiteBackend):
            raise StoreError(f"{self._path}: not a SQLite store")
        return self._backend.conn

    @property
    def schema_version(self) -> int:
        """The schema version of the open store."""
        with self._lock:
            return current_version(self._backend)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self._path)!r})"

    # ------------------------------------------------------------- transactions
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """A write transaction holding the store's write lock (``BEGIN IMMEDIATE`` on SQLite, an
        advisory lock on PostgreSQL) ... ``COMMIT`` (``ROLLBACK`` on error); nested calls join.

        Database errors inside become :class:`StoreError`; workbench errors pass through.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            try:
                with self._backend.transaction(immediate=True):
                    self._depth = 1
                    yield self
            except self._backend.errors as exc:
                if isinstance(exc, WorkbenchError):
                    raise
                detail = " ".join(str(exc).split())[:500]
                raise StoreError(f"{self._path}: write failed and was rolled back: {detail}") from exc
            finally:
                self._depth = 0
                self._flush_denials()

    def _flush_denials(self) -> None:
        # Refused permission checks are audited in their own committed transaction, after
        # the caller's transaction (which the refusal usually rolls back) has ended.
        while self._pending_denials:
            actor, action, subject, payload = self._pending_denials.pop(0)
            self.audit(actor, action, subject, payload)

    def _fetchall(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self._backend.query(sql, params)

    def _fetchone(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        rows = self._fetchall(sql, params)
        return rows[0] if rows else None

    def _need_transaction(self) -> None:
        if not self._depth:
            raise RuntimeError("store writes must run inside store.transaction()")

    def _execute(self, sql: str, params: tuple | list = ()) -> int:
        """An UPDATE or DELETE inside the current transaction; the number of rows changed."""
        self._need_transaction()
        return self._backend.execute(sql, params)

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row inside the current transaction; its integer key (0 for other keys)."""
        self._need_transaction()
        return int(self._backend.insert(table, row) or 0)

    def _upsert(self, table: str, row: dict[str, Any], *, pk: tuple[str, ...]) -> None:
        self._need_transaction()
        self._backend.upsert(table, row, pk=pk)

    def _reset_keys(self, tables: tuple[str, ...]) -> None:
        # After rows were inserted with their keys (a copy), PostgreSQL's identity sequences must
        # continue after the largest key; SQLite's INTEGER PRIMARY KEY does so by itself.
        if isinstance(self._backend, PostgresBackend):
            self._backend.continue_identities(tables)

    def now(self) -> str:
        """The store clock as a UTC ISO-8601 string with microseconds."""
        moment = self._clock()
        if moment.tzinfo is None:
            raise StoreError("clock: the store clock must return timezone-aware datetimes")
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

    # -------------------------------------------------------------------- audit
    def audit(self, actor: str | User, action: str, subject: str, payload: dict[str, Any], *,
              bound: tuple[tuple[str, tuple[Any, ...]], ...] = ()) -> AuditEntry:
        """Append one hash-chained entry inside the current (or an implicit) transaction.

        ``bound`` names the state rows this write created or changed, as ``(table, key)``; their
        content hashes go into the entry's payload (``bound``), binding them to the chain. With
        a server key the entry gets its MAC, and the head a signed checkpoint once a day.
        """
        if not isinstance(payload, dict):
            raise StoreError(f"audit payload: expected a dict, got {type(payload).__name__}")
        with self.transaction():
            if bound:
                payload = {**payload, "bound": [_integrity.binding(self._backend, t, k) for t, k in bound]}
            now = self.now()
            entry = _store_audit.append(
                self._backend, ts=now, actor=_actor_name(actor), action=action,
                subject=subject, payload=payload,
            )
            if self._key is not None:
                _integrity.add_mac(self._backend, entry.seq, entry.hash, self._key)
                last = _integrity.last_checkpoint_at(self._backend)
                if last is None or (datetime.fromisoformat(now) - datetime.fromisoformat(last)
                                    ).total_seconds() >= _integrity.CHECKPOINT_EVERY_S:
                    _integrity.write_checkpoint(self._backend, self._key, now=now, reason="daily")
            return entry

    @property
    def server_key(self) -> ServerKey | None:
        """The key MACing entries and signing checkpoints (None: an unkeyed store)."""
        return self._key

    def checkpoint(self, reason: str) -> dict[str, Any] | None:
        """Sign the current chain head with the server key and keep it; None without a key or entries."""
        if self._key is None:
            return None
        with self.transaction():
            return _integrity.write_checkpoint(self._backend, self._key, now=self.now(), reason=reason)

    def checkpoint_at(self, seq: int) -> dict[str, Any] | None:
        """The newest signed checkpoint of the head at ``seq`` (what a packet carries), or None."""
        row = self._fetchone("SELECT * FROM checkpoints WHERE seq = ? ORDER BY checkpoint_id DESC LIMIT 1", (seq,))
        if row is None:
            return None
        key = self._key
        return {**row, "public_key": key.public_b64 if key is not None and key.key_id == row["key_id"] else None}

    def verify_integrity(self) -> IntegrityReport:
        """Chain, entry MACs, signed checkpoints and every bound row (names table and row).

        Reads one snapshot, so writers committing meanwhile (other hosts) never look like tampering.
        """
        with self._lock:
            if self._depth:
                return _integrity.verify_integrity(self._backend, self._key)
            with self._backend.transaction(immediate=False):
                return _integrity.verify_integrity(self._backend, self._key)

    def require_intact(self) -> IntegrityReport:
        """:meth:`verify_integrity`, raising :class:`IntegrityError` on any problem.

        What the gate, the report and the app call before reading rows a decision counts. The
        result is cached until another connection commits a change (``PRAGMA data_version`` on
        SQLite, the server's transaction snapshot on PostgreSQL); this store's own writes bind
        their rows, so they keep it intact.
        """
        with self._lock:
            stamp = self._backend.change_stamp()
            if self._intact_at == stamp and self._intact_report is not None:
                return self._intact_report
            report = self.verify_integrity()
            if not report.ok:
                raise IntegrityError(
                    f"{self._path}: the review store failed its integrity check, so nothing in it is counted: "
                    f"{report.message}; run `workbench audit verify --db {self._path}`")
            self._intact_at, self._intact_report = stamp, report
            return report

    def bind_legacy(self, user: User) -> AuditEntry:
        """Bind rows and MAC entries written before schema 3 (an admin with the server key, audited)."""
        if not isinstance(user, User):
            raise StoreError("bind_legacy: pass the signed-in admin User")
        self.authorize(user, "bind_audit", role="admin")
        if self._key is None:
            raise StoreError("audit bind needs the server key: point --keys / WORKBENCH_KEYS at it")
        with self.transaction():
            macs = {s for (s,) in self._backend.rows("SELECT seq FROM audit_macs")}
            entries = self._backend.rows("SELECT seq, hash FROM audit_log ORDER BY seq")
            unmaced = [(s, h) for s, h in entries if s not in macs]
            for seq, digest in unmaced:
                _integrity.add_mac(self._backend, seq, digest, self._key)
            bound = []
            for table, columns in _integrity.BOUND_TABLES.items():
                for row in self._fetchall(f"SELECT {', '.join(columns)} FROM {table}"):
                    bound.append((table, tuple(row[c] for c in columns)))
            entry = self.audit(user, "audit_bound", "store",
                               {"entries_maced": len(unmaced), "rows_bound": len(bound),
                                "note": "rows and entries written before schema 3, bound as found"},
                               bound=tuple(bound))
            _integrity.write_checkpoint(self._backend, self._key, now=self.now(), reason="bind")
        return entry

    def audit_entries(
        self,
        *,
        subject: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: str | datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Audit entries matching every given filter, oldest first unless ``newest_first``."""
        if isinstance(since, datetime):
            since = since.astimezone(UTC).isoformat(timespec="microseconds")
        with self._lock:
            return _store_audit.query(
                self._backend, subject=subject, actor=actor, action=action, since=since,
                limit=limit, newest_first=newest_first,
            )

    def verify_audit(self) -> AuditVerification:
        """Re-compute the whole chain; see :mod:`workbench.store` for the problems."""
        with self._lock:
            return _store_audit.verify_chain(self._backend)

    def audit_head(self) -> str | None:
        """Hash of the newest audit entry (what a signed packet pins), None when empty."""
        with self._lock:
            seq, digest = _store_audit.head(self._backend)
        return digest if seq else None

    def audit_count(self) -> int:
        """Number of audit entries."""
        return int(self._fetchone("SELECT count(*) AS n FROM audit_log")["n"])  # type: ignore[index]


def _actor_name(actor: str | User) -> str:
    name = actor.name if isinstance(actor, User) else actor
    if not isinstance(name, str) or not name.strip():
        raise StoreError("actor: give the user name or a 'cli:<name>' style actor")
    return name


__all__ = [
    "IntegrityReport",
    "PolicyRegistration",
    "ROLES",
    "SCHEMA_VERSION",
    "Alert",
    "ApiToken",
    "Objection",
    "AuditEntry",
    "AuditVerification",
    "DecisionRecord",
    "Document",
    "EvidenceRun",
    "ExportRecord",
    "MonitoringBatch",
    "Response",
    "Review",
    "SignOff",
    "Store",
    "User",
    "Waiver",
]
