"""Raw results of the criteria that need more than the evidence: qualitative, governance, sign-off."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.policy._signoffs import RoleSignoff, field
from workbench.policy._schema import GovernanceCriterion, QualitativeCriterion, SignoffCriterion
from workbench.policy._values import CriterionResult, ItemResult, combine

_QUALITATIVE = {"PASS": "PASS", "CONCERN": "WARN", "FAIL": "FAIL", "MISSING": "MISSING"}


def _single(c: Any, status: str, reason: str, *, items: tuple[ItemResult, ...] = (), details: dict | None = None) -> CriterionResult:
    return CriterionResult(
        id=c.id,
        kind=c.kind,
        severity=c.severity,
        description=c.description,
        status=status,  # type: ignore[arg-type]
        raw_status=status,  # type: ignore[arg-type]
        reason=reason,
        items=items,
        details=details or {},
    )


def eval_qualitative(c: QualitativeCriterion, outcomes: Mapping[str, Any] | None) -> CriterionResult:
    """Map the questionnaire engine's verdict (PASS/CONCERN/FAIL/MISSING) for this criterion."""
    if outcomes is None or c.id not in outcomes:
        return _single(c, "MISSING", "no questionnaire responses evaluated (no store, or none submitted)")
    q = outcomes[c.id]
    verdict = str(field(q, "verdict", "status", default="MISSING")).upper()
    status = _QUALITATIVE.get(verdict, "MISSING")
    if verdict == "CONCERN" and c.concern_is == "fail":
        status = "FAIL"
    reasons = field(q, "reasons", default=()) or ()
    reason = f"qualitative verdict {verdict}" + (": " + "; ".join(str(r) for r in reasons) if reasons else "")
    details = q.to_dict() if hasattr(q, "to_dict") else dict(q) if isinstance(q, Mapping) else {"verdict": verdict}
    return _single(c, status, reason, details={"verdict": verdict, "outcome": details})


def eval_governance(c: GovernanceCriterion, checks: Mapping[str, Any] | None) -> CriterionResult:
    """Map one governance check (keyed by criterion id, else by check name) to a criterion result."""
    if checks is None:
        return _single(c, "MISSING", f"governance check {c.check} was not run")
    chk = checks.get(c.id, checks.get(c.check))
    if chk is None:
        return _single(c, "MISSING", f"governance check {c.check} was not run")
    status = str(field(chk, "status", default="MISSING"))
    if status == "WARN":
        status = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}[c.warn_is]
    summary = str(field(chk, "summary", "reason", default=""))
    evidence = field(chk, "evidence", default={}) or {}
    return _single(c, status, f"{c.check}: {summary}", details={"check": c.check, "evidence": evidence})


def eval_signoff(c: SignoffCriterion, roles: Mapping[str, RoleSignoff]) -> CriterionResult:
    """PASS when every role approved the current evidence and policy; FAIL on a fresh rejection."""
    items = []
    for role in c.roles:
        r = roles[role]
        if r.status == "fresh":
            items.append(ItemResult(role, "PASS", f"{role}: approved by {r.user}"))
        elif r.status == "rejected":
            items.append(ItemResult(role, "FAIL", f"{role}: rejected by {r.user}: {r.comment or 'no reason given'}"))
        elif r.void_because:
            items.append(ItemResult(role, "MISSING", f"{role}: approval by {r.user} does not count ({r.void_because})"))
        elif r.status == "stale":
            items.append(ItemResult(role, "MISSING", f"{role}: sign-off by {r.user} is stale ({r.stale_because}); sign again"))
        else:
            items.append(ItemResult(role, "MISSING", f"{role}: no sign-off yet"))
    status = combine([i.status for i in items])
    bad = [i.reason for i in items if i.status != "PASS"]
    reason = "; ".join(bad) if bad else f"all {len(items)} roles approved"
    return _single(c, status, reason, items=tuple(items))


__all__ = ["eval_governance", "eval_qualitative", "eval_signoff"]
