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
from typing import TYPE_CHECKING

import streamlit as st

from workbench.auth import User
from workbench.store import Location, Store, parse_location

if TYPE_CHECKING:
    from workbench_ui.session_token import Session, SessionTokens

USER_KEY = "wb_user"
SESSION_KEY = "wb_session"  # the signed-in browser session (workbench_ui.session_token.Session)
PENDING_KEY = "wb_cookie_pending"  # a grant or sign-out the page still has to post
SIGNED_OUT_KEY = "wb_signed_out"
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


def tokens() -> SessionTokens:
    """The session signer of this process for the configured keys folder and store
    (``workbench_ui.session_token``; also used by the cookie routes, ``workbench_ui.session_routes``)."""
    from workbench_ui.session_token import SessionTokens

    key = (keys_dir().resolve(), _store_key())
    shared = store()
    with _lock:
        cached = _token_signers.get(key)
        if cached is None:
            cached = _token_signers[key] = SessionTokens(key[0], shared)
        return cached


_token_signers: dict[tuple[Path, Location], SessionTokens] = {}


def browser_cookie() -> str | None:
    """The session cookie the browser sent with this connection's websocket handshake, if any.

    AppTest has no HTTP layer (no cookies): its tests replace this function.
    """
    from workbench_ui.session_token import COOKIE

    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no client context (bare script run)
        return None
    return value if isinstance(value, str) and value else None


def _restore_from_cookie() -> str | None:
    """A new browser connection (e.g. a reload) with a valid session cookie: sign in again."""
    if st.session_state.get(SIGNED_OUT_KEY):  # signed out on this connection: the handshake's cookie is stale
        return None
    cookie = browser_cookie()
    if not cookie:
        return None
    session = tokens().verify(cookie)
    if session is None:  # forged, expired, revoked or of a disabled account
        return None
    st.session_state[USER_KEY] = session.user
    st.session_state[SESSION_KEY] = session
    return session.user


def _session_ended() -> bool:
    """The connection's session expired or was signed out elsewhere (another tab or instance)."""
    session: Session | None = st.session_state.get(SESSION_KEY)
    if session is None:
        return False
    return not tokens().alive(session)


def current_user() -> SessionUser | None:
    """The logged-in user, re-read from the store so a disabled account loses access at once.

    A connection without a user but with a valid session cookie (a reload) is signed in again;
    a session that expired or was signed out on another tab or instance ends here.
    """
    name = st.session_state.get(USER_KEY)
    if name and _session_ended():
        log_out()
        name = None
    name = name or _restore_from_cookie()
    if not name:
        return None
    user = store().get_user(name)
    if user is None or not user.active:
        log_out()
        return None
    return SessionUser(name=user.name, roles=tuple(user.roles), display_name=user.display_name or user.name, user=user)


def require_user() -> SessionUser:
    user = current_user()
    if user is None:  # app.py only routes logged-in sessions to pages; a stale session lands here
        st.warning("Your session ended: sign in again.")
        st.stop()
    return user


def log_in(name: str) -> None:
    """Sign ``name`` in for this connection, and have the page fetch a session cookie that
    survives a reload (a single-use grant, posted by :func:`sync_cookie` on the next run)."""
    grant, session = tokens().grant(name)
    st.session_state[USER_KEY] = name
    st.session_state[SESSION_KEY] = session
    st.session_state[PENDING_KEY] = ("grant", grant)
    st.session_state.pop(SIGNED_OUT_KEY, None)


def log_out() -> None:
    """Forget the user, revoke the session in the store and have the page clear its cookie (the
    loaded review stays, so the next user continues on the same review)."""
    session: Session | None = st.session_state.pop(SESSION_KEY, None)
    if session is not None:
        tokens().revoke(session)
    st.session_state.pop(USER_KEY, None)
    st.session_state[PENDING_KEY] = ("signout", "1")
    st.session_state[SIGNED_OUT_KEY] = True


def sync_cookie() -> None:
    """Post a pending grant (after sign-in) or sign-out to the cookie routes from the page.

    A ``fetch`` from the page rather than a redirect, so this connection (and its loaded review)
    stays; the cookie matters from the next connection on. Called once per run by app.py.
    """
    import json

    from workbench_ui.session_routes import GRANT_HEADER, GRANT_PATH, SIGNOUT_HEADER, SIGNOUT_PATH, route_path

    pending = st.session_state.pop(PENDING_KEY, None)
    if pending is None:
        return
    kind, value = pending
    path, header = (GRANT_PATH, GRANT_HEADER) if kind == "grant" else (SIGNOUT_PATH, SIGNOUT_HEADER)
    st.html(f"<script>fetch({json.dumps(route_path(path))}, {{method: 'POST', credentials: 'same-origin', cache: 'no-store', "
            f"headers: {{{json.dumps(header)}: {json.dumps(value)}}}}});</script>",
            unsafe_allow_javascript=True, width="content")


def manifest_path() -> Path | None:
    value = st.session_state.get(MANIFEST_KEY)
    return Path(value) if value else None


def set_manifest(path: Path, review_id: str) -> None:
    st.session_state[MANIFEST_KEY] = str(path)
    st.session_state[REVIEW_ID_KEY] = review_id


def review_id() -> str | None:
    return st.session_state.get(REVIEW_ID_KEY)
