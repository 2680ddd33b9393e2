"""Robustness and operations: drift by severity (distribution on click), stress tests, latency, memory."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench.formatting import metric_value
from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Robustness & operations")

_SEVERITY = {"major": 0, "moderate": 1, "stable": 2}

with guard("show drift, robustness and operational evidence"):
    ev = review.evidence(data, review_id)
    st.subheader("Drift: evaluation data against the reference (training) data")
    if not widgets.not_available(ev, "drift"):
        drift = ev["drift"]
        feats = sorted(drift["features"].items(), key=lambda kv: (_SEVERITY.get(kv[1].get("severity"), 3), -(kv[1].get("psi") or 0)))
        table = pd.DataFrame([{"feature": f, "severity": d.get("severity"), "PSI": widgets.fmt(d.get("psi")),
                               "KS statistic": widgets.fmt(d.get("ks_statistic")),
                               "p-value": widgets.fmt_p(d.get("ks_p_value", d.get("chi2_p_value"))),
                               "missing (ref → eval)": f"{d.get('missing_rate_reference', 0):.1%} → {d.get('missing_rate_current', 0):.1%}",
                               "kind": d.get("kind")} for f, d in feats])
        st.caption(f"{drift['n_drifted']} of {len(feats)} features drifted (PSI ≥ {drift['bands']['moderate']}); "
                   f"major ≥ {drift['bands']['major']}. Select a row to see its distribution.")
        picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                              key="drift_table")
        rows = picked.selection.rows if picked and picked.selection else []
        name = feats[rows[0]][0] if rows else st.selectbox("Distribution of", [f for f, _ in feats], key="drift_feature")
        d = drift["features"][name]
        edges = d.get("bin_edges") or []
        bins = [str(c) for c in d["categories"]] if d.get("categories") else (
            [f"≤ {widgets.fmt(e)}" for e in edges] + ([f"> {widgets.fmt(edges[-1])}"] if edges else []) + ["missing"])
        ref, cur = d.get("reference_proportions", []), d.get("current_proportions", [])
        if len(bins) != len(ref):  # label by position rather than mislabel
            bins = [f"bin {i + 1}" for i in range(len(ref))]
        import plotly.graph_objects as go

        fig = go.Figure([go.Bar(x=bins, y=ref, name="reference", marker_color=widgets.NEUTRAL),
                         go.Bar(x=bins, y=cur, name="evaluation", marker_color=widgets.CANDIDATE)])
        fig.update_layout(title=f"{name}: share of rows per bin (PSI {widgets.fmt(d.get('psi'))}, {d.get('severity')})",
                          yaxis_tickformat=".0%", barmode="group", height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10})
        widgets.chart(fig, key="drift_distribution")
        pred = drift.get("prediction", {})
        if pred:
            st.caption("Prediction drift: " + " · ".join(f"{r} PSI {widgets.fmt(p.get('psi'))} ({p.get('severity', p.get('status'))})"
                                                         for r, p in pred.items()))

    st.subheader("Stress tests")
    if not widgets.not_available(ev, "robustness"):
        test_rows = [{"model": r, "test": t["name"], "metric": t.get("metric"),
                      "clean": widgets.fmt(metric_value(t.get("clean"))),
                      "perturbed [95% CI]": widgets.fmt(t.get("perturbed")),
                      "degradation [95% CI]": widgets.fmt(t.get("degradation")), "error": t.get("error") or ""}
                     for r, m in ev["models"].items() for t in m.get("robustness", {}).get("tests", [])]
        st.dataframe(pd.DataFrame(test_rows), hide_index=True, width="stretch", key="robustness_table")
        st.caption("Degradation > 0 means worse. Intervals: paired Poisson bootstrap over the sampled rows.")

    st.subheader("Latency, throughput and memory")
    if not widgets.not_available(ev, "operational"):
        op_rows: list[dict[str, Any]] = []
        for r, m in ev["models"].items():
            op = m.get("operational", {})
            lat = op.get("latency_ms", {})
            op_rows.append({"model": r, "p50 (ms) [95% CI]": widgets.fmt(lat.get("p50"), 2),
                            "p95 (ms) [95% CI]": widgets.fmt(lat.get("p95"), 2),
                            "p99 (ms) [95% CI]": widgets.fmt(lat.get("p99"), 2),
                            "throughput (rows/s) [95% CI]": widgets.fmt(op.get("throughput_rows_per_s"), 0),
                            "model size (KiB)": widgets.fmt((op.get("model_bytes") or 0) / 1024, 1),
                            "peak memory (MiB)": widgets.fmt(op.get("peak_memory_mb"), 1)})
        st.dataframe(pd.DataFrame(op_rows), hide_index=True, width="stretch", key="operational_table")
        st.caption("Latency intervals: order statistics of the timed single-row calls (an end too few calls "
                   "can bound is not shown); throughput: t-interval over the batch's timed parts.")
