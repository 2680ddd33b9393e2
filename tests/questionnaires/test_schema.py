"""Template schema and loader: shipped templates, strictness and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from workbench.errors import QuestionnaireError
from workbench.questionnaires import (
    QUESTION_TYPES,
    ROLES,
    builtin_templates_dir,
    get_template,
    load_template,
    load_templates,
    parse_template,
)

SHIPPED = ("accessibility_transparency", "domain_review", "fairness_ethics", "support_frontline",
           "user_trust_contestability")


def _minimal(**question) -> dict:
    q = {"id": "q1", "type": "likert", "text": "Is it fine?", **question}
    return {"id": "t", "version": 1, "title": "T", "roles": ["reviewer"],
            "sections": [{"id": "s", "title": "S", "questions": [q]}]}


def _write(tmp_path: Path, data: dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_every_shipped_template_loads_with_unique_ids_and_10_to_25_questions():
    templates = load_templates()
    assert tuple(templates) == SHIPPED
    for tid, t in templates.items():
        ids = [q.id for q in t.questions]
        assert len(ids) == len(set(ids)), tid
        assert 10 <= len(ids) <= 25, (tid, len(ids))
        assert set(t.roles) <= set(ROLES)
        assert t.verdict.concern_at <= t.verdict.pass_at
        # every template has scored questions and at least one free-text note for the reviewer
        assert any(q.scored for q in t.questions)
        assert any(q.type == "free_text" for q in t.questions)
        # files are named after their ids so `questionnaire export ID` finds what `list` shows
        assert (builtin_templates_dir() / f"{tid}.yaml").is_file()


def test_shipped_templates_cover_the_required_topics():
    t = load_templates()
    contest = t["user_trust_contestability"].question("contest_decision")
    assert contest.text == "Can an affected person contest the decision?"
    assert contest.blocks("no") and not contest.blocks("yes")
    assert t["fairness_ethics"].question("proxy_features").blocks("yes")
    assert t["domain_review"].question("leakage_suspected").blocks("yes")
    assert t["support_frontline"].question("escalation_path").blocks("no")
    docs = t["accessibility_transparency"]
    for qid in ("data_sources_documented", "feature_engineering_documented", "architecture_documented",
                "threshold_rationale", "screen_reader", "plain_language"):
        docs.question(qid)
    used_types = {q.type for tpl in t.values() for q in tpl.questions}
    assert used_types == set(QUESTION_TYPES)


def test_unknown_question_type_is_an_error_naming_file_and_question(tmp_path):
    path = _write(tmp_path, _minimal(type="slider"))
    with pytest.raises(QuestionnaireError) as err:
        load_template(path)
    msg = str(err.value)
    assert str(path) in msg and "question 'q1'" in msg
    assert "unknown question type 'slider'" in msg and "likert" in msg


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"blocking": {"answer": "no"}}, "blocking rule 'answer' does not fit a likert question"),
        ({"min_acceptable": 7}, "min_acceptable 7 is outside the Likert scale 1–5"),
        ({"blocking": {"max_score": 2, "answer": "no"}}, "exactly one of answer, max_score, below, above"),
        ({"type": "free_text", "min_acceptable": 2}, "min_acceptable needs a scored question"),
        ({"type": "number", "min": 5, "max": 1}, "min 5 is greater than max 1"),
        ({"type": "yes_no_na", "blocking": {"answer": "maybe"}}, "blocking answer ['maybe'] is not one of"),
        ({"type": "single_choice", "options": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]},
         "duplicate option values ['a']"),
        ({"weight": -1}, "field 'weight'"),
        ({"type": None}, "missing 'type'"),
    ],
)
def test_schema_errors_name_file_question_and_problem(tmp_path, question, problem):
    data = _minimal(**question)
    if question.get("type", "") is None:
        del data["sections"][0]["questions"][0]["type"]
    path = _write(tmp_path, data)
    with pytest.raises(QuestionnaireError) as err:
        load_template(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid questionnaire template: question 'q1' (sections[0].questions[0])")
    assert problem in msg


def test_duplicate_question_ids_and_all_problems_reported_at_once(tmp_path):
    data = _minimal()
    data["sections"].append({"id": "s2", "title": "S2", "questions": [{"id": "q1", "type": "likert", "text": "x"}]})
    with pytest.raises(QuestionnaireError, match=r"question 'q1': duplicate question id \(at sections\[0\]"):
        load_template(_write(tmp_path, data))
    data = _minimal(type="slider")
    data["sections"][0]["questions"].append({"type": "likert", "text": "no id"})
    data["roles"] = ["wizard"]
    with pytest.raises(QuestionnaireError) as err:
        parse_template(data, source="team.yaml")
    msg = str(err.value)
    assert "field 'roles[0]'" in msg and "unknown question type 'slider'" in msg
    assert "question #2 of section #1 (no id)" in msg and "field 'id': required field is missing" in msg


def test_yaml_booleans_are_read_back_as_yes_and_no(tmp_path):
    # unquoted `no` is a boolean in YAML 1.1; a template author must not have to know that
    path = tmp_path / "t.yaml"
    path.write_text(
        "id: t\nversion: 1\ntitle: T\nroles: [reviewer]\nsections:\n- id: s\n  title: S\n  questions:\n"
        "  - {id: ok, type: yes_no_na, favourable: no, text: Any harm, blocking: {answer: yes}}\n",
        encoding="utf-8",
    )
    q = load_template(path).question("ok")
    assert q.favourable == "no" and q.blocking.answer == ("yes",)
    assert q.check_value(True) == "yes" and q.score("yes") == 0.0 and q.score("na") is None


def test_bad_yaml_missing_file_duplicate_ids_across_folders(tmp_path):
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"broken.yaml: not valid YAML at line"):
        load_template(tmp_path / "broken.yaml")
    with pytest.raises(QuestionnaireError, match="template not found"):
        load_template(tmp_path / "absent.yaml")
    team = tmp_path / "team"
    team.mkdir()
    clash = yaml.safe_load((builtin_templates_dir() / "domain_review.yaml").read_text(encoding="utf-8"))
    _write(team, clash, "mine.yaml")
    with pytest.raises(QuestionnaireError, match=r"mine.yaml: template id 'domain_review' is already used by"):
        load_templates([team])
    with pytest.raises(QuestionnaireError, match="folder not found"):
        load_templates([tmp_path / "nowhere"])


def test_team_templates_load_from_an_extra_folder(tmp_path):
    team = tmp_path / "team"
    team.mkdir()
    _write(team, {**_minimal(), "id": "team_checks"}, "team_checks.yaml")
    templates = load_templates([team])
    assert "team_checks" in templates and set(SHIPPED) <= set(templates)
    assert get_template("team_checks", extra_dirs=[team]).question("q1").scored
    with pytest.raises(QuestionnaireError, match="unknown questionnaire 'team_checks'; known: accessibility"):
        get_template("team_checks")


def test_template_digest_is_stable_and_content_sensitive():
    a = parse_template(_minimal())
    assert a.digest == parse_template(_minimal()).digest
    assert a.digest != parse_template(_minimal(text="Is it fine now?")).digest


@given(st.integers(min_value=-3, max_value=9) | st.floats(allow_nan=True) | st.text(max_size=3) | st.booleans())
def test_likert_accepts_exactly_the_whole_numbers_1_to_5(value):
    q = parse_template(_minimal()).question("q1")
    valid = (not isinstance(value, bool) and isinstance(value, (int, float))
             and value == value and float(value).is_integer() and 1 <= value <= 5)
    if valid:
        assert q.check_value(value) == int(value)
        assert q.score(q.check_value(value)) == (int(value) - 1) / 4
    else:
        with pytest.raises(ValueError, match="expected a whole number 1–5"):
            q.check_value(value)
