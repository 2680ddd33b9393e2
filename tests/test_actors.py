"""Who may act (issue 15, items 4-7), each attack scripted through the real CLI and store.

A small real review (two skops models, CSV data) with a policy that needs three sign-offs and
a model card naming its developer; users with real scrypt passwords in a real SQLite store.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from tests._small_review import write_small_review
from workbench.cli import main
from workbench.store import Store

PASSWORDS = {"root": "root-secret-1", "carol": "carol-secret-1", "max": "max-secret-1", "bob": "bob-secret-1",
             "gov": "gov-secret-1", "leg": "leg-secret-1", "ops": "ops-secret-1"}
ROLES = {"root": ["admin"], "carol": ["data_governance", "reviewer"],
         "max": ["product_owner", "data_governance", "legal"], "bob": ["data_scientist", "legal"],
         "gov": ["data_governance"], "leg": ["legal"], "ops": ["operations"]}


@pytest.fixture(scope="module")
def review_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("actors")
    policy = {"id": "three-eyes", "version": "1", "criteria": [
        {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.5},
        {"id": "eo", "kind": "fairness", "metric": "equalized_odds_difference", "max": 0.5,
         "waivable_by": ["data_governance", "legal"]},
        {"id": "signoffs", "kind": "signoff", "roles": ["product_owner", "data_governance", "legal"]}]}
    (root / "policy.yaml").write_text(yaml.safe_dump(policy))
    (root / "model_card.yaml").write_text(yaml.safe_dump({"developer": "bob", "risk_tier": 2}))
    write_small_review(root, n=300, extra={"policy": "policy.yaml", "model_card": "model_card.yaml"})
    return root


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("WORKBENCH_USER", "WORKBENCH_PASSWORD", "WORKBENCH_TOKEN", "WORKBENCH_DB"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        for name, roles in ROLES.items():
            store.add_user(name, roles, password=PASSWORDS[name], actor="test")
    return path


def run(monkeypatch, capsys, argv: list, *, password: str | None = None) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("" if password is None else password + "\n"))
    code = main([str(a) for a in argv] + (["--password-stdin"] if password is not None else []))
    out, err = capsys.readouterr()
    return code, out, err


def audit(db: Path, action: str) -> list:
    with Store.open(db, create=False) as store:
        return store.audit_entries(action=action)


def signoff(review_dir: Path, db: Path, user: str, role: str) -> list:
    return ["signoff", review_dir / "review.yaml", "--db", db, "--as", user, "--role", role, "--verdict", "approve",
            "--comment", "reviewed"]


# ------------------------------------------------------------------ item 4: authentication
def test_as_alone_never_suffices_for_any_write(review_dir, db, monkeypatch, capsys, tmp_path):
    """carol impersonated via --as: import+submit, report, signoff, object, monitor are all refused."""
    from workbench.questionnaires import load_templates
    from workbench.questionnaires.export import template_yaml_skeleton
    from workbench.report import init_keys

    keys = tmp_path / "keys"
    init_keys(keys)
    with Store.open(db) as store:
        review_id = store.upsert_review("small review", manifest_path=str(review_dir / "review.yaml"),
                                        evidence_digest="e", actor="test")
    answers = tmp_path / "answers.yaml"
    answers.write_text(template_yaml_skeleton(next(iter(load_templates().values()))))
    manifest = review_dir / "review.yaml"
    attempts = {
        "questionnaire import": ["questionnaire", "import", answers, "--review", review_id, "--as", "carol",
                                 "--submit", "--db", db],
        "report": ["report", manifest, "--out", tmp_path / "p.pdf", "--as", "carol", "--db", db, "--keys", keys],
        "signoff": signoff(review_dir, db, "carol", "data_governance"),
        "object": ["object", manifest, "--as", "carol", "--rationale", "no", "--db", db],
        "monitor": ["monitor", manifest, "--batch", review_dir / "data" / "evaluation.csv", "--as", "carol",
                    "--db", db],
        "users disable": ["users", "disable", "bob", "--as", "carol", "--db", db],
    }
    for command, argv in attempts.items():
        code, _, err = run(monkeypatch, capsys, argv)
        assert code == 2, command
        assert err.count("\n") == 1 and "no credentials" in err and "--as alone never authenticates" in err, err
    refused = {e.subject for e in audit(db, "auth_missing")}
    assert refused == {f"command:{c}" for c in attempts}
    assert all(e.actor == "unauthenticated:carol" for e in audit(db, "auth_missing"))
    with Store.open(db) as store:
        assert store.list_responses(review_id) == [] and store.list_objections(review_id) == []
        assert store.require_user("bob").active


def test_env_credentials_must_match_as_and_a_wrong_password_is_refused(review_dir, db, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_USER", "bob")
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORDS["bob"])
    code, _, err = run(monkeypatch, capsys, signoff(review_dir, db, "carol", "data_governance"))
    assert code == 2 and "--as carol differs from WORKBENCH_USER bob" in err
    monkeypatch.setenv("WORKBENCH_USER", "carol")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "guessed-wrong")
    code, _, err = run(monkeypatch, capsys, signoff(review_dir, db, "carol", "data_governance"))
    assert code == 2 and "unknown user or wrong password" in err
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORDS["carol"])
    code, out, err = run(monkeypatch, capsys, signoff(review_dir, db, "carol", "data_governance"))
    assert code == 0 and "by carol" in out, err
    assert [e.actor for e in audit(db, "sign_off")] == ["carol"]


def test_users_add_needs_an_admin_except_the_first_admin_of_an_empty_store(db, tmp_path, monkeypatch, capsys):
    fresh = tmp_path / "fresh.db"
    code, out, _ = run(monkeypatch, capsys, ["users", "add", "first", "--role", "admin", "--db", fresh],
                       password="first-admin-1")
    assert code == 0 and "added first (admin)" in out
    code, _, err = run(monkeypatch, capsys, ["users", "add", "eve", "--role", "admin", "--db", fresh],
                       password="eve-secret-12")
    assert code == 2 and "no credentials" in err
    monkeypatch.setenv("WORKBENCH_USER", "carol")  # not an admin
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORDS["carol"])
    code, _, err = run(monkeypatch, capsys, ["users", "add", "eve", "--role", "legal", "--db", db],
                       password="eve-secret-12")
    assert code == 2 and "not an admin" in err
    monkeypatch.setenv("WORKBENCH_USER", "root")
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORDS["root"])
    code, out, _ = run(monkeypatch, capsys, ["users", "add", "eve", "--role", "legal", "--db", db],
                       password="eve-secret-12")
    assert code == 0 and "added eve (legal)" in out
    assert [e.actor for e in audit(db, "user_added")][-1] == "root"


def test_demo_users_only_in_a_store_created_as_a_demo(db, tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, ["users", "demo", "--db", db])
    assert code == 2 and "not a demo store" in err
    with Store.open(db) as store:
        assert not store.is_demo and store.get_user("alice") is None
    demo = tmp_path / "demo.db"
    assert run(monkeypatch, capsys, ["users", "demo", "--db", demo])[0] == 0
    assert run(monkeypatch, capsys, ["users", "demo", "--db", demo])[0] == 0  # idempotent there
    with Store.open(demo) as store:
        assert store.is_demo and store.get_user("victor").roles == ("validator",)


# ------------------------------------------------------------------ throttling and timing
def test_brute_force_hits_back_off_then_lock_out_and_both_are_audited(tmp_path):
    import datetime as dt

    from workbench.errors import PermissionDenied
    from workbench.store._users import FREE_FAILURES, LOCKOUT_FAILURES

    now = [dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)]
    with Store.open(tmp_path / "w.db", clock=lambda: now[0]) as store:
        store.add_user("carol", ["legal"], password="carol-secret-1", actor="test")
        store.add_user("root", ["admin"], password="root-secret-1", actor="test")
        for _ in range(FREE_FAILURES):
            with pytest.raises(PermissionDenied, match="wrong password"):
                store.authenticate("carol", "guess")
        with pytest.raises(PermissionDenied, match="wait 1 s"):  # even the right password waits
            store.authenticate("carol", "carol-secret-1")
        for _ in range(LOCKOUT_FAILURES - FREE_FAILURES):
            now[0] += dt.timedelta(minutes=2)  # past every back-off window
            with pytest.raises(PermissionDenied):
                store.authenticate("carol", "guess")
        now[0] += dt.timedelta(minutes=2)
        with pytest.raises(PermissionDenied, match="locked after 10 failed attempts"):
            store.authenticate("carol", "carol-secret-1")
        actions = [e.action for e in store.audit_entries(subject="user:carol")]
        assert actions.count("login_failed") == LOCKOUT_FAILURES and "login_throttled" in actions
        assert "login_locked" in actions and "login_locked_out" in actions
        # an unknown name is throttled the same way (no oracle in the responses either)
        for _ in range(FREE_FAILURES):
            with pytest.raises(PermissionDenied, match="unknown user or wrong password"):
                store.authenticate("nobody", "guess")
        with pytest.raises(PermissionDenied, match="too many failed sign-ins"):
            store.authenticate("nobody", "guess")
        store.unlock_user("carol", actor=store.authenticate("root", "root-secret-1"))
        assert store.authenticate("carol", "carol-secret-1").name == "carol"
        now[0] += dt.timedelta(minutes=20)  # the lock-out also ends by itself


def test_unknown_and_known_users_run_the_same_key_derivation(tmp_path, monkeypatch):
    """The timing defence, asserted structurally: one scrypt call with the same cost parameters
    whether the user exists, has no password, or the password is wrong (benchmarks/bench_login.py
    measures the times)."""
    import hashlib

    from workbench.errors import PermissionDenied

    with Store.open(tmp_path / "w.db") as store:
        store.add_user("carol", ["legal"], password="carol-secret-1", actor="test")
        store.add_user("nopass", ["legal"], actor="test")
        real = hashlib.scrypt
        calls: list[tuple] = []

        def counting(password, **kw):
            calls.append((kw["n"], kw["r"], kw["p"], kw["dklen"]))
            return real(password, **kw)

        monkeypatch.setattr(hashlib, "scrypt", counting)
        seen = {}
        for name in ("carol", "ghost", "nopass"):
            calls.clear()
            with pytest.raises(PermissionDenied):
                store.authenticate(name, "wrong-password")
            seen[name] = list(calls)
        assert seen["carol"] == seen["ghost"] == seen["nopass"] and len(seen["carol"]) == 1


# ------------------------------------------------------------------ tokens
def test_tokens_are_scoped_expiring_revocable_hashed_and_never_sign(review_dir, db, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_USER", "root")
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORDS["root"])
    code, out, _ = run(monkeypatch, capsys, ["tokens", "create", "--as", "ops", "--scope", "monitor,report",
                                             "--expires", "2027-03-01", "--db", db])
    assert code == 0
    token = out.splitlines()[0]
    assert token.startswith("wbt_") and token.split("_", 2)[2] not in db.read_bytes().decode("latin-1")
    code, _, err = run(monkeypatch, capsys, ["tokens", "create", "--scope", "signoff", "--expires", "2027-03-01",
                                             "--db", db])
    assert code == 2 and "unknown scope(s) 'signoff'" in err
    for var in ("WORKBENCH_USER", "WORKBENCH_PASSWORD"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("WORKBENCH_TOKEN", token)
    code, _, err = run(monkeypatch, capsys, signoff(review_dir, db, "ops", "operations"))
    assert code == 2 and "an API token cannot do this" in err
    code, _, err = run(monkeypatch, capsys, ["tokens", "create", "--scope", "monitor", "--expires", "2027-01-01",
                                             "--db", db])
    assert code == 2 and "an API token cannot do this" in err  # a token never mints tokens
    with Store.open(db) as store:
        assert store.authenticate_token(token, scope="report").name == "ops"
        from workbench.errors import PermissionDenied

        with pytest.raises(PermissionDenied, match="not scoped for 'alerts'"):
            store.authenticate_token(token, scope="alerts")
        with pytest.raises(PermissionDenied, match="unknown token"):
            store.authenticate_token(token[:-4] + "AAAA", scope="report")
        token_id = token.split("_")[1]
        store.revoke_token(token_id, actor=store.authenticate("ops", PASSWORDS["ops"]))
        with pytest.raises(PermissionDenied, match="is revoked"):
            store.authenticate_token(token, scope="report")
        refused = [e.payload["reason"] for e in store.audit_entries(action="token_refused")]
        assert len(refused) == 3 and [e.action for e in store.audit_entries(action="token_created")]


# ------------------------------------------------------------------ item 5: segregation of duties
def test_one_user_cannot_sign_three_roles(review_dir, db, monkeypatch, capsys):
    code, _, _ = run(monkeypatch, capsys, signoff(review_dir, db, "max", "product_owner"), password=PASSWORDS["max"])
    assert code == 0
    for role in ("data_governance", "legal"):
        code, _, err = run(monkeypatch, capsys, signoff(review_dir, db, "max", role), password=PASSWORDS["max"])
        assert code == 2 and "distinct-signers: 'max' already approved product_owner" in err
    reasons = [e.payload["reason"] for e in audit(db, "permission_denied")]
    assert sum(r.startswith("distinct-signers") for r in reasons) == 2


def test_the_submitter_or_developer_cannot_sign_an_independent_role(review_dir, db, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, signoff(review_dir, db, "bob", "legal"), password=PASSWORDS["bob"])
    assert code == 2 and "submitter-not-independent: 'bob' is the model's developer" in err
    code, _, _ = run(monkeypatch, capsys, signoff(review_dir, db, "leg", "legal"), password=PASSWORDS["leg"])
    assert code == 0


def test_gate_recheck_voids_approvals_that_break_a_rule(review_dir, db):
    """Rows written around the CLI (e.g. by an older workbench) are re-checked: one person's
    three approvals count once, the developer's independent approval not at all."""
    import datetime as dt

    from workbench.artefacts import load_review
    from workbench.policy import decide_review, load_policy

    review = load_review(review_dir / "review.yaml")
    policy = load_policy(review_dir / "policy.yaml")
    evidence = {"evidence_digest": review.evidence_digest, "models": {"candidate": {
        "metrics": {"roc_auc": {"value": 0.8, "ci_low": 0.75, "ci_high": 0.85}},
        "fairness": {"group": {"equalized_odds_difference": 0.1}}}}}
    with Store.open(db) as store:
        rid = store.upsert_review(review.manifest.name, manifest_path=str(review.manifest.source),
                                  evidence_digest=review.evidence_digest, actor="workbench")
        for user, role in (("max", "product_owner"), ("max", "data_governance"), ("bob", "legal")):
            store.sign_off(rid, store.require_user(user), role, verdict="approve", comment="ok",
                           evidence_digest=review.evidence_digest, policy_digest=policy.digest)
        d = decide_review(review, policy, evidence, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), store=store,
                          review_id=rid)
    assert d.outcome == "PENDING"
    by_role = {s.role: s for s in d.signoffs}
    assert by_role["product_owner"].status == "fresh"
    assert by_role["data_governance"].void_because.startswith("distinct-signers")
    assert by_role["legal"].void_because.startswith("submitter-not-independent")
    assert "approval by max does not count (distinct-signers" in d.criterion("signoffs").reason


