"""The Spark executor (optional extra ``workbench[spark]``): the plan as Spark SQL.

Differences from DuckDB, by design:

* AUC and AP come from a fixed-width score histogram with their error bounds (an exact rank
  needs a global sort into one partition);
* calibration quantile edges are exact order statistics located in that histogram
  (``workbench.engine._quantiles``), not Spark's ``percentile``, which gathers the whole
  column into one buffer;
* drift: one ``mapInArrow`` job bins every numeric feature with the in-memory path's compiled
  scan in the Python workers (``drift_binning="arrow"``); ``"bucketizer"`` runs one JVM
  ``Bucketizer`` job per feature instead (nested CASE expressions would exceed the JVM's
  64 KB method limit for a 2,560-edge grid). ``Bucketizer`` bins are left-closed; the
  reference cells are right-closed, so ``-x`` is bucketed over the negated, reversed grid;
* results come back through Arrow (``toArrow``);
* bootstrap rows are keyed by ``id_column`` (required: Spark has no stable row number), and
  the bootstrap resamples buckets of rows unless ``bootstrap_unit="row"`` is asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine import _sql as S
from workbench.engine._plan import Aggregates, NumericCells, ScaleSpec
from workbench.engine._quantiles import exact_quantiles
from workbench.engine._ranks import histogram_domain, histogram_scale
from workbench.engine._sources import is_glob
from workbench.engine._spark_files import ParquetSource
from workbench.engine._spark_pass import arrow_batches
from workbench.engine._spark_scoring import scored_frame
from workbench.engine._sql_exec import SqlExecutor
from workbench.errors import ArtefactError, DataError


def local_spark_session(*, cores: int = 2, app_name: str = "workbench", memory: str = "2g") -> Any:
    """A local-mode SparkSession bound to 127.0.0.1 with the UI off (tests, benchmarks).

    Its Python workers (``mapInArrow``) run this interpreter (``PYSPARK_PYTHON``, unless set),
    not whatever ``python3`` is first on PATH.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    return (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.memory", memory)
            .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


class SparkExecutor(SqlExecutor):
    engine = "spark"
    dialect = S.Dialect("spark")
    exact_auc = False

    def __init__(self, spark: Any, source: str | Path, spec: ScaleSpec, *, table: str | None = None,
                 cache: bool | None = None, drift_binning: str = "arrow", models: dict | None = None,
                 progress: Callable[[str], None] | None = None, worker_reads: bool = True) -> None:
        super().__init__(spec, progress=progress)
        if drift_binning not in ("arrow", "bucketizer"):
            raise ValueError(f"drift_binning must be 'arrow' or 'bucketizer', got {drift_binning!r}")
        self.spark, self.drift_binning = spark, drift_binning
        self._arrow_cells: dict[str, NumericCells] = {}
        if table is not None:
            frame = spark.table(table)
        else:
            src = str(source)
            if not is_glob(src) and not Path(src).exists():
                raise ArtefactError(f"evaluation data {src}: file not found; fix data.evaluation")
            frame = spark.read.parquet(src)
        scored_columns = {m.column for m in (models or {}).values()}
        needed = [spec.label, *(c for c in spec.scores.values() if c not in scored_columns), *spec.sensitive,
                  *spec.features, *(f for m in (models or {}).values() for f in m.features)]
        if spec.id_column:
            needed.append(spec.id_column)
        missing = sorted({c for c in needed if c not in frame.columns})
        if missing:
            raise DataError(f"evaluation data {source}: missing column(s) {missing}; the manifest names them")
        if spec.n_boot and not spec.id_column:
            raise DataError("the Spark executor needs id_column (a unique row key) for the bootstrap weights; "
                            "set id_column in the manifest or use n_bootstrap: 0")
        frame.createOrReplaceTempView("src")  # drift reads the features from here, unscored
        scored = "src"
        if models:  # scored once, into a cache every pass reads: only the columns the review reads
            scored_frame(frame.select(*dict.fromkeys(needed)), models).createOrReplaceTempView("scored")
            spark.sql("CACHE TABLE scored")
            scored = "scored"
        self.scored = scored
        self.row_key = (self.dialect.row_key(self.dialect.ident(spec.id_column), spec.seed)  # type: ignore[arg-type]  # n_boot has id_column (checked above)
                        if spec.n_boot else None)
        spark.sql(f"CREATE OR REPLACE TEMP VIEW base AS SELECT {S.base_select(self.dialect, spec, row_key=self.row_key)} "
                  f"FROM {scored}")
        #: One partials pass in the Python workers plus narrow JVM scans (``_spark_pass``), unless
        #: the workers cannot run workbench ("bucketizer": every aggregate in the JVM) or the
        #: bootstrap is by row (a rows x replicates cross join in SQL).
        self.single_pass = drift_binning == "arrow" and (not spec.n_boot or self.bootstrap_unit(0) == "bucket")
        #: The single pass's workers read the Parquet row groups themselves (``_spark_files``) when
        #: the source is files and nothing is scored in Spark; decided at the first pass (it needs
        #: the drift features), None until then or when the JVM reads.
        self.worker_reads = worker_reads and self.single_pass and table is None and not models
        self.source_frame = frame
        self.files: ParquetSource | None = None
        if cache is None:  # the SQL plan re-reads base ~15 times; the single pass reads it 4-6 times, narrowly
            cache = not self.single_pass and not models  # (scored models are cached above, base reads that)
        if cache:  # keep base in executor memory (spills to disk)
            spark.sql("CACHE TABLE base")

    def run(self, *, profile=None) -> Aggregates:
        if self.single_pass:
            from workbench.engine._spark_pass import run_single_pass

            return run_single_pass(self, profile)
        return super().run(profile=profile)

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def frame(self, sql: str):
        """The result through Arrow (``toArrow``, Spark 4): grouped bootstrap sums run to millions
        of rows, which ``collect()`` turns into Python ``Row`` objects one by one."""
        return self.spark.sql(sql).toArrow().to_pandas()

    def arrays(self, sql: str) -> list[np.ndarray]:
        table = self.spark.sql(sql).toArrow()
        return [table.column(i).to_numpy() for i in range(table.num_columns)]

    def close(self) -> None:
        self.spark.sql("UNCACHE TABLE IF EXISTS base")
        if self.scored == "scored":
            self.spark.sql("UNCACHE TABLE IF EXISTS scored")

    def replicate_table(self) -> str:
        return f"(SELECT id AS r FROM range({self.spec.n_boot})) t"

    def quantiles(self, idx: list[int], qs: np.ndarray, *, out: list) -> list[list[float]]:
        """Exact quantiles from the score histogram: order statistics located by its cumulative
        counts, then read as (value, count) from the few bins that hold them (:func:`exact_quantiles`).

        Spark's exact ``percentile`` collects every value into one aggregation buffer: 51 s at 5M
        rows here, and out of memory long before 50M.
        """
        bins = self.spec.histogram_bins
        result = []
        for i, role in zip(idx, out, strict=True):
            lo, hi = histogram_domain(role.score_min, role.score_max)
            expr = S.bin_expr(f"s_{i}", lo, histogram_scale(lo, hi, bins), bins)
            result.append(exact_quantiles(self.rows, f"s_{i}", expr, role.histogram.sum(axis=1), qs))
        return result

    def bootstrap_unit(self, n_rows: int) -> str:
        """``bucket`` unless asked otherwise: row mode is a rows x replicates cross join, which
        Spark local[2] could not finish at 1M rows x 200 replicates in 12 minutes."""
        return "bucket" if self.spec.bootstrap_unit == "auto" else self.spec.bootstrap_unit

    def _drift_stats(self, names: list[str], profile) -> None:
        if self.drift_binning == "bucketizer" or not names:
            self.stats = self._feature_stats(names)
            return
        self._arrow_cells = arrow_drift_cells(self.spark, names, [profile.features[n] for n in names], self.dialect)

    def _feature_stats(self, names: list[str]) -> dict[str, tuple]:
        """Missing count, finite min and max of every numeric drift feature in ONE scan (bucketizer)."""
        if not names:
            return {}
        d = self.dialect
        exprs, cols = [], []
        for j, name in enumerate(names):
            x, fin = f"x{j}", d.finite(f"x{j}")
            cols.append(f"TRY_CAST({d.ident(name)} AS DOUBLE) AS {x}")
            exprs += [f"sum(CASE WHEN {x} IS NULL OR NOT {fin} THEN 1 ELSE 0 END)",
                      f"min(CASE WHEN {fin} THEN {x} END)", f"max(CASE WHEN {fin} THEN {x} END)"]
        row = self.one(f"SELECT {', '.join(exprs)} FROM (SELECT {', '.join(cols)} FROM src)")
        return {name: tuple(row[3 * j: 3 * j + 3]) for j, name in enumerate(names)}

    def numeric_cells(self, name: str, prof) -> NumericCells:
        if name in self._arrow_cells:
            return self._arrow_cells[name]
        return self._bucketizer_cells(name, prof)

    def _bucketizer_cells(self, name: str, prof) -> NumericCells:
        from pyspark.ml.feature import Bucketizer
        from pyspark.sql import functions as F

        col = self.dialect.ident(name)
        finite = self.dialect.finite("x")
        stats = self.stats[name]  # one scan for every feature (_feature_stats)
        n_missing = int(stats[0] or 0)
        if prof.n == 0 or stats[1] is None:
            return NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), n_missing, np.nan, np.nan)
        grid = np.asarray(prof.grid, dtype=np.float64)
        g = grid.size
        values = self.spark.sql(f"SELECT x, -x AS nx FROM (SELECT TRY_CAST({col} AS DOUBLE) AS x FROM src) "
                                f"WHERE {finite}")
        splits = [-float("inf"), *(-grid[::-1]).tolist(), float("inf")]
        binned = Bucketizer(splits=splits, inputCol="nx", outputCol="j").transform(values)
        anchors = self.spark.createDataFrame([(int(c), float(a)) for c, a in enumerate(np.r_[grid, grid[-1]])],
                                             "cell INT, anchor DOUBLE")
        cells = binned.select("x", (F.lit(g) - F.col("j").cast("int")).alias("cell"))
        agg = (cells.join(F.broadcast(anchors), "cell")
               .groupBy("cell")
               .agg(F.count(F.lit(1)), F.sum(F.col("x") - F.col("anchor")),
                    F.sum((F.col("x") == F.col("anchor")).cast("bigint")))
               .collect())
        counts, sums, at_edge = np.zeros(g + 1, np.int64), np.zeros(g + 1), np.zeros(g + 1, np.int64)
        for c, n, s, e in agg:
            counts[int(c)], sums[int(c)], at_edge[int(c)] = int(n), float(s), int(e)
        at_edge[-1] = 0
        return NumericCells(counts, sums, at_edge, n_missing, float(stats[1]), float(stats[2]))


