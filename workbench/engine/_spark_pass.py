"""The Spark plan in few passes: one ``mapInArrow`` pass computes every partial that needs no
other result (``_spark_partials``), then the calibration's order statistics, Newton steps and
the per-bucket quantile-bin and Newton sums at the fitted parameters are narrow JVM scans.

Passes over the data (10M rows, two models, 20 drift features, bucket bootstrap): the partials
pass; one ``GROUP BY bin, value`` over the few histogram bins that hold the calibration
quantiles (per model); the Newton steps from the warm start (2-3 scans of y and the scores);
one final ``GROUP BY bucket, y, quantile bins`` with the Newton sums at the fit. No
``CACHE TABLE``: each pass reads only its columns from the source. The previous plan (about
fifteen Spark jobs over a cached table) remains for ``drift_binning="bucketizer"`` — it runs
in the JVM alone, for clusters whose workers cannot import workbench — and for the row bootstrap.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.engine import _sql as S
from workbench.engine._plan import (
    Aggregates,
    BootstrapAggregates,
    FairnessAggregates,
    RoleAggregates,
)
from workbench.engine._quantiles import exact_quantiles
from workbench.engine._ranks import histogram_bin, histogram_domain, histogram_scale
from workbench.engine._spark_files import parquet_source
from workbench.engine._spark_partials import (
    NarrowPlan,
    PassPlan,
    drift_cells,
    merge,
    merge_narrow,
    run_narrow,
    run_partition,
)
from workbench.engine._sql_boot import contract
from workbench.errors import DataError
from workbench.metrics.bootstrap import fill_poisson_counts
from workbench.metrics.calibration import warm_start_fit

if TYPE_CHECKING:
    from workbench.engine._spark import SparkExecutor

#: Rows per Arrow batch of the ``mapInArrow`` passes (Spark's default 10,000 made per-batch
#: Python work dominate: 12.5 s vs 5.3 s for the 20-feature drift scan at 5M rows on local[2]).
ARROW_BATCH_ROWS = 1 << 17


def arrow_batches(spark: Any, rows: int = ARROW_BATCH_ROWS):
    """Context manager setting ``spark.sql.execution.arrow.maxRecordsPerBatch`` for one job."""
    from contextlib import contextmanager

    @contextmanager
    def scope():
        key = "spark.sql.execution.arrow.maxRecordsPerBatch"
        before = spark.conf.get(key, None)
        spark.conf.set(key, str(rows))
        try:
            yield
        finally:
            if before is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, before)

    return scope()


def _blobs(ex: SparkExecutor, frame: Any, per_partition: Any, plan: Any,
           layout: tuple[tuple[Any, ...], ...] | None = None) -> list[bytes]:
    """Run ``per_partition(batches, plan)`` in the Python workers over ``frame`` (``mapInArrow``):
    the serialised partial of every partition, for the driver to merge. When the workers read the
    Parquet files themselves (``ex.files``), ``frame`` is not read: each task reads its row
    groups as the batches of ``layout`` (``_spark_files.read_batches``)."""
    source = ex.files
    if source is not None and layout is not None:
        if not source.tasks:  # only empty files
            return []
        keyed = any(item[0] == "c" for item in layout)

        def read(batches):  # pragma: no cover - runs in the Spark Python workers
            from workbench.engine._spark_files import CellKeys, read_batches

            for batch in batches:
                for t in batch.column(0).to_pylist():
                    cells = CellKeys() if keyed else None
                    rows = read_batches(source, t, layout, cells)
                    yield from (per_partition(rows, plan, cells) if keyed else per_partition(rows, plan))

        frame, task = ex.spark.range(0, len(source.tasks), 1, len(source.tasks)), read
    else:
        def task(batches):  # pragma: no cover - runs in the Spark Python workers
            yield from per_partition(batches, plan)

    with arrow_batches(ex.spark):
        table = frame.mapInArrow(task, "blob BINARY").toArrow()
    return table.column("blob").to_pylist()


def cell_hash(ex: SparkExecutor) -> str:
    """One 64-bit key per sensitive cell, computed in the JVM (the null flags keep (NULL, 'a')
    apart from ('a', NULL)); checked collision-free against the distinct cells."""
    return "xxhash64(" + ", ".join(f"isnull(g_{j}), g_{j}" for j in range(len(ex.spec.sensitive))) + ")"


def partials_pass(ex: SparkExecutor, plan: PassPlan, numeric: list[str]
                  ) -> tuple[dict[str, np.ndarray], list[int], dict[int, str]]:
    """Run the partials pass over the scored source and sum the partitions' partials."""
    spec, d = ex.spec, ex.dialect
    inner = [S.base_select(d, spec, row_key=ex.row_key),
             *(f"TRY_CAST({d.ident(n)} AS DOUBLE) AS v_{j}" for j, n in enumerate(numeric))]
    cols = ["y", *(f"s_{i}" for i in range(plan.n_roles))]
    if spec.sensitive:
        cols.append(f"{cell_hash(ex)} AS c")
    if plan.units > 1:
        cols.append(f"{d.bucket('k', plan.units)} AS u")
    cols += [f"v_{j}" for j in range(len(numeric))]
    frame = ex.spark.sql(f"SELECT {', '.join(cols)} FROM (SELECT {', '.join(inner)} FROM {ex.scored})")
    layout = (("y",), *(("s", i) for i in range(plan.n_roles)), *((("c",),) if spec.sensitive else ()),
              *((("u", plan.units),) if plan.units > 1 else ()), *(("v", j) for j in range(len(numeric))))
    return merge(_blobs(ex, frame, run_partition, plan, layout))


