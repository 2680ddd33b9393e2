"""Decision-page widgets for people acting on a review: sign-off, four-eyes waivers, objections.

Every write goes through ``workbench.policy`` (``record_signoff``, ``record_countersign``,
``resolve_objection``) or the store, so the app refuses exactly what the CLI refuses, with the
rule's name, and every refusal is audited by the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
import streamlit as st

from workbench_ui import context, widgets
from workbench_ui.feedback import guard


def parties(data: Any, review_id: str) -> Any:
    """Submitter, developers, risk tier and objections of the review (``workbench.policy``)."""
    from workbench.policy import parties_for_review

    return parties_for_review(data, store=context.store(), review_id=review_id)


def signoff_text(s: Any) -> str:
    """One line per required role: approved, stale, rejected, void (with the rule) or missing."""
    if s.void_because:
        return f"approval by {s.user} does not count — {s.void_because}"
    return {"fresh": f"{s.verdict} by {s.user} on {str(s.signed_at)[:16]}",
            "stale": f"STALE — {s.verdict} by {s.user}, but {s.stale_because}; sign again",
            "rejected": f"rejected by {s.user}: {s.comment}", "missing": "no sign-off yet"}.get(s.status, s.status)


def signoff_form(data: Any, review_id: str, pol: Any, roles: tuple[str, ...], user: Any, who: Any) -> None:
    from workbench.policy import record_signoff

    mine = [r for r in roles if r in user.roles]
    if not mine:
        st.caption(f"Your roles ({', '.join(user.roles)}) are not among the sign-off roles of this review.")
        return
    with st.form("signoff_form"):
        role = st.selectbox("Sign as", mine, key="signoff_role", format_func=lambda r: r.replace("_", " "))
        comment = st.text_area("Comment (required for a rejection)", key="signoff_comment")
        approve, reject = st.columns(2)
        verdict: Literal["approve", "reject"] | None = (
            "approve" if approve.form_submit_button("Approve", type="primary")
            else "reject" if reject.form_submit_button("Reject") else None)
    if verdict:
        with guard(f"record your {verdict}"):
            record_signoff(context.store(), pol, who, review_id, user.user, role, verdict=verdict, comment=comment,
                           evidence_digest=data.evidence_digest)
            st.toast(f"{verdict.capitalize()} recorded for {role.replace('_', ' ')}", icon=":material/verified:")
            st.rerun()


def waivers_section(data: Any, review_id: str, pol: Any, decision: Any, user: Any, who: Any) -> None:
    from workbench.policy import record_countersign

    store = context.store()
    st.subheader("Waivers (four eyes: proposed by one person, granted by another)")
    waivers = store.list_waivers(review_id)
    if waivers:
        today = dt.date.today()
        st.dataframe(pd.DataFrame([{"id": w.waiver_id, "criterion": w.criterion_id, "proposed by": f"{w.user} ({w.role})",
                                    "granted by": f"{w.countersigned_by} ({w.countersigned_role})" if w.countersigned_by
                                    else "— awaiting a countersignature", "rationale": w.rationale, "expires": w.expires,
                                    "counts": "yes" if w.is_active(today) else "no"} for w in waivers]),
                     hide_index=True, width="stretch", key="waiver_table")
    open_ = [c.id for c in decision.criteria
             if c.status in ("FAIL", "MISSING", "INCONCLUSIVE", "WARN") and c.kind not in ("signoff", "objection")
             and pol.waiver_roles(c.id)]
    if open_ and user.roles:
        with st.form("waiver_form"):
            crit = st.selectbox("Criterion", open_, key="waiver_criterion")
            role = st.selectbox("Propose as", list(user.roles), key="waiver_role")
            rationale = st.text_area("Rationale (why the risk is acceptable, and what mitigates it)", key="waiver_rationale")
            expires = st.date_input("Expires", value=dt.date.today() + dt.timedelta(days=30), key="waiver_expires")
            if st.form_submit_button("Propose waiver"):
                with guard("propose the waiver"):
                    store.add_waiver(review_id, user.user, role, criterion_id=crit, rationale=rationale,
                                     expires=expires.isoformat(), evidence_digest=data.evidence_digest, policy_digest=pol.digest)
                    st.rerun()
    pending = [w for w in waivers if w.state == "proposed" and w.user != user.name
               and any(r in user.roles for r in pol.waiver_roles(w.criterion_id))]
    for w in pending:
        roles = [r for r in pol.waiver_roles(w.criterion_id) if r in user.roles]
        if st.button(f"Countersign waiver {w.waiver_id} on {w.criterion_id} as {roles[0].replace('_', ' ')}",
                     key=f"countersign_{w.waiver_id}"):
            with guard("countersign the waiver"):
                record_countersign(store, pol, who, w.waiver_id, user.user, roles[0], evidence_digest=data.evidence_digest)
                st.rerun()


def objections_section(data: Any, review_id: str, pol: Any, decision: Any, user: Any, who: Any) -> None:
    from workbench.policy import resolve_objection

    store = context.store()
    st.subheader("Objections")
    objections = store.list_objections(review_id)
    for o in objections:
        status = widgets.status_text("MISSING" if o.is_open else "PASS")
        tail = "" if o.is_open else f" — {o.status} by {o.resolved_by}" + (
            f" ({o.resolved_role})" if o.resolved_role else "") + f": {o.resolution}"
        st.markdown(f"{status} **objection {o.objection_id}** by {o.author}: {o.rationale}{tail}")
    with st.form("objection_form"):
        rationale = st.text_area("Object to this review (keeps it PENDING until resolved)", key="objection_rationale")
        if st.form_submit_button("Record objection"):
            with guard("record the objection"):
                store.add_objection(review_id, user.user, rationale=rationale)
                st.rerun()
    allowed = [r for r in pol.objection_roles(decision.risk_tier) if r in user.roles]
    for o in (o for o in objections if o.is_open):
        mine = o.author == user.name
        if not mine and not allowed:
            continue
        with st.form(f"resolve_{o.objection_id}"):
            why = st.text_input("Why it is resolved", key=f"resolve_text_{o.objection_id}")
            label = "Withdraw my objection" if mine else f"Accept objection {o.objection_id} as {allowed[0].replace('_', ' ')}"
            if st.form_submit_button(label):
                with guard("resolve the objection"):
                    resolve_objection(store, pol, who, o.objection_id, user.user, outcome="withdrawn" if mine else "accepted",
                                      rationale=why, role=None if mine else allowed[0])
                    st.rerun()


__all__ = ["objections_section", "parties", "signoff_form", "signoff_text", "waivers_section"]
