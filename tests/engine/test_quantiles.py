"""Exact SQL quantiles from a histogram (the Spark executor's calibration edges) equal numpy's."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.engine import _quantiles as Q
from workbench.engine import _sql as S
from workbench.engine._ranks import histogram_scale


def _run(values: np.ndarray, bins: int, qs: np.ndarray, *, sub_bins: int = 64,
         read_limit: int = Q.READ_BIN_ROWS) -> list[float]:
    con = duckdb.connect()
    con.register("t", {"s_0": values})
    con.execute("CREATE VIEW base AS SELECT * FROM t")
    expr = S.bin_expr("s_0", 0.0, histogram_scale(0.0, 1.0, bins), bins)
    counts = np.zeros(bins, np.int64)
    for b, c in con.execute(f"SELECT {expr}, count(*) FROM base GROUP BY 1").fetchall():
        counts[int(b)] = int(c)
    queries = []

    def rows(sql: str) -> list[tuple]:
        queries.append(sql)
        return con.execute(sql).fetchall()

    out = Q.exact_quantiles(rows, "s_0", expr, counts, qs, sub_bins=sub_bins, read_limit=read_limit)
    _run.queries = queries  # type: ignore[attr-defined]
    return out


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5000), shape=st.sampled_from(["normal", "skewed", "ties"]),
       read_limit=st.sampled_from([3, 50, 1 << 20]))
def test_exact_quantiles_equal_numpy(seed, n, shape, read_limit):
    rng = np.random.default_rng(seed)
    v = {"normal": np.clip(rng.normal(0.5, 0.3, n), 0, 1), "skewed": rng.beta(0.05, 5, n),
         "ties": np.round(rng.uniform(0, 1, n), 2)}[shape]
    qs = np.linspace(0, 1, 11)  # small read limits force the finer histograms
    assert _run(v, 16, qs, read_limit=read_limit) == pytest.approx(np.quantile(v, qs), rel=0, abs=0)


def test_a_bin_larger_than_the_read_limit_is_split_not_read():
    v = np.random.default_rng(1).uniform(0.5, 0.5001, 20000)  # all in one of 16 bins
    qs = np.array([0.0, 0.37, 1.0])
    assert _run(v, 16, qs, sub_bins=1 << 10, read_limit=1000) == pytest.approx(np.quantile(v, qs), rel=0, abs=0)
    assert any("min(s_0), max(s_0)" in q for q in _run.queries)  # type: ignore[attr-defined]
