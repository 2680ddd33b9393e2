"""Objections: a reviewer's blocking dissent on a review, and its resolution.

Any active, signed-in user may object (with a rationale). An open objection keeps the decision
PENDING (``workbench.policy``) until it is resolved: *withdrawn* by its author, or *accepted*
(with a rationale) by a different person acting in a role the policy names (the caller passes
``allowed_roles``; ``workbench.policy.resolve_objection`` does). Every step and every refusal
is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from workbench.auth import User
from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store

ObjectionStatus = Literal["open", "accepted", "withdrawn"]
MAX_RATIONALE = 4000


@dataclass(frozen=True)
class Objection:
    """A blocking objection on a review."""

    objection_id: int
    review_id: str
    author: str
    rationale: str
    created_at: str
    status: ObjectionStatus
    resolved_by: str | None
    resolved_role: str | None
    resolution: str | None
    resolved_at: str | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def _text(value: object, field: str, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{field}: {hint}")
    if len(value) > MAX_RATIONALE:
        raise StoreError(f"{field}: at most {MAX_RATIONALE} characters (got {len(value)})")
    return value.strip()


class ObjectionsMixin:
    """Objection methods; mixed into ``Store``."""

    def add_objection(self: Store, review_id: str, user: User, *, rationale: str) -> Objection:
        """Record ``user``'s blocking objection; audited as ``objection_raised``."""
        if not isinstance(user, User):
            raise StoreError("add_objection: pass the signed-in User")
        self.authorize(user, "object", subject=review_id)
        rationale = _text(rationale, "rationale", "say what is wrong and what would resolve it")
        self._require_review(review_id)
        with self.transaction():
            objection_id = self._insert("objections", {"review_id": review_id, "author": user.name,
                                                       "rationale": rationale, "created_at": self.now(),
                                                       "status": "open"})
            self.audit(user, "objection_raised", review_id, {"objection_id": objection_id, "rationale": rationale},
                       bound=(("objections", (objection_id,)),))
        return self.get_objection(objection_id)

    def get_objection(self: Store, objection_id: int) -> Objection:
        """The objection with this id (StoreError when there is none)."""
        row = self._fetchone("SELECT * FROM objections WHERE objection_id = ?", (int(objection_id),))
        if row is None:
            raise StoreError(f"objection {objection_id} does not exist; list them with `workbench objection list`")
        return Objection(**row)

    def list_objections(self: Store, review_id: str, *, open_only: bool = False) -> list[Objection]:
        """Objections of the review, oldest first."""
        rows = [Objection(**r) for r in self._fetchall(
            "SELECT * FROM objections WHERE review_id = ? ORDER BY objection_id", (review_id,))]
        return [o for o in rows if o.is_open] if open_only else rows

    def resolve_objection(self: Store, objection_id: int, user: User, *, outcome: Literal["accepted", "withdrawn"],
                          rationale: str, role: str | None = None,
                          allowed_roles: tuple[str, ...] = ()) -> Objection:
        """Withdraw (author only) or accept (another person, as one of ``allowed_roles``) an objection.

        Raises
        ------
        PermissionDenied
            (audited) rule ``objection-withdrawn-by-author`` or ``objection-resolved-by-another``,
            a role not among ``allowed_roles``, or a role the user does not hold.
        StoreError
            Unknown or already resolved objection, bad outcome, empty rationale.
        """
        if not isinstance(user, User):
            raise StoreError("resolve_objection: pass the signed-in User")
        objection = self.get_objection(objection_id)
        subject = objection.review_id
        if outcome == "withdrawn":
            self.authorize(user, "object", subject=subject)
            if user.name != objection.author:
                self.deny(user, "withdraw_objection", subject,
                          f"objection-withdrawn-by-author: only {objection.author!r} may withdraw objection "
                          f"{objection_id}; others resolve it by accepting it with a rationale")
        elif outcome == "accepted":
            if user.name == objection.author:
                self.deny(user, "resolve_objection", subject,
                          f"objection-resolved-by-another: {user.name!r} raised objection {objection_id} and cannot "
                          "accept it; withdraw it instead, or ask another approver")
            if role is None or role not in allowed_roles:
                self.deny(user, "resolve_objection", subject,
                          f"objection-resolver-role: resolve objection {objection_id} as one of "
                          f"{', '.join(allowed_roles) or 'no role'} (got {role or 'none'})")
            self.authorize(user, "resolve_objection", role=role, subject=subject)
        else:
            raise StoreError(f"outcome {outcome!r}: use 'accepted' or 'withdrawn'")
        rationale = _text(rationale, "rationale", "say why the objection is resolved")
        if not objection.is_open:
            raise StoreError(f"objection {objection_id} is already {objection.status} (by {objection.resolved_by})")
        with self.transaction():
            self._execute("UPDATE objections SET status = ?, resolved_by = ?, resolved_role = ?, resolution = ?, "
                          "resolved_at = ? WHERE objection_id = ? AND status = 'open'",
                          (outcome, user.name, role if outcome == "accepted" else None, rationale, self.now(),
                           objection_id))
            self.audit(user, f"objection_{outcome}", subject,
                       {"objection_id": objection_id, "role": role, "rationale": rationale},
                       bound=(("objections", (objection_id,)),))
        return self.get_objection(objection_id)


__all__ = ["Objection", "ObjectionStatus", "ObjectionsMixin"]
