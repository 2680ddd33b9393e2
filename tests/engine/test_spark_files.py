"""The Spark workers reading Parquet row groups with pyarrow (``_spark_files``) give the partials
of Spark's own read (the JVM path) and of numpy: same buckets, cells, histograms and counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.engine import assert_cells_agree, assert_numeric_drift_equal, make_frame, make_reference
from workbench.engine import ScaleSpec, build_profile, evidence_from_aggregates

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.mark.parametrize("sql_type", ["BIGINT", "INT", "SMALLINT", "TINYINT"])
def test_xxhash64_is_sparks_and_the_buckets_too(spark, sql_type):
    """Spark's xxhash64 of each integer type, and the bucket of the row key (``Dialect.row_key``,
    ``Dialect.bucket``) for extreme, negative and NULL ids."""
    from workbench.engine import _sql as S
    from workbench.engine._spark_files import spark_xxhash64

    bits = {"BIGINT": 64, "INT": 32, "SMALLINT": 16, "TINYINT": 8}[sql_type]
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    values = [lo, lo + 1, -7, -1, 0, 1, 2, 11, 127 if bits > 8 else 100, hi - 1, hi,
              *np.random.default_rng(bits).integers(lo, hi, 40, endpoint=True).tolist()]
    d, seed = S.Dialect("spark"), 2**63 + 12345
    frame = spark.createDataFrame([(v,) for v in values] + [(None,)], f"id {sql_type}")
    rows = frame.selectExpr("xxhash64(id)", d.bucket(d.row_key("id", seed), 1024)).collect()
    assert spark_xxhash64(np.array(values), long=bits == 64).tolist() == [r[0] for r in rows[:-1]]
    key = np.r_[spark_xxhash64(np.array(values), long=bits == 64), 42] ^ np.int64(np.uint64(seed).view(np.int64))
    assert np.mod(key, 1024).tolist() == [r[1] for r in rows]


def _lake(tmp_path, frame: pd.DataFrame) -> str:
    """Three files of several row groups each (rows in different orders, so the tasks meet the
    cells in different orders) and an empty file, in a folder whose name needs URI escaping."""
    lake = tmp_path / "a lake%"
    lake.mkdir()
    shuffled = frame.sample(frac=1.0, random_state=3)
    for k in range(3):
        part = shuffled.iloc[k * 1400: (k + 1) * 1400]
        part = part.sort_values(["sex", "age"], ascending=k % 2 == 0, na_position="first" if k else "last")
        part.to_parquet(lake / f"part-{k}.parquet", index=False, row_group_size=300 + 100 * k)
    frame.iloc[:0].to_parquet(lake / "part-3.parquet", index=False)
    return str(lake / "*.parquet")


def _by_cell(fair):
    names = list(fair.combos)
    return {tuple(fair.combos[n][c] for n in names): c for c in range(len(fair.combos[names[0]]))}


@pytest.mark.parametrize("id_dtype", ["int64", "Int32"])
def test_worker_reads_equal_sparks_read_and_numpy(spark, tmp_path, id_dtype):
    """The partials of the pyarrow read equal those of Spark's read over the same glob (the same
    per-bucket bootstrap sums: the buckets are Spark's) and numpy's: counts, histograms,
    fairness and drift cells identical, quantile edges those of numpy.quantile, float sums to
    1e-9. Missing values in both sensitive columns, a categorical (dictionary) one, NULL ids
    (Int32), four files with several row groups and one empty."""
    from workbench.engine._numpy import numpy_aggregates
    from workbench.engine._spark import SparkExecutor

    frame = make_frame(4200, seed=12)
    frame.loc[frame.index[:40], "sex"] = None
    frame["sex"] = frame["sex"].astype("category")
    frame["id"] = frame["id"].astype(id_dtype)
    if id_dtype == "Int32":
        frame.loc[frame.index[::97], "id"] = None
    glob = _lake(tmp_path, frame)
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                     features=("x1", "c1"), id_column="id", n_boot=30, seed=5, auc="histogram",
                     histogram_bins=1 << 12, bootstrap_buckets=64)
    profile = build_profile(make_reference(1000), features=["x1", "c1"])
    runs, files = {}, {}
    for reads in (True, False):
        ex = SparkExecutor(spark, glob, spec, worker_reads=reads)
        try:
            runs[reads] = ex.run(profile=profile)
            files[reads] = ex.files
        finally:
            ex.close()
    assert files[False] is None and files[True] is not None and len(files[True].tasks) > 1
    assert sum(len(groups) for task in files[True].tasks for _, groups in task) == 5 + 4 + 3  # row groups
    new, old = runs[True], runs[False]
    ref = numpy_aggregates(frame, spec, profile=profile)
    assert new.n_rows == old.n_rows == ref.n_rows == 4200
    for role, col in spec.scores.items():
        a, b, r = new.roles[role], old.roles[role], ref.roles[role]
        assert np.array_equal(a.linear[:4], b.linear[:4]) and np.array_equal(a.linear[:4], r.linear[:4])
        for other in (b, r):
            assert np.allclose(a.linear, other.linear, rtol=0, atol=1e-9), role
            assert np.array_equal(a.histogram, other.histogram), role
            assert (a.score_min, a.score_max) == (other.score_min, other.score_max)
            assert a.slope == pytest.approx(other.slope, abs=1e-9)
            assert a.intercept == pytest.approx(other.intercept, abs=1e-9)
            assert np.allclose(a.calibration, other.calibration, rtol=1e-12, atol=1e-9), role
        assert np.array_equal(a.quantile_edges, np.unique(np.quantile(frame[col], np.linspace(0, 1, 11))))
        assert np.array_equal(a.quantile_edges, b.quantile_edges)
        assert np.array_equal(new.boot.histogram[role], old.boot.histogram[role])
        for part in ("linear", "calibration"):
            x, y = getattr(new.boot, part)[role], getattr(old.boot, part)[role]
            assert x.shape == y.shape and np.allclose(x, y, rtol=1e-12, atol=1e-8), (role, part)
    cells = {"new": _by_cell(new.fairness), "old": _by_cell(old.fairness), "ref": _by_cell(ref.fairness)}
    assert set(cells["new"]) == set(cells["old"])
    assert any(None in key for key in cells["new"])
    labels = {key: tuple("(missing)" if v is None else str(v) for v in key) for key in cells["new"]}  # numpy's
    assert set(labels.values()) == set(cells["ref"])
    assert_cells_agree(new, old, cells["new"], cells["old"], spec.scores)
    for key, c in cells["new"].items():
        assert np.array_equal(new.fairness.joint[c], ref.fairness.joint[cells["ref"][labels[key]]]), key
    assert_numeric_drift_equal(new.drift["x1"], (old.drift["x1"], ref.drift["x1"]))
    assert new.drift["c1"].counts == old.drift["c1"].counts == ref.drift["c1"].counts


def test_a_string_label_and_tinyint_ids_read_by_the_workers(spark, tmp_path):
    """A categorical string label (with NULLs) against a string positive label, and tinyint ids
    (hashInt, repeated values): the same aggregates as Spark's read."""
    from workbench.engine._spark import SparkExecutor

    frame = make_frame(2000, seed=8)
    frame["y"] = pd.Categorical(np.where(frame["y"] == 1, "yes", "no"))  # read back dictionary-encoded
    frame.loc[frame.index[:15], "y"] = None
    frame["id"] = (frame["id"] % 256 - 128).astype("int8")
    path = tmp_path / "s.parquet"
    frame.to_parquet(path, index=False, row_group_size=700)
    spec = ScaleSpec(label="y", positive_label="yes", scores={"candidate": "sc"}, sensitive=("sex",), id_column="id",
                     n_boot=10, histogram_bins=1 << 10, auc="histogram", bootstrap_buckets=64)
    runs = {}
    for reads in (True, False):
        ex = SparkExecutor(spark, str(path), spec, worker_reads=reads)
        try:
            runs[reads] = ex.run()
            assert (ex.files is not None) == reads
        finally:
            ex.close()
    a, b = runs[True].roles["candidate"], runs[False].roles["candidate"]
    assert a.linear[2] == b.linear[2] == int((frame["y"] == "yes").sum())
    assert np.array_equal(a.histogram, b.histogram) and np.allclose(a.linear, b.linear, atol=1e-9)
    assert np.array_equal(runs[True].boot.histogram["candidate"], runs[False].boot.histogram["candidate"])
    assert np.allclose(runs[True].boot.linear["candidate"], runs[False].boot.linear["candidate"], atol=1e-9)


