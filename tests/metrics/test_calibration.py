"""Calibration: hand-computed ECE/MCE and Brier decomposition, sklearn curve, recalibration fit."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from workbench.metrics._engine import run_bootstrap
from workbench.metrics.calibration import (
    CALIBRATION_METRICS,
    CalibrationPrepared,
    calibration_summary,
    logistic_recalibration,
)


def test_hand_computed_small_example():
    # bins of width 0.5: bin 0 holds p = .1, .2, .3 (y = 0, 0, 1); bin 1 holds .6, .8 (y = 1, 0)
    y = np.array([0, 0, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.8])
    c = calibration_summary(y, p, n_bins=2)
    # bin 0: mean p .2, rate 1/3, gap 2/15 ; bin 1: mean p .7, rate .5, gap .2
    assert c["ece"].value == pytest.approx(3 / 5 * 2 / 15 + 2 / 5 * 0.2)
    assert c["mce"].value == pytest.approx(0.2)
    o = 2 / 5
    rel = 3 / 5 * (0.2 - 1 / 3) ** 2 + 2 / 5 * (0.7 - 0.5) ** 2
    res = 3 / 5 * (1 / 3 - o) ** 2 + 2 / 5 * (0.5 - o) ** 2
    assert c["reliability"].value == pytest.approx(rel)
    assert c["resolution"].value == pytest.approx(res)
    assert c["uncertainty"].value == pytest.approx(o * (1 - o))
    assert c["brier_score"].value == pytest.approx(brier_score_loss(y, p))
    assert c["decomposition_residual"] == pytest.approx(brier_score_loss(y, p) - (rel - res + o * (1 - o)))
    assert [b["count"] for b in c["curve"]["uniform"]] == [3, 2]


def test_decomposition_is_exact_when_predictions_are_constant_within_bins():
    rng = np.random.default_rng(0)
    p = rng.choice([0.05, 0.35, 0.65, 0.95], 2000)
    y = rng.random(2000) < p
    c = calibration_summary(y, p, n_bins=10)
    assert c["decomposition_residual"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_curve_matches_sklearn(strategy):
    rng = np.random.default_rng(1)
    p = rng.beta(2, 3, 3000)
    y = rng.random(3000) < p
    c = calibration_summary(y, p, n_bins=8)["curve"][strategy]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    ours = [(b["observed_rate"], b["mean_predicted"]) for b in c if b["count"] > 0]
    assert np.allclose(np.array(ours), np.column_stack([prob_true, prob_pred]))


def test_slope_intercept_equal_unpenalised_logistic_regression():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.98, 4000)
    y = rng.random(4000) < p**1.5
    x = np.log(p / (1 - p))[:, None]
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(x, y)
    slope, intercept = logistic_recalibration(y, p)
    assert slope == pytest.approx(lr.coef_[0, 0], rel=1e-5)
    assert intercept == pytest.approx(lr.intercept_[0], rel=1e-5, abs=1e-6)
    assert np.isnan(logistic_recalibration(np.ones(5), np.linspace(0.1, 0.9, 5))[0])


def test_bootstrap_replicates_match_direct_weighted_computation():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 5000)
    y = rng.random(5000) < p
    prep = CalibrationPrepared(y, p, n_bins=10)
    reps = run_bootstrap({"c": prep}, n_rows=y.size, n_boot=3, seed=4)["c"]
    from workbench.metrics.bootstrap import poisson_weights

    w = poisson_weights(y.size, n_boot=3, seed=4).astype(np.float64)
    for r in range(3):
        direct = prep.finalise(w[r][None, :] @ prep.columns)
        for name in ("ece", "mce", "brier_score", "reliability", "resolution"):
            assert reps[name][r] == pytest.approx(direct[name][0], rel=1e-5)
        # one Newton step from the full fit is within O(1/n) of the replicate's own fit
        slope_r, _ = logistic_recalibration(y, p, sample_weight=w[r])
        assert reps["slope"][r] == pytest.approx(slope_r, abs=5e-3)


def test_sorted_run_sums_equal_the_dense_columns_with_ties_and_shared_order():
    """The executor's per-run bin sums (shared score order) give exactly what the wide
    per-row columns give, including scores on bin edges, 0, 1 and ties across classes."""
    from workbench.metrics._binary import BinaryPrepared
    from workbench.metrics.bootstrap import poisson_weights

    rng = np.random.default_rng(8)
    p = np.round(rng.beta(2, 3, 4000), 2)
    p[:40], p[40:60], p[60:80] = 0.5, 1.0, 0.0
    y = rng.random(p.size) < p
    binary = BinaryPrepared(y, p, threshold=0.5)
    shared = CalibrationPrepared(y, p, n_bins=7, order=binary.score_order)
    alone = CalibrationPrepared(y, p, n_bins=7)
    w = poisson_weights(y.size, n_boot=9, seed=2).astype(np.float64)
    direct = shared.finalise(w @ shared.columns)
    reps = run_bootstrap({"b": binary, "c": shared, "a": alone}, n_rows=y.size, n_boot=9, seed=2,
                         chunk_size=4, workers=2)
    for name, values in direct.items():
        # bins are exact; the six Newton/Brier sums go through the float32 product (per-row
        # values rounded to float32, ~6e-8 relative each): an intercept near 0 moves by ~1e-7
        assert reps["c"][name] == pytest.approx(values, rel=1e-5, abs=2e-7), name
        assert reps["c"][name] == pytest.approx(reps["a"][name], rel=1e-6, abs=1e-6), name
    unit = shared.point()
    assert unit["ece"].value == pytest.approx(shared.finalise(shared.columns.sum(axis=0)[None, :])["ece"][0], rel=1e-12)


def test_replicates_do_not_depend_on_chunking_or_threads():
    from workbench.metrics._binary import BinaryPrepared

    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 3000)
    y = rng.random(p.size) < p
    comps = lambda: {"b": BinaryPrepared(y, p, threshold=0.4), "c": CalibrationPrepared(y, p, n_bins=10)}
    one = run_bootstrap(comps(), n_rows=y.size, n_boot=11, seed=6, chunk_size=3, workers=1)
    threads = run_bootstrap(comps(), n_rows=y.size, n_boot=11, seed=6, chunk_size=3, workers=3)
    chunks = run_bootstrap(comps(), n_rows=y.size, n_boot=11, seed=6, chunk_size=11, workers=2)
    exact = {"accuracy", "precision", "recall", "roc_auc", "average_precision", "mcc", "f1"}
    for comp in one:
        for name in one[comp]:
            assert np.array_equal(one[comp][name], threads[comp][name], equal_nan=True), (comp, name)
            if comp == "b" and name in exact:  # integer counts and ranks: exact whatever the chunking
                assert np.array_equal(one[comp][name], chunks[comp][name]), name
            else:  # float32 linear sums round differently with the chunk's shape
                assert one[comp][name] == pytest.approx(chunks[comp][name], rel=1e-5, abs=1e-6), (comp, name)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 2500), k=st.integers(1, 9), n_bins=st.integers(1, 12))
def test_gather_free_run_sums_equal_the_sorted_run_sums(seed, n, k, n_bins):
    """The standalone path (rows scattered into their runs) gives the gather path's run sums:
    weights exactly, probability sums to rounding; remainder replicates (k % 4) included."""
    from workbench.metrics.bootstrap import fill_poisson_counts

    rng = np.random.default_rng(seed)
    p = np.round(rng.beta(2, 3, n), 2)  # ties and bin edges
    y = rng.random(n) < p
    prep = CalibrationPrepared(y, p, n_bins=n_bins)
    counts = fill_poisson_counts(np.empty((k, n), dtype=np.uint8), seed=seed)
    chunk = prep.replicate_stats_chunk(counts)
    assert len(chunk) == k
    for r in range(k):
        sorted_sums = prep.replicate_stats(prep.score_order.replicate(counts[r]))
        assert chunk[r].shape == sorted_sums.shape
        assert np.array_equal(chunk[r][0], sorted_sums[0])
        assert np.allclose(chunk[r][1], sorted_sums[1], rtol=1e-12, atol=1e-9)


def test_recalibration_of_perfectly_separated_data_is_undefined_without_overflow():
    # Found by hypothesis: every positive scores above every negative, so the logistic MLE
    # does not exist; the documented answer is (nan, nan), reached without numeric warnings.
    y = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    p = np.array([0.4, 0.62, 0.45, 0.31, 0.52, 0.24, 0.32, 0.55, 0.6])
    slope, intercept = logistic_recalibration(y, p)
    assert np.isnan(slope) and np.isnan(intercept)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 3000), power=st.floats(0.3, 3.0))
# found by hypothesis: the data are separated, so the reference Newton below runs off to a slope
# in the hundreds; 1 / (1 + exp(-z)) overflowed there (expit does not) and then the Hessian vanishes
@example(seed=30371763, n=20, power=2.0)
def test_warm_started_recalibration_reaches_the_fit_from_zero(seed, n, power):
    """The binned warm start only shortens the path: Newton from (0, 0) on the rows (the textbook
    fit, written out here) stops at the same slope and intercept."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.001, 0.999, n)
    y = (rng.random(n) < p**power).astype(float)
    slope, intercept = logistic_recalibration(y, p)
    x = np.log(p) - np.log1p(-p)
    theta, converged = np.zeros(2), False
    for _ in range(200):
        mu = expit(theta[0] + theta[1] * x)
        grad = np.array([np.sum(y - mu), np.sum(x * (y - mu))])
        v = mu * (1 - mu)
        try:
            step = np.linalg.solve([[v.sum(), (v * x).sum()], [(v * x).sum(), (v * x * x).sum()]], grad)
        except np.linalg.LinAlgError:  # every mu saturated at 0 or 1: the fit ran off to infinity
            break
        theta += step
        if np.abs(step).max() < 1e-10:
            converged = True
            break
    if not converged or np.abs(theta).max() > 1e6:  # no finite fit (e.g. separation)
        if y.min() == y.max() or p[y == 0].max() < p[y == 1].min():  # complete separation: no MLE
            assert np.isnan(slope) and np.isnan(intercept)
        return
    assert slope == pytest.approx(theta[1], rel=1e-9, abs=1e-9)
    assert intercept == pytest.approx(theta[0], rel=1e-9, abs=1e-9)


