"""Segregation of duties: who may approve, countersign a waiver or resolve an objection.

The policy's ``independence`` block names the rules (strict by default); each refusal and
each sign-off the gate does not count quotes the rule's name:

* ``distinct-signers`` - each required role is approved by a different person; a person's
  second approval (for another required role, same evidence and policy) does not count;
* ``submitter-not-independent`` - the review's submitter and the model card's developer(s)
  cannot approve an independent role (``validator``, ``data_governance``, ``security``,
  ``legal`` unless the policy says otherwise);
* ``waiver-grantor-not-beneficiary`` - the submitter/developer, whose request for sign-off a
  waiver unblocks, cannot countersign (grant) that waiver;
* ``four-eyes-waiver`` (always on) - a waiver applies only once a person other than its
  proposer countersigns it in a role the criterion's ``waivable_by`` names;
* objections - an open objection keeps the decision PENDING until its author withdraws it or
  another person, acting in a role of ``objections.resolvable_by`` (default: the sign-off
  roles), accepts it with a rationale.

Rejections are never voided: a "no" from a holder of the role always counts.
The checks run twice: when a person acts (``record_signoff`` and friends refuse, audited) and
when the gate decides (``counted_signoffs`` drops what breaks a rule, with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from workbench.policy._signoffs import field

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.auth import User
    from workbench.policy._policy import Policy
    from workbench.store import Objection, SignOff, Store, Waiver


@dataclass(frozen=True)
class ReviewParties:
    """Who stands behind a review (and the open objections on it): what the duty rules need."""

    submitter: str | None = None
    developers: tuple[str, ...] = ()
    card_tier: Any = None
    objections: tuple[Objection, ...] = ()

    def interest(self, user: str) -> str | None:
        """Why ``user`` is not independent of the review (None when they are)."""
        if self.submitter and user == self.submitter:
            return "submitted the review"
        if user in self.developers:
            return "is the model's developer named in the model card"
        return None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, (list, tuple)):
        return tuple(v.strip() for v in value if isinstance(v, str) and v.strip())
    return ()


def parties_for_review(review: ReviewData, *, store: Store | None = None, review_id: str | None = None) -> ReviewParties:
    """Submitter (the store's ``reviews.created_by``), the model card's ``developer``/``developers``
    and ``risk_tier``, and the review's objections.

    The model card can be edited in the app, so an edit must not lower the bar: the developers
    are those of the file *and* the stored copy, and the risk tier is the higher risk of the two.
    """
    from workbench.governance import load_model_card, review_documents

    m = review.manifest
    cards: list[Any] = []
    if m.model_card is not None and m.resolve(m.model_card).is_file():
        cards.append(load_model_card(m.resolve(m.model_card)))
    merged, _ = review_documents(review, store=store, review_id=review_id)
    cards.append(merged)
    cards = [c for c in cards if isinstance(c, dict)]
    developers = tuple(dict.fromkeys(n for c in cards for key in ("developer", "developers") for n in _names(c.get(key))))
    tiers = [c.get("risk_tier") for c in cards if c.get("risk_tier") not in (None, "")]
    card_tier = min(tiers, key=lambda t: str(t)) if tiers else None  # "1" (high) sorts first
    submitter = objections = None
    if store is not None and review_id is not None:
        record = store.get_review(review_id)
        submitter = getattr(record, "created_by", None)
        objections = tuple(store.list_objections(review_id))
    return ReviewParties(submitter=submitter, developers=developers, card_tier=card_tier,
                         objections=objections or ())


def _fresh(r: Any, evidence_digest: str | None, policy_digest: str) -> bool:
    return field(r, "evidence_digest") == evidence_digest and field(r, "policy_digest") == policy_digest


def _user(r: Any) -> str | None:
    u = field(r, "user", "user_name", "username", "actor")
    return u if isinstance(u, str) or u is None else field(u, "name")


def approval_violation(policy: Policy, parties: ReviewParties, counted: list[Any], *, user: str, role: str,
                       required: tuple[str, ...], evidence_digest: str | None) -> str | None:
    """The rule an approval by ``user`` as ``role`` breaks, given the approvals ``counted`` so far."""
    rules = policy.independence
    why = parties.interest(user)
    if rules.submitter_not_independent and role in rules.independent_roles and why:
        return (f"submitter-not-independent: {user!r} {why} and cannot approve the independent role {role}; "
                "ask someone independent of the model")
    if rules.distinct_signers and role in required:
        for r in counted:
            other = field(r, "role")
            if _user(r) == user and other != role and other in required and field(r, "verdict") == "approve":
                return (f"distinct-signers: {user!r} already approved {other} on evidence "
                        f"{str(evidence_digest)[:12]}…; each required role needs a different person")
    return None


def counted_signoffs(policy: Policy, parties: ReviewParties, signoffs: Any, *, tier: str | None,
                     evidence_digest: str | None) -> tuple[list[Any], list[tuple[Any, str]]]:
    """(sign-offs that count, [(sign-off, rule it breaks)]): the gate's re-check, oldest first."""
    required = policy.signoff_roles_for(tier)
    kept: list[Any] = []
    void: list[tuple[Any, str]] = []
    for r in list(signoffs or ()):
        if field(r, "verdict") == "approve" and _fresh(r, evidence_digest, policy.digest):
            problem = approval_violation(policy, parties, [k for k in kept if _fresh(k, evidence_digest, policy.digest)],
                                         user=_user(r) or "?", role=field(r, "role"), required=required,
                                         evidence_digest=evidence_digest)
            if problem is not None:
                void.append((r, problem))
                continue
        kept.append(r)
    return kept, void


def countersign_violation(policy: Policy, parties: ReviewParties, *, user: str) -> str | None:
    """The rule a countersignature (the grant of a waiver) by ``user`` breaks."""
    why = parties.interest(user)
    if policy.independence.waiver_grantor_not_beneficiary and why:
        return (f"waiver-grantor-not-beneficiary: {user!r} {why}, whose request for sign-off the waiver unblocks, "
                "and cannot grant it")
    return None


def waiver_duty_problem(w: Any, policy: Policy, parties: ReviewParties, *, allowed: tuple[str, ...],
                        evidence_digest: str | None) -> str | None:
    """Why a waiver does not count under the four-eyes and independence rules (None: it may)."""
    by, role = field(w, "countersigned_by"), field(w, "countersigned_role")
    if not by:
        return f"proposed by {_user(w)}, not yet countersigned (four-eyes-waiver)"
    if by == _user(w):
        return f"four-eyes-waiver: proposed and countersigned by the same person ({by})"
    if role not in allowed:
        return f"countersigned as {role}, but the policy lets only {', '.join(allowed) or 'nobody'} waive it"
    if field(w, "evidence_digest") != evidence_digest:
        return "stale: the evidence changed since it was granted; propose and countersign it again"
    if field(w, "policy_digest") != policy.digest:
        return "stale: the policy changed since it was granted; propose and countersign it again"
    return countersign_violation(policy, parties, user=by)


# ---------------------------------------------------------------- checked writes
def record_signoff(store: Store, policy: Policy, parties: ReviewParties, review_id: str, user: User, role: str, *,
                   verdict: Literal["approve", "reject"], comment: str, evidence_digest: str) -> SignOff:
    """``store.sign_off`` after the duty rules; a violation is refused (audited) with the rule's name."""
    if verdict == "approve":
        tier = policy.tier_of(parties.card_tier)
        required = policy.signoff_roles_for(tier)
        kept, _ = counted_signoffs(policy, parties, store.list_signoffs(review_id), tier=tier,
                                   evidence_digest=evidence_digest)
        fresh = [k for k in kept if _fresh(k, evidence_digest, policy.digest)]
        problem = approval_violation(policy, parties, fresh, user=user.name, role=role, required=required,
                                     evidence_digest=evidence_digest)
        if problem is not None:
            store.authorize(user, "sign_off", role=role, subject=review_id)  # holding the role is checked first
            store.deny(user, "sign_off", review_id, problem)
    return store.sign_off(review_id, user, role, verdict=verdict, comment=comment,
                          evidence_digest=evidence_digest, policy_digest=policy.digest)


def record_countersign(store: Store, policy: Policy, parties: ReviewParties, waiver_id: int, user: User, role: str, *,
                       evidence_digest: str) -> Waiver:
    """``store.countersign_waiver`` after the duty rules (four eyes, grantor not beneficiary)."""
    waiver = store.get_waiver(waiver_id)
    problem = countersign_violation(policy, parties, user=user.name)
    if problem is not None:
        store.deny(user, "countersign_waiver", waiver.review_id, problem)
    return store.countersign_waiver(waiver_id, user, role, allowed_roles=policy.waiver_roles(waiver.criterion_id),
                                    evidence_digest=evidence_digest, policy_digest=policy.digest)


def resolve_objection(store: Store, policy: Policy, parties: ReviewParties, objection_id: int, user: User, *,
                      outcome: Literal["accepted", "withdrawn"], rationale: str, role: str | None = None) -> Objection:
    """``store.resolve_objection`` with the roles the policy names for this review's tier."""
    tier = policy.tier_of(parties.card_tier)
    return store.resolve_objection(objection_id, user, outcome=outcome, rationale=rationale, role=role,
                                   allowed_roles=policy.objection_roles(tier))


__all__ = [
    "ReviewParties",
    "approval_violation",
    "counted_signoffs",
    "countersign_violation",
    "parties_for_review",
    "record_countersign",
    "record_signoff",
    "resolve_objection",
    "waiver_duty_problem",
]