def cell_values(ex: SparkExecutor, keys: list[int]) -> list[tuple]:
    """The sensitive values of each cell hash (one JVM scan of the sensitive columns)."""
    g = [f"g_{j}" for j in range(len(ex.spec.sensitive))]
    found: dict[int, tuple] = {}
    for row in ex.rows(f"SELECT DISTINCT {cell_hash(ex)} AS c, {', '.join(g)} FROM base"):
        key, values = int(row[0]), tuple(row[1:])
        if found.setdefault(key, values) != values:
            raise DataError(f"sensitive features {list(ex.spec.sensitive)}: two cells share a 64-bit hash "
                            f"({values} and {found[key]}); use drift_binning='bucketizer' for this data")
    return [found[k] for k in keys]


def run_single_pass(ex: SparkExecutor, profile: Any = None) -> Aggregates:
    """Every aggregate of the plan (bucket bootstrap) from the partials pass and the narrow scans."""
    spec, t0 = ex.spec, time.perf_counter()
    roles = list(spec.scores)
    R = len(roles)
    numeric = [f for f in spec.features if profile is not None and profile.features[f].kind == "numeric"]
    grids = tuple(np.asarray(profile.features[f].grid, dtype=np.float64) for f in numeric)
    units = spec.bootstrap_buckets if spec.n_boot else 1
    plan = PassPlan(n_roles=R, threshold=spec.threshold, domains=((0.0, 1.0),) * R, probabilities=(True,) * R,
                    histogram_bins=spec.histogram_bins, bootstrap_bins=spec.bootstrap_bins,
                    calibration_bins=spec.calibration_bins, fairness_bins=spec.fairness_bins,
                    n_sensitive=len(spec.sensitive), units=units, grids=grids)
    if ex.worker_reads and ex.files is None:
        ex.files = parquet_source(ex.spark, ex.source_frame, spec, numeric, batch_rows=ARROW_BATCH_ROWS)
    arrays, cells, found = partials_pass(ex, plan, numeric)
    n_rows = int(arrays["rows"][0]) if arrays else 0
    if not arrays:  # no rows at all
        arrays = _empty(plan)
    for i, role in enumerate(roles):
        if int(arrays["bad"][i]):
            raise DataError(f"evaluation data: score column {spec.scores[role]!r} ({role}) has {int(arrays['bad'][i])} "
                            "missing or non-finite values; every row needs a score")
    low, high = arrays["low"], arrays["high"]
    probs = tuple(bool(low[i] >= 0 and high[i] <= 1) for i in range(R))
    if not all(probs):  # scores outside [0, 1]: histograms over the observed range, no calibration
        plan = PassPlan(**{**plan.__dict__, "probabilities": probs,
                           "domains": tuple(histogram_domain(float(low[i]), float(high[i])) for i in range(R))})
        arrays, cells, found = partials_pass(ex, plan, numeric)
    ex.say(f"{ex.engine}: {n_rows} rows, partials pass done ({time.perf_counter() - t0:.1f} s)")
    out: dict[str, RoleAggregates] = {}
    for i, role in enumerate(roles):
        out[role] = RoleAggregates(linear=arrays["linear"][i].sum(axis=0), score_min=float(low[i]),
                                   score_max=float(high[i]),
                                   histogram=arrays["hist"][i].reshape(spec.histogram_bins, 2).astype(np.int64))
    agg = Aggregates(engine=ex.engine, n_rows=n_rows, roles=out)
    per_unit = _calibration(ex, roles, out, arrays, units)
    F = len(cells)
    joint = arrays["joint"].reshape((F, units, 2) + (2,) * R)
    fair_cal = {roles[i]: arrays["fair_cal"][:, i] for i in range(R) if probs[i]}
    if spec.sensitive:
        values = [tuple(json.loads(found[k])) for k in cells] if found else cell_values(ex, cells)
        combos = {name: [c[j] for c in values] for j, name in enumerate(spec.sensitive)}
        agg.fairness = FairnessAggregates(combos=combos, joint=joint.sum(axis=1).astype(np.int64),
                                          calibration={r: a.sum(axis=1) for r, a in fair_cal.items()})
    if profile is not None and spec.features:
        numeric_cells = dict(zip(numeric, drift_cells(arrays, list(grids)), strict=True))
        for name in spec.features:
            agg.drift[name] = numeric_cells[name] if name in numeric_cells else ex._categories(name)
    agg.timings["aggregates"] = time.perf_counter() - t0
    if spec.n_boot:
        t1 = time.perf_counter()
        lin = {r: arrays["linear"][i] for i, r in enumerate(roles)}
        hist = {r: arrays["boot_hist"][i].reshape(units, spec.bootstrap_bins, 2).astype(np.float64)
                for i, r in enumerate(roles)}
        cal = {}
        for i, r in enumerate(roles):
            if i in per_unit:
                c = arrays["cal"][i]  # (U, 3, bins)
                cal[r] = np.concatenate([c[:, 0], c[:, 1], c[:, 2], per_unit[i], lin[r][:, 5:6],
                                         per_unit[-1 - i]], axis=1)
        boot = BootstrapAggregates(
            linear=lin, histogram=hist, calibration=cal,
            joint=np.moveaxis(joint, 1, 0).astype(np.float64) if spec.sensitive else None,
            fair_calibration={r: np.moveaxis(a, 1, 0) for r, a in fair_cal.items()} if spec.sensitive else {})
        counts = np.empty((spec.n_boot, units), dtype=np.uint8)
        fill_poisson_counts(counts, seed=spec.seed)
        agg.boot = contract(boot, counts)
        agg.boot.weights = (f"{ex.engine}: Poisson(1) bootstrap of {units} random buckets (row key hash mod "
                            f"{units}), Philox weights per (bucket, replicate), workbench.metrics.bootstrap")
        agg.timings["bootstrap"] = time.perf_counter() - t1
    return agg


