"""A raw connection to a store's database, for tests that tamper as an attacker would (no workbench code).

SQLite: ``sqlite3``. PostgreSQL: ``psycopg`` behind the same small interface (``?`` placeholders,
``DROP TRIGGER name``), so one tamper script runs against both backends.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any


class _PgRaw:
    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)

    def execute(self, sql: str, params: Any = ()) -> Any:
        dropped = re.match(r"DROP TRIGGER (\w+?)_no_\w+$", sql)
        if dropped:  # PostgreSQL names the table a trigger belongs to
            sql += f" ON {dropped.group(1)}"
        return self.conn.execute(sql.replace("?", "%s"), params)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def raw(db: Path | str) -> Any:
    """sqlite3 for a file, psycopg (wrapped) for a postgresql:// URL."""
    return _PgRaw(db) if isinstance(db, str) else sqlite3.connect(db)
