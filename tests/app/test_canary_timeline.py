"""The canary timeline table states what each guardrail compared: a sequential check its bound."""

from workbench_ui.replay_views import timeline_frame


def test_sequential_checks_show_the_bound_they_compared():
    canary = {"timeline": [{"window": 0, "start": "2026-08-03T00:00", "stage_percent": 50.0, "routed_rows": 360,
                            "checks": {"error_rate": {"value": 0.012, "limit": 0.01, "breached": False,
                                                      "decision": "sequential", "bound": 0.0018},
                                       "psi": {"value": 0.3, "limit": 0.25, "breached": True, "decision": "point"}}}]}
    row = timeline_frame(canary).iloc[0]
    # 0.012 is above the limit, but its bound is not: the table must not read "0.012 <= 0.010"
    assert row["error_rate"] == "0.012 (bound 0.002) ≤ 0.010"
    assert row["psi"] == "0.300 > 0.250" and row["result"] == "BREACH — halted"
