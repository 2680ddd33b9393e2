"""Per-session state (who is logged in, which review is loaded), settings and the store.

Settings come from the environment so that `make run`, the tests and the browser test can
point the app at their own files: ``WORKBENCH_DB`` (store: a SQLite file or a
``postgresql://`` URL, which several app instances share), ``WORKBENCH_KEYS`` (signing keys),
``WORKBENCH_DEMO_DIR`` (where the demo review is written / read, default ``data/demo``),
``WORKBENCH_UPLOADS`` (staged uploads, default ``data/uploads``),
``WORKBENCH_REVIEW_ROOTS`` (folders a typed manifest path may lie in, default ``data``; the demo
folder is always allowed) and ``WORKBENCH_EXPLAIN_ROWS`` (overrides the manifest's
``settings.explain_rows`` for SHAP on demand; tests set it small).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from workbench.auth import User
from workbench.store import Location, Store, parse_location

USER_KEY = "wb_user"
TOKEN_KEY = "wb_session_token"
MANIFEST_KEY = "wb_manifest"
REVIEW_ID_KEY = "wb_review_id"

_lock = threading.Lock()
_stores: dict[Location, Store] = {}


def db_path() -> Location:
    """The store: $WORKBENCH_DB or data/workbench.db (the CLI's default too); a file path or a
    PostgreSQL URL (str)."""
    return parse_location(os.environ.get("WORKBENCH_DB", "data/workbench.db"))


def _store_key() -> Location:
    where = db_path()
    return where.resolve() if isinstance(where, Path) else where


def keys_dir() -> Path:
    """Signing keys: $WORKBENCH_KEYS or ~/.workbench/keys (never in the repository)."""
    return Path(os.environ.get("WORKBENCH_KEYS", "~/.workbench/keys")).expanduser()


def demo_dir() -> Path:
    """Folder of the demo review: $WORKBENCH_DEMO_DIR or data/demo."""
    return Path(os.environ.get("WORKBENCH_DEMO_DIR", "data/demo"))


def uploads_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_UPLOADS", "data/uploads"))


def review_roots() -> tuple[Path, ...]:
    """Folders a manifest path typed into the app may lie in: WORKBENCH_REVIEW_ROOTS plus the demo folder."""
    from workbench.artefacts import review_roots as configured

    return (*configured(), demo_dir().expanduser().resolve())


def explain_rows(default: int) -> int:
    """Rows SHAP explains per model: $WORKBENCH_EXPLAIN_ROWS when set, else ``default`` (the manifest's)."""
    raw = os.environ.get("WORKBENCH_EXPLAIN_ROWS")
    return max(10, int(raw)) if raw else default


def store() -> Store:
    """The store of this server process, shared by sessions (``Store`` serialises use with a lock)."""
    where = _store_key()
    with _lock:
        cached = _stores.get(where)
        if cached is None:
            cached = _stores[where] = Store.open(where)
        return cached


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in; ``user`` is the store's record, passed to role-checked writes."""

    name: str
    roles: tuple[str, ...]
    display_name: str
    user: User


def _tokens():
    """The session-token signer of this process (``workbench_ui.session_token``)."""
    from workbench_ui.session_token import SessionTokens

    key = (keys_dir().resolve(), _store_key())
    shared = store()
    with _lock:
        cached = _token_signers.get(key)
        if cached is None:
            cached = _token_signers[key] = SessionTokens(key[0], shared)
        return cached


_token_signers: dict[tuple[Path, Location], object] = {}


def _restore_from_token() -> str | None:
    """A new browser connection (e.g. a reload) with a valid ``?session=`` token: sign in again."""
    from workbench_ui.session_token import QUERY_KEY

    token = st.query_params.get(QUERY_KEY)
    if not token:
        return None
    name = _tokens().verify(token)
    if name is None:  # forged, expired or revoked: drop it from the address bar
        del st.query_params[QUERY_KEY]
        return None
    st.session_state[USER_KEY] = name
    st.session_state[TOKEN_KEY] = token
    return name


def _keep_token_in_url() -> None:
    """Put the session's token back into the query string when a page switch dropped it."""
    from workbench_ui.session_token import QUERY_KEY

    token = st.session_state.get(TOKEN_KEY)
    if token and st.query_params.get(QUERY_KEY) != token:
        st.query_params[QUERY_KEY] = token


def current_user() -> SessionUser | None:
    """The logged-in user, re-read from the store so a disabled account loses access at once.

    A session without a user but with a valid signed token in the query string (a reload)
    is signed in again (``workbench_ui.session_token``).
    """
    name = st.session_state.get(USER_KEY) or _restore_from_token()
    if not name:
        return None
    user = store().get_user(name)
    if user is None or not user.active:
        log_out()
        return None
    _keep_token_in_url()
    return SessionUser(name=user.name, roles=tuple(user.roles), display_name=user.display_name or user.name, user=user)


def require_user() -> SessionUser:
    user = current_user()
    if user is None:  # app.py only routes logged-in sessions to pages; a stale session lands here
        st.warning("Your session ended: sign in again.")
        st.stop()
    return user


def log_in(name: str) -> None:
    """Sign ``name`` in for this session and issue a signed, expiring token that survives a reload."""
    from workbench_ui.session_token import QUERY_KEY

    st.session_state[USER_KEY] = name
    token = _tokens().issue(name)
    st.session_state[TOKEN_KEY] = token
    st.query_params[QUERY_KEY] = token


def log_out() -> None:
    """Forget the user and revoke the session's token (the loaded review stays, so the next user
    continues on the same review)."""
    from workbench_ui.session_token import QUERY_KEY

    token = st.session_state.pop(TOKEN_KEY, None) or st.query_params.get(QUERY_KEY)
    if token:
        _tokens().revoke(token)
    if QUERY_KEY in st.query_params:
        del st.query_params[QUERY_KEY]
    st.session_state.pop(USER_KEY, None)


def manifest_path() -> Path | None:
    value = st.session_state.get(MANIFEST_KEY)
    return Path(value) if value else None


def set_manifest(path: Path, review_id: str) -> None:
    st.session_state[MANIFEST_KEY] = str(path)
    st.session_state[REVIEW_ID_KEY] = review_id


def review_id() -> str | None:
    return st.session_state.get(REVIEW_ID_KEY)
