"""Sign-offs and waivers: decisions people make on behalf of a role.

Both always take a :class:`~workbench.auth.User` and call ``Store.authorize`` first, so
only a holder of role R signs, rejects or waives as R; a refusal is audited.
Each records the evidence digest and policy digest it was made against, so a later
re-run with different inputs makes the sign-off visibly stale (the decision engine checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from workbench.auth import User
from workbench.errors import StoreError
from workbench.text import check_text

if TYPE_CHECKING:
    from workbench.store._store import Store

Verdict = Literal["approve", "reject"]


@dataclass(frozen=True)
class SignOff:
    """A user's approve/reject for one role on one review."""

    signoff_id: int
    review_id: str
    user: str
    role: str
    verdict: Verdict
    comment: str
    evidence_digest: str
    policy_digest: str
    created_at: str


@dataclass(frozen=True)
class Waiver:
    """An accepted exception to one policy criterion, with a rationale and an expiry date."""

    waiver_id: int
    review_id: str
    user: str
    role: str
    criterion_id: str
    rationale: str
    expires: str
    evidence_digest: str
    policy_digest: str
    created_at: str
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None
    countersigned_by: str | None = None
    countersigned_role: str | None = None
    countersigned_at: str | None = None

    def is_active(self, on: date) -> bool:
        """Countersigned, not revoked and not expired on ``on`` (the expiry day itself still counts)."""
        return (self.countersigned_by is not None and self.revoked_at is None
                and date.fromisoformat(self.expires) >= on)

    @property
    def state(self) -> str:
        """``proposed`` (awaiting a countersignature), ``countersigned`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "countersigned" if self.countersigned_by is not None else "proposed"


def _need_user(user: Any, what: str) -> User:
    if not isinstance(user, User):
        raise StoreError(f"{what}: pass the signed-in User (from authenticate/get_user), not {user!r}")
    return user


def _need_text(value: Any, field: str, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{field}: {hint}")
    return check_text(value.strip(), what=field)


class SignoffsMixin:
    """Sign-off and waiver methods; mixed into ``Store``."""

    def sign_off(self: Store, review_id: str, user: User, role: str, *, verdict: Verdict, comment: str,
                 evidence_digest: str, policy_digest: str) -> SignOff:
        """Record ``user``'s approve/reject as ``role``.

        Raises
        ------
        PermissionDenied
            ``user`` does not hold ``role`` or is disabled (the attempt is audited). Segregation
            of duties is checked before, by ``workbench.policy.record_signoff``.
        StoreError
            Unknown review, bad verdict, missing digests.
        """
        user = _need_user(user, "sign_off user")
        if verdict not in ("approve", "reject"):
            raise StoreError(f"verdict {verdict!r}: use 'approve' or 'reject'")
        self.authorize(user, "sign_off" if verdict == "approve" else "reject", role=role, subject=review_id)
        comment = check_text(comment.strip(), what="comment") if isinstance(comment, str) else ""
        if verdict == "reject" and not comment:
            raise StoreError("comment: a rejection needs a comment saying what must change")
        _need_text(evidence_digest, "evidence_digest", "sign off against the evidence digest shown")
        _need_text(policy_digest, "policy_digest", "sign off against the policy digest shown")
        self._require_review(review_id)
        with self.transaction():
            now = self.now()
            signoff_id = self._insert("signoffs", {"review_id": review_id, "user": user.name, "role": role,
                                                   "verdict": verdict, "comment": comment,
                                                   "evidence_digest": evidence_digest,
                                                   "policy_digest": policy_digest, "created_at": now})
            self.audit(user, "sign_off", review_id,
                       {"signoff_id": signoff_id, "role": role, "verdict": verdict, "comment": comment,
                        "evidence_digest": evidence_digest, "policy_digest": policy_digest},
                       bound=(("signoffs", (signoff_id,)),))
        return SignOff(signoff_id, review_id, user.name, role, verdict, comment, evidence_digest,
                       policy_digest, now)

    def list_signoffs(self: Store, review_id: str) -> list[SignOff]:
        """Every sign-off of the review, oldest first (the newest per role counts)."""
        return [SignOff(**r) for r in
                self._fetchall("SELECT * FROM signoffs WHERE review_id = ? ORDER BY signoff_id", (review_id,))]

    def add_waiver(self: Store, review_id: str, user: User, role: str, *, criterion_id: str, rationale: str,
                   expires: date | str, evidence_digest: str, policy_digest: str) -> Waiver:
        """Propose waiving ``criterion_id`` as ``role`` until ``expires`` (a date after today).

        The waiver applies only once a different person countersigns it
        (:meth:`countersign_waiver`); audited as ``waiver_added`` (the proposal).
        """
        user = _need_user(user, "waiver user")
        self.authorize(user, "waive", role=role, subject=review_id)
        criterion_id = _need_text(criterion_id, "criterion_id", "name the policy criterion being waived")
        rationale = _need_text(rationale, "rationale", "explain why the criterion may be waived")
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError as exc:
                raise StoreError(f"expires {expires!r}: use an ISO date such as 2027-03-31") from exc
        if not isinstance(expires, date):
            raise StoreError(f"expires: expected a date, got {type(expires).__name__}")
        today = date.fromisoformat(self.now()[:10])
        if expires <= today:
            raise StoreError(f"expires {expires.isoformat()}: a waiver must expire after today ({today})")
        _need_text(evidence_digest, "evidence_digest", "waive against the evidence digest shown")
        _need_text(policy_digest, "policy_digest", "waive against the policy digest shown")
        self._require_review(review_id)
        with self.transaction():
            now = self.now()
            waiver_id = self._insert("waivers", {"review_id": review_id, "user": user.name, "role": role,
                                                 "criterion_id": criterion_id, "rationale": rationale,
                                                 "expires": expires.isoformat(),
                                                 "evidence_digest": evidence_digest,
                                                 "policy_digest": policy_digest, "created_at": now})
            self.audit(user, "waiver_added", review_id,
                       {"waiver_id": waiver_id, "role": role, "criterion_id": criterion_id,
                        "rationale": rationale, "expires": expires.isoformat(),
                        "evidence_digest": evidence_digest, "policy_digest": policy_digest},
                       bound=(("waivers", (waiver_id,)),))
        return self._waiver(waiver_id)

    def countersign_waiver(self: Store, waiver_id: int, user: User, role: str, *, allowed_roles: tuple[str, ...],
                           evidence_digest: str, policy_digest: str) -> Waiver:
        """Countersign a proposed waiver as ``role`` (four eyes): it applies from now on.

        Raises
        ------
        PermissionDenied
            (audited) ``user`` proposed it (rule ``four-eyes-waiver``), does not hold ``role``, or
            ``role`` is not among ``allowed_roles`` (the criterion's ``waivable_by``).
            Also (audited) revoked or already countersigned, or proposed against other evidence
            or another policy (stale: propose it again).
        """
        user = _need_user(user, "countersign user")
        waiver = self._waiver(waiver_id)
        self.authorize(user, "countersign_waiver", role=role, subject=waiver.review_id)
        if user.name == waiver.user:
            self.deny(user, "countersign_waiver", waiver.review_id,
                      f"four-eyes-waiver: {user.name!r} proposed waiver {waiver_id} and cannot also countersign it; "
                      "another holder of a waiving role must")
        if role not in allowed_roles:
            self.deny(user, "countersign_waiver", waiver.review_id,
                      f"waivable-by: {waiver.criterion_id} may be waived only by {', '.join(allowed_roles) or 'nobody'}, "
                      f"not {role}")
        # Refusals below are audited too (deny), in the app as in the CLI.
        if waiver.revoked_at is not None:
            self.deny(user, "countersign_waiver", waiver.review_id,
                      f"waiver {waiver_id} was revoked at {waiver.revoked_at}")
        if waiver.countersigned_by is not None:
            self.deny(user, "countersign_waiver", waiver.review_id,
                      f"waiver {waiver_id} was already countersigned by {waiver.countersigned_by}")
        if (waiver.evidence_digest, waiver.policy_digest) != (evidence_digest, policy_digest):
            what = "evidence" if waiver.evidence_digest != evidence_digest else "policy"
            self.deny(user, "countersign_waiver", waiver.review_id,
                      f"waiver {waiver_id} is stale: the {what} changed since it was proposed; "
                      "propose it again on the current evidence and policy")
        with self.transaction():
            self._execute("UPDATE waivers SET countersigned_by = ?, countersigned_role = ?, countersigned_at = ? "
                          "WHERE waiver_id = ? AND countersigned_by IS NULL",
                          (user.name, role, self.now(), waiver.waiver_id))
            self.audit(user, "waiver_countersigned", waiver.review_id,
                       {"waiver_id": waiver.waiver_id, "role": role, "criterion_id": waiver.criterion_id},
                       bound=(("waivers", (waiver.waiver_id,)),))
        return self._waiver(waiver_id)

    def get_waiver(self: Store, waiver_id: int) -> Waiver:
        """The waiver with this id (StoreError when there is none)."""
        return self._waiver(waiver_id)

    def _waiver(self: Store, waiver_id: int) -> Waiver:
        row = self._fetchone("SELECT * FROM waivers WHERE waiver_id = ?", (int(waiver_id),))
        if row is None:
            raise StoreError(f"waiver {waiver_id} does not exist")
        return Waiver(**row)

    def list_waivers(self: Store, review_id: str, *, active_only: bool = False,
                     on: date | None = None) -> list[Waiver]:
        """Waivers of the review, oldest first; ``active_only`` drops revoked and expired ones."""
        rows = [Waiver(**r) for r in
                self._fetchall("SELECT * FROM waivers WHERE review_id = ? ORDER BY waiver_id", (review_id,))]
        if active_only:
            day = on or date.fromisoformat(self.now()[:10])
            rows = [w for w in rows if w.is_active(day)]
        return rows

    def revoke_waiver(self: Store, waiver_id: int, user: User, *, reason: str) -> Waiver:
        """Revoke a waiver (a holder of its role, or an admin)."""
        user = _need_user(user, "revoke_waiver user")
        waiver = self._waiver(waiver_id)
        self.authorize(user, "revoke_waiver", role=waiver.role, subject=waiver.review_id)
        reason = _need_text(reason, "reason", "say why the waiver is revoked")
        if waiver.revoked_at is not None:
            raise StoreError(f"waiver {waiver_id} was already revoked at {waiver.revoked_at}")
        with self.transaction():
            self._execute("UPDATE waivers SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                          "WHERE waiver_id = ?", (self.now(), user.name, reason, waiver.waiver_id))
            self.audit(user, "waiver_revoked", waiver.review_id,
                       {"waiver_id": waiver.waiver_id, "criterion_id": waiver.criterion_id, "reason": reason},
                       bound=(("waivers", (waiver.waiver_id,)),))
        return self._waiver(waiver_id)


__all__ = ["SignOff", "SignoffsMixin", "Verdict", "Waiver"]
