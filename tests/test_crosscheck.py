"""The cross-check section: the workbench's numbers against scikit-learn and fairlearn on the same rows."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import roc_auc_score

from tests._small_review import write_small_review
from workbench.artefacts import load_review
from workbench.crosscheck import DISPARITIES, cross_check, sample_rows, sklearn_reference
from workbench.evidence import build_evidence
from workbench.metrics import TASKS, metrics_for
from workbench.policy import evaluate_criterion, parse_policy

SCHEMA = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    return load_review(write_small_review(tmp_path_factory.mktemp("cc"), n=600))


def test_every_evidence_run_carries_a_cross_check_that_agrees(small) -> None:
    ev = build_evidence(small, include=["metrics", "fairness", "cross_check"])
    jsonschema.validate(ev, SCHEMA)
    cc = ev["cross_check"]
    assert ev["sections"]["cross_check"] == {"status": "ok"}
    assert (cc["rows"], cc["of_rows"], cc["sampled"]) == (600, 600, False)
    assert set(cc["models"]) == {"candidate", "baseline"}
    assert cc["max_abs_diff"] < 1e-9 and cc["undefined_on_one_side"] == []
    # the workbench side is the evidence's own point estimate (all rows here)
    for role in ("candidate", "baseline"):
        for name, pair in cc["models"][role]["metrics"].items():
            assert pair["workbench"] == pytest.approx(ev["models"][role]["metrics"][name]["value"], abs=1e-12)
        for name, pair in cc["models"][role]["fairness"]["group"].items():
            assert pair["workbench"] == pytest.approx(ev["models"][role]["fairness"]["group"][name]["value"], abs=1e-12)


def test_above_the_bound_a_seeded_sample_is_checked(small) -> None:
    m = small.manifest
    capped = dataclasses.replace(small, manifest=m.model_copy(update={"settings": m.settings.model_copy(
        update={"cross_check_rows": 150})}))
    first = build_evidence(capped, include=["cross_check"])["cross_check"]
    again = build_evidence(capped, include=["cross_check"])["cross_check"]
    assert (first["rows"], first["of_rows"], first["sampled"]) == (150, 600, True)
    assert first == again  # seeded: the same rows every run
    rows = sample_rows(600, limit=150, seed=m.settings.seed)
    score = small.scores("candidate")
    pair = first["models"]["candidate"]["metrics"]["roc_auc"]
    assert pair["reference"] == roc_auc_score(small.y_true[rows], score[rows])  # the oracle, on those rows
    assert pair["workbench"] != pytest.approx(roc_auc_score(small.y_true, score), abs=1e-6)  # not the full-data value
    groups = small.evaluation["group"].to_numpy()[rows]
    pred = (score[rows] >= 0.5).astype(int)
    dp = MetricFrame(metrics=selection_rate, y_true=small.y_true[rows], y_pred=pred,
                     sensitive_features=groups).difference()
    assert first["models"]["candidate"]["fairness"]["group"]["demographic_parity_difference"]["reference"] == dp


@pytest.mark.parametrize("task", TASKS)
def test_every_registered_metric_has_a_reference_and_agrees(task: str) -> None:
    rng = np.random.default_rng(7)
    n, k = 2001, 4
    if task == "binary":
        y = rng.integers(0, 2, n)
        s = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    elif task == "multiclass":
        y = rng.integers(0, k, n)
        s = 0.6 * rng.dirichlet(np.ones(k), n) + 0.4 * np.eye(k)[y]
    else:
        y = rng.normal(size=n)
        y[:25] = 0.0  # MAPE leaves zero targets out on both sides
        s = y + rng.normal(scale=0.4, size=n)
    assert set(sklearn_reference(task, n_classes=k)) == set(metrics_for(task))
    g = rng.choice(["a", "b", "c", None], n)
    cc = cross_check(task, y, {"candidate": s}, threshold=0.4, sensitive={"g": g}, n_classes=k)
    assert cc["max_abs_diff"] < 1e-9, cc["worst"]
    if task == "binary":
        assert set(cc["models"]["candidate"]["fairness"]["g"]) == {d[0] for d in DISPARITIES}


def test_a_wrong_workbench_number_is_caught(monkeypatch) -> None:
    import workbench.metrics

    honest = workbench.metrics.binary_metrics

    def off_by_a_little(*args, **kwargs):
        values = dict(honest(*args, **kwargs))
        values["recall"] = dataclasses.replace(values["recall"], value=values["recall"].value + 1e-6)
        return values

    monkeypatch.setattr(workbench.metrics, "binary_metrics", off_by_a_little)
    rng = np.random.default_rng(0)
    cc = cross_check("binary", rng.integers(0, 2, 500), {"candidate": rng.random(500)}, threshold=0.5)
    assert cc["worst"] == "candidate.metrics.recall" and cc["max_abs_diff"] == pytest.approx(1e-6, rel=1e-3)


def test_a_group_without_positives_is_compared_in_fairlearns_convention() -> None:
    # fairlearn counts the TPR of a group without positives as 0; the evidence calls it undefined
    # and leaves the group out. The cross-check must not report that convention as a disagreement.
    from workbench.fairness import fairness_table

    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c"], 3000)
    y = rng.integers(0, 2, 3000)
    y[groups == "c"] = 0
    s = rng.random(3000)
    cc = cross_check("binary", y, {"candidate": s}, threshold=0.5, sensitive={"g": groups})
    pairs = cc["models"]["candidate"]["fairness"]["g"]
    assert cc["max_abs_diff"] < 1e-12 and cc["undefined_on_one_side"] == []
    for name in ("equal_opportunity_difference", "equalized_odds_difference"):
        assert pairs[name]["abs_diff"] < 1e-12 and "counted as 0" in pairs[name]["reference_impl"]
    assert "counted as 0" not in pairs["demographic_parity_difference"]["reference_impl"]
    evidence = fairness_table(y, (s >= 0.5).astype(int), s, {"g": groups}, min_group_size=1, n_boot=0,
                              intersections=False)["g"]["equal_opportunity_difference"]["value"]
    assert abs(evidence - pairs["equal_opportunity_difference"]["workbench"]) > 0.1  # two conventions, both stated


def _criterion(**kw):
    return parse_policy({"id": "t", "version": "1", "criteria": [{"id": "xc", "kind": "cross_check", **kw}]}).criteria[0]


def test_the_policy_can_require_agreement() -> None:
    good = {"cross_check": {"status": "ok", "rows": 10, "of_rows": 10, "max_abs_diff": 2e-15, "worst": "candidate.metrics.f1",
                            "undefined_on_one_side": []}}
    assert evaluate_criterion(_criterion(), good).status == "PASS"
    off = {"cross_check": {**good["cross_check"], "max_abs_diff": 3e-6}}
    result = evaluate_criterion(_criterion(), off)
    assert result.status == "FAIL" and "candidate.metrics.f1" in result.reason
    assert evaluate_criterion(_criterion(tolerance=1e-5), off).status == "PASS"
    one_sided = {"cross_check": {**good["cross_check"], "undefined_on_one_side": ["candidate.metrics.precision"]}}
    assert evaluate_criterion(_criterion(), one_sided).status == "FAIL"
    assert evaluate_criterion(_criterion(allow_undefined_mismatch=True), one_sided).status == "PASS"
    missing = evaluate_criterion(_criterion(), {"sections": {"cross_check": {"status": "skipped"}}})
    assert missing.status == "MISSING" and "skipped" in missing.reason


def test_at_a_million_rows_only_the_bound_is_checked() -> None:
    # The cost is bounded by the sample (benchmarks/bench_crosscheck.py measures it).
    rng = np.random.default_rng(3)
    n = 1_000_000
    y = rng.integers(0, 2, n)
    cc = cross_check("binary", y, {"candidate": rng.random(n)}, threshold=0.5,
                     sensitive={"sex": rng.choice(["F", "M"], n)}, seed=5)
    assert (cc["rows"], cc["of_rows"], cc["sampled"]) == (100_000, n, True)
    assert cc["max_abs_diff"] < 1e-9
