"""Teams add their own questionnaire templates in folders the policy names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from workbench.policy import qualitative_for_review
from workbench.errors import PolicyError, QuestionnaireError
from workbench.policy import default_policy_text, load_policy
from workbench.questionnaires import builtin_templates_dir
from workbench.store import Store


def _policy_with(tmp_path: Path, dirs: list[str], questionnaires) -> Path:
    raw = yaml.safe_load(default_policy_text())
    raw["questionnaire_dirs"] = dirs
    for c in raw["criteria"]:
        if c["kind"] == "qualitative":
            c["questionnaires"] = questionnaires
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_policy_named_template_folder_is_used_by_the_decision(tmp_path: Path) -> None:
    folder = tmp_path / "team_templates"
    folder.mkdir()
    template = yaml.safe_load((builtin_templates_dir() / "support_frontline.yaml").read_text())
    template["id"] = "team_call_centre"
    (folder / "team_call_centre.yaml").write_text(yaml.safe_dump(template, sort_keys=False))
    policy = load_policy(_policy_with(tmp_path, ["team_templates"], ["team_call_centre"]))
    assert policy.template_dirs == (folder.resolve(),)
    with Store.open(tmp_path / "w.db") as store:
        review_id = store.upsert_review("r", manifest_path="m", evidence_digest="0" * 64, actor="cli:test")
        verdicts = qualitative_for_review(policy, store=store, review_id=review_id)
    (verdict,) = verdicts.values()
    assert verdict.verdict == "MISSING"
    assert "team_call_centre" in " ".join(verdict.reasons)


def test_unknown_team_template_without_the_folder_is_an_error(tmp_path: Path) -> None:
    policy = load_policy(_policy_with(tmp_path, [], ["team_call_centre"]))
    with Store.open(tmp_path / "w.db") as store:
        review_id = store.upsert_review("r", manifest_path="m", evidence_digest="0" * 64, actor="cli:test")
        with pytest.raises(QuestionnaireError, match="unknown questionnaire.*team_call_centre"):
            qualitative_for_review(policy, store=store, review_id=review_id)


def test_missing_template_folder_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="questionnaire_dirs: folder not found"):
        load_policy(_policy_with(tmp_path, ["nowhere"], "all"))


def test_template_folders_do_not_change_the_digest_across_machines(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sub in ("a", "b"):
        (tmp_path / sub / "t").mkdir()
        shutil.copy(_policy_with(tmp_path, ["t"], "all"), tmp_path / sub / "policy.yaml")
    assert load_policy(tmp_path / "a" / "policy.yaml").digest == load_policy(tmp_path / "b" / "policy.yaml").digest
