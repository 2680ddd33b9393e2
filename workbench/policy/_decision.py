"""The decision engine: policy + evidence + governance + questionnaires + sign-offs → GO / NO-GO / PENDING.

Every criterion is evaluated (nothing stops at the first problem) to PASS, FAIL, WARN, WAIVED,
MISSING or INCONCLUSIVE with its measured value, bound, CI and a one-line reason. INCONCLUSIVE
means the confidence interval holds the bound: the data cannot tell, and ``rows_needed`` says how
many evaluation rows would (80% power at the observed value). Then:

* an advisory criterion that fails is shown as WARN and never decides;
* a failed or missing blocking criterion with a valid waiver is WAIVED (a waiver counts for
  its criterion only, when unexpired, unrevoked and granted in a role the policy allows to
  waive that criterion; it is *not* tied to the evidence digest — accepted risk outlives a
  re-run, sign-offs do not);
* **NO-GO** when any blocking criterion FAILs — this includes a fresh *rejection* by a
  required sign-off role: a named approver said no to exactly this evidence under exactly
  this policy, which is a decision, not missing information;
* **PENDING** when nothing blocking fails but something blocking is MISSING (sign-offs that
  are absent or stale, questionnaires not submitted, readiness items or evidence absent) or
  INCONCLUSIVE (unless the criterion sets ``inconclusive_blocks: false``; an advisory
  INCONCLUSIVE never decides);
* **GO** otherwise.

The result is deterministic: the decision time is passed in (``at``), never read from the
clock here, so the same inputs give the same decision JSON byte for byte.

Examples
--------
>>> import datetime as dt
>>> from workbench.policy import parse_policy
>>> p = parse_policy({"id": "p", "version": "1", "criteria": [
...     {"id": "auc", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.8}]})
>>> ev = {"evidence_digest": "e", "models": {"candidate": {"metrics": {"roc_auc": {
...     "value": 0.812, "ci_low": 0.804, "ci_high": 0.82}}}}}
>>> d = decide(p, ev, at=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
>>> d.outcome, d.criteria[0].reason
('GO', 'roc_auc 0.812 [0.804, 0.820] >= 0.8: pass')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workbench.policy._criteria import eval_governance, eval_qualitative, eval_signoff
from workbench.policy._duties import ReviewParties, counted_signoffs, waiver_duty_problem
from workbench.policy._signoffs import RoleSignoff, field, role_signoffs, waiver_problem, waiver_to_dict
from workbench.policy._eval import evaluate_criterion
from workbench.policy._values import STATUS_RANK, CriterionResult
from workbench.canonical import canonical_json, digest
from workbench.policy._policy import Policy

Outcome = Literal["GO", "NO-GO", "PENDING"]
EXIT_CODES: dict[str, int] = {"GO": 0, "NO-GO": 1, "PENDING": 3}
DECISION_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Decision:
    """A documented go/no-go decision. ``to_dict()`` is the decision JSON."""

    outcome: Outcome
    summary: str
    decided_at: str
    policy: dict[str, str]
    evidence_digest: str | None
    evidence_content_digest: str | None
    review: dict[str, Any]
    criteria: tuple[CriterionResult, ...]
    signoffs: tuple[RoleSignoff, ...]
    waivers_applied: tuple[dict[str, Any], ...]
    waivers_ignored: tuple[dict[str, Any], ...]
    risk_tier: str | None = None
    objections: tuple[dict[str, Any], ...] = ()
    #: Why this decision can be at best PENDING (unregistered policy, untrusted evidence, no store).
    limits: tuple[str, ...] = ()
    #: True when judged by a policy that is not the one registered for the model: never GO.
    what_if: bool = False

    @property
    def exit_code(self) -> int:
        """0 GO, 1 NO-GO, 3 PENDING (the `workbench gate` contract)."""
        return EXIT_CODES[self.outcome]

    @property
    def failures(self) -> tuple[CriterionResult, ...]:
        """Every criterion that is not PASS, blocking first, then worst status, then policy order."""
        order = {c.id: i for i, c in enumerate(self.criteria)}
        bad = [c for c in self.criteria if c.status != "PASS"]
        return tuple(sorted(bad, key=lambda c: (c.severity != "blocking", STATUS_RANK[c.status], order[c.id])))

    @property
    def blockers(self) -> tuple[CriterionResult, ...]:
        """What stands between the candidate and GO: blocking criteria that FAIL, are MISSING or
        block while INCONCLUSIVE (FAIL first)."""
        return tuple(c for c in self.failures if _blocks(c))

    @property
    def rows_needed(self) -> int | None:
        """Evaluation rows that would settle every blocking INCONCLUSIVE criterion (None: none, or unknown)."""
        need = [c.rows_needed for c in self.blockers if c.status == "INCONCLUSIVE"]
        return max(need) if need and None not in need else None  # type: ignore[type-var]

    def criterion(self, criterion_id: str) -> CriterionResult:
        return next(c for c in self.criteria if c.id == criterion_id)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema_version": DECISION_SCHEMA_VERSION,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "decided_at": self.decided_at,
            "policy": self.policy,
            "evidence_digest": self.evidence_digest,
            "evidence_content_digest": self.evidence_content_digest,
            "review": self.review,
            "counts": {s: sum(c.status == s for c in self.criteria) for s in STATUS_RANK},
            "criteria": [c.to_dict() for c in self.criteria],
            "failures": [_failure(c) for c in self.failures],
            "signoffs": [s.to_dict() for s in self.signoffs],
            "waivers_applied": list(self.waivers_applied),
            "waivers_ignored": list(self.waivers_ignored),
            "risk_tier": self.risk_tier,
            "objections": list(self.objections),
        }
        # Only present when set, so the JSON of an unlimited decision is unchanged.
        if any(c.status == "INCONCLUSIVE" for c in self.blockers):
            body["rows_needed"] = self.rows_needed
        if self.what_if:
            body["what_if"] = True
        if self.limits:
            body["limits"] = list(self.limits)
        body["digest"] = digest(body)
        return body

    def to_json(self, *, indent: int | None = None) -> str:
        """Canonical JSON (or indented, still key-sorted and deterministic)."""
        if indent is None:
            return canonical_json(self.to_dict())
        import json

        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def _apply(c: Any, raw: CriterionResult, policy: Policy, waivers: Sequence[Any], on: dt.date,
           applied: list, ignored: list, parties: ReviewParties, evidence_digest: str | None) -> CriterionResult:
    status = raw.status
    if status == "MISSING" and c.on_missing != "missing":
        status = "FAIL" if c.on_missing == "fail" else "WARN"
    waiver = None
    if status in ("FAIL", "MISSING", "INCONCLUSIVE") and c.kind != "signoff":
        allowed = policy.waiver_roles(c.id)
        for w in waivers:
            if field(w, "criterion_id", "criterion") != c.id:
                continue
            problem = waiver_problem(w, allowed_roles=allowed, max_days=policy.waivers.max_days, on=on) or \
                waiver_duty_problem(w, policy, parties, allowed=allowed, evidence_digest=evidence_digest)
            if problem is None and waiver is None:
                waiver = waiver_to_dict(w)
            elif problem is not None:
                ignored.append({**waiver_to_dict(w), "ignored_because": problem})
    if waiver is not None:
        applied.append(waiver)
        reason = (f"{raw.reason} — waived (proposed by {waiver['user']}, granted by {waiver['countersigned_by']} "
                  f"as {waiver['countersigned_role']}) until {waiver['expires']}: {waiver['rationale']}")
        return dataclasses.replace(raw, status="WAIVED", reason=reason, waiver=waiver)
    if status == "FAIL" and c.severity == "advisory":
        status = "WARN"
    return dataclasses.replace(raw, status=status)


def _blocks(c: CriterionResult) -> bool:
    if c.severity != "blocking":
        return False
    return c.status in ("FAIL", "MISSING") or (c.status == "INCONCLUSIVE" and c.inconclusive_blocks)


def _failure(c: CriterionResult) -> dict[str, Any]:
    out: dict[str, Any] = {"id": c.id, "severity": c.severity, "status": c.status, "reason": c.reason}
    if c.status == "INCONCLUSIVE":
        out["rows_needed"] = c.rows_needed
    return out


def _rows(c: CriterionResult) -> str:
    return f"{c.id}: ~{c.rows_needed:,} rows" if c.rows_needed is not None else c.id


def _summary(outcome: str, results: list[CriterionResult]) -> str:
    failed = [c.id for c in results if _blocks(c) and c.status == "FAIL"]
    missing = [c.id for c in results if _blocks(c) and c.status == "MISSING"]
    unsure = [_rows(c) for c in results if _blocks(c) and c.status == "INCONCLUSIVE"]
    waived = [c.id for c in results if c.status == "WAIVED"]
    warns = [c.id for c in results if c.status == "WARN"]
    open_ = [_rows(c) for c in results if c.status == "INCONCLUSIVE" and not _blocks(c)]
    extra = []
    if waived:
        extra.append(f"{len(waived)} waived ({', '.join(waived)})")
    if warns:
        extra.append(f"{len(warns)} advisory warning(s) ({', '.join(warns)})")
    if open_:
        extra.append(f"{len(open_)} inconclusive, not blocking ({', '.join(open_)})")
    tail = f"; {'; '.join(extra)}" if extra else ""
    if outcome == "NO-GO":
        more = f"; also missing: {', '.join(missing)}" if missing else ""
        more += f"; also inconclusive: {', '.join(unsure)}" if unsure else ""
        return f"NO-GO: {len(failed)} blocking criteria fail ({', '.join(failed)}){more}{tail}."
    if outcome == "PENDING":
        parts = [f"{len(missing)} blocking criteria are missing ({', '.join(missing)})"] if missing else []
        if unsure:
            parts.append(f"{len(unsure)} blocking criteria are inconclusive, more data would settle them "
                         f"({', '.join(unsure)})")
        return f"PENDING: nothing blocking fails, but {' and '.join(parts)}{tail}."
    return f"GO: all {sum(c.severity == 'blocking' for c in results)} blocking criteria pass or are waived{tail}."


def limit_decision(decision: Decision, reason: str, *, what_if: bool = False) -> Decision:
    """``decision`` capped at PENDING for ``reason`` (a NO-GO stays NO-GO; a GO becomes PENDING).

    Examples
    --------
    >>> import datetime as dt
    >>> from workbench.policy import parse_policy
    >>> p = parse_policy({"id": "p", "version": "1", "criteria": [
    ...     {"id": "auc", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.5}]})
    >>> ev = {"evidence_digest": "e", "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.9}}}}}
    >>> d = decide(p, ev, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    >>> d.outcome, limit_decision(d, "policy not registered", what_if=True).outcome
    ('GO', 'PENDING')
    """
    outcome: Outcome = "PENDING" if decision.outcome == "GO" else decision.outcome
    label = "WHAT-IF (not a real decision): " if what_if and not decision.what_if else ""
    summary = f"{label}{decision.summary} At best PENDING: {reason}."
    return dataclasses.replace(decision, outcome=outcome, summary=summary, limits=(*decision.limits, reason),
                   what_if=decision.what_if or what_if)


def decide(
    policy: Policy,
    evidence: Mapping[str, Any],
    *,
    at: dt.datetime,
    governance: Mapping[str, Any] | None = None,
    qualitative: Mapping[str, Any] | None = None,
    signoffs: Sequence[Any] = (),
    waivers: Sequence[Any] = (),
    parties: ReviewParties | None = None,
) -> Decision:
    """Evaluate every criterion of ``policy`` and reach GO, NO-GO or PENDING.

    Parameters
    ----------
    policy
        The promotion policy.
    evidence
        The evidence JSON (``workbench.evidence.build_evidence``).
    at
        Decision time (timezone-aware); waivers expiring before ``at``'s date do not count.
    governance
        Governance check results keyed by criterion id or check name
        (``workbench.governance.run_governance``); None: governance criteria are MISSING.
    qualitative
        Questionnaire verdicts keyed by qualitative criterion id; None: those are MISSING.
    signoffs, waivers
        Store records (``Store.list_signoffs`` / ``Store.list_waivers``), oldest first.
        Approvals that break a segregation-of-duties rule do not count (the role shows why);
        a waiver counts only when countersigned by another person (four eyes) on the current
        evidence and policy.
    parties
        Submitter, developers, model-card risk tier and objections of the review
        (``parties_for_review``); None: nobody known, no objections, the default tier.

    Returns
    -------
    Decision
    """
    ev = dict(evidence)
    ev_digest = ev.get("evidence_digest")
    parties = parties or ReviewParties()
    tier = policy.tier_of(parties.card_tier)
    kept, void = counted_signoffs(policy, parties, signoffs, tier=tier, evidence_digest=ev_digest)
    roles = role_signoffs(policy.signoff_roles_for(tier), kept, evidence_digest=ev_digest,
                          policy_digest=policy.digest)
    by_role = {r.role: r for r in roles}
    for record, rule in void:  # say why a role that someone approved still lacks a valid approval
        role = field(record, "role")
        if role in by_role and by_role[role].status in ("missing", "stale"):
            by_role[role] = RoleSignoff(role, "missing", user=field(record, "user"), verdict="approve",
                                        signed_at=str(field(record, "created_at")), void_because=rule)
    roles = tuple(by_role[r.role] for r in roles)
    on = at.date()
    applied: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    results: list[CriterionResult] = []
    for c in policy.criteria_for(tier):
        if c.kind == "qualitative":
            raw = eval_qualitative(c, qualitative)
        elif c.kind == "governance":
            raw = eval_governance(c, governance)
        elif c.kind == "signoff":
            raw = eval_signoff(c, by_role)
        else:
            raw = evaluate_criterion(c, ev)
        results.append(_apply(c, raw, policy, waivers, on, applied, ignored, parties, ev_digest))
    objections = tuple(_objection_dict(o) for o in parties.objections)
    open_ones = [o for o in objections if o["status"] == "open"]
    if open_ones:
        results.append(_objection_result(open_ones))
    blockers = [c for c in results if _blocks(c)]
    if any(c.status == "FAIL" for c in blockers):
        outcome: Outcome = "NO-GO"
    elif blockers:
        outcome = "PENDING"
    else:
        outcome = "GO"
    review: dict[str, Any] = ev["review"] if isinstance(ev.get("review"), dict) else {}
    return Decision(
        outcome=outcome,
        summary=_summary(outcome, results),
        decided_at=at.isoformat(),
        policy={"id": policy.id, "version": policy.version, "digest": policy.digest, "title": policy.title},
        evidence_digest=ev_digest,
        evidence_content_digest=ev.get("digest"),
        review={k: review[k] for k in ("name", "task") if k in review},
        criteria=tuple(results),
        signoffs=roles,
        waivers_applied=tuple(applied),
        waivers_ignored=tuple(ignored),
        risk_tier=tier,
        objections=objections,
    )


def _objection_dict(o: Any) -> dict[str, Any]:
    keys = ("objection_id", "author", "rationale", "created_at", "status", "resolved_by", "resolved_role",
            "resolution", "resolved_at")
    return {k: field(o, k) for k in keys}


def _objection_result(open_ones: list[dict[str, Any]]) -> CriterionResult:
    # Dissent is not a policy criterion: it is a person saying "not yet". It blocks as MISSING
    # (PENDING), never as FAIL, and cannot be waived: only resolving it clears it.
    reason = "; ".join(f"objection {o['objection_id']} by {o['author']}: {o['rationale']}" for o in open_ones)
    return CriterionResult(id="open-objections", kind="objection", severity="blocking",
                           description="No reviewer's objection is left unresolved.", status="MISSING",
                           raw_status="MISSING", reason=f"{len(open_ones)} open: {reason}")


__all__ = ["DECISION_SCHEMA_VERSION", "EXIT_CODES", "Decision", "limit_decision", "Outcome", "RoleSignoff", "decide", "role_signoffs"]
