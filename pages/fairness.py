"""Fairness: per-group metrics with n and CIs, disparities against the policy's bounds, candidate vs baseline."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

context.require_user()
data, review_id = review.require_review()
st.title("Fairness")
st.write("How each model treats the groups of a sensitive attribute (or an intersection of two). "
         "Groups too small to judge are marked, not hidden.")

_GROUP_METRICS = ("selection_rate", "tpr", "fpr", "precision", "accuracy", "base_rate")
_DISPARITIES = ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_difference",
                "equalized_odds_ratio", "equal_opportunity_difference")

with guard("show the fairness evidence"):
    ev = review.evidence(data, review_id)
    if not widgets.not_available(ev, "fairness"):
        models = {r: ev["models"][r]["fairness"] for r in ("candidate", "baseline") if ev["models"].get(r, {}).get("fairness")}
        groupings = list(models["candidate"])
        grouping = st.selectbox("Sensitive feature or intersection", groupings, key="fairness_grouping",
                                format_func=lambda g: g.replace("×", " × "))
        roles = list(models)
        st.subheader("Groups")
        for role in roles:
            section = models[role][grouping]
            rows = []
            for g, v in section["groups"].items():
                rows.append({"group": g, "n": widgets.fmt(v["n"]),
                             "judged": "too small to judge" if v.get("insufficient_data") else "yes",
                             **{widgets.label(k): widgets.fmt_ci(v.get(k)) for k in _GROUP_METRICS if k in v}})
            for g in section.get("excluded_groups", []):
                rows.append({"group": str(g), "judged": "excluded (too small)"})
            st.markdown(f"**{role.capitalize()}** · {widgets.fmt(sum(v['n'] for v in section['groups'].values()))} rows")
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"groups_{role}")

        import plotly.graph_objects as go

        fig = go.Figure()
        for role in roles:
            groups = models[role][grouping]["groups"]
            names = list(groups)
            sr = [groups[g]["selection_rate"] for g in names]
            fig.add_trace(go.Bar(x=names, y=[s["value"] for s in sr], name=role, marker_color=widgets.ROLE_COLOURS[role],
                                 error_y={"type": "data", "symmetric": False,
                                          "array": [(s["ci_high"] or s["value"]) - s["value"] for s in sr],
                                          "arrayminus": [s["value"] - (s["ci_low"] or s["value"]) for s in sr]}))
        fig.update_layout(title="Selection rate (share approved) per group, with 95% CI", yaxis_tickformat=".0%",
                          barmode="group", height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10})
        widgets.chart(fig, key="selection_rates")

        st.subheader("Disparities against the policy")
        deltas = ev.get("fairness_deltas", {}).get(grouping, {})
        rows = [{"metric": widgets.label(k), **{r: widgets.fmt_ci(models[r][grouping].get(k)) for r in roles},
                 "Δ candidate − baseline": widgets.fmt_ci(deltas.get(k)),
                 "widened": widgets.fmt(deltas.get(k, {}).get("significantly_widened")) if k in deltas else "—"}
                for k in _DISPARITIES if k in models["candidate"][grouping]]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="disparities")
        decision = review.decision(data, review_id)
        verdicts = [(c, i) for c in decision.criteria if c.kind == "fairness"
                    for i in c.items if i.name.split(" vs ")[0] == grouping]
        for c, item in verdicts:
            st.markdown(f"{widgets.status_text(item.status)} **{c.id}** ({c.severity}) — {item.reason}")
        if not verdicts:
            st.caption(f"The policy has no fairness criterion on {grouping}.")
