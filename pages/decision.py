"""Decision and sign-off: every criterion with value, bound, status and reason; waivers; sign-offs by role."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from workbench.explain import plain_summary
from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

user = context.require_user()
data, review_id = review.require_review()
store = context.store()
st.title("Decision & sign-off")

with guard("show the decision"):
    decision = review.decision(data, review_id)
    pol = review.policy(data)
    widgets.badge(decision.outcome, f"Decision: {decision.outcome}")
    st.markdown(f"**In plain words.** {plain_summary(decision.to_dict()).text}")
    st.write(decision.summary)
    st.caption(f"Policy {pol.id} {pol.version} (`{pol.digest[:12]}…`) · evidence `{data.evidence_digest[:12]}…` · "
               f"decided {decision.decided_at}")

    if decision.blockers:
        st.subheader("What blocks promotion")
        for c in decision.blockers:
            st.markdown(f"{widgets.status_text(c.status)} **{c.id}** — {c.reason}")

    st.subheader("Criteria, worst first")
    show = st.multiselect("Show", ["FAIL", "MISSING", "WARN", "WAIVED", "PASS"],
                          default=["FAIL", "MISSING", "WARN", "WAIVED", "PASS"], key="criteria_filter")
    order = {c.id: i for i, c in enumerate(decision.failures)}
    rows = [{"status": c.status, "severity": c.severity, "criterion": c.id,
             "value [95% CI]": widgets.fmt_ci({"value": c.measured, "ci_low": c.ci[0], "ci_high": c.ci[1]})
             if c.ci else widgets.fmt(c.measured),
             "bound": c.bound or "—", "reason": c.reason}
            for c in sorted(decision.criteria, key=lambda c: order.get(c.id, len(order))) if c.status in show]
    # tall enough to show every criterion without an inner scrollbar; full reasons on hover
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="criteria_table",
                 height=38 + 35 * max(len(rows), 1),
                 column_config={"reason": st.column_config.TextColumn(width="large")})

    st.subheader("Sign-offs")
    for s in decision.signoffs:
        text = {"fresh": f"{s.verdict} by {s.user} on {str(s.signed_at)[:16]}",
                "stale": f"STALE — {s.verdict} by {s.user}, but {s.stale_because}; sign again",
                "rejected": f"rejected by {s.user}: {s.comment}", "missing": "no sign-off yet"}.get(s.status, s.status)
        st.markdown(f"{widgets.status_text(s.status)} **{s.role.replace('_', ' ')}** — {text}")
    mine = [r for r in pol.required_signoff_roles if r in user.roles]
    if mine:
        with st.form("signoff_form"):
            role = st.selectbox("Sign as", mine, key="signoff_role", format_func=lambda r: r.replace("_", " "))
            comment = st.text_area("Comment (required for a rejection)", key="signoff_comment")
            approve, reject = st.columns(2)
            verdict = "approve" if approve.form_submit_button("Approve", type="primary") else (
                "reject" if reject.form_submit_button("Reject") else None)
        if verdict:
            with guard(f"record your {verdict}"):
                store.sign_off(review_id, user.user, role, verdict=verdict, comment=comment, evidence_digest=data.evidence_digest,
                               policy_digest=pol.digest)
                st.toast(f"{verdict.capitalize()} recorded for {role.replace('_', ' ')}", icon=":material/verified:")
                st.rerun()
    else:
        st.caption(f"Your roles ({', '.join(user.roles)}) are not among the sign-off roles of this policy.")

    st.subheader("Waivers")
    waivers = store.list_waivers(review_id)
    if waivers:
        today = dt.date.today()
        st.dataframe(pd.DataFrame([{"criterion": w.criterion_id, "by": f"{w.user} ({w.role})", "rationale": w.rationale,
                                    "expires": w.expires, "active": "yes" if w.is_active(today) else "no (expired or revoked)"}
                                   for w in waivers]), hide_index=True, width="stretch", key="waiver_table")
    waivable = {c.id: [r for r in pol.waiver_roles(c.id) if r in user.roles] for c in decision.criteria
                if c.status in ("FAIL", "MISSING", "WARN") and c.kind != "signoff"}
    waivable = {k: v for k, v in waivable.items() if v}
    if waivable:
        with st.form("waiver_form"):
            crit = st.selectbox("Criterion", list(waivable), key="waiver_criterion")
            rationale = st.text_area("Rationale (why the risk is acceptable, and what mitigates it)", key="waiver_rationale")
            expires = st.date_input("Expires", value=dt.date.today() + dt.timedelta(days=30), key="waiver_expires")
            if st.form_submit_button("Record waiver"):
                with guard("record the waiver"):
                    store.add_waiver(review_id, user.user, waivable[crit][0], criterion_id=crit, rationale=rationale,
                                     expires=expires.isoformat(), evidence_digest=data.evidence_digest, policy_digest=pol.digest)
                    st.rerun()
    else:
        st.caption("None of your roles may waive the criteria that are not passing.")
    st.download_button("Download decision JSON", decision.to_json(indent=2), file_name="decision.json",
                       mime="application/json", key="download_decision", icon=":material/download:")
