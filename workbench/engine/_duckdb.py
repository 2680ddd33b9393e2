"""The DuckDB executor: larger-than-memory reviews from Parquet files, globs or DuckDB tables.

The connection gets a ``memory_limit`` and a ``temp_directory``, so sorts (exact AUC) and
large aggregations spill to disk instead of failing. Exact AUC: GROUP BY score, then running
sums over the distinct scores in descending order. Drift bins the current column onto the
reference grid with the same lookup table as ``GridBinner`` (a hash join on the table's
bucket, then a fixed number of edge comparisons), so the cells are those of the numpy path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.engine import _sql as S
from workbench.engine._boot_stream import stream_assemble
from workbench.engine._plan import (
    Aggregates,
    BootstrapAggregates,
    FairnessAggregates,
    NumericCells,
    RoleAggregates,
    ScaleSpec,
)
from workbench.engine._sorted_scores import MEMORY_SHARE, SortedScores, gather, memory_limit_bytes, rank_summary
from workbench.engine._sorted_scores import calibration as sorted_calibration
from workbench.engine._sources import is_database, is_glob
from workbench.engine._sql_exec import SqlExecutor
from workbench.errors import ArtefactError, DataError
from workbench.metrics import LUT_SIZE, GridBinner

if TYPE_CHECKING:
    import duckdb


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _pick_table(con, name: str, table: str | None, label: str, option: str = "--table") -> str:
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    if table is not None:
        if table not in tables:
            raise ArtefactError(f"{label} {name}: no table {table!r}; tables: {', '.join(tables) or 'none'}")
        return table
    if len(tables) != 1:
        raise ArtefactError(f"{label} {name} has {len(tables)} tables ({', '.join(tables) or 'none'}); "
                            f"pick one with {option}")
    return tables[0]


def database_table(path: str | Path, table: str | None = None, *, label: str = "data.evaluation") -> str:
    """The table of a DuckDB database to review: ``table`` if the database has it, else its only table.

    ``label`` starts the messages (e.g. ``"review.yaml: data.evaluation"``); a database with no
    table or several (and no ``table``) is an ``ArtefactError`` that lists them.
    """
    import duckdb

    if not Path(path).is_file():
        raise ArtefactError(f"{label}: DuckDB database not found: {path}")
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _pick_table(con, Path(path).name, table, label)
    finally:
        con.close()


class DuckDBExecutor(SqlExecutor):
    engine = "duckdb"
    dialect = S.Dialect("duckdb")
    exact_auc = True
    con: duckdb.DuckDBPyConnection  # open from _open until close()

    def __init__(self, source: str | Path, spec: ScaleSpec, *, table: str | None = None,
                 memory_limit: str = "2GB", temp_directory: str | Path | None = None, threads: int | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        super().__init__(spec, progress=progress)
        self._sorted: list[SortedScores] | None = None
        self._sorted_done = False
        src = str(source)
        self._tmp = None
        if temp_directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="workbench-duckdb-")
            temp_directory = self._tmp.name
        try:
            self._open(src, spec, table, memory_limit, temp_directory, threads)
        except BaseException:
            self.close()
            raise

    def _open(self, src, spec, table, memory_limit, temp_directory, threads) -> None:
        import duckdb

        self.con = None  # type: ignore[assignment]  # not yet open: close() after a failed open skips it
        if table is not None or is_database(src):
            if not Path(src).exists():
                raise ArtefactError(f"DuckDB database {src}: file not found; fix data.evaluation")
            self.con = duckdb.connect(src, read_only=True)
            if table is None:  # a database without a table name: its only table
                table = _pick_table(self.con, Path(src).name, None, "evaluation data", "table=")
            from_ = self.dialect.ident(table)
            default_key = "rowid"
        else:
            if not is_glob(src) and not Path(src).exists():
                raise ArtefactError(f"evaluation data {src}: file not found; fix data.evaluation")
            self.con = duckdb.connect()
            from_ = f"read_parquet({_quote(src)}, filename = true, file_row_number = true)"
            default_key = "hash(filename)::HUGEINT * 1099511627776 + file_row_number"
        self.con.execute(f"SET memory_limit = {_quote(memory_limit)}")
        self.con.execute(f"SET temp_directory = {_quote(str(temp_directory))}")
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        try:
            self.con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM {from_}")
            columns = {r[0] for r in self.con.execute("DESCRIBE src").fetchall()}
        except duckdb.Error as exc:
            raise ArtefactError(f"evaluation data {src}: DuckDB cannot read it ({exc})") from exc
        needed = [spec.label, *spec.scores.values(), *spec.sensitive, *spec.features]
        if spec.id_column:
            needed.append(spec.id_column)
        missing = [c for c in needed if c not in columns]
        if missing:
            raise DataError(f"evaluation data {src}: missing column(s) {missing}; the manifest names them "
                            "(target, predictions, sensitive_features, features, id_column)")
        key_col = self.dialect.ident(spec.id_column) if spec.id_column else default_key
        key = self.dialect.row_key(key_col, spec.seed) if spec.n_boot else None
        self.con.execute(f"CREATE TEMP VIEW base AS SELECT {S.base_select(self.dialect, spec, row_key=key)} FROM src")

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def arrays(self, sql: str) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.con.execute(sql).fetchnumpy().values()]

    #: ``auto``: exact AUC/AP and calibration from the score columns read once and sorted in
    #: memory when they fit in half the ``memory_limit`` (``_sorted_scores``); ``sql``: DuckDB's
    #: grouped sort per model and the calibration scans (spill to disk).
    score_sort = "auto"

    def _scores_in_memory(self, role: RoleAggregates) -> list[SortedScores] | None:
        """Every model's scores, sorted per label (read once, on first use), or None to use SQL."""
        if self._sorted is not None:
            return self._sorted
        if self.score_sort != "auto" or self._sorted_done:
            return None
        self._sorted_done = True  # decided once: after the calibration the arrays are freed
        n_rows, n_pos = int(role.linear[3]), int(role.linear[2])
        need = 8.0 * n_rows * len(self.spec.scores)
        limit = memory_limit_bytes(str(self.one("SELECT current_setting('memory_limit')")[0]))
        if need > MEMORY_SHARE * limit:
            return None
        self._sorted = gather(self.con, len(self.spec.scores), n_rows, n_pos)
        return self._sorted

    def _ranks(self, i: int, role: RoleAggregates) -> None:
        if self.spec.auc == "exact":
            scores = self._scores_in_memory(role)
            if scores is not None:
                role.rank_summary = rank_summary(scores[i])
                return
        super()._ranks(i, role)

    def _calibration(self, roles: list[str], out: dict[str, RoleAggregates]) -> None:
        idx = [i for i, r in enumerate(roles) if out[r].probabilities and out[r].linear[3] > 0]
        try:
            scores = self._scores_in_memory(out[roles[idx[0]]]) if idx else None
            if scores is None:
                super()._calibration(roles, out)
            else:
                sorted_calibration(self.spec, roles, out, idx, scores)
        finally:
            self._sorted = None  # the arrays (8 bytes per row and model) are not needed after this

    #: ``stream``: the bucket bootstrap's per-bucket sums from one Arrow scan into a compiled
    #: kernel (``_boot_stream``); ``sql``: six grouped scans (``_sql_boot.assemble``).
    bucket_scan = "stream"

    def _bucket_sums(self, roles: list[str], out: dict[str, RoleAggregates], n_units: int,
                     fair: FairnessAggregates | None) -> BootstrapAggregates | None:
        if self.bucket_scan != "stream":
            return None
        return stream_assemble(self, roles, out, n_units, fair)

    def _exact_rank_summary(self, i: int) -> dict[str, float]:
        """Exact AUC/AP terms: DuckDB groups by score and sorts the groups (parallel, spills);
        numpy runs the cumulative sums over the streamed batches with a carry.

        (A window-function query over the groups gives the same integer sums but runs its
        un-partitioned windows on one thread: 19 s vs 7.7 s for 10M distinct scores here.)
        """
        sql = (f"SELECT sum(1 - y)::BIGINT AS neg, sum(y)::BIGINT AS pos FROM base GROUP BY s_{i} "
               f"ORDER BY s_{i} DESC")
        num2, ap_sum, tp0, seen0 = 0, 0.0, 0, 0
        for batch in self.con.sql(sql).to_arrow_reader(1 << 20):
            if batch.num_rows == 0:
                continue
            neg = batch.column(0).to_numpy().astype(np.int64)
            pos = batch.column(1).to_numpy().astype(np.int64)
            tp = tp0 + np.cumsum(pos)
            seen = seen0 + np.cumsum(pos + neg)
            num2 += int(np.sum(neg * (2 * (tp - pos) + pos)))
            ap_sum += float(np.sum(pos * (tp / seen)))
            tp0, seen0 = int(tp[-1]), int(seen[-1])
        return {"num2": num2, "ap_sum": ap_sum, "P": tp0, "N": seen0 - tp0}

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.close()
            self.con = None  # type: ignore[assignment]  # closed: the executor is done
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    #: ``arrow``: every numeric drift feature in ONE scan, streamed as Arrow batches to the in-memory
    #: path's compiled ``scan_column`` (:meth:`_drift_stats`); ``sql``: one GROUP BY scan per feature.
    drift_binning = "arrow"

    def _drift_stats(self, names: list[str], profile) -> None:
        """All numeric drift features in one scan: DuckDB decodes the columns (its threads) and
        streams Arrow batches of 2^17 rows; the compiled ``scan_column`` (the in-memory path's:
        lookup table + edge corrections, one scatter per value; numba, no GIL) bins each batch on
        two threads, and the per-cell (count, Σ(x − anchor), on-anchor) partials are summed. The
        cells, on-edge counts, missing counts, min and max equal the SQL path's; the float sums
        differ only in their order of addition. 20 features × 10M rows: see docs/SCALE.md."""
        self._arrow_cells: dict[str, NumericCells] = {}
        names = [n for n in names if profile.features[n].n > 0 and len(profile.features[n].grid)]
        if self.drift_binning != "arrow" or not names:
            return
        self._arrow_cells = arrow_drift_cells(self.con, names, [profile.features[n] for n in names], self.dialect)

    def numeric_cells(self, name: str, prof) -> NumericCells:
        cached = getattr(self, "_arrow_cells", {}).get(name)
        if cached is not None:
            return cached
        col = self.dialect.ident(name)
        if prof.n == 0:
            n_missing = self.one(f"SELECT count(*) FROM src WHERE NOT coalesce(isfinite(TRY_CAST({col} AS DOUBLE)), FALSE)")[0]
            return NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), int(n_missing or 0), np.nan, np.nan)
        grid = np.asarray(prof.grid, dtype=np.float64)
        g = grid.size
        anchors = np.r_[grid, grid[-1]]
        # The lookup table of ``GridBinner`` as constant lists (one row; ``list[i]`` per row is
        # cheaper than hash joins: 1.1 s vs 2.0 s per feature at 10M rows here).
        lists: dict[str, tuple[str, list]] = {"anc": ("DOUBLE[]", anchors.tolist())}
        binner = GridBinner.build(grid)
        if binner.table is None:  # few edges, or a grid too uneven for the table: compare with every edge
            cell = "(" + " + ".join(f"CAST(x > {S.dbl(e)} AS BIGINT)" for e in grid) + ")"
            bucket = "0"
        else:
            lower, passes = binner.table.astype(np.int64), binner.passes
            g_ext = np.r_[grid, np.full(passes + 1, np.inf)]
            lists["base"] = ("BIGINT[]", lower.tolist())
            for k in range(passes):
                lists[f"e{k}"] = ("DOUBLE[]", g_ext[lower + k].tolist())
            bucket = S.bin_expr("x", binner.lo, binner.inv_width, LUT_SIZE)
            cell = " + ".join(["l.base[b + 1]", *(f"CAST(x > l.e{k}[b + 1] AS BIGINT)" for k in range(passes))])
        self.con.execute("CREATE OR REPLACE TEMP TABLE wb_lut AS SELECT "
                         + ", ".join(f"?::{t} AS {k}" for k, (t, _) in lists.items()), [v for _, v in lists.values()])
        # one scan per feature: cells of the finite values, cell -1 = missing or non-finite
        sql = (f"WITH f AS (SELECT x, {bucket} AS b FROM (SELECT TRY_CAST({col} AS DOUBLE) AS x FROM src)), "
               f"c AS (SELECT x, CASE WHEN isfinite(x) THEN {cell} ELSE -1 END AS cell FROM f, wb_lut l) "
               "SELECT cell, count(*), sum(x - l.anc[cell + 1]), sum(CAST(x = l.anc[cell + 1] AS BIGINT)), min(x), max(x) "
               "FROM c, wb_lut l GROUP BY cell")
        counts, sums, at_edge = np.zeros(g + 1, np.int64), np.zeros(g + 1), np.zeros(g + 1, np.int64)
        n_missing, lows, highs = 0, [], []
        for c, n, s, e, lo_c, hi_c in self.rows(sql):
            if int(c) < 0:
                n_missing = int(n)
                continue
            counts[int(c)], sums[int(c)], at_edge[int(c)] = int(n), float(s), int(e)
            lows.append(float(lo_c))
            highs.append(float(hi_c))
        if not lows:
            return NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), n_missing, np.nan, np.nan)
        at_edge[-1] = 0  # the last cell's anchor is its left edge, which it excludes
        return NumericCells(counts, sums, at_edge, n_missing, min(lows), max(highs))


