"""The sidebar every page shares: who is logged in, which review, and its live status."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench_ui import context, sso
from workbench_ui import review as review_ui
from workbench_ui.feedback import guard
from workbench_ui.widgets import badge

_COUNTED = ("PASS", "FAIL", "WARN", "WAIVED", "MISSING", "INCONCLUSIVE")


def render(user: context.SessionUser) -> None:
    with st.sidebar:
        st.markdown(f"**{user.display_name}** (`{user.name}`)  \n"
                    f"Roles: {', '.join(r.replace('_', ' ') for r in user.roles)}")
        if st.button("Sign out", icon=":material/logout:", key="wb_sign_out"):
            context.log_out()
            sso.log_out()
            st.rerun()
        st.divider()
        path, review_id = context.manifest_path(), context.review_id()
        if path is None or review_id is None:
            st.caption("No review loaded — start on **Load review**.")
            return
        with guard("show the review status"):
            _review_status(path, review_id)


def _review_status(path: Path, review_id: str) -> None:
    data = review_ui.review_data(path)
    m = data.manifest
    st.markdown(f"**{m.name}**")
    for role, model in data.models.items():
        if model is not None:
            st.caption(f"{role.capitalize()}: {model.name} {model.version}")
    st.caption(f"Evidence digest `{data.evidence_digest[:12]}…`")
    decision = review_ui.decision(data, review_id)
    badge(decision.outcome, f"Decision: {decision.outcome}")
    counts = {s: sum(c.status == s for c in decision.criteria) for s in _COUNTED}
    st.markdown(" · ".join(f"{s} **{n}**" for s, n in counts.items() if n or s not in ("WAIVED", "INCONCLUSIVE")))
    st.caption(f"Policy {decision.policy['id']} {decision.policy['version']}")
