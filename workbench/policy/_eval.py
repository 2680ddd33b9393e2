"""Evaluation of the evidence-based criterion kinds against an evidence dict.

Each evaluator returns a :class:`CriterionResult` whose status is the *raw* outcome (PASS,
FAIL or MISSING); severity and waivers are applied by :mod:`workbench.policy`. Nothing
raises to mean "failed".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from workbench.metrics import TASKS, metric_direction
from workbench.policy._schema import (
    AbsoluteCriterion,
    Criterion,
    CrossCheckCriterion,
    DriftCriterion,
    FairnessCriterion,
    OperationalCriterion,
    RelativeCriterion,
    ReplayCriterion,
    RobustnessCriterion,
)
from workbench.policy._values import (
    _ABSENT,
    STATUS_RANK,
    CriterionResult,
    ItemResult,
    Power,
    Value,
    check_bounds,
    combine,
    fmt,
    fmt_bound,
    lookup,
    read_value,
)

def greater_is_better(metric: str, *, task: str | None = None) -> bool:
    """Direction of a metric, from the metric registry only (``workbench.metrics.metric_direction``).

    A name the registry does not know, or a value with no direction (``calibration.slope``),
    is a ``KeyError``: the policy checks every name at load, so evaluation never guesses.

    >>> greater_is_better("roc_auc"), greater_is_better("log_loss"), greater_is_better("abs_error_p95")
    (True, False, False)
    """
    name = metric.split(".", 2)[-1] if metric.startswith("models.") else metric
    direction = metric_direction(name, task=task if task in TASKS else None)
    if direction is None:
        raise KeyError(f"{metric!r} has no direction (better means closer to a target); set greater_is_better")
    return direction


def _result(c: Any, items: list[ItemResult], *, details: dict[str, Any] | None = None,
            margin: float | None = None) -> CriterionResult:
    status = combine([i.status for i in items])
    if len(items) == 1:
        reason = items[0].reason
    else:
        bad = [i for i in items if i.status != "PASS" or i.underpowered]
        reason = "; ".join(f"{i.name}: {i.reason}" for i in bad) if bad else f"all {len(items)} checks pass"
    worst = min(items, key=lambda i: STATUS_RANK.get(i.status, 9)) if items else None
    unsure = [i.rows_needed for i in items if i.status == "INCONCLUSIVE"]
    # the criterion settles when its last inconclusive item does; unknown if any one cannot
    rows_needed = max(unsure) if unsure and None not in unsure else None  # type: ignore[type-var]
    blocks = getattr(c, "inconclusive_blocks", None)
    return CriterionResult(
        id=c.id,
        kind=c.kind,
        severity=c.severity,
        description=c.description,
        status=status,
        reason=reason,
        measured=worst.measured if worst else None,
        ci=worst.ci if worst else None,
        bound=worst.bound if worst else None,
        items=tuple(items) if len(items) > 1 else (),
        raw_status=status,
        details=details or {},
        rows_needed=rows_needed,
        inconclusive_blocks=True if blocks is None else bool(blocks),
        margin=margin,
        underpowered=tuple(i.name for i in items if i.underpowered),
    )


def _powered(item: ItemResult, mde: float | None, margin: float, unit: str = "") -> ItemResult:
    """The item with its minimum detectable effect; a PASS whose MDE exceeds the margin is flagged.

    Such a pass is weak evidence: a harm as large as the margin would have gone unseen more than
    one time in five.
    """
    if mde is None:
        return item
    under = item.status == "PASS" and mde > margin
    reason = item.reason + (f"; underpowered: the minimum detectable effect {fmt(mde)}{unit} at 80% power exceeds "
                            f"the margin {fmt(margin)}{unit}" if under else "")
    return dataclasses.replace(item, reason=reason, mde=mde, underpowered=under)


def _mde(node: Any) -> float | None:
    v = node.get("mde") if isinstance(node, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _missing(c: Any, reason: str) -> CriterionResult:
    return _result(c, [ItemResult(c.id, "MISSING", reason)])


def eval_absolute(c: AbsoluteCriterion, evidence: dict[str, Any]) -> CriterionResult:
    label = c.metric.rsplit(".", 1)[-1] if c.metric.startswith("models.") else c.metric
    v = read_value(lookup(evidence, c.metric))
    item = check_bounds(label, v, lo=c.min, hi=c.max, ci=c.ci, missing=f"not in the evidence ({c.metric})",
                        power=Power.of(evidence))
    return _result(c, [item], details={"path": c.metric})


def _metric_path(role: str, metric: str) -> str:
    return f"models.{role}.{metric}" if "." in metric else f"models.{role}.metrics.{metric}"


def eval_relative(c: RelativeCriterion, evidence: dict[str, Any]) -> CriterionResult:
    task = lookup(evidence, "review.task")
    gib = c.greater_is_better if c.greater_is_better is not None else greater_is_better(
        c.metric, task=task if isinstance(task, str) else None)
    cand = read_value(lookup(evidence, _metric_path("candidate", c.metric)))
    base = read_value(lookup(evidence, _metric_path("baseline", c.metric)))
    if lookup(evidence, "models.baseline") in (_ABSENT, None, {}):
        return _missing(c, f"{c.metric}: no baseline model in the evidence to compare with")
    for role, v in (("candidate", cand), ("baseline", base)):
        if v is None or not v.defined:
            why = "not in the evidence" if v is None else f"undefined: {v.reason}"
            return _missing(c, f"{c.metric} of the {role} {why}")
    assert cand is not None and base is not None and cand.value is not None and base.value is not None
    delta = read_value(lookup(evidence, ["deltas", c.metric]))
    d = delta.value if delta is not None and delta.defined else cand.value - base.value
    lo = delta.low if delta is not None and delta.defined else None
    hi = delta.high if delta is not None and delta.defined else None
    assert d is not None  # a defined delta has a value
    sign = 1.0 if gib else -1.0  # improvement = sign * (candidate - baseline)
    imp = Value(sign * d, *(sorted((sign * lo, sign * hi)) if lo is not None and hi is not None else (None, None)))
    unit = ""
    if c.mode == "relative":
        if base.value == 0:
            return _missing(c, f"{c.metric}: baseline is 0, a relative change is undefined (use mode: absolute)")
        scale = abs(base.value)
        imp = Value(imp.value / scale, *(x / scale if x is not None else None for x in (imp.low, imp.high)))  # type: ignore[operator, arg-type]  # defined above; yields (low, high)
        unit = " (relative)"
    label = f"{c.metric} improvement over baseline{unit} ({fmt(base.value)} -> {fmt(cand.value)})"
    power = Power.of(evidence)
    mde = _mde(lookup(evidence, ["deltas", c.metric]))
    if mde is not None and c.mode == "relative":
        mde /= abs(base.value)
    items = []
    margin = c.max_drop if c.max_drop is not None else 0.0  # a min_gain-only criterion allows no loss
    if c.max_drop is not None:
        item = check_bounds(label, imp, lo=-c.max_drop, hi=None, ci=c.ci, name="max_drop", power=power)
        of = " of the baseline" if c.mode == "relative" else ""
        item = dataclasses.replace(item, reason=f"{item.reason} (non-inferiority margin {fmt_bound(c.max_drop)}{of})")
        items.append(_powered(item, mde, c.max_drop, unit))
    if c.min_gain is not None:
        items.append(check_bounds(label, imp, lo=c.min_gain, hi=None, ci=c.ci, name="min_gain", power=power))
    return _result(c, items, margin=margin,
                   details={"greater_is_better": gib, "baseline": base.value, "candidate": cand.value,
                            "margin": margin, "margin_mode": c.mode, "mde": mde})


def _fairer_is_higher(metric: str) -> bool:
    return "ratio" in metric


def _features(declared: Any, available: dict[str, Any], *, intersections: bool = True) -> list[str]:
    if declared == "all":
        return sorted(f for f in available if intersections or "×" not in f)
    return list(declared)


def eval_fairness(c: FairnessCriterion, evidence: dict[str, Any]) -> CriterionResult:
    cand_all = lookup(evidence, "models.candidate.fairness")
    if not isinstance(cand_all, dict) or not cand_all:
        return _missing(c, "no fairness evidence (does the manifest list sensitive_features?)")
    base_all = lookup(evidence, "models.baseline.fairness")
    items: list[ItemResult] = []
    for feat in _features(c.features, cand_all, intersections=c.include_intersections):
        label = f"{c.metric}[{feat}]"
        v = read_value(lookup(cand_all, [feat, c.metric]))
        if c.min is not None or c.max is not None:
            items.append(check_bounds(label, v, lo=c.min, hi=c.max, ci=c.ci, name=feat, power=Power.of(evidence)))
        if c.max_widening is not None:
            items.append(_widening(c, feat, v, base_all, evidence))
    if not items:
        return _missing(c, "no sensitive feature in the fairness evidence")
    return _result(c, items, details={"metric": c.metric}, margin=c.max_widening)


def _widening(c: FairnessCriterion, feat: str, cand: Value | None, base_all: Any, evidence: dict[str, Any]) -> ItemResult:
    name = f"{feat} vs baseline"
    assert c.max_widening is not None  # only called when the criterion bounds the widening
    base = read_value(lookup(base_all, [feat, c.metric])) if isinstance(base_all, dict) else None
    if cand is None or base is None or not cand.defined or not base.defined:
        return ItemResult(name, "MISSING", f"{c.metric}[{feat}]: candidate or baseline value missing or undefined")
    assert cand.value is not None and base.value is not None
    sign = -1.0 if _fairer_is_higher(c.metric) else 1.0  # widening = sign * (candidate - baseline)
    delta = read_value(lookup(evidence, ["fairness_deltas", feat, c.metric]))
    if delta is not None and delta.defined and delta.low is not None and delta.high is not None:
        assert delta.value is not None
        lo, hi = sorted((sign * delta.low, sign * delta.high))
        w = Value(sign * delta.value, lo, hi)
    else:
        w = Value(sign * (cand.value - base.value))
    label = f"{c.metric}[{feat}] widening vs baseline ({fmt(base.value)} -> {fmt(cand.value)})"
    item = check_bounds(label, w, lo=None, hi=c.max_widening, ci=c.ci, name=name, power=Power.of(evidence))
    item = dataclasses.replace(item, reason=f"{item.reason} (margin {fmt_bound(c.max_widening)})")
    return _powered(item, _mde(lookup(evidence, ["fairness_deltas", feat, c.metric])), c.max_widening)


def eval_drift(c: DriftCriterion, evidence: dict[str, Any]) -> CriterionResult:
    feats_all = lookup(evidence, "drift.features")
    if not isinstance(feats_all, dict) or not feats_all:
        return _missing(c, "no drift evidence (the manifest names no reference data set?)")
    items: list[ItemResult] = []
    values: dict[str, float] = {}
    for feat in _features(c.features, feats_all):
        v = read_value(lookup(feats_all, [feat, c.statistic]))
        if v is not None and v.defined:
            assert v.value is not None
            values[feat] = v.value
        if c.max_psi is not None:
            items.append(check_bounds(f"{c.statistic}[{feat}]", v, lo=None, hi=c.max_psi, name=feat))
    if c.max_share_drifted is not None:
        if not values:
            items.append(ItemResult("share_drifted", "MISSING", f"no feature has a {c.statistic} value"))
        else:
            drifted = sorted(f for f, x in values.items() if x > c.drifted_psi)
            share = len(drifted) / len(values)
            label = (
                f"share of features with {c.statistic} > {c.drifted_psi:g} "
                f"({len(drifted)}/{len(values)}{': ' + ', '.join(drifted) if drifted else ''})"
            )
            items.append(check_bounds(label, Value(share), lo=None, hi=c.max_share_drifted, name="share_drifted"))
    return _result(c, items, details={"statistic": c.statistic, "values": values})


def eval_operational(c: OperationalCriterion, evidence: dict[str, Any]) -> CriterionResult:
    node = lookup(evidence, "models.candidate.operational")
    if not isinstance(node, dict):
        return _missing(c, "no operational evidence for the candidate")
    status = node.get("status")
    if status in ("not_applicable", "skipped", "error"):
        return _missing(c, f"operational measurements {status}: {node.get('reason', 'see the evidence')}")
    v = read_value(lookup(node, c.metric))
    items: list[ItemResult] = []
    if c.min is not None or c.max is not None:
        items.append(check_bounds(c.metric, v, lo=c.min, hi=c.max, name=c.metric))
    if c.max_increase is not None:
        b = read_value(lookup(evidence, f"models.baseline.operational.{c.metric}"))
        if v is None or b is None or not v.defined or not b.defined or not b.value:
            items.append(ItemResult("vs baseline", "MISSING", f"{c.metric}: no usable baseline value to compare with"))
        else:
            assert v.value is not None
            # The bound is on the relative worsening: a throughput drop, a latency/memory rise.
            from workbench.metrics.operational import HIGHER_IS_BETTER, relative_worsening

            worse = Value(relative_worsening(c.metric, v.value, b.value))
            change = "drop" if c.metric.split(".")[0] in HIGHER_IS_BETTER else "increase"
            label = f"{c.metric} {change} vs baseline ({fmt(b.value)} -> {fmt(v.value)})"
            items.append(check_bounds(label, worse, lo=None, hi=c.max_increase, name="vs baseline"))
    return _result(c, items, details={"metric": c.metric})


def _test_key(t: dict[str, Any]) -> str:
    params = t.get("params") or {}
    inner = ",".join(f"{k}={params[k]}" for k in sorted(params)) if isinstance(params, dict) else str(params)
    return f"{t.get('name', '?')}({inner})" if inner else str(t.get("name", "?"))


def eval_robustness(c: RobustnessCriterion, evidence: dict[str, Any]) -> CriterionResult:
    tests = lookup(evidence, "models.candidate.robustness.tests")
    if not isinstance(tests, list) or not tests:
        return _missing(c, "no robustness tests in the evidence for the candidate")
    base_tests = lookup(evidence, "models.baseline.robustness.tests")
    base = {_test_key(t): t for t in base_tests} if isinstance(base_tests, list) else {}
    wanted = None if c.tests == "all" else set(c.tests)
    items: list[ItemResult] = []
    for t in sorted(tests, key=_test_key):
        key = _test_key(t)
        if wanted is not None and t.get("name") not in wanted and key not in wanted:
            continue
        if t.get("error"):
            items.append(ItemResult(key, "MISSING", f"{key}: the test failed to run: {t['error']}"))
            continue
        v = read_value(t.get("degradation", _ABSENT))
        metric = t.get("metric", "metric")
        if c.max_degradation is not None:
            items.append(check_bounds(f"{metric} degradation under {key}", v, lo=None, hi=c.max_degradation, name=key,
                                      power=Power.of(evidence)))
        if c.max_excess_degradation is not None:
            b = read_value(base[key].get("degradation", _ABSENT)) if key in base else None
            if v is None or b is None or not v.defined or not b.defined:
                items.append(ItemResult(f"{key} vs baseline", "MISSING", f"{key}: no baseline degradation to compare with"))
            else:
                assert v.value is not None and b.value is not None
                ex = Value(v.value - b.value)
                items.append(
                    check_bounds(f"{key} degradation excess over baseline", ex, lo=None, hi=c.max_excess_degradation, name=f"{key} vs baseline")
                )
    if wanted is not None:
        found = {t.get("name") for t in tests} | {_test_key(t) for t in tests}
        items.extend(ItemResult(w, "MISSING", f"robustness test {w!r} not in the evidence") for w in sorted(wanted - found))
    if not items:
        return _missing(c, "no matching robustness test in the evidence")
    return _result(c, items)


def _fallback_items(c: ReplayCriterion, fb: Any) -> list[ItemResult]:
    wanted = c.max_fallback_rate is not None or c.max_added_latency_ms is not None or c.require_fallback_evidence
    if not wanted:
        return []
    if not isinstance(fb, dict):
        return [ItemResult("fallback", "MISSING", "the replay did not simulate the fallback (replay.fallback)")]
    items = []
    if c.max_fallback_rate is not None:
        items.append(check_bounds("fallback rate", read_value(fb.get("fallback_rate", _ABSENT)), lo=None,
                                  hi=c.max_fallback_rate, name="fallback rate"))
    if c.max_added_latency_ms is not None:
        items.append(check_bounds("latency added by the fallback (worst window p95, ms)",
                                  read_value((fb.get("added_latency_ms") or {}).get("max_window_p95", _ABSENT)),
                                  lo=None, hi=c.max_added_latency_ms, name="added latency"))
    if c.require_fallback_evidence:
        ok = fb.get("within_guardrails") is True
        items.append(ItemResult("fallback guardrails", "PASS" if ok else "FAIL",
                                "decisions served stayed within the fallback guardrails" if ok else
                                f"fallback guardrails breached in windows {fb.get('windows_breached')}"))
    return items


def eval_replay(c: ReplayCriterion, evidence: dict[str, Any]) -> CriterionResult:
    node = lookup(evidence, "replay")
    if not isinstance(node, dict) or node.get("status") != "ok":
        why = node.get("reason", node.get("status")) if isinstance(node, dict) else "no replay section in the evidence"
        return _missing(c, f"no shadow/canary replay evidence ({why})")
    s = node.get("summary") or {}
    items: list[ItemResult] = []
    if c.min_agreement is not None:
        items.append(check_bounds("decision agreement with the baseline", read_value(s.get("agreement_rate", _ABSENT)),
                                  lo=c.min_agreement, hi=None, name="agreement"))
    if c.max_window_psi is not None:
        items.append(check_bounds("worst window PSI", read_value(s.get("max_window_psi", _ABSENT)),
                                  lo=None, hi=c.max_window_psi, name="window PSI"))
    if c.max_error_rate is not None:
        rows, errors = s.get("rows") or 0, (s.get("errors") or {}).get("candidate")
        rate = Value(errors / rows) if rows and errors is not None else None
        items.append(check_bounds("candidate error rate", rate, lo=None, hi=c.max_error_rate, name="errors"))
    items.extend(_fallback_items(c, node.get("fallback")))
    canary = node.get("canary")
    if isinstance(canary, dict) and not c.allow_canary_breach:
        if canary.get("status") == "halted":
            items.append(ItemResult("canary", "FAIL", f"canary halted — {canary.get('recommendation')}"))
        else:
            items.append(ItemResult("canary", "PASS", f"canary held at every stage ({canary.get('status')})"))
    if not items:
        return _missing(c, "the replay criterion sets no bound")
    return _result(c, items)


def eval_cross_check(c: CrossCheckCriterion, evidence: dict[str, Any]) -> CriterionResult:
    node = lookup(evidence, "cross_check")
    if not isinstance(node, dict) or node.get("status", "ok") != "ok" or "max_abs_diff" not in node:
        section = lookup(evidence, "sections.cross_check")
        why = section.get("reason", section.get("status")) if isinstance(section, dict) else "not in the evidence"
        return _missing(c, f"no cross-check against scikit-learn/fairlearn in the evidence ({why})")
    rows = f"{node.get('rows'):,} of {node.get('of_rows'):,} rows" if node.get("rows") is not None else "its rows"
    diff = node.get("max_abs_diff")
    items = [check_bounds(f"largest difference from scikit-learn/fairlearn on {rows} (worst: {node.get('worst')})",
                          Value(diff) if diff is not None else None, lo=None, hi=c.tolerance,
                          name="agreement", missing="nothing was comparable")]
    one_sided = node.get("undefined_on_one_side") or []
    if one_sided and not c.allow_undefined_mismatch:
        items.append(ItemResult("undefined values", "FAIL",
                                f"defined on one side only: {', '.join(one_sided[:5])}"
                                + (f" and {len(one_sided) - 5} more" if len(one_sided) > 5 else "")))
    return _result(c, items, details={"rows": node.get("rows"), "sampled": node.get("sampled"),
                                      "max_abs_diff": diff, "worst": node.get("worst")})


_EVALUATORS: dict[str, Callable[[Any, dict[str, Any]], CriterionResult]] = {
    "absolute": eval_absolute,
    "relative": eval_relative,
    "fairness": eval_fairness,
    "drift": eval_drift,
    "operational": eval_operational,
    "robustness": eval_robustness,
    "replay": eval_replay,
    "cross_check": eval_cross_check,
}


def evaluate_criterion(criterion: Criterion, evidence: dict[str, Any]) -> CriterionResult:
    """Raw result of one evidence-based criterion (kinds absolute … robustness).

    Qualitative, governance and sign-off criteria need more than the evidence: use
    :func:`workbench.policy.decide`.
    """
    fn = _EVALUATORS.get(criterion.kind)
    if fn is None:
        raise ValueError(f"criterion {criterion.id}: kind {criterion.kind!r} is not evidence-based; use decision.decide")
    return fn(criterion, evidence)


__all__ = ["evaluate_criterion", "greater_is_better"]
