"""Scoring and aggregation: hand-derived values on three reviewers, verdict rules, requirements."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import QuestionnaireError
from workbench.questionnaires import (
    load_templates,
    parse_template,
    qualitative_verdict,
    score_questionnaire,
)
from workbench.questionnaires.scoring import worst

HAND = {
    "id": "hand", "version": 1, "title": "Hand-made", "roles": ["reviewer", "legal"],
    "verdict": {"pass_at": 0.75, "concern_at": 0.5},
    "sections": [{"id": "s", "title": "S", "questions": [
        {"id": "q1", "type": "likert", "text": "Explanations plausible", "weight": 2, "min_acceptable": 3},
        {"id": "q2", "type": "yes_no_na", "text": "Can people contest?", "blocking": {"answer": "no"}},
        {"id": "q3", "type": "single_choice", "text": "Oversight", "options": [
            {"value": "a", "label": "A", "score": 1.0}, {"value": "b", "label": "B", "score": 0.5},
            {"value": "c", "label": "C", "score": 0.0}]},
        {"id": "q4", "type": "likert", "text": "Documented"},
        {"id": "q5", "type": "free_text", "text": "Notes", "required": False},
        {"id": "q6", "type": "number", "text": "Days to answer", "required": False, "min": 0},
        {"id": "q7", "type": "yes_no_na", "text": "Proxy features?", "favourable": "no"},
    ]}],
}


@pytest.fixture()
def hand():
    return parse_template(HAND)


def _resp(reviewer, answers, status="submitted", questionnaire="hand", **extra):
    return {"questionnaire_id": questionnaire, "reviewer": reviewer, "status": status, "answers": answers, **extra}


THREE = [
    _resp("ann", {"q1": 5, "q2": "yes", "q3": "a", "q4": 4, "q5": "fine", "q7": "no"}),
    _resp("ben", {"q1": 3, "q2": {"value": "na", "evidence": ["fairness"]}, "q3": "b", "q4": 4, "q6": 10,
                  "q7": "no"}),
    _resp("cat", {"q1": {"value": 2, "evidence": ["slices", "fairness"], "comment": "odd on thin files"},
                  "q2": {"value": "no", "comment": "no appeal route"}, "q3": "a", "q4": 5, "q7": "yes"}),
]


def test_three_reviewers_give_the_documented_scores_flags_and_blocking_answers(hand):
    s = score_questionnaire(hand, THREE)
    q = {x.question_id: x for x in s.questions}
    # q1 Likert 5, 3, 2: mean 10/3; spread 5-2 = 3 >= 2 -> disagreement;
    #    scores (5-1)/4=1, (3-1)/4=0.5, (2-1)/4=0.25 -> q = 1.75/3 = 7/12; mean 3.33 >= min 3.
    assert q["q1"].mean == pytest.approx(10 / 3) and q["q1"].spread == 3
    assert q["q1"].score == pytest.approx(7 / 12)
    assert q["q1"].disagreement and not q["q1"].below_minimum
    assert q["q1"].distribution == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1}
    assert q["q1"].comments == (("cat", "odd on thin files"),)
    assert q["q1"].evidence_cited == ("fairness", "slices")
    # q2 yes / na / no: na is answered but not scored -> q = (1 + 0) / 2; yes against no
    #    disagrees; cat's "no" meets the blocking rule.
    assert q["q2"].distribution == {"yes": 1, "no": 1, "na": 1} and q["q2"].n_answered == 3
    assert q["q2"].score == 0.5 and q["q2"].disagreement
    assert [(b.reviewer, b.answer, b.comment, b.waived) for b in q["q2"].blocking] == [
        ("cat", "no", "no appeal route", False)]
    # q3 options a(1), b(0.5), a(1): q = 2.5/3 = 5/6; scores 0.5 apart -> disagreement
    assert q["q3"].score == pytest.approx(5 / 6) and q["q3"].disagreement
    assert q["q3"].distribution == {"a": 2, "b": 1, "c": 0}
    # q4 Likert 4, 4, 5: spread 1 -> agreement; q = (0.75 + 0.75 + 1) / 3 = 5/6
    assert q["q4"].score == pytest.approx(5 / 6) and not q["q4"].disagreement and q["q4"].spread == 1
    # q5 free text and q6 number are unscored, q6 keeps its mean
    assert q["q5"].score is None and q["q5"].answers == (("ann", "fine"),)
    assert q["q6"].score is None and q["q6"].mean == 10
    # q7 favourable "no": no, no, yes -> 1, 1, 0 -> q = 2/3; yes against no disagrees
    assert q["q7"].score == pytest.approx(2 / 3) and q["q7"].disagreement
    # S = (2*7/12 + 1/2 + 5/6 + 5/6 + 2/3) / (2+1+1+1+1) = (7/6 + 3/6 + 5/6 + 5/6 + 4/6) / 6 = 4/6
    assert s.score == pytest.approx(2 / 3)
    assert s.disagreements == ("q1", "q2", "q3", "q7")
    assert s.completion == {"ann": 1.0, "ben": 1.0, "cat": 1.0} and s.complete
    assert s.verdict == "FAIL"
    assert "blocking answer to q2: cat answered 'no'" in s.reasons
    assert s.reviewers == ("ann", "ben", "cat") and s.in_progress == ()


def test_waiving_the_blocking_answer_leaves_the_score_rule_concern(hand):
    s = score_questionnaire(hand, THREE, waived=["q2"])
    assert s.blocking[0].waived
    # 2/3 is in [concern_at 0.5, pass_at 0.75) -> CONCERN, and disagreement is listed too
    assert s.verdict == "CONCERN"
    assert s.reasons == ("score 0.667 is below 0.75 (pass_at)", "reviewers disagree on q1, q2, q3, q7")
    assert score_questionnaire(hand, THREE, allow_blocking_answers=True).verdict == "CONCERN"


def test_a_required_question_left_empty_keeps_the_verdict_missing_not_pass(hand):
    perfect = {"q1": 5, "q2": "yes", "q3": "a", "q4": 5, "q7": "no"}
    assert score_questionnaire(hand, [_resp("ann", perfect)]).verdict == "PASS"
    gap = {**perfect, "q4": None, "q5": "   "}
    s = score_questionnaire(hand, [_resp("ann", perfect), _resp("ben", gap)])
    assert not s.complete and s.completion == {"ann": 1.0, "ben": 0.8}
    assert s.missing_required == {"ben": ("q4",)}
    assert s.verdict == "MISSING"
    assert s.reasons == ("ben left required questions unanswered: q4",)
    overall = qualitative_verdict([hand], [_resp("ann", perfect), _resp("ben", gap)])
    assert overall.verdict == "MISSING"
    assert overall.reasons == ("hand: ben left required questions unanswered: q4",)


def test_only_current_submitted_responses_count_and_drafts_show_as_in_progress(hand):
    low = {"q1": 1, "q2": "yes", "q3": "c", "q4": 1, "q7": "yes"}
    high = {"q1": 5, "q2": "yes", "q3": "a", "q4": 5, "q7": "no"}
    s = score_questionnaire(hand, [_resp("dan", high, status="draft")])
    assert s.verdict == "MISSING" and s.in_progress == ("dan",) and s.reasons == (
        "no submitted response (1 in progress: dan)",)
    # revision 1 (superseded) said low, revision 2 submitted says high: only revision 2 counts
    s = score_questionnaire(hand, [
        _resp("ann", low, status="superseded", revision=1),
        _resp("ann", high, status="submitted", revision=2),
        _resp("ann", low, status="submitted", revision=1),
        _resp("bob", low, questionnaire="other"),
    ])
    assert s.reviewers == ("ann",) and s.score == 1.0 and s.verdict == "PASS"


def test_score_rules_min_acceptable_and_no_scored_answers(hand):
    fail = score_questionnaire(hand, [_resp("ann", {"q1": 2, "q2": "yes", "q3": "c", "q4": 2, "q7": "yes"})])
    # (2*0.25 + 1 + 0 + 0.25 + 0) / 6 = 1.75/6 = 0.2917 < 0.5
    assert fail.score == pytest.approx(1.75 / 6) and fail.verdict == "FAIL"
    assert "q1: mean 2.00 is below the minimum acceptable" in fail.reasons
    rules = {**HAND, "verdict": {"pass_at": 0.5, "concern_at": 0.25}}
    capped = score_questionnaire(parse_template(rules), [
        _resp("ann", {"q1": 2, "q2": "yes", "q3": "a", "q4": 5, "q7": "no"})])
    # score (0.5 + 1 + 1 + 1 + 1)/6 = 0.75 passes the score rule but q1 mean 2 < 3 caps it
    assert capped.score == pytest.approx(0.75) and capped.verdict == "CONCERN"
    na = parse_template({**HAND, "sections": [{"id": "s", "title": "S", "questions": [HAND["sections"][0]["questions"][1]]}]})
    s = score_questionnaire(na, [_resp("ann", {"q2": "na"})])
    assert s.score is None and s.verdict == "CONCERN"


def test_qualitative_verdict_applies_role_counts_min_score_and_waivers(hand):
    roles = {"ann": ["reviewer"], "ben": ["legal"], "cat": ["reviewer", "legal"]}
    req = {"questionnaires": ["hand"], "min_reviewers": {"reviewer": 3, "legal": 1, "security": 5},
           "waived": ["hand.q2"]}
    v = qualitative_verdict({"hand": hand}, THREE, requirements=req, roles=roles)
    # reviewer role: ann + cat = 2 < 3 -> MISSING; legal: ben + cat = 2 >= 1; security is not a role
    # of this template, so it does not apply; the waived blocking answer leaves CONCERN underneath.
    assert v.verdict == "MISSING"
    assert "hand: 2 submitted reviewer(s) with role reviewer, 3 required" in v.reasons
    assert not any("security" in r for r in v.reasons)
    assert v.questionnaires[0].roles == {"ann": ("reviewer",), "ben": ("legal",), "cat": ("reviewer", "legal")}
    v = qualitative_verdict([hand], THREE, requirements={"min_score": 0.7, "waived": ["hand.q2"]}, roles=roles)
    assert v.verdict == "FAIL" and "hand: score 0.667 is below the policy minimum 0.7" in v.reasons
    v = qualitative_verdict([hand], THREE, requirements={"allow_blocking_answers": True})
    assert v.verdict == "CONCERN"
    assert v.requirements["allow_blocking_answers"] is True  # the result embeds its configuration
    with pytest.raises(QuestionnaireError, match="unknown questionnaire"):
        qualitative_verdict([hand], [], requirements={"questionnaires": ["nope"]})
    with pytest.raises(QuestionnaireError, match="invalid qualitative requirements"):
        qualitative_verdict([hand], [], requirements={"min_score": 2})


def test_the_default_policy_criterion_is_accepted_as_requirements():
    from workbench.policy import default_policy

    criterion = next(c for c in default_policy().criteria if c.kind == "qualitative")
    templates = load_templates()
    answers = {}
    for q in templates["support_frontline"].questions:
        answers[q.id] = {"likert": 5, "yes_no_na": "yes", "number": 4, "free_text": "ok"}.get(
            q.type, q.options[0].value if hasattr(q, "options") else None)
    v = qualitative_verdict(templates, [_resp("grace", answers, questionnaire="support_frontline")],
                            requirements=criterion, roles={"grace": ["reviewer"]})
    sf = next(q for q in v.questionnaires if q.questionnaire_id == "support_frontline")
    assert sf.verdict == "PASS" and sf.score == 1.0
    assert v.verdict == "MISSING"  # the other four questionnaires have no submitted response
    assert len(v.questionnaires) == 5 and v.to_dict()["questionnaires"][0]["verdict"] == "MISSING"


def test_worst_orders_verdicts():
    assert worst([]) == "PASS"
    assert worst(["PASS", "CONCERN"]) == "CONCERN"
    assert worst(["CONCERN", "MISSING"]) == "MISSING"
    assert worst(["MISSING", "FAIL", "PASS"]) == "FAIL"


LIKERT_ONLY = st.lists(st.integers(1, 5), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), min_size=1, max_size=5),
       data=st.data())
def test_weighted_score_matches_an_independent_numpy_computation(weights, data):
    template = parse_template({"id": "h", "version": 1, "title": "H", "roles": ["reviewer"],
                               "verdict": {"pass_at": 0.75, "concern_at": 0.5},
                               "sections": [{"id": "s", "title": "S", "questions": [
                                   {"id": f"q{i}", "type": "likert", "text": "x", "weight": w}
                                   for i, w in enumerate(weights)]}]})
    n = data.draw(st.integers(1, 5))
    grid = np.array(data.draw(st.lists(st.lists(st.integers(1, 5), min_size=len(weights),
                                                max_size=len(weights)), min_size=n, max_size=n)))
    responses = [_resp(f"r{j}", {f"q{i}": int(v) for i, v in enumerate(row)}, questionnaire="h")
                 for j, row in enumerate(grid)]
    s = score_questionnaire(template, responses)
    w = np.array(weights)
    per_question = ((grid - 1) / 4).mean(axis=0)
    expected = None if w.sum() == 0 else float((w * per_question).sum() / w.sum())
    if expected is None:
        assert s.score is None
    else:
        assert s.score == pytest.approx(expected, abs=1e-12)
    spreads = grid.max(axis=0) - grid.min(axis=0)
    assert s.disagreements == tuple(f"q{i}" for i in range(len(weights)) if spreads[i] >= 2)
    shuffled = list(responses)
    random.Random(n).shuffle(shuffled)
    assert score_questionnaire(template, shuffled) == s  # order of responses never matters
