"""AppTest helpers shared by the app tests: a fresh signed-in session, error checks, chart specs."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from workbench.store import Store

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def app(user: str | None = "alice", *, page: str | None = None, load: bool = True) -> AppTest:
    """A fresh browser session: signed in as ``user`` (None: signed out), the demo opened, on ``page``."""
    at = AppTest.from_file(APP, default_timeout=240)
    if user is not None:
        at.session_state["wb_user"] = user
    at.run()
    if user is not None and load:
        at.button(key="open_demo").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    if page is not None:
        at.switch_page(page).run()
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def review_id(env) -> str:
    with Store.open(env["db"]) as store:
        return store.list_reviews()[0].review_id


def spec(at: AppTest, i: int = 0) -> str:
    return at.get("plotly_chart")[i].proto.spec


