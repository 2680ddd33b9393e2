"""Shadow replay and canary simulation over the manifest's timestamped traffic.

``run_replay`` streams the replay data window by window (``replay.timestamp_column``,
``replay.window`` from the manifest) through both models as if in production. Only the
current window and small per-window summaries are held in memory. Per window it reports:
decision agreement, the distribution of score differences (candidate - baseline), decision
flips by segment (categorical features) and sensitive group, latency percentiles from a
sample of single-row calls (``latency_sample`` per window and model), errors per model (a
model raising on rows is counted, never a crash), data-quality findings, input drift and
prediction drift against the reference profile, and performance per model where labels exist
(delayed labels are NaN).

With ``guardrails`` it also simulates a **canary**: the windows are split into consecutive
stages (e.g. 5 %, 25 %, 50 %, 100 % of the traffic routed to the candidate, a seeded share
of each window's rows); in every window the guardrails (candidate error rate, latency p95,
input PSI, performance drop vs the baseline on the same routed rows once labels exist,
optionally agreement) are checked, and the first breach halts the rollout at that stage with
a rollback recommendation and the evidence that triggered it. Guardrails with a standard error
(error rate and agreement: proportions on the routed rows; the ROC AUC drop: DeLong's paired
standard error) are checked by the sequential rule of ``workbench.replay._sequential``, spending
``false_alarm_rate`` over the whole rollout, so looking at every window does not inflate the
chance of a false halt; PSI and latency are checked on their point value. The latency
guardrail (and the fallback simulation's timeouts) read the candidate's single-row calls of every
window so far, pooled: a single-row call's cost is the model's on this machine, so a window of
``latency_sample`` calls says little alone (the p95 of 20 calls was their largest but one), while
the pool grows by that many calls each window (60 after 12 windows of 5). Each window still
reports its own calls' percentiles (``models.<role>.latency_ms``).

The policy has no guardrail section yet, so :class:`CanaryGuardrails` carries defaults that
the manifest's ``readiness.monitoring.thresholds`` (``psi``, ``latency_ms.p95``) override.
Binary tasks only (decisions are ``score >= threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench.replay import _sequential as SQ
from workbench.replay import _window as W
from workbench.replay._fallback import FallbackSettings, fallback_summary, fallback_window
from workbench.replay._stream import iter_windows, scan_time_range, window_bounds
from workbench.errors import ManifestError
from workbench.metrics import delong_test, get_metric
from workbench.metrics.drift import drift_evidence

if TYPE_CHECKING:
    from workbench.artefacts import Manifest, ReviewData

__all__ = ["flips_by_group", "CanaryGuardrails", "LATENCY_SAMPLE", "run_replay", "stage_index"]

_PERF_METRICS = ("roc_auc", "accuracy", "brier_score")
#: Single-row calls timed per window and model (5 since issue 18: the guardrail reads the pool of
#: every window's calls; 20 a window made the demo's 12 windows cost 480 calls, ~1.8 s).
LATENCY_SAMPLE = 5


class CanaryGuardrails(BaseModel):
    """Limits that halt a canary rollout; serialisable, embedded in every canary result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[float, ...] = Field(default=(5, 25, 50, 100), min_length=1)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_latency_p95_ms: float | None = Field(default=None, gt=0)
    max_psi: float | None = Field(default=0.25, gt=0)
    max_performance_drop: float | None = Field(default=0.02, ge=0)
    performance_metric: str = "roc_auc"
    min_labelled: int = Field(default=200, ge=1)
    min_agreement: float | None = Field(default=None, ge=0, le=1)
    false_alarm_rate: float = Field(default=SQ.DEFAULT_FALSE_ALARM_RATE, gt=0, lt=1)

    @classmethod
    def from_manifest(cls, manifest: Manifest, **overrides: Any) -> CanaryGuardrails:
        """Defaults, then the manifest's canary stages and monitoring thresholds, then overrides."""
        values: dict[str, Any] = {"stages": tuple(manifest.replay.canary_stages)}
        readiness = getattr(manifest, "readiness", None)
        thresholds = readiness.monitoring.thresholds if readiness is not None else {}
        if "psi" in thresholds:
            values["max_psi"] = thresholds["psi"]
        if "latency_ms.p95" in thresholds:
            values["max_latency_p95_ms"] = thresholds["latency_ms.p95"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _small_drift(entries: dict[str, Any]) -> dict[str, Any]:
    keep = ("psi", "severity", "ks_statistic", "wasserstein_normalised", "js_distance",
            "missing_rate_current", "unseen_rate")
    small = {f: {k: e.get(k) for k in keep if k in e} for f, e in entries.items()}
    psis = {f: e["psi"] for f, e in entries.items() if e.get("psi") is not None}
    worst = max(psis, key=psis.__getitem__) if psis else None
    return {"features": small, "max_psi": psis.get(worst) if worst else None, "max_psi_feature": worst,
            "drifted_features": [f for f, e in entries.items() if e.get("severity") in ("moderate", "major")]}


def stage_index(window: int, windows_per_stage: int, n_stages: int) -> int:
    """The canary stage a window belongs to in the plan (the last stage holds to the end).

    Examples
    --------
    >>> [stage_index(i, 2, 3) for i in range(8)]
    [0, 0, 1, 1, 2, 2, 2, 2]
    """
    return min(window // windows_per_stage, n_stages - 1)


class _Canary:
    """Stage schedule and guardrail checks, one window at a time."""

    def __init__(self, guardrails: CanaryGuardrails, n_windows: int, seed: int) -> None:
        self.g = guardrails
        self.per_stage = max(1, math.ceil(n_windows / len(guardrails.stages)))
        self.seed = seed
        self.timeline: list[dict[str, Any]] = []
        self.halted: dict[str, Any] | None = None
        self.looks: dict[str, int] = {}  # windows so far in which each guardrail had a value

    def check(self, window: dict[str, Any], index: int, scores: dict[str, np.ndarray], y: np.ndarray,
              threshold: float, candidate_latency_ms: list[float]) -> None:
        if self.halted is not None:
            return
        g = self.g
        stage = stage_index(index, self.per_stage, len(g.stages))
        share = g.stages[stage] / 100.0
        sc = scores["candidate"]
        routed = np.random.default_rng([self.seed, index]).random(sc.size) < share
        n = int(routed.sum())
        checks: dict[str, dict[str, Any]] = {}

        def add(name: str, value: float | None, limit: float | None, worse_if_above: bool = True,
                se: float | None = None) -> None:
            if limit is None or value is None:
                return
            k = self.looks[name] = self.looks.get(name, 0) + 1
            if se is not None and se > 0:
                breached, bound = SQ.sequential_breach(value, se, limit, ceiling=worse_if_above, look=k,
                                                       alpha=g.false_alarm_rate)
                checks[name] = {"value": value, "limit": limit, "breached": bool(breached), "decision": "sequential",
                                "look": k, "alpha_spent": SQ.alpha_spent(k, g.false_alarm_rate), "se": se,
                                "bound": bound}
            else:
                breached = value > limit if worse_if_above else value < limit
                checks[name] = {"value": value, "limit": limit, "breached": bool(breached), "decision": "point"}

        add("error_rate", float(np.isnan(sc[routed]).mean()) if n else None, g.max_error_rate,
            se=SQ.proportion_standard_error(g.max_error_rate, n))
        pooled = np.asarray(candidate_latency_ms, dtype=float)
        add("latency_p95_ms", float(np.percentile(pooled, 95)) if pooled.size else None, g.max_latency_p95_ms)
        if "latency_p95_ms" in checks:  # the calls of every window so far (module docstring)
            checks["latency_p95_ms"]["calls"] = int(pooled.size)
        add("psi", window["drift"]["max_psi"], g.max_psi)
        sb = scores.get("baseline")
        if sb is not None:
            both = routed & np.isfinite(sc) & np.isfinite(sb)
            if g.min_agreement is not None and both.any():
                agree = float(np.mean((sc[both] >= threshold) == (sb[both] >= threshold)))
                add("agreement", agree, g.min_agreement, worse_if_above=False,
                    se=SQ.proportion_standard_error(g.min_agreement, int(both.sum())))
            labelled = both & np.isfinite(y)
            if g.max_performance_drop is not None and labelled.sum() >= g.min_labelled:
                spec = get_metric(g.performance_metric, task="binary")
                yl = y[labelled].astype(int)
                vc = spec.function(yl, sc[labelled], threshold=threshold)
                vb = spec.function(yl, sb[labelled], threshold=threshold)
                if vc.defined and vb.defined:
                    assert vc.value is not None and vb.value is not None  # defined
                    drop = vb.value - vc.value if spec.greater_is_better else vc.value - vb.value
                    se = None
                    if g.performance_metric == "roc_auc":  # DeLong's paired standard error of the difference
                        test = delong_test(yl, sc[labelled], sb[labelled])
                        raw = test.get("se")
                        se = float(raw) if test.get("defined") and isinstance(raw, (int, float)) else None
                    add(f"{g.performance_metric}_drop_vs_baseline", drop, g.max_performance_drop, se=se)
        entry = {"window": index, "start": window["start"], "end": window["end"],
                 "stage_percent": g.stages[stage], "routed_rows": n, "checks": checks}
        self.timeline.append(entry)
        breaches = [{"guardrail": k, **v} for k, v in checks.items() if v["breached"]]
        if breaches:
            self.halted = {**entry, "breaches": breaches}

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guardrails": self.g.model_dump(mode="json"),
                               "windows_per_stage": self.per_stage, "timeline": self.timeline}
        if self.halted is None:
            return {**out, "status": "completed", "halted_at": None,
                    "recommendation": "promote: no guardrail breached at any stage"}
        h = self.halted
        names = ", ".join(b["guardrail"] for b in h["breaches"])
        return {**out, "status": "halted", "halted_at": h,
                "recommendation": f"roll back to the baseline: {names} breached at the "
                f"{h['stage_percent']:g}% stage in window {h['window']} ({h['start']} to {h['end']})"}


def run_replay(
    review: ReviewData,
    *,
    source: Path | pd.DataFrame | None = None,
    window: str | None = None,
    guardrails: CanaryGuardrails | None = None,
    latency_sample: int = LATENCY_SAMPLE,
    min_labelled: int = 200,
    seed: int = 0,
    batch_rows: int = 65_536,
    threads: int | None = 1,
    fallback: FallbackSettings | None = None,
    progress: Callable[[str], None] | None = None,
    reference_scores: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Shadow replay (and canary when ``guardrails`` is given) of a binary review.

    Parameters
    ----------
    review : workbench.artefacts.ReviewData
        Loaded review (models, reference, features); its ``replay`` frame is not needed.
    source : path or DataFrame, optional
        Replay traffic; default the manifest's ``data.replay`` file, streamed by batches.
    latency_sample : int
        Single-row calls timed per window and model; the latency guardrail and the fallback's
        timeouts read the calls of every window so far (module docstring).
    threads : int or None
        Native thread pools (OpenMP, BLAS) are limited to this many threads while scoring
        (threadpoolctl), so latencies are stable on a shared machine; None leaves them alone.
    fallback : FallbackSettings, optional
        Inject candidate failures/timeouts and a kill switch; default the manifest's
        ``replay.fallback`` (none: no ``fallback`` section).
    reference_scores : mapping of role to array, optional
        The models' scores on ``review.reference`` when the caller has them (the evidence does):
        the reference's score profile is built from them instead of scoring the reference again.

    Returns
    -------
    dict
        ``{"settings", "windows": [...], "summary", "canary", "fallback"}`` (JSON-able).
    """
    m = review.manifest
    if m.task != "binary":
        raise ManifestError(f"{m.display_file}: task: replay and canary support binary reviews, not {m.task!r}")
    if source is None:
        if m.data.replay is None:
            raise ManifestError(f"{m.display_file}: data.replay: no replay file; add timestamped traffic to replay")
        source = m.resolve(m.data.replay)
    ts_col, window = m.replay.timestamp_column, window or m.replay.window
    label = f"{m.display_file}: data.replay"
    first, last, total = scan_time_range(source, ts_col, label=label)
    n_windows = len(window_bounds(first, last, window, label=label))
    profile, score_profile, roles = W.reference_profiles(review, reference_scores=reference_scores)
    features = list(review.features)
    segments = [f for f in features if profile.features[f].kind == "categorical"] + list(review.sensitive_features)
    canary = _Canary(guardrails, n_windows, seed) if guardrails is not None and "candidate" in roles else None
    fallback = fallback if fallback is not None else m.replay.fallback
    stages = tuple(guardrails.stages) if guardrails is not None else tuple(m.replay.canary_stages)
    per_stage = max(1, math.ceil(n_windows / len(stages)))
    kill_window = None
    if fallback is not None and fallback.kill_switch_at_stage is not None:
        if fallback.kill_switch_at_stage not in stages:
            raise ManifestError(f"{m.display_file}: replay.fallback.kill_switch_at_stage: "
                                f"{fallback.kill_switch_at_stage:g} is not a canary stage ({', '.join(f'{x:g}' for x in stages)})")
        kill_window = stages.index(fallback.kill_switch_at_stage) * per_stage
    fallback_windows: list[dict[str, Any]] = []
    pooled: dict[str, list[float]] = {r: [] for r in roles}  # single-row calls of every window so far
    rng = np.random.default_rng(seed)
    bands = tuple(m.settings.drift_bands)
    windows: list[dict[str, Any]] = []
    with W.thread_limit(threads):
        for w in iter_windows(source, timestamp_column=ts_col, window=window, batch_rows=batch_rows,
                              label=label):
            entry, scores, y, latencies = _window(review, w, roles, profile, score_profile, features, segments,
                                                  bands=bands, latency_sample=latency_sample, rng=rng,
                                                  min_labelled=min_labelled)
            for role, calls in latencies.items():
                pooled[role].extend(calls)
            killed = kill_window is not None and w.index >= kill_window
            if canary is not None and len(w.frame) and not killed:
                canary.check(entry, w.index, scores, y, m.threshold, pooled["candidate"])
            if fallback is not None and len(w.frame) and "candidate" in scores:
                stage = stage_index(w.index, per_stage, len(stages))
                share = stages[stage] / 100.0 if guardrails is not None else 1.0
                fallback_windows.append(fallback_window(
                    w.index, scores, y, pooled, settings=fallback, share=share, killed=killed,
                    threshold=m.threshold, stage_percent=stages[stage] if guardrails is not None else None))
            windows.append(entry)
            if progress:
                progress(f"replay: window {w.index + 1}/{n_windows} ({len(w.frame)} rows)")
    return {
        "settings": {"timestamp_column": ts_col, "window": window, "threshold": m.threshold, "seed": seed,
                     "latency_sample": latency_sample, "rows": total, "drift_bands": list(bands),
                     "threads": threads},
        "windows": windows,
        "summary": _summary(windows, roles),
        "canary": _with_kill(canary.result(), kill_window) if canary is not None else None,
        "fallback": ({**fallback_summary(fallback_windows, fallback, kill_window), "windows": fallback_windows}
                     if fallback is not None else None),
    }


def _with_kill(canary: dict[str, Any], kill_window: int | None) -> dict[str, Any]:
    if kill_window is None or canary["status"] == "halted":
        return canary
    return {**canary, "status": "killed", "killed_at_window": kill_window,
            "recommendation": f"kill switch: all traffic returned to the baseline from window {kill_window}"}


def _window(review, w, roles, profile, score_profile, features, segments, *, bands, latency_sample, rng,
            min_labelled):
    frame, n, m = w.frame, len(w.frame), review.manifest
    entry: dict[str, Any] = {"index": w.index, "start": w.start.isoformat(), "end": w.end.isoformat(), "rows": n}
    scored = {r: W.score_window(review.models[r], frame, latency_sample=latency_sample, rng=rng) for r in roles}
    scores = {r: s.scores for r, s in scored.items()}
    y = (review.encode_labels(frame[m.target]).astype(float) if n and m.target in frame.columns
         else np.full(n, np.nan))
    entry["models"] = {r: W.model_summary(s, n) for r, s in scored.items()}
    if n and "baseline" in scores:
        sc, sb = scores["candidate"], scores["baseline"]
        ok = np.isfinite(sc) & np.isfinite(sb)
        dc, db = sc >= m.threshold, sb >= m.threshold
        entry["agreement_rate"] = float(np.mean(dc[ok] == db[ok])) if ok.any() else None
        entry["compared_rows"] = int(ok.sum())
        entry["score_difference"] = W.score_quantiles(np.where(ok, sc - sb, np.nan))
        entry["flips"] = {"total": int(np.sum(ok & (dc != db))), "to_positive": int(np.sum(ok & dc & ~db)),
                          "to_negative": int(np.sum(ok & ~dc & db)),
                          "by_group": W.flips_by_group(frame, segments, dc, db, ok)}
    drift = W.window_drift(frame, profile, features, bands=bands) if n else {}
    entry["drift"] = _small_drift(drift)
    entry["data_quality"] = W.data_quality(frame, profile, features, drift) if n else {"n_findings": 0, "findings": []}
    if n:
        pred = pd.DataFrame({r: scores[r] for r in roles})
        pd_entries = drift_evidence(score_profile, pred, features=roles, bands=bands)["features"]
        entry["prediction_drift"] = {r: {k: pd_entries[r].get(k) for k in ("psi", "severity", "ks_statistic")}
                                     for r in roles}
    entry["performance"] = W.performance(y, scores, threshold=m.threshold, metrics=_PERF_METRICS,
                                         min_labelled=min_labelled) if n else {"n_labelled": 0}
    return entry, scores, y, {r: s.latency_ms for r, s in scored.items()}


def _summary(windows: list[dict[str, Any]], roles: list[str]) -> dict[str, Any]:
    rows = sum(w["rows"] for w in windows)
    compared = sum(w.get("compared_rows", 0) for w in windows)
    agree = sum((w.get("agreement_rate") or 0) * w.get("compared_rows", 0) for w in windows)
    max_psi: dict[str, float] = {}
    major: dict[str, list[int]] = {}
    for w in windows:
        for f, e in w["drift"]["features"].items():
            if e.get("psi") is not None:
                max_psi[f] = max(max_psi.get(f, 0.0), e["psi"])
            if e.get("severity") == "major":
                major.setdefault(f, []).append(w["index"])
    return {
        "windows": len(windows), "rows": rows,
        "agreement_rate": agree / compared if compared else None,
        "errors": {r: sum(w["models"][r]["errors"] for w in windows) for r in roles},
        "max_psi": max_psi, "max_window_psi": max(max_psi.values()) if max_psi else None,
        "major_drift_windows": major,
        "data_quality_findings": sum(w["data_quality"]["n_findings"] for w in windows),
    }


def flips_by_group(windows: Sequence[Mapping[str, Any]], column: str) -> list[dict[str, Any]]:
    """Decision flips (candidate vs baseline) per group of ``column``, summed over the windows.

    Worst flip rate first; the app's replay page shows exactly these records.

    Examples
    --------
    >>> w = {"flips": {"by_group": {"sex": {"F": {"n": 10, "to_positive": 1, "to_negative": 2}}}}}
    >>> flips_by_group([w, w], "sex")
    [{'group': 'F', 'rows compared': 20, 'flipped to approve': 2, 'flipped to decline': 4, 'flip rate': 0.3}]
    """
    totals: dict[str, list[int]] = {}
    for w in windows:
        for group, e in ((w.get("flips") or {}).get("by_group", {}).get(column) or {}).items():
            t = totals.setdefault(group, [0, 0, 0])
            t[0] += e["n"]
            t[1] += e["to_positive"]
            t[2] += e["to_negative"]
    rows = [{"group": g, "rows compared": n, "flipped to approve": up, "flipped to decline": down,
             "flip rate": (up + down) / n if n else None} for g, (n, up, down) in totals.items()]
    return sorted(rows, key=lambda r: -1.0 if r["flip rate"] is None else r["flip rate"], reverse=True)
