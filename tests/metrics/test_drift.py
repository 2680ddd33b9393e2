"""Drift: PSI by hand, KS/chi-square/JS/Wasserstein against scipy, profiles reused."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from workbench.canonical import canonical_json
from workbench.errors import DataError
from workbench.metrics.drift import (
    ReferenceProfile,
    build_reference_profile,
    category_codes,
    drift_evidence,
    score_drift,
    severity_band,
)


def _one(ref, cur, **kw):
    return drift_evidence(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), features=["x"], **kw)[
        "features"
    ]["x"]


def test_psi_matches_hand_computed_example():
    # reference median 2.5 -> bins (-inf, 2.5], (2.5, inf), plus the missing bin
    entry = _one([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 4.0, np.nan], n_bins=2, epsilon=1e-4)
    p, q = [0.5, 0.5, 1e-4], [0.6, 0.2, 0.2]
    expected = sum((b - a) * math.log(b / a) for a, b in zip(p, q))
    assert entry["psi"] == pytest.approx(expected, rel=1e-12)
    assert entry["bin_edges"] == [2.5]
    assert entry["missing_rate_current"] == pytest.approx(0.2)
    assert entry["severity"] == severity_band(expected)


def test_psi_bins_equal_pandas_qcut_bins():
    rng = np.random.default_rng(3)
    ref, cur = rng.gamma(2, 2, 5000), rng.gamma(2.2, 2, 7000)
    entry = _one(ref, cur, n_bins=10)
    _, edges = pd.qcut(ref, 10, retbins=True)
    edges[0], edges[-1] = -np.inf, np.inf
    p = pd.Series(pd.cut(ref, edges)).value_counts(sort=False).to_numpy() / ref.size
    q = pd.Series(pd.cut(cur, edges)).value_counts(sort=False).to_numpy() / cur.size
    assert np.allclose(entry["reference_proportions"][:-1], p)
    assert np.allclose(entry["current_proportions"][:-1], q)
    assert entry["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)


values = st.lists(
    st.one_of(st.integers(-5, 5).map(float), st.floats(-1e3, 1e3, allow_nan=False)),
    min_size=1,
    max_size=300,
)


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(ref=values, cur=values)
def test_ks_and_wasserstein_match_scipy(ref, cur):
    entry = _one(np.array(ref), np.array(cur))
    oracle = stats.ks_2samp(ref, cur)
    assert entry["ks_statistic"] == pytest.approx(oracle.statistic, abs=1e-12)
    assert entry["ks_p_value"] == pytest.approx(oracle.pvalue, rel=1e-9, abs=1e-12)
    w = stats.wasserstein_distance(ref, cur)
    assert abs(entry["wasserstein"] - w) <= entry["wasserstein_error_bound"] + 1e-9 * (1 + w)


def test_large_samples_exact_ks_and_bounded_wasserstein():
    rng = np.random.default_rng(0)
    ref, cur = rng.lognormal(0, 1, 50_000), rng.lognormal(0.05, 1, 120_000)
    cur[:100] = np.nan
    entry = _one(ref, cur)
    clean = cur[np.isfinite(cur)]
    oracle = stats.ks_2samp(ref, clean)
    assert entry["ks_statistic"] == oracle.statistic
    assert entry["ks_p_value"] == pytest.approx(oracle.pvalue, rel=0.01)
    w = stats.wasserstein_distance(ref, clean)
    assert abs(entry["wasserstein"] - w) <= entry["wasserstein_error_bound"] + 1e-12
    assert entry["wasserstein_error_bound"] <= 1e-3 * entry["wasserstein_scale_value"] + 1e-12
    iqr = np.subtract(*np.percentile(ref, [75, 25]))
    assert entry["wasserstein_scale"] == "iqr"
    assert entry["wasserstein_normalised"] == pytest.approx(entry["wasserstein"] / iqr)


def test_categorical_chi2_js_unseen_missing_against_scipy():
    rng = np.random.default_rng(1)
    ref = pd.Series(rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2]))
    cur = pd.Series(rng.choice(["a", "b", "c", "z"], 2000, p=[0.3, 0.3, 0.3, 0.1]), dtype=object)
    cur[:50] = None
    res = drift_evidence(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), features=["c"])
    entry = res["features"]["c"]
    assert entry["kind"] == "categorical"
    rc = ref.value_counts().reindex(["a", "b", "c"]).to_numpy()
    cc = cur.value_counts().reindex(["a", "b", "c"]).to_numpy()
    unseen, missing = int((cur == "z").sum()), 50
    table = np.array([[*rc, 0, 0], [*cc, unseen, missing]])
    chi = stats.chi2_contingency(table, correction=False)
    assert entry["chi2_p_value"] == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
    js = jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum(), base=2)
    assert entry["js_distance"] == pytest.approx(js, rel=1e-12)
    assert entry["js_divergence"] == pytest.approx(js**2, rel=1e-12)
    assert entry["unseen_rate"] == pytest.approx(unseen / 2000)
    assert entry["missing_rate_current"] == pytest.approx(50 / 2000)
    assert entry["severity"] == "major"


_LABELS = st.one_of(st.none(), st.sampled_from(["a", "b", "", "é", "z z", "a\x00"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_LABELS, min_size=1, max_size=60), st.lists(_LABELS, min_size=0, max_size=60))
def test_arrow_string_codes_equal_the_pandas_index_lookup(ref, cur):
    categories = sorted({v for v in ref if v is not None})
    arrow = pd.Series(cur, dtype="string[pyarrow]")
    assert arrow.dtype.storage == "pyarrow"  # the fast path is the one under test
    expected = pd.Index(categories).get_indexer(pd.Series(cur, dtype=object))
    for series in (arrow, pd.Series(cur, dtype="str"), pd.Series(cur, dtype=object),
                   pd.Series(cur, dtype="string[python]")):
        codes, n_missing = category_codes(series, categories)
        np.testing.assert_array_equal(codes, expected)
        assert n_missing == sum(v is None for v in cur)
    if categories:  # the whole entry is the same whichever string type holds the columns
        frames = [pd.DataFrame({"c": pd.Series(v, dtype=t)}) for v, t in ((ref, object), (cur, object))]
        arrows = [pd.DataFrame({"c": pd.Series(v, dtype="string[pyarrow]")}) for v in (ref, cur)]
        a = drift_evidence(*frames, features=["c"], categorical=["c"])["features"]["c"]
        b = drift_evidence(*arrows, features=["c"], categorical=["c"])["features"]["c"]
        assert canonical_json(a) == canonical_json(b)


def test_profile_json_round_trip_gives_same_psi_and_bounded_ks():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=20_000), "c": rng.choice(list("xyz"), 20_000)})
    cur = pd.DataFrame({"x": rng.normal(0.1, 1.1, 30_000), "c": rng.choice(list("xyzw"), 30_000)})
    profile = build_reference_profile(ref, features=["x", "c"])
    text = canonical_json(profile.to_dict())
    loaded = ReferenceProfile.from_dict(json.loads(text))
    direct = drift_evidence(profile, cur)
    again = drift_evidence(loaded, cur)
    for f in ("x", "c"):
        assert again["features"][f]["psi"] == pytest.approx(direct["features"][f]["psi"], rel=1e-12)
    exact = direct["features"]["x"]["ks_statistic"]
    approx = again["features"]["x"]
    assert approx["ks_statistic"] <= exact + 1e-12
    assert exact <= approx["ks_statistic"] + approx["ks_error_bound"] + 1e-12
    w_exact = stats.wasserstein_distance(ref["x"], cur["x"])
    assert abs(approx["wasserstein"] - w_exact) <= approx["wasserstein_error_bound"] + 1e-12


def test_share_drifted_bands_and_missing_columns():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    cur = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(2.0, 1.0, 5000)})
    res = drift_evidence(ref, cur, features=["a", "b"])
    assert res["features"]["a"]["severity"] == "stable"
    assert res["features"]["b"]["severity"] == "major"
    assert res["share_drifted"] == 0.5 and res["drifted_features"] == ["b"]
    custom = drift_evidence(ref, cur, features=["a", "b"], bands=(10.0, 20.0))
    assert custom["features"]["b"]["severity"] == "stable"
    with pytest.raises(DataError, match="'b'"):
        drift_evidence(ref, cur[["a"]], features=["a", "b"])
    json.loads(canonical_json(res))  # JSON-able, no NaN


def test_all_missing_current_is_undefined_with_reason():
    entry = _one([1.0, 2.0, 3.0], [np.nan, np.nan])
    assert entry["defined"] is False and "current" in entry["reason"]
    assert entry["severity"] == "unknown"


def test_score_drift_detects_shifted_scores():
    rng = np.random.default_rng(5)
    base = rng.beta(2, 5, 10_000)
    assert score_drift(base, rng.beta(2, 5, 10_000))["severity"] == "stable"
    shifted = score_drift(base, rng.beta(4, 3, 10_000))
    assert shifted["severity"] == "major"
    assert shifted["ks_statistic"] == pytest.approx(
        stats.ks_2samp(base, rng.beta(4, 3, 10_000)).statistic, abs=0.05
    )


_FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_FLOATS, st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0])), max_size=300))
def test_radix_sort_equals_numpy_sort(values):
    from workbench.metrics._drift_numeric import sort_values

    x = np.array(values, dtype=np.float64)
    got = sort_values(x)
    assert np.array_equal(got, np.sort(x)) and np.all(got[1:] >= got[:-1])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ref=st.integers(1, 3000), n_cur=st.integers(1, 3000),
       discrete=st.booleans())
def test_compiled_scan_equals_numpy_binning_and_cell_stats(seed, n_ref, n_cur, discrete):
    from workbench.metrics._drift_numeric import (
        GridBinner,
        cell_stats,
        scan_column,
        select_cells,
        sorted_cell_stats,
    )

    rng = np.random.default_rng(seed)
    ref = rng.normal(size=n_ref) * 3
    cur = rng.normal(0.5, 2, size=n_cur) * 3
    if discrete:  # ties on grid edges (values exactly on an anchor)
        ref, cur = np.round(ref), np.round(cur)
    cur[rng.random(n_cur) < 0.05] = np.nan
    cur[rng.random(n_cur) < 0.01] = np.inf
    v = np.sort(ref)
    grid = np.unique(np.quantile(v, np.arange(1, 100) / 100))
    binner = GridBinner.build(grid)
    finite = np.isfinite(cur)
    expected_cells = np.searchsorted(grid, cur[finite], side="left")
    expected = cell_stats(cur[finite], expected_cells, grid)
    scan = scan_column(cur, binner)
    assert np.array_equal(scan.cells[finite], expected_cells) and np.all(scan.cells[~finite] == grid.size + 1)
    for field in ("counts", "sums", "at_edge"):
        assert np.array_equal(getattr(scan.stats, field), getattr(expected, field))
    if finite.any():
        assert scan.minimum == cur[finite].min() and scan.maximum == cur[finite].max()
    ref_stats = sorted_cell_stats(v, grid)
    oracle = cell_stats(v, np.searchsorted(grid, v, side="left"), grid)
    for field in ("counts", "sums", "at_edge"):
        assert np.array_equal(getattr(ref_stats, field), getattr(oracle, field))
    mask = rng.random(grid.size + 1) < 0.3
    assert np.array_equal(select_cells(cur, scan.cells, mask), cur[finite][mask[expected_cells]])


def test_drift_does_not_depend_on_the_number_of_threads(monkeypatch):
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=4000) for i in range(5)} | {"c": rng.choice(list("abc"), 4000)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.1 * i, 1, size=5000) for i in range(5)} | {"c": rng.choice(list("abd"), 5000)})
    outs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("WORKBENCH_THREADS", threads)
        outs.append(canonical_json(drift_evidence(ref, cur, features=list(ref.columns))))
    assert outs[0] == outs[1] == outs[2]
