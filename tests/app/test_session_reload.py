"""A browser reload keeps the reviewer signed in: a signed, expiring, revocable token in the query string."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP
from workbench.store import Store
from workbench_ui.session_token import QUERY_KEY, SessionTokens


def _signed_in(at: AppTest) -> bool:
    return not any(w.key == "login_name" for w in at.text_input) and any(
        b.key == "wb_sign_out" for b in at.button)


def _fresh(token: str | None) -> AppTest:
    """A new browser connection to the same URL (what a reload is)."""
    at = AppTest.from_file(APP, default_timeout=240)
    if token is not None:
        at.query_params[QUERY_KEY] = token
    return at.run()


def _sign_in(user: str = "alice", password: str = "demo-alice-pass") -> tuple[AppTest, str]:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.text_input(key="login_name").input(user)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert _signed_in(at), [e.value for e in at.error]
    token = at.query_params[QUERY_KEY]
    token = token[0] if isinstance(token, list) else token
    assert "demo-alice-pass" not in token and "." in token  # no password in the browser
    return at, token


def test_reload_keeps_the_reviewer_signed_in_and_sign_out_revokes_it(env):
    at, token = _sign_in()
    reloaded = _fresh(token)
    assert _signed_in(reloaded) and not reloaded.exception
    assert "alice" in reloaded.sidebar.markdown[0].value
    # signing out revokes the token: the same URL opened again lands on the sign-in page
    reloaded.button(key="wb_sign_out").click().run()
    assert not _signed_in(reloaded)
    assert not _signed_in(_fresh(token))


def test_forged_expired_foreign_key_and_disabled_tokens_are_refused(env, tmp_path):
    _, token = _sign_in()
    head, tag = token.rsplit(".", 1)
    parts = head.split(".")
    import base64

    # another user's name with alice's tag
    parts[1] = base64.urlsafe_b64encode(b"admin").decode().rstrip("=")
    assert not _signed_in(_fresh(".".join(parts) + "." + tag))
    # a longer life with the old tag
    parts = head.split(".")
    parts[2] = str(int(parts[2]) + 10**6)
    assert not _signed_in(_fresh(".".join(parts) + "." + tag))
    # expired, though correctly signed with the app's key
    expired = SessionTokens(env["keys"], env["db"]).issue("alice", lifetime_s=-1)
    assert not _signed_in(_fresh(expired))
    # someone with the database file but another keys folder cannot mint a token
    foreign = SessionTokens(tmp_path / "other-keys", env["db"]).issue("alice")
    assert not _signed_in(_fresh(foreign))
    assert not _signed_in(_fresh("garbage"))
    # a disabled account's token stops working at once
    bob = SessionTokens(env["keys"], env["db"]).issue("bob")
    assert _signed_in(_fresh(bob))
    with Store.open(env["db"]) as store:
        store.disable_user("bob", actor="admin")
    try:
        assert not _signed_in(_fresh(bob))
    finally:
        with Store.open(env["db"]) as store:
            store.enable_user("bob", actor="admin")


def test_the_token_secret_is_outside_the_store(env):
    SessionTokens(env["keys"], env["db"]).issue("alice")
    key = Path(env["keys"]) / "session.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0
    assert key.read_bytes() not in Path(env["db"]).read_bytes()
