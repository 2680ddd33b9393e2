"""Who may act, in the app: demo passwords only in a demo store, throttled sign-in, objections and
segregation of duties on the decision page (issue 15, items 4, 5 and 7)."""

from __future__ import annotations

import sqlite3

from tests.app.helpers import app, ok
from workbench.store import Store


def _sign_in(at, name: str, password: str):
    at.text_input(key="login_name").set_value(name)
    at.text_input(key="login_password").set_value(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def test_demo_passwords_are_shown_only_in_a_demo_store(env, tmp_path, monkeypatch):
    demo = app(None)
    assert any("demo-alice-pass" in c.value for c in demo.caption)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "real.db"))
    with Store.open(tmp_path / "real.db") as store:
        store.add_user("root", ["admin"], password="root-secret-1", actor="test")
    real = ok(app(None))
    assert not any("demo-" in c.value for c in real.caption)


def test_sign_in_is_throttled_then_locked_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "own.db"))
    with Store.open(tmp_path / "own.db") as store:
        store.add_user("carol", ["legal"], password="carol-secret-1", actor="test")
    at = app(None)
    for _ in range(3):
        assert "unknown user or wrong password" in _sign_in(at, "carol", "guess").error[0].value
    _sign_in(at, "carol", "carol-secret-1")  # the right password, too soon
    assert "too many failed sign-ins" in at.error[0].value and at.title[0].value != "Load a review"
    with Store.open(tmp_path / "own.db") as store:
        assert store.audit_entries(action="login_throttled")


def _copy_store(env, tmp_path, monkeypatch):
    # A private copy of the session's store (SQLite online backup), so rules tried here do not
    # change what the other app tests see.
    path = tmp_path / "copy.db"
    src, dst = sqlite3.connect(env["db"]), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    return path


def test_one_person_cannot_approve_a_second_role_in_the_app(env, tmp_path, monkeypatch):
    path = _copy_store(env, tmp_path, monkeypatch)
    ok(app("alice"))  # registers the review in the copy
    with Store.open(path) as store:
        store.add_user("max", ["product_owner", "security"], password="max-secret-12", actor="test")
    at = ok(app("max", page="pages/decision.py"))
    at.selectbox(key="signoff_role").set_value("product_owner")
    next(b for b in at.button if b.label == "Approve").click().run()
    ok(at)
    at.selectbox(key="signoff_role").set_value("security")
    next(b for b in at.button if b.label == "Approve").click().run()
    assert at.error and "distinct-signers" in at.error[0].value
    with Store.open(path) as store:
        rid = store.list_reviews()[0].review_id
        assert [s.role for s in store.list_signoffs(rid) if s.user == "max"] == ["product_owner"]


def test_an_objection_shows_on_the_decision_page_and_another_approver_resolves_it(env, tmp_path, monkeypatch):
    path = _copy_store(env, tmp_path, monkeypatch)
    at = ok(app("grace", page="pages/decision.py"))
    at.text_area(key="objection_rationale").set_value("18-25 applicants were not consulted")
    next(b for b in at.button if b.label == "Record objection").click().run()
    ok(at)
    assert any("objection 1" in m.value and "18-25 applicants were not consulted" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert table.loc[table["criterion"] == "open-objections", "status"].item() == "MISSING"
    carol = ok(app("carol", page="pages/decision.py"))
    carol.text_input(key="resolve_text_1").set_value("consulted the youth panel; no change needed")
    next(b for b in carol.button if b.label.startswith("Accept objection 1")).click().run()
    ok(carol)
    assert any("accepted by carol (data_governance)" in m.value for m in carol.markdown)
    assert "open-objections" not in set(carol.dataframe[0].value["criterion"])
    with Store.open(path) as store:
        assert [o.status for o in store.list_objections(store.list_reviews()[0].review_id)] == ["accepted"]
