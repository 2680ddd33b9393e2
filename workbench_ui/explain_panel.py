"""Explanation views shared by the Explanations page: importance chart, how each was computed, the diff.

Everything drawn here is read from ``workbench.explain`` summaries (the evidence's
``explanations`` section or an on-demand :func:`workbench.explain.summary`); nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from workbench_ui import widgets


def method_caption(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """'candidate: tree explainer on 2,000 rows, …' with the fallback reason and row cap when present."""
    parts = []
    for role, s in summaries.items():
        text = (f"{role}: {s.get('method', '?')} explainer on {widgets.fmt(s.get('n_rows'))} rows "
                f"(background {widgets.fmt(s.get('n_background'))}), output in "
                f"{str(s.get('output_space', '?')).replace('_', ' ')}")
        if s.get("capped_from"):
            text += f"; capped from {widgets.fmt(s['capped_from'])} rows to bound the model-agnostic cost"
        if s.get("fallback_reason"):
            text += f"; fell back because {s['fallback_reason']}"
        parts.append(text)
    return " · ".join(parts)


def importance_figure(summaries: Mapping[str, Mapping[str, Any]]) -> Any:
    """Mean |SHAP| per feature for each model, with 95% bootstrap CIs as error bars."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for role, s in summaries.items():
        imp = s["importance"]
        fig.add_trace(go.Bar(y=[i["feature"] for i in imp], x=[i["value"] for i in imp], name=role, orientation="h",
                             marker_color=widgets.ROLE_COLOURS.get(role, widgets.NEUTRAL),
                             error_x={"type": "data", "symmetric": False,
                                      "array": [(i["ci_high"] if i["ci_high"] is not None else i["value"]) - i["value"]
                                                for i in imp],
                                      "arrayminus": [i["value"] - (i["ci_low"] if i["ci_low"] is not None else i["value"])
                                                     for i in imp]}))
    fig.update_layout(barmode="group", height=420, xaxis_title="mean |SHAP| (95% CI)", yaxis={"autorange": "reversed"},
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, title="Mean absolute attribution per feature",
                      legend={"orientation": "h", "y": -0.15})
    return fig


def diff_panel(diff: Mapping[str, Any], *, key: str) -> None:
    """Rank agreement, top-k overlap, rank moves, direction flips and reliance on sensitive features."""
    cols = st.columns(4)
    cols[0].metric("Rank agreement (Spearman)", widgets.fmt(diff.get("spearman"), 2),
                   help="Correlation of the two models' importance ranks; 1 = same order")
    cols[1].metric("Kendall τ", widgets.fmt(diff.get("kendall"), 2))
    cols[2].metric(f"Top-{diff.get('top_k')} overlap", widgets.fmt(diff.get("top_k_overlap"), 2),
                   help=f"candidate: {', '.join(diff.get('top_k_candidate', []))}; "
                        f"baseline: {', '.join(diff.get('top_k_baseline', []))}")
    cols[3].metric("Direction flips", widgets.fmt(len(diff.get("direction_flips", []))),
                   help="Features whose effect changed sign between the models")
    reliance = diff.get("reliance") or {}
    if reliance:
        rows = [{"model": role, "share on sensitive features": widgets.fmt(r.get("sensitive_share"), 3),
                 "share on their proxies": widgets.fmt(r.get("proxy_share"), 3),
                 "sensitive features used": ", ".join(r.get("sensitive_features_used", [])) or "none",
                 "proxies": ", ".join(f"{f} ({widgets.fmt(v, 3)})" for f, v in (r.get("proxies") or {}).items()) or "—"}
                for role, r in reliance.items()]
        st.markdown("**Reliance on sensitive features and their proxies** (share of total mean |SHAP|)")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_reliance")
    if diff.get("rank_moves"):
        st.markdown("**Largest rank changes** (+ = more important in the candidate)")
        st.dataframe(pd.DataFrame(diff["rank_moves"]).rename(columns={"move": "rank change"}),
                     hide_index=True, width="stretch", key=f"{key}_moves")
    if diff.get("direction_flips"):
        st.markdown("**Direction flips** (correlation of feature value with its SHAP value)")
        st.dataframe(pd.DataFrame(diff["direction_flips"]), hide_index=True, width="stretch", key=f"{key}_flips")
