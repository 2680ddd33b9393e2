"""Fallback to the baseline and the kill switch, simulated in the shadow/canary replay.

In production a candidate call that fails or exceeds its latency budget falls back to the baseline
model. :class:`FallbackSettings` injects failures (``failure_rate``) and timeouts
(``timeout_rate``: the call runs past ``latency_budget_ms`` and the caller stops waiting there) into the rows routed
to the candidate (the canary's routed share, the whole window in a plain replay: the same seeded
rows the canary routes); rows the candidate really failed on and single-row calls measured above
the budget fall back too (the share of the candidate's calls above the budget, over the single-row
calls of every window so far, as the canary's latency guardrail reads them). Per window it
reports how often the fallback fired (by cause), the latency it added (waiting for the
failing/timed-out candidate, then calling the baseline), rows no model could serve, and whether
the decisions actually served stay within the guardrails (fallback rate, added latency p95,
performance of the served scores vs the baseline alone on the labelled rows).

The **kill switch** (``kill_switch_at_stage``, a canary stage percentage) returns all traffic to the
baseline from the first window of that stage: the candidate serves nothing, the fallback no longer
fires and the decisions served are the baseline's; ``kill_switch`` in the result shows the effect.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from workbench.artefacts import FallbackPlan as FallbackSettings
from workbench.metrics import get_metric

__all__ = ["FallbackSettings", "fallback_summary", "fallback_window"]


def _latency_p(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def fallback_window(index: int, scores: dict[str, np.ndarray], y: np.ndarray, latency_ms: dict[str, list[float]],
                    *, settings: FallbackSettings, share: float, killed: bool, threshold: float,
                    stage_percent: float | None) -> dict[str, Any]:
    """What the fallback did in one window (JSON-able)."""
    s = settings
    sc, sb = scores["candidate"], scores.get("baseline")
    n = sc.size
    routed = np.random.default_rng([s.seed, index]).random(n) < (0.0 if killed else share)
    rng = np.random.default_rng([s.seed, index, 1])
    u_fail, u_timeout, u_slow = rng.random(n), rng.random(n), rng.random(n)
    lat_c = np.asarray(latency_ms.get("candidate") or [], dtype=float)
    lat_b = np.asarray(latency_ms.get("baseline") or [], dtype=float)
    slow_share = float(np.mean(lat_c > s.latency_budget_ms)) if lat_c.size else 0.0
    natural = routed & ~np.isfinite(sc)
    injected = routed & ~natural & (u_fail < s.failure_rate)
    timeout = routed & ~natural & ~injected & ((u_timeout < s.timeout_rate) | (u_slow < slow_share))
    fell_back = natural | injected | timeout
    base_ms = float(np.median(lat_b)) if lat_b.size else 0.0
    fail_ms = float(np.median(lat_c)) if lat_c.size else 0.0
    added = np.zeros(n)
    added[natural | injected] = fail_ms + base_ms
    added[timeout] = s.latency_budget_ms + base_ms
    baseline = sb if sb is not None else np.full(n, np.nan)
    served = np.where(routed & ~fell_back, sc, baseline)
    unserved = ~np.isfinite(served)
    n_routed = int(routed.sum())
    out: dict[str, Any] = {
        "window": index, "stage_percent": stage_percent, "killed": killed, "rows": n, "routed_rows": n_routed,
        "fallback_rows": int(fell_back.sum()),
        "fallback_rate": float(fell_back.sum() / n_routed) if n_routed else None,
        "by_cause": {"candidate_error": int(natural.sum()), "injected_failure": int(injected.sum()),
                     "timeout": int(timeout.sum())},
        "added_latency_ms": {"mean": float(added[routed].mean()) if n_routed else None,
                             "p95": _latency_p(added[routed], 95)},
        "unserved_rows": int(unserved.sum()),
        "served_by_candidate": int((routed & ~fell_back).sum()),
        "served_selection_rate": float(np.mean(served[~unserved] >= threshold)) if (~unserved).any() else None,
        "baseline_selection_rate": (float(np.mean(baseline[np.isfinite(baseline)] >= threshold))
                                    if np.isfinite(baseline).any() else None),
    }
    labelled = np.isfinite(y) & ~unserved & np.isfinite(baseline)
    if labelled.sum() >= s.min_labelled and len(np.unique(y[labelled])) == 2:
        auc = get_metric("roc_auc", task="binary").function
        yl = y[labelled].astype(int)
        out["served_roc_auc"] = auc(yl, served[labelled], threshold=threshold).value
        out["baseline_roc_auc"] = auc(yl, baseline[labelled], threshold=threshold).value
    checks: dict[str, dict[str, Any]] = {}

    def add(name: str, value: float | None, limit: float | None) -> None:
        if value is not None and limit is not None:
            checks[name] = {"value": value, "limit": limit, "breached": bool(value > limit)}

    add("fallback_rate", out["fallback_rate"], s.max_fallback_rate)
    add("added_latency_p95_ms", out["added_latency_ms"]["p95"], s.max_added_latency_ms)
    if "served_roc_auc" in out:
        add("served_roc_auc_drop_vs_baseline", out["baseline_roc_auc"] - out["served_roc_auc"], s.max_performance_drop)
    add("unserved_rate", out["unserved_rows"] / n if n else None, 0.0)
    out["checks"] = checks
    out["within_guardrails"] = not any(c["breached"] for c in checks.values())
    return out


def fallback_summary(windows: list[dict[str, Any]], settings: FallbackSettings,
                     kill_window: int | None) -> dict[str, Any]:
    """Totals over the windows, the guardrail verdict and the kill switch's effect."""
    routed = sum(w["routed_rows"] for w in windows)
    fell = sum(w["fallback_rows"] for w in windows)
    p95s = [w["added_latency_ms"]["p95"] for w in windows if w["added_latency_ms"]["p95"] is not None]
    breached = [w["window"] for w in windows if not w["within_guardrails"]]
    out: dict[str, Any] = {
        "settings": settings.model_dump(mode="json"),
        "routed_rows": routed, "fallback_rows": fell, "fallback_rate": fell / routed if routed else None,
        "by_cause": {k: sum(w["by_cause"][k] for w in windows) for k in ("candidate_error", "injected_failure",
                                                                        "timeout")},
        "added_latency_ms": {"mean": (sum((w["added_latency_ms"]["mean"] or 0.0) * w["routed_rows"] for w in windows)
                                      / routed if routed else None),
                             "max_window_p95": max(p95s) if p95s else None},
        "unserved_rows": sum(w["unserved_rows"] for w in windows),
        "windows_breached": breached, "within_guardrails": not breached,
        "status": "within_guardrails" if not breached else "breached",
    }
    if kill_window is not None:
        after = [w for w in windows if w["window"] >= kill_window]
        before = [w for w in windows if w["window"] < kill_window]
        out["kill_switch"] = {
            "at_stage_percent": settings.kill_switch_at_stage, "from_window": kill_window,
            "candidate_rows_before": sum(w["served_by_candidate"] for w in before),
            "candidate_rows_after": sum(w["served_by_candidate"] for w in after),
            "all_traffic_to_baseline": all(w["served_by_candidate"] == 0 for w in after),
            "served_selection_rate_after": _mean([w["served_selection_rate"] for w in after]),
            "baseline_selection_rate_after": _mean([w["baseline_selection_rate"] for w in after]),
        }
    return out


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else None
