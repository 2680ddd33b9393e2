"""The bucket bootstrap's per-bucket sums from one streamed scan (``bucket_scan="stream"``, the
compiled kernel) against the six grouped scans of ``_sql_boot.assemble``: counts identical,
float sums equal up to the order of addition; and the evidence they give."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine import make_frame
from workbench.engine import ScaleSpec, evidence_from_aggregates
from workbench.engine._boot_stream import cell_sql, stream_assemble
from workbench.engine._duckdb import DuckDBExecutor, duckdb_aggregates
from workbench.engine._sql import Dialect
from workbench.engine._sql_boot import assemble

pytest.importorskip("duckdb")

SPEC = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb", "raw": "raw"}, sensitive=("sex", "age"),
                 id_column="id", n_boot=50, seed=3, bootstrap_unit="bucket", bootstrap_buckets=64,
                 fairness_bins=5)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    frame = make_frame(1_200_000, seed=4)  # several Arrow batches; age has missing values (NULL)
    frame["raw"] = np.random.default_rng(2).normal(0, 2, len(frame))  # not a probability: no calibration
    folder = tmp_path_factory.mktemp("bootstream")
    frame.iloc[:500_000].to_parquet(folder / "a.parquet")
    frame.iloc[500_000:].to_parquet(folder / "b.parquet")
    return str(folder / "*.parquet")


def _same(a: np.ndarray, b: np.ndarray, what: str, *, exact: bool = False) -> None:
    assert a.shape == b.shape, what
    if exact:
        assert np.array_equal(a, b), what
    else:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-7, err_msg=what)


def test_streamed_bucket_sums_equal_the_grouped_scans(source):
    ex = DuckDBExecutor(source, SPEC)
    try:
        agg = ex.run()  # the point pass: edges, fit, fairness cells
        roles = list(SPEC.scores)
        fair = ex._fair_point
        ours = stream_assemble(ex, roles, agg.roles, SPEC.bootstrap_buckets, fair)
        src = f"(SELECT b.*, {ex.dialect.bucket('b.k', SPEC.bootstrap_buckets)} AS u, 1 AS w FROM base b)"
        ref = assemble(ex, roles, agg.roles, src, SPEC.bootstrap_buckets, fair_point=fair)
    finally:
        ex.close()
    assert ours is not None
    for r in roles:
        _same(ours.linear[r][:, :4], ref.linear[r][:, :4], f"counts {r}", exact=True)
        _same(ours.linear[r], ref.linear[r], f"linear {r}")
        _same(ours.histogram[r], ref.histogram[r], f"histogram {r}", exact=True)
    assert set(ours.calibration) == set(ref.calibration) == {"candidate", "baseline"}
    for r in ours.calibration:
        _same(ours.calibration[r], ref.calibration[r], f"calibration {r}")
        _same(ours.fair_calibration[r], ref.fair_calibration[r], f"fairness calibration {r}")
    assert ours.joint is not None and ref.joint is not None
    _same(ours.joint, ref.joint, "joint", exact=True)
    assert ours.joint.sum() == 1_200_000


def test_the_evidence_of_both_scans_agrees(source, monkeypatch):
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                     id_column="id", n_boot=40, seed=3, bootstrap_unit="bucket", bootstrap_buckets=64)
    fast = evidence_from_aggregates(duckdb_aggregates(source, spec), spec)
    monkeypatch.setattr(DuckDBExecutor, "bucket_scan", "sql")
    slow = evidence_from_aggregates(duckdb_aggregates(source, spec), spec)
    for role in ("candidate", "baseline"):
        for name, entry in slow["models"][role]["metrics"].items():
            for end in ("ci_low", "ci_high"):
                if end in entry:
                    assert fast["models"][role]["metrics"][name][end] == pytest.approx(entry[end], abs=1e-9), name
        dp = slow["models"][role]["fairness"]["sex"]["demographic_parity_ratio"]
        assert fast["models"][role]["fairness"]["sex"]["demographic_parity_ratio"]["ci_low"] == pytest.approx(
            dp["ci_low"], abs=1e-9)


def test_cells_a_case_cannot_name_keep_the_grouped_scans():
    d = Dialect("duckdb")
    assert cell_sql(d, 1, [(float("nan"),), ("a",)]) is None
    exprs, table = cell_sql(d, 2, [("F", None), ("M", 1.5), ("F", 1.5)])
    assert exprs[0] == "CASE WHEN g_0 = 'F' THEN 0 WHEN g_0 = 'M' THEN 1 ELSE 2 END AS c_0"
    assert exprs[1] == "CASE WHEN g_1 IS NULL THEN 0 WHEN g_1 = 1.5 THEN 1 ELSE 2 END AS c_1"
    assert table.tolist() == [[0, 2, -1], [-1, 1, -1], [-1, -1, -1]]
