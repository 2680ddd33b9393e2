"""The policy's metric direction is the registry's, for every registered metric of every task."""

from __future__ import annotations

import pytest

from workbench.errors import PolicyError
from workbench.metrics import CALIBRATION_DIRECTIONS, TASKS, metrics_for
from workbench.policy import evaluate_criterion, greater_is_better, parse_policy

CASES = [(task, name, spec.greater_is_better) for task in TASKS for name, spec in metrics_for(task).items()]


def _relative(metric: str, **kw):
    return parse_policy({"id": "t", "version": "1", "criteria": [
        {"id": "rel", "kind": "relative", "metric": metric, "min_gain": 0.0, **kw}]}).criteria[0]


def _evidence(task: str, metric: str, candidate: float, baseline: float) -> dict:
    def m(v):
        return {"value": v, "ci_low": v, "ci_high": v, "defined": True}

    return {"review": {"task": task}, "models": {"candidate": {"metrics": {metric: m(candidate)}},
                                                 "baseline": {"metrics": {metric: m(baseline)}}}}


@pytest.mark.parametrize("task, name, registry", CASES, ids=[f"{t}-{n}" for t, n, _ in CASES])
def test_policy_direction_equals_the_registry(task: str, name: str, registry: bool) -> None:
    assert greater_is_better(name, task=task) is registry
    assert greater_is_better(name) is registry  # task-agnostic policies: same answer
    # ... and the evaluation uses it: a change in the registry's "better" direction is a gain.
    better, worse = (0.6, 0.5) if registry else (0.5, 0.6)
    result = evaluate_criterion(_relative(name), _evidence(task, name, candidate=better, baseline=worse))
    assert result.status == "PASS", result.reason
    result = evaluate_criterion(_relative(name), _evidence(task, name, candidate=worse, baseline=better))
    assert result.status == "FAIL", result.reason


def test_a_rising_tail_error_is_not_an_improvement() -> None:
    # The bug issue 16 found: a suffix list called abs_error_p95 "greater is better".
    result = evaluate_criterion(_relative("abs_error_p95"),
                                _evidence("regression", "abs_error_p95", candidate=9.0, baseline=4.0))
    assert result.status == "FAIL" and result.details["greater_is_better"] is False


@pytest.mark.parametrize("name, direction", sorted(CALIBRATION_DIRECTIONS.items()))
def test_calibration_values_have_a_registered_direction_or_need_one(name: str, direction) -> None:
    if direction is None:
        with pytest.raises(PolicyError, match=r"criteria.0.metric \(rel\): .* has no direction"):
            _relative(f"calibration.{name}")
        assert _relative(f"calibration.{name}", greater_is_better=False).greater_is_better is False
    else:
        assert greater_is_better(f"calibration.{name}") is direction


@pytest.mark.parametrize("criterion", [
    {"kind": "relative", "metric": "auc", "max_drop": 0.01},
    {"kind": "absolute", "metric": "models.candidate.metrics.roc_acu", "min": 0.7},
    {"kind": "absolute", "metric": "deltas.recal", "min": 0.0},
], ids=["relative", "absolute-path", "delta"])
def test_an_unknown_metric_is_an_error_at_load_naming_the_criterion(criterion: dict) -> None:
    with pytest.raises(PolicyError, match=r"p.yaml: criteria.1.metric \(typo\): unknown metric") as err:
        parse_policy({"id": "t", "version": "1", "criteria": [
            {"id": "fine", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.7},
            {"id": "typo", **criterion}]}, source="p.yaml")
    assert "roc_auc" in str(err.value)  # the known names are listed


def test_absolute_paths_that_are_not_metrics_stay_free() -> None:
    policy = parse_policy({"id": "t", "version": "1", "criteria": [
        {"id": "ece", "kind": "absolute", "metric": "models.candidate.calibration.ece", "max": 0.05},
        {"id": "lat", "kind": "absolute", "metric": "models.candidate.operational.latency_ms.p95", "max": 50}]})
    assert len(policy.criteria) == 2
