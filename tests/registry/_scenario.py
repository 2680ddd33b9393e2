"""A small review whose two models live in a real MLflow registry (SQLite file or server)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests._small_review import FOREST_TRUSTED, write_small_review
from workbench.registry import Registry

MODEL = "small-model"


def register_small_review(root: Path, registry_uri: str, *, model: str = MODEL) -> Path:
    """Write the small review, register baseline (v1, ``champion``) and candidate (v2,
    ``challenger``) as two versions of ``model``, and point the manifest at them by URI."""
    manifest = write_small_review(root)
    registry = Registry(registry_uri)
    versions = {}
    for role in ("baseline", "candidate"):
        folder = root / "register" / role
        folder.mkdir(parents=True)
        shutil.copy(root / "models" / f"{role}.skops", folder / "model.skops")
        # a local registry keeps its artifacts next to the test; a server stores them itself
        local = registry_uri.startswith("sqlite:")
        versions[role] = registry.register_folder(model, folder,
                                                  artifact_root=root / "mlartifacts" if local else None).version
    registry.set_alias(model, "champion", versions["baseline"])
    registry.set_alias(model, "challenger", versions["candidate"])
    raw = yaml.safe_load(manifest.read_text())
    raw["candidate"] = {"uri": f"models:/{model}@challenger", "name": "forest", "version": "2.0",
                        "trusted_types": FOREST_TRUSTED}
    # the champion alias may later hold the forest: the baseline entry trusts its tree type too
    raw["baseline"] = {"uri": f"models:/{model}@champion", "name": "logreg", "version": "1.0",
                       "trusted_types": FOREST_TRUSTED}
    raw["registry_uri"] = registry_uri
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    return manifest


PASSWORDS = {"sam": "sam-secret-1", "olivia": "olivia-secret-1", "pat": "pat-secret-1", "gov": "gov-secret-1"}


@contextlib.contextmanager
def _stdin(line: str) -> Iterator[None]:
    """One password line on stdin for the next command, as a script would pipe it."""
    saved = sys.stdin
    sys.stdin = io.StringIO(line + "\n")
    try:
        yield
    finally:
        sys.stdin = saved
AUC_FLOOR = {"id": "auc-floor", "kind": "absolute", "metric": "models.candidate.metrics.roc_auc", "min": 0.6}
SIGNOFF = {"id": "signoffs", "kind": "signoff", "roles": ["security"]}


@dataclass
class GoReview:
    """A registry-backed review that is GO: evidence stored, security signed off, decision
    recorded, a signed packet written — everything `workbench promote` needs."""

    root: Path
    manifest: Path
    registry_uri: str
    db: Path
    keys: Path
    packet: Path

    @property
    def registry(self) -> Registry:
        return Registry(self.registry_uri)

    def cli(self, *args: str, user: str = "olivia") -> list[str]:
        """Arguments of an authenticated command; the test pipes the password to stdin."""
        return [*args, "--as", user, "--password-stdin", "--db", str(self.db)]


def build_go_review(root: Path, registry_uri: str, *, keys: Path | None = None) -> GoReview:
    """A GO review; every command in it runs with ``keys`` as WORKBENCH_KEYS (the caller's
    commands must use the same folder: ``GoReview.keys``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_KEYS", str(keys or root / "keys"))
        return _build_go_review(root, registry_uri, keys=keys)


def _build_go_review(root: Path, registry_uri: str, *, keys: Path | None) -> GoReview:
    from tests.test_decision import oracle_evidence
    from workbench.artefacts import load_review
    from workbench.cli import main
    from workbench.evidence import content_digest, sign_evidence
    from workbench.policy import load_policy
    from workbench.report import init_keys
    from workbench.serverkey import load_server_key
    from workbench.store import Store, review_id_for

    manifest = register_small_review(root, registry_uri)
    (root / "policy.yaml").write_text(yaml.safe_dump({"id": "go", "version": "1", "criteria": [AUC_FLOOR, SIGNOFF]}))
    raw = yaml.safe_load(manifest.read_text())
    raw["policy"] = "policy.yaml"
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    review = load_review(manifest)
    evidence = oracle_evidence(review, n_boot=10)
    evidence["artefacts"] = [a.to_dict() for a in review.artefacts]  # as build_evidence records them
    evidence["digest"] = content_digest(evidence)
    # the server key (the caller's, else one of its own) signs the evidence and keys the store
    keys = keys or root / "keys"
    db, packet = root / "workbench.db", root / "packet.pdf"
    if load_server_key(keys) is None:
        init_keys(keys)
    (root / "evidence.json").write_text(json.dumps(sign_evidence(evidence, load_server_key(keys))))
    policy = load_policy(root / "policy.yaml")
    with Store.open(db) as store:
        store.add_user("sam", ["security"], password=PASSWORDS["sam"], actor="test")
        store.add_user("olivia", ["operations"], password=PASSWORDS["olivia"], actor="test")
        store.add_user("pat", ["product_owner"], password=PASSWORDS["pat"], actor="test")
        store.add_user("gov", ["data_governance"], password=PASSWORDS["gov"], actor="test")
        review_id = store.upsert_review(raw["name"], manifest_path=str(manifest), evidence_digest=review.evidence_digest,
                                        actor="test")
        assert review_id == review_id_for(raw["name"])
        store.save_evidence(review_id, evidence, actor="test")
        store.sign_off(review_id, store.authenticate("sam", PASSWORDS["sam"]), "security", verdict="approve",
                       comment="reviewed", evidence_digest=review.evidence_digest, policy_digest=policy.digest)
    # the rules come from the store, registered by data governance, not from the submitter's manifest
    with _stdin(PASSWORDS["gov"]):
        assert main(["policy", "register", str(root / "policy.yaml"), "--model", raw["candidate"]["name"],
                     "--db", str(db), "--as", "gov", "--password-stdin"]) == 0
    assert main(["gate", str(manifest), "--db", str(db), "--evidence", str(root / "evidence.json")]) == 0
    with _stdin(PASSWORDS["pat"]):  # writing the packet is a write: its author signs in
        assert main(["report", str(manifest), "--out", str(packet), "--db", str(db), "--keys", str(keys),
                     "--as", "pat", "--password-stdin"]) == 0
    return GoReview(root, manifest, registry_uri, db, keys, packet)
