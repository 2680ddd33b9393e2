"""Governance: the checklist, the model card (view and fill missing sections), PII scan, readiness plan."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import streamlit as st
import yaml

from workbench.errors import ManifestError
from workbench.governance import review_documents
from workbench.yamlio import parse_yaml
from workbench_ui import context, review, widgets
from workbench_ui.feedback import guard

user = context.require_user()
data, review_id = review.require_review()
store = context.store()
st.title("Governance")


def _save(kind: Literal["readiness", "model_card"], content: dict, version: int | None) -> None:
    with guard(f"save the {kind.replace('_', ' ')}"):
        store.save_document(review_id, kind, content, actor=user.user, expected_version=version)
        st.toast(f"{kind.replace('_', ' ').capitalize()} saved", icon=":material/save:")
        st.rerun()


def _yaml(text: str, what: str) -> object:
    try:
        return parse_yaml(text, label=what, error=ManifestError)
    except ManifestError as exc:
        st.error(f"{exc}; fix the text and save again.")
        return None


with guard("run the governance checks"):
    checks = review.governance(data, review_id)
    st.subheader("Checklist")
    st.dataframe(pd.DataFrame([{"status": c.status, "criterion": cid, "check": c.name, "finding": c.summary}
                               for cid, c in checks.items()]), hide_index=True, width="stretch", key="checklist")
    card, plan = review_documents(data, store=store, review_id=review_id)
    card_doc, plan_doc = store.get_document(review_id, "model_card"), store.get_document(review_id, "readiness")

    card_tab, pii_tab, plan_tab = st.tabs(["Model card", "Privacy (PII scan)", "Readiness plan"])
    with card_tab:
        check = next((c for c in checks.values() if c.name == "model_card"), None)
        required = list(check.evidence.get("required", [])) if check else []
        filled = set(check.evidence.get("filled", [])) if check else set()
        source = f"edited in the app (version {card_doc.version})" if card_doc else "from the model_card.yaml file"
        st.caption(f"Model card {source}. Sections still to fill: {', '.join(s for s in required if s not in filled) or 'none'}.")
        for problem in (check.evidence.get("problems", []) if check else []):
            st.warning(problem, icon=":material/edit_note:")
        for name, value in (card or {}).items():
            with st.expander(f"{name.replace('_', ' ')}{'' if name in filled or name not in required else ' — incomplete'}"):
                st.code(yaml.safe_dump(value, sort_keys=False, allow_unicode=True), language="yaml")
        sections = sorted(set(required) | set(card or {}), key=lambda s: (s in filled, s))
        section = st.selectbox("Edit section", sections, key="card_section")
        text = st.text_area(f"{section} (YAML)", value=yaml.safe_dump((card or {}).get(section, ""), sort_keys=False,
                                                                       allow_unicode=True), height=200, key=f"card_text_{section}")
        if st.button("Save section", key="save_card"):
            value = _yaml(text, f"model card section {section}")
            if value is not None:
                _save("model_card", {**(card or {}), section: value}, card_doc.version if card_doc else None)
    with pii_tab:
        privacy = next((c for c in checks.values() if c.name == "privacy"), None)
        if privacy is None:
            st.caption("The policy has no privacy check.")
        else:
            widgets.badge(privacy.status)
            st.write(privacy.summary)
            rows = [{"data set": d.get("dataset"), **f} for d in privacy.evidence.get("datasets", []) for f in d.get("findings", [])]
            st.dataframe(pd.DataFrame(rows) if rows else pd.DataFrame({"finding": ["no personal data found"]}),
                         hide_index=True, width="stretch", key="pii_table")
    with plan_tab:
        check = next((c for c in checks.values() if c.name == "readiness"), None)
        if check:
            widgets.badge(check.status)
            st.write(check.summary)
        st.caption("Deployment steps, monitoring, rollback, incident response and post-implementation review dates.")
        text = st.text_area("Readiness plan (YAML)", value=yaml.safe_dump(plan or {}, sort_keys=False, allow_unicode=True),
                            height=360, key="plan_text")
        if st.button("Save plan", key="save_plan"):
            value = _yaml(text, "readiness plan")
            if isinstance(value, dict):
                _save("readiness", value, plan_doc.version if plan_doc else None)
            elif value is not None:
                st.error("The readiness plan must be a mapping (deployment_steps, monitoring, rollback, ...).")
