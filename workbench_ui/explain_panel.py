"""Explanation views shared by the Explanations page: importance chart, how each was computed, the diff,
and the reason codes of one decision (also shown where staff answer a contest).

Everything drawn here is read from ``workbench.explain`` summaries (the evidence's
``explanations`` section or an on-demand :func:`workbench.explain.summary`); nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from workbench_ui import widgets

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData


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


def reason_panel(data: ReviewData) -> None:
    """Reason codes for one decision, computed for one row only when the reviewer enters its id.

    Everything shown comes from :func:`workbench.explain.reason_codes` (the same as
    ``workbench explain MANIFEST --id ID``); results are kept per (review content, id) in the session.
    """
    from workbench.explain import reason_codes
    from workbench_ui import context, review
    from workbench_ui.feedback import guard

    st.subheader("Reason codes for one decision")
    what = f"its {data.id_column}" if data.id_column else "its 0-based row position"
    row_id = st.text_input(f"Row id of an evaluation or replay row ({what}); Enter to explain",
                           key="reason_id", placeholder="e.g. " + _example_id(data)).strip()
    if not row_id:
        st.caption("The candidate's decision on one row, its top reasons in words and the nearest feasible change "
                   "of the features the manifest marks actionable — the same as `workbench explain`.")
        return
    kept = st.session_state.setdefault("_reason_codes", {})
    key = (data.evidence_digest, row_id)
    with guard(f"explain the decision on row {row_id}"):
        if key not in kept:
            n_rows = context.explain_rows(data.manifest.settings.explain_rows)
            kept[key] = reason_codes(data, row_id, explanation=review.explanation(data, "candidate", n_rows=n_rows))
        show_reason_codes(kept[key].to_dict())


def show_reason_codes(codes: Mapping[str, Any], *, key: str = "reason") -> None:
    """One decision's reason codes (a ``ReasonCodes.to_dict()``): the app's panel and the contest view."""
    if not codes.get("available"):
        st.info(f"No reason codes: {codes.get('reason', 'not computed')}", icon=":material/info:")
        return
    st.markdown(f"**Decision: {codes['decision']}** — probability {codes['score']:.3f} (threshold "
                f"{codes['threshold']:.2f}) · row {codes['row_id']} of the {codes['source']} data "
                f"(`{codes['data_file']}`)")
    st.markdown("**Top reasons**\n\n" + ("\n".join(f"{i}. {r['sentence']}" for i, r in
                                                   enumerate(codes["reasons"], start=1)) or "none"))
    st.markdown(f"**What would most change it:** {codes['change']['sentence']}")
    space = str(codes["output_space"]).replace("_", "-")
    notes = [f"SHAP values in {space}, {codes['shap_note']}", codes["population"]]
    if codes["change"].get("available"):
        notes.append(codes["change"]["note"])
    st.caption(" · ".join(notes))
    rows = [{"feature": c["feature"], "value": widgets.fmt(c["value"]) if isinstance(c["value"], (int, float))
             else str(c["value"]), "contribution": round(c["contribution"], 4)} for c in codes["contributions"]]
    with st.expander("Every feature's contribution"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_contributions")


def _example_id(data: ReviewData) -> str:
    if data.id_column and data.id_column in data.evaluation.columns and len(data.evaluation):
        return str(data.evaluation[data.id_column].iloc[0])
    return "0"
