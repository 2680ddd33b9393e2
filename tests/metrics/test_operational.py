"""Operational evidence on real scikit-learn models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from workbench.metrics.operational import compare_operational, operational_evidence


@pytest.fixture(scope="module")
def pipeline_and_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000),
                      "c": rng.choice(["x", "y", "z"], 3000)})
    y = (X["a"] + (X["c"] == "x") > 0.5).astype(int)
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])])
    model = make_pipeline(pre, LogisticRegression()).fit(X, y)
    return model, X


def test_real_model_gives_sane_positive_ordered_numbers(pipeline_and_data):
    model, X = pipeline_and_data
    # fewer calls than the 1,000 default keeps the test fast; the statistic is the same
    out = operational_evidence(lambda f: model.predict_proba(f)[:, 1], X, latency_calls=200,
                               warmup=10, batch_size=3000, model_bytes=1234)
    assert out["status"] == "measured"
    lat = out["latency_ms"]
    assert 0 < lat["p50"]["value"] <= lat["p95"]["value"] <= lat["p99"]["value"]
    assert lat["calls"] == 200 and lat["mean"] > 0
    # every percentile is a metric object with its order-statistic interval from the same calls
    assert lat["p50"]["ci_low"] <= lat["p50"]["value"] <= lat["p50"]["ci_high"]
    assert lat["p95"]["ci_low"] <= lat["p95"]["value"] <= lat["p95"]["ci_high"]
    # 200 calls cannot bound the p99 from above at 95% (368 can): said, not invented
    assert lat["p99"]["ci_high"] is None and "368 calls" in lat["p99"]["ci_reason"]
    tp = out["throughput_rows_per_s"]
    assert tp["value"] > 1000  # a logistic pipeline scores >1k rows/s easily
    assert tp["spread"]["parts"] == 5 and tp["spread"]["min"] <= tp["value"] <= tp["spread"]["max"]
    assert tp["ci_low"] <= tp["value"] and (tp["ci_high"] is None or tp["value"] <= tp["ci_high"])
    assert out["batch_rows"] == 3000 and out["model_bytes"] == 1234
    assert out["peak_memory_mb"] > 0  # the batch's transformed matrix is allocated by numpy


def test_precomputed_and_raising_models_are_reported_not_raised(pipeline_and_data):
    _, X = pipeline_and_data

    class Precomputed:
        is_precomputed = True

    assert operational_evidence(Precomputed(), X)["status"] == "not_applicable"

    def broken(frame):
        raise ValueError("cannot score")

    out = operational_evidence(broken, X, latency_calls=5, warmup=1)
    assert out["status"] == "error" and "cannot score" in out["reason"]


def test_throughput_interval_inverts_the_t_interval_of_seconds_per_row():
    from scipy import stats

    from workbench.metrics.operational import throughput_entry

    rows, seconds = np.array([200.0, 200.0, 200.0]), np.array([0.10, 0.12, 0.11])
    e = throughput_entry(rows, seconds)
    per_row = seconds / rows
    lo, hi = stats.t.interval(0.95, 2, loc=per_row.mean(), scale=stats.sem(per_row))
    assert e["value"] == pytest.approx(600 / 0.33)
    assert (e["ci_low"], e["ci_high"]) == pytest.approx((1 / hi, 1 / lo))
    assert e["spread"] == {"min": pytest.approx(200 / 0.12), "max": pytest.approx(200 / 0.10), "parts": 3}
    wild = throughput_entry(np.array([10.0, 10.0]), np.array([0.001, 1.0]))
    assert wild["ci_high"] is None and "vary" in wild["ci_reason"]


def test_compare_operational_reads_metric_objects_and_bare_numbers():
    c = {"latency_ms": {"p95": {"value": 4.0, "ci_low": 3.0, "ci_high": 5.0, "defined": True}},
         "throughput_rows_per_s": {"value": 50.0, "defined": True}}
    b = {"latency_ms": {"p95": 2.0}, "throughput_rows_per_s": {"value": None, "defined": False}}
    out = compare_operational(c, b)
    assert out["latency_ms.p95"]["relative_change"] == pytest.approx(1.0)
    assert out["throughput_rows_per_s"]["relative_change"] is None


def test_compare_operational_relative_changes():
    c = {"status": "measured", "latency_ms": {"p50": 3.0, "p95": 4.0, "p99": 8.0},
         "throughput_rows_per_s": 50.0, "model_bytes": 200, "peak_memory_mb": 0.0}
    b = {"status": "measured", "latency_ms": {"p50": 2.0, "p95": 4.0, "p99": 4.0},
         "throughput_rows_per_s": 100.0, "model_bytes": 100, "peak_memory_mb": 0.0}
    out = compare_operational(c, b)
    assert out["latency_ms.p50"]["relative_change"] == pytest.approx(0.5)
    assert out["latency_ms.p99"]["relative_change"] == pytest.approx(1.0)
    assert out["throughput_rows_per_s"]["relative_change"] == pytest.approx(-0.5)
    assert out["model_bytes"]["relative_change"] == pytest.approx(1.0)
    assert out["peak_memory_mb"]["relative_change"] is None
    assert "0" in out["peak_memory_mb"]["reason"]
    missing = compare_operational(c, {"status": "not_applicable"})
    assert missing["latency_ms.p50"]["relative_change"] is None


def test_latency_loop_stops_at_its_time_budget_and_states_its_precision():
    import time as _time

    X = pd.DataFrame({"a": np.arange(500.0)})

    def slow(frame):
        _time.sleep(0.002)
        return frame["a"].to_numpy()

    out = operational_evidence(slow, X, latency_calls=1000, warmup=2, latency_budget_s=0.05)
    lat = out["latency_ms"]
    # at least the floor of calls, then stopped by the budget, not by the count
    assert lat["stopped"] == "time_budget" and lat["calls"] == 200 and lat["requested_calls"] == 1000
    p95 = lat["p95"]
    assert p95["ci_low"] <= p95["value"] <= p95["ci_high"] and p95["ci_low"] >= 2.0
    full = operational_evidence(lambda f: f["a"].to_numpy(), X, latency_calls=300, warmup=2, latency_budget_s=None)
    assert full["latency_ms"]["calls"] == 300 and full["latency_ms"]["stopped"] == "calls"


def test_quantile_ci_covers_the_true_p95_at_its_level():
    from workbench.metrics.operational import quantile_ci

    rng = np.random.default_rng(0)
    true_p95 = -np.log(0.05)  # exponential(1)
    hits = [lo <= true_p95 <= hi for lo, hi in (quantile_ci(rng.exponential(size=300), 0.95) for _ in range(400))]
    assert 0.92 <= np.mean(hits) <= 1.0
    true_p99 = -np.log(0.01)
    ends = [quantile_ci(rng.exponential(size=400), 0.99) for _ in range(400)]
    assert 0.92 <= np.mean([lo <= true_p99 <= hi for lo, hi in ends]) <= 1.0


def test_latency_loop_stops_once_its_figures_are_precise_enough():
    """A steady model stops at the first check past 368 calls (every percentile bounded, p95 within 5%)."""
    X = pd.DataFrame({"a": np.arange(500.0)})
    steady = operational_evidence(lambda f: f["a"].to_numpy(), X, latency_calls=1000, warmup=2, latency_budget_s=None)
    lat = steady["latency_ms"]
    if lat["stopped"] == "precision":  # a shared machine can make even a trivial call jittery: then it runs on
        assert lat["calls"] % 50 == 0 and 368 <= lat["calls"] < 1000
        assert lat["p99"]["ci_high"] is not None
        assert lat["p95"]["ci_high"] <= 1.05 * lat["p95"]["value"]
    else:
        assert lat["stopped"] == "calls" and lat["calls"] == 1000
    from workbench.metrics.operational import _precise

    assert _precise(np.full(400, 2.0)) and not _precise(np.random.default_rng(0).exponential(size=400))


def test_latency_loop_stops_at_the_floor_when_the_p99_cannot_be_bounded_within_the_budget():
    """At 200 calls of ~2 ms the 368 calls the p99's upper end needs (~0.75 s) exceed a 0.7 s budget:
    the loop stops there; with 1 ms calls and a 5 s budget they fit, and it runs on past the floor."""
    import time as _time

    X = pd.DataFrame({"a": np.arange(500.0)})

    def sleeper(seconds):
        def score(frame):
            _time.sleep(seconds)
            return frame["a"].to_numpy()
        return score

    lat = operational_evidence(sleeper(0.002), X, latency_calls=1000, warmup=2, latency_budget_s=0.7)["latency_ms"]
    assert lat["stopped"] == "p99_beyond_budget" and lat["calls"] == 200
    assert lat["p99"]["ci_high"] is None and "368" in lat["p99"]["ci_reason"]
    assert lat["p95"]["ci_low"] <= lat["p95"]["value"] <= lat["p95"]["ci_high"]
    # (a budget with room for calls slowed several times by a loaded machine: 368 x 1 ms fits many times over)
    lat = operational_evidence(sleeper(0.001), X, latency_calls=1000, warmup=2, latency_budget_s=5.0)["latency_ms"]
    assert lat["stopped"] != "p99_beyond_budget" and lat["calls"] > 200
    # fewer calls asked for than the p99 needs: the rule does not apply, the calls asked are made
    lat = operational_evidence(sleeper(0.002), X, latency_calls=260, warmup=2, latency_budget_s=0.7)["latency_ms"]
    assert lat["stopped"] in ("calls", "time_budget") and lat["calls"] > 200


def _hgb_and_data(n=3000):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OrdinalEncoder

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    y = (X["a"] - X["b"] + (X["c"] == "y") > 0).astype(int)
    pre = ColumnTransformer([("cat", OrdinalEncoder(), ["c"])], remainder="passthrough")
    return make_pipeline(pre, HistGradientBoostingClassifier(max_iter=30, random_state=0)).fit(X, y), X


@pytest.mark.parametrize("kind", ["logistic", "gradient_boosting"])
def test_scoring_in_batches_gives_the_one_call_scores_and_measures_the_batches(pipeline_and_data, kind):
    from workbench.metrics.operational import score_in_batches

    model, X = pipeline_and_data if kind == "logistic" else _hgb_and_data()
    calls: list[int] = []

    def score(frame):
        calls.append(len(frame))
        return model.predict_proba(frame)[:, 1]

    scores, measure = score_in_batches(score, X, batch_size=500)
    np.testing.assert_array_equal(scores, model.predict_proba(X)[:, 1])  # bit for bit
    assert measure is not None and measure.batch_rows == 500 and measure.peak_memory_mb > 0
    # the rows after the traced batch, in THROUGHPUT_PARTS consecutive parts, every one timed
    assert measure.part_rows.tolist() == [500.0] * 5 and (measure.part_seconds > 0).all()
    # a warm-up of 100 rows, the traced batch, the five timed parts: every row scored once
    assert calls == [100, 500, 500, 500, 500, 500, 500]


def test_scoring_in_batches_is_one_call_for_a_small_set_or_an_odd_model():
    from workbench.metrics.operational import score_in_batches

    X = pd.DataFrame({"a": np.arange(900.0)})
    calls: list[int] = []

    def score(frame):
        calls.append(len(frame))
        return frame["a"].to_numpy()

    scores, measure = score_in_batches(score, X, batch_size=500)  # fewer than two batches
    assert measure is None and calls == [900] and (scores == X["a"].to_numpy()).all()

    def first_row_only(frame):  # returns another number of rows than it was given
        return frame["a"].to_numpy()[:1]

    scores, measure = score_in_batches(first_row_only, pd.DataFrame({"a": np.arange(3000.0)}), batch_size=500)
    assert measure is None and scores.tolist() == [0.0]  # what one call returns, for the caller to check

    scores, measure = score_in_batches(lambda f: 0.5, pd.DataFrame({"a": np.arange(3000.0)}), batch_size=500)
    assert measure is None and scores.ndim == 0


def test_operational_uses_what_the_batched_scoring_measured_instead_of_scoring_again(pipeline_and_data):
    from workbench.metrics.operational import score_in_batches

    model, X = pipeline_and_data
    _, measure = score_in_batches(lambda f: model.predict_proba(f)[:, 1], X, batch_size=500)
    assert measure is not None
    sizes: list[int] = []

    def score(frame):
        sizes.append(len(frame))
        return model.predict_proba(frame)[:, 1]

    out = operational_evidence(score, X, latency_calls=200, warmup=5, measured=measure)
    assert set(sizes) == {1}  # only the single-row latency calls: no batch scored again
    tp = out["throughput_rows_per_s"]
    assert tp["value"] == pytest.approx(measure.part_rows.sum() / measure.part_seconds.sum())
    assert tp["spread"]["parts"] == 5 and out["throughput_rows"] == 2500
    assert out["peak_memory_mb"] == measure.peak_memory_mb and out["batch_rows"] == 500
    assert "review's scoring" in out["memory_method"] and "review's scoring" in out["method"]
    alone = operational_evidence(score, X, latency_calls=200, warmup=5, batch_size=3000)
    assert alone["throughput_rows"] == 3000 and alone["batch_rows"] == 3000 and "separate scoring" in alone["method"]


def test_scoring_in_batches_at_the_boundaries_and_with_odd_outputs():
    from workbench.metrics.operational import score_in_batches

    calls: list[int] = []

    def two_columns(frame):  # a multiclass-like output: one row of probabilities per input row
        calls.append(len(frame))
        a = frame["a"].to_numpy()
        return np.column_stack([a, 1 - a])

    X = pd.DataFrame({"a": np.linspace(0, 1, 1000)})
    scores, measure = score_in_batches(two_columns, X, batch_size=500)  # exactly two batches: measured
    assert measure is not None and scores.shape == (1000, 2) and np.array_equal(scores, two_columns(X))
    assert measure.part_rows.tolist() == [100.0] * 5 and sum(calls[:-1]) == 100 + 1000
    calls.clear()
    assert score_in_batches(two_columns, X.iloc[:999], batch_size=500)[1] is None and calls == [999]
    calls.clear()
    # unmeasured: consecutive batches, the last one shorter, and nothing timed or traced
    scores, measure = score_in_batches(two_columns, X.iloc[:950], batch_size=300, measure=False)
    assert measure is None and calls == [300, 300, 300, 50] and np.array_equal(scores, two_columns(X.iloc[:950]))
    # a few rows in batches of two: no part without rows
    sizes: list[int] = []
    out, m = score_in_batches(lambda f: sizes.append(len(f)) or f["a"].to_numpy(), X.iloc[:6], batch_size=2)
    assert m is not None and min(sizes) >= 1 and out.tolist() == X["a"].iloc[:6].tolist()

    def ragged(frame):  # one column for the first batch, two for the others: not one output
        a = frame["a"].to_numpy()
        return a[:, None] if len(frame) == 500 or a[0] == 0 else np.column_stack([a, a])

    scores, measure = score_in_batches(ragged, X, batch_size=500)
    assert measure is None and scores.shape == (1000, 1)  # one call's output, for the caller to check


def test_a_model_that_fails_in_a_later_batch_raises_and_leaves_no_tracing_behind():
    import tracemalloc

    from workbench.metrics.operational import score_in_batches

    def fails_late(frame):
        if frame.index[0] >= 700:
            raise ValueError("cannot score these rows")
        return frame["a"].to_numpy()

    with pytest.raises(ValueError, match="cannot score these rows"):
        score_in_batches(fails_late, pd.DataFrame({"a": np.arange(1000.0)}), batch_size=200)
    assert not tracemalloc.is_tracing()
