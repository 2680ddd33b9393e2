"""Promotion through the real embedded SQLite registry: every refusal leaves the registry as it
was, a GO review is promoted, an interrupted promotion is undone, a rollback returns to the start.

The tests of this module share one GO review (building it costs a report and a registry), run
in file order, and each one restores what it perturbs; the final test promotes and rolls back.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml

from tests.registry._scenario import MODEL, PASSWORDS, GoReview
from workbench.cli import main
from workbench.registry import JOURNAL_TAG
from workbench.store import Store, review_id_for

pytestmark = pytest.mark.slow


def run(monkeypatch: pytest.MonkeyPatch, args: list[str], *, user: str = "olivia") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[user] + "\n"))
    return main(args)


def promote(go: GoReview, monkeypatch: pytest.MonkeyPatch, *extra: str, user: str = "olivia") -> int:
    return run(monkeypatch, go.cli("promote", str(go.manifest), "--keys", str(go.keys), *extra, user=user), user=user)


def audit_actions(go: GoReview) -> list[str]:
    with Store.open(go.db, create=False) as store:
        return [e.action for e in store.audit_entries(subject=review_id_for("small review"))]


def candidate_artifact(go: GoReview) -> Path:
    run_id = go.registry.version(MODEL, "2").run_id
    (path,) = (go.root / "mlartifacts").rglob(f"{run_id}/artifacts/model/model.skops")
    return path


def assert_refused(go, monkeypatch, capsys, *extra: str, expect: str, user: str = "olivia") -> str:
    before = go.registry.snapshot(MODEL)
    code = promote(go, monkeypatch, *extra, user=user)
    out = capsys.readouterr().out
    assert code == 1, out
    assert "REFUSED" in out and expect in out, out
    assert go.registry.snapshot(MODEL) == before
    assert audit_actions(go)[-1] == "promotion_refused"
    return out


def test_review_by_uri_records_name_version_run_and_every_file_hash(go):
    from workbench.artefacts import load_review
    from workbench.canonical import sha256_file

    review = load_review(go.manifest)
    records = {a.role: a for a in review.artefacts}
    cand, base = records["candidate"].registry, records["baseline"].registry
    assert (cand["name"], cand["version"], base["version"]) == (MODEL, "2", "1")
    assert cand["run_id"] == go.registry.version(MODEL, "2").run_id and cand["source"].startswith("runs:/")
    assert cand["files"] == [{"path": "model/model.skops", "sha256": sha256_file(candidate_artifact(go)),
                              "bytes": candidate_artifact(go).stat().st_size}]
    assert records["candidate"].sha256 == sha256_file(candidate_artifact(go))
    # the same model from the file scores identically: the registry copy went through the same loader
    assert review.models["candidate"].kind == "skops"
    import skops.io as sio

    local = sio.load(go.root / "models" / "candidate.skops", trusted=["sklearn.tree._tree.Tree"])
    expected = local.predict_proba(review.evaluation[list(review.features)])[:, 1]
    assert (review.scores("candidate") == expected).all()


def test_no_go_is_refused_and_the_registry_is_unchanged(go, tmp_path, monkeypatch, capsys):
    failing = tmp_path / "strict.yaml"
    failing.write_text(yaml.safe_dump({"id": "strict", "version": "1", "criteria": [
        {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.99}]}))
    assert_refused(go, monkeypatch, capsys, "--policy", str(failing), expect="the current decision is NO-GO")


def test_pending_is_refused(go, tmp_path, monkeypatch, capsys):
    more = tmp_path / "more.yaml"
    more.write_text(yaml.safe_dump({"id": "more", "version": "1", "criteria": [
        {"id": "signoffs", "kind": "signoff", "roles": ["security", "legal"]}]}))
    out = assert_refused(go, monkeypatch, capsys, "--policy", str(more), expect="the current decision is PENDING")
    assert "sign-off legal is missing" in out


def test_stale_signoff_is_refused(go, monkeypatch, capsys):
    policy = go.root / "policy.yaml"
    original = policy.read_text()
    try:
        raw = yaml.safe_load(original)
        raw["criteria"][0]["min"] = 0.55  # the policy changed after security signed
        policy.write_text(yaml.safe_dump(raw))
        out = assert_refused(go, monkeypatch, capsys, expect="sign-off security is stale")
        assert "signed under another policy" in out
    finally:
        policy.write_text(original)


def test_alias_moved_since_review_is_refused(go, monkeypatch, capsys):
    registry = go.registry
    extra = go.root / "register" / "other"
    extra.mkdir(exist_ok=True)
    shutil.copy(go.root / "models" / "baseline.skops", extra / "model.skops")
    v3 = registry.register_folder(MODEL, extra).version
    registry.set_alias(MODEL, "champion", v3)  # someone else moved the alias
    try:
        out = assert_refused(go, monkeypatch, capsys,
                             expect=f"baseline: models:/{MODEL}@champion now resolves to version {v3}, the review saw version 1")
        assert "no evidence was computed for the artefacts as they are now" in out
    finally:
        registry.set_alias(MODEL, "champion", "1")


def test_artifact_replaced_after_review_is_refused(go, monkeypatch, capsys):
    path = candidate_artifact(go)
    original = path.read_bytes()
    try:
        path.write_bytes((go.root / "models" / "baseline.skops").read_bytes())
        assert_refused(go, monkeypatch, capsys, expect="model/model.skops changed since the review")
    finally:
        path.write_bytes(original)


def test_tampered_packet_is_refused(go, monkeypatch, capsys):
    original = go.packet.read_bytes()
    try:
        go.packet.write_bytes(original + b"%% appended\n")
        assert_refused(go, monkeypatch, capsys, expect="is not the file the store recorded")
    finally:
        go.packet.write_bytes(original)


def test_a_role_the_policy_does_not_name_cannot_promote(go, monkeypatch, capsys):
    before = go.registry.snapshot(MODEL)
    assert promote(go, monkeypatch, user="pat") == 2
    assert "only operations promote" in capsys.readouterr().err.replace("lets only", "only")
    assert go.registry.snapshot(MODEL) == before
    assert audit_actions(go)[-1] == "permission_denied"


def test_a_policy_the_promoter_writes_for_themself_cannot_promote(go, tmp_path, monkeypatch, capsys):
    # pat (product owner) names rules of their own: no sign-off needed, product owners may promote.
    # The role check passes on the submitter's policy, but a decision under it is a what-if, never GO.
    raw = yaml.safe_load((go.root / "policy.yaml").read_text())
    own = tmp_path / "mine.yaml"
    own.write_text(yaml.safe_dump({**raw, "id": "mine", "promotion_roles": ["operations", "product_owner"],
                                   "criteria": [c for c in raw["criteria"] if c.get("kind") != "signoff"]}))
    out = assert_refused(go, monkeypatch, capsys, "--policy", str(own), user="pat",
                         expect="the decision would only be a what-if: policy mine")
    assert "is not the policy registered for model" in out


def test_a_wrong_password_cannot_promote(go, monkeypatch, capsys):
    before = go.registry.snapshot(MODEL)
    monkeypatch.setattr("sys.stdin", io.StringIO("not-the-password\n"))
    assert main(go.cli("promote", str(go.manifest), "--keys", str(go.keys))) == 2
    assert go.registry.snapshot(MODEL) == before


@pytest.mark.parametrize(("candidate", "what"), [
    ({"path": "models/candidate.skops", "trusted_types": ["sklearn.tree._tree.Tree"]}, "a file"),
    ({"predictions": "score"}, "precomputed predictions"),
])
def test_a_candidate_without_a_registry_version_cannot_be_promoted(go, monkeypatch, capsys, candidate, what):
    before = go.registry.snapshot(MODEL)
    raw = yaml.safe_load(go.manifest.read_text())
    raw["candidate"] = candidate
    other = go.root / "other-review.yaml"
    other.write_text(yaml.safe_dump(raw))
    try:
        assert run(monkeypatch, go.cli("promote", str(other), "--keys", str(go.keys))) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"workbench: error: other-review.yaml: candidate: is {what}, not a registry version")
        assert err.count("\n") == 1
    finally:
        other.unlink()
    assert go.registry.snapshot(MODEL) == before


def test_an_interrupted_promotion_is_undone_and_the_next_call_completes_it(go):
    from workbench.promotion import promote_review

    class Crash(Exception):
        pass

    def crash_after_tags(step: str) -> None:
        if step == "tags":
            raise Crash("power cut")

    start = go.registry.snapshot(MODEL)
    with Store.open(go.db, create=False) as store:
        olivia = store.authenticate("olivia", PASSWORDS["olivia"])
        with pytest.raises(Crash):
            promote_review(go.manifest, alias="champion", user=olivia, store=store, keys=go.keys, step=crash_after_tags)
    half = go.registry.snapshot(MODEL)
    assert JOURNAL_TAG in half["model_tags"] and half["aliases"]["previous-champion"] == "1"
    assert half["aliases"]["champion"] == "1"  # the alias itself never pointed nowhere
    assert audit_actions(go)[-2:] == ["promotion_started", "promotion_failed"]
    with Store.open(go.db, create=False) as store:
        olivia = store.authenticate("olivia", PASSWORDS["olivia"])
        outcome = promote_review(go.manifest, alias="champion", user=olivia, store=store, keys=go.keys)
    assert outcome.exit_code == 0 and outcome.recovered["to"] == "2"
    promotion_steps = [a for a in audit_actions(go) if a.startswith("promot")]
    assert promotion_steps[-5:] == ["promotion_started", "promotion_failed", "promotion_undone", "promotion_started",
                                    "promoted"]
    after = go.registry.snapshot(MODEL)
    assert after["aliases"] == {"champion": "2", "challenger": "2", "previous-champion": "1"}
    assert JOURNAL_TAG not in after["model_tags"]
    # back to the start for the next test: undo through the real rollback
    with Store.open(go.db, create=False) as store:
        from workbench.promotion import rollback_model

        olivia = store.authenticate("olivia", PASSWORDS["olivia"])
        rollback_model(go.registry, MODEL, alias="champion", reason="test reset", user=olivia, store=store)
    assert go.registry.aliases(MODEL) == start["aliases"]
    for version in ("1", "2"):  # tags from the promotion stay as history; nothing else moved
        assert set(go.registry.snapshot(MODEL)["versions"][version]) >= set(start["versions"][version])


def test_go_is_promoted_drilled_and_rolled_back_to_the_start(go, tmp_path, monkeypatch, capsys):
    start_aliases = go.registry.aliases(MODEL)
    assert promote(go, monkeypatch) == 0
    assert f"PROMOTED models:/{MODEL}/2 to @champion; version 1 is now @previous-champion" in capsys.readouterr().out
    snap = go.registry.snapshot(MODEL)
    assert snap["aliases"] == {"champion": "2", "challenger": "2", "previous-champion": "1"}
    tags = snap["versions"]["2"]
    with Store.open(go.db, create=False) as store:
        review_id = review_id_for("small review")
        decision = store.latest_decision(review_id)
        export = [e for e in store.list_exports(review_id) if e.kind == "packet_pdf"][-1]
    assert tags["workbench.decision_id"] == str(decision.decision_id)
    assert tags["workbench.evidence_digest"] == decision.decision["evidence_digest"]
    assert tags["workbench.policy_digest"] == decision.decision["policy"]["digest"] and tags["workbench.policy_id"] == "go"
    assert tags["workbench.packet_sha256"] == export.sha256
    assert tags["workbench.approvers"] == "sam (security)" and tags["workbench.promoted_by"] == "olivia"
    assert snap["versions"]["1"]["workbench.files_sha256"]

    # promoting again is refused: the alias no longer holds the reviewed baseline
    assert promote(go, monkeypatch) == 1
    assert f"baseline: models:/{MODEL}@champion now resolves to version 2, the review saw version 1" in capsys.readouterr().out

    registry = ["--registry-uri", go.registry_uri]
    assert run(monkeypatch, ["rollback", MODEL, "--drill", *registry, "--as", "olivia", "--password-stdin",
                             "--db", str(go.db)]) == 0
    drill = capsys.readouterr().out
    assert "OK in" in drill and "ok    hashes unchanged" in drill and "ok    previous version loadable" in drill
    assert go.registry.aliases(MODEL) == snap["aliases"]  # the drill touched only drill-champion, then removed it

    assert run(monkeypatch, ["rollback", MODEL, "--reason", "latency regression", *registry, "--as", "pat",
                             "--password-stdin", "--db", str(go.db)], user="pat") == 2
    assert run(monkeypatch, ["rollback", MODEL, "--reason", "latency regression", *registry, "--as", "olivia",
                             "--password-stdin", "--db", str(go.db)]) == 0
    assert "version 2 → 1" in capsys.readouterr().out
    assert go.registry.aliases(MODEL) == start_aliases
    rolled = go.registry.version(MODEL, "2").tags
    assert (rolled["workbench.rolled_back_by"], rolled["workbench.rolled_back_reason"]) == ("olivia", "latency regression")
    with Store.open(go.db, create=False) as store:
        actions = [e.action for e in store.audit_entries(subject=f"models:/{MODEL}")]
    assert actions[-3:] == ["rollback_drill", "permission_denied", "rolled_back"]
    assert audit_actions(go)[-1] == "rolled_back"  # also under the review that promoted the version
    # nothing left to roll back to: one line, exit 2
    assert run(monkeypatch, ["rollback", MODEL, "--reason", "again", *registry, "--as", "olivia", "--password-stdin",
                             "--db", str(go.db)]) == 2
    assert "no previous-champion alias" in capsys.readouterr().err

    # the promotion appears in the packet of a later review
    later = tmp_path / "later.json"
    assert run(monkeypatch, ["report", str(go.manifest), "--out", str(tmp_path / "later.pdf"), "--json", str(later),
                             "--db", str(go.db), "--keys", str(go.keys), "--as", "pat", "--password-stdin"], user="pat") == 0
    assert '"promoted"' in later.read_text()
