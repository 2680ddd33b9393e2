"""Secure loading of models and data, and manifest validation (issue: foundation)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml

from tests._small_review import CATEGORICAL, NUMERIC, forest_pipeline, make_frame, write_small_review
from workbench.artefacts import load_review, schema_fingerprint
from workbench.canonical import sha256_file
from workbench.cli import main
from workbench.errors import ArtefactError, DataError, ManifestError
from workbench.artefacts import load_manifest


class _Payload:
    """Unpickling this writes a marker file: the shape of a real pickle exploit."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _edit(manifest: Path, **changes) -> None:
    data = yaml.safe_load(manifest.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture()
def review(tmp_path: Path) -> Path:
    return write_small_review(tmp_path)


def test_review_loads_with_records_and_scores(review: Path) -> None:
    data = load_review(review)
    assert data.features == ("x1", "x2", "colour")
    assert set(data.models) == {"candidate", "baseline"}
    scores = data.scores("candidate")
    assert scores.shape == (len(data.evaluation),) and np.all((scores >= 0) & (scores <= 1))
    expected = data.models["candidate"].estimator.predict_proba(data.evaluation[list(data.features)])[:, 1]
    np.testing.assert_array_equal(scores, expected)
    by_role = {r.role: r for r in data.artefacts}
    assert by_role["candidate"].sha256 == sha256_file(review.parent / "models" / "candidate.skops")
    assert by_role["evaluation"].rows == 600 and by_role["evaluation"].schema_fingerprint
    assert len(data.evidence_digest) == 64


def test_evidence_digest_is_reproducible_and_tracks_inputs(review: Path) -> None:
    first = load_review(review).evidence_digest
    assert load_review(review).evidence_digest == first
    _edit(review, settings={"n_bootstrap": 200})
    assert load_review(review).evidence_digest != first


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, review: Path) -> None:
    marker = tmp_path / "pwned"
    evil = review.parent / "models" / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    _edit(review, candidate={"path": "models/evil.pkl"})
    with pytest.raises(ArtefactError, match="allow_pickle"):
        load_review(review)
    _edit(review, candidate={"path": "models/evil.pkl", "allow_pickle": True, "sha256": "0" * 64})
    with pytest.raises(ArtefactError, match="sha256 mismatch"):
        load_review(review)
    assert not marker.exists()


def test_pinned_pickle_of_a_real_model_loads(tmp_path: Path, review: Path) -> None:
    train = make_frame(300, 5)
    model = forest_pipeline().fit(train[NUMERIC + CATEGORICAL], train["label"])
    path = review.parent / "models" / "trusted.pkl"
    path.write_bytes(pickle.dumps(model))
    _edit(review, candidate={"path": "models/trusted.pkl", "allow_pickle": True,
                             "sha256": f"sha256:{sha256_file(path)}"})
    data = load_review(review)
    assert data.models["candidate"].kind == "pickle"


def test_skops_type_outside_trusted_types_is_refused_by_name(review: Path) -> None:
    _edit(review, candidate__trusted_types=[])
    with pytest.raises(ArtefactError, match=r"sklearn\.tree\._tree\.Tree"):
        load_review(review)


