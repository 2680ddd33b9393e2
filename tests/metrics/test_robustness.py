"""Robustness on real scikit-learn pipelines, including models that raise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from workbench.metrics.robustness import UNSEEN, robustness_evidence


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 3000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "noise": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    logit = 2.5 * X["a"] - 1.5 * X["b"] + (X["c"] == "x") * 1.0
    y = (logit + rng.logistic(size=n) > 0).astype(int).to_numpy()
    return X, y


def _pipeline(impute: bool, X, y):
    num = [SimpleImputer(), StandardScaler()] if impute else [StandardScaler()]
    cat = [SimpleImputer(strategy="most_frequent")] if impute else []
    pre = ColumnTransformer([
        ("num", make_pipeline(*num), ["a", "b", "noise"]),
        ("cat", make_pipeline(*cat, OneHotEncoder(handle_unknown="ignore")), ["c"]),
    ])
    return make_pipeline(pre, LogisticRegression()).fit(X, y)


def test_robust_pipeline_degrades_with_noise_and_ablation(data):
    X, y = data
    model = _pipeline(True, X, y)
    score = lambda f: model.predict_proba(f)[:, 1]  # noqa: E731
    out = robustness_evidence(score, X, y, metric="roc_auc", seed=0)
    assert out["status"] == "measured"
    assert out["clean"]["value"] == pytest.approx(roc_auc_score(y, score(X)), abs=1e-12)
    tests = {(t["name"], t["params"].get("sigma", t["params"].get("rate"))): t for t in out["tests"]}
    noise = [tests[("gaussian_noise", s)]["degradation"]["value"] for s in (0.1, 0.2, 0.3, 0.5)]
    assert all(d is not None for d in noise)
    assert noise[-1] > noise[0] > -0.01  # more noise, more damage
    assert all(t["error"] is None for t in out["tests"])
    perm = {t["params"]["feature"]: t["degradation"]["value"] for t in out["tests"]
            if t["name"].startswith("permutation:")}
    assert perm["a"] > perm["b"] > abs(perm["noise"])  # importance follows the true coefficients
    assert {"unseen_category", "extreme_high", "extreme_low"} <= {t["name"] for t in out["tests"]}


def test_model_that_raises_on_missing_values_is_reported(data):
    X, y = data
    model = _pipeline(False, X, y)  # LogisticRegression without an imputer rejects NaN
    out = robustness_evidence(lambda f: model.predict_proba(f)[:, 1], X, y,
                              metric="accuracy", noise_levels=(0.1,), permutation=False)
    missing = [t for t in out["tests"] if t["name"] == "missing_values"]
    assert missing and all(t["perturbed"] is None and t["degradation"] is None and "NaN" in t["error"] for t in missing)
    noise = next(t for t in out["tests"] if t["name"] == "gaussian_noise")
    assert noise["error"] is None and noise["perturbed"] is not None


def test_model_raising_on_unseen_category_and_tree_model_with_nan(data):
    X, y = data

    class Strict:
        def predict_scores(self, frame):
            if (frame["c"] == UNSEEN).any():
                raise KeyError("category __unseen__ was not seen in training")
            return 1 / (1 + np.exp(-frame["a"].fillna(0).to_numpy()))

    out = robustness_evidence(Strict(), X, y, noise_levels=(0.2,), missing_rates=(0.1,), permutation=False)
    unseen = next(t for t in out["tests"] if t["name"] == "unseen_category")
    assert unseen["perturbed"] is None and "__unseen__" in unseen["error"]
    assert next(t for t in out["tests"] if t["name"] == "missing_values")["error"] is None

    Xn = X[["a", "b", "noise"]]
    tree = DecisionTreeClassifier(max_depth=5, min_samples_leaf=50, random_state=0).fit(Xn, y)
    out = robustness_evidence(lambda f: tree.predict_proba(f)[:, 1], Xn, y, metric="brier_score",
                              noise_levels=(0.5,), missing_rates=(0.3,), permutation=False)
    assert out["greater_is_better"] is False
    for t in out["tests"]:
        assert t["error"] is None
        assert t["degradation"]["value"] == pytest.approx(t["perturbed"]["value"] - t["clean"]["value"])
    assert next(t for t in out["tests"] if t["name"] == "missing_values")["degradation"]["value"] > 0


def test_intervals_are_the_paired_poisson_bootstrap_of_the_metric(data):
    """Oracle: scikit-learn's weighted AUC on the workbench's own Poisson replicates."""
    from workbench.metrics.bootstrap import percentile_ci, poisson_weights

    X, y = data
    model = _pipeline(True, X, y)
    seen = []

    def score(frame):
        seen.append(model.predict_proba(frame)[:, 1])
        return seen[-1]

    out = robustness_evidence(score, X, y, noise_levels=(0.5,), missing_rates=(), unseen_rate=0, extreme_rate=0,
                              permutation=False, seed=3, n_boot=120)
    w = poisson_weights(len(y), n_boot=120, seed=3)
    clean = np.array([roc_auc_score(y, seen[0], sample_weight=r) for r in w])
    noisy = np.array([roc_auc_score(y, seen[1], sample_weight=r) for r in w])
    test = out["tests"][0]
    assert (test["clean"]["ci_low"], test["clean"]["ci_high"]) == pytest.approx(percentile_ci(clean), abs=1e-12)
    assert (test["perturbed"]["ci_low"], test["perturbed"]["ci_high"]) == pytest.approx(percentile_ci(noisy), abs=1e-12)
    deg = test["degradation"]
    assert (deg["ci_low"], deg["ci_high"]) == pytest.approx(percentile_ci(clean - noisy), abs=1e-12)
    # paired: the degradation's interval is narrower than the perturbed metric's own
    assert deg["ci_high"] - deg["ci_low"] < test["perturbed"]["ci_high"] - test["perturbed"]["ci_low"]
    assert 0 < deg["ci_low"] <= deg["value"] <= deg["ci_high"]


def test_precomputed_and_clean_failure():
    class Precomputed:
        is_precomputed = True

    X = pd.DataFrame({"a": [1.0, 2.0]})
    assert robustness_evidence(Precomputed(), X, np.array([0, 1]))["status"] == "not_applicable"

    def broken(frame):
        raise RuntimeError("model file corrupt")

    out = robustness_evidence(broken, X, np.array([0, 1]))
    assert out["status"] == "error" and "corrupt" in out["reason"]


def _gbm_pipeline(X, y):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OrdinalEncoder

    pre = ColumnTransformer([("num", "passthrough", ["a", "b", "noise"]),
                             ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["c"])])
    return make_pipeline(pre, HistGradientBoostingClassifier(max_iter=30, categorical_features=[3],
                                                             random_state=0)).fit(X, y)


class _Counting:
    """A real pipeline's positive-class scores, counting the calls and the rows of each."""

    def __init__(self, model, *, fail_above: int | None = None):
        self.model, self.fail_above, self.rows = model, fail_above, []

    def __call__(self, frame):
        self.rows.append(len(frame))
        if self.fail_above is not None and len(frame) > self.fail_above:
            raise MemoryError(f"{len(frame)} rows in one call")
        return self.model.predict_proba(frame)[:, 1]


