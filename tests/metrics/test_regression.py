"""Regression metrics equal scikit-learn/numpy, with weights; undefined values carry reasons."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from workbench.metrics import _registry as R
from workbench.metrics._engine import run_bootstrap
from workbench.metrics._regression import RegressionPrepared, regression_metrics
from workbench.metrics.bootstrap import poisson_weights

case = st.integers(2, 50).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([-2.0, 0.0, 1.0, 3.0]) | st.floats(-100, 100).filter(lambda v: abs(v) > 1e-6),
                 min_size=n, max_size=n),
        st.lists(st.floats(-100, 100).filter(lambda v: v == 0 or abs(v) > 1e-6), min_size=n, max_size=n),
        st.none() | st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=n, max_size=n),
    )
)


@settings(max_examples=80, deadline=None)
@given(case)
def test_regression_metrics_equal_sklearn(c):
    y, p, w = np.array(c[0]), np.array(c[1]), None if c[2] is None else np.array(c[2])
    ours = regression_metrics(y, p, sample_weight=w)
    assert ours["mae"].value == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w), rel=1e-9, abs=1e-9)
    assert ours["rmse"].value == pytest.approx(skm.root_mean_squared_error(y, p, sample_weight=w), rel=1e-9, abs=1e-9)
    if np.ptp(y) > 1e-6:
        assert ours["r2"].value == pytest.approx(skm.r2_score(y, p, sample_weight=w), rel=1e-7, abs=1e-7)
    elif np.ptp(y) == 0:
        assert ours["r2"].reason == R.REASON_CONSTANT_TARGET
    if w is None:
        assert ours["median_absolute_error"].value == pytest.approx(skm.median_absolute_error(y, p), abs=1e-12)
        q = np.quantile(np.abs(p - y), [0.9, 0.95, 0.99], method="averaged_inverted_cdf")
        got = [ours[k].value for k in ("abs_error_p90", "abs_error_p95", "abs_error_p99")]
        assert np.allclose(got, q, rtol=0, atol=1e-12)
    nz = y != 0
    if nz.any():
        ref = skm.mean_absolute_percentage_error(y[nz], p[nz], sample_weight=None if w is None else w[nz])
        assert ours["mape"].value == pytest.approx(ref, rel=1e-9)
    else:
        assert ours["mape"].reason == R.REASON_NO_NONZERO_TARGET


def test_weighted_median_equals_sklearn_with_distinct_errors():
    rng = np.random.default_rng(0)
    y = rng.normal(size=101)
    p = y + rng.normal(size=101)
    w = rng.uniform(0.1, 3, 101)
    got = regression_metrics(y, p, sample_weight=w)["median_absolute_error"].value
    assert got == pytest.approx(skm.median_absolute_error(y, p, sample_weight=w))


def test_bootstrap_replicates_equal_direct_weighted_metrics():
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 2000)
    p = y + rng.normal(0, 1, 2000)
    reps = run_bootstrap({"m": RegressionPrepared(y, p)}, n_rows=2000, n_boot=3, seed=2)["m"]
    w = poisson_weights(2000, n_boot=3, seed=2).astype(float)
    for r in range(3):
        assert reps["mae"][r] == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w[r]), rel=1e-5)
        assert reps["r2"][r] == pytest.approx(skm.r2_score(y, p, sample_weight=w[r]), rel=1e-5)
        assert reps["median_absolute_error"][r] == pytest.approx(
            skm.median_absolute_error(y, p, sample_weight=w[r]), rel=1e-9)
