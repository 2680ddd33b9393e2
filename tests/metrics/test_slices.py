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
