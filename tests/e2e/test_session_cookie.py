"""The session cookie through the real server: `streamlit run app.py` serves the cookie routes, and
Debian's chromium stays signed in across a reload, with an http-only cookie, until sign-out.

The routes are also driven directly over HTTP (urllib) with the attacks a browser would not make:
no header, a cross-site request, a forged grant, a replayed grant.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.test_browser import ARGS, CHROMIUM, ROOT, _free_port, _idle, _sign_in, _sign_out, _stop, _wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@contextmanager
def _streamlit(env: dict[str, str], log_path: Path, base: str = "") -> Iterator[str]:
    """`streamlit run app.py` on a free port with ``env`` (under ``server.baseUrlPath`` ``base``);
    its URL while it runs."""
    port = _free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             *(["--server.baseUrlPath", base] if base else [])],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}" + (f"/{base}" if base else "")
    try:
        _wait_healthy(f"{url}/_stcore/health", proc, log_path)
        yield url
    finally:
        _stop(proc, log)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.is_file():
        pytest.fail("Debian chromium is missing: install it with `sudo apt-get install -y chromium` "
                    "(the browser test is never skipped)")
    root = tmp_path_factory.mktemp("cookie")
    env = {**os.environ, "WORKBENCH_DB": str(root / "w.db"), "WORKBENCH_KEYS": str(root / "keys"),
           "WORKBENCH_DEMO_DIR": str(root / "demo"), "WORKBENCH_UPLOADS": str(root / "uploads")}
    wb = [sys.executable, "-m", "workbench.cli"]
    subprocess.run([*wb, "keys", "init", "--keys", env["WORKBENCH_KEYS"]], check=True, env=env, capture_output=True)
    subprocess.run([*wb, "users", "demo", "--db", env["WORKBENCH_DB"]], check=True, env=env, capture_output=True)
    with _streamlit(env, root / "server.log") as url:
        yield {"url": url, "db": root / "w.db", "keys": root / "keys", "env": env, "root": root}


def _session_cookie(context, timeout: float = 30.0, *, present: bool = True) -> dict | None:
    """The wb_session cookie of the browser's jar once it is (or is no longer) there."""
    deadline = time.monotonic() + timeout
    while True:
        found = next((c for c in context.cookies() if c["name"] == "wb_session"), None)
        if (found is not None) == present or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_reload_stays_signed_in_through_an_http_only_cookie_until_sign_out(server):
    from playwright.sync_api import expect, sync_playwright

    from workbench.store import Store

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        _sign_in(page, server["url"], "alice")
        cookie = _session_cookie(context)
        assert cookie is not None, "no session cookie after sign-in"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert cookie["expires"] > time.time() + 7 * 3600  # the configured lifetime (8 h by default)
        assert "wb_session" not in page.evaluate("document.cookie")  # page scripts cannot read it
        assert "session" not in page.url and "alice" not in page.url
        _idle(page)

        page.reload()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
        expect(page.locator('[data-testid="stSidebar"]').get_by_text("alice", exact=True)).to_be_visible()
        # a second tab of the same browser is signed in too
        other = context.new_page()
        other.goto(server["url"])
        expect(other.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        other.close()

        _sign_out(page)
        assert _session_cookie(context, present=False) is None, "sign-out left the cookie in the browser"
        page.reload()
        expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

        # a copy of the signed-out cookie, put back into the jar, is refused: it was revoked in the store
        context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
        page.reload()
        expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        browser.close()
    with Store.open(server["db"]) as store:
        actions = [e.action for e in store.audit_entries()]
    assert actions.count("session_started") == 1 and actions.count("session_revoked") == 1


def _post(url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    request = urllib.request.Request(url, data=b"", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get_all("set-cookie") or []
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_all("set-cookie") or []


def test_the_cookie_routes_refuse_missing_headers_cross_site_forged_and_replayed_grants(server):
    from workbench.store import Store
    from workbench_ui.session_token import SessionTokens

    grant_url, signout_url = server["url"] + "/workbench/session/grant", server["url"] + "/workbench/session/signout"
    store = Store.open(server["db"])
    tokens = SessionTokens(Path(server["keys"]), store)  # what the app does right after a sign-in
    grant, session = tokens.grant("bob")

    assert _post(grant_url, {}) == (403, [])  # a cross-site form cannot send the header
    assert _post(grant_url, {"X-Workbench-Grant": grant, "Sec-Fetch-Site": "cross-site"}) == (403, [])
    assert _post(grant_url, {"X-Workbench-Grant": grant[:-2] + "00"}) == (403, [])  # forged tag
    forged, _ = SessionTokens(Path(server["keys"]).parent / "intruder-keys", store).grant("admin")
    assert _post(grant_url, {"X-Workbench-Grant": forged}) == (403, [])  # minted without the keys folder
    with urllib.request.urlopen(f"{grant_url}?g={grant}", timeout=30) as page:  # not by GET: no grant in URLs
        assert not any("wb_session" in c for c in page.headers.get_all("set-cookie") or [])  # (Streamlit's page)

    status, cookies = _post(grant_url, {"X-Workbench-Grant": grant, "Sec-Fetch-Site": "same-origin",
                                        "X-Forwarded-Proto": "https"})
    assert status == 204 and len(cookies) == 1, (status, cookies)
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookies[0].split(";")}
    assert {"httponly", "secure", "path", "max-age", "samesite"} <= set(attributes)
    assert attributes["samesite"].lower() == "samesite=strict" and attributes["path"] == "Path=/"
    assert 7 * 3600 < int(attributes["max-age"].split("=")[1]) <= 8 * 3600
    value = cookies[0].split(";")[0].split("=", 1)[1]
    assert tokens.verify(value) == session
    assert _post(grant_url, {"X-Workbench-Grant": grant}) == (403, [])  # replayed: spent in the store
    assert "Secure" not in _post(grant_url, {"X-Workbench-Grant": tokens.grant("bob")[0]})[1][0]  # plain http

    assert _post(signout_url, {"Cookie": f"wb_session={value}"}) == (403, [])  # no header: not signed out
    assert tokens.verify(value) == session
    status, cleared = _post(signout_url, {"X-Workbench-Signout": "1", "Cookie": f"wb_session={value}"})
    assert status == 204 and "wb_session=" in cleared[0] and "Max-Age=0" in cleared[0]
    assert tokens.verify(value) is None  # revoked in the store, for every instance
    store.close()


def test_a_second_instance_on_the_same_store_accepts_the_cookie_and_its_sign_out(server):
    """Two servers (two processes) on one store and keys folder: a session started on one is open
    on the other, and signing out on the other ends it on the first (cookies ignore the port)."""
    from playwright.sync_api import expect, sync_playwright

    with _streamlit(server["env"], server["root"] / "second.log") as second, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        one = context.new_page()
        _sign_in(one, server["url"], "grace")
        assert _session_cookie(context) is not None
        two = context.new_page()
        two.goto(second)
        expect(two.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        expect(two.locator('[data-testid="stSidebar"]').get_by_text("grace", exact=True)).to_be_visible()
        _sign_out(two)
        one.reload()
        expect(one.get_by_label("User name", exact=True)).to_be_visible(timeout=60_000)
        browser.close()


def test_under_a_base_url_path_the_routes_and_the_cookie_move_with_the_app(server):
    """An app served at /wb/ (``server.baseUrlPath``, e.g. behind a proxy that forwards only /wb/):
    the page posts its grant to /wb/workbench/session/grant, the cookie's Path is /wb, and a reload
    of /wb/ stays signed in. Nothing is served at the root path any more."""
    from playwright.sync_api import expect, sync_playwright

    from workbench.store import Store
    from workbench_ui.session_token import SessionTokens

    with _streamlit(server["env"], server["root"] / "base.log", base="wb") as url, sync_playwright() as p:
        root = url.rsplit("/wb", 1)[0]
        with Store.open(server["db"]) as store:
            tokens = SessionTokens(Path(server["keys"]), store)
            assert _post(root + "/workbench/session/grant", {"X-Workbench-Grant": tokens.grant("bob")[0]})[0] != 204
            status, cookies = _post(url + "/workbench/session/grant", {"X-Workbench-Grant": tokens.grant("bob")[0]})
        assert status == 204 and "Path=/wb" in [a.strip() for a in cookies[0].split(";")], cookies

        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        _sign_in(page, url + "/", "carol")
        cookie = _session_cookie(context)
        assert cookie is not None and cookie["path"] == "/wb", cookie
        _idle(page)
        page.reload()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        _sign_out(page)
        assert _session_cookie(context, present=False) is None, "sign-out under /wb left the cookie"
        browser.close()
