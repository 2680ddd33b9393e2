"""The packet's governance checklist is the one the decision recorded, not a re-run."""

from __future__ import annotations

from workbench.report._collect import _governance


def test_governance_rows_come_from_the_decision_criteria() -> None:
    finding = {"column": "notes", "kind": "email", "count": 3, "samples": ["a***@x.org"]}
    decision = {"criteria": [
        {"id": "roc-auc", "kind": "absolute", "status": "PASS", "reason": "ok", "details": {}},
        {"id": "model-card", "kind": "governance", "status": "FAIL", "reason": "model_card: limitations is 'TBD'",
         "details": {"check": "model_card", "evidence": {}}},
        {"id": "privacy", "kind": "governance", "status": "WARN", "reason": "privacy: 1 column with PII",
         "details": {"check": "privacy", "evidence": {"datasets": [{"dataset": "evaluation", "findings": [finding]}]}}},
    ]}
    out = _governance(decision, {"intended_use": "credit decisions"})
    assert out["checks"] == [
        {"id": "model-card", "title": "model_card", "status": "FAIL", "reason": "model_card: limitations is 'TBD'"},
        {"id": "privacy", "title": "privacy", "status": "WARN", "reason": "privacy: 1 column with PII"},
    ]
    assert out["pii"] == {"findings": [finding]}
    assert out["model_card"] == {"intended_use": "credit decisions"}
