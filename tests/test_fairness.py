"""Fairness evidence against fairlearn (the oracle), scipy and a direct weighted bootstrap."""

from __future__ import annotations

import functools
import math

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from workbench.errors import DataError
from workbench.fairness import compare_fairness, fairness_table, proxy_associations
from workbench.metrics.bootstrap import percentile_ci, poisson_weights

TOL = 1e-12
DISPARITY_FUNCS = {
    "demographic_parity_difference": flm.demographic_parity_difference,
    "demographic_parity_ratio": flm.demographic_parity_ratio,
    "equalized_odds_difference": flm.equalized_odds_difference,
    "equalized_odds_ratio": flm.equalized_odds_ratio,
    "equal_opportunity_difference": flm.equal_opportunity_difference,
    "equal_opportunity_ratio": flm.equal_opportunity_ratio,
}
FAIRLEARN_RATES = {
    "selection_rate": flm.selection_rate,
    "tpr": flm.true_positive_rate,
    "fpr": flm.false_positive_rate,
    "fnr": flm.false_negative_rate,
    "precision": functools.partial(precision_score, zero_division=0),
    "accuracy": accuracy_score,
    "base_rate": lambda yt, yp: flm.selection_rate(yt, yt),
}


def _close(ours: object, ref: float) -> bool:
    if ours is None:
        return ref is None or (isinstance(ref, float) and math.isnan(ref))
    return ref is not None and not math.isnan(ref) and abs(ours - ref) <= TOL


@hs.composite
def scenarios(draw: hs.DrawFn) -> tuple:
    n = draw(hs.integers(12, 120))
    seed = draw(hs.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = rng.integers(0, 2, n)
    a = rng.choice(["p", "q", "r", "s"], n).astype(object)
    b = rng.choice(["u", "v"], n).astype(object)
    # one group with a single class only (all negatives), of varying size
    k = draw(hs.integers(1, 6))
    a[:k] = "solo"
    y[:k] = 0
    return y, pred, a, b


def _case(y: list[int], pred: list[int], a: str, b: str) -> tuple:
    """A scenario written compactly: one character per row for a and b, "S" standing for "solo"."""
    a_values = ["solo" if c == "S" else c for c in a]
    return np.array(y), np.array(pred), np.array(a_values, dtype=object), np.array(list(b), dtype=object)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
# TPR is 0 in every group of "a": its ratio is 0/0, so fairlearn's equalized odds ratio is NaN
@example(_case([0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0], [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0],
               "Spppsrpprrqqpsp", "vvvvuvuvvvuuuvv"))
# no false positive anywhere: the FPR ratio is 0/0 and fairlearn reports the TPR ratio
@example(_case([0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1], [0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1],
               "Sppqqqrrrsss", "uvuvuvuvuvuv"))
def test_group_rates_and_disparities_equal_fairlearn(case: tuple) -> None:
    y, pred, a, b = case
    table = fairness_table(y, pred, None, {"a": a, "b": b}, min_group_size=0, n_boot=0, undefined="zero")
    frames = {"a": a, "b": b, "a×b": pd.DataFrame({"a": a, "b": b})}
    for name, sf in frames.items():
        mf = flm.MetricFrame(metrics=FAIRLEARN_RATES, y_true=y, y_pred=pred, sensitive_features=sf)
        for key, row in mf.by_group.iterrows():
            label = "×".join(key) if isinstance(key, tuple) else key
            if label not in table[name]["groups"]:  # fairlearn lists empty combinations as NaN rows
                assert row.isna().all()
                continue
            group = table[name]["groups"][label]
            assert group["n"] == int(((np.asarray(sf) == np.asarray(key)).all(axis=-1) if name == "a×b"
                                      else np.asarray(sf) == key).sum())
            for metric, ref in row.items():
                assert _close(group[metric]["value"], float(ref)), (name, label, metric)
        for disp, func in DISPARITY_FUNCS.items():
            for method in ("between_groups", "to_overall"):
                ref = func(y, pred, sensitive_features=sf, method=method)
                ours = table[name][disp] if method == "between_groups" else table[name]["to_overall"][disp]
                assert _close(ours["value"], float(ref)), (name, disp, method)


def _nan_rate(num_mask: str, den_mask: str):
    """Rates that are undefined (NaN) on an empty denominator — our default semantics."""

    def metric(yt: np.ndarray, yp: np.ndarray) -> float:
        masks = {"pos": yt == 1, "neg": yt == 0, "sel": yp == 1, "all": np.ones_like(yt, bool)}
        den = masks[den_mask]
        return float((masks[num_mask] & den).sum() / den.sum()) if den.sum() else float("nan")

    return metric


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), hs.integers(0, 20))
def test_undefined_rates_are_skipped_like_nan_in_metricframe(case: tuple, min_size: int) -> None:
    y, pred, a, b = case
    table = fairness_table(y, pred, None, {"a": a, "b": b}, min_group_size=min_size, n_boot=0)
    small = pd.Series(a).value_counts()
    keep = np.isin(a, small[small >= min_size].index)
    if keep.sum() == 0:
        return
    mf = flm.MetricFrame(metrics={"tpr": _nan_rate("sel", "pos"), "fpr": _nan_rate("sel", "neg"),
                                  "selection_rate": _nan_rate("sel", "all")},
                         y_true=y[keep], y_pred=pred[keep], sensitive_features=a[keep])
    assert table["a"]["groups"]["solo"]["tpr"]["defined"] is False
    assert table["a"]["groups"]["solo"]["tpr"]["reason"] == "no positive labels in the group"
    diff = mf.difference()
    assert _close(table["a"]["equal_opportunity_difference"]["value"], float(diff["tpr"]))
    assert _close(table["a"]["demographic_parity_difference"]["value"], float(diff["selection_rate"]))
    assert _close(table["a"]["equalized_odds_ratio"]["value"], float(np.fmin(*mf.ratio()[["tpr", "fpr"]])))
    assert sorted(table["a"]["excluded_groups"]) == sorted(small[small < min_size].index)


