"""Governance checklist items on the demo scenario and on hand-made broken inputs."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from workbench.artefacts import load_review
from workbench.governance import (
    check_access_control,
    check_lineage,
    check_model_card,
    check_privacy,
    check_readiness,
    check_sensitive_inputs,
    CheckResult,
    governance_for_review,
    is_placeholder,
    load_model_card,
    privacy_for_review,
)
from workbench.policy import default_policy
from workbench.store import Store

TODAY = dt.date(2026, 11, 26)
ROLES = ("product_owner", "data_scientist", "data_governance", "security", "legal", "operations")


@pytest.fixture(scope="module")
def review(demo_manifest):
    return load_review(demo_manifest)


@pytest.fixture(scope="module")
def card(demo_dir):
    return load_model_card(demo_dir / "model_card.yaml")


def test_demo_model_card_has_every_required_section(card):
    r = check_model_card(card)
    assert r.status == "PASS", r.summary
    assert r.evidence["filled"] == list(r.evidence["required"])


def test_placeholders_and_gaps_fail_naming_the_section(card):
    bad = copy.deepcopy(card)
    bad["intended_use"] = "TBD"
    bad["limitations"] = "   "
    bad["owners"][1]["contact"] = "n/a"
    del bad["training_data"]["period"]
    bad["ethical_considerations"] = "Lorem ipsum dolor sit amet."
    del bad["architecture"]
    r = check_model_card(bad)
    assert r.status == "FAIL"
    assert r.evidence["problems"] == [
        "intended_use is a placeholder ('TBD')",
        "owners.1.contact is a placeholder ('n/a')",
        "training_data.period is missing",
        "architecture is missing",
        "limitations is empty",
        "ethical_considerations is a placeholder ('Lorem ipsum dolor sit amet.')",
    ]
    assert check_model_card(None).status == "MISSING"


@pytest.mark.parametrize("text", ["TBD", "todo", "TODO.", "n/a", "N/A", "-", "???", "lorem ipsum", "To be determined", ""])
def test_placeholder_texts(text):
    assert is_placeholder(text)


@pytest.mark.parametrize("text", ["Underwriters only", "Not applicable to business loans because ...", "0.5"])
def test_real_texts_are_not_placeholders(text):
    assert not is_placeholder(text)


def test_lineage_of_the_demo(review, card):
    r = check_lineage(review.artefacts, evidence_digest=review.evidence_digest, model_card=card)
    assert r.status == "PASS", r.summary
    roles = {a["role"] for a in r.evidence["artefacts"]}
    assert {"evaluation", "reference", "replay", "candidate", "baseline", "model_card"} <= roles
    data = [a for a in r.evidence["artefacts"] if a["role"] == "evaluation"][0]
    assert data["rows"] == len(review.evaluation) and len(data["schema_fingerprint"]) == 64
    assert r.evidence["data_versions"] == card["data_versions"]
    no_code = check_lineage(review.artefacts, evidence_digest=review.evidence_digest, model_card={})
    assert no_code.status == "WARN" and "training code" in no_code.summary
    broken = [dict(a.to_dict(), sha256="") if a.role == "candidate" else a.to_dict() for a in review.artefacts]
    assert check_lineage(broken, evidence_digest=review.evidence_digest, model_card=card).status == "FAIL"
    assert check_lineage(review.artefacts, evidence_digest=None, model_card=card).summary == "no evidence digest"


def test_sensitive_inputs():
    assert check_sensitive_inputs(["income", "region"], ["sex", "age_band"]).status == "PASS"
    used = check_sensitive_inputs(["income", "sex"], ["sex", "age_band"])
    assert used.status == "FAIL" and "sex" in used.summary and used.evidence["sensitive_inputs"] == ["sex"]
    justified = check_sensitive_inputs(
        ["income", "sex"], ["sex"], model_card={"sensitive_attribute_justification": "Required by actuarial regulation X."}
    )
    assert justified.status == "PASS"
    assert check_sensitive_inputs(["income", "sex"], ["sex"], model_card={"sensitive_attribute_justification": "TBD"}).status == "FAIL"
    look = check_sensitive_inputs(["income", "applicant_age"], ["sex"])
    assert look.status == "WARN" and look.evidence["undeclared_lookalikes"] == ["applicant_age"]


def test_access_control_on_a_real_store(tmp_path):
    assert check_access_control(ROLES).status == "MISSING"
    with Store.open(tmp_path / "w.db") as store:
        store.add_user("alice", ["product_owner", "data_scientist"], actor="test")
        store.add_user("bob", ["security"], actor="test")
        r = check_access_control(ROLES, store=store)
        assert r.status == "FAIL" and r.evidence["lacking"] == ["data_governance", "legal", "operations"]
        store.add_user("carol", ["data_governance", "legal"], actor="test")
        store.add_user("dan", ["operations"], actor="test")
        assert check_access_control(ROLES, store=store).status == "PASS"
        store.disable_user("dan", actor="test")
        r = check_access_control(ROLES, store=store)
        assert r.status == "FAIL" and r.evidence["lacking"] == ["operations"]


def test_readiness_plan(review):
    plan = review.manifest.readiness.model_dump(mode="json")
    assert check_readiness(plan, today=TODAY).status == "PASS"
    late = check_readiness(plan, today=dt.date(2027, 6, 1))
    assert late.status == "FAIL" and "at least one after 2027-06-01" in late.summary
    gaps = dict(plan, rollback={"previous_model": "logreg 1.9.0", "procedure": ""}, deployment_steps=[])
    r = check_readiness(gaps, today=TODAY)
    assert r.status == "MISSING"
    assert r.evidence["problems"] == ["deployment_steps is empty", "rollback.procedure is empty"]
    assert check_readiness(None, today=TODAY).status == "MISSING"
    assert check_readiness(dict(plan, post_implementation_reviews=[]), today=TODAY).status == "MISSING"


def test_privacy_check_on_the_demo_data(review):
    r = check_privacy({"evaluation": review.evaluation, "reference": review.reference})
    assert r.status == "PASS" and [d["findings"] for d in r.evidence["datasets"]] == [[], []]
    leaky = review.evaluation.head(50).copy()
    leaky["notes"] = "ok"
    leaky.loc[leaky.index[3], "notes"] = "write to someone@example.org"
    r = check_privacy({"evaluation": leaky})
    assert r.status == "FAIL" and "evaluation.notes (email: 1)" in r.summary


def test_a_kept_privacy_scan_is_the_scan_governance_runs(review):
    """The app keeps privacy_for_review per evidence digest and passes it in: the same result as scanning,
    and a passed result is what the privacy criterion reads (the data are not scanned again)."""
    policy = default_policy()
    kept = privacy_for_review(review)
    assert kept == check_privacy({"evaluation": review.evaluation, "reference": review.reference,
                                  "replay": review.replay})
    scanned = governance_for_review(review, policy, today=TODAY)
    assert governance_for_review(review, policy, today=TODAY, privacy=lambda: kept) == scanned
    found = CheckResult("privacy", "FAIL", "personal data found in evaluation.notes (email: 1)")
    assert governance_for_review(review, policy, today=TODAY, privacy=lambda: found)["privacy-pii"] is found
    # a policy without a privacy criterion never asks for the scan
    no_scan = policy.model_copy(update={"criteria": [c for c in policy.criteria if getattr(c, "check", None) != "privacy"]})

    def refuse() -> CheckResult:
        raise AssertionError("scanned for a policy without a privacy criterion")

    assert "privacy-pii" not in governance_for_review(review, no_scan, today=TODAY, privacy=refuse)


def test_governance_for_review_prefers_the_store_documents(review, tmp_path):
    policy = default_policy()
    checks = governance_for_review(review, policy, today=TODAY)
    assert {k: v.status for k, v in checks.items()} == {
        "model-card": "PASS", "lineage": "PASS", "privacy-pii": "PASS", "sensitive-inputs": "PASS",
        "access-control": "MISSING", "readiness-plan": "PASS",
    }
    with Store.open(tmp_path / "w.db") as store:
        rid = store.upsert_review(review.manifest.name, manifest_path=str(review.manifest.source),
                                  evidence_digest=review.evidence_digest, actor="test")
        plan = review.manifest.readiness.model_dump(mode="json")
        store.save_document(rid, "readiness", dict(plan, post_implementation_reviews=["2026-01-01"]), actor="test")
        store.save_document(rid, "model_card", {"intended_use": "TODO"}, actor="test")
        checks = governance_for_review(review, policy, today=TODAY, store=store, review_id=rid)
        assert checks["readiness-plan"].status == "FAIL"
        assert checks["model-card"].status == "FAIL" and "intended_use is a placeholder" in checks["model-card"].summary
        assert checks["access-control"].status == "FAIL"
