"""The whole journey against a real `mlflow server` on 127.0.0.1: review by URI, refuse a
promotion when the alias moved, promote on GO, drill, roll back to the start."""

from __future__ import annotations

import io

import pytest

from tests.registry._scenario import MODEL, PASSWORDS, build_go_review
from workbench.cli import main

pytestmark = pytest.mark.slow


def _run(monkeypatch, args, user="olivia"):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[user] + "\n"))
    return main([*args, "--as", user, "--password-stdin"])


def test_journey_against_a_tracking_server(mlflow_server, server_keys, tmp_path, monkeypatch, capsys):
    go = build_go_review(tmp_path, mlflow_server, keys=server_keys)
    registry = go.registry
    start = registry.snapshot(MODEL)
    assert start["aliases"] == {"champion": "1", "challenger": "2"}
    review = next(a for a in __import__("workbench.artefacts", fromlist=["load_review"]).load_review(go.manifest).artefacts
                  if a.role == "candidate")
    assert review.registry["source"].startswith("runs:/") and review.registry["files"]
    promote = ["promote", str(go.manifest), "--keys", str(go.keys), "--db", str(go.db)]

    # someone moves the alias after the review: refused, nothing changed
    registry.set_alias(MODEL, "champion", "2")
    moved = registry.snapshot(MODEL)
    assert _run(monkeypatch, promote) == 1
    assert "now resolves to version 2, the review saw version 1" in capsys.readouterr().out
    assert registry.snapshot(MODEL) == moved
    registry.set_alias(MODEL, "champion", "1")
    assert registry.snapshot(MODEL) == start

    assert _run(monkeypatch, promote) == 0
    assert registry.aliases(MODEL) == {"champion": "2", "challenger": "2", "previous-champion": "1"}
    tags = registry.version(MODEL, "2").tags
    assert tags["workbench.policy_id"] == "go" and tags["workbench.approvers"] == "sam (security)"

    rollback = ["rollback", MODEL, "--registry-uri", mlflow_server, "--db", str(go.db)]
    assert _run(monkeypatch, [*rollback, "--drill"]) == 0
    assert "ok    previous version loadable" in capsys.readouterr().out
    assert _run(monkeypatch, [*rollback, "--reason", "drill passed, rolling back for the test"]) == 0
    assert registry.aliases(MODEL) == start["aliases"]
