"""Calibration: reliability diagrams of both models with bin counts; ECE, MCE and Brier with CIs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Calibration")
st.write("Does a predicted probability of 0.7 come true 70% of the time? Points on the diagonal are perfectly "
         "calibrated; the bars show how many rows fall in each bin.")

with guard("show the calibration evidence"):
    ev = review.evidence(data, review_id)
    if not widgets.not_available(ev, "calibration"):
        models = ev["models"]
        roles = [r for r in ("candidate", "baseline") if models.get(r, {}).get("calibration")]
        binning = st.radio("Bins", ["uniform", "quantile"], horizontal=True, key="calibration_binning",
                           format_func=lambda b: {"uniform": "equal width", "quantile": "equal count"}[b])
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05)
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                                 line={"color": widgets.NEUTRAL, "dash": "dot"}, hoverinfo="skip"), row=1, col=1)
        for role in roles:
            curve = [b for b in models[role]["calibration"]["curve"][binning] if b["count"]]
            colour = widgets.ROLE_COLOURS[role]
            fig.add_trace(go.Scatter(
                x=[b["mean_predicted"] for b in curve], y=[b["observed_rate"] for b in curve], mode="lines+markers",
                name=role, line={"color": colour}, customdata=[b["count"] for b in curve],
                hovertemplate=f"{role}<br>predicted %{{x:.3f}}<br>observed %{{y:.3f}}<br>%{{customdata:,}} rows<extra></extra>"),
                row=1, col=1)
            fig.add_trace(go.Bar(x=[b["mean_predicted"] for b in curve], y=[b["count"] for b in curve], name=f"{role} rows",
                                 marker_color=colour, opacity=0.7, showlegend=False), row=2, col=1)
        fig.update_layout(height=520, barmode="group", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                          legend={"orientation": "h", "y": -0.15}, title="Reliability diagram")
        fig.update_yaxes(title_text="Observed positive rate", range=[0, 1], row=1, col=1)
        fig.update_yaxes(title_text="Rows per bin", row=2, col=1)
        fig.update_xaxes(title_text="Mean predicted probability", range=[0, 1], row=2, col=1)
        widgets.chart(fig, key="reliability")

        st.subheader("Calibration metrics (lower is better)")
        widgets.comparison_table(widgets.comparison_frame(ev, ["ece", "mce", "brier_score"], section="calibration"),
                                 key="calibration_table")
        rows = [{"model": r, "calibration slope": widgets.fmt_ci(models[r]["calibration"].get("slope")),
                 "intercept": widgets.fmt_ci(models[r]["calibration"].get("intercept")),
                 "bins": models[r]["calibration"].get("n_bins")} for r in roles]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="slope_table")
        st.caption("Slope 1 and intercept 0 mean well calibrated; a slope below 1 means over-confident scores.")
