"""The DuckDB executor gives the numpy evidence; spills beyond its memory limit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from tests.engine import make_frame, make_reference
from workbench.engine import (
    ScaleSpec,
    build_profile,
    evidence_from_aggregates,
    numpy_aggregates,
)
from workbench.engine._duckdb import duckdb_aggregates
from workbench.engine._sql import poisson_cdf
from workbench.errors import DataError

duckdb = pytest.importorskip("duckdb")

SPEC = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                 features=("x1", "c1"), id_column="id", n_boot=200, seed=7)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    frame = make_frame(6000, seed=11)
    folder = tmp_path_factory.mktemp("duck")
    frame.iloc[:2500].to_parquet(folder / "part-0.parquet")
    frame.iloc[2500:].to_parquet(folder / "part-1.parquet")
    profile = build_profile(make_reference(4000), features=["x1", "c1"])
    np_ev = evidence_from_aggregates(numpy_aggregates(frame, SPEC, profile=profile), SPEC, profile=profile)
    dk_ev = evidence_from_aggregates(duckdb_aggregates(str(folder / "part-*.parquet"), SPEC, profile=profile,
                                                       memory_limit="256MB"), SPEC, profile=profile)
    return frame, folder, profile, np_ev, dk_ev


def _ci_tolerance(entry: dict) -> float:
    # 95% percentile CI from B=200 replicates: each endpoint has a Monte-Carlo sd of about
    # sqrt(0.025 * 0.975 / 200) / phi(1.96) = 0.19 sigma = 0.048 CI widths; two independent
    # bootstraps differ by sd 0.068 widths, so 0.35 widths is a > 5 sd tolerance.
    return 0.35 * (entry["ci_high"] - entry["ci_low"])


def test_point_estimates_equal_numpy(data):
    _, _, _, np_ev, dk_ev = data
    assert dk_ev["engine"] == "duckdb"
    for role in ("candidate", "baseline"):
        a, b = np_ev["models"][role], dk_ev["models"][role]
        assert a["confusion_matrix"] == b["confusion_matrix"]
        assert a["metrics"]["roc_auc"]["value"] == b["metrics"]["roc_auc"]["value"]  # exact, bit for bit
        assert b["metrics"]["roc_auc"]["method"] == "exact"
        for name, entry in a["metrics"].items():
            assert b["metrics"][name]["value"] == pytest.approx(entry["value"], abs=1e-9), name
        for name in ("ece", "ece_quantile", "mce", "brier_score", "slope", "intercept", "reliability"):
            assert b["calibration"][name]["value"] == pytest.approx(a["calibration"][name]["value"], abs=1e-9), name
        assert [c["count"] for c in b["calibration"]["curve"]["quantile"]] == [
            c["count"] for c in a["calibration"]["curve"]["quantile"]]
    assert dk_ev["tests"]["mcnemar"] == np_ev["tests"]["mcnemar"]


def test_confidence_intervals_agree_statistically(data):
    _, _, _, np_ev, dk_ev = data
    for role in ("candidate", "baseline"):
        for name in ("roc_auc", "accuracy", "log_loss", "recall"):
            a, b = np_ev["models"][role]["metrics"][name], dk_ev["models"][role]["metrics"][name]
            tol = _ci_tolerance(a)
            assert abs(a["ci_low"] - b["ci_low"]) <= tol and abs(a["ci_high"] - b["ci_high"]) <= tol, (role, name)
    a, b = np_ev["deltas"]["roc_auc"], dk_ev["deltas"]["roc_auc"]
    assert abs(a["ci_low"] - b["ci_low"]) <= _ci_tolerance(a)


def test_fairness_and_drift_equal_numpy(data):
    _, _, _, np_ev, dk_ev = data
    for role in ("candidate", "baseline"):
        for grouping, sec in np_ev["models"][role]["fairness"].items():
            ours = dk_ev["models"][role]["fairness"][grouping]
            assert {k: g["n"] for k, g in ours["groups"].items()} == {k: g["n"] for k, g in sec["groups"].items()}
            for label, g in sec["groups"].items():
                for m in ("selection_rate", "tpr", "fpr", "ece"):
                    assert ours["groups"][label][m]["value"] == pytest.approx(g[m]["value"], abs=1e-9, nan_ok=True)
            assert ours["demographic_parity_ratio"]["value"] == pytest.approx(sec["demographic_parity_ratio"]["value"])
            assert ours["slice_tests"] == sec["slice_tests"]
    for name in ("x1", "c1"):
        a, b = np_ev["drift"]["features"][name], dk_ev["drift"]["features"][name]
        assert a["current_proportions"] == b["current_proportions"]
        for key in ("psi", "ks_statistic", "wasserstein"):
            if key in a:
                assert b[key] == pytest.approx(a[key], abs=1e-9), (name, key)


def test_hashed_poisson_weights_are_poisson_and_independent(data):
    _, folder, _, _, _ = data
    from workbench.engine._duckdb import DuckDBExecutor

    ex = DuckDBExecutor(str(folder / "part-*.parquet"), SPEC)
    try:
        rep = ex.replicated_source().replace(f"range({SPEC.n_boot})", "range(4)")
        w = np.array(ex.rows(f"SELECT u, k, w FROM {rep} ORDER BY u, k"), dtype=object)
    finally:
        ex.close()
    weights = w[:, 2].astype(float).reshape(4, -1)
    observed = np.bincount(weights.ravel().astype(int), minlength=13)[:6]
    expected = stats.poisson.pmf(np.arange(6), 1.0) * weights.size
    expected[-1] += weights.size - expected.sum()
    observed[-1] += weights.size - observed.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-4
    corr = np.corrcoef(weights)
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.05  # replicates uncorrelated (n = 6000)
    assert np.diff(poisson_cdf()).min() > 0


def test_missing_column_names_it(data):
    _, folder, _, _, _ = data
    bad = ScaleSpec(label="y", scores={"candidate": "nope"}, n_boot=0)
    with pytest.raises(DataError, match="nope"):
        duckdb_aggregates(str(folder / "part-*.parquet"), bad)


def _database(path, frame):
    """A DuckDB database file holding ``frame`` as its one table ``scored``."""
    con = duckdb.connect(str(path))
    con.register("f", frame)
    con.execute("CREATE TABLE scored AS SELECT * FROM f")
    con.close()
    return path


def test_duckdb_table_source(data, tmp_path):
    frame, _, _, np_ev, _ = data
    db = _database(tmp_path / "scores.duckdb", frame)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, n_boot=0)
    ev = evidence_from_aggregates(duckdb_aggregates(str(db), spec, table="scored"), spec)
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["value"] == np_ev["models"]["candidate"]["metrics"]["roc_auc"]["value"]


@pytest.mark.slow
def test_larger_than_memory_limit_spills_with_the_same_result(tmp_path, monkeypatch):
    from workbench.engine._duckdb import DuckDBExecutor

    # DuckDB's grouped sort (the path of tables whose scores do not fit in memory, see test_sorted_scores)
    monkeypatch.setattr(DuckDBExecutor, "score_sort", "sql")
    n = 1_500_000
    rng = np.random.default_rng(3)
    y = rng.random(n) < 0.4
    score = rng.random(n) * 0.6 + 0.3 * y  # ~n distinct scores: the exact-AUC sort is the size of the table
    import pandas as pd

    pd.DataFrame({"y": y.astype(np.int8), "s": score}).to_parquet(tmp_path / "big.parquet")
    spec = ScaleSpec(label="y", scores={"candidate": "s"}, n_boot=0)
    spill = tmp_path / "spill"
    agg = duckdb_aggregates(str(tmp_path / "big.parquet"), spec, memory_limit="48MB", temp_directory=spill, threads=1)
    ev = evidence_from_aggregates(agg, spec)
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert ev["models"]["candidate"]["confusion_matrix"][1][1] == int((y & (score >= 0.5)).sum())
    # the same review without a spill directory does not fit in 48 MB: it really spilled
    with pytest.raises(duckdb.OutOfMemoryException):
        duckdb_aggregates(str(tmp_path / "big.parquet"), spec, memory_limit="48MB", temp_directory="", threads=1)


def _oracle_linear_and_hist(pairs, spec: ScaleSpec, units: int, hb: int):
    """Replicated sums recomputed row by row from the weights DuckDB drew (independent of _sql_boot)."""
    from workbench.engine._ranks import histogram_bin

    u, w, y, s = (pairs[c].to_numpy() for c in ("u", "w", "y", "s_0"))
    pred = (s >= spec.threshold).astype(float)
    c = np.clip(s, np.finfo(float).eps, 1 - np.finfo(float).eps)
    cols = [w * y * pred, w * (1 - y) * pred, w * y, w, -w * (y * np.log(c) + (1 - y) * np.log(1 - c)), w * (s - y) ** 2]
    lin = np.stack([np.bincount(u, weights=v, minlength=units) for v in cols], axis=1)
    h = histogram_bin(s, lo=0.0, scale=float(hb), bins=hb)
    hist = np.bincount((u * hb + h) * 2 + y, weights=w, minlength=units * hb * 2).reshape(units, hb, 2)
    return lin, hist


@pytest.mark.parametrize("unit", ["row", "bucket"])
def test_replicated_sums_equal_a_row_by_row_oracle(data, unit):
    """Grouped scans + assembly (+ bucket contraction) give the weighted sums of every row."""
    from workbench.engine._duckdb import DuckDBExecutor
    from workbench.metrics.bootstrap import fill_poisson_counts

    _, folder, _, _, _ = data
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, id_column="id", n_boot=12, seed=5,
                     bootstrap_unit=unit, bootstrap_buckets=64)
    agg = duckdb_aggregates(str(folder / "part-*.parquet"), spec)
    ex = DuckDBExecutor(str(folder / "part-*.parquet"), spec)
    try:
        if unit == "row":
            pairs = ex.frame(f"SELECT u, w, y, s_0 FROM {ex.replicated_source()}")
        else:
            pairs = ex.frame(f"SELECT {ex.dialect.bucket('k', 64)} AS u, 1 AS w, y, s_0 FROM base")
    finally:
        ex.close()
    units = 12 if unit == "row" else 64
    lin, hist = _oracle_linear_and_hist(pairs, spec, units, spec.bootstrap_bins)
    if unit == "bucket":
        weights = fill_poisson_counts(np.empty((12, 64), np.uint8), seed=5).astype(float)
        lin, hist = weights @ lin, (weights @ hist.reshape(64, -1)).reshape(12, -1, 2)
    assert np.array_equal(agg.boot.linear["candidate"][:, :4], lin[:, :4])  # integer counts: exact
    np.testing.assert_allclose(agg.boot.linear["candidate"][:, 4:], lin[:, 4:], rtol=1e-9)
    assert np.array_equal(agg.boot.histogram["candidate"], hist)
    assert ("buckets" in agg.boot.weights) == (unit == "bucket")


def test_bucket_bootstrap_cis_agree_with_numpy(data):
    # Buckets of ~23 rows: the bucket bootstrap estimates the same sampling distribution; the
    # extra error of estimating it from M = 256 iid bucket sums is a relative CI-width sd of
    # about 1/sqrt(2M) = 0.044, small next to the 0.35-width tolerance of _ci_tolerance.
    _, folder, _, np_ev, _ = data
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                     id_column="id", n_boot=200, seed=7, bootstrap_unit="bucket", bootstrap_buckets=256)
    ev = evidence_from_aggregates(duckdb_aggregates(str(folder / "part-*.parquet"), spec), spec)
    for role in ("candidate", "baseline"):
        for name in ("roc_auc", "accuracy", "log_loss", "recall"):
            a, b = np_ev["models"][role]["metrics"][name], ev["models"][role]["metrics"][name]
            assert b["value"] == pytest.approx(a["value"], abs=1e-9)
            tol = _ci_tolerance(a)
            assert abs(a["ci_low"] - b["ci_low"]) <= tol and abs(a["ci_high"] - b["ci_high"]) <= tol, (role, name)
        sec_np = np_ev["models"][role]["fairness"]["sex"]["groups"]["F"]["tpr"]
        sec = ev["models"][role]["fairness"]["sex"]["groups"]["F"]["tpr"]
        assert abs(sec["ci_low"] - sec_np["ci_low"]) <= _ci_tolerance(sec_np)
    assert "256 random buckets" in ev["bootstrap"]["weights"]


def test_a_database_without_a_table_name_reads_its_only_table(data, tmp_path):
    from workbench.engine._duckdb import database_table
    from workbench.errors import ArtefactError

    frame, _, _, np_ev, _ = data
    db = _database(tmp_path / "lake.duckdb", frame)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, n_boot=0)
    ev = evidence_from_aggregates(duckdb_aggregates(str(db), spec), spec)
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["value"] == np_ev["models"]["candidate"]["metrics"]["roc_auc"]["value"]
    assert database_table(db) == "scored" and database_table(db, "scored") == "scored"
    with pytest.raises(ArtefactError, match=r"r.yaml: data.evaluation lake.duckdb: no table 'nope'; tables: scored"):
        database_table(db, "nope", label="r.yaml: data.evaluation")
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE other AS SELECT 1 AS a")
    con.close()
    with pytest.raises(ArtefactError, match=r"lake.duckdb has 2 tables \((other, scored|scored, other)\); pick one with --table"):
        database_table(db)
    with pytest.raises(ArtefactError, match=r"has 2 tables .*pick one with table="):
        duckdb_aggregates(str(db), spec)
    with pytest.raises(ArtefactError, match="not found"):
        database_table(tmp_path / "missing.duckdb")


def test_choose_engine_decides_once_and_checks_an_engine_asked_for(tmp_path):
    from workbench.engine import choose_engine, is_database, is_glob
    from workbench.errors import ManifestError

    assert is_glob("a/part-*.parquet") and is_glob("a/p[01].parquet") and not is_glob("a/p.parquet")
    assert is_database("lake.duckdb") and is_database("lake.db") and not is_database("lake.parquet")
    small = tmp_path / "s.parquet"
    small.write_bytes(b"x" * 100)
    assert choose_engine(small) == "numpy" and choose_engine(small, threshold_bytes=10) == "duckdb"
    assert choose_engine(tmp_path / "big.csv", threshold_bytes=0) == "numpy"  # only the in-memory loader reads CSV
    assert choose_engine("lake.duckdb") == choose_engine("x.parquet", table="t") == "duckdb"
    assert choose_engine(small, engine="duckdb") == "duckdb" and choose_engine(small, engine="spark") == "spark"
    with pytest.raises(ManifestError, match=r"^r.yaml: data.evaluation: --engine numpy reads one file, not lake.duckdb; "):
        choose_engine("lake.duckdb", engine="numpy", label="r.yaml: data.evaluation")
    with pytest.raises(ManifestError, match="lake.duckdb is a DuckDB database, which --engine spark cannot read"):
        choose_engine("lake.duckdb", engine="spark")
    with pytest.raises(ManifestError, match="unknown engine 'gpu'"):
        choose_engine(small, engine="gpu")


def test_arrow_drift_binning_gives_the_cells_of_the_sql_scan(tmp_path, monkeypatch):
    """The one-scan Arrow drift path (default) against one GROUP BY per feature: the same cells,
    on-anchor counts, missing counts, min and max; sums equal up to the order of addition.
    Values on the grid edges and anchors, NaN, ±inf and SQL NULLs included."""
    import pandas as pd

    from workbench.engine._duckdb import DuckDBExecutor

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x1": rng.normal(size=5000), "x2": rng.exponential(size=5000)})
    profile = build_profile(ref, features=["x1", "x2"])
    n = 300_000  # more than two Arrow batches
    x1 = rng.normal(size=n)
    x1[:400] = np.resize(np.asarray(profile.features["x1"].grid), 400)  # exactly on the edges
    x1[400:410] = [np.nan, np.inf, -np.inf, *([np.nan] * 7)]
    x2 = pd.array(rng.exponential(size=n), dtype="Float64")
    x2[5:20] = pd.NA
    frame = pd.DataFrame({"id": np.arange(n), "y": rng.integers(0, 2, n), "sc": rng.random(n), "x1": x1, "x2": x2})
    frame.to_parquet(tmp_path / "f.parquet")
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, features=("x1", "x2"), id_column="id", n_boot=0)
    arrow = duckdb_aggregates(str(tmp_path / "f.parquet"), spec, profile=profile).drift
    monkeypatch.setattr(DuckDBExecutor, "drift_binning", "sql")
    sql = duckdb_aggregates(str(tmp_path / "f.parquet"), spec, profile=profile).drift
    for name in ("x1", "x2"):
        a, b = arrow[name], sql[name]
        assert np.array_equal(a.counts, b.counts) and np.array_equal(a.at_edge, b.at_edge), name
        assert (a.n_missing, a.minimum, a.maximum) == (b.n_missing, b.minimum, b.maximum), name
        np.testing.assert_allclose(a.sums, b.sums, rtol=1e-12, atol=1e-9)
    assert arrow["x1"].n_missing == 10 and arrow["x2"].n_missing == 15
