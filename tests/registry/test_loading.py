"""Reviewing registry versions by URI: the manifest field, the secure loader, one-line errors."""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests._small_review import CATEGORICAL, NUMERIC, forest_pipeline, make_frame
from tests.registry._scenario import MODEL, register_small_review
from workbench.artefacts import Manifest, load_manifest, load_review
from workbench.cli import main
from workbench.errors import ArtefactError, ManifestError, RegistryError
from workbench.registry import Registry, files_digest, parse_model_uri


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry-load")
    return register_small_review(root, f"sqlite:///{root}/mlflow.db")


def edit(manifest: Path, target: Path, **changes) -> Path:
    raw = yaml.safe_load(manifest.read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            raw[section][field] = value
        else:
            raw[section] = value
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def register_folder(scenario: Path, folder: Path) -> str:
    uri = yaml.safe_load(scenario.read_text())["registry_uri"]
    return Registry(uri).register_folder(MODEL, folder).version


BASE = {"name": "r", "task": "binary", "target": "y", "positive_label": 1, "data": {"evaluation": "e.csv"}}


@pytest.mark.parametrize(("candidate", "message"), [
    ({"uri": "models:/credit"}, "candidate.uri: String should match pattern"),
    ({"uri": "runs:/abc/model"}, "candidate.uri: String should match pattern"),
    ({"uri": "models:/credit@champion", "path": "m.skops"}, "give 'path' (a file) or 'uri' (a registry version), not both"),
])
def test_a_bad_uri_is_a_manifest_error_naming_the_field(tmp_path, candidate, message):
    path = tmp_path / "review.yaml"
    path.write_text(yaml.safe_dump({**BASE, "candidate": candidate}))
    (tmp_path / "e.csv").write_text("y\n1\n")
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_manifest(path)


def test_uri_is_part_of_the_reviewed_content_and_file_manifests_keep_their_digest():
    by_uri = Manifest.model_validate({**BASE, "candidate": {"uri": "models:/credit@challenger"},
                                      "registry_uri": "http://127.0.0.1:1"})
    by_file = Manifest.model_validate({**BASE, "candidate": {"path": "m.skops"}})
    assert by_uri.content()["candidate"]["uri"] == "models:/credit@challenger"
    assert "registry_uri" not in by_uri.content()  # where the registry lives is not what was reviewed
    assert "uri" not in by_file.content()["candidate"]
    assert parse_model_uri("models:/credit/7").version == "7"
    with pytest.raises(RegistryError, match="not a registry model URI"):
        parse_model_uri("models:/credit@")


def test_unknown_model_or_alias_is_one_line_and_exit_2(scenario, tmp_path, capsys):
    for uri, expected in (("models:/no-such-model@champion", "no-such-model"),
                          (f"models:/{MODEL}@no-such-alias", "alias no-such-alias not found"),
                          (f"models:/{MODEL}/99", "not found")):
        manifest = edit(scenario, scenario.parent / "bad.yaml", candidate__uri=uri)
        assert main(["gate", str(manifest), "--no-db"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("workbench: error: registry sqlite:") and expected in err[-1], err
        assert "Traceback" not in "\n".join(err)


def test_an_unreachable_registry_is_one_line_and_exit_2_within_seconds(scenario, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    manifest = edit(scenario, scenario.parent / "down.yaml", registry_uri=f"http://127.0.0.1:{port}")
    started = time.perf_counter()
    assert main(["gate", str(manifest), "--no-db"]) == 2
    assert time.perf_counter() - started < 30
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"workbench: error: registry http://127.0.0.1:{port} is not reachable (models:/{MODEL}@challenger); "
                   "check MLFLOW_TRACKING_URI or the manifest's registry_uri")


def test_mlflow_tracking_uri_names_the_registry_when_the_manifest_does_not(scenario, tmp_path, monkeypatch):
    raw = yaml.safe_load(scenario.read_text())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", raw.pop("registry_uri"))
    manifest = scenario.parent / "env.yaml"
    manifest.write_text(yaml.safe_dump(raw))
    review = load_review(manifest)
    assert {a.role: a.registry["version"] for a in review.artefacts if a.registry} == {"candidate": "2", "baseline": "1"}


def test_the_uploaded_manifest_may_name_only_the_operators_registry(scenario, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ManifestError, match="registry_uri: not accepted here"):
        load_review(scenario, untrusted=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", yaml.safe_load(scenario.read_text())["registry_uri"])
    assert load_review(scenario, untrusted=True).models["candidate"].kind == "skops"


def test_the_registry_copy_goes_through_the_skops_allow_list(scenario):
    manifest = edit(scenario, scenario.parent / "untrusted.yaml", candidate__trusted_types=[])
    with pytest.raises(ArtefactError, match=r"candidate\.uri \(models:/small-model@challenger\): refusing to load types"):
        load_review(manifest)


def test_an_onnx_flavour_version_loads_and_scores_like_the_original(scenario, tmp_path):
    import mlflow.onnx
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    train = make_frame(400, 3)
    model = forest_pipeline().fit(train[NUMERIC + CATEGORICAL], train["label"])
    types = [("x1", FloatTensorType([None, 1])), ("x2", FloatTensorType([None, 1])),
             ("colour", StringTensorType([None, 1]))]
    onx = to_onnx(model, initial_types=types, options={id(model.steps[-1][1]): {"zipmap": False}}, target_opset=17)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.onnx.save_model(onx, tmp_path / "onnx-model")
    version = register_folder(scenario, tmp_path / "onnx-model")
    manifest = edit(scenario, scenario.parent / "onnx.yaml", candidate={"uri": f"models:/{MODEL}/{version}"})
    data = load_review(manifest)
    assert data.models["candidate"].kind == "onnx"
    record = next(a for a in data.artefacts if a.role == "candidate")
    assert any(f["path"].endswith("model.onnx") for f in record.registry["files"])
    assert any(f["path"].endswith("MLmodel") for f in record.registry["files"])  # every file is hashed
    expected = model.predict_proba(data.evaluation[NUMERIC + CATEGORICAL])[:, 1]
    np.testing.assert_allclose(data.scores("candidate"), expected, atol=1e-5)


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def test_pickled_flavours_load_only_with_allow_pickle_and_the_pinned_hash(scenario, tmp_path):
    import mlflow.sklearn

    train = make_frame(400, 4)
    model = forest_pipeline().fit(train[NUMERIC + CATEGORICAL], train["label"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(model, tmp_path / "sk-model", serialization_format="pickle")
    version = register_folder(scenario, tmp_path / "sk-model")
    pkl = tmp_path / "sk-model" / "model.pkl"
    uri = f"models:/{MODEL}/{version}"
    refused = edit(scenario, scenario.parent / "pkl.yaml", candidate={"uri": uri})
    with pytest.raises(ArtefactError, match="pickle/joblib files can run arbitrary code"):
        load_review(refused)
    unpinned = edit(scenario, scenario.parent / "pkl.yaml", candidate={"uri": uri, "allow_pickle": True})
    with pytest.raises(ArtefactError, match="allow_pickle needs a pinned sha256"):
        load_review(unpinned)
    pinned = edit(scenario, scenario.parent / "pkl.yaml", candidate={
        "uri": uri, "allow_pickle": True, "sha256": hashlib.sha256(pkl.read_bytes()).hexdigest()})
    data = load_review(pinned)
    assert data.models["candidate"].kind == "pickle"

    # a hostile version: its pickle runs code when loaded — the pin of the good one refuses it first
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "model.pkl").write_bytes(pickle.dumps(_Payload(str(marker))))
    bad_version = register_folder(scenario, hostile)
    swapped = edit(scenario, scenario.parent / "pkl.yaml", candidate={
        "uri": f"models:/{MODEL}/{bad_version}", "allow_pickle": True,
        "sha256": hashlib.sha256(pkl.read_bytes()).hexdigest()})
    with pytest.raises(ArtefactError, match="sha256 mismatch"):
        load_review(swapped)
    assert not marker.exists()


def test_precomputed_scores_with_a_registry_version_record_its_lineage(scenario, tmp_path):
    import pandas as pd

    raw = yaml.safe_load(scenario.read_text())
    evaluation = scenario.parent / raw["data"]["evaluation"]
    frame = pd.read_csv(evaluation)
    frame["cand_score"] = np.linspace(0.01, 0.99, len(frame))
    frame.to_csv(tmp_path / "evaluation.csv", index=False)
    manifest = edit(scenario, scenario.parent / "pre.yaml",
                    candidate={"uri": f"models:/{MODEL}@challenger", "predictions": "cand_score"},
                    data={"evaluation": str(tmp_path / "evaluation.csv")})
    data = load_review(manifest)
    record = next(a for a in data.artefacts if a.role == "candidate")
    assert data.models["candidate"].kind == "precomputed"
    assert record.registry["version"] == "2" and record.sha256 == files_digest(record.registry["files"])


def test_mlflow_is_not_imported_by_workbench_itself():
    import subprocess
    import sys

    code = "import workbench, workbench.artefacts, workbench.registry, workbench.promotion, sys; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.strip()
    assert out == "False"


def test_registry_lineage_fits_the_published_evidence_schema(scenario):
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    items = {**schema["properties"]["artefacts"], "$defs": schema["$defs"]}
    records = [a.to_dict() for a in load_review(scenario).artefacts]
    jsonschema.validate(records, items)
    broken = [dict(r) for r in records]
    broken[-1] = {**broken[-1], "registry": {"uri": "models:/x@y", "name": "x", "version": "1", "files": [{"path": "p"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, items)
