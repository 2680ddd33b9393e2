"""Quantitative evidence of a task: metrics with CIs, curves, calibration, paired comparison.

Pure functions from arrays to JSON-ready dicts; ``workbench.evidence`` adds IO-derived parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from workbench.metrics import _paired
from workbench.metrics._binary import BinaryPrepared, _as_binary, checked_scores
from workbench.metrics._engine import Component, map_columns, run_bootstrap
from workbench.metrics._multiclass import MULTICLASS_METRICS, MulticlassPrepared
from workbench.metrics._registry import MetricValue, metrics_for
from workbench.metrics._regression import RegressionPrepared
from workbench.metrics._spec import Task
from workbench.metrics.bootstrap import percentile_ci
from workbench.metrics.calibration import CALIBRATION_METRICS, CalibrationPrepared

CI_METHOD = "poisson_bootstrap_percentile"
_CURVE_POINTS = 201
_NO_DIRECTION = {"slope", "intercept", "uncertainty"}


def metric_entry(value: MetricValue, reps: np.ndarray | None, *, confidence: float, method: str = "exact") -> dict:
    """``{value, ci_low, ci_high, defined, reason?, method}`` for one metric."""
    entry: dict[str, object] = {"value": value.value, "ci_low": None, "ci_high": None,
                                "defined": value.defined, "method": method}
    if not value.defined:
        entry["reason"] = value.reason
        return entry
    if reps is not None and reps.size:
        low, high = percentile_ci(reps, confidence=confidence)
        if np.isfinite(low):
            entry["ci_low"], entry["ci_high"] = low, high
            entry["ci_method"] = CI_METHOD
            undefined_share = float(np.mean(~np.isfinite(reps)))
            if undefined_share > 0:
                entry["ci_undefined_share"] = undefined_share
        else:
            entry["ci_reason"] = "fewer than two bootstrap replicates defined the metric"
    return entry


def _subsample(*arrays: np.ndarray, points: int = _CURVE_POINTS) -> list[list[float]]:
    n = arrays[0].size
    idx = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int)) if n else np.array([], int)
    return [a[idx].astype(float).tolist() for a in arrays]


def binary_curves(y: np.ndarray, score: np.ndarray) -> dict[str, object]:
    """ROC and PR curves (subsampled to <= 201 points) and metrics along a threshold grid."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.array([], int)
    tps = np.cumsum(yy)[ends].astype(float)
    fps = (ends + 1 - tps).astype(float)
    p, n = max(y.sum(), 0), max((~y).sum(), 0)
    fpr = np.r_[0.0, fps / n] if n else np.r_[0.0, fps * np.nan]
    tpr = np.r_[0.0, tps / p] if p else np.r_[0.0, tps * np.nan]
    prec = np.r_[1.0, tps / np.maximum(tps + fps, 1)]
    roc_fpr, roc_tpr = _subsample(fpr, tpr)
    pr_p, pr_r = _subsample(prec, tpr)
    grid = np.linspace(0, 1, 101)
    sp, sn = np.sort(score[y]), np.sort(score[~y])
    tp_t = p - np.searchsorted(sp, grid, side="left")
    fp_t = n - np.searchsorted(sn, grid, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        th = {
            "thresholds": grid,
            "precision": np.where(tp_t + fp_t > 0, tp_t / (tp_t + fp_t), np.nan),
            "recall": tp_t / p if p else grid * np.nan,
            "specificity": (n - fp_t) / n if n else grid * np.nan,
            "f1": np.where(p + tp_t + fp_t > 0, 2 * tp_t / (p + tp_t + fp_t), np.nan),
            "accuracy": (tp_t + n - fp_t) / max(p + n, 1),
            "predicted_positive_rate": (tp_t + fp_t) / max(p + n, 1),
        }
    return {"roc": {"fpr": roc_fpr, "tpr": roc_tpr}, "pr": {"precision": pr_p, "recall": pr_r},
            "threshold": {k: v.tolist() for k, v in th.items()}}


def _prepare(task: str, y: np.ndarray, score: np.ndarray, threshold: float, n_classes: int):
    if task == "binary":
        return BinaryPrepared(y, score, threshold=threshold)
    if task == "multiclass":
        return MulticlassPrepared(y, score, n_classes=n_classes)
    return RegressionPrepared(y, score)


def quantitative_evidence(
    task: Task,
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    threshold: float = 0.5,
    classes: tuple = (),
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    margin: float = 0.0,
    margins: Mapping[str, _paired.Margin] | None = None,
    calibration_bins: int = 10,
    include_metrics: bool = True,
    include_calibration: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Per-model metrics/curves/calibration with CIs, paired deltas and analytic tests.

    ``include_metrics=False`` computes calibration only (``models.<role>.calibration`` and the
    ``calibration.*`` deltas); ``include_calibration=False`` leaves calibration out. ``margins``
    (keyed by delta name, e.g. ``roc_auc`` or ``calibration.ece``: the policy's stated margins)
    take precedence over the single ``margin`` when a delta is read as better / non-inferior.
    """
    y = np.asarray(y_true)
    if task == "binary" and not include_metrics:
        y = _as_binary(y)  # the metric components validate it otherwise

    def prepare(role: str) -> tuple[Any, CalibrationPrepared | None]:
        """The role's metric component (if any) and calibration component (if any)."""
        score = np.asarray(scores[role])
        prep = None
        if include_metrics or task != "binary":
            prep = _prepare(task, y, score, threshold, len(classes))
            if task != "binary":  # calibration is for binary scores only
                return prep, None
            score, order, probabilities = prep.score, prep.score_order, prep.probabilities
        else:  # calibration only: no metric component (its sort is CalibrationPrepared's own)
            score, probabilities = checked_scores(score, y.size)
            order = None
        if include_calibration and probabilities:
            return prep, CalibrationPrepared(y, score, n_bins=calibration_bins, order=order)
        return prep, None

    # on the bootstrap's worker threads: sorts and ufuncs release the GIL, so two models
    # prepare in about the time of one; results come back in the order of ``scores``
    roles = list(scores)
    built = list(zip(roles, map_columns(prepare, roles, label="prepare"), strict=True))
    prepared = {role: prep for role, (prep, _) in built if prep is not None}
    calib = {role: cal for role, (_, cal) in built if cal is not None}
    components: dict[str, Component] = dict(prepared) if include_metrics else {}
    components.update({f"calibration:{role}": cal for role, cal in calib.items()})
    if progress:
        progress(f"metrics: {len(prepared)} model(s), {n_boot} bootstrap replicates, {y.size} rows")
    reps = run_bootstrap(components, n_rows=y.size, n_boot=n_boot, seed=seed, progress=progress)
    specs = metrics_for(task)
    models: dict[str, dict] = {}
    points: dict[str, dict] = {}
    # each model's curves sort its scores again: side by side on the worker threads, as the preparation
    curves = dict(zip(prepared, map_columns(lambda role: binary_curves(y, prepared[role].score), list(prepared),
                                            label="curves"))) if include_metrics and task == "binary" else {}
    for role in scores:
        prep = prepared.get(role)
        entry: dict[str, object] = {}
        models[role] = entry
        if include_calibration:
            entry["calibration"] = _calibration_or_reason(task, calib.get(role), reps.get(f"calibration:{role}", {}),
                                                          confidence)
        if not include_metrics:
            continue
        assert prep is not None  # with metrics, every role has its metric component
        point = prep.point()
        points[role] = point
        r = reps.get(role, {})
        entry["metrics"] = {name: metric_entry(point[name], r.get(name), confidence=confidence) for name in specs}
        if task == "binary":
            entry["confusion_matrix"] = prep.confusion_matrix()
            entry["curves"] = curves[role]
        elif task == "multiclass":
            entry["confusion_matrix"] = prep.confusion_matrix()
            entry["per_class"] = _per_class(point["per_class"], r, classes, confidence)
    out: dict[str, Any] = {"models": models, "deltas": {}, "tests": {}}
    if "candidate" in scores and "baseline" in scores:
        if include_metrics:
            out["deltas"] = _deltas(specs, points, reps, confidence, margin, margins)
        for name in CALIBRATION_METRICS if len(calib) == 2 else ():
            c, b = (models[r]["calibration"][name] for r in ("candidate", "baseline"))
            m, source = _paired.resolve_margin(f"calibration.{name}", margins, default=0.0, baseline_value=b["value"])
            delta = _paired.paired_delta(
                reps["calibration:candidate"][name], reps["calibration:baseline"][name],
                candidate_value=c["value"], baseline_value=b["value"],
                greater_is_better=name == "resolution", margin=m, confidence=confidence,
                margin_source=source if source != "settings.margin" else "none stated")
            if name in _NO_DIRECTION:  # better means "closer to 1 / 0", not larger or smaller
                delta["reading"] = None
            out["deltas"][f"calibration.{name}"] = delta
    if include_metrics:
        out["tests"] = _tests(task, y, prepared, scores)
    return out


def _calibration_or_reason(task: str, prep: CalibrationPrepared | None, reps: dict, confidence: float) -> dict:
    if prep is not None:
        return calibration_entry(prep, reps, confidence)
    if task == "binary":
        return {"status": "not_applicable", "reason": "scores are not probabilities in [0, 1]"}
    return {"status": "not_applicable", "reason": f"calibration is for binary tasks, not {task}"}


def _per_class(per_class, reps, classes, confidence) -> dict[str, dict]:
    out = {}
    for c, values in per_class.items():
        label = str(classes[c]) if c < len(classes) else str(c)
        out[label] = {
            "precision": metric_entry(values["precision"], reps.get("per_class_precision", np.empty((0, 0)))[:, c] if "per_class_precision" in reps else None, confidence=confidence),
            "recall": metric_entry(values["recall"], reps["per_class_recall"][:, c] if "per_class_recall" in reps else None, confidence=confidence),
        }
    return out


def calibration_entry(prep: CalibrationPrepared, reps: dict, confidence: float,
                       point: dict[str, Any] | None = None) -> dict[str, object]:
    """The calibration block; ``point`` defaults to ``prep.point()`` (executors pass their own)."""
    point = prep.point() if point is None else point
    entry: dict[str, object] = {name: metric_entry(point[name], reps.get(name), confidence=confidence,
                                                   method="exact" if name not in ("slope", "intercept") else "newton_logistic")
                                for name in CALIBRATION_METRICS}
    entry.update(status="ok", n_bins=prep.n_bins, n_quantile_bins=prep.n_quantile_bins,
                 binning={"ece": "uniform", "ece_quantile": "quantile", "decomposition": "uniform"},
                 decomposition_residual=point["decomposition_residual"], curve=point["curve"])
    return entry


def _deltas(specs, points, reps, confidence, margin, margins=None) -> dict[str, dict]:
    out = {}
    for name, spec in specs.items():
        c, b = points["candidate"][name], points["baseline"][name]
        m, source = _paired.resolve_margin(name, margins, default=margin, baseline_value=b.value)
        out[name] = _paired.paired_delta(
            reps["candidate"].get(name, np.array([])), reps["baseline"].get(name, np.array([])),
            candidate_value=c.value, baseline_value=b.value, greater_is_better=spec.greater_is_better,
            margin=m, confidence=confidence, margin_source=source)
        out[name]["greater_is_better"] = spec.greater_is_better
    return out


def _tests(task, y, prepared, scores) -> dict[str, Any]:
    if task != "binary":
        return {"status": "not_applicable", "reason": f"DeLong and McNemar are binary tests, not {task}"}
    cand = prepared["candidate"]
    correct_c = (cand.score >= cand.threshold) == cand.y
    base = prepared.get("baseline")
    out: dict[str, Any] = {}
    if base is not None:
        out["delong"] = _paired.delong_test(cand.y, cand.score, base.score)
        correct_b = (base.score >= base.threshold) == base.y
        out["mcnemar"] = _paired.mcnemar_test(correct_c, correct_b)
        se = out["delong"].get("se")
    else:
        correct_b = None
        se = _paired.delong_test(cand.y, cand.score).get("se")
    out["min_detectable_difference"] = _paired.min_detectable_difference(
        n=cand.n, se_auc=se, correct_a=correct_c, correct_b=correct_b)
    return out


__all__ = ["MULTICLASS_METRICS", "binary_curves", "calibration_entry", "metric_entry", "quantitative_evidence"]