# ------------------------------------------------------------------ item 6: four-eyes waivers
def test_waiver_needs_a_second_person_who_is_not_the_beneficiary(review_dir, db, monkeypatch, capsys):
    manifest = review_dir / "review.yaml"
    base = ["--db", db, "--rationale", "pilot", "--expires", "2027-01-31"]
    code, _, err = run(monkeypatch, capsys, ["waive", manifest, *base, "--as", "gov", "--role", "data_governance",
                                             "--criterion", "no-such-criterion"], password=PASSWORDS["gov"])
    assert code == 2 and "no criterion 'no-such-criterion'" in err
    assert [e.subject for e in audit(db, "command_refused")] == ["command:waive"]  # refused before the store opened
    code, out, _ = run(monkeypatch, capsys, ["waive", manifest, *base, "--as", "gov", "--role", "data_governance",
                                             "--criterion", "eo"], password=PASSWORDS["gov"])
    assert code == 0 and "applies once another holder" in out
    with Store.open(db) as store:
        (w,) = store.list_waivers(store.list_reviews()[0].review_id)
    cs = ["countersign", manifest, "--db", db, "--waiver", w.waiver_id]
    attempts = [("gov", "data_governance", "four-eyes-waiver"),
                ("bob", "legal", "waiver-grantor-not-beneficiary"),
                ("ops", "operations", "waivable-by")]
    for user, role, rule in attempts:
        code, _, err = run(monkeypatch, capsys, [*cs, "--as", user, "--role", role], password=PASSWORDS[user])
        assert code == 2 and rule in err, err
    code, out, _ = run(monkeypatch, capsys, [*cs, "--as", "leg", "--role", "legal"], password=PASSWORDS["leg"])
    assert code == 0 and "countersigned by leg (legal)" in out
    reasons = [e.payload["reason"] for e in audit(db, "permission_denied")]
    assert [r.split(":")[0] for r in reasons] == [rule for *_, rule in attempts]