def test_onnx_model_scores_like_the_original(tmp_path: Path, review: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    train = make_frame(400, 3)
    model = forest_pipeline().fit(train[NUMERIC + CATEGORICAL], train["label"])
    types = [("x1", FloatTensorType([None, 1])), ("x2", FloatTensorType([None, 1])),
             ("colour", StringTensorType([None, 1]))]
    onx = to_onnx(model, initial_types=types, options={id(model.steps[-1][1]): {"zipmap": False}},
                  target_opset=17)
    (review.parent / "models" / "candidate.onnx").write_bytes(onx.SerializeToString())
    _edit(review, candidate={"path": "models/candidate.onnx", "name": "forest-onnx"})
    data = load_review(review)
    expected = model.predict_proba(data.evaluation[NUMERIC + CATEGORICAL])[:, 1]
    np.testing.assert_allclose(data.scores("candidate"), expected, atol=1e-5)


def test_precomputed_predictions_need_no_model_file(review: Path) -> None:
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    frame["cand_score"] = np.linspace(0.01, 0.99, len(frame))
    frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    _edit(review, candidate={"predictions": "cand_score", "name": "scored-elsewhere"})
    data = load_review(review)
    assert data.models["candidate"].kind == "precomputed"
    assert "cand_score" not in data.features
    np.testing.assert_array_equal(data.scores("candidate"), frame["cand_score"].to_numpy())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"candiate": {"path": "x"}}, "review.yaml: candiate: unknown key"),
        ({"candidate": {"path": "models/x.skops"}}, "review.yaml: candidate.path: file not found: models/x.skops"),
        ({"target": "approved"}, "target: column(s) not in the data: approved"),
        ("three_labels", "target 'label' has 3 distinct values (0, 1, 2)"),
        ({"task": "binary", "positive_label": None}, "positive_label is required"),
        ({"threshold": 1.5}, "review.yaml: threshold: Input should be less than or equal to 1"),
    ],
)
def test_bad_manifests_give_one_clear_error_and_exit_2(review: Path, change, expected, capsys) -> None:
    if change == "three_labels":
        frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
        frame.loc[:5, "label"] = 2
        frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    else:
        data = yaml.safe_load(review.read_text())
        data.update(change)
        review.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises((ManifestError, DataError)) as info:
        load_review(review)
    assert expected in str(info.value)
    # The CLI turns the same error into one line on stderr and exit code 2, no traceback.
    code = main(["review", str(review), "--out", str(review.parent / "e.json")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err


def test_text_in_a_numeric_column_is_reported_with_counts(review: Path) -> None:
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    frame["x1"] = "not-a-number"
    frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    with pytest.raises(DataError, match="column 'x1' should be numeric like the reference but has 600 non-numeric values"):
        load_review(review)


def test_missing_manifest_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "nope.yaml")
    bad = tmp_path / "review.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ManifestError, match="not valid YAML at line"):
        load_manifest(bad)


def test_schema_fingerprint_changes_with_dtype() -> None:
    a = pd.DataFrame({"x": [1, 2]})
    assert schema_fingerprint(a) != schema_fingerprint(a.astype(float))


def test_skops_round_trip_of_untrusted_is_listed_by_skops(tmp_path: Path) -> None:
    # Guard for the allow-list: skops itself must list the forest's tree type as untrusted.
    train = make_frame(200, 9)
    path = tmp_path / "m.skops"
    sio.dump(forest_pipeline().fit(train[NUMERIC + CATEGORICAL], train["label"]), path)
    assert "sklearn.tree._tree.Tree" in sio.get_untrusted_types(file=path)


def test_model_that_raises_on_the_features_is_reported_with_its_own_message(tmp_path: Path, review: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    train = make_frame(300, 4)
    strict = Pipeline([("pre", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="error"), CATEGORICAL)],
                                                 remainder="passthrough")),
                       ("clf", LogisticRegression(max_iter=300))]).fit(train[NUMERIC + CATEGORICAL], train["label"])
    sio.dump(strict, review.parent / "models" / "strict.skops")
    _edit(review, baseline={"path": "models/strict.skops", "name": "strict", "version": "0.1"})
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    frame.loc[:3, "colour"] = "purple"  # a category the model never saw
    frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    with pytest.raises(ArtefactError) as info:
        load_review(review)
    message = str(info.value)
    assert "the baseline model (strict 0.1) failed on the evaluation features: ValueError" in message
    assert "Found unknown categories ['purple']" in message  # the model's own words


def test_pinned_pickle_is_the_only_gate(tmp_path: Path, review: Path) -> None:
    # With allow_pickle and the file's real hash, the loader does unpickle — and a malicious
    # payload then runs. This is why the manifest must pin the hash of a *reviewed* file.
    marker = tmp_path / "ran"
    evil = review.parent / "models" / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    _edit(review, candidate={"path": "models/evil.pkl", "allow_pickle": True, "sha256": sha256_file(evil)})
    with pytest.raises(ArtefactError, match="needs predict_proba"):
        load_review(review)
    assert marker.exists()


