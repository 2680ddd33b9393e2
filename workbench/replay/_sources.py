"""Where live monitoring reads production logs from: Parquet files matching a glob, or a DuckDB table.

A :class:`Source` lists its parts (files in name order, or the one table) with their row counts and
reads a part from a row offset in chunks, so the live monitor reads only what its checkpoint has not.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import DataError

__all__ = ["CHUNK_ROWS", "Part", "Source"]

_DUCKDB = re.compile(r"^duckdb:(?P<path>.+)::(?P<table>[A-Za-z_][A-Za-z0-9_]*)$")
CHUNK_ROWS = 262_144


@dataclass(frozen=True)
class Part:
    name: str
    rows: int


class Source:
    """Parts (files or one table) of a source and a reader from a row offset."""

    def __init__(self, spec: str) -> None:
        duck = _DUCKDB.match(spec)
        if duck is not None:
            self.kind = "duckdb"
            self.path = Path(duck["path"]).resolve()
            self.table = duck["table"]
            if not self.path.is_file():
                raise DataError(f"--source {spec}: DuckDB file not found: {self.path}")
            self.key = f"duckdb:{self.path}::{self.table}"
        elif spec.startswith("duckdb:"):
            raise DataError(f"--source {spec!r}: write a DuckDB table as duckdb:FILE::TABLE (the table name "
                            "letters, digits and _ only)")
        else:
            self.kind = "parquet"
            self.key = f"parquet:{Path(spec).expanduser().absolute()}"
            self.pattern = str(Path(spec).expanduser().absolute())

    def parts(self) -> list[Part]:
        if self.kind == "duckdb":
            with self._duck() as con:
                try:
                    (n,) = con.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()
                except Exception as exc:  # noqa: BLE001 - duckdb's CatalogException and friends
                    raise DataError(f"--source {self.key}: cannot read table {self.table}: {exc}") from exc
            return [Part(self.table, int(n))]
        import pyarrow.parquet as pq

        out = []
        for name in sorted(glob.glob(self.pattern)):
            try:
                out.append(Part(name, pq.ParquetFile(name).metadata.num_rows))
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
                raise DataError(f"--source: {name}: not a readable Parquet file ({exc})") from exc
        return out

    def _duck(self) -> Any:
        import duckdb

        return duckdb.connect(str(self.path), read_only=True)

    def read(self, part: Part, start: int) -> Iterator[pd.DataFrame]:
        """Rows ``start..`` of ``part`` in order, in chunks."""
        if self.kind == "duckdb":
            with self._duck() as con:
                for lo in range(start, part.rows, CHUNK_ROWS):
                    yield con.execute(f'SELECT * FROM "{self.table}" ORDER BY rowid LIMIT {CHUNK_ROWS} '
                                      f"OFFSET {lo}").df()
            return
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(part.name)
        sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
        first, offset = 0, 0
        while first < len(sizes) and offset + sizes[first] <= start:
            offset += sizes[first]
            first += 1
        skip = start - offset
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS, row_groups=list(range(first, len(sizes)))):
            frame = batch.to_pandas()
            if skip:
                frame, skip = frame.iloc[skip:], max(0, skip - len(frame))
            if len(frame):
                yield frame.reset_index(drop=True)