# ------------------------------------------------------------------ item 7: dissent
def test_an_objection_keeps_pending_until_another_approver_accepts_it(review_dir, db, monkeypatch, capsys):
    import datetime as dt

    from workbench.artefacts import load_review
    from workbench.policy import decide_review, load_policy

    manifest = review_dir / "review.yaml"
    code, out, _ = run(monkeypatch, capsys, ["object", manifest, "--as", "carol", "--db", db,
                                             "--rationale", "group b is under-represented in the evaluation set"],
                       password=PASSWORDS["carol"])
    assert code == 0 and "objection 1 recorded by carol" in out
    review, policy = load_review(manifest), load_policy(review_dir / "policy.yaml")
    evidence = {"evidence_digest": review.evidence_digest, "models": {"candidate": {
        "metrics": {"roc_auc": {"value": 0.8, "ci_low": 0.75, "ci_high": 0.85}},
        "fairness": {"group": {"equalized_odds_difference": 0.1}}}}}

    def decide() -> object:
        with Store.open(db) as store:
            rid = store.list_reviews()[0].review_id
            for user, role in (("max", "product_owner"), ("gov", "data_governance"), ("leg", "legal")):
                if not [s for s in store.list_signoffs(rid) if s.role == role]:
                    store.sign_off(rid, store.require_user(user), role, verdict="approve", comment="ok",
                                   evidence_digest=review.evidence_digest, policy_digest=policy.digest)
            return decide_review(review, policy, evidence, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), store=store,
                                 review_id=rid)

    held = decide()
    assert held.outcome == "PENDING" and held.criterion("open-objections").status == "MISSING"
    assert "objection 1 by carol: group b is under-represented" in held.criterion("open-objections").reason
    resolve = ["objection", "resolve", manifest, "--db", db, "--objection", "1", "--rationale", "stratified re-run"]
    code, _, err = run(monkeypatch, capsys, [*resolve, "--accept", "--role", "data_governance", "--as", "carol"],
                       password=PASSWORDS["carol"])
    assert code == 2 and "objection-resolved-by-another" in err
    code, _, err = run(monkeypatch, capsys, [*resolve, "--withdraw", "--as", "gov"], password=PASSWORDS["gov"])
    assert code == 2 and "objection-withdrawn-by-author" in err
    code, _, err = run(monkeypatch, capsys, [*resolve, "--accept", "--role", "operations", "--as", "ops"],
                       password=PASSWORDS["ops"])
    assert code == 2 and "objection-resolver-role" in err
    code, out, _ = run(monkeypatch, capsys, [*resolve, "--accept", "--role", "data_governance", "--as", "gov"],
                       password=PASSWORDS["gov"])
    assert code == 0 and "objection 1 accepted by gov (data_governance)" in out
    freed = decide()
    assert freed.outcome == "GO", freed.summary
    assert freed.to_dict()["objections"][0]["status"] == "accepted"
    code, out, _ = run(monkeypatch, capsys, ["objection", "list", manifest, "--db", db])
    assert "accepted by gov: stratified re-run" in out


