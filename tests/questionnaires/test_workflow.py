"""Response workflow on a real SQLite store: drafts, submit, revise, roles, import, verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.errors import PermissionDenied, QuestionnaireError, StaleWriteError, StoreError
from workbench.questionnaires import (
    get_template,
    import_responses,
    load_templates,
    missing_required,
    qualitative_outcomes,
    qualitative_verdict,
    revise,
    save_answers,
    submit,
    validate_answers,
)
from workbench.store import Store

QID = "user_trust_contestability"


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "w.db") as s:
        s.add_user("grace", ["reviewer"], actor="cli:test")
        s.add_user("erin", ["legal"], actor="cli:test")
        s.add_user("dave", ["security"], actor="cli:test")
        yield s


@pytest.fixture
def review(store: Store) -> str:
    return store.upsert_review("credit 2.3", manifest_path="/r/review.yaml", evidence_digest="e", actor="cli:t")


@pytest.fixture
def template():
    return get_template(QID)


def full_answers(template, *, contest="yes") -> dict:
    """Every question answered favourably (contest_decision as given)."""
    out = {}
    for q in template.questions:
        if q.type == "likert":
            out[q.id] = 5
        elif q.type == "yes_no_na":
            out[q.id] = q.favourable
        elif q.type == "number":
            out[q.id] = 10
        elif q.type == "free_text":
            out[q.id] = "clear route via the complaints team"
    out["contest_decision"] = contest
    return out


def test_draft_submit_revise_keeps_both_revisions_in_store_and_audit_log(store, review, template):
    answers = full_answers(template)
    first, rest = dict(list(answers.items())[:3]), dict(list(answers.items())[3:])
    # the app saves on every answer: each save merges into the draft and bumps its version
    r = save_answers(store, template, review, "grace", first, expected_version=None)
    assert (r.revision, r.version, r.status) == (1, 1, "draft")
    for i, (qid, value) in enumerate(rest.items(), start=2):
        r = save_answers(store, template, review, "grace", {qid: value}, expected_version=r.version)
        assert r.version == i
    assert set(r.answers) == set(answers) and r.questionnaire_version == "1"
    with pytest.raises(StaleWriteError):
        save_answers(store, template, review, "grace", {"trust_overall": 1}, expected_version=1)

    submitted = submit(store, template, review, "grace", expected_version=r.version)
    assert submitted.status == "submitted"
    # a submitted response cannot be edited in place
    with pytest.raises(StoreError, match="read-only; revise it"):
        save_answers(store, template, review, "grace", {"trust_overall": 1}, expected_version=submitted.version)
    assert store.get_response(review, QID, "grace").answers["trust_overall"]["value"] == 5

    draft2 = revise(store, template, review, "grace", reason="contest route was withdrawn", actor="grace")
    assert (draft2.revision, draft2.status, draft2.revision_reason) == (2, "draft", "contest route was withdrawn")
    r2 = save_answers(store, template, review, "grace", {"contest_decision": "no"}, expected_version=1)
    final = submit(store, template, review, "grace", expected_version=r2.version)

    revisions = store.list_responses(review, QID, current_only=False)
    assert [(x.revision, x.status) for x in revisions] == [(1, "superseded"), (2, "submitted")]
    assert revisions[0].answers["contest_decision"]["value"] == "yes"
    assert revisions[1].answers["contest_decision"]["value"] == "no"
    actions = [(e.action, e.payload.get("revision")) for e in store.audit_entries(subject=review)
               if e.action.startswith("response_")]
    saves_of_revision_1 = 1 + len(rest)  # the first batch, then one save per answer
    assert actions == ([("response_saved", 1)] * saves_of_revision_1
                       + [("response_submitted", 1), ("response_revised", 2), ("response_saved", 2),
                          ("response_submitted", 2)])
    assert store.verify_audit().ok

    # only the current submitted revision counts: the blocking "no" now fails the questionnaire
    v = qualitative_verdict(load_templates(), store.list_responses(review),
                            requirements={"questionnaires": [QID]})
    assert v.verdict == "FAIL" and v.reasons == (f"{QID}: blocking answer to contest_decision: grace answered 'no'",)
    assert final.revision == 2


def test_submit_lists_the_unanswered_required_questions(store, review, template):
    answers = full_answers(template)
    del answers["contest_decision"], answers["reasons_given"]
    answers["trust_overall"] = {"value": None, "comment": "not sure yet"}
    r = save_answers(store, template, review, "grace", answers, expected_version=None)
    assert missing_required(template, r.answers) == ("reasons_given", "contest_decision", "trust_overall")
    with pytest.raises(QuestionnaireError, match=r"cannot submit user_trust_contestability for grace: required "
                                                 r"questions unanswered: reasons_given, contest_decision, trust_overall"):
        submit(store, template, review, "grace", expected_version=r.version)
    assert store.get_response(review, QID, "grace").status == "draft"
    # the comment on the unanswered question is kept (nothing typed is lost)
    assert r.answers["trust_overall"] == {"value": None, "evidence": [], "comment": "not sure yet"}
    # while in draft it is in progress, not a verdict
    s = qualitative_verdict(load_templates(), store.list_responses(review), requirements={"questionnaires": [QID]})
    assert s.verdict == "MISSING" and s.questionnaires[0].in_progress == ("grace",)


def test_answers_are_validated_against_the_template(store, review, template):
    with pytest.raises(QuestionnaireError) as err:
        save_answers(store, template, review, "grace",
                     {"reasons_faithful": 7, "contest_decision": "maybe", "nope": 1,
                      "contest_response_days": 400, "decisions_stable": {"value": 3, "score": 1}},
                     expected_version=None)
    msg = str(err.value)
    for part in ("'reasons_faithful' (likert): expected a whole number 1–5, got 7",
                 "'contest_decision' (yes_no_na): expected one of yes, no, got 'maybe'",
                 "'nope' is not a question of user_trust_contestability v1",
                 "'contest_response_days' (number): 400 is above the maximum 365",
                 "'decisions_stable': unknown answer keys ['score']"):
        assert part in msg
    assert store.get_response(review, QID, "grace") is None  # nothing written
    ok = validate_answers(template, {"contest_decision": {"value": True, "evidence": ["explanations.candidate.local"]}})
    assert ok["contest_decision"] == {"value": "yes", "evidence": ["explanations.candidate.local"], "comment": ""}


def test_only_users_holding_a_template_role_may_answer(store, review, template):
    before = store.audit_count()
    with pytest.raises(PermissionDenied, match="dave holds security; questionnaire user_trust_contestability is "
                                               "answered by reviewer, product_owner, legal, operations"):
        save_answers(store, template, review, "dave", {"trust_overall": 4}, expected_version=None)
    assert store.audit_entries(action="permission_denied")[-1].actor == "dave"
    assert store.audit_count() == before + 1
    with pytest.raises(QuestionnaireError, match="'zoe' is not a registered user"):
        save_answers(store, template, review, "zoe", {"trust_overall": 4}, expected_version=None)


def test_import_validates_everything_first_then_writes_and_audits_in_one_transaction(store, review, template, tmp_path):
    good = {"questionnaire": QID, "version": 1, "answers": full_answers(template)}
    bad = {"questionnaire": "fairness_ethics", "answers": {"disparities_acceptable": 9}}
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({"responses": [good, bad]}), encoding="utf-8")
    templates = load_templates()
    before = store.audit_count()
    with pytest.raises(QuestionnaireError, match=r"answers.yaml: response #2: questionnaire fairness_ethics: "
                                                 r"'disparities_acceptable' \(likert\): expected a whole number"):
        import_responses(store, path, review_id=review, reviewer="erin", templates=templates)
    assert store.audit_count() == before and store.list_responses(review) == []

    path.write_text(yaml.safe_dump(good), encoding="utf-8")
    saved = import_responses(store, path, review_id=review, reviewer="erin", templates=templates,
                             submit_after=True, actor="cli:ops")
    assert [(r.questionnaire_id, r.reviewer, r.status) for r in saved] == [(QID, "erin", "submitted")]
    imported = store.audit_entries(action="responses_imported")[-1]
    assert imported.actor == "cli:ops" and imported.payload["file"] == "answers.yaml"
    assert len(imported.payload["sha256"]) == 64 and imported.payload["submit"] is True
    # a second import over a submitted response is refused, and rolls back completely
    n = store.audit_count()
    with pytest.raises(QuestionnaireError, match="is submitted; revise it first"):
        import_responses(store, path, review_id=review, reviewer="erin", templates=templates)
    assert store.audit_count() == n

    incomplete = {"questionnaire": QID, "answers": {"trust_overall": 4}}
    path.write_text(yaml.safe_dump(incomplete), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="cannot --submit user_trust_contestability: required questions"):
        import_responses(store, path, review_id=review, reviewer="grace", templates=templates, submit_after=True)
    for content, message in [
        ({"questionnaire": QID, "version": 2, "answers": {}}, "the current template is v1"),
        ({"questionnaire": QID, "reviewer": "bob", "answers": {}}, "differs from --as 'grace'"),
        ({"questionnaire": "nope", "answers": {}}, "unknown questionnaire 'nope'"),
        ({"answers": {}}, "needs `questionnaire:` and `answers:`"),
        ({"questionnaire": QID, "answers": {}, "extra": 1}, "unknown keys ['extra']"),
    ]:
        path.write_text(yaml.safe_dump(content), encoding="utf-8")
        with pytest.raises(QuestionnaireError) as err:
            import_responses(store, path, review_id=review, reviewer="grace", templates=templates)
        assert message in str(err.value)
    with pytest.raises(StoreError, match="is not in the store"):
        import_responses(store, path, review_id="0" * 16, reviewer="grace", templates=templates)


def test_qualitative_outcomes_feed_the_decision_engine(store, review, template):
    from workbench.policy import default_policy

    r = save_answers(store, template, review, "grace", full_answers(template), expected_version=None)
    submit(store, template, review, "grace", expected_version=r.version)
    policy = default_policy()
    outcomes = qualitative_outcomes(store, review, policy)
    criterion = next(c for c in policy.criteria if c.kind == "qualitative")
    verdict = outcomes[criterion.id]
    by_id = {q.questionnaire_id: q for q in verdict.questionnaires}
    assert by_id[QID].verdict == "PASS" and by_id[QID].roles == {"grace": ("reviewer",)}
    assert verdict.verdict == "MISSING"  # four questionnaires are still unanswered
