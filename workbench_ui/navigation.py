"""The app's page list, grouped by the steps of a review."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]

# (file, title, icon) per section, in the order of a review.
SECTIONS: dict[str, list[tuple[str, str, str]]] = {
    "Review": [
        ("pages/load.py", "Load review", ":material/upload_file:"),
        ("pages/performance.py", "Performance", ":material/monitoring:"),
        ("pages/calibration.py", "Calibration", ":material/tune:"),
        ("pages/explanations.py", "Explanations", ":material/psychology:"),
        ("pages/fairness.py", "Fairness", ":material/balance:"),
        ("pages/robustness.py", "Robustness & operations", ":material/speed:"),
        ("pages/replay.py", "Shadow, canary & monitoring", ":material/timeline:"),
    ],
    "Judgement": [
        ("pages/questionnaires.py", "Questionnaires", ":material/checklist:"),
        ("pages/governance.py", "Governance", ":material/gavel:"),
        ("pages/decision.py", "Decision & sign-off", ":material/verified:"),
    ],
    "Record": [
        ("pages/report.py", "Signed report", ":material/picture_as_pdf:"),
        ("pages/audit.py", "Audit trail", ":material/history:"),
    ],
}


def pages() -> dict[str, list[st.Page]]:
    return {
        section: [st.Page(path, title=title, icon=icon) for path, title, icon in items if (ROOT / path).exists()]
        for section, items in SECTIONS.items()
    }


def link(path: str, label: str, *, icon: str | None = None) -> None:
    """A page link that degrades to plain text while a page is not built yet."""
    if (ROOT / path).exists():
        st.page_link(path, label=label, icon=icon)
    else:
        st.caption(label)


# Which page shows an evidence path (questionnaire evidence links jump there).
EVIDENCE_PAGES: dict[str, str] = {
    "metrics": "pages/performance.py", "deltas": "pages/performance.py", "slices": "pages/performance.py",
    "curves": "pages/performance.py", "calibration": "pages/calibration.py", "explanations": "pages/explanations.py",
    "fairness": "pages/fairness.py", "fairness_deltas": "pages/fairness.py", "drift": "pages/robustness.py",
    "operational": "pages/robustness.py", "robustness": "pages/robustness.py", "replay": "pages/replay.py",
    "cross_check": "pages/performance.py", "governance": "pages/governance.py", "model_card": "pages/governance.py", "lineage": "pages/governance.py",
    "privacy": "pages/governance.py", "readiness": "pages/governance.py", "decision": "pages/decision.py",
}


def page_for_evidence(evidence_id: str) -> str | None:
    """The page showing an evidence id such as ``explanations.candidate.local`` (None if unknown)."""
    parts = evidence_id.split(".")
    for part in parts[:3]:
        if part in EVIDENCE_PAGES and (ROOT / EVIDENCE_PAGES[part]).exists():
            return EVIDENCE_PAGES[part]
    return None
