"""The seam between the store and its database: the :class:`Backend` protocol, store locations
and the SQLite backend (sqlite-utils).

The store's methods write SQL with ``?`` placeholders in the subset SQLite and PostgreSQL share
(``IS NOT DISTINCT FROM``, ``ON CONFLICT ... DO UPDATE``, ``LIMIT ?``); a backend runs it,
inserts and upserts rows by table and column name, opens write transactions that serialise
every writer (so the audit chain has one head), and names its own schema migrations. The
PostgreSQL backend (``_postgres``) sits beside this one.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from workbench.errors import StoreError

if TYPE_CHECKING:
    import sqlite_utils

Dialect = Literal["sqlite", "postgresql"]
#: What ``--db`` / ``WORKBENCH_DB`` name: a SQLite file, or a PostgreSQL URL (kept as text).
Location = Path | str
Params = Sequence[Any]

BUSY_TIMEOUT_MS = 5000
POSTGRES_SCHEMES = ("postgresql", "postgres")
# `scheme:` of two or more characters (a Windows drive letter `C:` is a path); "//" may have been
# collapsed to "/" by pathlib, or be missing.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


class Backend(Protocol):
    """What the store needs from a database. Transactions are not re-entrant (the store nests)."""

    dialect: Dialect
    #: For messages: the file, or the URL without its password.
    location: str
    #: The driver's error classes; the store turns them into :class:`StoreError`.
    errors: tuple[type[BaseException], ...]
    #: Migration ``i`` (0-based) brings the schema to version ``i + 1``; None: folded into a later one.
    migrations: tuple[Callable[[Backend], None] | None, ...]

    def transaction(self, *, immediate: bool = True) -> AbstractContextManager[None]:
        """A write transaction that holds the store's write lock (``immediate``),
        or a read-only snapshot (every read sees one moment)."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples."""

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""

    def insert(self, table: str, row: dict[str, Any]) -> int | None:
        """Insert one row; the new row's integer key where the table has one."""

    def upsert(self, table: str, row: dict[str, Any], *, pk: tuple[str, ...]) -> None:
        """Insert the row, or update the row with the same ``pk`` columns."""

    def table_exists(self, name: str) -> bool: ...

    def run_script(self, sql: str) -> None:
        """Run a migration's DDL inside the current transaction."""

    def triggers(self, table: str) -> set[str]:
        """Names of the enabled triggers on ``table``."""

    def change_stamp(self) -> str:
        """Changes whenever another connection commits (what an integrity check may be cached on)."""

    def close(self) -> None: ...


def parse_location(text: str | Path) -> Location:
    """The store ``--db`` names: a PostgreSQL URL (returned as text) or a SQLite file (a Path).

    Raises
    ------
    StoreError
        Anything else that starts like a URL (``mysql://``, ``sqlite:///``, ``postgresql:/x`` ...),
        which would otherwise become a folder called ``mysql:``.

    Examples
    --------
    >>> parse_location("data/w.db")
    PosixPath('data/w.db')
    >>> parse_location("postgresql://wb@db.internal/workbench")
    'postgresql://wb@db.internal/workbench'
    """
    raw = os.fspath(text)
    match = _URL.match(raw)
    if match is None:
        return Path(raw)
    if match.group(1).lower() in POSTGRES_SCHEMES and raw[len(match.group(0)):].startswith("//"):
        return raw
    shown = redact(raw)
    raise StoreError(f"--db {shown}: unknown store URL; use a SQLite file path (./{shown} for a file whose "
                     "name has a colon) or postgresql://user@host/dbname")


def is_url(location: Location) -> bool:
    return isinstance(location, str) and _URL.match(location) is not None


def redact(url: str) -> str:
    """The URL without its password (``postgresql://wb:***@host/db``)."""
    return re.sub(r"^([^:/]+://[^:/@]+):[^@/]*@", r"\1:***@", url)


