"""Evidence JSON of the demo scenario: schema-valid, digests right, numbers equal the oracles."""

import json
from importlib import resources

import jsonschema
import numpy as np
import pytest
from sklearn import metrics as skm

from workbench.artefacts import load_review
from workbench.canonical import digest
from workbench.evidence import SECTIONS, build_evidence, content_digest
from workbench.manifest import load_manifest


def _review(manifest_path, **settings):
    m = load_manifest(manifest_path)
    m = m.model_copy(update={"settings": m.settings.model_copy(update=settings)})
    return load_review(m)


@pytest.fixture(scope="module")
def review(demo_manifest):
    return _review(demo_manifest, n_bootstrap=60, seed=3)


@pytest.fixture(scope="module")
def evidence(review):
    return build_evidence(review, include=["metrics", "calibration", "drift"])


def test_evidence_validates_against_the_published_schema(evidence):
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(evidence, schema)
    broken = json.loads(json.dumps(evidence))
    broken["models"]["candidate"]["metrics"]["roc_auc"]["value"] = "high"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_digests(evidence, review):
    assert evidence["evidence_digest"] == review.evidence_digest
    assert evidence["digest"] == digest({k: v for k, v in evidence.items() if k != "digest"})
    assert content_digest(evidence) == evidence["digest"]
    json.dumps(evidence, allow_nan=False)  # no NaN anywhere


def test_point_metrics_equal_sklearn_and_ci_brackets_them(evidence, review):
    y = review.y_true
    for role in ("candidate", "baseline"):
        s = review.scores(role)
        m = evidence["models"][role]["metrics"]
        assert m["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
        assert m["average_precision"]["value"] == pytest.approx(skm.average_precision_score(y, s), rel=1e-12)
        assert m["log_loss"]["value"] == pytest.approx(skm.log_loss(y, s), rel=1e-9)
        assert m["f1"]["value"] == pytest.approx(skm.f1_score(y, s >= review.threshold), rel=1e-12)
        for entry in m.values():
            assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
    delta = evidence["deltas"]["roc_auc"]
    assert delta["value"] == pytest.approx(
        evidence["models"]["candidate"]["metrics"]["roc_auc"]["value"]
        - evidence["models"]["baseline"]["metrics"]["roc_auc"]["value"])
    assert evidence["tests"]["delong"]["delta"] == pytest.approx(delta["value"], rel=1e-9)


def test_sections_are_recorded_and_drift_present(evidence):
    assert set(evidence["sections"]) == set(SECTIONS)
    assert evidence["sections"]["fairness"]["status"] == "skipped"
    assert evidence["drift"]["features"]
    assert evidence["models"]["candidate"]["calibration"]["n_bins"] == 10


def test_same_inputs_same_numbers(review, evidence):
    again = build_evidence(review, include=["metrics", "calibration", "drift"])
    strip = lambda e: {k: v for k, v in e.items() if k not in ("digest", "timings_s")}  # noqa: E731
    assert strip(again) == strip(evidence)


def test_identical_models_give_zero_delta_with_ci_containing_zero(review):
    from workbench.metrics._assemble import quantitative_evidence

    s = review.scores("candidate")
    q = quantitative_evidence("binary", review.y_true, {"candidate": s, "baseline": s.copy()},
                              threshold=0.5, n_boot=40, seed=1)
    for name, d in q["deltas"].items():
        if d["defined"]:
            assert d["value"] == 0 and d["ci_low"] <= 0 <= d["ci_high"], name
            assert d["p_value"] == 1.0
    assert q["tests"]["mcnemar"]["p_value"] == 1.0
    assert q["tests"]["delong"]["p_value"] == 1.0


def test_precomputed_scores_work_and_operational_is_not_applicable(review):
    from workbench.evidence import _run_sections  # noqa: F401  (section wiring is exercised below)

    import dataclasses

    models = {r: dataclasses.replace(m, kind="precomputed") for r, m in review.models.items()}
    pre = dataclasses.replace(review, models=models, _scores={r: review.scores(r) for r in review.models})
    ev = build_evidence(pre, include=["metrics", "operational", "robustness"])
    assert ev["models"]["candidate"]["operational"]["status"] == "not_applicable"
    assert ev["models"]["baseline"]["robustness"]["status"] == "not_applicable"
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["defined"]


def test_unknown_section_is_a_named_error(review):
    from workbench.errors import ManifestError

    with pytest.raises(ManifestError, match="unknown evidence section"):
        build_evidence(review, include=["metrics", "vibes"])
