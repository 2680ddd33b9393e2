"""The reason-code panel on the Explanations page and the contest view on the monitoring page, through
app.py: what they show is compared with ``workbench.explain.reason_codes`` on the same review."""

from __future__ import annotations

import sqlite3

import pytest

from tests.app.helpers import app, ok
from workbench.store import Store

pytestmark = pytest.mark.filterwarnings(
    r"ignore:The set_(bad|over|under) function will be deprecated:PendingDeprecationWarning"
)


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_reason_panel_explains_one_row_on_demand(env):
    from workbench.artefacts import load_review
    from workbench.explain import reason_codes

    review = load_review(env["demo"] / "review.yaml")
    row_id = str(review.evaluation[review.id_column].iloc[11])
    at = ok(app("alice", page="pages/explanations.py"))
    assert not any(m.startswith("**Decision:") for m in _markdown(at))  # nothing computed before an id
    at.text_input(key="reason_id").input(row_id).run()
    ok(at)
    expected = reason_codes(review, row_id).to_dict()
    shown = _markdown(at)
    assert any(m.startswith(f"**Decision: {expected['decision']}** — probability {expected['score']:.3f}") for m in shown)
    top = next(m for m in shown if m.startswith("**Top reasons**"))
    assert [r["sentence"] for r in expected["reasons"]] == [line.split(". ", 1)[1] for line in top.splitlines()[2:]]
    change = next(m for m in shown if m.startswith("**What would most change it:**"))
    assert expected["change"]["available"] and expected["change"]["sentence"] in change
    table = next(d.value for d in at.dataframe if "contribution" in d.value.columns)
    assert list(table["feature"]) == [c["feature"] for c in expected["contributions"]]

    at.text_input(key="reason_id").input("no-such-application").run()
    assert at.error and "no-such-application" in at.error[0].value and "evaluation.parquet" in at.error[0].value


def test_staff_answering_a_contest_see_its_reason_codes(env, tmp_path, monkeypatch):
    path = tmp_path / "copy.db"  # a private copy: the other app tests count the session store's feedback
    src, dst = sqlite3.connect(env["db"]), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    from workbench.artefacts import load_review

    review = load_review(env["demo"] / "review.yaml")
    decision = str(review.evaluation[review.id_column].iloc[5])
    at = ok(app("frank", page="pages/replay.py"))
    at.text_input(key="fb_id").input(decision)
    at.text_area(key="fb_text").input("I was declined but my debts are paid")
    at.run()
    at.button(key="fb_record").click().run()
    ok(at)
    with Store.open(path) as store:  # the copy also holds what earlier app tests recorded: find ours
        [record] = [f for r in store.list_reviews() for f in store.list_feedback(r.review_id)
                    if f.text == "I was declined but my debts are paid"]
    reasons = record.links["reasons"]
    assert reasons["available"] and reasons["row_id"] == decision
    pick = at.selectbox(key="contest_pick")
    if pick.value != record.feedback_id:  # pending contests of earlier tests may be listed first
        pick.set_value(record.feedback_id).run()
        ok(at)
    shown = _markdown(at)
    top = next(m for m in shown if m.startswith("**Top reasons**"))
    assert all(r["sentence"] in top for r in reasons["reasons"])
    assert any(m.startswith(f"**Decision: {reasons['decision']}**") for m in shown)
    assert any(t.value == "I was declined but my debts are paid" for t in at.text)