def test_spark_reads_what_the_workers_cannot(spark, tmp_path):
    """Types whose cast or hash the workers do not reproduce keep Spark's read: string ids,
    decimal scores, timestamp sensitive columns; a table never goes to the workers."""
    from decimal import Decimal

    from workbench.engine._spark import SparkExecutor
    from workbench.engine._spark_files import parquet_source

    frame = make_frame(300, seed=2)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, sensitive=("sex",), id_column="id", n_boot=5)
    variants = {"ok": frame, "string id": frame.assign(id=frame["id"].astype(str)),
                "decimal score": frame.assign(sc=[Decimal(str(round(v, 3))) for v in frame["sc"]]),
                "timestamp group": frame.assign(sex=pd.Timestamp("2026-01-01"))}
    for name, data in variants.items():
        path = tmp_path / f"{name}.parquet"
        data.to_parquet(path, index=False)
        source = parquet_source(spark, spark.read.parquet(str(path)), spec, [], batch_rows=1 << 17)
        assert (source is not None) == (name == "ok"), name
    spark.read.parquet(str(tmp_path / "ok.parquet")).createOrReplaceTempView("ok_table")
    ex = SparkExecutor(spark, "", spec, table="ok_table")
    try:
        assert not ex.worker_reads
    finally:
        ex.close()