def test_calibration_only_review_equals_the_calibration_of_the_full_review():
    from workbench.metrics._assemble import quantitative_evidence

    rng = np.random.default_rng(12)
    n = 5000
    y = rng.random(n) < 0.3
    scores = {"candidate": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1),
              "baseline": 1 / (1 + np.exp(-(-1.0 + 1.2 * y + rng.normal(0, 1.0, n))))}
    full = quantitative_evidence("binary", y.astype(int), scores, n_boot=50, seed=4)
    alone = quantitative_evidence("binary", y.astype(int), scores, n_boot=50, seed=4, include_metrics=False)
    assert "metrics" not in alone["models"]["candidate"]
    for role in scores:
        a, f = alone["models"][role]["calibration"], full["models"][role]["calibration"]
        assert a["curve"] == f["curve"]
        for name in CALIBRATION_METRICS:
            assert a[name]["value"] == f[name]["value"], name
            # same replicates; bin sums added in row order instead of score order (last bits)
            assert a[name]["ci_low"] == pytest.approx(f[name]["ci_low"], rel=1e-9, abs=1e-12), name
            assert a[name]["ci_high"] == pytest.approx(f[name]["ci_high"], rel=1e-9, abs=1e-12), name
    assert alone["deltas"].keys() == {f"calibration.{m}" for m in CALIBRATION_METRICS}
    with pytest.raises(ValueError, match="0/1"):
        quantitative_evidence("binary", np.r_[y.astype(int)[:-1], 2], scores, n_boot=5, include_metrics=False)


