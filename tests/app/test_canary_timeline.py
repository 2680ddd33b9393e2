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


def test_the_psi_heatmap_labels_the_cells_at_or_over_the_guardrail_only():
    import numpy as np
    import pandas as pd

    from workbench_ui import replay_views as rv

    psi = pd.DataFrame({"2026-01-05": [0.05, 0.31, np.nan], "2026-01-12": [0.25, 0.02, 0.4]}, index=["a", "b", "c"])
    fig = rv.psi_heatmap(psi, ["c", "b", "a"], limit=0.25)
    heat = fig.data[0]
    assert heat.text.tolist() == [["", "0.40"], ["0.31", ""], ["", "0.25"]]  # rows in the order asked
    np.testing.assert_array_equal(heat.z, psi.loc[["c", "b", "a"]].to_numpy())  # every value in the hover
    assert "guardrail 0.25" in fig.layout.title.text
    quiet = rv.psi_heatmap(psi, ["a", "b", "c"], limit=None)
    assert quiet.data[0].text is None and quiet.data[0].texttemplate is None
    below = rv.psi_heatmap(psi, ["a", "b", "c"], limit=0.9)
    assert below.data[0].text is None