@pytest.mark.parametrize("kind", ["gbm", "logreg_without_imputer"])
def test_batched_copies_give_exactly_the_numbers_of_one_call_per_copy(data, kind):
    """Copies with equal dtypes are scored together; every number equals scoring each copy alone,
    including the copies a model rejects (LogisticRegression without an imputer and NaN)."""
    X, y = data
    model = _gbm_pipeline(X, y) if kind == "gbm" else _pipeline(False, X, y)
    alone, batched = _Counting(model), _Counting(model)
    kw = dict(metric="roc_auc", seed=5, n_boot=80, max_rows=2000)
    ref = robustness_evidence(alone, X, y, batch_rows=0, **kw)
    out = robustness_evidence(batched, X, y, **kw)
    assert out == ref
    assert len(alone.rows) == 1 + len(ref["tests"]) and set(alone.rows) == {2000}
    assert len(batched.rows) < len(alone.rows) and max(batched.rows) > 2000  # copies really were batched
    errors = [t["name"] for t in out["tests"] if t["error"]]
    assert errors == ([] if kind == "gbm" else ["missing_values", "missing_values"])


def test_a_batch_the_model_cannot_score_or_that_changes_its_scores_falls_back_to_one_call_per_copy(data):
    X, y = data
    model = _gbm_pipeline(X, y)
    kw = dict(metric="roc_auc", seed=2, n_boot=50, max_rows=1500)
    ref = robustness_evidence(_Counting(model), X, y, batch_rows=0, **kw)
    too_big = _Counting(model, fail_above=1500)  # raises on every batch, scores each copy alone
    assert robustness_evidence(too_big, X, y, **kw) == ref
    assert all(t["error"] is None for t in ref["tests"])

    def batch_relative(frame):  # not row-wise: each score depends on the other rows of the call
        s = model.predict_proba(frame)[:, 1]
        return s / (1.0 + s.mean())

    ref = robustness_evidence(batch_relative, X, y, batch_rows=0, **kw)
    assert robustness_evidence(batch_relative, X, y, **kw) == ref

    def by_index(frame):  # reads the rows' index: in a batch every copy keeps its own
        return model.predict_proba(frame)[:, 1] * 0.9 + frame.index.to_numpy() * 1e-6

    kw["metric"] = "brier_score"  # not rank-based: a shift of a whole copy's scores shows
    ref = robustness_evidence(by_index, X, y, batch_rows=0, **kw)
    assert robustness_evidence(by_index, X, y, **kw) == ref


