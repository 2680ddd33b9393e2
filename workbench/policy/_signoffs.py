"""Sign-off freshness and waiver applicability (pure functions over store records).

Records are read by attribute (the store's frozen ``SignOff`` / ``Waiver`` dataclasses) or by
key (plain dicts, e.g. from an exported decision), so the engine runs without a store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

SignoffState = Literal["fresh", "stale", "missing", "rejected"]


def field(record: Any, *names: str, default: Any = None) -> Any:
    """First present attribute/key of ``record`` among ``names``."""
    for n in names:
        if isinstance(record, dict):
            if n in record:
                return record[n]
        elif hasattr(record, n):
            return getattr(record, n)
    return default


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        return dt.datetime.fromisoformat(text).date() if "T" in text or " " in text else dt.date.fromisoformat(text)
    except ValueError:
        return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass(frozen=True)
class RoleSignoff:
    """Where one required role stands: fresh (approved this evidence+policy), stale, missing, rejected."""

    role: str
    status: SignoffState
    user: str | None = None
    verdict: str | None = None
    comment: str | None = None
    signed_at: str | None = None
    stale_because: str | None = None
    void_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "void_because": self.void_because,
            "role": self.role,
            "status": self.status,
            "user": self.user,
            "verdict": self.verdict,
            "comment": self.comment,
            "signed_at": self.signed_at,
            "stale_because": self.stale_because,
        }


def _user_name(record: Any) -> str | None:
    u = field(record, "user", "user_name", "username", "actor")
    return field(u, "name", default=u) if u is not None and not isinstance(u, str) else u


def role_signoffs(
    roles: tuple[str, ...], signoffs: Any, *, evidence_digest: str | None, policy_digest: str
) -> tuple[RoleSignoff, ...]:
    """Status per required role.

    Only a sign-off whose evidence digest and policy digest both match counts (fresh); for
    each user the latest fresh sign-off is their vote. A fresh rejection by anyone holding
    the role wins over approvals (the role is ``rejected``); earlier sign-offs on other
    evidence or another policy make the role ``stale``; none at all is ``missing``.
    """
    out: list[RoleSignoff] = []
    records = list(signoffs or ())
    for role in roles:
        mine = [r for r in records if field(r, "role") == role]
        fresh = [
            r for r in mine
            if field(r, "evidence_digest") == evidence_digest and field(r, "policy_digest") == policy_digest
        ]
        latest: dict[str, Any] = {}
        for r in fresh:  # records come oldest first; the last one per user is their vote
            latest[_user_name(r) or "?"] = r
        votes = [latest[u] for u in sorted(latest)]
        rejects = [r for r in votes if field(r, "verdict") == "reject"]
        approves = [r for r in votes if field(r, "verdict") == "approve"]
        pick, state = (rejects[0], "rejected") if rejects else (approves[0], "fresh") if approves else (None, None)
        if pick is not None:
            out.append(_role(role, state, pick))  # type: ignore[arg-type]
        elif mine:
            last = mine[-1]
            why = "evidence changed" if field(last, "evidence_digest") != evidence_digest else "policy changed"
            out.append(_role(role, "stale", last, stale_because=why))
        else:
            out.append(RoleSignoff(role, "missing"))
    return tuple(out)


def _role(role: str, state: SignoffState, r: Any, *, stale_because: str | None = None) -> RoleSignoff:
    return RoleSignoff(
        role=role,
        status=state,
        user=_user_name(r),
        verdict=field(r, "verdict"),
        comment=field(r, "comment"),
        signed_at=_iso(field(r, "created_at", "signed_at", "ts", "at")),
        stale_because=stale_because,
    )


def waiver_to_dict(w: Any) -> dict[str, Any]:
    return {
        "id": field(w, "id", "waiver_id"),
        "criterion_id": field(w, "criterion_id", "criterion"),
        "user": _user_name(w),
        "role": field(w, "role"),
        "rationale": field(w, "rationale"),
        "expires": _iso(field(w, "expires", "expires_on")),
        "granted_at": _iso(field(w, "created_at", "granted_at", "ts")),
        "evidence_digest": field(w, "evidence_digest"),
        "countersigned_by": field(w, "countersigned_by"),
        "countersigned_role": field(w, "countersigned_role"),
    }


def waiver_problem(w: Any, *, allowed_roles: tuple[str, ...], max_days: int | None, on: dt.date) -> str | None:
    """Why a waiver does not count by its dates (None when it does).

    Who granted it (four eyes, the countersigner's role, independence) and whether it is stale
    is ``waiver_duty_problem``'s job; ``allowed_roles`` is kept for callers of this signature.
    """
    if field(w, "revoked", default=False) or field(w, "revoked_at") is not None:
        return "revoked"
    if not allowed_roles:
        return "the criterion is not waivable"
    expires = _as_date(field(w, "expires", "expires_on"))
    if expires is None:
        return "has no valid expiry date"
    if expires < on:
        return f"expired on {expires.isoformat()}"
    granted = _as_date(field(w, "created_at", "granted_at", "ts"))
    if max_days is not None and granted is not None and (expires - granted).days > max_days:
        return f"runs {(expires - granted).days} days, longer than the policy's {max_days}"
    return None


__all__ = ["RoleSignoff", "SignoffState", "field", "role_signoffs", "waiver_problem", "waiver_to_dict"]
