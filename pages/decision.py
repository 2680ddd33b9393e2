"""Decision and sign-off: every criterion with value, bound, status and reason; waivers; sign-offs by role."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.explain import plain_summary
from workbench_ui import approvals, context, registry_panel, review, widgets
from workbench_ui.feedback import guard

user = context.require_user()
data, review_id = review.require_review()
st.title("Decision & sign-off")

with guard("show the decision"):
    decision = review.decision(data, review_id)
    pol = review.policy(data)
    if decision.what_if:
        st.warning("What-if: this review is judged by a policy that is not the one registered for its model, "
                   "so it can never be GO. " + " ".join(decision.limits), icon=":material/science:")
    widgets.badge(decision.outcome, f"Decision: {decision.outcome}")
    st.markdown(f"**In plain words.** {plain_summary(decision.to_dict()).text}")
    st.write(decision.summary)
    st.caption(f"Policy {pol.id} {pol.version} (`{pol.digest[:12]}…`) · evidence `{data.evidence_digest[:12]}…` · "
               f"decided {decision.decided_at}")

    registry_panel.versions(data)
    registry_panel.promote(data, decision, pol, user)

    if decision.blockers:
        st.subheader("What blocks promotion")
        for c in decision.blockers:
            st.markdown(f"{widgets.status_text(c.status)} **{c.id}** — {c.reason}")
        if decision.rows_needed is not None:
            st.info(f"Inconclusive is not a failure: about {decision.rows_needed:,} evaluation rows would settle "
                    "every blocking inconclusive criterion at the values observed (80% power).",
                    icon=":material/pending:")

    st.subheader("Criteria, worst first")
    statuses = ["FAIL", "MISSING", "INCONCLUSIVE", "WARN", "WAIVED", "PASS"]
    show = st.multiselect("Show", statuses, default=statuses, key="criteria_filter")
    order = {c.id: i for i, c in enumerate(decision.failures)}
    rows = [{"status": c.status, "severity": c.severity, "criterion": c.id,
             "value [95% CI]": widgets.fmt_ci({"value": c.measured, "ci_low": c.ci[0], "ci_high": c.ci[1]})
             if c.ci else widgets.fmt(c.measured),
             "bound": c.bound or "—", "margin": widgets.fmt(c.margin) if c.margin is not None else "—",
             "rows needed": widgets.rows_needed_text(c),
             "underpowered": ", ".join(c.underpowered), "reason": c.reason}
            for c in sorted(decision.criteria, key=lambda c: order.get(c.id, len(order))) if c.status in show]
    # tall enough to show every criterion without an inner scrollbar; full reasons on hover
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="criteria_table",
                 height=38 + 35 * max(len(rows), 1),
                 column_config={"reason": st.column_config.TextColumn(width="large")})

    who = approvals.parties(data, review_id)
    st.subheader("Sign-offs" + (f" (risk tier {decision.risk_tier})" if decision.risk_tier else ""))
    for s in decision.signoffs:
        state = "MISSING" if s.void_because else s.status
        st.markdown(f"{widgets.status_text(state)} **{s.role.replace('_', ' ')}** — {approvals.signoff_text(s)}")
    approvals.signoff_form(data, review_id, pol, tuple(s.role for s in decision.signoffs), user, who)
    approvals.waivers_section(data, review_id, pol, decision, user, who)
    approvals.objections_section(data, review_id, pol, decision, user, who)
    st.download_button("Download decision JSON", decision.to_json(indent=2), file_name="decision.json",
                       mime="application/json", key="download_decision", icon=":material/download:")
