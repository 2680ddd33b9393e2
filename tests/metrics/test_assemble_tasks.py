"""quantitative_evidence and build_evidence on regression and multiclass reviews (not only binary).

Two real scikit-learn models per task; point values equal scikit-learn's, every metric has a
bootstrap CI and every metric a paired delta.
"""

import json
import math
from importlib import resources

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeRegressor

from workbench.artefacts import load_review
from workbench.evidence import build_evidence
from workbench.metrics._assemble import quantitative_evidence
from workbench.metrics._multiclass import MULTICLASS_METRICS
from workbench.metrics._regression import REGRESSION_METRICS

N_BOOT = 20


@pytest.fixture(scope="module")
def regression_predictions():
    X, y = make_regression(n_samples=400, n_features=4, noise=10.0, random_state=0)
    X_train, X_eval, y_train, y_eval = X[:200], X[200:], y[:200], y[200:]
    candidate = LinearRegression().fit(X_train, y_train).predict(X_eval)
    baseline = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X_train, y_train).predict(X_eval)
    return y_eval, {"candidate": candidate, "baseline": baseline}


@pytest.fixture(scope="module")
def multiclass_predictions():
    X, y = make_classification(n_samples=450, n_features=6, n_informative=4, n_classes=3, random_state=0)
    X_train, X_eval, y_train, y_eval = X[:250], X[250:], y[:250], y[250:]
    candidate = LogisticRegression(max_iter=500).fit(X_train, y_train).predict_proba(X_eval)
    baseline = GaussianNB().fit(X_train, y_train).predict_proba(X_eval)
    return y_eval, {"candidate": candidate, "baseline": baseline}


def _check_cis_and_deltas(out, names):
    for role in ("candidate", "baseline"):
        metrics = out["models"][role]["metrics"]
        assert set(metrics) == set(names)
        for name, entry in metrics.items():
            assert entry["defined"], name
            assert entry["ci_method"] == "poisson_bootstrap_percentile", name
            assert math.isfinite(entry["ci_low"]) and math.isfinite(entry["ci_high"]), name
            assert entry["ci_low"] <= entry["ci_high"], name
    assert set(out["deltas"]) == set(names)
    for name, delta in out["deltas"].items():
        c = out["models"]["candidate"]["metrics"][name]["value"]
        b = out["models"]["baseline"]["metrics"][name]["value"]
        assert delta["value"] == pytest.approx(c - b, rel=1e-12, abs=1e-12), name
        assert delta["ci_low"] is not None and delta["ci_high"] is not None, name
        assert delta["ci_low"] <= delta["ci_high"], name
    assert out["tests"]["status"] == "not_applicable"
    json.dumps(out, allow_nan=False, default=float)