def test_group_auc_and_ece_match_sklearn_and_direct_formula() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    score[:5] = 1.0  # a score of exactly 1 lands in the last bin
    g = rng.choice(["x", "y", "z"], n)
    y[g == "z"] = 1
    table = fairness_table(y, (score >= 0.5).astype(int), score, {"g": g}, n_boot=0)
    for label in ("x", "y"):
        m = g == label
        assert abs(table["g"]["groups"][label]["roc_auc"]["value"] - roc_auc_score(y[m], score[m])) <= TOL
        bins = np.minimum((score[m] * 10).astype(int), 9)
        ece = sum(abs((y[m][bins == b] - score[m][bins == b]).sum()) for b in range(10)) / m.sum()
        assert abs(table["g"]["groups"][label]["ece"]["value"] - ece) <= TOL
    assert table["g"]["groups"]["z"]["roc_auc"]["defined"] is False


def test_bootstrap_cis_equal_direct_weighted_replicates() -> None:
    rng = np.random.default_rng(5)
    n, n_boot, seed = 300, 200, 11
    y = rng.integers(0, 2, n)
    s_c, s_b = rng.random(n), np.clip(rng.random(n) * 0.6 + 0.4 * y, 0, 1)
    sex = rng.choice(["F", "M"], n)
    models = {"candidate": ((s_c >= 0.5).astype(int), s_c), "baseline": ((s_b >= 0.5).astype(int), s_b)}
    out = compare_fairness(y, models, {"sex": sex}, n_boot=n_boot, seed=seed)
    w = poisson_weights(n, n_boot=n_boot, seed=seed).astype(np.float64)
    f = sex == "F"
    sel_c = (w[:, f] * (s_c[f] >= 0.5)).sum(1) / w[:, f].sum(1)
    sel_b = (w[:, f] * (s_b[f] >= 0.5)).sum(1) / w[:, f].sum(1)
    got = out["models"]["candidate"]["sex"]["groups"]["F"]["selection_rate"]
    low, high = percentile_ci(sel_c, confidence=0.95)
    assert abs(got["ci_low"] - low) < 1e-9 and abs(got["ci_high"] - high) < 1e-9
    delta = out["deltas"]["sex"]["groups"]["F"]["selection_rate"]
    low, high = percentile_ci(sel_c - sel_b, confidence=0.95)
    assert abs(delta["ci_low"] - low) < 1e-9 and abs(delta["ci_high"] - high) < 1e-9
    # group AUC replicates: exact weighted AUC, checked against sklearn with sample weights
    aucs = [roc_auc_score(y[f], s_c[f], sample_weight=w[r, f]) for r in range(n_boot)]
    got = out["models"]["candidate"]["sex"]["groups"]["F"]["roc_auc"]
    assert got["method"] == "bootstrap"
    low, high = percentile_ci(np.array(aucs), confidence=0.95)
    assert abs(got["ci_low"] - low) < 1e-9 and abs(got["ci_high"] - high) < 1e-9
    # disparity delta: value is the difference, widening follows the sign
    dpd = out["deltas"]["sex"]["demographic_parity_difference"]
    ca = out["models"]["candidate"]["sex"]["demographic_parity_difference"]["value"]
    cb = out["models"]["baseline"]["sex"]["demographic_parity_difference"]["value"]
    assert abs(dpd["value"] - (ca - cb)) <= TOL and dpd["widened"] == (ca > cb)


