"""Evidence JSON of the demo scenario: schema-valid, digests right, numbers equal the oracles."""

import json
from importlib import resources

import jsonschema
import pytest
from sklearn import metrics as skm

from workbench.artefacts import load_review
from workbench.canonical import digest
from workbench.evidence import SECTIONS, build_evidence, content_digest
from workbench.artefacts import load_manifest

# shap imports matplotlib's colormaps, which warn about their own API; nothing of ours
pytestmark = pytest.mark.filterwarnings(
    r"ignore:The set_(bad|over|under) function will be deprecated:PendingDeprecationWarning")


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
    strip = lambda e: {k: v for k, v in e.items() if k not in ("digest", "timings_s", "timings_cpu_s")}
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
    import dataclasses

    models = {r: dataclasses.replace(m, kind="precomputed") for r, m in review.models.items()}
    pre = dataclasses.replace(review, models=models, _scores={r: review.scores(r) for r in review.models})
    ev = build_evidence(pre, include=["metrics", "operational", "robustness", "explanations"])
    assert ev["models"]["candidate"]["operational"]["status"] == "not_applicable"
    assert ev["models"]["baseline"]["robustness"]["status"] == "not_applicable"
    for name in ("operational", "robustness", "explanations"):
        assert ev["sections"][name]["status"] == "not_applicable", name
    assert ev["explanations"]["candidate"]["status"] == "not_applicable"
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["defined"]


def test_unknown_section_is_a_named_error(review):
    from workbench.errors import ManifestError

    with pytest.raises(ManifestError, match="unknown evidence section"):
        build_evidence(review, include=["metrics", "vibes"])


# ---- every section wired: operational, robustness, slices, explanations -----------------------

_SMALL = {"n_bootstrap": 20, "seed": 3, "latency_calls": 20, "explain_rows": 40, "explain_background": 20,
          "min_slice_size": 500}


@pytest.fixture(scope="module")
def full_evidence(demo_manifest):
    review = _review(demo_manifest, **_SMALL)
    return review, build_evidence(review)


@pytest.mark.slow
def test_all_sections_run_and_validate(full_evidence):
    review, ev = full_evidence
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(ev, schema)
    assert {n: s["status"] for n, s in ev["sections"].items()} == dict.fromkeys(SECTIONS, "ok"), ev["sections"]
    for role in ("candidate", "baseline"):
        op = ev["models"][role]["operational"]
        assert op["status"] == "measured" and op["latency_ms"]["calls"] == 20
        lat = op["latency_ms"]
        assert 0 < lat["p50"]["value"] <= lat["p95"]["value"] <= lat["p99"]["value"]
        assert lat["p50"]["ci_low"] <= lat["p50"]["value"] <= lat["p50"]["ci_high"]
        assert op["model_bytes"] == next(a["bytes"] for a in ev["artefacts"] if a["role"] == role)
        rob = ev["models"][role]["robustness"]
        assert rob["metric"] == "roc_auc" and rob["tests"]
        noise = [t for t in rob["tests"] if t["name"] == "gaussian_noise"]
        assert [t["params"]["sigma"] for t in noise] == [0.1, 0.2, 0.3, 0.5]
        for t in rob["tests"]:  # the policy reads degradation > 0 as worse, for a score clean - perturbed
            if t["error"] is None:
                assert t["degradation"]["value"] == pytest.approx(t["clean"]["value"] - t["perturbed"]["value"])
                assert t["degradation"]["ci_low"] <= t["degradation"]["value"] <= t["degradation"]["ci_high"]
        slices = ev["models"][role]["slices"]
        assert {s["feature"] for s in slices} >= set(review.sensitive_features)
        measured = [s for s in slices if not s["insufficient_data"] and s["metrics"]["accuracy"]["defined"]]
        values = [s["metrics"]["accuracy"]["value"] for s in measured]
        assert values == sorted(values), "worst slice first"
        assert ev["explanations"][role]["status"] == "ok"
    assert ev["explanations"]["diff"]["n_features"] > 0


