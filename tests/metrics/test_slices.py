"""Slices: per-slice metrics equal scikit-learn on the subset; CIs, flags and order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from workbench.errors import DataError
from workbench.metrics.slices import slice_codes, slice_evidence


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(7)
    n = 4000
    df = pd.DataFrame({
        "region": rng.choice(["north", "south", "east", "tiny"], n, p=[0.45, 0.35, 0.17, 0.03]),
        "income": rng.lognormal(10, 0.5, n),
    })
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    x = np.log(df["income"].fillna(df["income"].median())).to_numpy()
    noise = np.where(df["region"] == "east", 3.0, 0.7)
    logit = 2.0 * (x - 10) + rng.normal(0, noise)
    y = (logit > 0).astype(int)
    model = LogisticRegression().fit(x[:, None], y)
    return df, y, model.predict_proba(x[:, None])[:, 1]


def test_slice_metrics_equal_sklearn_on_each_subset(scored):
    df, y, s = scored
    out = slice_evidence(df, y, s, features=["region", "income"], threshold=0.5, n_boot=50, seed=1)
    seen = set()
    for entry in out:
        if entry["feature"] == "region":
            mask = (df["region"] == entry["slice"]).to_numpy()
        else:
            codes, labels = slice_codes(df["income"], categorical=False, n_quantile_bands=4)
            mask = codes == labels.index(entry["slice"])
        assert entry["n"] == mask.sum()
        yt, ys = y[mask], s[mask]
        pred = (ys >= 0.5).astype(int)
        m = entry["metrics"]
        assert m["accuracy"]["value"] == pytest.approx(accuracy_score(yt, pred), abs=1e-12)
        assert m["recall"]["value"] == pytest.approx(recall_score(yt, pred, zero_division=0), abs=1e-12)
        if pred.sum():
            assert m["precision"]["value"] == pytest.approx(precision_score(yt, pred), abs=1e-12)
            assert m["f1"]["value"] == pytest.approx(f1_score(yt, pred), abs=1e-12)
        if 0 < yt.sum() < yt.size:
            assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(yt, ys), abs=1e-12)
        seen.add((entry["feature"], entry["slice"]))
    assert ("region", "tiny") in seen and ("income", "<missing>") in seen
    assert len([e for e in out if e["feature"] == "income"]) == 5  # 4 bands + missing


def test_small_slices_flagged_and_ci_brackets_value(scored):
    df, y, s = scored
    out = slice_evidence(df, y, s, features=["region"], min_size=200, n_boot=80, seed=3)
    by = {e["slice"]: e for e in out}
    assert by["tiny"]["insufficient_data"] is True
    assert by["tiny"]["metrics"]["accuracy"]["ci_low"] is None
    for name in ("north", "south", "east"):
        acc = by[name]["metrics"]["accuracy"]
        assert by[name]["insufficient_data"] is False
        assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
        assert acc["ci_high"] - acc["ci_low"] < 0.2
    # worst first: the noisy east slice has the lowest accuracy among sufficient slices
    assert out[0]["slice"] == "east"
    assert out[-1]["slice"] == "tiny"


def test_slice_ci_uses_the_shared_bootstrap_replicates(scored):
    df, y, s = scored
    a = slice_evidence(df, y, s, features=["region"], n_boot=40, seed=5)
    b = slice_evidence(df, y, s, features=["region"], n_boot=40, seed=5)
    c = slice_evidence(df, y, s, features=["region"], n_boot=40, seed=6)
    assert a == b
    assert a != c


def test_one_class_slice_reports_undefined_auc_with_reason():
    df = pd.DataFrame({"g": ["a"] * 300 + ["b"] * 300})
    y = np.r_[np.ones(300, int), np.tile([0, 1], 150)]
    s = np.linspace(0.01, 0.99, 600)
    out = slice_evidence(df, y, s, features=["g"], metrics=["roc_auc", "accuracy"], n_boot=10)
    auc_a = next(e for e in out if e["slice"] == "a")["metrics"]["roc_auc"]
    assert auc_a["defined"] is False and "one class" in auc_a["reason"]
    assert out[-1]["slice"] == "a"  # undefined values sort after defined ones


def test_bad_input_names_the_column():
    df = pd.DataFrame({"g": ["a", "b"]})
    with pytest.raises(DataError, match="'h'"):
        slice_evidence(df, np.array([0, 1]), np.array([0.2, 0.8]), features=["h"])


FULL = ["accuracy", "roc_auc", "precision", "recall", "f1", "average_precision", "mcc", "specificity",
        "balanced_accuracy"]


@pytest.mark.parametrize("decimals", [None, 2])  # 2: many tied scores across classes and slices
def test_one_pass_slices_equal_the_per_slice_computation(scored, decimals):
    """The compiled one-pass path (binary, no log loss/Brier) against the per-slice path, which
    asking for log loss selects: identical values and CIs (AP to rounding: summation order)."""
    df, y, s = scored
    s = s if decimals is None else np.round(s, decimals)
    fast = slice_evidence(df, y, s, features=["region", "income"], metrics=FULL, n_boot=37, seed=4)
    slow = slice_evidence(df, y, s, features=["region", "income"], metrics=[*FULL, "log_loss"], n_boot=37, seed=4)
    assert [(e["feature"], e["slice"]) for e in fast] == [(e["feature"], e["slice"]) for e in slow]
    for a, b in zip(fast, slow):
        assert a["n"] == b["n"] and a["significance"] == b["significance"]
        for name in FULL:
            if name == "average_precision":
                for key in ("value", "ci_low", "ci_high"):
                    assert (a["metrics"][name][key] is None) == (b["metrics"][name][key] is None)
                    if a["metrics"][name][key] is not None:
                        assert a["metrics"][name][key] == pytest.approx(b["metrics"][name][key], abs=1e-12)
            else:
                assert a["metrics"][name] == b["metrics"][name], (a["slice"], name)


def test_models_together_equal_each_alone(scored):
    from workbench.metrics.slices import slice_evidence_models

    df, y, s = scored
    other = np.clip(s + 0.1 * np.sin(np.arange(s.size)), 0, 1)
    both = slice_evidence_models(df, y, {"a": s, "b": other}, features=["region", "income"], n_boot=30, seed=2)
    assert both["a"] == slice_evidence(df, y, s, features=["region", "income"], n_boot=30, seed=2)
    assert both["b"] == slice_evidence(df, y, other, features=["region", "income"], n_boot=30, seed=2)


def _reference_categorical_codes(series):
    """The categorical coding before factorize (the oracle): pd.unique, sorted, get_indexer."""
    missing = series.isna().to_numpy()
    values = series.astype(object).where(~series.isna(), None)
    uniques = pd.unique(values[~missing])
    try:
        uniques = np.array(sorted(uniques), dtype=object)
    except TypeError:
        uniques = np.asarray(uniques, dtype=object)
    codes = pd.Index(list(uniques)).get_indexer(values)
    labels = [str(u) for u in uniques]
    codes = np.where(missing, len(labels), codes)
    if missing.any():
        labels.append("<missing>")
    return codes, labels


@pytest.mark.parametrize("series", [
    pd.Series(["b", "a", "c", "a"] * 50), pd.Series(["b", None, "a"] * 50), pd.Series([True, False, True] * 9),
    pd.Series([3, 1, 2, 1] * 7), pd.Series(["y", "x"] * 9).astype("category"),
    pd.Series([1, "a", 2.5, None, "a", 1] * 5, dtype=object), pd.Series([1.5, np.nan, 2.5] * 5),
    pd.Series([], dtype=object), pd.Series([None, None], dtype=object),
    pd.Series(pd.array([1, None, 3, 1], dtype="Int64")), pd.Series(["a", "b", None] * 4, dtype="string"),
])
def test_categorical_codes_equal_the_reference_coding(series):
    codes, labels = slice_codes(series, categorical=True)
    ref_codes, ref_labels = _reference_categorical_codes(series)
    assert labels == ref_labels
    assert codes.tolist() == np.asarray(ref_codes).tolist()


def test_significance_is_each_slice_against_its_complement_with_bh(scored):
    from scipy.stats import chi2_contingency, false_discovery_control

    df, y, s = scored
    out = slice_evidence(df, y, s, features=["region"], n_boot=0)
    correct = (s >= 0.5) == y.astype(bool)
    ps = []
    for e in out:
        mask = (df["region"] == e["slice"]).to_numpy()
        table = np.array([[correct[mask].sum(), (~correct[mask]).sum()],
                          [correct[~mask].sum(), (~correct[~mask]).sum()]])
        sig = e["significance"]
        assert sig["metric"] == "accuracy"
        assert sig["difference"] == pytest.approx(correct[mask].mean() - correct[~mask].mean(), abs=1e-12)
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        if expected.min() >= 5:
            stat, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
            assert sig["test"] == "g_test" and sig["p_value"] == pytest.approx(p, rel=1e-12)
        ps.append(sig["p_value"])
    adjusted = false_discovery_control(np.asarray(ps))
    assert [e["significance"]["p_adjusted"] for e in out] == pytest.approx(list(adjusted), rel=1e-12)
    east = next(e for e in out if e["slice"] == "east")
    assert east["significance"]["significant"] is True  # the noisy slice is worse than the rest
    assert east["significance"]["difference"] < 0



def test_each_slice_has_its_minimum_detectable_difference_at_80_percent_power(scored):
    from scipy.stats import norm

    df, y, s = scored
    out = slice_evidence(df, y, s, features=["region"], n_boot=0)
    correct = (s >= 0.5) == y.astype(bool)
    z = norm.ppf(0.975) + norm.ppf(0.8)
    for e in out:
        mask = (df["region"] == e["slice"]).to_numpy()
        n_g, n_r, p = mask.sum(), (~mask).sum(), correct.mean()  # pooled: the null of no difference
        assert e["significance"]["mde"] == pytest.approx(z * np.sqrt(p * (1 - p) * (1 / n_g + 1 / n_r)), rel=1e-12)
    # the smaller the slice, the larger the difference it needs to show
    by_size = sorted(out, key=lambda e: e["n"])
    assert by_size[0]["significance"]["mde"] >= by_size[-1]["significance"]["mde"]


def test_regression_significance_is_welch_on_absolute_errors():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], 600)})
    y = rng.normal(size=600)
    pred = y + np.where(df["g"] == "a", rng.normal(0, 2, 600), rng.normal(0, 0.5, 600))
    out = slice_evidence(df, y, pred, features=["g"], task="regression", n_boot=10)
    err = np.abs(y - pred)
    for e in out:
        mask = (df["g"] == e["slice"]).to_numpy()
        ref = ttest_ind(err[mask], err[~mask], equal_var=False)
        assert e["significance"]["test"] == "welch_t"
        assert e["significance"]["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
        se = np.sqrt(err[mask].var(ddof=1) / mask.sum() + err[~mask].var(ddof=1) / (~mask).sum())
        assert e["significance"]["mde"] == pytest.approx(2.8015853 * se, rel=1e-6)