def test_every_disparity_delta_has_its_mde_per_feature_and_intersection() -> None:
    """Candidate vs baseline "did not widen" needs the power to see a widening: the MDE at 80% power,
    (z_0.975 + z_0.8) x the SD of the paired replicate differences, recomputed here from the weights."""
    rng = np.random.default_rng(12)
    n, n_boot, seed = 2000, 300, 4
    y = rng.integers(0, 2, n)
    s_c, s_b = rng.random(n), np.clip(rng.random(n) * 0.6 + 0.4 * y, 0, 1)
    sens = {"sex": rng.choice(["F", "M"], n), "band": rng.choice(["a", "b", "c"], n)}
    models = {"candidate": ((s_c >= 0.5).astype(int), s_c), "baseline": ((s_b >= 0.5).astype(int), s_b)}
    out = compare_fairness(y, models, sens, n_boot=n_boot, seed=seed)
    assert set(out["deltas"]) == {"sex", "band", "sex×band"}
    for feature, block in out["deltas"].items():
        for disp in ("demographic_parity_difference", "equalized_odds_difference", "demographic_parity_ratio"):
            for d in (block[disp], block["to_overall"][disp]):
                assert d["mde"] > 0, (feature, disp)
    # sex, demographic parity difference, from the Poisson weights directly
    w = poisson_weights(n, n_boot=n_boot, seed=seed).astype(np.float64)
    f = sens["sex"] == "F"

    def gap(pred: np.ndarray) -> np.ndarray:
        rate_f = (w[:, f] * pred[f]).sum(1) / w[:, f].sum(1)
        rate_m = (w[:, ~f] * pred[~f]).sum(1) / w[:, ~f].sum(1)
        return np.abs(rate_f - rate_m)

    diff = gap(s_c >= 0.5) - gap(s_b >= 0.5)
    expected = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * diff.std(ddof=1)
    assert out["deltas"]["sex"]["demographic_parity_difference"]["mde"] == pytest.approx(expected, rel=1e-9)


def test_scatter_and_blas_engines_agree() -> None:
    rng = np.random.default_rng(8)
    n = 2000
    y = rng.integers(0, 2, n)
    s_c, s_b = rng.random(n), rng.random(n)
    models = {"candidate": ((s_c >= 0.5).astype(int), s_c), "baseline": ((s_b >= 0.4).astype(int), s_b)}
    sens = {"a": rng.choice(list("pqrs"), n), "b": rng.choice(list("uv"), n)}
    blas = compare_fairness(y, models, sens, n_boot=64, seed=2, engine="blas")
    scatter = compare_fairness(y, models, sens, n_boot=64, seed=2, engine="scatter")
    # counts are exact in both; calibration sums differ only by float32 (BLAS) rounding
    assert _same_tree(blas, scatter)