@pytest.mark.slow
def test_slice_metrics_equal_sklearn_on_the_slice_rows(full_evidence):
    review, ev = full_evidence
    frame, y, s = review.evaluation, review.y_true, review.scores("candidate")
    entry = next(e for e in ev["models"]["candidate"]["slices"] if e["feature"] == "sex" and not e["insufficient_data"])
    rows = (frame["sex"].astype(str) == entry["slice"]).to_numpy()
    assert entry["n"] == rows.sum()
    assert entry["metrics"]["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y[rows], s[rows]), rel=1e-12)
    assert entry["metrics"]["accuracy"]["value"] == pytest.approx(
        skm.accuracy_score(y[rows], s[rows] >= review.threshold), rel=1e-12)


@pytest.mark.slow
def test_operational_relative_change_is_derived_from_both_blocks(full_evidence):
    _, ev = full_evidence
    c, b = (ev["models"][r]["operational"] for r in ("candidate", "baseline"))
    rel = ev["operational_deltas"]
    cp, bp = c["latency_ms"]["p95"]["value"], b["latency_ms"]["p95"]["value"]
    assert rel["latency_ms.p95"]["relative_change"] == pytest.approx((cp - bp) / bp)
    assert rel["model_bytes"]["relative_change"] == pytest.approx((c["model_bytes"] - b["model_bytes"]) / b["model_bytes"])


def test_a_failing_section_is_recorded_not_raised(review):
    import dataclasses

    broken_ref = review.reference.drop(columns=[review.features[0]])
    broken = dataclasses.replace(review, reference=broken_ref)
    ev = build_evidence(broken, include=["metrics", "drift"])
    assert ev["sections"]["drift"]["status"] == "error"
    assert review.features[0] in ev["sections"]["drift"]["reason"]
    assert ev["sections"]["metrics"]["status"] == "ok"
    assert ev["models"]["candidate"]["metrics"]["roc_auc"]["defined"]


def test_a_model_that_cannot_score_is_an_operational_error_with_the_message(review):
    import dataclasses

    bad = dataclasses.replace(review.models["baseline"], features=("no_such_column",))
    scores = {r: review.scores(r) for r in review.models}
    pre = dataclasses.replace(review, models={**review.models, "baseline": bad}, _scores=scores)
    pre = dataclasses.replace(pre, manifest=pre.manifest.model_copy(update={"settings": pre.manifest.settings.model_copy(
        update={"latency_calls": 10})}))
    ev = build_evidence(pre, include=["operational", "robustness"])
    assert ev["models"]["candidate"]["operational"]["status"] == "measured"
    assert ev["models"]["baseline"]["operational"]["status"] == "error"
    assert "no_such_column" in ev["models"]["baseline"]["operational"]["reason"]
    assert ev["sections"]["operational"]["status"] == "error"
    assert ev["sections"]["operational"]["reason"].startswith("baseline:")
    assert ev["models"]["baseline"]["robustness"]["status"] == "error"
    assert ev["models"]["candidate"]["robustness"]["tests"]
    assert ev["operational_deltas"]["latency_ms.p95"]["relative_change"] is None


def test_calibration_alone_when_metrics_are_skipped(review):
    ev = build_evidence(review, include=["calibration"])
    assert ev["sections"]["metrics"]["status"] == "skipped"
    assert ev["sections"]["calibration"]["status"] == "ok"
    cal = ev["models"]["candidate"]["calibration"]
    assert "metrics" not in ev["models"]["candidate"]
    both = build_evidence(review, include=["metrics", "calibration"])
    # Alone, calibration sums each chunk of counts straight into its bins; with the metrics it
    # sums along the shared score order. Same replicates, other summation order: equal to
    # rounding (counts exactly, probability sums to ~1e-12 relative), not bit for bit.
    _assert_close(cal, both["models"]["candidate"]["calibration"])
    _assert_close(ev["deltas"]["calibration.ece"], both["deltas"]["calibration.ece"])


def _assert_close(a, b, path="") -> None:
    """Nested JSON equal, floats to 1e-9 relative (pytest.approx does not nest)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


# ---- the schedule: stages, lanes side by side, progress on the caller's thread -------------------


def test_sections_side_by_side_give_the_evidence_they_give_alone_and_report_progress_on_the_caller(demo_manifest):
    import threading

    from workbench.evidence import STAGES

    review = _review(demo_manifest, **_SMALL)
    lanes = next(stage for stage in STAGES if len(stage) > 1)
    names = ["drift", *(n for lane in lanes for n in lane)]  # a stage alone, then one side by side
    caller, threads, steps = threading.get_ident(), set(), []

    def progress(message: str) -> None:
        threads.add(threading.get_ident())

    def on_section(done: int, total: int, name: str) -> None:
        threads.add(threading.get_ident())
        steps.append((done, total, name))

    together = build_evidence(review, include=names, progress=progress, on_section=on_section)
    assert threads == {caller}  # a UI may only be updated from its own thread
    assert [s[0] for s in steps] == list(range(1, len(names) + 2)) and {s[1] for s in steps} == {len(names) + 1}
    assert steps[0][2] == "scoring" and sorted(s[2] for s in steps[1:]) == sorted(names)  # as they finish
    assert steps[1][2] == "drift"  # stages one after the other
    for lane in lanes:  # a lane's sections finish in its order
        finished = [s[2] for s in steps if s[2] in lane]
        assert finished == list(lane)
    assert list(together["sections"]) == list(SECTIONS)
    for name in names:  # every section alone gives the same values (timings aside)
        alone = build_evidence(review, include=[name, "calibration"] if name == "metrics" else [name])
        assert together["sections"][name] == alone["sections"][name], name
        for key in ("cross_check", "explanations", "drift", "fairness_deltas", "fairness_proxies", "deltas", "tests"):
            if key in alone and alone[key]:
                assert together[key] == alone[key], (name, key)
        for role in review.models:
            for key, value in alone["models"][role].items():
                assert together["models"][role][key] == value, (name, role, key)


def test_each_stage_starts_with_the_earlier_results_frozen_and_unfreezes_after(review, monkeypatch):
    # The timed sections measured single-row calls up to 1.6x slower while the cyclic collector
    # kept walking the earlier sections' results; each stage now starts after a collection with
    # them frozen, and the collector is left as it was found, also when a stage raises.
    import gc

    import workbench.evidence as ev

    seen: list[int] = []
    honest = ev._Context.run_stage

    def spy(self, stage):
        seen.append(gc.get_freeze_count())
        return honest(self, stage)

    monkeypatch.setattr(ev._Context, "run_stage", spy)
    build_evidence(review, include=["metrics", "drift"])
    assert len(seen) == 2 and all(n > 0 for n in seen) and gc.get_freeze_count() == 0

    def broken(self, stage):
        raise RuntimeError("stage broke")

    monkeypatch.setattr(ev._Context, "run_stage", broken)
    with pytest.raises(RuntimeError, match="stage broke"):
        build_evidence(review, include=["metrics"])
    assert gc.get_freeze_count() == 0


def test_a_large_review_is_scored_in_batches_that_operational_measures(demo_manifest, monkeypatch):
    """Twice the batch rows or more: the evaluation is scored in batches (the same scores as one
    call), and operational takes its peak memory and throughput from that scoring."""
    import numpy as np

    from workbench.metrics import operational

    monkeypatch.setattr(operational, "SCORING_BATCH_ROWS", 5_000)
    batched = _review(demo_manifest, n_bootstrap=30, seed=3)
    ev = build_evidence(batched, include=["metrics", "operational"])
    monkeypatch.setattr(operational, "SCORING_BATCH_ROWS", 10**9)
    one = _review(demo_manifest, n_bootstrap=30, seed=3)
    alone = build_evidence(one, include=["metrics", "operational"])
    n = len(batched.evaluation)
    assert n >= 10_000
    for role in ("candidate", "baseline"):
        np.testing.assert_array_equal(batched.scores(role), one.scores(role))
        assert ev["models"][role]["metrics"] == alone["models"][role]["metrics"]
        op, op_alone = ev["models"][role]["operational"], alone["models"][role]["operational"]
        assert op["status"] == op_alone["status"] == "measured"
        assert op["batch_rows"] == 5_000 and op["throughput_rows"] == n - 5_000
        assert "review's scoring" in op["memory_method"] and op["throughput_rows_per_s"]["spread"]["parts"] == 5
        assert op_alone["batch_rows"] == op_alone["throughput_rows"] == n and "separate scoring" in op_alone["method"]
        assert op["peak_memory_mb"] > 0 and op["throughput_rows_per_s"]["value"] > 0


def test_both_models_are_measured_the_same_way_when_one_was_scored_before(demo_manifest, monkeypatch):
    """A score computed before the review (cached in ReviewData) was not measured: operational then
    measures both models itself, so the candidate and baseline figures it compares match in kind."""
    from workbench.metrics import operational

    monkeypatch.setattr(operational, "SCORING_BATCH_ROWS", 5_000)
    review = _review(demo_manifest, n_bootstrap=30, seed=3)
    review.scores("baseline")  # e.g. a page that showed the baseline's scores first
    ev = build_evidence(review, include=["operational"])
    for role in ("candidate", "baseline"):
        op = ev["models"][role]["operational"]
        assert "separate scoring" in op["method"] and op["batch_rows"] == op["throughput_rows"] == len(review.evaluation)