def test_point_from_sums_of_the_unit_sums_is_point():
    """The executors' entry (their own column sums) gives exactly the in-memory point estimates."""
    rng = np.random.default_rng(8)
    p = np.round(rng.beta(2, 3, 3000), 2)
    y = rng.random(p.size) < p
    prep = CalibrationPrepared(y, p, n_bins=8)
    point, from_sums = prep.point(), prep.point_from_sums(prep.columns.sum(axis=0))
    assert from_sums["curve"] == point["curve"]
    assert from_sums["decomposition_residual"] == pytest.approx(point["decomposition_residual"], abs=1e-15)
    for name in CALIBRATION_METRICS:
        assert from_sums[name].value == pytest.approx(point[name].value, rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("bad, message", [
    (np.r_[np.full(9, 0.5), np.nan], "y_score contains NaN or infinite values"),
    (np.full(9, 0.5), "y_score has 9 rows, y_true has 10"),
])
def test_calibration_only_and_full_evidence_check_scores_alike(bad, message):
    from workbench.metrics._assemble import quantitative_evidence

    y = np.tile([0, 1], 5)
    for include_metrics in (True, False):
        with pytest.raises(ValueError, match=message):
            quantitative_evidence("binary", y, {"candidate": bad}, n_boot=2, include_metrics=include_metrics)