def _same_tree(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    return a == b


def test_delong_interval_when_over_budget_covers_value() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    s = np.clip(0.2 * y + 0.8 * rng.random(2000), 0, 1)
    t = fairness_table(y, (s > 0.5).astype(int), s, {"g": rng.choice(["a", "b"], 2000)},
                       n_boot=50, auc_bootstrap_budget=0)
    auc = t["g"]["groups"]["a"]["roc_auc"]
    assert auc["method"] == "delong" and auc["ci_low"] < auc["value"] < auc["ci_high"]


def test_slice_tests_use_fisher_for_small_cells_and_bh_correction() -> None:
    from scipy.stats import false_discovery_control, fisher_exact

    rng = np.random.default_rng(2)
    n = 500
    y = rng.integers(0, 2, n)
    pred = rng.integers(0, 2, n)
    g = np.array(["big"] * (n - 8) + ["tiny"] * 8)
    pred[-8:] = 1
    tests = fairness_table(y, pred, None, {"g": g}, n_boot=0)["g"]["slice_tests"]
    tiny = next(t for t in tests if t["group"] == "tiny" and t["metric"] == "selection_rate")
    assert tiny["test"] == "fisher_exact" and tiny["insufficient_data"] is True
    rest = pred[:-8]
    ref = fisher_exact([[8, 0], [int(rest.sum()), int((1 - rest).sum())]])[1]
    assert abs(tiny["p_value"] - ref) <= TOL
    big = next(t for t in tests if t["group"] == "big" and t["metric"] == "selection_rate")
    assert big["min_detectable_difference"] > 0.3  # 8 rows in the complement: nothing small is detectable
    ps = [t["p_value"] for t in tests if t["p_value"] is not None]
    adj = false_discovery_control(np.array(ps))
    assert np.allclose([t["p_adjusted"] for t in tests if t["p_value"] is not None], adj)


def test_proxy_detection_ranks_a_noisy_copy_first() -> None:
    from scipy.stats import chi2_contingency

    rng = np.random.default_rng(4)
    n = 3000
    sex = rng.choice(["F", "M"], n)
    proxy = np.where(rng.random(n) < 0.8, sex, rng.choice(["F", "M"], n))
    frame = pd.DataFrame({"sex": sex, "job": np.where(proxy == "F", "part_time", "salaried"),
                          "noise": rng.normal(size=n), "income": rng.normal(size=n) + (sex == "M")})
    res = proxy_associations(frame, ["job", "noise", "income"], ["sex"])["sex"]
    assert res["top_proxies"][0] == "job" and "noise" not in res["top_proxies"]
    table = pd.crosstab(frame["job"], frame["sex"]).to_numpy()
    v = math.sqrt(chi2_contingency(table, correction=False)[0] / n)
    assert abs(res["associations"][0]["cramers_v"] - v) < 1e-9


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(DataError, match="y_true: fairness needs binary"):
        fairness_table([0, 2, 1], [0, 1, 1], None, {"g": ["a", "b", "a"]})
    with pytest.raises(DataError, match="sensitive feature 'g' has 2 rows"):
        fairness_table([0, 1, 1], [0, 1, 1], None, {"g": ["a", "b"]})
    with pytest.raises(DataError, match="no sensitive features"):
        fairness_table([0, 1, 1], [0, 1, 1], None, {})


@pytest.fixture(scope="module")
def demo_review(demo_manifest):
    from workbench.artefacts import load_review

    return load_review(demo_manifest)


@pytest.mark.slow
def test_demo_planted_disparity_is_found_in_age_band_and_widened_by_the_candidate(demo_review) -> None:
    from workbench.canonical import canonical_json
    from workbench.fairness import fairness_evidence

    out = fairness_evidence(demo_review, n_boot=200, seed=1)
    canonical_json(out)  # JSON-ready, no NaN
    cand, base = out["models"]["candidate"], out["models"]["baseline"]
    # the planted bias hits the youngest band through proxies: age_band, not sex, carries the gap
    assert cand["age_band"]["demographic_parity_ratio"]["value"] < 0.8 <= cand["sex"]["demographic_parity_ratio"]["value"]
    sel = {g: v["selection_rate"]["value"] for g, v in cand["age_band"]["groups"].items()}
    assert min(sel, key=sel.get) == "18-25"
    assert base["age_band"]["demographic_parity_ratio"]["value"] >= 0.8
    delta = out["fairness_deltas"]["age_band"]
    assert delta["demographic_parity_difference"]["value"] > 0 and delta["demographic_parity_difference"]["significantly_widened"]
    assert delta["demographic_parity_ratio"]["widened"] and delta["groups"]["18-25"]["selection_rate"]["ci_high"] < 0
    assert "sex×age_band" in cand
    # sex and age are not model inputs; their proxies are the employment and credit-file columns
    assert out["proxies"]["age_band"]["used_as_input"] is False
    assert {"credit_history_years", "employment_type"} & set(out["proxies"]["age_band"]["top_proxies"])
    tests = [t for t in cand["age_band"]["slice_tests"] if t["group"] == "18-25" and t["metric"] == "selection_rate"]
    assert tests[0]["significant"]


def test_delong_interval_equals_textbook_midrank_formula() -> None:
    from scipy.stats import norm, rankdata

    from workbench.fairness._stats import delong_ci

    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 700)
    s = np.round(rng.random(700) + 0.4 * y, 2)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    r = rankdata(np.r_[pos, neg])
    v10, v01 = (r[:m] - rankdata(pos)) / n, 1 - (r[m:] - rankdata(neg)) / m
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    auc = roc_auc_score(y, s)
    low, high = delong_ci(y, s, confidence=0.9)
    assert abs(low - (auc - norm.ppf(0.95) * se)) < 1e-12 and abs(high - (auc + norm.ppf(0.95) * se)) < 1e-12


