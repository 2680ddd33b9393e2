"""A browser reload keeps the reviewer signed in: a signed, expiring, revocable http-only cookie.

AppTest has no HTTP layer, so these tests hand the cookie to the app by replacing
``context.browser_cookie`` (what a real browser sends with the websocket handshake); the real
routes and a real browser are in tests/e2e/test_session_cookie.py.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP
from workbench.cli import main as cli
from workbench.serverkey import load_server_key
from workbench.store import Store
from workbench_ui import context
from workbench_ui.session_token import GRANT_SECONDS, SessionTokens

HOUR = 3600.0


def _signed_in(at: AppTest) -> bool:
    return not any(w.key == "login_name" for w in at.text_input) and any(
        b.key == "wb_sign_out" for b in at.button)


def _posted(at: AppTest) -> list[str]:
    """The bodies of the script elements that post a grant or sign-out (not the chart-code warm-up)."""
    return [h.proto.body for h in at.get("html") if "/workbench/session/" in h.proto.body]


def _fresh(monkeypatch: pytest.MonkeyPatch, cookie: str | None) -> AppTest:
    """A new browser connection sending ``cookie`` (what a reload is)."""
    monkeypatch.setattr(context, "browser_cookie", lambda: cookie)
    return AppTest.from_file(APP, default_timeout=240).run()


def _sign_in(monkeypatch: pytest.MonkeyPatch, env, user: str = "alice") -> tuple[AppTest, str]:
    """Sign in with the form, then spend the grant the page posts, as the grant route does."""
    at = _fresh(monkeypatch, None)
    at.text_input(key="login_name").input(user)
    at.text_input(key="login_password").input(f"demo-{user}-pass")
    at.button[0].click().run()
    assert _signed_in(at), [e.value for e in at.error]
    (script,) = _posted(at)
    assert "/workbench/session/grant" in script and f"demo-{user}-pass" not in script
    grant = script.split('"X-Workbench-Grant": "', 1)[1].split('"', 1)[0]
    redeemed = SessionTokens(env["keys"], env["db"]).redeem(grant)
    assert redeemed is not None
    return at, redeemed[0]


def test_reload_keeps_the_reviewer_signed_in_and_sign_out_revokes_it(env, monkeypatch):
    _, cookie = _sign_in(monkeypatch, env)
    reloaded = _fresh(monkeypatch, cookie)
    assert _signed_in(reloaded) and not reloaded.exception
    assert "alice" in reloaded.sidebar.markdown[0].value
    assert _posted(reloaded) == []  # nothing to post on a restored session
    # signing out revokes the session and has the page clear the cookie
    reloaded.button(key="wb_sign_out").click().run()
    assert not _signed_in(reloaded)
    assert any("/workbench/session/signout" in s for s in _posted(reloaded))
    assert not _signed_in(reloaded.run())  # the handshake's (revoked) cookie does not sign it in again
    assert not _signed_in(_fresh(monkeypatch, cookie))  # a copy of the cookie is refused


def test_sign_out_in_one_tab_ends_the_other_tabs_of_that_session(env, monkeypatch):
    _, cookie = _sign_in(monkeypatch, env, "bob")
    one, two = _fresh(monkeypatch, cookie), _fresh(monkeypatch, cookie)
    assert _signed_in(one) and _signed_in(two)
    one.button(key="wb_sign_out").click().run()
    assert not _signed_in(two.run())


@pytest.fixture
def signer(tmp_path: Path):
    """A store of its own with two users, a keys folder with the server key, and a movable clock."""
    keys = tmp_path / "keys"
    assert cli(["keys", "init", "--keys", str(keys)]) == 0
    store = Store.open(tmp_path / "w.db", key=None)
    store.add_user("alice", ["product_owner"], password="alice-password", actor="alice")
    store.add_user("admin", ["admin"], password="admin-password", actor="alice")
    now = [1_800_000_000.0]
    return SessionTokens(keys, store, clock=lambda: now[0]), store, keys, now


def _edit(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def test_forged_and_edited_cookies_and_grants_are_refused(signer):
    tokens, store, _, _ = signer
    grant, session = tokens.grant("alice", lifetime_s=HOUR)
    admin = base64.urlsafe_b64encode(b"admin").decode().rstrip("=")
    assert tokens.redeem(_edit(grant, 1, admin)) is None  # a grant edited to name another user
    assert tokens.redeem(_edit(grant, 4, str(session.expires + 10**6))) is None  # a longer session
    assert tokens.redeem(grant[:-1] + ("0" if grant[-1] != "0" else "1")) is None  # a bad tag
    cookie, _ = tokens.redeem(grant)
    assert tokens.verify(cookie).user == "alice"
    assert tokens.verify(_edit(cookie, 1, admin)) is None  # someone else's name with alice's tag
    assert tokens.verify(_edit(cookie, 4, str(session.expires + 10**6))) is None
    assert tokens.verify(_edit(cookie, 2, "cd" * 16)) is None  # another session id
    for junk in ("", "garbage", "s2.....", cookie + ".x", "x" * 5000, None):
        assert tokens.verify(junk) is None and tokens.redeem(junk) is None
    assert tokens.verify(grant) is None and tokens.redeem(cookie) is None  # one kind is not the other
    assert [e.action for e in store.audit_entries()].count("session_started") == 1


def test_a_grant_works_once_and_only_for_a_minute(signer):
    tokens, _, _, now = signer
    grant, session = tokens.grant("alice", lifetime_s=HOUR)
    cookie, redeemed = tokens.redeem(grant)
    assert redeemed == session and tokens.redeem(grant) is None  # replayed
    late, _ = tokens.grant("alice", lifetime_s=HOUR)
    now[0] += GRANT_SECONDS + 1
    assert tokens.redeem(late) is None  # expired before it was posted
    assert tokens.verify(cookie).user == "alice"  # the session itself lives on


def test_expired_revoked_and_disabled_sessions_are_refused(signer):
    tokens, store, _, now = signer
    cookie, session = tokens.redeem(tokens.grant("alice", lifetime_s=HOUR)[0])
    other, _ = tokens.redeem(tokens.grant("alice", lifetime_s=HOUR)[0])
    tokens.revoke(session)  # signed out
    assert tokens.verify(cookie) is None and tokens.verify(other).user == "alice"
    now[0] += HOUR
    assert tokens.verify(other) is None  # expired, though correctly signed
    now[0] -= HOUR
    store.disable_user("alice", actor="admin")
    assert tokens.verify(other) is None  # a disabled account's cookie stops working at once
    assert tokens.redeem(tokens.grant("alice", lifetime_s=HOUR)[0]) is None  # and so does its grant
    store.enable_user("alice", actor="admin")
    assert tokens.verify(other).user == "alice"


def test_cookies_of_another_store_or_another_keys_folder_are_refused(signer, tmp_path):
    tokens, store, keys, now = signer
    cookie, _ = tokens.redeem(tokens.grant("alice", lifetime_s=HOUR)[0])
    # the same keys folder with another store (another store secret)
    elsewhere = Store.open(tmp_path / "other.db", key=None)
    elsewhere.add_user("alice", ["product_owner"], password="alice-password", actor="alice")
    foreign = SessionTokens(keys, elsewhere, clock=lambda: now[0])
    assert foreign.verify(cookie) is None
    assert tokens.verify(foreign.redeem(foreign.grant("alice", lifetime_s=HOUR)[0])[0]) is None
    # someone with this database file (its store secret) but not the keys folder cannot mint a cookie
    intruder = SessionTokens(tmp_path / "intruder-keys", store, clock=lambda: now[0])
    minted, _ = intruder.redeem(intruder.grant("alice", lifetime_s=HOUR)[0])
    assert intruder.verify(minted) is not None and tokens.verify(minted) is None
    # several instances (same keys folder, same store) accept each other's cookies
    assert SessionTokens(keys, Store.open(tmp_path / "w.db", key=None), clock=lambda: now[0]).verify(cookie)


def test_the_signing_secret_is_half_in_the_store_half_in_the_keys_folder(signer, tmp_path):
    _, store, keys, _ = signer
    assert not (keys / "session.key").exists()  # derived from the server key: nothing new to guard
    server = load_server_key(keys)
    assert server.derive(b"workbench ui-session v2") not in (server.mac_key, server.derive(b"another use"))
    with pytest.raises(ValueError, match="audit MAC"):
        server.derive(b"workbench audit-mac v1")
    stored = store.session_secret()
    row = sqlite3.connect(tmp_path / "w.db").execute("SELECT value FROM store_meta WHERE key = 'ui_session_secret'")
    assert len(stored) == 32 and row.fetchone()[0] == stored.hex()  # in the store, shared by its instances
    # without a server key (`keys init` never run) a session.key of its own, owner-only
    bare = tmp_path / "bare-keys"
    SessionTokens(bare, store)
    key = bare / "session.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0
    dump = "".join(sqlite3.connect(tmp_path / "w.db").iterdump())
    assert key.read_bytes().hex() not in dump and stored.hex() in dump