def test_zero_rows_give_the_in_memory_paths_evidence(spark, tmp_path):
    """An empty Parquet file through the single pass (workers' read and Spark's): every metric
    undefined for "no rows", as numpy says, instead of a failed assertion."""
    from workbench.engine._numpy import numpy_aggregates
    from workbench.engine._spark import spark_aggregates

    frame = make_frame(10).iloc[:0]
    path = tmp_path / "empty.parquet"
    frame.to_parquet(path, index=False)
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, features=("x1", "c1"), id_column="id",
                     n_boot=20, auc="histogram", histogram_bins=1 << 12, bootstrap_buckets=64)
    profile = build_profile(make_reference(1000), features=["x1", "c1"])
    ref = evidence_from_aggregates(numpy_aggregates(frame, spec, profile=profile), spec, profile=profile)
    for reads in (True, False):
        agg = spark_aggregates(spark, str(path), spec, profile=profile, worker_reads=reads)
        assert agg.n_rows == 0
        ev = evidence_from_aggregates(agg, spec, profile=profile)
        for role in spec.scores:
            for section in ("metrics", "calibration"):
                mine, theirs = ev["models"][role][section], ref["models"][role][section]
                assert set(mine) == set(theirs)
                for name, entry in theirs.items():
                    if isinstance(entry, dict) and "defined" in entry:
                        assert (mine[name]["defined"], mine[name]["value"]) == (entry["defined"], entry["value"]), name
        assert ev["models"]["candidate"]["metrics"]["accuracy"]["reason"] == "no rows (total weight is 0)"


def test_partials_travel_as_gaps_and_narrow_counts_and_come_back_exact():
    """A partition's sparse count arrays (gaps between indices, counts in uint8/uint16/int32) and
    its dense ones unpack exactly, alone and summed over partitions."""
    from workbench.engine._spark_partials import densify, pack, unpack

    rng = np.random.default_rng(7)
    blobs, arrays, total = [], [], np.zeros((2, 1 << 20), np.int64)
    for n, big in ((0, 0), (500, 300), (200_000, 70_000), (300_000, 0)):
        a = np.zeros_like(total)
        np.add.at(a.ravel(), rng.integers(0, a.size, n), 1)
        a[1, -1] += big  # a count past uint8 / uint16
        total += a
        arrays.append(a)
        blobs.append(pack({"boot_hist": a, "dense": np.arange(70_000, dtype=np.int64), "f": np.ones(3)}))
    assert len(blobs[-1]) < 300_000 * 4  # about 3 bytes a count, not 8
    sparse: dict = {}
    out: dict = {}
    for blob, a in zip(blobs, arrays, strict=True):
        alone = unpack(blob)
        assert np.array_equal(alone["boot_hist"], a)
        assert np.array_equal(alone["dense"], np.arange(70_000)) and alone["f"].tolist() == [1.0] * 3
        assert "boot_hist" not in unpack(blob, sparse)
    densify(sparse, out)
    assert np.array_equal(out["boot_hist"], total)


def test_many_cells_are_summed_by_cell_across_partitions(spark, tmp_path):
    """Enough cells x buckets that a partition's joint counts travel as (gap, count) pairs: each
    partition's cells are still renumbered before the sum (both reads), as numpy counts them."""
    from workbench.engine._numpy import numpy_aggregates
    from workbench.engine._spark import SparkExecutor

    frame = make_frame(3000, seed=5)
    frame["grp"] = np.random.default_rng(1).integers(0, 25, len(frame))
    glob = _lake(tmp_path, frame)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, sensitive=("grp", "sex"), id_column="id", n_boot=5,
                     auc="histogram", histogram_bins=1 << 10, bootstrap_buckets=1024)
    ref = numpy_aggregates(frame, spec)
    want = _by_cell(ref.fairness)
    assert len(want) == 50 and len(want) * spec.bootstrap_buckets * 2 * 2 > 1 << 16  # joint sent as pairs
    for reads in (True, False):
        ex = SparkExecutor(spark, glob, spec, worker_reads=reads)
        try:
            agg = ex.run()
        finally:
            ex.close()
        got = _by_cell(agg.fairness)
        assert {tuple(str(v) for v in key) for key in got} == set(want)
        for key, c in got.items():
            assert np.array_equal(agg.fairness.joint[c], ref.fairness.joint[want[tuple(str(v) for v in key)]]), key