def store_exists(location: Location) -> bool:
    """True for an existing SQLite file; a server store is assumed to exist (opening it says)."""
    return is_url(location) or Path(location).is_file()


class SQLiteBackend:
    """One SQLite file through sqlite-utils: WAL, a busy timeout, foreign keys.

    Writes run in ``BEGIN IMMEDIATE`` on the raw connection: sqlite-utils' ``atomic()`` opens a
    deferred ``BEGIN``, and a deferred read-then-write transaction fails under a concurrent
    writer instead of waiting, which would break the audit chain's single head.
    """

    dialect: Dialect = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, path: Path, *,
                 migrations: tuple[Callable[[Backend], None] | None, ...], busy_timeout_ms: int) -> None:
        import sqlite_utils

        self.conn = conn
        self.path = path
        self.location = str(path)
        self.db: sqlite_utils.Database = sqlite_utils.Database(conn)
        self.migrations = migrations
        self.busy_timeout_ms = busy_timeout_ms

    @classmethod
    def connect(cls, path: Path, *, create: bool, migrations: tuple[Callable[[Backend], None] | None, ...],
                busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SQLiteBackend:
        if not path.exists():
            if not create:
                raise StoreError(f"{path}: no review store here; check --db / WORKBENCH_DB")
            path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only from the first byte: the store holds password hashes and the audit trail.
            # SQLite gives its -wal and -shm files the database file's mode.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass  # another process created it a moment ago
            except OSError as exc:
                raise StoreError(f"{path}: cannot create the review store ({exc.strerror or exc})") from None
        timeout_ms = busy_timeout_ms
        try:
            conn = sqlite3.connect(str(path), timeout=timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the review store: {exc}") from exc
        try:
            # Pragmas have no sqlite-utils API that leaves the journal mode to us: raw connection.
            conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the store to WAL journaling (got {mode})")
            # In WAL mode NORMAL never corrupts the file and loses nothing on an application
            # crash; only an OS crash can drop the last commits. Needed for >2k writes/s.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not a usable review store ({exc}); check --db") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, migrations=migrations, busy_timeout_ms=timeout_ms)

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[None]:
        # Raw connection: BEGIN IMMEDIATE takes the write lock up front (see the class docstring).
        try:
            self.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"{self.location}: the store is busy: another writer held it for more than "
                    f"{self.busy_timeout_ms / 1000:g} s; nothing was saved, try again") from exc
            raise StoreError(f"{self.location}: cannot start a transaction: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: cannot start a transaction: {exc}") from exc
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.db.execute(sql, list(params)).rowcount

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, list(params)).fetchall()

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        # Database.execute rather than Database.query: query() wraps every read in a savepoint,
        # which costs a third of a small read and buys nothing for a SELECT.
        cursor = self.db.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def insert(self, table: str, row: dict[str, Any]) -> int | None:
        return self.db.table(table).insert(row).last_rowid

    def upsert(self, table: str, row: dict[str, Any], *, pk: tuple[str, ...]) -> None:
        self.db.table(table).upsert(row, pk=pk[0] if len(pk) == 1 else pk)

    def table_exists(self, name: str) -> bool:
        return self.db.table(name).exists()

    def run_script(self, sql: str) -> None:
        # executescript() would COMMIT the surrounding BEGIN IMMEDIATE, so split statements
        # ourselves; complete_statement understands trigger bodies and comments.
        buffer = ""
        for line in sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                self.db.execute(buffer.strip())
                buffer = ""
        if buffer.strip():
            raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]}")

    def triggers(self, table: str) -> set[str]:
        return {t.name for t in self.db.table(table).triggers}

    def change_stamp(self) -> str:
        # PRAGMA data_version changes when another connection commits to the file.
        return str(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


__all__ = ["Backend", "Dialect", "Location", "SQLiteBackend", "is_url", "parse_location",
           "redact", "store_exists"]
