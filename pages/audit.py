"""Audit trail: the hash-chained history of every state change, filterable, with a chain check."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.text import printable
from workbench_ui import context
from workbench_ui.feedback import guard

context.require_user()
store = context.store()
st.title("Audit trail")
st.write("Every answer, sign-off, waiver, document and export is written with an audit entry in the same "
         "transaction; each entry carries the hash of the one before, so an edit anywhere breaks the chain.")

with guard("read the audit trail"):
    if st.button("Verify chain", type="primary", key="verify_chain", icon=":material/link:"):
        result = store.verify_audit()
        if result.ok:
            st.success(f"Chain intact: {result.checked:,} entries checked, head `{(result.head_hash or '')[:16]}…`",
                       icon=":material/verified:")
        else:
            st.error(f"Chain broken at entry {result.first_bad_seq}: {result.message}", icon=":material/gpp_bad:")
    entries = store.audit_entries(newest_first=True, limit=2000)
    actors = sorted({e.actor for e in entries})
    actions = sorted({e.action for e in entries})
    a, b, c = st.columns(3)
    who = a.multiselect("Actor", actors, key="audit_actor")
    what = b.multiselect("Action", actions, key="audit_action")
    only_review = c.toggle("Only this review", value=False, key="audit_this_review",
                           disabled=context.review_id() is None)
    rid = context.review_id()
    rows = [{"seq": e.seq, "time (UTC)": e.ts[:19].replace("T", " "), "actor": printable(e.actor),
             "action": printable(e.action), "subject": printable(e.subject), "details": printable(str(e.payload)[:200])}
            for e in entries if (not who or e.actor in who) and (not what or e.action in what)
            and (not only_review or (rid and (rid in e.subject or rid in str(e.payload))))]
    st.caption(f"{len(rows):,} of {len(entries):,} most recent entries shown.")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="audit_table")
