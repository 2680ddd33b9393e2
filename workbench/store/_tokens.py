"""API tokens for pipelines (``WORKBENCH_TOKEN``): hashed, scoped, expiring, revocable, audited.

A token reads ``wbt_<id>_<secret>``. Only the sha256 of the secret is stored (the secret has
256 bits of entropy, so a plain hash is enough: nothing to brute-force). Scopes come from
:data:`workbench.auth.TOKEN_SCOPES` (machine operations: monitor, report, alerts); a token
never signs off, waives, objects or answers a questionnaire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from workbench.auth import TOKEN_SCOPES, User
from workbench.errors import PermissionDenied, StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store

_TOKEN = re.compile(r"^wbt_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class ApiToken:
    """A stored token (never its secret)."""

    token_id: str
    user: str
    scopes: tuple[str, ...]
    expires: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None

    def state(self, today: date) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at:
            return "revoked"
        return "expired" if date.fromisoformat(self.expires) < today else "active"


def _token(row: dict[str, Any]) -> ApiToken:
    return ApiToken(row["token_id"], row["user"], tuple(json.loads(row["scopes"])), row["expires"],
                    row["created_at"], row["created_by"], row["revoked_at"], row["revoked_by"])


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def validate_scopes(scopes: Any) -> tuple[str, ...]:
    """Sorted, de-duplicated scopes; StoreError naming unknown ones."""
    values = [s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes) if s.strip()]
    if not values:
        raise StoreError(f"--scope: give at least one scope of {', '.join(TOKEN_SCOPES)}")
    unknown = [s for s in values if s not in TOKEN_SCOPES]
    if unknown:
        raise StoreError(f"--scope: unknown scope(s) {', '.join(map(repr, unknown))}; a token may only have "
                         f"{', '.join(TOKEN_SCOPES)} (signing, waiving and answering need a person's password)")
    return tuple(sorted(set(values)))


class TokensMixin:
    """API token methods; mixed into ``Store``."""

    def create_token(self: Store, owner: str, scopes: Iterable[str] | str, *, expires: date,
                     actor: User) -> tuple[str, ApiToken]:
        """Issue a token for ``owner``; returns (the token text, shown once, the record).

        ``actor`` must be ``owner`` or an admin, signed in with a password (the CLI refuses a
        token-authenticated actor). Audited as ``token_created`` (never the secret).
        """
        if not isinstance(actor, User):
            raise StoreError("create_token: pass the signed-in User")
        scope_tuple = validate_scopes(scopes)
        target = self.require_user(owner)
        if actor.name != target.name:
            self.authorize(actor, "manage_users", subject=f"user:{owner}")
        else:
            self.authorize(actor, "manage_tokens", subject=f"user:{owner}")
        today = date.fromisoformat(self.now()[:10])
        if not isinstance(expires, date) or expires <= today:
            raise StoreError(f"--expires {expires}: a token must expire after today ({today})")
        if (expires - today).days > MAX_TOKEN_DAYS:
            raise StoreError(f"--expires {expires}: a token may live at most {MAX_TOKEN_DAYS} days")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.transaction():
            now = self.now()
            self._insert("api_tokens", {"token_id": token_id, "user": target.name,
                                        "scopes": json.dumps(list(scope_tuple)), "token_hash": _hash(secret),
                                        "expires": expires.isoformat(), "created_at": now,
                                        "created_by": actor.name})
            self.audit(actor, "token_created", f"user:{target.name}",
                       {"token_id": token_id, "scopes": list(scope_tuple), "expires": expires.isoformat()})
        return f"wbt_{token_id}_{secret}", self.get_token(token_id)

    def get_token(self: Store, token_id: str) -> ApiToken:
        """The token record with this id (never its secret)."""
        row = self._fetchone("SELECT * FROM api_tokens WHERE token_id = ?", (token_id,))
        if row is None:
            raise StoreError(f"token {token_id!r} does not exist; list them with `workbench tokens list`")
        return _token(row)

    def list_tokens(self: Store, *, user: str | None = None) -> list[ApiToken]:
        """Tokens (of ``user`` when given), oldest first."""
        if user is None:
            rows = self._fetchall("SELECT * FROM api_tokens ORDER BY created_at")
        else:
            rows = self._fetchall("SELECT * FROM api_tokens WHERE \"user\" = ? ORDER BY created_at", (user,))
        return [_token(r) for r in rows]

    def revoke_token(self: Store, token_id: str, *, actor: User) -> ApiToken:
        """Revoke a token (its owner or an admin); audited as ``token_revoked``."""
        token = self.get_token(token_id)
        if actor.name != token.user:
            self.authorize(actor, "manage_users", subject=f"user:{token.user}")
        if token.revoked_at:
            raise StoreError(f"token {token_id} was already revoked at {token.revoked_at}")
        with self.transaction():
            self._execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                          (self.now(), actor.name, token_id))
            self.audit(actor, "token_revoked", f"user:{token.user}", {"token_id": token_id})
        return self.get_token(token_id)

    def authenticate_token(self: Store, text: str, *, scope: str) -> User:
        """The token's user when ``text`` is a valid, unexpired, unrevoked token holding ``scope``.

        Every refusal is audited as ``token_refused`` and raises :class:`PermissionDenied`.
        """
        match = _TOKEN.match(text.strip()) if isinstance(text, str) else None
        row = self._fetchone("SELECT * FROM api_tokens WHERE token_id = ?", (match.group(1),)) if match else None
        problem = None
        if match is None:
            problem = "not a workbench token (expected wbt_<id>_<secret>)"
        elif row is None or not hmac.compare_digest(row["token_hash"], _hash(match.group(2))):
            problem = "unknown token"
        else:
            token = _token(row)
            state = token.state(date.fromisoformat(self.now()[:10]))
            user = self.get_user(token.user)
            if state != "active":
                problem = f"token {token.token_id} is {state}"
            elif scope not in token.scopes:
                problem = f"token {token.token_id} is not scoped for {scope!r} (scopes: {', '.join(token.scopes)})"
            elif user is None or not user.active:
                problem = f"token {token.token_id} belongs to {token.user!r}, who is disabled"
        if problem is not None:
            who = row["user"] if row else "?"
            self.audit(f"token:{who}", "token_refused", f"scope:{scope}",
                       {"token_id": match.group(1) if match else None, "reason": problem})
            raise PermissionDenied(f"WORKBENCH_TOKEN refused: {problem}")
        self.audit(token.user, "token_used", f"scope:{scope}", {"token_id": token.token_id})
        return user  # type: ignore[return-value]


__all__ = ["ApiToken", "TokensMixin", "validate_scopes"]
