"""Signed, expiring session tokens: a browser reload keeps the reviewer signed in.

Streamlit keeps ``st.session_state`` per browser connection, so a reload used to sign the
reviewer out. On sign-in the app puts a token in the page's query string (``?session=…``);
on a new connection the token is verified and the session restored. The token carries no
password and no role: only the user name, an expiry and a random id, with an HMAC-SHA256 tag:

    v1.<base64url(user)>.<expires unix seconds>.<random id, 32 hex>.<hmac, 64 hex>

* The HMAC key is a 32-byte random secret in the signing-keys folder (``WORKBENCH_KEYS``, file
  ``session.key``, mode 0600), deliberately *not* in the review store: the store keeps only
  hashes of secrets (passwords, API tokens) and the keys folder holds what must not leak with a
  database dump or a read-only database role (the server key). Someone holding the database but
  not the keys folder cannot forge a token. Several app instances share the secret by sharing
  the keys folder, which they need anyway for the server key that MACs the audit chain.
* Sign-out revokes the token's id in the store (``Store.revoke_session``, audited as
  ``session_revoked``; schema 6, table ``ui_session_revocations``; ids of expired tokens are
  purged), so a copied URL stops working for every instance sharing the store, SQLite file or
  PostgreSQL database.
* The lifetime is ``WORKBENCH_SESSION_HOURS`` (default 8). A token is accepted only before its
  expiry, with a valid tag, an id not revoked, and for an account that is still active (the
  caller re-reads the account on every run, so disabling a user ends their sessions).

The query string is visible in the address bar and the browser history, which is why the
token expires and is revoked on sign-out; an http-only cookie would need a custom route that
the installed Streamlit does not offer (only ``st.login`` sets cookies, for OIDC).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from workbench.store import Location, Store

__all__ = ["DEFAULT_HOURS", "QUERY_KEY", "SessionTokens"]

QUERY_KEY = "session"
DEFAULT_HOURS = 8.0
_VERSION = "v1"


def lifetime_seconds() -> float:
    """``WORKBENCH_SESSION_HOURS`` (default 8) in seconds."""
    raw = os.environ.get("WORKBENCH_SESSION_HOURS")
    try:
        hours = float(raw) if raw else DEFAULT_HOURS
    except ValueError:
        hours = DEFAULT_HOURS
    return max(hours, 0.0) * 3600.0


def _secret(keys_dir: Path) -> bytes:
    path = keys_dir / "session.key"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        try:  # create exclusively, readable by the owner only; a concurrent creator wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
    data = path.read_bytes()
    if len(data) < 32:
        raise RuntimeError(f"{path} is shorter than 32 bytes: delete it to create a new session key")
    return data


class SessionTokens:
    """Issue, verify and revoke session tokens.

    Parameters
    ----------
    keys_dir : Path
        Folder of the HMAC secret (``session.key``; created on first use).
    store : Store, or its location
        The review store, where revoked token ids are kept (opened here when given as a path or URL).
    clock : callable, optional
        Seconds since the epoch (tests pass a fake clock).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> tokens = SessionTokens(d / "keys", d / "store.db", clock=lambda: 1000.0)
    >>> t = tokens.issue("alice", lifetime_s=60)
    >>> tokens.verify(t)
    'alice'
    >>> tokens.revoke(t)
    >>> tokens.verify(t) is None
    True
    """

    def __init__(self, keys_dir: Path, store: Store | Location, *, clock=time.time) -> None:
        self._key = _secret(Path(keys_dir))
        self._store = store if isinstance(store, Store) else Store.open(store)
        self._clock = clock

    def _tag(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, user: str, *, lifetime_s: float | None = None) -> str:
        """A new token for ``user`` expiring ``lifetime_s`` (default: the configured lifetime) from now."""
        expires = int(self._clock() + (lifetime_seconds() if lifetime_s is None else lifetime_s))
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        payload = f"{_VERSION}.{name}.{expires}.{secrets.token_hex(16)}"
        return f"{payload}.{self._tag(payload)}"

    @staticmethod
    def _parts(token: str) -> tuple[str, str, int, str, str] | None:
        parts = token.split(".") if isinstance(token, str) and len(token) < 1024 else []
        if len(parts) != 5 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        try:
            user = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return user, ".".join(parts[:4]), int(parts[2]), parts[3], parts[4]

    def verify(self, token: str) -> str | None:
        """The user name of a valid, unexpired, unrevoked token; None otherwise."""
        parsed = self._parts(token)
        if parsed is None:
            return None
        user, payload, expires, token_id, tag = parsed
        if not hmac.compare_digest(tag, self._tag(payload)):
            return None
        if expires <= self._clock() or self._revoked(token_id):
            return None
        return user

    def revoke(self, token: str) -> None:
        """Revoke a token (sign-out); a token that does not parse is ignored."""
        parsed = self._parts(token)
        if parsed is None:
            return
        user, payload, expires, token_id, tag = parsed
        if not hmac.compare_digest(tag, self._tag(payload)):
            return
        self._store.revoke_session(token_id, expires_at=expires, actor=user or "?")

    def _revoked(self, token_id: str) -> bool:
        return self._store.session_revoked(token_id)
