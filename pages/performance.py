"""Performance: metrics with CIs and paired deltas, ROC/PR curves, confusion matrices, threshold, slices."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Performance")

with guard("show the performance evidence"):
    ev = review.evidence(data, review_id)
    models = ev["models"]
    roles = [r for r in ("candidate", "baseline") if r in models]
    n = ev["review"]["n_evaluation"]
    st.caption(f"{n:,} labelled evaluation rows · 95% bootstrap CIs ({ev['settings']['n_bootstrap']:,} replicates, "
               "paired: both models on the same replicates) · Δ = candidate − baseline.")

    st.subheader("Metrics at the review threshold")
    names = [m for m in models["candidate"].get("metrics", {}) if not m.startswith("per_class")]
    widgets.comparison_table(widgets.comparison_frame(ev, names), key="metric_table")
    tests = ev.get("tests", {})
    if tests.get("delong", {}).get("defined"):
        d = tests["delong"]
        st.caption(f"DeLong test of the AUC difference: Δ {widgets.fmt(d['delta'])}, z = {widgets.fmt(d['z'], 2)}, "
                   f"p {widgets.fmt_p(d['p_value'])}. McNemar (accuracy): p {widgets.fmt_p(tests.get('mcnemar', {}).get('p_value'))}. "
                   f"Smallest AUC difference detectable with 80% power: {widgets.fmt(tests.get('min_detectable_difference', {}).get('roc_auc'))}.")

    curves = {r: models[r].get("curves", {}) for r in roles}
    if all(c.get("roc") for c in curves.values()):
        left, right = st.columns(2)
        with left:
            widgets.chart(widgets.line_figure({r: (c["roc"]["fpr"], c["roc"]["tpr"]) for r, c in curves.items()},
                                              x_title="False-positive rate", y_title="True-positive rate",
                                              title="ROC curve", diagonal=True), key="roc")
        with right:
            widgets.chart(widgets.line_figure({r: (c["pr"]["recall"], c["pr"]["precision"]) for r, c in curves.items()},
                                              x_title="Recall", y_title="Precision", title="Precision–recall curve"),
                          key="pr")

    if all(c.get("threshold") for c in curves.values()):
        st.subheader("Choose a threshold")
        grid = curves["candidate"]["threshold"]["thresholds"]
        chosen = st.select_slider("Decision threshold (score ≥ threshold → positive)", options=grid,
                                  value=min(grid, key=lambda t: abs(t - ev["review"]["threshold"])),
                                  format_func=lambda t: f"{t:.2f}", key="threshold")
        i = grid.index(chosen)
        cols = st.columns(len(roles))
        for col, role in zip(cols, roles):
            row = curves[role]["threshold"]
            with col:
                st.markdown(f"**{role.capitalize()}** at {chosen:.2f}")
                a, b, c = st.columns(3)
                a.metric("Precision", widgets.fmt(row["precision"][i]))
                b.metric("Recall", widgets.fmt(row["recall"][i]))
                c.metric("Approved share", f"{row['predicted_positive_rate'][i]:.1%}")
                st.caption(f"Specificity {widgets.fmt(row['specificity'][i])} · F1 {widgets.fmt(row['f1'][i])} · "
                           f"accuracy {widgets.fmt(row['accuracy'][i])}")
        st.caption("Point values on the evaluation set; the policy judges the review threshold "
                   f"({ev['review']['threshold']:.2f}) with CIs above.")

    if all(models[r].get("confusion_matrix") for r in roles):
        st.subheader(f"Confusion matrices at {ev['review']['threshold']:.2f}")
        labels = [str(c) for c in ev["review"].get("classes", [])] or ["0", "1"]
        for col, role in zip(st.columns(len(roles)), roles):
            cm = pd.DataFrame(models[role]["confusion_matrix"], index=[f"true {x}" for x in labels],
                              columns=[f"predicted {x}" for x in labels])
            col.markdown(f"**{role.capitalize()}** (rows)")
            col.dataframe(cm, width="stretch", key=f"cm_{role}")

    st.subheader("Slices, worst first")
    if not widgets.not_available(ev, "slices"):
        role = st.radio("Model", roles, horizontal=True, key="slice_role")
        rows = [{"feature": s["feature"], "slice": s["slice"], "n": widgets.fmt(s["n"]),
                 **{widgets.label(k): widgets.fmt_ci(v) for k, v in s.get("metrics", {}).items()}}
                for s in models[role].get("slices", [])]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="slices")