def test_dtype_problems_are_found_without_a_reference(review: Path) -> None:
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    frame["x2"] = frame["x2"].astype(object)
    frame.loc[[3, 9], "x2"] = "unknown"
    frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    _edit(review, data={"evaluation": "data/evaluation.csv"})
    with pytest.raises(DataError, match=r"column 'x2' looks numeric but has 2 non-numeric values \(e\.g\. 'unknown'\)"):
        load_review(review)


def test_categorical_column_turned_numeric_is_flagged(review: Path) -> None:
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    frame["colour"] = frame["colour"].map({"red": 1, "green": 2, "blue": 3})
    frame.to_csv(review.parent / "data" / "evaluation.csv", index=False)
    with pytest.raises(DataError, match="column 'colour' is numeric here but categorical"):
        load_review(review)


def test_untrusted_manifests_cannot_ask_for_pickles_or_new_types(tmp_path: Path, review: Path) -> None:
    # A browser user writes the manifest: allow_pickle + their own pin must not run their code.
    marker = tmp_path / "pwned"
    evil = review.parent / "models" / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    _edit(review, candidate={"path": "models/evil.pkl", "allow_pickle": True, "sha256": sha256_file(evil)})
    with pytest.raises(ArtefactError, match="pickle/joblib models are not accepted here"):
        load_review(review, untrusted=True)
    assert not marker.exists()
    _edit(review, candidate={"path": "models/candidate.skops", "trusted_types": ["sklearn.tree._tree.Tree", "os.system"]})
    with pytest.raises(ArtefactError, match="trusted_types not accepted from this source: os.system"):
        load_review(review, untrusted=True)


def test_untrusted_manifest_with_reviewed_types_loads(review: Path, monkeypatch) -> None:
    assert load_review(review, untrusted=True).models["candidate"].kind == "skops"
    _edit(review, candidate__trusted_types=["sklearn.tree._tree.Tree", "my.reviewed.Type"])
    monkeypatch.setenv("WORKBENCH_TRUSTED_TYPES", "my.reviewed.Type")
    assert load_review(review, untrusted=True).models["candidate"].kind == "skops"


def test_precomputed_predictions_from_a_separate_file_are_joined_by_id(review: Path) -> None:
    frame = pd.read_csv(review.parent / "data" / "evaluation.csv")
    rng = np.random.default_rng(3)
    preds = pd.DataFrame({"row_id": frame["row_id"], "score": rng.random(len(frame))}).sample(frac=1, random_state=1)
    preds.to_parquet(review.parent / "data" / "scores.parquet")
    _edit(review, candidate={"predictions": "score", "predictions_file": "data/scores.parquet", "name": "scored-elsewhere"})
    data = load_review(review)
    expected = preds.set_index("row_id").loc[frame["row_id"], "score"].to_numpy()
    np.testing.assert_array_equal(data.scores("candidate"), expected)  # aligned by id, not by position
    assert "candidate_predictions" in {a.role for a in data.artefacts}
    assert "score" not in data.features
    preds.iloc[:-5].to_parquet(review.parent / "data" / "scores.parquet")
    with pytest.raises(DataError, match="5 of 600 evaluation rows have no prediction"):
        load_review(review)


def test_every_path_field_of_the_manifest_is_in_file_fields(review: Path) -> None:
    # The existence check, the untrusted-folder containment and the upload staging all walk
    # FILE_FIELDS; a new path field missing from it would escape all three.
    from workbench.artefacts import FILE_FIELDS, DataEntry, Manifest, ModelEntry, load_manifest

    def path_fields(model: type) -> set[str]:
        return {name for name, f in model.model_fields.items() if "Path" in str(f.annotation)}

    found = {(None, k) for k in path_fields(Manifest) - {"base_dir", "source"}}
    found |= {(role, k) for role in ("candidate", "baseline") for k in path_fields(ModelEntry)}
    found |= {("data", k) for k in path_fields(DataEntry)}
    assert found == set(FILE_FIELDS) and len(FILE_FIELDS) == 9
    named = dict(load_manifest(review).named_files())
    assert {"candidate.path", "baseline.path", "data.evaluation"} <= set(named)
    assert all(not p.is_absolute() for p in named.values())
