"""Explanations (SHAP): global importance side by side with rank changes, beeswarm, dependence, one case."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import explain
from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Explanations")
n_rows = context.explain_rows()
roles = [r for r in ("candidate", "baseline") if data.models.get(r) is not None]
st.write(f"SHAP attributions in the original feature space, on a seeded sample of {n_rows:,} evaluation rows "
         "(mean |SHAP| with 95% bootstrap CIs). Computed on demand and kept for this review.")

ready = all(review.has_explanation(data, r, n_rows=n_rows) for r in roles)
if not ready and not st.button("Compute explanations", type="primary", key="compute_explanations",
                               icon=":material/psychology:"):
    st.caption("Tree and linear models take a second; other models use the permutation explainer (about a minute).")
    st.stop()

with guard("explain the models"):
    expl = {r: review.explanation(data, r, n_rows=n_rows) for r in roles}
    seed = data.manifest.settings.seed
    summaries = {r: explain.summary(e, n_boot=200, seed=seed) for r, e in expl.items()}
    st.caption(" · ".join(f"{r}: {s['method']} explainer, output in {s['output_space'].replace('_', ' ')}"
                          for r, s in summaries.items()))

    st.subheader("Global importance")
    import plotly.graph_objects as go

    fig = go.Figure()
    for role, s in summaries.items():
        imp = s["importance"]
        fig.add_trace(go.Bar(y=[i["feature"] for i in imp], x=[i["value"] for i in imp], name=role, orientation="h",
                             marker_color=widgets.ROLE_COLOURS[role],
                             error_x={"type": "data", "symmetric": False,
                                      "array": [(i["ci_high"] or i["value"]) - i["value"] for i in imp],
                                      "arrayminus": [i["value"] - (i["ci_low"] or i["value"]) for i in imp]}))
    fig.update_layout(barmode="group", height=420, xaxis_title="mean |SHAP|", yaxis={"autorange": "reversed"},
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Mean absolute attribution per feature")
    widgets.chart(fig, key="importance")
    if len(summaries) == 2:
        diff = explain.explanation_diff(summaries["candidate"], summaries["baseline"], sensitive=data.sensitive_features)
        st.caption(f"Rank agreement (Spearman) {widgets.fmt(diff['spearman'], 2)} · top-{diff['top_k']} overlap "
                   f"{widgets.fmt(diff['top_k_overlap'], 2)}")
        if diff["rank_moves"]:
            st.dataframe(pd.DataFrame(diff["rank_moves"]).rename(columns={"move": "rank change (+ = more important now)"}),
                         hide_index=True, width="stretch", key="rank_moves")

    role = st.radio("Model for the detail views", roles, horizontal=True, key="explain_role")
    st.subheader("Beeswarm")
    bee = explain.beeswarm_data(expl[role])
    fig = go.Figure()
    for i, row in enumerate(bee["rows"]):
        fig.add_trace(go.Scatter(x=row["shap"], y=[row["feature"]] * len(row["shap"]), mode="markers", showlegend=False,
                                 marker={"size": 5, "color": [widgets.NAN if c is None else c for c in row["colour"]]
                                         if row["colour"] else widgets.NEUTRAL,
                                         "colorscale": "Cividis", "showscale": i == 0,
                                         "colorbar": {"title": "feature value<br>(low → high)"}}))
    fig.update_layout(height=420, xaxis_title="SHAP value", yaxis={"autorange": "reversed"},
                      margin={"l": 10, "r": 10, "t": 10, "b": 10})
    widgets.chart(fig, key="beeswarm")

    st.subheader("Dependence")
    feature = st.selectbox("Feature", list(expl[role].features), key="dependence_feature")
    dep = explain.dependence_data(expl[role], feature)
    fig = go.Figure(go.Scatter(x=dep["value"], y=dep["shap"], mode="markers",
                               marker={"color": widgets.ROLE_COLOURS[role], "size": 6, "opacity": 0.7}))
    fig.update_layout(height=360, xaxis_title=feature, yaxis_title=f"SHAP value of {feature}",
                      margin={"l": 10, "r": 10, "t": 10, "b": 10})
    widgets.chart(fig, key="dependence")

    st.subheader("One case")
    ids = list(expl[role].ids[:50])
    case = st.selectbox(f"Row ({data.id_column or 'row id'})", ids, key="case_id")
    local = explain.local_explanation(expl[role], case, frame=data.evaluation, id_column=data.id_column)
    contrib = local["contributions"]
    fig = go.Figure(go.Waterfall(orientation="h", y=[f"{c['feature']} = {c['value']}" for c in contrib] + ["prediction"],
                                 x=[c["shap"] for c in contrib] + [0], base=local["base_value"],
                                 measure=["relative"] * len(contrib) + ["total"],
                                 increasing={"marker": {"color": widgets.CANDIDATE}},
                                 decreasing={"marker": {"color": widgets.BASELINE}}))
    fig.update_layout(height=420, yaxis={"autorange": "reversed"}, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title=f"From the average {widgets.fmt(local['base_value'])} to {widgets.fmt(local['prediction'])} "
                            f"({local['output_space'].replace('_', ' ')})")
    widgets.chart(fig, key="waterfall")
