"""Signed, expiring browser sessions: an http-only cookie keeps the reviewer signed in across reloads.

Streamlit keeps ``st.session_state`` per browser connection, so a reload used to sign the
reviewer out. Now:

1. After a successful sign-in (password or single sign-on) the app creates a **grant**: signed,
   valid for :data:`GRANT_SECONDS`, single-use, naming the user and a new random session id.
   The page posts it to the app's own route ``POST /workbench/session/grant`` (header
   ``X-Workbench-Grant``; see ``workbench_ui.session_routes``).
2. The route spends the grant in the store (a replay is refused, on every instance), checks the
   account is still active and answers with the cookie :data:`COOKIE`: ``HttpOnly``,
   ``SameSite=Strict``, ``Path=/``, ``Secure`` over https, ``Max-Age`` the session lifetime.
   Page scripts cannot read it; it never appears in a URL, a log line or the browser history.
3. A new connection (a reload) sends the cookie with the websocket handshake; the app reads it
   (``st.context.cookies``), verifies it and signs the user in again.
4. Sign-out revokes the session id in the store (audited ``session_revoked``; table
   ``ui_session_revocations``) and then clears the cookie (``POST /workbench/session/signout``).
   A copy of the cookie is refused by every instance sharing the store from then on.

Formats (``b64`` is unpadded base64url, the tag is HMAC-SHA256 hex over everything before it)::

    cookie  s2.<b64 user>.<session id, 32 hex>.<issued>.<expires>.<tag>
    grant   g2.<b64 user>.<session id>.<issued>.<expires>.<grant id, 32 hex>.<grant expires>.<tag>

The signing key is ``HMAC-SHA256(local secret, "workbench ui-session key|" + store secret)``:

* the **store secret** is 32 random bytes in the store (``Store.session_secret``), so every app
  instance on the store shares it and a cookie of another store is refused;
* the **local secret** never enters the store: ``HKDF(server key, "workbench ui-session v2")``
  when the keys folder holds the server key (``workbench keys init``, as ``make run`` does),
  else a random ``session.key`` created there (mode 0600). Someone holding the database file, a
  dump or a read-only database role, but not the keys folder, cannot forge a cookie or a grant.

The lifetime is ``WORKBENCH_SESSION_HOURS`` (default 8). A cookie is accepted only before its
expiry, with a valid tag, a session id not revoked, and for an account that is still active.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.serverkey import load_server_key
from workbench.store import Location, Store

__all__ = ["COOKIE", "DEFAULT_HOURS", "GRANT_SECONDS", "Session", "SessionTokens", "lifetime_seconds"]

COOKIE = "wb_session"
DEFAULT_HOURS = 8.0
GRANT_SECONDS = 60
_COOKIE_V = "s2"
_GRANT_V = "g2"
_LOCAL_INFO = b"workbench ui-session v2"
_MAX_LEN = 1024
# A spent grant's id is kept a while past the grant's expiry, so that an instance whose clock lags
# cannot take a spent grant for a fresh one once the id was purged.
_SPENT_MARGIN_S = 600


def lifetime_seconds() -> float:
    """``WORKBENCH_SESSION_HOURS`` (default 8) in seconds."""
    raw = os.environ.get("WORKBENCH_SESSION_HOURS")
    try:
        hours = float(raw) if raw else DEFAULT_HOURS
    except ValueError:
        hours = DEFAULT_HOURS
    return max(hours, 0.0) * 3600.0


@dataclass(frozen=True)
class Session:
    """A signed-in browser session: who, its random id, and when it was issued and ends (unix seconds)."""

    user: str
    session_id: str
    issued: int
    expires: int


def _file_secret(keys_dir: Path) -> bytes:
    """``session.key`` in the keys folder (32 random bytes, mode 0600), created on first use."""
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


def signing_key(keys_dir: Path, store: Store) -> bytes:
    """The cookie-signing key of this keys folder and store (see the module docstring)."""
    server = load_server_key(keys_dir)
    local = server.derive(_LOCAL_INFO) if server is not None else _file_secret(keys_dir)
    return hmac.digest(local, b"workbench ui-session key|" + store.session_secret(), "sha256")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _is_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


class SessionTokens:
    """Create grants, turn a grant into a cookie once, verify and revoke cookies.

    Parameters
    ----------
    keys_dir : Path
        The keys folder (server key, else ``session.key``, created on first use).
    store : Store, or its location
        The review store: the store's half of the secret, revocations and spent grants.
    clock : callable, optional
        Seconds since the epoch (tests pass a fake clock).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> store = Store.open(d / "store.db", key=None)
    >>> _ = store.add_user("alice", ["admin"], password="alice-password", actor="alice")
    >>> tokens = SessionTokens(d / "keys", store, clock=lambda: 1000.0)
    >>> grant, session = tokens.grant("alice", lifetime_s=60)
    >>> cookie, same = tokens.redeem(grant)
    >>> same == session, tokens.redeem(grant)          # a grant works once
    (True, None)
    >>> tokens.verify(cookie).user
    'alice'
    >>> tokens.revoke(session)
    >>> tokens.verify(cookie) is None
    True
    """

    def __init__(self, keys_dir: Path, store: Store | Location, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store if isinstance(store, Store) else Store.open(store)
        self._key = signing_key(Path(keys_dir), self._store)
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return f"{payload}.{hmac.digest(self._key, payload.encode(), 'sha256').hex()}"

    def _open(self, token: object, version: str, fields: int) -> list[str] | None:
        """The fields of a token of this version with a valid tag, else None."""
        if not isinstance(token, str) or len(token) > _MAX_LEN:
            return None
        parts = token.split(".")
        if len(parts) != fields + 2 or parts[0] != version:
            return None
        expected = self._sign(".".join(parts[:-1])).rsplit(".", 1)[1]
        if not hmac.compare_digest(parts[-1], expected):
            return None
        return parts[1:-1]

    def _active(self, user: str) -> bool:
        account = self._store.get_user(user)
        return account is not None and account.active

    def grant(self, user: str, *, lifetime_s: float | None = None) -> tuple[str, Session]:
        """A single-use grant for a new session of ``user`` (who just signed in), and that session."""
        now = int(self._clock())
        life = lifetime_seconds() if lifetime_s is None else lifetime_s
        session = Session(user, secrets.token_hex(16), now, int(now + life))
        payload = (f"{_GRANT_V}.{_b64(user)}.{session.session_id}.{session.issued}.{session.expires}."
                   f"{secrets.token_hex(16)}.{now + GRANT_SECONDS}")
        return self._sign(payload), session

    def redeem(self, grant: object) -> tuple[str, Session] | None:
        """The cookie value and session of a valid grant, spending it; None when it is forged,
        expired, already spent, or its user is no longer active."""
        fields = self._open(grant, _GRANT_V, 6)
        if fields is None:
            return None
        name, session_id, issued, expires, grant_id, grant_expires = fields
        user = _unb64(name)
        if (user is None or not _is_id(session_id) or not _is_id(grant_id)
                or not (issued.isdigit() and expires.isdigit() and grant_expires.isdigit())):
            return None
        now = self._clock()
        if int(grant_expires) <= now or int(expires) <= now or not self._active(user):
            return None
        if not self._store.spend_session_grant(grant_id, expires_at=int(grant_expires) + _SPENT_MARGIN_S,
                                               user=user, session_id=session_id):
            return None
        session = Session(user, session_id, int(issued), int(expires))
        return self._sign(f"{_COOKIE_V}.{name}.{session_id}.{issued}.{expires}"), session

    def verify(self, cookie: object) -> Session | None:
        """The session of a cookie with a valid tag, unexpired, not revoked, of an active user; else None."""
        fields = self._open(cookie, _COOKIE_V, 4)
        if fields is None:
            return None
        name, session_id, issued, expires = fields
        user = _unb64(name)
        if user is None or not _is_id(session_id) or not (issued.isdigit() and expires.isdigit()):
            return None
        session = Session(user, session_id, int(issued), int(expires))
        return session if self.alive(session) and self._active(user) else None

    def alive(self, session: Session) -> bool:
        """Unexpired and not signed out (on any instance sharing the store)."""
        return session.expires > self._clock() and self.current(session.session_id)

    def now(self) -> float:
        """This signer's clock (seconds since the epoch)."""
        return self._clock()

    def current(self, session_id: str) -> bool:
        """False once the session was signed out (on any instance sharing the store)."""
        return not self._store.session_revoked(session_id)

    def revoke(self, session: Session) -> None:
        """Sign the session out everywhere: its cookie is refused from now on."""
        self._store.revoke_session(session.session_id, expires_at=session.expires, actor=session.user or "?")
