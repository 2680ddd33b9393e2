"""`workbench demo DIR --registry`: both demo models as two versions of one registered model."""

from __future__ import annotations

import pytest

from tests._demo import copy_demo
from workbench.artefacts import load_review
from workbench.canonical import sha256_file
from workbench.demo import DEMO_MODEL, register_demo
from workbench.registry import Registry

pytestmark = pytest.mark.slow


def test_demo_models_become_champion_and_challenger_reviewed_by_uri(demo_dir, tmp_path, monkeypatch):
    manifest = copy_demo(demo_dir, tmp_path / "demo", n_bootstrap=10)
    monkeypatch.chdir(tmp_path)  # the embedded registry lives under the working folder
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    done = register_demo(manifest)
    assert done["registry_uri"] == f"sqlite:///{tmp_path / 'data' / 'mlflow.db'}"
    assert (tmp_path / "data" / "mlartifacts").is_dir()
    registry = Registry(done["registry_uri"])
    assert registry.aliases(DEMO_MODEL) == {"champion": "1", "challenger": "2"}

    by_uri = load_review(done["manifest"])
    by_file = load_review(manifest)
    records = {a.role: a for a in by_uri.artefacts}
    for role in ("candidate", "baseline"):
        assert records[role].sha256 == sha256_file(manifest.parent / "models" / f"{role}.skops")
        assert records[role].registry["name"] == DEMO_MODEL
    assert (by_uri.scores("candidate") == by_file.scores("candidate")).all()
    assert by_uri.manifest.name.endswith("(registry)")  # its own review in the store

    # a second run adds two versions and moves both aliases to them
    again = register_demo(manifest)
    assert again["versions"] == {"baseline": "3", "candidate": "4"}
    assert registry.aliases(DEMO_MODEL) == {"champion": "3", "challenger": "4"}


def test_demo_uses_mlflow_tracking_uri_when_set(demo_dir, tmp_path, monkeypatch):
    manifest = copy_demo(demo_dir, tmp_path / "demo")
    uri = f"sqlite:///{tmp_path / 'team' / 'registry.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    done = register_demo(manifest)
    assert done["registry_uri"] == uri and (tmp_path / "team" / "registry.db").is_file()
    assert not (tmp_path / "data").exists()
