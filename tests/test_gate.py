"""`workbench gate` exit codes (0 GO, 1 NO-GO, 3 PENDING, 2 invalid input) through the real CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import yaml

from tests._demo import copy_demo
from tests.test_decision import oracle_evidence
from workbench.artefacts import load_review
from workbench.cli import main
from workbench.evidence import content_digest
from workbench.policy import default_policy
from workbench.evidence import sign_evidence
from workbench.report import init_keys
from workbench.serverkey import load_server_key
from workbench.store import Store

AT = "2026-11-26T12:00:00+00:00"


@pytest.fixture(scope="module")
def scenario(demo_dir, tmp_path_factory):
    """A copy of the demo with a small bootstrap, plus oracle evidence and two small policies."""
    root = tmp_path_factory.mktemp("gate") / "scenario"
    # The default 1,000 latency calls cost ~30 s here; the contract is tested in metrics.
    manifest = copy_demo(demo_dir, root, n_bootstrap=40, latency_calls=200)
    review = load_review(manifest)
    evidence = oracle_evidence(review, n_boot=10)
    evidence["digest"] = content_digest(evidence)
    (root / "unsigned.json").write_text(json.dumps(evidence))
    init_keys(root / "keys")
    (root / "evidence.json").write_text(json.dumps(sign_evidence(evidence, load_server_key(root / "keys"))))
    auc = {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.7, "ci": "lower"}
    (root / "go.yaml").write_text(yaml.safe_dump({"id": "go", "version": "1", "criteria": [auc]}))
    sign = {"id": "signoffs", "kind": "signoff", "roles": ["security"]}
    (root / "pending.yaml").write_text(yaml.safe_dump({"id": "pending", "version": "1", "criteria": [auc, sign]}))
    return root


@pytest.fixture(autouse=True)
def server_key(scenario, monkeypatch):
    """Every command of these tests finds the server key, as on a prepared server."""
    monkeypatch.setenv("WORKBENCH_KEYS", str(scenario / "keys"))
    return scenario / "keys"


def gate(*args):
    return main(["gate", *map(str, args), "--at", AT])


def registered(db, policy, monkeypatch, *, model="gbm"):
    """A store where data_governance user `gov` registered ``policy`` for ``model`` through the CLI."""
    with Store.open(db) as store:
        if store.get_user("gov") is None:
            store.add_user("gov", ["data_governance"], password="gov-secret-1", actor="test")
    assert main(["policy", "register", str(policy), "--model", model, "--db", str(db), "--as", "gov",
                 *_as(monkeypatch, "gov-secret-1")]) == 0
    return db


def test_go_exit_0_and_decision_file(scenario, tmp_path, capsys, monkeypatch):
    out = tmp_path / "d.json"
    db = registered(tmp_path / "w.db", scenario / "go.yaml", monkeypatch)
    capsys.readouterr()
    code = gate(scenario / "review.yaml", "--policy", scenario / "go.yaml", "--evidence", scenario / "evidence.json",
                "--db", db, "--out", out)
    assert code == 0
    d = json.loads(out.read_text())
    assert d["outcome"] == "GO" and d["exit_code"] == 0 and d["decided_at"] == AT
    assert d["policy"]["id"] == "go" and d["evidence_digest"] == json.loads((scenario / "evidence.json").read_text())["evidence_digest"]
    table = capsys.readouterr().out
    # the status column is as wide as INCONCLUSIVE, and a ROWS NEEDED column (empty unless inconclusive) follows
    assert any(line.split()[:4] == ["PASS", "blocking", "auc-floor", "roc_auc"] for line in table.splitlines())
    assert "ROWS NEEDED" in table and table.rstrip().endswith("GO: all 1 blocking criteria pass or are waived.")


def test_pending_exit_3_without_a_store(scenario, tmp_path):
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--policy", scenario / "pending.yaml", "--evidence", scenario / "evidence.json", "--no-db", "--out", out) == 3
    d = json.loads(out.read_text())
    assert d["signoffs"] == [{"role": "security", "status": "missing", "user": None, "verdict": None, "comment": None,
                              "signed_at": None, "stale_because": None, "void_because": None}]


def test_same_inputs_give_the_same_decision_file(scenario, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        gate(scenario / "review.yaml", "--evidence", scenario / "evidence.json", "--no-db", "--out", out)
    assert a.read_bytes() == b.read_bytes()


def _as(monkeypatch, password: str) -> list[str]:
    """Pipe one password line to the next command, as a script would."""
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return ["--password-stdin"]


@pytest.mark.slow
def test_signoff_command_then_go_with_the_store(scenario, tmp_path, capsys, monkeypatch):
    db = registered(tmp_path / "w.db", scenario / "pending.yaml", monkeypatch)
    with Store.open(db) as store:
        store.add_user("sam", ["security"], password="sam-secret-1", actor="test")
        store.add_user("pat", ["product_owner"], password="pat-secret-1", actor="test")
    base = [str(scenario / "review.yaml"), "--policy", str(scenario / "pending.yaml"), "--db", str(db)]
    sign = ["signoff", *base, "--role", "security", "--comment", "x"]
    assert main([*sign, "--as", "pat", "--verdict", "approve", *_as(monkeypatch, "pat-secret-1")]) == 2
    assert "workbench: error:" in capsys.readouterr().err
    assert main([*sign, "--as", "sam", "--verdict", "approve", *_as(monkeypatch, "wrong-password")]) == 2
    assert main([*sign, "--as", "sam", "--verdict", "approve", *_as(monkeypatch, "sam-secret-1")]) == 0
    assert gate(*base, "--evidence", scenario / "evidence.json") == 0
    assert main([*sign, "--as", "sam", "--verdict", "reject", *_as(monkeypatch, "sam-secret-1")]) == 0
    assert gate(*base, "--evidence", scenario / "evidence.json") == 1
    with Store.open(db, create=False) as store:
        (review,) = store.list_reviews()
        assert store.latest_decision(review.review_id).decision["outcome"] == "NO-GO"


def test_a_user_without_password_cannot_sign_off(scenario, tmp_path, capsys, monkeypatch):
    db = tmp_path / "w.db"
    with Store.open(db) as store:
        store.add_user("nopass", ["security"], actor="test")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["signoff", str(scenario / "review.yaml"), "--db", str(db), "--as", "nopass", "--role", "security",
                 "--verdict", "approve", "--comment", "x"])
    assert code == 2
    assert "no credentials" in capsys.readouterr().err
    with Store.open(db, create=False) as store:
        assert store.list_reviews() == [] or all(not store.list_signoffs(r.review_id) for r in store.list_reviews())


def test_waive_command_checks_the_policy_roles(scenario, tmp_path, capsys, monkeypatch):
    db = tmp_path / "w.db"
    with Store.open(db) as store:
        store.add_user("gov", ["data_governance"], password="gov-secret-1", actor="test")
        store.add_user("leg", ["legal"], password="leg-secret-1", actor="test")
    base = [str(scenario / "review.yaml"), "--db", str(db), "--as", "gov", "--rationale", "pilot", "--expires", "2027-01-31"]
    assert main(["waive", *base, *_as(monkeypatch, "gov-secret-1"), "--role", "data_governance", "--criterion", "latency-p95"]) == 0
    assert main(["waive", *base, *_as(monkeypatch, "gov-secret-1"), "--role", "data_governance", "--criterion", "fairness-equalized-odds"]) == 0
    capsys.readouterr()
    cs = ["countersign", str(scenario / "review.yaml"), "--db", str(db), "--as", "leg", "--role", "legal"]
    assert main([*cs, "--waiver", "1", *_as(monkeypatch, "leg-secret-1")]) == 2  # latency: only operations waive it
    assert "may be waived only by operations" in capsys.readouterr().err
    assert main([*cs, "--waiver", "2", *_as(monkeypatch, "leg-secret-1")]) == 0
    with Store.open(db, create=False) as store:
        (review,) = store.list_reviews()
        _, w = store.list_waivers(review.review_id)
        assert (w.criterion_id, w.role, w.policy_digest) == ("fairness-equalized-odds", "data_governance", default_policy().digest)
        assert (w.countersigned_by, w.countersigned_role, w.state) == ("leg", "legal", "countersigned")


def test_invalid_input_exits_2_through_the_console_entry(scenario, tmp_path):
    broken = tmp_path / "review.yaml"
    raw = yaml.safe_load((scenario / "review.yaml").read_text())
    raw["candidate"]["pathh"] = raw["candidate"].pop("path")
    broken.write_text(yaml.safe_dump(raw))
    run = subprocess.run([sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())",
                          "gate", str(broken), "--no-db"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.startswith("workbench: error: review.yaml: candidate.pathh: unknown key")
    assert "Traceback" not in run.stderr


def test_evidence_from_other_inputs_is_refused(scenario, tmp_path, capsys):
    other = tmp_path / "e.json"
    other.write_text(json.dumps({"evidence_digest": "0" * 64}))
    assert gate(scenario / "review.yaml", "--evidence", other, "--no-db") == 2
    assert "computed from other inputs" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_gate_computes_evidence_is_no_go_and_reuses_the_stored_run(scenario, tmp_path, capsys):
    db = tmp_path / "w.db"
    Store.open(db).close()
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--db", db, "--out", out) == 1
    d = json.loads(out.read_text())
    # the planted fairness gap, and an empty store has nobody who could sign
    assert [f["id"] for f in d["failures"] if f["status"] == "FAIL"] == [
        "fairness-demographic-parity", "fairness-equalized-odds", "access-control"]
    assert "age_band" in d["criteria"][[c["id"] for c in d["criteria"]].index("fairness-equalized-odds")]["reason"]
    capsys.readouterr()
    assert gate(scenario / "review.yaml", "--db", db, "--out", out) == 1
    assert "reusing stored evidence run" in capsys.readouterr().err


def test_edited_evidence_file_is_refused(scenario, tmp_path, capsys):
    evidence = json.loads((scenario / "evidence.json").read_text())
    evidence["models"]["candidate"]["metrics"]["roc_auc"]["value"] = 0.99  # "improve" the candidate by hand
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(evidence))
    assert gate(scenario / "review.yaml", "--evidence", forged, "--no-db") == 2
    assert "does not match its digest" in capsys.readouterr().err


# --- The record is the control: attacks on the decision, each refused or detected (issue 15) ---

def test_no_db_with_a_weak_policy_is_a_what_if_never_go(scenario, tmp_path, capsys):
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--policy", scenario / "go.yaml", "--evidence", scenario / "evidence.json",
                "--no-db", "--out", out) == 3
    d = json.loads(out.read_text())
    assert d["outcome"] == "PENDING" and d["what_if"] is True
    assert any("no review store" in reason for reason in d["limits"])
    assert capsys.readouterr().out.startswith("WHAT-IF:")


def test_manifest_chosen_weak_policy_is_a_what_if_when_another_is_registered(scenario, tmp_path, capsys, monkeypatch):
    db = registered(tmp_path / "w.db", scenario / "pending.yaml", monkeypatch)
    weak = tmp_path / "review.yaml"
    raw = yaml.safe_load((scenario / "review.yaml").read_text())
    raw["policy"] = str(scenario / "go.yaml")
    for key in ("candidate", "baseline"):
        raw[key]["path"] = str(scenario / raw[key]["path"])
    for key, value in raw["data"].items():
        raw["data"][key] = str(scenario / value)
    raw["model_card"] = str(scenario / raw["model_card"])
    weak.write_text(yaml.safe_dump(raw))
    out = tmp_path / "d.json"
    assert gate(weak, "--evidence", scenario / "evidence.json", "--db", db, "--out", out) == 3
    d = json.loads(out.read_text())
    assert d["what_if"] is True and d["policy"]["id"] == "go"
    assert "is not the policy registered for model 'gbm'" in d["limits"][0]
    # Without a manifest or --policy choice the registered policy decides (a real decision, not a what-if).
    assert gate(scenario / "review.yaml", "--evidence", scenario / "evidence.json", "--db", db, "--out", out,
                "--policy", scenario / "pending.yaml") == 3
    d = json.loads(out.read_text())
    assert "what_if" not in d and d["policy"]["id"] == "pending"


def test_a_failing_what_if_is_no_go(scenario, tmp_path):
    strict = tmp_path / "strict.yaml"
    auc = {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.99}
    strict.write_text(yaml.safe_dump({"id": "strict", "version": "1", "criteria": [auc]}))
    assert gate(scenario / "review.yaml", "--policy", strict, "--evidence", scenario / "evidence.json", "--no-db") == 1


def test_unsigned_evidence_is_at_best_pending(scenario, tmp_path, monkeypatch):
    db = registered(tmp_path / "w.db", scenario / "go.yaml", monkeypatch)
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--policy", scenario / "go.yaml", "--evidence", scenario / "unsigned.json",
                "--db", db, "--out", out) == 3
    assert "not signed by the workbench's server key" in json.loads(out.read_text())["limits"][0]


def test_edited_evidence_with_a_recomputed_digest_is_at_best_pending(scenario, tmp_path, monkeypatch):
    db = registered(tmp_path / "w.db", scenario / "go.yaml", monkeypatch)
    evidence = json.loads((scenario / "evidence.json").read_text())
    evidence["models"]["candidate"]["metrics"]["roc_auc"]["value"] = 0.99
    evidence["digest"] = content_digest(evidence)  # the unkeyed digest is easy to recompute
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(evidence))
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--policy", scenario / "go.yaml", "--evidence", forged,
                "--db", db, "--out", out) == 3
    assert "signature does not verify against the server key" in json.loads(out.read_text())["limits"][0]


def test_without_a_server_key_evidence_and_store_are_at_best_pending(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_KEYS", str(tmp_path / "no-keys"))
    db = registered(tmp_path / "w.db", scenario / "go.yaml", monkeypatch)
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--policy", scenario / "go.yaml", "--evidence", scenario / "evidence.json",
                "--db", db, "--out", out) == 3
    limits = json.loads(out.read_text())["limits"]
    assert any("no server key" in reason for reason in limits)


@pytest.mark.parametrize("table", ["signoffs", "waivers"])
def test_a_row_inserted_with_sqlite3_stops_the_gate(scenario, tmp_path, capsys, monkeypatch, table):
    import sqlite3

    db = registered(tmp_path / "w.db", scenario / "pending.yaml", monkeypatch)
    with Store.open(db) as store:
        store.add_user("bob", ["security"], password="bob-secret-1", actor="test")
    args = (scenario / "review.yaml", "--policy", scenario / "pending.yaml", "--evidence", scenario / "evidence.json",
            "--db", db)
    assert gate(*args) == 3
    review_id = Store.review_id_for(load_review(scenario / "review.yaml").manifest.name)
    from workbench.policy import load_policy

    policy_digest = load_policy(scenario / "pending.yaml").digest  # a row as the workbench would write it
    ev_digest = json.loads((scenario / "evidence.json").read_text())["evidence_digest"]
    conn = sqlite3.connect(db)
    if table == "signoffs":
        conn.execute("INSERT INTO signoffs (review_id, user, role, verdict, comment, evidence_digest, policy_digest, "
                     "created_at) VALUES (?, 'bob', 'security', 'approve', 'fine', ?, ?, '2026-11-26')",
                     (review_id, ev_digest, policy_digest))
    else:
        conn.execute("INSERT INTO waivers (review_id, user, role, criterion_id, rationale, expires, evidence_digest, "
                     "policy_digest, created_at) VALUES (?, 'bob', 'security', 'signoffs', 'x', '2030-01-01', ?, "
                     "?, '2026-11-26')", (review_id, ev_digest, policy_digest))
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert gate(*args) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("workbench: error:") and f"{table} row 1 was inserted outside the workbench" in last
    assert "nothing in it is counted" in last


@pytest.mark.slow
def test_make_run_preparation_makes_the_demo_decision_a_real_no_go(scenario, tmp_path, capsys, monkeypatch):
    """What `make run` does: key, demo users, the demo policy registered by carol; then the gate decides."""
    db = tmp_path / "w.db"
    assert main(["users", "demo", "--db", str(db)]) == 0
    assert main(["policy", "register", str(scenario / "policy.yaml"), "--model", "gbm", "--db", str(db),
                 "--as", "carol", *_as(monkeypatch, "demo-carol-pass")]) == 0
    assert main(["policy", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("gbm ")
    out = tmp_path / "d.json"
    assert gate(scenario / "review.yaml", "--db", db, "--out", out) == 1
    d = json.loads(out.read_text())
    assert d["outcome"] == "NO-GO" and "what_if" not in d and "limits" not in d
    assert main(["audit", "verify", "--db", str(db)]) == 0


def test_policy_register_needs_data_governance(scenario, tmp_path, capsys, monkeypatch):
    db = tmp_path / "w.db"
    with Store.open(db) as store:
        store.add_user("bob", ["data_scientist"], password="bob-secret-1", actor="test")
    assert main(["policy", "register", str(scenario / "go.yaml"), "--model", "gbm", "--db", str(db), "--as", "bob",
                 *_as(monkeypatch, "bob-secret-1")]) == 2
    assert "does not hold role 'data_governance'" in capsys.readouterr().err
    with Store.open(db) as store:
        assert store.list_policies() == []
        assert store.audit_entries(action="permission_denied")[0].payload["attempted"] == "register_policy"