_CELL_SCHEMA = "f INT, cell INT, n BIGINT, s DOUBLE, e BIGINT, lo DOUBLE, hi DOUBLE"


def arrow_drift_cells(spark: Any, names: list[str], profiles: list, dialect: S.Dialect) -> dict[str, NumericCells]:
    """Every numeric feature on its reference grid in ONE Spark job: ``mapInArrow`` runs the
    in-memory path's compiled scan (``scan_column``: lookup table + edge corrections, then one
    scatter per value) on each Arrow batch where the data lives, and Spark sums the per-batch
    cell statistics by (feature, cell). The cells are those of ``GridBinner`` (tested equal to
    the Bucketizer path and to DuckDB); float sums differ only in their order of addition.

    Needs workbench importable by the Python workers (automatic in local mode; on a cluster,
    install it there or use ``drift_binning="bucketizer"``, which runs in the JVM).
    """
    from pyspark.sql import functions as F

    grids = [np.asarray(p.grid, dtype=np.float64) for p in profiles]

    def scan(batches):  # pragma: no cover - runs in the Spark Python workers
        import pyarrow as pa
        import pyarrow.compute as pc

        from workbench.engine._spark_partials import DriftAccumulator

        # one output batch per partition (a batch per Arrow batch was 25M rows to group at 5M)
        drift = DriftAccumulator(grids)
        for batch in batches:
            for j in range(len(grids)):
                drift.add(j, pc.fill_null(batch.column(j), float("nan")).to_numpy(zero_copy_only=False)
                          .astype(np.float64))
        acc, missing, low, high = drift.acc, drift.missing, drift.low, drift.high
        cols: dict[str, list] = {k: [] for k in ("f", "cell", "n", "s", "e", "lo", "hi")}
        for j, a in enumerate(acc):
            cells = np.flatnonzero(a[:, 0])
            k = cells.size + 1
            cols["f"].append(np.full(k, j, np.int32))
            cols["cell"].append(np.r_[-1, cells].astype(np.int32))
            cols["n"].append(np.r_[missing[j], a[cells, 0]].astype(np.int64))
            cols["s"].append(np.r_[0.0, a[cells, 1]])
            cols["e"].append(np.r_[0, a[cells, 2]].astype(np.int64))
            finite = np.isfinite(low[j])
            cols["lo"].append(np.r_[low[j] if finite else np.nan, np.full(cells.size, np.nan)])
            cols["hi"].append(np.r_[high[j] if finite else np.nan, np.full(cells.size, np.nan)])
        yield pa.RecordBatch.from_pydict({k: np.concatenate(v) for k, v in cols.items()})

    values = spark.sql("SELECT " + ", ".join(f"TRY_CAST({dialect.ident(n)} AS DOUBLE) AS v{j}"
                                             for j, n in enumerate(names)) + " FROM src")
    with arrow_batches(spark):
        table = (values.mapInArrow(scan, _CELL_SCHEMA)
                 .groupBy("f", "cell")
                 .agg(F.sum("n").alias("n"), F.sum("s").alias("s"), F.sum("e").alias("e"),
                      F.min(F.when(~F.isnan("lo"), F.col("lo"))).alias("lo"),
                      F.max(F.when(~F.isnan("hi"), F.col("hi"))).alias("hi"))
                 .toArrow())
    f, cell, n, s, e, lo, hi = (table.column(k).to_numpy(zero_copy_only=False) for k in
                                ("f", "cell", "n", "s", "e", "lo", "hi"))
    out = {}
    for j, name in enumerate(names):
        g = grids[j].size
        mine = f == j
        counts, sums, at_edge = np.zeros(g + 1, np.int64), np.zeros(g + 1), np.zeros(g + 1, np.int64)
        inside = mine & (cell >= 0)
        counts[cell[inside]], sums[cell[inside]], at_edge[cell[inside]] = n[inside], s[inside], e[inside]
        miss = np.flatnonzero(mine & (cell < 0))
        n_missing = int(n[miss[0]]) if miss.size else 0
        low, high = (float(lo[miss[0]]), float(hi[miss[0]])) if miss.size else (float("nan"), float("nan"))
        if g == 0 or counts.sum() == 0:
            out[name] = NumericCells(np.zeros(0), np.zeros(0), np.zeros(0), n_missing, np.nan, np.nan)
        else:
            out[name] = NumericCells(counts, sums, at_edge, n_missing, low, high)
    return out


def spark_aggregates(
    spark: Any,
    source: str | Path,
    spec: ScaleSpec,
    *,
    table: str | None = None,
    profile=None,
    drift_binning: str = "arrow",
    models: dict | None = None,
    progress: Callable[[str], None] | None = None,
    worker_reads: bool = True,
) -> Aggregates:
    """Every aggregate of the plan computed by Spark over a Parquet path/glob or a table.

    AUC/AP use ``spec.histogram_bins`` bins (the evidence records the method and bound).
    ``drift_binning``: ``"arrow"`` (the compiled scan in the Python workers, one job for every
    feature) or ``"bucketizer"`` (``Bucketizer`` in the JVM, one job per feature). ``models``
    (``_spark_scoring.prepare_models``): model files scored in the workers into the score
    columns ``spec.scores`` names (``__wb_score_<role>``). ``worker_reads``: the Python workers
    read Parquet sources themselves with pyarrow when they can (``_spark_files``); False keeps
    Spark's read.
    """
    ex = SparkExecutor(spark, source, spec, table=table, drift_binning=drift_binning, models=models,
                       progress=progress, worker_reads=worker_reads)
    try:
        return ex.run(profile=profile)
    finally:
        ex.close()
