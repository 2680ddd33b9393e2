"""Pure finalisers: aggregates -> metrics, calibration and paired deltas (no data access).

Threshold metrics, log loss and Brier score come from ``finalise_counts`` of
``workbench.metrics._binary``; calibration from ``CalibrationPrepared.finalise`` /
``point_from_sums`` fed with the summed columns; CIs and deltas from the shared
``metric_entry`` and ``paired_delta``. The numbers therefore agree with the in-memory path
by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.engine._plan import Aggregates, RoleAggregates, ScaleSpec
from workbench.engine._ranks import auc_ap
from workbench.metrics import (
    BINARY_METRICS,
    MetricValue,
    calibration_entry,
    finalise_counts,
    mcnemar_test,
    metric_entry,
    metrics_for,
    Margin,
    paired_delta,
    reason,
    resolve_margin,
)
from workbench.metrics.calibration import CALIBRATION_METRICS, CalibrationPrepared

_RANK = ("roc_auc", "average_precision")


def calibration_prepared(role: RoleAggregates, *, n_bins: int) -> CalibrationPrepared:
    """A ``CalibrationPrepared`` without rows: the bin layout, edges and full-data fit only.

    Enough for the pure ``finalise`` and ``point_from_sums``, which the executor's column
    sums (``role.calibration``) feed exactly as the in-memory object's own sums; ``point()``
    and anything else that reads the rows are not available on it.
    """
    prep = object.__new__(CalibrationPrepared)
    edges = np.asarray(role.quantile_edges, dtype=np.float64)
    prep.n = int(role.linear[3])
    prep.n_bins = int(n_bins)
    prep.uniform_edges = np.linspace(0, 1, n_bins + 1)
    prep.quantile_edges = edges
    prep.n_quantile_bins = edges.size - 1
    prep.slope_full, prep.intercept_full = float(role.slope), float(role.intercept)
    return prep


def _rank_values(role: RoleAggregates, spec: ScaleSpec) -> tuple[dict[str, float], dict[str, float], str]:
    if role.rank_summary is not None:
        r = role.rank_summary
        pn = float(r["P"]) * float(r["N"])
        values = {"roc_auc": (float(r["num2"]) / 2) / pn if pn > 0 else float("nan"),
                  "average_precision": r["ap_sum"] / r["P"] if r["P"] > 0 else float("nan")}
        return values, {m: 0.0 for m in _RANK}, "exact"
    if role.ranks is not None:
        neg, pos = role.ranks
        out = auc_ap(np.asarray(neg, np.int64), np.asarray(pos, np.int64))
        method = "exact"
    else:
        h = np.asarray(role.histogram, dtype=np.int64)
        out = auc_ap(h[:, 0], h[:, 1])
        method = "histogram"
    values = {m: float(out[m]) for m in _RANK}
    bounds = {m: float(out[f"{m}_bound"]) if method == "histogram" else 0.0 for m in _RANK}
    return values, bounds, method


def model_metrics(role_name: str, agg: Aggregates, spec: ScaleSpec) -> tuple[dict[str, Any], dict[str, MetricValue],
                                                                             dict[str, np.ndarray]]:
    """``(entry, point values, replicate arrays)`` of one model."""
    role = agg.roles[role_name]
    probs = role.probabilities
    counts = finalise_counts(role.linear[None, :], probabilities=probs)
    point = {k: float(v[0]) for k, v in counts.items()}
    ranks, bounds, rank_method = _rank_values(role, spec)
    point.update(ranks)
    values = {m: MetricValue.of(point[m], reason(m, probabilities=probs)) for m in BINARY_METRICS}
    reps: dict[str, np.ndarray] = {}
    if agg.boot is not None:
        lin = agg.boot.linear[role_name]
        reps = finalise_counts(lin, probabilities=probs)
        h = agg.boot.histogram[role_name]
        rr = auc_ap(h[..., 0], h[..., 1])
        reps.update({m: rr[m] for m in _RANK})
    metrics: dict[str, Any] = {}
    for name in metrics_for("binary"):
        method = "exact"
        if name in _RANK and rank_method == "histogram":
            method = f"histogram({spec.histogram_bins}, {bounds[name]:.3g})"
        entry = metric_entry(values[name], reps.get(name), confidence=spec.confidence, method=method)
        entry["engine"] = agg.engine
        entry["error_bound"] = bounds.get(name, 0.0) if entry["defined"] else None
        if name in _RANK and agg.boot is not None and entry.get("ci_low") is not None:
            entry["ci_replicate_method"] = f"histogram({spec.bootstrap_bins})"
        metrics[name] = entry
    tp, fp, pos, total = (int(round(v)) for v in role.linear[:4])
    out: dict[str, Any] = {"metrics": metrics,
                           "confusion_matrix": [[total - pos - fp, fp], [pos - tp, tp]],
                           "calibration": _calibration(role_name, agg, spec)}
    return out, values, reps


def _calibration(role_name: str, agg: Aggregates, spec: ScaleSpec) -> dict[str, Any]:
    role = agg.roles[role_name]
    if not role.probabilities:
        return {"status": "not_applicable", "reason": "scores are not probabilities in [0, 1]"}
    prep = calibration_prepared(role, n_bins=spec.calibration_bins)
    reps = {}
    if agg.boot is not None and role_name in agg.boot.calibration:
        reps = prep.finalise(agg.boot.calibration[role_name])
    assert role.calibration is not None  # a role with probabilities has its calibration sums
    entry = calibration_entry(prep, reps, spec.confidence, point=prep.point_from_sums(role.calibration))
    entry["engine"] = agg.engine
    return entry


def quantitative(agg: Aggregates, spec: ScaleSpec, *, margin: float = 0.0,
                 margins: Mapping[str, Margin] | None = None) -> dict[str, Any]:
    """``{"models", "deltas"}`` for every role of the aggregates; ``margins`` as in ``quantitative_evidence``."""
    models, points, reps = {}, {}, {}
    for role in agg.roles:
        models[role], points[role], reps[role] = model_metrics(role, agg, spec)
    deltas: dict[str, Any] = {}
    if "candidate" in models and "baseline" in models and agg.boot is not None:
        for name, mspec in metrics_for("binary").items():
            c, b = points["candidate"][name], points["baseline"][name]
            m, source = resolve_margin(name, margins, default=margin, baseline_value=b.value)
            d = paired_delta(reps["candidate"].get(name, np.array([])), reps["baseline"].get(name, np.array([])),
                                     candidate_value=c.value, baseline_value=b.value,
                                     greater_is_better=mspec.greater_is_better, margin=m,
                                     confidence=spec.confidence, margin_source=source)
            d["greater_is_better"] = mspec.greater_is_better
            deltas[name] = d
        for name in CALIBRATION_METRICS:
            cc, bc = models["candidate"]["calibration"], models["baseline"]["calibration"]
            if cc.get("status") != "ok" or bc.get("status") != "ok":
                break
            rc = calibration_prepared(agg.roles["candidate"], n_bins=spec.calibration_bins).finalise(
                agg.boot.calibration["candidate"])[name]
            rb = calibration_prepared(agg.roles["baseline"], n_bins=spec.calibration_bins).finalise(
                agg.boot.calibration["baseline"])[name]
            m, source = resolve_margin(f"calibration.{name}", margins, default=0.0, baseline_value=bc[name]["value"])
            d = paired_delta(rc, rb, candidate_value=cc[name]["value"], baseline_value=bc[name]["value"],
                                     greater_is_better=name == "resolution", margin=m, confidence=spec.confidence,
                                     margin_source=source if source != "settings.margin" else "none stated")
            if name in ("slope", "intercept", "uncertainty"):
                d["reading"] = None
            deltas[f"calibration.{name}"] = d
    return {"models": models, "deltas": deltas, "tests": _tests(agg)}


def _tests(agg: Aggregates) -> dict[str, Any]:
    """McNemar from the joint prediction table; DeLong needs rows (not at scale)."""
    out: dict[str, Any] = {"delong": {"defined": False, "method": "delong", "status": "not_available",
                                      "reason": "DeLong needs per-row components; the bootstrap delta CI covers AUC"}}
    fair = agg.fairness
    roles = list(agg.roles)
    if fair is not None and len(roles) >= 2:
        j = fair.joint.sum(axis=0)  # (2[y], 2[pred_0], 2[pred_1], ...)
        j = j.reshape(2, 2, 2, -1).sum(axis=-1) if j.ndim > 3 else j
        # correct_c = (pred_c == y); b = candidate right, baseline wrong
        b = int(j[0, 0, 1] + j[1, 1, 0])
        c = int(j[0, 1, 0] + j[1, 0, 1])
        out["mcnemar"] = _mcnemar_counts(b, c)
    return out


def _mcnemar_counts(b: int, c: int) -> dict[str, Any]:
    # only the discordant rows matter to the test: rebuild just those
    a = np.r_[np.ones(b, bool), np.zeros(c, bool)]
    return mcnemar_test(a, ~a)
