"""Fallback to the baseline, failure/timeout injection and the kill switch in the replay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests._small_review import make_frame, write_small_review
from workbench.artefacts import FallbackPlan, load_manifest, load_review
from workbench.policy import evaluate_criterion, parse_policy
from workbench.replay import CanaryGuardrails, run_replay

N_WEEKS = 8


def _traffic(n: int = 4000) -> pd.DataFrame:
    frame = make_frame(n, 7)
    frame["timestamp"] = pd.Timestamp("2025-01-06", tz="UTC") + pd.to_timedelta(
        np.linspace(0, N_WEEKS * 7 * 86400 - 1, n), unit="s")
    return frame


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("fallback")
    path = write_small_review(root, n=1500, extra={
        "data": {"evaluation": "data/evaluation.csv", "reference": "data/reference.csv",
                 "replay": "data/replay.parquet"},
        "replay": {"timestamp_column": "timestamp", "window": "7D", "canary_stages": [10, 50, 100]}})
    traffic = _traffic()
    traffic.to_parquet(root / "data" / "replay.parquet", index=False)
    m = load_manifest(path)
    review = load_review(m.model_copy(update={"data": m.data.model_copy(update={"replay": None})}))
    return {"path": path, "review": review, "traffic": traffic}


def _run(scenario, fallback, guardrails=None):
    return run_replay(scenario["review"], source=scenario["traffic"], guardrails=guardrails, fallback=fallback,
                      latency_sample=3, seed=0)


def test_injected_failures_fall_back_at_the_injected_rate(scenario):
    # a budget no call reaches: on a loaded machine real single-row calls can exceed 100 ms and fall back too
    out = _run(scenario, FallbackPlan(failure_rate=0.1, max_fallback_rate=0.2, latency_budget_ms=1e6))
    fb = out["fallback"]
    n = fb["routed_rows"]
    assert n == len(scenario["traffic"])  # a plain replay routes every row to the candidate
    assert abs(fb["fallback_rate"] - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)
    assert fb["by_cause"]["injected_failure"] == fb["fallback_rows"] and fb["unserved_rows"] == 0
    assert fb["added_latency_ms"]["mean"] > 0 and fb["within_guardrails"] and fb["status"] == "within_guardrails"
    assert len(fb["windows"]) == N_WEEKS


def test_every_call_failing_serves_exactly_the_baseline_and_breaches(scenario):
    fb = _run(scenario, FallbackPlan(failure_rate=1.0))["fallback"]
    assert fb["fallback_rate"] == 1.0 and not fb["within_guardrails"]
    review, traffic = scenario["review"], scenario["traffic"]
    base = review.models["baseline"].predict_scores(traffic) >= review.threshold
    for w in fb["windows"]:
        assert w["served_by_candidate"] == 0
        assert w["served_selection_rate"] == w["baseline_selection_rate"]
    assert sum(w["served_selection_rate"] * w["rows"] for w in fb["windows"]) == pytest.approx(base.sum())


def test_a_latency_budget_below_every_call_times_everything_out(scenario):
    fb = _run(scenario, FallbackPlan(latency_budget_ms=1e-6, max_added_latency_ms=1.0))["fallback"]
    assert fb["by_cause"]["timeout"] == fb["routed_rows"] and fb["fallback_rate"] == 1.0
    assert fb["added_latency_ms"]["mean"] >= 1e-6


def test_kill_switch_returns_all_traffic_to_the_baseline_from_its_stage(scenario):
    guard = CanaryGuardrails(stages=(10, 50, 100), max_psi=None, max_latency_p95_ms=None, max_performance_drop=None)
    out = _run(scenario, FallbackPlan(kill_switch_at_stage=50, failure_rate=0.02), guardrails=guard)
    kill = out["fallback"]["kill_switch"]
    per_stage = out["canary"]["windows_per_stage"]
    assert kill["from_window"] == per_stage and kill["all_traffic_to_baseline"]
    assert kill["candidate_rows_before"] > 0 and kill["candidate_rows_after"] == 0
    assert kill["served_selection_rate_after"] == pytest.approx(kill["baseline_selection_rate_after"])
    assert out["canary"]["status"] == "killed" and len(out["canary"]["timeline"]) == per_stage
    before = [w for w in out["fallback"]["windows"] if w["window"] < per_stage]
    assert all(0 < w["routed_rows"] < w["rows"] for w in before)  # 10 % routed before the switch
    with pytest.raises(Exception, match="not a canary stage"):
        _run(scenario, FallbackPlan(kill_switch_at_stage=33), guardrails=guard)


def test_policy_criteria_on_the_fallback_evidence():
    policy = parse_policy({"id": "p", "version": "1", "criteria": [
        {"id": "fb", "kind": "replay", "max_fallback_rate": 0.05, "max_added_latency_ms": 50,
         "require_fallback_evidence": True, "allow_canary_breach": True}]})
    crit = policy.criteria[0]
    ok = {"replay": {"status": "ok", "summary": {}, "fallback": {
        "fallback_rate": 0.02, "added_latency_ms": {"max_window_p95": 12.0}, "within_guardrails": True,
        "windows_breached": []}}}
    assert evaluate_criterion(crit, ok).status == "PASS"
    bad = {"replay": {"status": "ok", "summary": {}, "fallback": {
        "fallback_rate": 0.2, "added_latency_ms": {"max_window_p95": 80.0}, "within_guardrails": False,
        "windows_breached": [3]}}}
    result = evaluate_criterion(crit, bad)
    assert result.status == "FAIL" and sum(i.status == "FAIL" for i in result.items) == 3
    none = {"replay": {"status": "ok", "summary": {}}}
    assert evaluate_criterion(crit, none).status == "MISSING"


def test_cli_fallback_drill_exit_codes(scenario, tmp_path):
    from workbench.cli import main

    path = str(scenario["path"])
    common = ["--latency-sample", "1", "--max-latency-ms", "100000", "--max-psi", "100"]
    assert main(["canary", path, *common, "--inject-failures", "0.5", "--out", str(tmp_path / "c.json")]) == 1
    assert main(["canary", path, *common, "--kill-switch-at", "50", "--latency-budget-ms", "1000000",
                 "--out", str(tmp_path / "k.json")]) == 0
    assert main(["canary", path, *common, "--kill-switch-at", "33"]) == 2
    assert main(["replay", path, "--latency-sample", "1", "--inject-failures", "1.5"]) == 2
