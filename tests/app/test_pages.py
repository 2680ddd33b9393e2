"""Every page of the workbench through app.py with AppTest, on the demo review and a real SQLite store.

The demo is generated once per session (tests/conftest.py) and copied here with a small bootstrap
(50 replicates) so the evidence takes seconds; numbers shown are checked against scikit-learn,
pandas and the store, not against hard-coded values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import precision_score

from tests.app.helpers import app, ok, review_id, spec
from workbench.store import Store

PAGES = ["pages/load.py", "pages/performance.py", "pages/calibration.py", "pages/fairness.py", "pages/robustness.py",
         "pages/questionnaires.py", "pages/governance.py", "pages/decision.py", "pages/report.py", "pages/audit.py",
         "pages/replay.py",
         "pages/explanations.py"]


# --- getting in -------------------------------------------------------------------------------


def test_sign_in_rejects_a_wrong_password_and_accepts_the_right_one():
    at = app(None)
    at.text_input(key="login_name").set_value("alice")
    at.text_input(key="login_password").set_value("wrong-password")
    at.button[0].click().run()
    assert not at.exception and at.error and "Not allowed" in at.error[0].value
    at.text_input(key="login_password").set_value("demo-alice-pass")
    at.button[0].click().run()
    ok(at)
    assert at.title[0].value == "Load a review"
    assert "product owner" in at.sidebar.markdown[0].value


def test_first_run_form_creates_the_administrator(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "empty.db"))
    at = app(None)
    assert "First run" in at.subheader[0].value
    at.text_input(key="admin_name").set_value("root")
    at.text_input(key="admin_password").set_value("long-enough-pass")
    at.text_input(key="admin_repeat").set_value("long-enough-pass")
    at.button[0].click().run()
    ok(at)
    with Store.open(tmp_path / "empty.db") as store:
        assert store.get_user("root").roles == ("admin",)
        assert store.authenticate("root", "long-enough-pass").name == "root"


# --- every page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [p for p in PAGES if p != "pages/explanations.py"])
def test_every_page_renders_with_the_demo_loaded(page):
    at = ok(app("alice", page=page))
    assert at.title[0].value
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "credit-approval" in sidebar and "Decision:" in sidebar


def test_pages_without_a_review_point_to_the_load_page():
    at = ok(app("alice", load=False, page="pages/performance.py"))
    assert any("No review is loaded" in i.value for i in at.info)


def test_load_lists_artefact_hashes_and_a_bad_path_is_a_message(env):
    from workbench.canonical import sha256_file

    at = ok(app("alice"))
    table = at.dataframe[0].value
    files = {a: sha256_file(env["demo"] / a) for a in table["file"]}
    assert list(table["sha256"]) == [files[f] for f in table["file"]]
    at.text_input(key="manifest_path_input").set_value(str(env["root"] / "nope.yaml")).run()
    at.button(key="open_path").click().run()
    assert not at.exception and "nope.yaml" in at.error[0].value


def test_upload_with_missing_files_names_them(env):
    at = ok(app("alice"))
    at.file_uploader(key="upload_manifest").set_value(("review.yaml", (env["demo"] / "review.yaml").read_bytes(), "text/yaml"))
    at.run()
    at.button(key="open_upload").click().run()
    assert not at.exception
    assert "upload these files too" in at.error[0].value and "candidate.skops" in at.error[0].value


# --- interactions ----------------------------------------------------------------------------------


def test_threshold_slider_recomputes_precision_like_sklearn(env):
    from workbench.artefacts import load_review

    at = ok(app("alice", page="pages/performance.py"))
    before = at.metric[0].value
    at.select_slider(key="threshold").set_value(0.8).run()
    ok(at)
    review = load_review(env["demo"] / "review.yaml")
    expected = precision_score(review.y_true, review.scores("candidate") >= 0.8)
    assert at.metric[0].value != before
    assert float(at.metric[0].value) == pytest.approx(expected, abs=5e-4)


def test_calibration_binning_changes_the_diagram():
    at = ok(app("alice", page="pages/calibration.py"))
    uniform = spec(at)
    at.radio(key="calibration_binning").set_value("quantile").run()
    assert spec(ok(at)) != uniform


def test_fairness_groups_show_every_group_with_its_size(env):
    import pandas as pd

    at = ok(app("alice", page="pages/fairness.py"))
    at.selectbox(key="fairness_grouping").set_value("age_band").run()
    table = ok(at).dataframe[0].value
    counts = pd.read_parquet(env["demo"] / "data" / "evaluation.parquet")["age_band"].value_counts()
    shown = {g: int(n.replace(",", "")) for g, n in zip(table["group"], table["n"])}
    assert shown == {str(g): int(n) for g, n in counts.items()}
    assert any("fairness-demographic-parity" in m.value for m in at.markdown)


def test_drift_distribution_follows_the_chosen_feature():
    at = ok(app("alice", page="pages/robustness.py"))
    at.selectbox(key="drift_feature").set_value("loan_amount").run()
    assert "loan_amount" in spec(ok(at))
    at.selectbox(key="drift_feature").set_value("region").run()
    assert "region" in spec(ok(at))


def test_an_answer_is_saved_as_a_draft_that_a_fresh_session_sees(env):
    at = ok(app("grace", page="pages/questionnaires.py"))
    tid = at.selectbox(key="questionnaire_choice").value
    key = next(r.key for r in at.radio if r.key.startswith(f"q_{tid}_"))
    at.radio(key=key).set_value(at.radio(key=key).options[1]).run()
    ok(at)
    with Store.open(env["db"]) as store:
        draft = store.get_response(review_id(env), tid, "grace")
    question = key.removeprefix(f"q_{tid}_")
    assert draft.status == "draft" and question in draft.answers
    fresh = ok(app("grace", page="pages/questionnaires.py"))
    assert fresh.radio(key=key).value == at.radio(key=key).value
    assert "draft" in fresh.caption[0].value


def test_sign_off_is_recorded_and_shown_for_the_role(env):
    at = ok(app("bob", page="pages/decision.py"))
    at.text_area(key="signoff_comment").set_value("metrics reviewed")
    at.button[0].click().run()  # Approve
    ok(at)
    with Store.open(env["db"]) as store:
        signoffs = [s for s in store.list_signoffs(review_id(env)) if s.user == "bob"]
    assert signoffs and signoffs[-1].role == "data_scientist" and signoffs[-1].verdict == "approve"
    assert any("data scientist" in m.value and "approve by bob" in m.value for m in at.markdown)


def test_waiver_by_an_allowed_role_turns_the_criterion_waived():
    at = ok(app("carol", page="pages/decision.py"))
    at.selectbox(key="waiver_criterion").set_value("fairness-equalized-odds")
    at.selectbox(key="waiver_role").set_value("data_governance")
    at.text_area(key="waiver_rationale").set_value("mitigated by manual review of 18-25 applicants until retraining")
    next(b for b in at.button if b.label == "Propose waiver").click().run()
    ok(at)
    table = at.dataframe[0].value  # one pair of eyes is not enough
    assert table.loc[table["criterion"] == "fairness-equalized-odds", "status"].item() == "FAIL"
    assert not [b for b in at.button if b.key and b.key.startswith("countersign_")]  # not by its proposer
    at = ok(app("erin", page="pages/decision.py"))  # legal countersigns what data governance proposed
    next(b for b in at.button if b.key and b.key.startswith("countersign_")).click().run()
    ok(at)
    table = at.dataframe[0].value
    assert table.loc[table["criterion"] == "fairness-equalized-odds", "status"].item() == "WAIVED"
    assert not any(b.label == "Approve" for b in ok(app("grace", page="pages/decision.py")).button)


def test_model_card_section_is_saved_in_the_store(env):
    at = ok(app("carol", page="pages/governance.py"))
    section = at.selectbox(key="card_section").value
    at.text_area(key=f"card_text_{section}").set_value("Reviewed by the governance team\n")
    at.button(key="save_card").click().run()
    ok(at)
    with Store.open(env["db"]) as store:
        doc = store.get_document(review_id(env), "model_card")
    assert doc is not None and doc.content[section] == "Reviewed by the governance team"
    assert any("edited in the app" in c.value for c in at.caption)


def test_signed_packet_is_generated_and_verifies(env):
    from workbench.report import verify_packet
    from workbench.report._keys import key_paths

    at = ok(app("alice", page="pages/report.py"))
    at.button(key="generate_packet").click().run()
    ok(at)
    pdf = Path(at.session_state["wb_packet"])
    assert "Signature valid" in at.success[0].value
    assert verify_packet(pdf, cert=key_paths(env["keys"]).signing_cert).valid


def test_audit_chain_verifies_and_filters_by_actor(env):
    at = ok(app("alice", page="pages/audit.py"))
    at.button(key="verify_chain").click().run()
    assert "Chain intact" in ok(at).success[0].value
    everything = len(at.dataframe[0].value)
    at.multiselect(key="audit_actor").select("alice").run()
    only_alice = at.dataframe[0].value
    assert 0 < len(only_alice) < everything and set(only_alice["actor"]) == {"alice"}


@pytest.mark.slow
def test_explanations_are_computed_on_demand_and_follow_the_feature(env):
    at = ok(app("alice", page="pages/explanations.py"))
    # before any click: only the evidence's global importance and its candidate-vs-baseline diff
    assert [c.key for c in at.get("plotly_chart")] == ["importance"]
    with Store.open(env["db"]) as store:
        diff = store.latest_evidence(review_id(env)).evidence["explanations"]["diff"]
    assert at.metric[0].value == f"{diff['spearman']:.2f}"
    assert at.metric[2].value == f"{diff['top_k_overlap']:.2f}"
    at.button(key="compute_explanations").click().run()
    ok(at)
    before = spec(at, 2)
    at.selectbox(key="dependence_feature").set_value("debt_ratio").run()
    assert spec(ok(at), 2) != before and "debt_ratio" in spec(at, 2)
    assert np.isfinite(float(at.metric[0].value)) if at.metric else True


def test_decision_page_opens_with_the_plain_language_summary():
    at = ok(app("bob", page="pages/decision.py"))
    plain = [m.value for m in at.markdown if m.value.startswith("**In plain words.**")]
    assert len(plain) == 1
    assert any(s in plain[0] for s in ("must not be used yet", "may now be used", "No final answer yet"))
    assert "Next, " in plain[0]


def test_decision_table_shows_margins_rows_needed_and_underpowered_passes():
    at = ok(app("bob", page="pages/decision.py"))
    assert "INCONCLUSIVE" in at.multiselect(key="criteria_filter").options
    table = at.dataframe[0].value
    assert {"margin", "rows needed", "underpowered"} <= set(table.columns)
    row = table.set_index("criterion")
    assert row.loc["auc-non-inferior", "margin"] == "0.010" and row.loc["fairness-no-widening", "margin"] == "0.020"
    assert row.loc["auc-floor", "margin"] == "—"  # an absolute bound compares with no baseline
    # the columns say what the reasons say (the flags come from the evidence's MDEs, not from the page)
    for _, r in table.iterrows():
        assert bool(r["rows needed"]) == (r["status"] == "INCONCLUSIVE")
        assert bool(r["underpowered"]) == ("underpowered:" in r["reason"]), r["criterion"]
