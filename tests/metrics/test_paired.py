"""Paired comparison: DeLong against an O(n^2) implementation, McNemar against scipy, readings, coverage."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.metrics._binary import BinaryPrepared
from workbench.metrics._engine import run_bootstrap
from workbench.metrics._paired import (
    bootstrap_p_value,
    delong_test,
    mcnemar_test,
    min_detectable_difference,
    paired_delta,
    reading,
)
from workbench.metrics.bootstrap import percentile_ci


def _slow_delong(y, a, b):
    """DeLong et al. (1988) written out with the Mann-Whitney kernel, O(m n)."""
    y = np.asarray(y, bool)
    out = []
    for s in (a, b):
        x, z = s[y], s[~y]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        out.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = y.sum(), (~y).sum()
    v10 = np.stack([o[1] for o in out])
    v01 = np.stack([o[2] for o in out])
    s = np.cov(v10) / m + np.cov(v01) / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    if var <= 0:  # e.g. both models separate the classes perfectly: the documented convention
        return out[0][0], out[1][0], 1.0 if out[0][0] == out[1][0] else 0.0
    z = (out[0][0] - out[1][0]) / np.sqrt(var)
    return out[0][0], out[1][0], 2 * stats.norm.sf(abs(z))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(8, 80), st.booleans())
def test_delong_matches_quadratic_implementation(seed, n, ties):
    rng = np.random.default_rng(seed)
    y = np.r_[0, 0, 1, 1, rng.integers(0, 2, n)].astype(bool)
    a = rng.normal(y * 1.0, 1.0)
    b = a + rng.normal(0, 0.7, y.size)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    auc_a, auc_b, p = _slow_delong(y, a, b)
    got = delong_test(y, a, b)
    assert got["auc_candidate"] == pytest.approx(auc_a, rel=1e-12)
    assert got["auc_baseline"] == pytest.approx(auc_b, rel=1e-12)
    if np.isfinite(p):
        assert got["p_value"] == pytest.approx(p, rel=1e-7, abs=1e-12)


def test_delong_needs_two_of_each_class():
    assert not delong_test([1, 0, 0], [0.2, 0.1, 0.3], [0.2, 0.1, 0.3])["defined"]


@pytest.mark.parametrize("b,c", [(3, 0), (5, 2), (10, 14), (40, 25)])
def test_mcnemar_against_scipy(b, c):
    a = np.r_[np.ones(b, bool), np.zeros(c, bool), np.ones(7, bool)]
    bb = np.r_[np.zeros(b, bool), np.ones(c, bool), np.ones(7, bool)]
    got = mcnemar_test(a, bb)
    assert (got["b"], got["c"]) == (b, c)
    if b + c < 25:
        n, k = b + c, min(b, c)
        mid_p = 2 * stats.binom.cdf(k, n, 0.5) - stats.binom.pmf(k, n, 0.5)
        assert got["method"] == "exact_mid_p" and got["p_value"] == pytest.approx(min(1, mid_p))
        assert got["p_value"] < stats.binomtest(b, b + c).pvalue + 1e-12  # mid-p is less conservative
    else:
        assert got["p_value"] == pytest.approx(stats.chi2.sf((b - c) ** 2 / (b + c), 1))


def test_readings_cover_the_four_outcomes():
    assert reading(0.001, 0.02, greater_is_better=True, margin=0.01) == "better"
    assert reading(-0.005, 0.02, greater_is_better=True, margin=0.01) == "non_inferior"
    assert reading(-0.03, -0.02, greater_is_better=True, margin=0.01) == "inferior"
    assert reading(-0.02, 0.005, greater_is_better=True, margin=0.01) == "inconclusive"
    assert reading(-0.03, -0.01, greater_is_better=False) == "better"  # a loss went down
    with pytest.raises(ValueError, match="margin"):
        reading(0, 1, greater_is_better=True, margin=-1)


def test_bootstrap_p_value_and_paired_delta():
    assert bootstrap_p_value(np.zeros(99)) == 1.0
    assert bootstrap_p_value(np.full(99, 0.1)) == pytest.approx(2 / 100)
    d = paired_delta(np.array([0.8, 0.82]), np.array([0.8, 0.8]), candidate_value=0.81, baseline_value=0.8,
                     greater_is_better=True)
    assert d["value"] == pytest.approx(0.01) and d["defined"]
    assert not paired_delta(np.ones(3), np.ones(3), candidate_value=None, baseline_value=0.5,
                            greater_is_better=True)["defined"]


def test_min_detectable_difference_formula():
    rng = np.random.default_rng(0)
    a, b = rng.random(1000) < 0.8, rng.random(1000) < 0.78
    out = min_detectable_difference(n=1000, se_auc=0.01, correct_a=a, correct_b=b)
    pb, pc = np.mean(a & ~b), np.mean(~a & b)
    factor = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert out["roc_auc"] == pytest.approx(factor * 0.01)
    assert out["accuracy"] == pytest.approx(factor * np.sqrt((pb + pc - (pb - pc) ** 2) / 1000))


def test_every_paired_delta_has_its_mde_and_it_agrees_with_delong():
    """The bootstrap MDE of the AUC delta against the analytic one from DeLong's paired variance."""
    from workbench.metrics import Margin, quantitative_evidence

    rng = np.random.default_rng(11)
    n = 4000
    y = (rng.random(n) < 0.4).astype(int)
    signal = rng.normal(size=n) + y
    base = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.2, n))))
    cand = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, n))))
    ev = quantitative_evidence("binary", y, {"candidate": cand, "baseline": base}, n_boot=400, seed=3,
                               include_calibration=False,
                               margins={"roc_auc": Margin(0.01, source="policy p 1: auc-ni"),
                                        "brier_score": Margin(0.10, relative=True, source="policy p 1: brier")})
    auc = ev["deltas"]["roc_auc"]
    analytic = ev["tests"]["min_detectable_difference"]["roc_auc"]
    assert auc["mde"] == pytest.approx(analytic, rel=0.15)  # two estimates of one SE
    assert all(d["mde"] is not None and d["mde"] > 0 for d in ev["deltas"].values() if d["defined"])
    # the stated margins are the ones the readings use; the rest fall back to settings.margin (0)
    assert (auc["margin"], auc["margin_source"]) == (0.01, "policy p 1: auc-ni")
    assert auc["reading"] == reading(auc["ci_low"], auc["ci_high"], greater_is_better=True, margin=0.01)
    brier = ev["deltas"]["brier_score"]
    base_brier = float(np.mean((base - y) ** 2))
    assert brier["margin"] == pytest.approx(0.10 * base_brier) and brier["margin_source"] == "policy p 1: brier"
    assert (ev["deltas"]["accuracy"]["margin"], ev["deltas"]["accuracy"]["margin_source"]) == (0.0, "settings.margin")


@pytest.mark.slow
def test_bootstrap_auc_ci_coverage_by_simulation():
    """Nominal 95% percentile intervals cover the true AUC in 93-97% of 400 data sets."""
    rng = np.random.default_rng(2024)
    shift = 1.0
    true_auc = stats.norm.cdf(shift / np.sqrt(2))  # binormal, equal variances
    covered = 0
    for rep in range(400):
        y = rng.random(300) < 0.4
        s = rng.normal(shift * y, 1.0)
        prep = BinaryPrepared(y, s, threshold=0.0)
        reps = run_bootstrap({"m": prep}, n_rows=y.size, n_boot=400, seed=rep)["m"]["roc_auc"]
        low, high = percentile_ci(reps)
        covered += low <= true_auc <= high
    assert 0.93 * 400 <= covered <= 0.97 * 400, covered
