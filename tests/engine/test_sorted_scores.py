"""Exact AUC/AP and calibration from the scores sorted in memory (DuckDB, ``score_sort="auto"``)
against DuckDB's grouped sort and calibration scans (``"sql"``) and against numpy/scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from workbench.engine import ScaleSpec
from workbench.engine._duckdb import DuckDBExecutor, duckdb_aggregates
from workbench.engine._sorted_scores import SortedScores, memory_limit_bytes, quantiles, rank_summary
from workbench.metrics.calibration import logistic_recalibration

pytest.importorskip("duckdb")


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    tied = np.round(np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1), 2)  # many ties, exact 0 and 1
    smooth = 1 / (1 + np.exp(-(-1.0 + 1.3 * y + rng.normal(0, 1.0, n))))
    smooth[:50] = -0.0  # signed zeros tie with 0.0
    smooth[50:100] = 0.0
    return pd.DataFrame({"id": np.arange(n), "y": y.astype(np.int8), "sc": tied, "sb": smooth,
                         "raw": rng.normal(0, 3, n)})  # a non-probability score: ranks only


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sorted")
    frame = _table(1_300_000, seed=5)  # more than one Arrow batch of the gathering scan
    frame.iloc[:600_000].to_parquet(folder / "p0.parquet")
    frame.iloc[600_000:].to_parquet(folder / "p1.parquet")
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb", "raw": "raw"}, n_boot=0)
    src = str(folder / "p*.parquet")
    fast = duckdb_aggregates(src, spec)
    mp = pytest.MonkeyPatch()
    mp.setattr(DuckDBExecutor, "score_sort", "sql")
    try:
        slow = duckdb_aggregates(src, spec)
    finally:
        mp.undo()
    return frame, fast, slow


def test_rank_sums_equal_the_grouped_sort_and_sklearn(both):
    frame, fast, slow = both
    for role, col in (("candidate", "sc"), ("baseline", "sb"), ("raw", "raw")):
        a, b = fast.roles[role].rank_summary, slow.roles[role].rank_summary
        assert (a["num2"], a["P"], a["N"]) == (b["num2"], b["P"], b["N"]), role  # integers: identical
        assert a["ap_sum"] == pytest.approx(b["ap_sum"], rel=1e-12), role
        y, s = frame["y"].to_numpy(), frame[col].to_numpy()
        assert a["num2"] / 2 / (a["P"] * a["N"]) == pytest.approx(roc_auc_score(y, s), abs=1e-15)
        assert a["ap_sum"] / a["P"] == pytest.approx(average_precision_score(y, s), rel=1e-12)


def test_calibration_equals_the_sql_scans(both):
    frame, fast, slow = both
    for role, col in (("candidate", "sc"), ("baseline", "sb")):
        a, b = fast.roles[role], slow.roles[role]
        # quantile edges: numpy.quantile to the last bit (DuckDB's quantile_cont may differ in it)
        assert np.array_equal(a.quantile_edges, np.unique(np.quantile(frame[col], np.linspace(0, 1, 11))))
        np.testing.assert_allclose(a.quantile_edges, b.quantile_edges, rtol=1e-15, atol=0)
        nb, nq = 10, a.quantile_edges.size - 1
        counts = np.r_[0:nb, 2 * nb: 3 * nb, 3 * nb: 3 * nb + nq, 3 * nb + 2 * nq: 3 * nb + 3 * nq]
        assert np.array_equal(a.calibration[counts], b.calibration[counts]), role  # rows and Σy per bin
        np.testing.assert_allclose(a.calibration, b.calibration, rtol=1e-9, atol=1e-6)
        slope, intercept = logistic_recalibration(frame["y"].to_numpy(), frame[col].to_numpy())
        assert a.slope == pytest.approx(slope, abs=1e-9) and a.intercept == pytest.approx(intercept, abs=1e-9)
        assert a.slope == pytest.approx(b.slope, abs=1e-9) and a.intercept == pytest.approx(b.intercept, abs=1e-9)
    assert fast.roles["raw"].calibration is None and slow.roles["raw"].calibration is None


def test_kernels_against_numpy_on_small_arrays():
    rng = np.random.default_rng(0)
    for n_neg, n_pos in ((0, 5), (7, 0), (1, 1), (300, 200)):
        neg, pos = np.sort(rng.integers(0, 20, n_neg) / 19), np.sort(rng.integers(0, 20, n_pos) / 19)
        s = np.r_[neg, pos]
        y = np.r_[np.zeros(n_neg), np.ones(n_pos)]
        out = rank_summary(SortedScores(neg, pos))
        assert (out["P"], out["N"]) == (n_pos, n_neg)
        pairs = (pos[:, None] > neg[None, :]).sum() * 2 + (pos[:, None] == neg[None, :]).sum()
        assert out["num2"] == pairs
        if n_pos:
            assert out["ap_sum"] / n_pos == pytest.approx(average_precision_score(y, s), rel=1e-12)
        qs = np.linspace(0, 1, 11)
        got = quantiles(SortedScores(neg, pos), qs)
        assert got == np.quantile(s, qs).tolist() if s.size else all(np.isnan(got))


def test_too_large_for_memory_keeps_the_sql_path(tmp_path, monkeypatch):
    import workbench.engine._duckdb as D

    frame = _table(20_000, seed=1)
    frame.to_parquet(tmp_path / "t.parquet")
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, n_boot=0)
    calls = []
    gather = D.gather
    monkeypatch.setattr(D, "gather", lambda *a: calls.append(a) or gather(*a))
    in_memory = duckdb_aggregates(str(tmp_path / "t.parquet"), spec, memory_limit="64MB")
    assert len(calls) == 1  # 160 KB of scores: well within half of 64 MB
    monkeypatch.setattr(D, "MEMORY_SHARE", 160_000 / 64e6 / 2)  # now over the share
    by_sql = duckdb_aggregates(str(tmp_path / "t.parquet"), spec, memory_limit="64MB")
    assert len(calls) == 1
    a, b = in_memory.roles["candidate"], by_sql.roles["candidate"]
    assert a.rank_summary["num2"] == b.rank_summary["num2"] and np.array_equal(a.quantile_edges, b.quantile_edges)
    assert memory_limit_bytes("1.8 GiB") == 1.8 * 2**30 and memory_limit_bytes("45.7 MiB") == 45.7 * 2**20
    assert memory_limit_bytes("no limit") == np.inf