#: Rows per Arrow batch of the drift scan (the per-batch Python work is amortised above ~10^5).
_ARROW_BATCH_ROWS = 1 << 17


def arrow_drift_cells(con, names: list[str], profiles: list, dialect: S.Dialect) -> dict[str, NumericCells]:
    """Every numeric feature of ``names`` on its reference grid in one streamed scan of ``src``."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.compute as pc

    from workbench.metrics import scan_column

    grids = [np.asarray(p.grid, dtype=np.float64) for p in profiles]
    binners = [GridBinner.build(g) for g in grids]
    acc = [np.zeros((g.size + 1, 3)) for g in grids]
    missing = np.zeros(len(grids), np.int64)
    low, high = np.full(len(grids), np.inf), np.full(len(grids), -np.inf)

    def one(j: int, column) -> None:
        x = pc.fill_null(column, float("nan")).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        sc = scan_column(x, binners[j])
        missing[j] += x.size - sc.n_finite
        if sc.n_finite:
            low[j], high[j] = min(low[j], sc.minimum), max(high[j], sc.maximum)
        acc[j][:, 0] += sc.stats.counts
        acc[j][:, 1] += sc.stats.sums
        acc[j][:, 2] += sc.stats.at_edge

    sql = "SELECT " + ", ".join(f"TRY_CAST({dialect.ident(n)} AS DOUBLE) AS v{j}" for j, n in enumerate(names)) + " FROM src"
    reader = con.sql(sql).to_arrow_reader(_ARROW_BATCH_ROWS)
    with ThreadPoolExecutor(max_workers=2) as pool:  # feature j is only ever touched by one task at a time
        for batch in reader:
            list(pool.map(lambda j: one(j, batch.column(j)), range(len(names))))
    out = {}
    for j, name in enumerate(names):
        a = acc[j]
        if a[:, 0].sum() == 0:
            out[name] = NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), int(missing[j]), np.nan, np.nan)
            continue
        out[name] = NumericCells(a[:, 0].astype(np.int64), a[:, 1].copy(), a[:, 2].astype(np.int64),
                                 int(missing[j]), float(low[j]), float(high[j]))
    return out


def duckdb_aggregates(
    source: str | Path,
    spec: ScaleSpec,
    *,
    table: str | None = None,
    profile=None,
    memory_limit: str = "2GB",
    temp_directory: str | Path | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Aggregates:
    """Every aggregate of the plan computed by DuckDB over a Parquet file/glob or a table.

    Parameters
    ----------
    source : str or Path
        A Parquet file, a Parquet glob (``data/part-*.parquet``) or a DuckDB database file
        (``.duckdb``/``.db``: ``table``, default its only table, see :func:`database_table`).
    memory_limit, temp_directory
        DuckDB's memory limit and where it spills beyond it (default: a temporary folder).
    """
    ex = DuckDBExecutor(source, spec, table=table, memory_limit=memory_limit, temp_directory=temp_directory,
                        threads=threads or int(os.environ.get("WORKBENCH_DUCKDB_THREADS", "0")) or None,
                        progress=progress)
    try:
        return ex.run(profile=profile)
    finally:
        ex.close()
