"""Signed report: generate the PDF sign-off packet, download it, see its verification; evidence and decision JSON."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench.canonical import canonical_json
from workbench_ui import context, packet, review, widgets
from workbench_ui.feedback import guard

user = context.require_user()
data, review_id = review.require_review()
st.title("Signed report")
st.write("The sign-off packet records the evidence, the decision with every criterion, questionnaire results, "
         "governance, sign-offs and the audit-chain head, signed (PAdES + Ed25519 manifest) so an auditor can verify "
         "it offline with `workbench verify`.")

with guard("prepare the report"):
    ev = review.evidence(data, review_id)
    decision = review.decision(data, review_id)
    widgets.badge(decision.outcome, f"Current decision: {decision.outcome}")
    if st.button("Generate signed packet", type="primary", key="generate_packet", icon=":material/picture_as_pdf:"):
        with st.status("Generating the packet …", expanded=False) as status:
            result = packet.generate(data, review_id, decision, user=user.user, out_dir=packet.packets_dir(),
                                     progress=lambda msg: status.update(label=msg.capitalize()))
            status.update(label="Packet signed", state="complete")
        st.session_state["wb_packet"] = str(result["pdf"])

    path = Path(st.session_state["wb_packet"]) if st.session_state.get("wb_packet") else None
    if path is not None and path.is_file():
        result = packet.verify(path)
        if result.valid:
            st.success(f"Signature valid: {path.name} ({path.stat().st_size:,} bytes)", icon=":material/verified:")
        else:
            st.error(f"Verification failed: {result.reasons[0]}", icon=":material/gpp_bad:")
        with st.expander("Verification checks"):
            for c in result.checks:
                st.markdown(f"{widgets.status_text('PASS' if c.ok else 'FAIL')} **{c.name}** — {c.detail}")
        st.download_button("Download the signed PDF", path.read_bytes(), file_name=path.name, mime="application/pdf",
                           key="download_packet", icon=":material/download:")

    st.subheader("Machine-readable records")
    left, right = st.columns(2)
    left.download_button("Download evidence JSON", canonical_json(ev), file_name="evidence.json", mime="application/json",
                         key="download_evidence", icon=":material/download:")
    right.download_button("Download decision JSON", decision.to_json(indent=2), file_name="decision.json",
                          mime="application/json", key="download_decision_json", icon=":material/download:")
    exports = context.store().list_exports(review_id)
    if exports:
        st.caption("Earlier exports: " + "; ".join(f"{e.kind} {Path(e.path).name} ({e.created_at[:16]}, sha256 {e.sha256[:12]}…)"
                                                     for e in exports[-5:]))
