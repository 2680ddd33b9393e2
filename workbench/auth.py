"""Identities, roles, password hashing and the permission rules.

This module is pure: it decides, it does not write. :meth:`workbench.store.Store.authorize`
applies :func:`permission_problem` and audits every refusal.

Rules
-----
- A disabled user may do nothing.
- Only a user holding role ``R`` may ``sign_off``, ``reject``, ``waive``,
  ``countersign_waiver``, ``resolve_objection`` or ``revoke_waiver`` as ``R`` (``admin`` may
  also revoke a waiver). Segregation of duties (who may *not*, although holding the role) is
  the policy's business: :mod:`workbench.policy` checks it.
- Only ``admin`` may ``manage_users``.
- Any active user may ``save_response`` / ``submit_response`` / ``revise_response`` for
  their *own* responses (``subject`` is the reviewer name).
- Any other action (``object``, ``manage_tokens`` (owner or admin, checked by the store), ``save_evidence``, ``save_decision``, ``export``, ``save_document``,
  ``monitoring``, ``acknowledge_alert``, ``view``) needs an active user; when ``role`` is
  given the user must hold it.

Passwords are hashed with ``hashlib.scrypt`` (n=2**14, r=8, p=1) and a random 16-byte
salt per user, stored as ``scrypt$n$r$p$salt_hex$hash_hex``; the clear text is never
stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from workbench.errors import StoreError

Role = Literal[
    "reviewer",
    "data_scientist",
    "product_owner",
    "data_governance",
    "security",
    "legal",
    "operations",
    "validator",
    "admin",
]
ROLES: tuple[str, ...] = get_args(Role)

#: Roles whose holders sign off a promotion (the policy decides which are required).
APPROVER_ROLES: tuple[str, ...] = (
    "product_owner",
    "data_scientist",
    "data_governance",
    "security",
    "legal",
    "operations",
    "validator",
)

#: Roles that must be independent of the review's submitter and the model's developer
#: (the policy's ``independence.independent_roles`` defaults to these).
INDEPENDENT_ROLES: tuple[Role, ...] = ("validator", "data_governance", "security", "legal")

#: What an API token (``WORKBENCH_TOKEN``) may be scoped to: machine operations only. A token
#: never signs off, waives, objects or answers a questionnaire: those need a person's password.
TOKEN_SCOPES: tuple[str, ...] = ("monitor", "report", "alerts")

Action = Literal[
    "sign_off",
    "reject",
    "waive",
    "countersign_waiver",
    "revoke_waiver",
    "manage_users",
    "manage_tokens",
    "object",
    "resolve_objection",
    "save_response",
    "submit_response",
    "revise_response",
    "save_evidence",
    "save_decision",
    "export",
    "save_document",
    "monitoring",
    "acknowledge_alert",
    "view",
    "register_policy",
    "bind_audit",
]
ACTIONS: tuple[str, ...] = get_args(Action)

_ROLE_ACTIONS = {"sign_off", "reject", "waive", "countersign_waiver", "resolve_objection"}
_OWN_ACTIONS = {"save_response", "submit_response", "revise_response"}

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    """A local identity. ``roles`` is sorted; ``active`` is False once disabled."""

    name: str
    display_name: str
    roles: tuple[str, ...]
    active: bool
    has_password: bool
    created_at: str
    updated_at: str

    def has_role(self, role: str) -> bool:
        """True when the user holds ``role`` (being disabled does not remove roles)."""
        return role in self.roles

    @property
    def label(self) -> str:
        """``"alice (product_owner)"``: how the UI names a user."""
        return f"{self.name} ({', '.join(self.roles) or 'no role'})"


def validate_roles(roles: object, *, field: str = "roles") -> tuple[str, ...]:
    """Return ``roles`` sorted and de-duplicated, or raise StoreError naming bad ones."""
    if isinstance(roles, str):
        roles = [roles]
    values = list(roles)  # type: ignore[call-overload]
    if not values:
        raise StoreError(f"{field}: give at least one role; known roles: {', '.join(ROLES)}")
    unknown = [r for r in values if r not in ROLES]
    if unknown:
        raise StoreError(
            f"{field}: unknown role(s) {', '.join(map(repr, unknown))}; known roles: {', '.join(ROLES)}"
        )
    return tuple(sorted(set(values)))


def hash_password(password: str) -> str:
    """Hash ``password`` with scrypt and a fresh random salt.

    Examples
    --------
    >>> h = hash_password("correct horse")
    >>> h.startswith("scrypt$") and "correct" not in h
    True
    >>> verify_password("correct horse", h), verify_password("wrong horse", h)
    (True, False)
    """
    if not isinstance(password, str) or len(password) < _MIN_PASSWORD:
        raise StoreError(f"password: use at least {_MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


_DUMMY_HASH: list[str] = []


def dummy_hash() -> str:
    """A fixed-cost scrypt hash of a random secret, checked when there is no real hash.

    Verifying against it costs the same key derivation as a real check, so a login for an
    unknown user (or one without a password) takes as long as a wrong password for a known one.
    """
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(24)))
    return _DUMMY_HASH[0]


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string.

    With no stored hash the password is still run through the same key derivation (against
    :func:`dummy_hash`) and the answer is False: the time does not tell whether a hash exists.
    """
    if not isinstance(password, str):
        password = ""
    if not stored:
        verify_password(password, dummy_hash())
        return False
    try:
        scheme, n, r, p, salt_hex, key_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        key = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(key_hex) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key.hex(), key_hex)


def permission_problem(
    user: User, action: str, *, role: str | None = None, subject: str | None = None
) -> str | None:
    """Why ``user`` may not do ``action`` (a sentence), or None when it is allowed.

    Examples
    --------
    >>> u = User("dave", "Dave", ("reviewer",), True, True, "", "")
    >>> permission_problem(u, "sign_off", role="security")
    "user 'dave' does not hold role 'security' (holds: reviewer) and cannot sign_off as security"
    >>> permission_problem(u, "save_response", subject="dave") is None
    True
    """
    if action not in ACTIONS:
        raise StoreError(f"action: unknown action {action!r}; known actions: {', '.join(ACTIONS)}")
    if role is not None and role not in ROLES:
        raise StoreError(f"role: unknown role {role!r}; known roles: {', '.join(ROLES)}")
    if not user.active:
        return f"user {user.name!r} is disabled and cannot {action}"
    held = ", ".join(user.roles) or "none"
    if action in _ROLE_ACTIONS or action == "revoke_waiver":
        if role is None:
            raise StoreError(f"role: {action} needs the role it is done as")
        if user.has_role(role) or (action == "revoke_waiver" and user.has_role("admin")):
            return None
        return (
            f"user {user.name!r} does not hold role {role!r} (holds: {held}) "
            f"and cannot {action} as {role}"
        )
    if action == "manage_users":
        return None if user.has_role("admin") else (
            f"user {user.name!r} is not an admin (holds: {held}) and cannot manage users"
        )
    if action in _OWN_ACTIONS:
        if subject is not None and subject != user.name:
            return f"user {user.name!r} cannot {action} on behalf of {subject!r}"
        return None
    if role is not None and not user.has_role(role):
        return f"user {user.name!r} does not hold role {role!r} (holds: {held}) and cannot {action}"
    return None


__all__ = [
    "ACTIONS",
    "APPROVER_ROLES",
    "INDEPENDENT_ROLES",
    "ROLES",
    "Action",
    "Role",
    "User",
    "hash_password",
    "permission_problem",
    "validate_roles",
    "verify_password",
]
