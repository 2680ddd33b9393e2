"""What the app's browser sessions (``workbench_ui.session_token``) keep in the store.

They live in the store so that every app instance on the same store, SQLite file or
PostgreSQL database, shares them:

* the store's half of the cookie-signing secret (``store_meta`` key ``ui_session_secret``,
  32 random bytes, created on first use). It is useless alone: the signing key is derived from
  it *and* a secret of the keys folder, so someone holding the database cannot forge a cookie,
  and a cookie of another store is refused;
* ids that must never be accepted again (schema 6, ``ui_session_revocations``): the session id
  of a signed-out cookie, and the id of a spent sign-in grant (grants are single-use). Only ids
  are kept, never a cookie or a grant, until they would have expired anyway.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store

_TOKEN_ID = re.compile(r"^[0-9a-f]{32}$")
_SECRET_KEY = "ui_session_secret"


def _check_id(token_id: str) -> None:
    if not isinstance(token_id, str) or not _TOKEN_ID.match(token_id):
        raise StoreError("session token id: expected 32 hex characters")


class SessionsMixin:
    """Session secret, revocation and single-use grant methods; mixed into ``Store``."""

    def session_secret(self: Store) -> bytes:
        """The store's half of the app's session-signing secret (created once, then shared)."""
        row = self._fetchone("SELECT value FROM store_meta WHERE key = ?", (_SECRET_KEY,))
        if row is None:
            with self.transaction():  # the write lock: of two instances creating it, the second reads the first's
                row = self._fetchone("SELECT value FROM store_meta WHERE key = ?", (_SECRET_KEY,))
                if row is None:
                    row = {"value": secrets.token_hex(32)}
                    self._insert("store_meta", {"key": _SECRET_KEY, "value": row["value"], "set_at": self.now()})
                    self.audit("app:sessions", "session_secret_created", "store", {})
        try:
            value = bytes.fromhex(str(row["value"]))
        except ValueError:
            value = b""
        if len(value) < 32:
            raise StoreError(f"{self.path}: store_meta {_SECRET_KEY!r} is not 64 hex characters")
        return value

    def revoke_session(self: Store, token_id: str, *, expires_at: int, actor: str) -> None:
        """Refuse the session ``token_id`` from now on (sign-out); audited as ``session_revoked``.

        Revocations of sessions already expired are purged in the same transaction.
        """
        _check_id(token_id)
        with self.transaction():
            self._execute("DELETE FROM ui_session_revocations WHERE expires_at < ?", (int(time.time()),))
            self._upsert("ui_session_revocations", {"token_id": token_id, "expires_at": int(expires_at)},
                         pk=("token_id",))
            self.audit(actor, "session_revoked", f"user:{actor}", {"token_id": token_id})

    def session_revoked(self: Store, token_id: str) -> bool:
        """True when the session with this id was signed out (or the grant with this id was spent)."""
        return self._fetchone("SELECT 1 AS x FROM ui_session_revocations WHERE token_id = ?", (token_id,)) is not None

    def spend_session_grant(self: Store, grant_id: str, *, expires_at: int, user: str, session_id: str) -> bool:
        """Spend a single-use sign-in grant: True the first time, False for a replay.

        Atomic across app instances (the store's write lock); a spent grant starts the browser
        session ``session_id``, audited as ``session_started``.
        """
        _check_id(grant_id)
        _check_id(session_id)
        with self.transaction():
            if self.session_revoked(grant_id):
                return False
            self._execute("DELETE FROM ui_session_revocations WHERE expires_at < ?", (int(time.time()),))
            self._insert("ui_session_revocations", {"token_id": grant_id, "expires_at": int(expires_at)})
            self.audit(user, "session_started", f"user:{user}", {"token_id": session_id})
        return True


__all__ = ["SessionsMixin"]