def test_missing_sensitive_values_form_their_own_group() -> None:
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    p = np.array([0, 1, 0, 0, 1, 1, 1, 0])
    sex = pd.Series(["F", None, "M", "F", np.nan, "M", "F", "M"])
    t = fairness_table(y, p, None, {"sex": sex, "band": [1, 1, 2, 2, 1, 1, 2, 2]}, min_group_size=1, n_boot=0)
    assert sorted(t["sex"]["groups"]) == ["(missing)", "F", "M"]
    assert t["sex"]["groups"]["(missing)"]["n"] == 2 and t["sex"]["groups"]["(missing)"]["selection_rate"]["value"] == 1.0
    assert sorted(t["band"]["groups"]) == ["1", "2"] and "(missing)×1" in t["sex×band"]["groups"]


@settings(max_examples=25, deadline=None)
@given(n_rep=hs.integers(1, 9), n=hs.integers(1, 300), n_keys=hs.integers(1, 3), seed=hs.integers(0, 2**32 - 1))
def test_scatter_kernel_equals_ordered_add_at_for_counts_and_float_weights(n_rep, n, n_keys, seed) -> None:
    from workbench.fairness._kernel import prepare, scatter_into
    from workbench.metrics.bootstrap import fill_poisson_counts

    rng = np.random.default_rng(seed)
    width = 7
    keys, values = prepare(rng.integers(0, width, (n, n_keys)), rng.normal(size=(n, n_keys)))
    counts = fill_poisson_counts(np.empty((n_rep, n), dtype=np.uint8), seed=seed)
    expected = np.zeros((n_rep, width))
    for r in range(n_rep):  # numpy adds in index order (row-major: row, then key), like the kernel
        np.add.at(expected[r], keys.ravel(), (counts[r].astype(np.float32)[:, None] * values).ravel())
    got_counts = scatter_into(np.zeros((n_rep, width)), counts, keys, values)
    got_float = scatter_into(np.zeros((n_rep, width)), counts.astype(np.float32), keys, values)
    assert np.array_equal(got_counts, expected) and np.array_equal(got_float, expected)


def test_scatter_bootstrap_invariant_to_chunks_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.fairness import _engine as eng

    rng = np.random.default_rng(21)
    n = 3000
    y = rng.integers(0, 2, n)
    s_c, s_b = rng.random(n), rng.random(n)
    preds = {"c": (s_c >= 0.5).astype(np.int64), "b": (s_b >= 0.3).astype(np.int64)}
    part = eng.build_partition({"a": rng.choice(list("pqr"), n), "b": rng.choice(list("uv"), n)}, n_rows=n)
    results, seen = [], []
    for threads, chunk in (("1", None), ("2", 3), ("3", 7)):
        monkeypatch.setenv("WORKBENCH_THREADS", threads)
        got: list[np.ndarray] = []
        agg = eng.bootstrap_aggregates(part.cells, part.n_cells, y, preds, {"c": s_c, "b": s_b}, n_bins=5,
                                       n_boot=23, seed=4, chunk_size=chunk, engine="scatter", consumers=[got.append])
        results.append(agg)
        seen.append(np.concatenate(got))
    weights = poisson_weights(n, n_boot=23, seed=4)
    for agg, chunks in zip(results, seen, strict=True):
        assert np.array_equal(chunks, weights)  # consumers see the shared float32 weights, in order
        for role in preds:
            assert np.array_equal(agg.confusion[role], results[0].confusion[role])
            assert np.array_equal(agg.calibration[role], results[0].calibration[role])
    # counts oracle: weighted confusion counts of replicate 5 for the candidate in cell 0
    rows = part.cells == 0
    w = weights[5, rows]
    key = y[rows] * 2 + preds["c"][rows]
    assert np.array_equal(results[0].confusion["c"][5, 0], np.bincount(key, weights=w, minlength=4))


