"""`workbench questionnaire …` end to end through workbench.cli.main, and the docs page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from workbench.cli import main
from workbench.questionnaires import get_template, load_templates
from workbench.store import Store

DOCS = Path(__file__).resolve().parents[2] / "docs" / "QUESTIONNAIRES.md"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # grace signs in as a script would (the import is hers only with her password)
    monkeypatch.setenv("WORKBENCH_USER", "grace")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "grace-secret-1")
    monkeypatch.delenv("WORKBENCH_TOKEN", raising=False)
    path = tmp_path / "w.db"
    manifest = tmp_path / "review.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "credit 2.3", "task": "binary", "target": "y", "positive_label": 1,
        "candidate": {"predictions": "cand_score"}, "data": {"evaluation": "eval.csv"}}), encoding="utf-8")
    with Store.open(path) as store:
        store.add_user("grace", ["reviewer"], password="grace-secret-1", actor="cli:test")
        store.upsert_review("credit 2.3", manifest_path=str(manifest.resolve()), evidence_digest=None,
                            actor="cli:test")
    return path


def test_list_shows_every_template(capsys):
    assert main(["questionnaire", "list"]) == 0
    out = capsys.readouterr().out
    for tid, t in load_templates().items():
        assert re.search(rf"^{tid}\s+v{t.version}\s+{len(t.questions)} questions", out, re.M)


def test_export_markdown_has_every_question_and_the_blocking_rules(tmp_path, capsys):
    t = get_template("user_trust_contestability")
    out = tmp_path / "forms" / "trust.md"
    assert main(["questionnaire", "export", t.id, "--format", "md", "--out", str(out)]) == 0
    md = out.read_text(encoding="utf-8")
    assert md.startswith(f"# {t.title}\n")
    for q in t.questions:
        assert f"`{q.id}`" in md and " ".join(q.text.split()) in md
    assert "**Blocking:** answer **no** blocks promotion unless waived." in md
    assert "**Blocking:** a value **above 30** blocks promotion unless waived." in md
    assert md.count("☐ 1 Strongly disagree") == sum(q.type == "likert" for q in t.questions)
    assert main(["questionnaire", "export", "nope"]) == 2
    assert "unknown questionnaire 'nope'" in capsys.readouterr().err


def test_exported_yaml_skeleton_round_trips_through_import(tmp_path, db, capsys):
    t = get_template("support_frontline")
    skeleton = tmp_path / "answers.yaml"
    assert main(["questionnaire", "export", t.id, "--format", "yaml", "--out", str(skeleton)]) == 0
    data = yaml.safe_load(skeleton.read_text(encoding="utf-8"))
    assert set(data["answers"]) == {q.id for q in t.questions}
    for q in t.questions:  # fill it in as a reviewer would on paper
        value = {"likert": 4, "yes_no_na": "yes", "number": 8, "free_text": "Why was I declined?"}.get(q.type)
        data["answers"][q.id]["value"] = value if value is not None else q.options[0].value
    data["answers"]["escalation_path"]["comment"] = "team lead, then credit risk"
    skeleton.write_text(yaml.safe_dump(data), encoding="utf-8")
    manifest = db.parent / "review.yaml"
    code = main(["questionnaire", "import", str(skeleton), "--review", str(manifest), "--as", "grace",
                 "--submit", "--db", str(db)])
    assert code == 0, capsys.readouterr().err
    assert "support_frontline: grace revision 1 version 2 submitted" in capsys.readouterr().out
    with Store.open(db, create=False) as store:
        review_id = store.list_reviews()[0].review_id
        [r] = store.list_responses(review_id)
        assert r.status == "submitted" and r.answers["escalation_path"]["comment"] == "team lead, then credit risk"
        assert [e.action for e in store.audit_entries(subject=review_id)][-3:] == [
            "responses_imported", "response_saved", "response_submitted"]
        assert {e.actor for e in store.audit_entries(subject=review_id)[-3:]} == {"grace"}


def test_import_errors_exit_2_with_one_line(tmp_path, db, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"questionnaire": "support_frontline", "answers": {"frontline_confidence": 6}}),
                   encoding="utf-8")
    args = ["questionnaire", "import", str(bad), "--as", "grace", "--db", str(db)]
    assert main([*args, "--review", "no-such-review"]) == 2
    assert "review 'no-such-review' is not in the store" in capsys.readouterr().err
    with Store.open(db, create=False) as store:
        review_id = store.list_reviews()[0].review_id
    assert main([*args, "--review", review_id]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'frontline_confidence' (likert): expected a whole number 1–5, got 6" in err
    assert main([*args[:-4], "--as", "nobody", "--db", str(db), "--review", review_id]) == 2
    assert "--as nobody: not a registered user" in capsys.readouterr().err
    assert main([*args[:-2], "--db", str(tmp_path / "absent.db"), "--review", review_id]) == 2
    assert "no review store here" in capsys.readouterr().err


def test_every_questionnaire_command_and_template_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    for command in ("questionnaire list", "questionnaire export ID --format md", "questionnaire import RESPONSES.yaml"):
        assert f"workbench {command}" in text
    for tid in load_templates():
        assert f"`{tid}`" in text
    for qtype in ("likert", "yes_no_na", "single_choice", "multiple_choice", "number", "free_text"):
        assert f"`{qtype}`" in text
