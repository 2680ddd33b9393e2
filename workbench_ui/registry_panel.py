"""The model registry in the app: the reviewed versions, the Promote button, rollback.

Everything shown comes from ``workbench.promotion``; this module only lays it out. Promotion and
rollback act as the logged-in user, with the same checks and audit as the CLI.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench.promotion import (
    open_registry,
    promote_review,
    registry_model_name,
    registry_rows,
    rollback_drill_model,
    rollback_model,
    rollback_status,
)
from workbench_ui import context
from workbench_ui.feedback import guard

ALIAS = "champion"


def versions(data: Any) -> None:
    """The registry versions the review resolved (role, URI, version, run, file hashes)."""
    rows = registry_rows(data.artefacts)
    if rows:
        st.subheader("Registry versions")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="registry_versions")


def promote(data: Any, decision: Any, policy: Any, user: Any) -> None:
    """A Promote button for a user holding a promotion role, shown only when the decision is GO."""
    source = data.manifest.source  # the review.yaml the app loaded; promote_review reads it again
    if data.manifest.candidate.uri is None or decision.outcome != "GO" or source is None:
        return
    if not set(user.roles) & set(policy.promoter_roles):
        st.caption(f"On GO, {', '.join(policy.promoter_roles)} may promote the candidate to @{ALIAS}.")
        return
    st.subheader("Promote")
    st.write(f"Move `models:/{registry_model_name(data.manifest)}@{ALIAS}` to the reviewed candidate "
             f"(`{data.manifest.candidate.uri}`). Every precondition is checked again first.")
    if st.button(f"Promote to {ALIAS}", type="primary", key="promote_button", icon=":material/rocket_launch:"):
        with guard("promote"):
            outcome = promote_review(source, alias=ALIAS, user=user.user, store=context.store(),
                                     keys=context.keys_dir(), untrusted=True)
            if outcome.exit_code == 0:
                st.success(f"Promoted: version {outcome.version} is now @{ALIAS}"
                           + (f"; version {outcome.replaced} is @previous-{ALIAS}" if outcome.replaced else ""),
                           icon=":material/verified:")
            else:
                st.warning("Refused, the registry is unchanged:\n\n" + "\n".join(f"- {r}" for r in outcome.reasons),
                           icon=":material/block:")


def rollback(data: Any, user: Any) -> None:
    """Rollback (and its drill) for operations, when the review's model is in the registry."""
    if data.manifest.candidate.uri is None:
        return
    st.subheader("Rollback")
    name = registry_model_name(data.manifest)
    with guard("read the registry"):
        registry = open_registry(data.manifest)
        status = rollback_status(registry, name, alias=ALIAS)
        st.write(f"`models:/{name}@{ALIAS}` → version {status['current'] or '—'}; rollback target "
                 f"`@previous-{ALIAS}` → version {status['previous'] or '— (nothing to roll back to)'}.")
    if "operations" not in user.roles:
        st.caption("Only operations may roll back.")
        return
    with st.form("rollback_form"):
        reason = st.text_input("Reason (written to the registry and the audit log)", key="rollback_reason")
        left, right = st.columns(2)
        # render both buttons on every run (a short-circuit would drop the second one)
        drill = left.form_submit_button("Rehearse (drill)")
        real = right.form_submit_button("Roll back", type="primary")
        action = "drill" if drill else ("rollback" if real else None)
    if action == "drill":
        with guard("rehearse the rollback"):
            report = rollback_drill_model(registry, name, alias=ALIAS, user=user.user, store=context.store())
            lines = "\n".join(f"- {'ok' if ok else 'FAILED'} — {check}: {detail}" for check, ok, detail in report.checks)
            (st.success if report.ok else st.warning)(f"Drill {'passed' if report.ok else 'failed'} in "
                                                      f"{report.seconds:.2f} s:\n\n{lines}")
    elif action == "rollback":
        with guard("roll back"):
            result = rollback_model(registry, name, alias=ALIAS, reason=reason, user=user.user, store=context.store())
            st.success(f"Rolled back: @{ALIAS} is version {result.to_version} again (was {result.from_version})")