def _empty(plan: PassPlan) -> dict[str, np.ndarray]:
    from workbench.engine._spark_partials import PassOne

    return PassOne(plan).arrays()


def narrow_pass(ex: SparkExecutor, plan: NarrowPlan) -> dict[str, np.ndarray]:
    """One pass of the Python workers over y, the calibrated scores and (per bucket) the bucket."""
    cols = ["y", *(f"s_{i}" for i in plan.models)]
    if plan.per_unit and plan.units > 1:
        cols.append(f"{ex.dialect.bucket('k', plan.units)} AS u")
    frame = ex.spark.sql(f"SELECT {', '.join(cols)} FROM base")
    layout = (("y",), *(("s", i) for i in plan.models),
              *((("u", plan.units),) if plan.per_unit and plan.units > 1 else ()))
    return merge_narrow(_blobs(ex, frame, run_narrow, plan, layout))


#: Above this many rows in the histogram bins holding the quantiles, they are read by SQL
#: (``exact_quantiles``, which splits large bins) instead of as (value, count) pairs.
PAIR_ROWS = 1 << 23


def wanted_bins(counts: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """The histogram bins holding the order statistics of ``numpy.quantile(x, qs)`` (as
    ``exact_quantiles`` locates them)."""
    n = int(np.sum(counts))
    if n == 0:
        return np.zeros(0, np.int64)
    pos = (n - 1) * np.asarray(qs, dtype=np.float64)
    floor = np.floor(pos).astype(np.int64)
    ranks = np.unique(np.r_[floor, np.minimum(floor + 1, n - 1)])
    return np.unique(np.searchsorted(np.cumsum(counts), ranks, side="right"))


def _calibration(ex: SparkExecutor, roles: list[str], out: dict[str, RoleAggregates], arrays: dict[str, np.ndarray],
                 units: int) -> dict[int, np.ndarray]:
    """Quantile edges and the Newton fit from the pass's histogram and warm-start table, then one
    pass for the quantile bins and the Newton sums at the fit per bucket. The (value, count) pairs
    of the bins holding the quantiles ride on the first Newton pass. Returns per model ``i`` the
    (U, 3 * quantile bins) sums and at ``-1 - i`` the (U, 5) Newton sums."""
    spec = ex.spec
    b = spec.calibration_bins
    qs = np.linspace(0, 1, b + 1)
    idx = [i for i, r in enumerate(roles) if out[r].probabilities and out[r].linear[3] > 0]
    empty = {}
    for i, r in enumerate(roles):
        if out[r].probabilities and out[r].linear[3] == 0:  # no rows: the in-memory path's edges, no fit
            out[r].quantile_edges = np.array([0.0, 1.0])
            out[r].calibration = np.zeros(3 * b + 3 + 1 + 5)
            empty[i], empty[-1 - i] = np.zeros((units, 3)), np.zeros((units, 5))
    if not idx:
        return empty
    wanted: dict[int, tuple[float, float, int, np.ndarray]] = {}
    by_sql: list[int] = []
    for i in idx:
        role = out[roles[i]]
        counts = role.histogram.sum(axis=1)  # type: ignore[union-attr]  # set by the pass
        bins = wanted_bins(counts, qs)
        if counts[bins].sum() > PAIR_ROWS:
            by_sql.append(i)
            continue
        lo, hi = histogram_domain(role.score_min, role.score_max)
        wanted[i] = (lo, histogram_scale(lo, hi, spec.histogram_bins), spec.histogram_bins, bins)
    if by_sql:
        for i, q in zip(by_sql, ex.quantiles(by_sql, qs, out=[out[roles[i]] for i in by_sql]), strict=True):
            out[roles[i]].quantile_edges = _edges(q)
    pairs: dict[str, np.ndarray] = {}

    def at(thetas: dict) -> dict:
        res = narrow_pass(ex, NarrowPlan(models=tuple(idx), thetas=thetas, wanted=wanted if not pairs else None))
        if not pairs:
            pairs.update({k: v for k, v in res.items() if k.startswith(("values", "counts"))}, done=np.zeros(0))
        return {i: tuple(float(v) for v in res[f"newton{i}"][0]) for i in thetas}

    start = {i: warm_start_fit(arrays["warm"][i, 0], arrays["warm"][i, 1]) for i in idx}
    fits = S.newton_fit_many(at, {i: (out[roles[i]].linear[3], out[roles[i]].linear[2]) for i in idx}, start=start)
    if wanted and not pairs:  # no Newton pass ran (no fit exists): read the pairs alone
        at({})
    for i, (lo, scale, n_bins, _) in wanted.items():
        values, counts = pairs[f"values{i}"], pairs[f"counts{i}"]
        found: list[tuple] = list(zip(histogram_bin(values, lo=lo, scale=scale, bins=n_bins).tolist(),
                                      values.tolist(), counts.tolist(), strict=True))

        def read(_sql: str, found: list[tuple] = found) -> list[tuple]:
            return found

        q = exact_quantiles(read, "s", "b",
                            out[roles[i]].histogram.sum(axis=1), qs, read_limit=1 << 62)  # type: ignore[union-attr]  # set by the pass
        out[roles[i]].quantile_edges = _edges(q)
    for i in idx:
        out[roles[i]].slope, out[roles[i]].intercept = fits[i]
    final = narrow_pass(ex, NarrowPlan(
        models=tuple(idx), thetas={i: (out[roles[i]].intercept, out[roles[i]].slope) for i in idx}, units=units,
        per_unit=True, edges={i: out[roles[i]].quantile_edges[1:-1] for i in idx}))  # type: ignore[index]  # set above
    result: dict[int, np.ndarray] = {}
    for i in idx:
        role = out[roles[i]]
        bq = role.quantile_edges.size - 1  # type: ignore[union-attr]  # set above
        qb = final.get(f"qb{i}", np.zeros((units, 3, bq)))
        newton = final.get(f"newton{i}", np.zeros((units, 5)))
        result[i], result[-1 - i] = qb.reshape(units, -1), newton
        c = arrays["cal"][i].sum(axis=0)  # (3, uniform bins)
        role.calibration = np.concatenate([c[0], c[1], c[2], qb.sum(axis=0).ravel(), [role.linear[5]],
                                           newton.sum(axis=0)])
    return result


def _edges(q: list[float]) -> np.ndarray:
    edges = np.unique(np.asarray(list(q), dtype=np.float64))
    return edges if edges.size >= 2 else np.array([edges[0], edges[0]])
