"""Sign-out revocations of the app's browser-reload session tokens (``workbench_ui.session_token``).

They live in the store (schema 6) so that every app instance on the same store, SQLite file
or PostgreSQL database, refuses a token signed out on another one. Only the token's random
id is kept (never the token), until the token would have expired anyway.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store

_TOKEN_ID = re.compile(r"^[0-9a-f]{32}$")


class SessionsMixin:
    """Session revocation methods; mixed into ``Store``."""

    def revoke_session(self: Store, token_id: str, *, expires_at: int, actor: str) -> None:
        """Refuse the session token ``token_id`` from now on (sign-out); audited as ``session_revoked``.

        Revocations of tokens already expired are purged in the same transaction.
        """
        if not isinstance(token_id, str) or not _TOKEN_ID.match(token_id):
            raise StoreError("session token id: expected 32 hex characters")
        with self.transaction():
            self._execute("DELETE FROM ui_session_revocations WHERE expires_at < ?", (int(time.time()),))
            self._upsert("ui_session_revocations", {"token_id": token_id, "expires_at": int(expires_at)},
                         pk=("token_id",))
            self.audit(actor, "session_revoked", f"user:{actor}", {"token_id": token_id})

    def session_revoked(self: Store, token_id: str) -> bool:
        """True when the token with this id was signed out."""
        return self._fetchone("SELECT 1 AS x FROM ui_session_revocations WHERE token_id = ?", (token_id,)) is not None


__all__ = ["SessionsMixin"]
