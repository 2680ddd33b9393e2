"""SHAP explanations: additivity in raw feature space, independent oracles, diff, demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from workbench.explain import _explain as ex
from workbench.errors import DataError
from workbench.metrics.bootstrap import percentile_ci, poisson_weights

# shap imports matplotlib, whose colormap module warns on import (matplotlib 3.11)
pytestmark = pytest.mark.filterwarnings(
    r"ignore:The set_(bad|over|under) function will be deprecated:PendingDeprecationWarning"
)

NUM, CAT = ["x1", "x2"], ["colour", "shape"]
FEATURES = NUM + CAT


def _frame(n: int, seed: int, *, sign: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"row_id": [f"r{i}" for i in range(n)], "x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "colour": rng.choice(["red", "green", "blue"], n), "shape": rng.choice(list("abcdefg"), n)})
    logit = sign * 1.5 * df["x1"] - 0.8 * df["x2"] + 0.9 * (df["colour"] == "red") + 0.5 * df["shape"].isin(["a", "b"])
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _frame(1200, 0)


def _linear(df: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer([("num", StandardScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(df[FEATURES], df["label"])


def _hgb(df: pd.DataFrame) -> Pipeline:
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    pre = ColumnTransformer([("num", "passthrough", NUM), ("cat", enc, CAT)])
    clf = HistGradientBoostingClassifier(max_iter=40, categorical_features=[2, 3], random_state=0)
    return Pipeline([("pre", pre), ("clf", clf)]).fit(df[FEATURES], df["label"])


def _forest(df: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer([("num", "passthrough", NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    clf = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0)
    return Pipeline([("pre", pre), ("clf", clf)]).fit(df[FEATURES], df["label"])


def test_linear_pipeline_is_additive_and_equals_closed_form_in_raw_space(data: pd.DataFrame) -> None:
    model = _linear(data)
    e = ex.explain_model(model, data, features=FEATURES, id_column="row_id", n_rows=300, n_background=100, seed=3)
    assert e.method == "linear" and e.output_space == "log_odds" and e.values.shape == (300, 4)
    assert e.additivity["holds"] and e.additivity["max_abs_error"] < 1e-9
    # closed form: phi_j = sum over j's transformed columns of coef * (x - mean over the background)
    rng = np.random.default_rng(3)
    rng.choice(len(data), 300, replace=False)
    bg = data.iloc[np.sort(rng.choice(len(data), 100, replace=False))]
    pre, coef = model[:-1], model[-1].coef_[0]
    xt = pre.transform(data.set_index("row_id").loc[e.ids, FEATURES])
    xt = xt.toarray() if hasattr(xt, "toarray") else xt
    bt = pre.transform(bg[FEATURES])
    bt = bt.toarray() if hasattr(bt, "toarray") else bt
    contrib = coef * (xt - bt.mean(axis=0))
    names = pre.get_feature_names_out()
    for j, f in enumerate(FEATURES):
        cols = [k for k, nm in enumerate(names) if nm.split("__")[1] == f or nm.split("__")[1].startswith(f + "_")]
        np.testing.assert_allclose(e.values[:, j], contrib[:, cols].sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(e.output, model.decision_function(data.set_index("row_id").loc[e.ids, FEATURES]))


@pytest.mark.parametrize("build", [_hgb, _forest], ids=["hgb-categorical", "forest-onehot"])
def test_tree_pipelines_are_additive_in_raw_space(data: pd.DataFrame, build) -> None:
    model = build(data)
    probe = data.copy()
    probe.loc[:4, "shape"] = "unseen"  # unknown category and missing values still add up
    probe.loc[5:9, "x1"] = np.nan
    e = ex.explain_model(model, probe, features=FEATURES, id_column="row_id", n_rows=400, seed=1)
    assert e.method == "tree" and e.values.shape[1] == 4
    assert e.additivity["holds"], e.additivity
    rows = probe.set_index("row_id").loc[e.ids, FEATURES]
    if e.output_space == "log_odds":
        expected = model.decision_function(rows)
    else:
        expected = model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1), expected, atol=1e-8)


def test_forest_raw_values_equal_shap_on_transformed_columns_summed(data: pd.DataFrame) -> None:
    import shap

    model = _forest(data)
    e = ex.explain_model(model, data, features=FEATURES, n_rows=100, seed=2)
    xt = model[:-1].transform(data.iloc[np.sort(np.random.default_rng(2).choice(len(data), 100, replace=False))][FEATURES])
    sv = shap.TreeExplainer(model[-1]).shap_values(np.asarray(xt.toarray() if hasattr(xt, "toarray") else xt))[:, :, 1]
    names = [n.split("__")[1] for n in model[:-1].get_feature_names_out()]
    for j, f in enumerate(FEATURES):
        cols = [k for k, n in enumerate(names) if n == f or n.startswith(f + "_")]
        np.testing.assert_allclose(e.values[:, j], sv[:, cols].sum(axis=1), atol=1e-12)


@pytest.mark.slow  # shap's permutation explainer JIT-compiles (numba) on first use
def test_model_agnostic_path_is_additive_on_probabilities(data: pd.DataFrame) -> None:
    pre = ColumnTransformer([("num", StandardScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    model = Pipeline([("pre", pre), ("knn", KNeighborsClassifier(15))]).fit(data[FEATURES], data["label"])
    e = ex.explain_model(model, data, features=FEATURES, n_rows=10, n_background=20, seed=0)
    assert e.method == "permutation" and e.output_space == "probability"
    assert e.additivity["holds"]
    rows = data.iloc[np.sort(np.random.default_rng(0).choice(len(data), 10, replace=False))]
    np.testing.assert_allclose(e.output, model.predict_proba(rows[FEATURES])[:, 1])


def test_importance_cis_use_the_shared_replicates(data: pd.DataFrame) -> None:
    e = ex.explain_model(_linear(data), data, features=FEATURES, n_rows=200, n_background=50)
    imp = ex.global_importance(e, n_boot=300, seed=9)
    w = poisson_weights(200, n_boot=300, seed=9).astype(float)
    for row in imp:
        j = FEATURES.index(row["feature"])
        a = np.abs(e.values[:, j])
        assert abs(row["value"] - a.mean()) < 1e-12
        low, high = percentile_ci((w @ a) / w.sum(axis=1), confidence=0.95)
        assert abs(row["ci_low"] - low) < 1e-12 and abs(row["ci_high"] - high) < 1e-12
    assert [r["rank"] for r in imp] == [1, 2, 3, 4] and imp[0]["value"] >= imp[-1]["value"]


def test_local_explanation_in_and_outside_the_sample(data: pd.DataFrame) -> None:
    model = _linear(data)
    e = ex.explain_model(model, data, features=FEATURES, id_column="row_id", n_rows=100, n_background=100, seed=4)
    inside = ex.local_explanation(e, e.ids[7])
    assert abs(inside["base_value"] + inside["sum_of_contributions"] - inside["prediction"]) < 1e-9
    outside_id = next(i for i in data["row_id"] if i not in set(e.ids))
    out = ex.local_explanation(e, outside_id, frame=data, id_column="row_id")
    row = data[data["row_id"] == outside_id][FEATURES]
    assert abs(out["prediction"] - model.decision_function(row)[0]) < 1e-9
    assert abs(out["base_value"] + out["sum_of_contributions"] - out["prediction"]) < 1e-9
    shaps = [abs(c["shap"]) for c in out["contributions"]]
    assert shaps == sorted(shaps, reverse=True)
    with pytest.raises(DataError, match="no row with row_id = 'nope'"):
        ex.local_explanation(e, "nope", frame=data, id_column="row_id")


def test_beeswarm_and_dependence_views(data: pd.DataFrame) -> None:
    e = ex.explain_model(_forest(data), data, features=FEATURES, n_rows=150, seed=5)
    bee = ex.beeswarm_data(e, max_points=100)
    assert bee["features"] == [r["feature"] for r in ex.global_importance(e, n_boot=0)]
    assert all(len(r["shap"]) == 100 for r in bee["rows"])
    dep = ex.dependence_data(e, "x1")
    np.testing.assert_allclose(dep["shap"], e.values[:, 0])
    assert dep["interaction_feature"] in FEATURES[1:]
    with pytest.raises(DataError, match="'age' is not a model input"):
        ex.dependence_data(e, "age")


def test_diff_reports_the_flip_of_opposite_models() -> None:
    up, down = _frame(1500, 1, sign=1.0), _frame(1500, 1, sign=-1.0)
    a, b = _linear(up), _linear(down)
    sa = ex.summary(ex.explain_model(a, up, features=FEATURES, n_rows=400, n_background=100), n_boot=50)
    sb = ex.summary(ex.explain_model(b, up, features=FEATURES, n_rows=400, n_background=100), n_boot=50)
    assert sa["direction"]["x1"]["sign"] == 1 and sb["direction"]["x1"]["sign"] == -1
    d = ex.explanation_diff(sa, sb, top_k=2, sensitive=["colour"], proxies=["shape"])
    assert [f["feature"] for f in d["direction_flips"]] == ["x1"]
    va = [next(r["value"] for r in sa["importance"] if r["feature"] == f) for f in FEATURES]
    vb = [next(r["value"] for r in sb["importance"] if r["feature"] == f) for f in FEATURES]
    assert abs(d["spearman"] - spearmanr(va, vb).statistic) < 1e-12
    assert abs(d["kendall"] - kendalltau(va, vb).statistic) < 1e-12
    share = next(r["share"] for r in sa["importance"] if r["feature"] == "colour")
    assert abs(d["reliance"]["candidate"]["sensitive_share"] - share) < 1e-12


def test_cache_in_process_and_on_disk(data: pd.DataFrame, tmp_path: Path) -> None:
    model = _forest(data)
    first = ex.explain_model(model, data, features=FEATURES, n_rows=80, seed=6, cache_dir=tmp_path)
    assert ex.explain_model(model, data, features=FEATURES, n_rows=80, seed=6) is first
    assert len(list(tmp_path.glob("*.npz"))) == 1
    ex._LRU.clear()
    again = ex.explain_model(model, data, features=FEATURES, n_rows=80, seed=6, cache_dir=tmp_path)
    assert again is not first and np.array_equal(again.values, first.values)
    other = ex.explain_model(model, data, features=FEATURES, n_rows=80, seed=7, cache_dir=tmp_path)
    assert other.key != first.key


def test_missing_column_is_named(data: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"columns \['x2'\] are missing"):
        ex.explain_model(_forest(data), data.drop(columns="x2"), features=FEATURES)


@pytest.mark.slow
def test_demo_explanation_evidence(demo_manifest: Path) -> None:
    from workbench.artefacts import load_review
    from workbench.canonical import canonical_json

    review = load_review(demo_manifest)
    messages: list[str] = []
    out = ex.explanation_evidence(review, n_rows=400, n_background=100, n_boot=100, progress=messages.append)
    canonical_json(out)
    cand, base = out["candidate"], out["baseline"]
    assert (cand["method"], base["method"]) == ("tree", "linear")
    assert cand["additivity"]["holds"] and base["additivity"]["holds"]
    inputs = set(review.models["candidate"].features)
    assert {r["feature"] for r in cand["importance"]} == inputs
    d = out["diff"]
    assert d["n_features"] == len(inputs) and -1 <= d["spearman"] <= 1
    # sex and age are not inputs: reliance goes through proxies only
    assert d["reliance"]["candidate"]["sensitive_share"] == 0 and d["reliance"]["candidate"]["proxy_share"] > 0
    assert messages
    row_id = review.evaluation[review.id_column].iloc[0]
    local = ex.local_explanation(ex.explain_review(review, "candidate", n_rows=400, n_background=100), row_id,
                                 frame=review.evaluation, id_column=review.id_column)
    assert abs(local["base_value"] + local["sum_of_contributions"] - local["prediction"]) < 1e-6