def test_auc_replicates_equal_the_bootstrap_executor_and_scikit_learn():
    from workbench.metrics._auc_boot import auc_replicates, roc_auc_point
    from workbench.metrics._binary import BinaryPrepared, binary_metrics
    from workbench.metrics._engine import run_bootstrap
    from workbench.metrics.bootstrap import poisson_weights

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 3000)
    scores = [rng.random(3000), np.round(rng.random(3000), 1), y * 0.3 + rng.random(3000)]  # the 2nd is all ties
    prepared = [BinaryPrepared(y, s, threshold=0.5) for s in scores]
    reps = auc_replicates(prepared, n_boot=70, seed=9)
    ref = run_bootstrap({str(i): p for i, p in enumerate(prepared)}, n_rows=3000, n_boot=70, seed=9)
    w = poisson_weights(3000, n_boot=70, seed=9)
    for i, s in enumerate(scores):
        assert np.array_equal(reps[i], ref[str(i)]["roc_auc"])  # bit for bit
        assert reps[i][:5] == pytest.approx([roc_auc_score(y, s, sample_weight=r) for r in w[:5]], abs=1e-12)
        assert roc_auc_point(prepared[i]).value == binary_metrics(y, s)["roc_auc"].value  # bit for bit
        assert roc_auc_point(prepared[i]).value == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    one_class = BinaryPrepared(np.ones(10, int), rng.random(10), threshold=0.5)
    assert roc_auc_point(one_class).defined is False and np.isnan(auc_replicates([one_class], n_boot=3, seed=1)[0]).all()


def test_a_model_with_named_inputs_gets_copies_of_its_columns_only_and_the_same_numbers(data):
    """A ``LoadedModel``-like scorer (``features`` + ``predict_scores``) is handed copies holding its
    inputs and the perturbed columns, not the other columns of the evaluation rows; a bare callable
    gets every column. The evidence is the same either way."""
    X, y = data
    model = _pipeline(True, X, y)
    wide = X.assign(row_id=np.arange(len(X)), group=np.where(np.arange(len(X)) % 2, "p", "q"))
    seen: list[tuple[str, ...]] = []

    class Named:
        features = ("a", "b", "noise", "c")
        is_precomputed = False

        def predict_scores(self, frame):
            seen.append(tuple(frame.columns))
            return model.predict_proba(frame.loc[:, list(self.features)])[:, 1]

    def bare(frame):
        seen.append(tuple(frame.columns))
        return model.predict_proba(frame.loc[:, list(Named.features)])[:, 1]

    named = robustness_evidence(Named(), wide, y, features=["a", "b", "noise", "c"], seed=4, n_boot=20)
    assert seen and set(seen) == {("a", "b", "noise", "c")}
    seen.clear()
    every = robustness_evidence(bare, wide, y, features=["a", "b", "noise", "c"], seed=4, n_boot=20)
    assert set(seen) == {tuple(wide.columns)}
    assert named == every
