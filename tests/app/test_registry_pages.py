"""The registry in the app: versions and the Promote button on the decision page (GO, a
permitted user), rollback and its drill on the replay/monitoring page (operations)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, ok
from tests.registry._scenario import MODEL, build_go_review
from workbench.store import review_id_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def go(tmp_path_factory):
    root = tmp_path_factory.mktemp("app-registry")
    return build_go_review(root, f"sqlite:///{root}/mlflow.db")


@pytest.fixture(autouse=True)
def _registry_env(go, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(go.db))
    monkeypatch.setenv("WORKBENCH_KEYS", str(go.keys))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", go.registry_uri)  # the operator's registry


def session(go, user: str, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["wb_user"] = user
    at.session_state["wb_manifest"] = str(go.manifest)
    at.session_state["wb_review_id"] = review_id_for("small review")
    at.run()
    return ok(at.switch_page(page).run())


def test_promote_button_only_for_a_permitted_user_then_rollback_for_operations(go):
    start = go.registry.aliases(MODEL)
    product = session(go, "pat", "pages/decision.py")
    tables = [d.value for d in product.dataframe if "uri" in d.value.columns]
    assert [t["version"].tolist() for t in tables] == [["2", "1"]]
    assert not [b for b in product.button if b.key == "promote_button"]
    assert any("operations may promote" in c.value for c in product.caption)

    ops = session(go, "olivia", "pages/decision.py")
    ops.button(key="promote_button").click().run()
    ok(ops)
    assert any("Promoted: version 2 is now @champion" in s.value for s in ops.success), [s.value for s in ops.success]
    assert go.registry.aliases(MODEL)["champion"] == "2"

    security = session(go, "sam", "pages/replay.py")
    assert any("Only operations may roll back" in c.value for c in security.caption)

    replay = session(go, "olivia", "pages/replay.py")
    assert any("rollback target `@previous-champion` → version 1" in m.value for m in replay.markdown)
    replay.button(key="FormSubmitter:rollback_form-Rehearse (drill)").click().run()
    ok(replay)
    assert any("Drill passed" in s.value for s in replay.success)
    replay.text_input(key="rollback_reason").input("rolled back from the app")
    replay.button(key="FormSubmitter:rollback_form-Roll back").click().run()
    ok(replay)
    assert any("@champion is version 1 again" in s.value for s in replay.success)
    assert go.registry.aliases(MODEL) == start