def test_group_delong_from_one_shared_sort_equals_per_group_computation() -> None:
    from workbench.fairness._stats import delong_ci

    rng = np.random.default_rng(30)
    n = 4000
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n) * 0.7 + 0.3 * y, 2)  # many ties across and within groups
    band = rng.choice(["x", "y", "z"], n)
    out = compare_fairness(y, {"candidate": ((s >= 0.5).astype(int), s)}, {"band": band},
                           n_boot=10, seed=1, auc_bootstrap_budget=0, confidence=0.9)
    for g in ("x", "y", "z"):
        rows = band == g
        auc = out["models"]["candidate"]["band"]["groups"][g]["roc_auc"]
        low, high = delong_ci(y[rows], s[rows], confidence=0.9)
        assert auc["method"] == "delong"
        assert abs(auc["value"] - roc_auc_score(y[rows], s[rows])) <= TOL
        assert auc["ci_low"] == low and auc["ci_high"] == high


def test_proxy_tables_and_statistics_equal_scipy_and_sklearn_from_the_labels():
    """The bincount contingency table and the statistics from it equal scipy's crosstab and
    scikit-learn's mutual_info_score on the labels, value for value (absent levels dropped)."""
    from scipy.stats.contingency import association, crosstab
    from sklearn.metrics import mutual_info_score

    from workbench.fairness._stats import _crosstab, _discretise

    rng = np.random.default_rng(11)
    n = 5000
    frame = pd.DataFrame({"income": rng.lognormal(10, 1, n), "grade": rng.choice(["a", "b", "c", None], n),
                          "few": rng.choice([1.0, 2.0, 7.0], n), "sex": rng.choice(["f", "m"], n),
                          "band": rng.choice(["18-25", "26-40", "41+"], n)})
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    out = proxy_associations(frame, ["income", "grade", "few"], ["sex", "band"])
    for s in ("sex", "band"):
        s_codes = _discretise(frame[s], 10)
        by = {r["feature"]: r for r in out[s]["associations"]}
        for col in ("income", "grade", "few"):
            x_codes = _discretise(frame[col], 10)
            ref = crosstab(x_codes, s_codes).count
            assert np.array_equal(_crosstab(x_codes, s_codes), ref)
            assert by[col]["cramers_v"] == float(association(ref, method="cramer"))
            assert by[col]["mutual_information"] == float(mutual_info_score(x_codes, s_codes))
    # a level missing from the middle of the code range is dropped as crosstab drops it
    x = np.array([0, 0, 2, 2, 5, 5]); s = np.array([0, 1, 0, 1, 1, 1])
    assert np.array_equal(_crosstab(x, s), crosstab(x, s).count)


@pytest.mark.parametrize("decimals", [None, 2])
def test_compiled_group_auc_replicates_equal_the_vectorised_form(decimals):
    from workbench.fairness._stats import WeightedAuc
    from workbench.metrics.bootstrap import poisson_weights

    rng = np.random.default_rng(5)
    n = 3000
    y = rng.integers(0, 2, n)
    s = rng.random(n) if decimals is None else np.round(rng.random(n), decimals)
    rows = np.flatnonzero(rng.random(n) < 0.3)
    chunk = poisson_weights(n, n_boot=40, seed=2).astype(np.float32)
    a, b = WeightedAuc(rows, y, s), WeightedAuc(rows, y, s)
    a.consume(chunk)
    b.consume_vectorised(chunk)
    assert np.array_equal(a.replicates(), b.replicates(), equal_nan=True)
    one_class = WeightedAuc(np.flatnonzero(y == 1)[:50], y, s)
    one_class.consume(chunk)
    assert np.isnan(one_class.replicates()).all()