# ------------------------------------------------------------------ risk tiers
def test_risk_tiers_select_roles_and_a_missing_tier_is_the_highest_risk():
    import datetime as dt

    from workbench.errors import PolicyError
    from workbench.policy import ReviewParties, decide, parse_policy

    policy = parse_policy({"id": "tiers", "version": "1", "criteria": [
        {"id": "signoffs", "kind": "signoff", "roles": ["product_owner", "data_scientist"]}],
        "risk_tiers": {1: {"signoff_roles": ["product_owner", "data_scientist", "validator"],
                           "criteria": [{"id": "auc-high", "kind": "absolute",
                                         "metric": "models.candidate.metrics.roc_auc", "min": 0.9}]},
                       3: {"signoff_roles": ["product_owner"]}}})
    ev = {"evidence_digest": "e", "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.85}}}}}
    votes = [{"user": u, "role": r, "verdict": "approve", "evidence_digest": "e", "policy_digest": policy.digest}
             for u, r in (("ann", "product_owner"), ("dan", "data_scientist"))]
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    high = decide(policy, ev, at=at, signoffs=votes, parties=ReviewParties(card_tier=None))
    assert high.risk_tier == "1" and high.outcome == "NO-GO"  # auc-high fails, validator missing
    assert "validator: no sign-off yet" in high.criterion("signoffs").reason
    low = decide(policy, ev, at=at, signoffs=votes[:1], parties=ReviewParties(card_tier=3))
    assert low.risk_tier == "3" and low.outcome == "GO"
    with pytest.raises(PolicyError, match="risk_tier 4"):
        decide(policy, ev, at=at, parties=ReviewParties(card_tier=4))
    with pytest.raises(PolicyError, match="independence.distinct_signer: unknown key"):
        parse_policy({"id": "x", "version": "1", "criteria": [{"id": "s", "kind": "signoff", "roles": ["legal"]}],
                      "independence": {"distinct_signer": False}})


def test_decision_json_lists_tier_and_objections(review_dir):
    from workbench.policy import decide, parse_policy
    import datetime as dt

    p = parse_policy({"id": "p", "version": "1", "criteria": [
        {"id": "auc", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.5}]})
    d = decide(p, {"evidence_digest": "e", "models": {"candidate": {"metrics": {"roc_auc": {"value": 0.9}}}}},
               at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    body = json.loads(d.to_json())
    assert body["risk_tier"] is None and body["objections"] == [] and body["outcome"] == "GO"