def test_regression_quantitative_evidence_equals_sklearn(regression_predictions):
    y, scores = regression_predictions
    out = quantitative_evidence("regression", y, scores, n_boot=N_BOOT, seed=1)
    _check_cis_and_deltas(out, REGRESSION_METRICS)
    for role, pred in scores.items():
        m = out["models"][role]["metrics"]
        assert m["mae"]["value"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
        assert m["rmse"]["value"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12)
        assert m["r2"]["value"] == pytest.approx(skm.r2_score(y, pred), rel=1e-12)
        assert m["median_absolute_error"]["value"] == pytest.approx(skm.median_absolute_error(y, pred), rel=1e-12)
        assert m["mape"]["value"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-12)
        assert out["models"][role]["calibration"]["status"] == "not_applicable"
        assert "curves" not in out["models"][role]
    # the linear model fits this linear target better than a depth-3 tree
    assert out["deltas"]["mae"]["value"] < 0 and out["deltas"]["r2"]["value"] > 0


def test_multiclass_quantitative_evidence_equals_sklearn(multiclass_predictions):
    y, scores = multiclass_predictions
    out = quantitative_evidence("multiclass", y, scores, classes=(0, 1, 2), n_boot=N_BOOT, seed=1)
    _check_cis_and_deltas(out, MULTICLASS_METRICS)
    for role, proba in scores.items():
        m = out["models"][role]["metrics"]
        pred = proba.argmax(axis=1)
        assert m["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, pred), rel=1e-12)
        assert m["balanced_accuracy"]["value"] == pytest.approx(skm.balanced_accuracy_score(y, pred), rel=1e-12)
        assert m["f1_macro"]["value"] == pytest.approx(skm.f1_score(y, pred, average="macro"), rel=1e-12)
        assert m["f1_weighted"]["value"] == pytest.approx(skm.f1_score(y, pred, average="weighted"), rel=1e-12)
        assert m["roc_auc_ovr"]["value"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"), rel=1e-12)
        assert m["log_loss"]["value"] == pytest.approx(skm.log_loss(y, proba), rel=1e-9)
        assert out["models"][role]["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
        assert set(out["models"][role]["per_class"]) == {"0", "1", "2"}
        assert out["models"][role]["calibration"]["status"] == "not_applicable"


def test_metrics_only_and_calibration_only_on_non_binary_tasks(regression_predictions):
    y, scores = regression_predictions
    full = quantitative_evidence("regression", y, scores, n_boot=N_BOOT, seed=1)
    metrics_only = quantitative_evidence("regression", y, scores, n_boot=N_BOOT, seed=1, include_calibration=False)
    assert metrics_only["models"]["candidate"]["metrics"] == full["models"]["candidate"]["metrics"]
    assert "calibration" not in metrics_only["models"]["candidate"]
    calibration_only = quantitative_evidence("regression", y, scores, n_boot=N_BOOT, seed=1, include_metrics=False)
    assert calibration_only["models"]["candidate"] == {"calibration": full["models"]["candidate"]["calibration"]}
    assert calibration_only["deltas"] == {}


def _write_review(root, task, frame, predictions, extra=None):
    (root / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "data" / "evaluation.csv", index=False)
    manifest = {
        "name": f"small {task} review", "task": task, "target": "label",
        "candidate": {"predictions": predictions[0], "name": "cand", "version": "2"},
        "baseline": {"predictions": predictions[1], "name": "base", "version": "1"},
        "data": {"evaluation": "data/evaluation.csv"},
        "settings": {"n_bootstrap": N_BOOT, "seed": 3},
        **(extra or {}),
    }
    path = root / "review.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def _validate(evidence):
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(evidence, schema)


def test_regression_review_evidence_has_metrics(tmp_path, regression_predictions):
    y, scores = regression_predictions
    frame = pd.DataFrame({"x1": np.arange(y.size, dtype=float), "label": y,
                          "cand_pred": scores["candidate"], "base_pred": scores["baseline"]})
    review = load_review(_write_review(tmp_path, "regression", frame, ("cand_pred", "base_pred")))
    evidence = build_evidence(review, include=["metrics", "calibration"])
    assert evidence["sections"]["metrics"] == {"status": "ok"}
    assert evidence["sections"]["calibration"] == {
        "status": "not_applicable", "reason": "calibration is for binary tasks, not regression"}
    mae = evidence["models"]["candidate"]["metrics"]["mae"]
    assert mae["value"] == pytest.approx(skm.mean_absolute_error(y, scores["candidate"]), rel=1e-12)
    assert set(evidence["deltas"]) == set(REGRESSION_METRICS)
    _validate(evidence)


def test_multiclass_review_evidence_has_metrics(tmp_path, multiclass_predictions):
    y, scores = multiclass_predictions
    frame = pd.DataFrame({"x1": np.arange(y.size, dtype=float), "label": y})
    for role, prefix in (("candidate", "cp_"), ("baseline", "bp_")):
        for c in range(3):
            frame[f"{prefix}{c}"] = scores[role][:, c]
    review = load_review(_write_review(tmp_path, "multiclass", frame, ("cp_", "bp_")))
    evidence = build_evidence(review, include=["metrics", "calibration"])
    assert evidence["sections"]["metrics"] == {"status": "ok"}
    assert evidence["sections"]["calibration"]["status"] == "not_applicable"
    acc = evidence["models"]["candidate"]["metrics"]["accuracy"]
    assert acc["value"] == pytest.approx(skm.accuracy_score(y, scores["candidate"].argmax(axis=1)), rel=1e-12)
    assert set(evidence["deltas"]) == set(MULTICLASS_METRICS)
    _validate(evidence)


@pytest.mark.parametrize("baseline_is_probability", [False, True])
def test_binary_review_calibration_status_when_scores_are_not_probabilities(tmp_path, baseline_is_probability):
    X, y = make_classification(n_samples=300, n_features=4, random_state=1)
    model = LogisticRegression(max_iter=500).fit(X[:150], y[:150])
    logits, proba = model.decision_function(X[150:]), model.predict_proba(X[150:])[:, 1]
    frame = pd.DataFrame({"x1": X[150:, 0], "label": y[150:], "cand": logits,
                          "base": proba if baseline_is_probability else logits * 2})
    review = load_review(_write_review(tmp_path, "binary", frame, ("cand", "base"), {"positive_label": 1}))
    evidence = build_evidence(review, include=["metrics", "calibration"])
    assert evidence["sections"]["metrics"] == {"status": "ok"}
    assert evidence["models"]["candidate"]["calibration"]["status"] == "not_applicable"
    if baseline_is_probability:  # one calibrated model is enough for the section to be measured
        assert evidence["sections"]["calibration"] == {"status": "ok"}
    else:
        assert evidence["sections"]["calibration"] == {
            "status": "not_applicable", "reason": "scores are not probabilities in [0, 1]"}
    _validate(evidence)
