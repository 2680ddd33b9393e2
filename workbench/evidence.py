"""Assemble the evidence JSON (schema_version 1) of a review; see docs/EVIDENCE.md.

``build_evidence`` calls each evidence section once: quantitative metrics with bootstrap CIs,
calibration and paired tests (``workbench.metrics``), drift (``workbench.metrics.drift``),
fairness (``workbench.fairness``). Every section records its status; a section that cannot
run on this review (e.g. operational checks on precomputed predictions) says
``not_applicable`` with a reason instead of failing the review.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from workbench.canonical import digest, to_jsonable

SCHEMA_VERSION = 1
ENGINE = "numpy"
SECTIONS = ("metrics", "calibration", "drift", "fairness", "operational", "robustness", "slices", "explanations")
_NEED_MODEL_OBJECT = ("operational", "robustness")

__all__ = ["ENGINE", "SCHEMA_VERSION", "SECTIONS", "build_evidence", "content_digest"]


def content_digest(evidence: dict[str, Any]) -> str:
    """sha256 of the canonical evidence without its ``digest`` key."""
    return digest({k: v for k, v in evidence.items() if k != "digest"})


def _settings(review: Any, include: tuple[str, ...]) -> dict[str, Any]:
    s = review.manifest.settings
    out = to_jsonable(s.model_dump(mode="json"))
    out.update(n_bootstrap=s.n_bootstrap, include=list(include), ci_method="poisson_bootstrap_percentile",
               threshold_rule="score >= threshold is positive")
    return out


def _review_block(review: Any) -> dict[str, Any]:
    m = review.manifest
    return {
        "name": m.name, "task": m.task, "target": m.target,
        "positive_label": to_jsonable(m.positive_label), "threshold": float(m.threshold),
        "classes": [to_jsonable(c) for c in review.classes],
        "n_evaluation": int(len(review.evaluation)),
        "n_reference": None if review.reference is None else int(len(review.reference)),
        "n_replay": None if review.replay is None else int(len(review.replay)),
        "features": list(review.features), "sensitive_features": list(review.sensitive_features),
        "id_column": review.id_column,
    }


def build_evidence(
    review: Any,
    *,
    include: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compute the evidence JSON of a loaded review (``workbench.artefacts.ReviewData``).

    Parameters
    ----------
    review : ReviewData
        Loaded and checked artefacts (``workbench.artefacts.load_review``).
    include : iterable of str, optional
        Sections to compute (default: all of ``SECTIONS``); left-out sections are recorded
        with status ``skipped``.
    progress : callable, optional
        Receives one-line progress messages.

    Returns
    -------
    dict
        JSON-ready evidence with ``digest`` = sha256 of its canonical JSON without ``digest``.
    """
    from workbench.metrics._assemble import quantitative_evidence

    chosen = tuple(SECTIONS if include is None else include)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        from workbench.errors import ManifestError

        raise ManifestError(f"unknown evidence section(s) {unknown}; known: {', '.join(SECTIONS)}")
    say = progress or (lambda _m: None)
    s = review.manifest.settings
    timings: dict[str, float] = {}
    started = time.perf_counter()
    roles = [r for r in ("candidate", "baseline") if review.models.get(r) is not None]
    scores = {}
    for role in roles:
        say(f"scoring {role} on {len(review.evaluation)} rows")
        scores[role] = np.asarray(review.scores(role))
    timings["scoring"] = time.perf_counter() - started

    evidence: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "engine": ENGINE,
        "review": _review_block(review), "settings": _settings(review, chosen),
        "artefacts": [to_jsonable(_record(a)) for a in review.artefacts],
        "evidence_digest": review.evidence_digest,
        "models": {r: _model_header(review.models[r]) for r in roles},
        "deltas": {}, "tests": {}, "sections": {},
    }
    if "metrics" in chosen:
        t = time.perf_counter()
        quant = quantitative_evidence(
            review.task, review.y_true, scores, threshold=float(review.threshold), classes=tuple(review.classes),
            n_boot=s.n_bootstrap, seed=s.seed, confidence=s.confidence, margin=s.margin,
            calibration_bins=s.calibration_bins, include_calibration="calibration" in chosen, progress=say)
        for role in roles:
            evidence["models"][role].update(quant["models"][role])
        evidence["deltas"], evidence["tests"] = quant["deltas"], quant["tests"]
        timings["metrics"] = time.perf_counter() - t
        evidence["sections"]["metrics"] = {"status": "ok"}
        evidence["sections"]["calibration"] = {"status": "ok" if "calibration" in chosen else "skipped"}
    _run_sections(review, evidence, chosen, scores, say, timings)
    for name in SECTIONS:
        evidence["sections"].setdefault(name, {"status": "skipped"})
    evidence["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    evidence["environment"] = {"python": platform.python_version(), "numpy": np.__version__}
    evidence = to_jsonable(evidence)
    evidence["digest"] = content_digest(evidence)
    return evidence


def _record(a: Any) -> dict[str, Any]:
    if hasattr(a, "model_dump"):
        return a.model_dump(mode="json")
    if hasattr(a, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(a)
    return dict(a)


def _model_header(model: Any) -> dict[str, Any]:
    return {"name": model.name, "version": model.version, "kind": model.kind}


def _run_sections(review, evidence, chosen, scores, say, timings) -> None:
    s = review.manifest.settings
    if "drift" in chosen:
        t = time.perf_counter()
        evidence["drift"] = _drift(review, scores, say)
        evidence["sections"]["drift"] = {"status": evidence["drift"].get("status", "ok")}
        timings["drift"] = time.perf_counter() - t
    if "fairness" in chosen:
        t = time.perf_counter()
        from workbench.fairness import fairness_evidence

        fair = fairness_evidence(review, min_group_size=s.min_group_size, n_boot=s.n_bootstrap, seed=s.seed,
                                 confidence=s.confidence, progress=say)
        for role, section in fair.get("models", {}).items():
            if role in evidence["models"]:
                evidence["models"][role]["fairness"] = section
        evidence["fairness_deltas"] = fair.get("fairness_deltas", {})
        evidence["fairness_proxies"] = fair.get("proxies", {})
        status = fair.get("status", "ok")
        evidence["sections"]["fairness"] = {"status": status, **({"reason": fair["reason"]} if "reason" in fair else {})}
        timings["fairness"] = time.perf_counter() - t
    for name in _NEED_MODEL_OBJECT:
        if name not in chosen:
            continue
        for role in evidence["models"]:
            if review.models[role].kind == "precomputed":
                evidence["models"][role][name] = {
                    "status": "not_applicable", "reason": "precomputed predictions: there is no model to run"}
        # TODO(metrics-core): wire workbench.metrics.operational / robustness when they land.
        evidence["sections"][name] = {"status": "not_available", "reason": f"workbench.metrics.{name} is not built yet"}
    for name in ("slices", "explanations"):
        if name in chosen:
            # TODO(metrics-core): wire workbench.metrics.slices and workbench.explain when they land.
            evidence["sections"][name] = {"status": "not_available", "reason": f"the {name} module is not built yet"}


def _drift(review, scores, say) -> dict[str, Any]:
    if review.reference is None:
        return {"status": "not_applicable", "reason": "no reference data (manifest data.reference)"}
    from workbench.metrics.drift import drift_evidence, score_drift

    s = review.manifest.settings
    say(f"drift: {len(review.features)} features, {len(review.reference)} reference rows")
    out = drift_evidence(review.reference, review.evaluation, features=list(review.features),
                         bands=tuple(s.drift_bands), n_bins=s.drift_bins)
    prediction = {}
    if review.task == "binary":
        for role, score in scores.items():
            if review.models[role].kind == "precomputed":
                prediction[role] = {"status": "not_applicable",
                                    "reason": "precomputed predictions have no reference scores"}
                continue
            ref_scores = np.asarray(review.scores(role, review.reference))
            prediction[role] = score_drift(ref_scores, score, bands=tuple(s.drift_bands), n_bins=s.drift_bins)
    out["prediction"] = prediction
    out["status"] = "ok"
    return out
