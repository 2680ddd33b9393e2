"""A YAML bomb uploaded through the browser is refused with a message; the server does not stall."""

from __future__ import annotations

import time

from tests.app.helpers import app, ok
from tests.test_hostile_input import MANIFEST_BOMB, POLICY_BOMB


def test_an_uploaded_manifest_bomb_gets_an_error_not_a_stall(env) -> None:
    at = ok(app("alice", load=False))
    at.file_uploader(key="upload_manifest").set_value(("review.yaml", MANIFEST_BOMB.encode(), "text/yaml"))
    at.run()
    start = time.perf_counter()
    at.button(key="open_upload").click().run(timeout=30)
    assert time.perf_counter() - start < 10
    assert not at.exception
    assert at.error and "alias bomb" in at.error[0].value and "review.yaml" in at.error[0].value


def test_an_uploaded_policy_bomb_next_to_a_good_manifest_gets_an_error(env) -> None:
    manifest = (env["demo"] / "review.yaml").read_bytes()
    files = [(p.name, p.read_bytes(), "application/octet-stream")
             for p in [env["demo"] / "models" / "candidate.skops", env["demo"] / "models" / "baseline.skops",
                       env["demo"] / "data" / "evaluation.parquet", env["demo"] / "data" / "reference.parquet",
                       env["demo"] / "data" / "replay.parquet", env["demo"] / "model_card.yaml"]]
    files.append(("policy.yaml", POLICY_BOMB.encode(), "text/yaml"))
    at = ok(app("alice", load=False))
    at.file_uploader(key="upload_manifest").set_value(("review.yaml", manifest, "text/yaml"))
    at.file_uploader(key="upload_artefacts").set_value(files)
    at.run()
    at.button(key="open_upload").click().run(timeout=240)  # the models load before the policy is read
    assert not at.exception
    assert at.error and "alias bomb" in at.error[0].value and "policy.yaml" in at.error[0].value
