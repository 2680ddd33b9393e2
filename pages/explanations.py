"""Explanations (SHAP): global importance side by side with rank changes, beeswarm, dependence, one case."""

from __future__ import annotations

import streamlit as st

from workbench import explain
from workbench_ui import context, explain_panel, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Explanations")
settings = data.manifest.settings
n_rows = context.explain_rows(settings.explain_rows)
roles = [r for r in ("candidate", "baseline") if data.models.get(r) is not None]

with guard("show the explanations in the evidence"):
    ev_expl = review.evidence(data, review_id).get("explanations") or {}
    stored = {r: ev_expl[r] for r in roles if isinstance(ev_expl.get(r), dict) and ev_expl[r].get("status") == "ok"}
    if stored:
        st.subheader("Global importance (from the evidence)")
        st.caption(explain_panel.method_caption(stored))
        widgets.chart(explain_panel.importance_figure(stored), key="importance")
        if ev_expl.get("diff"):
            st.subheader("Candidate vs baseline")
            explain_panel.diff_panel(ev_expl["diff"], key="evidence_diff")

explain_panel.reason_panel(data)

st.subheader("Detail views")
st.write(f"SHAP attributions in the original feature space, on a seeded sample of {n_rows:,} evaluation rows. "
         "Computed on demand and kept for this review.")
ready = all(review.has_explanation(data, r, n_rows=n_rows) for r in roles)
if not ready and not st.button("Compute explanations", type="primary", key="compute_explanations",
                               icon=":material/psychology:"):
    st.caption("Tree and linear models take seconds (exact TreeSHAP); other models use the permutation explainer, "
               "capped to a bounded number of rows.")
    st.stop()

with guard("explain the models"):
    import plotly.graph_objects as go

    expl = {r: review.explanation(data, r, n_rows=n_rows) for r in roles}
    if not stored:
        summaries = {r: explain.summary(e, n_boot=200, seed=settings.seed) for r, e in expl.items()}
        st.caption(explain_panel.method_caption(summaries))
        widgets.chart(explain_panel.importance_figure(summaries), key="importance")
        if len(summaries) == 2:
            diff = explain.review_explanation_diff(data, summaries["candidate"], summaries["baseline"])
            explain_panel.diff_panel(diff, key="demand_diff")
    else:
        st.caption(explain_panel.method_caption({r: {"method": e.method, "output_space": e.output_space, **e.settings}
                                                 for r, e in expl.items()}))

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
