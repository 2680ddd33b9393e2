"""What a data source names: a file pattern or a DuckDB database (shared by every executor)."""

from __future__ import annotations

from pathlib import Path


def is_glob(source: str | Path) -> bool:
    """Whether ``source`` is a file pattern (``*``, ``?`` or ``[``), read as every file it matches.

    Examples
    --------
    >>> is_glob("lake/part-*.parquet"), is_glob("lake/part-0.parquet")
    (True, False)
    """
    return any(ch in str(source) for ch in "*?[")


def is_database(source: str | Path) -> bool:
    """Whether ``source`` names a DuckDB database file (``.duckdb`` or ``.db``).

    Examples
    --------
    >>> is_database("lake.duckdb"), is_database("lake.parquet")
    (True, False)
    """
    return str(source).endswith((".duckdb", ".db"))


__all__ = ["is_database", "is_glob"]
