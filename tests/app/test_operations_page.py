"""The monitoring page's live time series, re-review banner and the support staff's feedback form, through app.py.

The numbers shown are compared with ``workbench.replay.monitoring_timeseries`` on the same store.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.app.helpers import app, ok, review_id, spec
from workbench.store import Store


@pytest.mark.slow
def test_live_series_rereview_and_feedback_form(env, tmp_path):
    from workbench.artefacts import load_review
    from workbench.replay import monitor_source, monitoring_timeseries

    review = load_review(env["demo"] / "review.yaml")
    app("alice")  # registers the review in the store
    logs = tmp_path / "logs"
    logs.mkdir()
    pd.read_parquet(env["demo"] / "data" / "replay.parquet").to_parquet(logs / "part-0.parquet", index=False)
    with Store.open(env["db"]) as store:
        out = monitor_source(review, str(logs / "*.parquet"), store=store, actor="frank", deliver=False, n_boot=20)
        series = monitoring_timeseries(store, review)
    # 12 weeks of traffic cut on 7-day windows aligned to the epoch: 13 windows, none in 1970
    assert len(out["windows"]) == 13 and out["windows"][0]["window_start"].startswith("2026-07")
    assert out["rereview"] is not None  # the drifted weeks persist
    at = ok(app("frank", page="pages/replay.py"))
    assert any("Re-review recommended" in w.value for w in at.warning)
    box = at.selectbox(key="monitor_signal")
    assert set(box.options) == {series["series"][k]["label"] for k in series["series"]}
    psi = json.loads(spec(at, [i for i, c in enumerate(at.get("plotly_chart"))][-1]))
    fair_key = next(k for k in series["series"] if k.startswith("fairness:"))
    box.select(series["series"][fair_key]["label"]).run()
    ok(at)
    chart = json.loads(spec(at, len(at.get("plotly_chart")) - 1))
    line = next(t for t in chart["data"] if t.get("mode") == "lines+markers")
    assert line["y"] == pytest.approx([p["value"] for p in series["series"][fair_key]["points"]], nan_ok=True)
    assert any(t.get("name") == "95% CI" for t in chart["data"])
    assert psi["data"]  # the first signal was drawn too

    decision = str(review.evaluation[review.id_column].iloc[3])
    at.text_input(key="fb_id").input(decision)
    at.selectbox(key="fb_outcome").select("overturned")
    at.text_area(key="fb_text").input("the applicant disputes the income figure")
    at.run()
    at.button(key="fb_record").click().run()
    ok(at)
    assert any("recorded (decision found in: evaluation)" in s.value for s in at.success)
    with Store.open(env["db"]) as store:
        [record] = store.list_feedback(review_id(env))
    assert record.created_by == "frank" and record.kind == "contest" and record.outcome == "overturned"
    assert record.links["reasons"]["available"]
    assert any("contest rate" in d.value.columns for d in at.dataframe)
