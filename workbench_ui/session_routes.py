"""The app's two HTTP routes that set and clear the session cookie (``workbench_ui.session_token``).

``app.py`` serves them beside Streamlit's own routes through ``st.App(routes=...)``, which
``streamlit run app.py`` picks up. Streamlit itself can only set cookies for ``st.login``.

* ``POST /workbench/session/grant`` with header ``X-Workbench-Grant: <grant>``: spends the grant
  and answers 204 with ``Set-Cookie: wb_session=…; HttpOnly; SameSite=Strict; Path=/; Max-Age=…``
  (plus ``Secure`` over https). Anything else is 403 with no cookie.
* Under ``server.baseUrlPath`` (an app served at ``https://host/wb/`` behind a proxy) both routes
  and the cookie's ``Path`` move under it, as Streamlit's own routes and ``st.login`` cookie do:
  ``POST /wb/workbench/session/grant``, ``Path=/wb``. ``st.App`` mounts custom routes as given,
  so the prefix is added here.
* ``POST /workbench/session/signout`` with header ``X-Workbench-Signout: 1``: revokes the
  cookie's session if the app has not already, and clears the cookie (204).

Both refuse a request without their header: a cross-site form cannot send one, and a
cross-site ``fetch`` with one needs a CORS preflight these routes never grant, so another site
can neither sign a browser in as someone else nor sign it out. The page that just signed in
posts the grant with ``fetch`` (``workbench_ui.context.sync_cookie``), so the connection and its
loaded review stay as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench_ui.session_token import COOKIE

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

GRANT_PATH = "/workbench/session/grant"
SIGNOUT_PATH = "/workbench/session/signout"
GRANT_HEADER = "X-Workbench-Grant"
SIGNOUT_HEADER = "X-Workbench-Signout"


def base_path() -> str:
    """``server.baseUrlPath`` as a path prefix: ``""`` at the root, ``"/wb"`` for ``wb/``."""
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def route_path(path: str) -> str:
    """``path`` (GRANT_PATH or SIGNOUT_PATH) under the server's base URL path."""
    return base_path() + path


def cookie_path() -> str:
    """The session cookie's ``Path``: the app's base URL path, ``/`` at the root."""
    return base_path() or "/"


def _https(request: Request) -> bool:
    # Behind a TLS-terminating proxy the scheme is http; its X-Forwarded-Proto can only make the cookie stricter.
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def _refused(request: Request, header: str) -> bool:
    site = request.headers.get("sec-fetch-site")
    return not request.headers.get(header) or (site is not None and site != "same-origin")


def _plain(status: int, text: str = "") -> Response:
    from starlette.responses import PlainTextResponse, Response

    response = PlainTextResponse(text, status_code=status) if text else Response(status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def grant(request: Request) -> Response:
    """Spend a sign-in grant and set the session cookie."""
    from starlette.concurrency import run_in_threadpool

    from workbench_ui import context
    from workbench_ui.session_token import SessionTokens

    if _refused(request, GRANT_HEADER):
        return _plain(403, "session grant refused")

    def redeem() -> tuple[str, int] | None:
        tokens: SessionTokens = context.tokens()
        result = tokens.redeem(request.headers[GRANT_HEADER])
        if result is None:
            return None
        value, session = result
        return value, max(int(session.expires - tokens.now()), 0)

    try:
        redeemed = await run_in_threadpool(redeem)
    except Exception:  # noqa: BLE001 - a store that cannot be opened: no cookie, no traceback to the browser
        return _plain(503, "session store unavailable")
    if redeemed is None:
        return _plain(403, "session grant refused")
    value, max_age = redeemed
    response = _plain(204)
    response.set_cookie(COOKIE, value, max_age=max_age, path=cookie_path(), secure=_https(request), httponly=True,
                        samesite="strict")
    return response


async def signout(request: Request) -> Response:
    """Revoke the cookie's session (when still valid) and clear the cookie."""
    from starlette.concurrency import run_in_threadpool

    from workbench_ui import context

    if _refused(request, SIGNOUT_HEADER):
        return _plain(403, "sign-out refused")
    cookie = request.cookies.get(COOKIE)

    def revoke() -> None:
        tokens = context.tokens()
        session = tokens.verify(cookie)
        if session is not None:
            tokens.revoke(session)

    if cookie:
        try:
            await run_in_threadpool(revoke)
        except Exception:  # noqa: BLE001 - the cookie is cleared below whatever the store says
            pass
    response = _plain(204)
    response.delete_cookie(COOKIE, path=cookie_path(), secure=_https(request), httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    """The routes ``app.py`` hands to ``st.App``."""
    from starlette.routing import Route

    return [Route(route_path(GRANT_PATH), grant, methods=["POST"]),
            Route(route_path(SIGNOUT_PATH), signout, methods=["POST"])]
