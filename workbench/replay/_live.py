"""Live monitoring: production prediction logs read incrementally, window by window.

``monitor_source`` reads the rows of a source that were not read before — Parquet files matching
a glob (``logs/*.parquet``, in name order, each append-only: new rows arrive as new files) or a
DuckDB table (``duckdb:logs.duckdb::predictions``, in ``rowid`` order) — cuts them into windows of
``readiness.monitoring.window`` (default ``replay.window``) on the timestamp column, and records
each window with its checkpoint in one store transaction: a crash keeps both or neither, so a
restart never counts a row twice and never skips one. The window still open (its end is after
the store clock and no later row has arrived) is left for the next run.

Per window: input drift (PSI per feature against the reference profile), prediction drift of the
promoted model, errors, performance and calibration on the rows already labelled, and every
fairness disparity of the fairness engine (demographic parity, equalized odds, equal
opportunity — differences and ratios) with its bootstrap CI; without labels only the
selection-rate disparities are defined. Each window's ``id``, score and sensitive values are kept
(Parquet in ``monitor_scores``) so that labels arriving later (``outcomes`` files joined on the
manifest's ``id_column``) update performance and fairness of the windows they belong to.

Breaches of ``readiness.monitoring.thresholds`` raise alerts (stored, audited, delivered through
the plan's channels) by the sequential rule of :mod:`workbench.replay._sequential`: the ``k``-th
window in which a signal has a value spends ``false_alarm_rate / (k (k + 1))``, so repeated looks
keep the false-alarm rate over the whole horizon at the plan's ``false_alarm_rate``; signals
without a standard error (PSI, ECE) are checked on their point value. A threshold whose point
value is breached in ``rereview_after_windows`` windows in a row opens a scheduled re-review and
raises a ``re_review_recommended`` alert (a recommendation to look again, not an alarm).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import DataError, StoreError
from workbench.metrics.drift import drift_evidence
from workbench.replay import _window as W
from workbench.replay._alerts import channels_of, dispatch_alert
from workbench.replay._monitor import _PERF, _SEQUENTIAL_KEYS, evaluate_rules, false_alarm_rate, rule_looks
from workbench.replay._sources import Source as _Source

if TYPE_CHECKING:
    from workbench.artefacts import Manifest, ReviewData
    from workbench.auth import User
    from workbench.store import Store

__all__ = ["LiveContext", "apply_outcomes", "labelled_metrics", "monitor_source", "parse_every", "persistent_breaches",
           "run_every", "window_metrics"]

_EVERY = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_ROWS = 2_000_000


def parse_every(text: str) -> float:
    """Seconds of an interval such as ``30s``, ``15m``, ``1h`` or ``1d``.

    Examples
    --------
    >>> parse_every("1h"), parse_every("90s")
    (3600.0, 90.0)
    """
    match = _EVERY.match(text.strip())
    if match is None or float(match["n"]) <= 0:
        raise DataError(f"--every {text!r}: give a positive interval such as 30s, 15m, 1h or 1d")
    return float(match["n"]) * _UNITS[match["unit"]]


# ---------------------------------------------------------------------- per-window metrics
@dataclass
class LiveContext:
    """What every window is compared with, computed once per run."""

    review: ReviewData
    profile: Any
    score_profile: Any
    window: str
    n_boot: int = 200
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, review: ReviewData, *, n_boot: int = 200) -> LiveContext:
        m = review.manifest
        plan = m.readiness.monitoring if m.readiness is not None else None
        profile, score_profile, _ = W.reference_profiles(review)
        window = (plan.window if plan is not None and plan.window else None) or m.replay.window
        return cls(review, profile, score_profile, window, n_boot, dict(plan.thresholds) if plan else {})


def _labels(review: ReviewData, frame: pd.DataFrame) -> np.ndarray:
    target = review.manifest.target
    if target not in frame.columns:
        return np.full(len(frame), np.nan)
    known = frame[target].notna().to_numpy()
    y = np.full(len(frame), np.nan)
    if known.any():
        y[known] = review.encode_labels(frame.loc[known, target]).astype(float)
    return y


def labelled_metrics(ctx: LiveContext, scores: np.ndarray, y: np.ndarray, groups: pd.DataFrame) -> dict[str, Any]:
    """Performance, calibration and fairness of one window from its scores, labels and groups."""
    from workbench.fairness import fairness_table
    from workbench.metrics.calibration import calibration_summary

    m = ctx.review.manifest
    out: dict[str, Any] = {}
    perf = W.performance(y, {"candidate": scores}, threshold=m.threshold, metrics=_PERF, min_labelled=1)
    out["n_labelled"], out["label_rate"] = perf["n_labelled"], perf.get("label_rate")
    out["performance"] = perf.get("candidate", {})
    ok = np.isfinite(y) & np.isfinite(scores)
    if ok.sum() > 0 and len(np.unique(y[ok])) > 1:
        cal = calibration_summary(y[ok].astype(int), scores[ok], n_bins=m.settings.calibration_bins)
        out["calibration"] = {k: (cal[k].value if cal[k].defined else None) for k in ("ece", "mce", "brier_score")}
    labelled = bool(ok.sum() >= 2 * m.settings.min_group_size)
    rows = ok if labelled else np.isfinite(scores)
    fairness: dict[str, Any] = {}
    if groups.shape[1] and rows.sum():
        y_f = y[rows].astype(int) if labelled else np.zeros(int(rows.sum()), dtype=int)
        pred = (scores[rows] >= m.threshold).astype(int)
        table = fairness_table(y_f, pred, scores[rows], {c: groups[c].to_numpy()[rows] for c in groups.columns},
                               min_group_size=m.settings.min_group_size, n_boot=ctx.n_boot, seed=m.settings.seed,
                               intersections=False, confidence=m.settings.confidence)
        for feature, section in table.items():
            entry: dict[str, Any] = {"labelled": labelled, "ci": {}}
            for name, value in section.items():
                if not (name.endswith("_difference") or name.endswith("_ratio")) or not isinstance(value, dict):
                    continue
                if not labelled and not name.startswith("demographic_parity"):
                    continue  # error-rate disparities need labels
                entry[name] = value.get("value") if value.get("defined", True) else None
                entry["ci"][name] = [value.get("ci_low"), value.get("ci_high")]
            entry["selection_rates"] = {g: (v.get("selection_rate") or {}).get("value")
                                        for g, v in section.get("groups", {}).items()}
            fairness[feature] = entry
    out["fairness"] = fairness
    return out


def window_metrics(ctx: LiveContext, frame: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """(metrics JSON, the id/score/group/label table kept for late labels) of one window."""
    review = ctx.review
    m = review.manifest
    bands = tuple(m.settings.drift_bands)
    features = [f for f in review.features if f in frame.columns]
    drift = drift_evidence(ctx.profile, frame, features=features, bands=bands)
    s = W.score_window(review.models["candidate"], frame, latency_sample=0, rng=np.random.default_rng(0))
    summary = W.model_summary(s, len(frame))
    pred = drift_evidence(ctx.score_profile, pd.DataFrame({"candidate": s.scores}), features=["candidate"],
                          bands=bands)["features"]["candidate"]
    y = _labels(review, frame)
    sens = [c for c in review.sensitive_features if c in frame.columns]
    groups = frame[sens].astype(str)
    entry = {"errors": summary["errors"], "error_rate": summary["error_rate"], "mean_score": summary["mean_score"],
             "prediction_psi": pred["psi"], "latency_ms": summary["latency_ms"],
             **labelled_metrics(ctx, s.scores, y, groups)}
    metrics = {"rows": len(frame), "live": True,
               "drift": {"max_psi": max((e["psi"] for e in drift["features"].values() if e["psi"] is not None),
                                        default=None),
                         "share_drifted": drift["share_drifted"], "drifted_features": drift["drifted_features"],
                         "psi": {f: e["psi"] for f, e in drift["features"].items()}},
             "models": {"candidate": entry}}
    keep = pd.DataFrame({"score": s.scores, "label": y})
    for c in sens:
        keep[c] = groups[c].to_numpy()
    if review.id_column and review.id_column in frame.columns:
        keep.insert(0, "id", frame[review.id_column].astype(str).to_numpy())
    return metrics, keep


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# ---------------------------------------------------------------------- the run
@dataclass
class _Pending:
    key: int | None = None
    pieces: list[pd.DataFrame] = field(default_factory=list)
    advance: dict[str, list[int]] = field(default_factory=dict)
    rows: int = 0


def _window_keys(frame: pd.DataFrame, column: str, window: str) -> np.ndarray:
    if column not in frame.columns:
        raise DataError(f"--source: no timestamp column {column!r} (replay.timestamp_column) in the logs")
    ts = pd.to_datetime(frame[column], utc=True, errors="coerce")
    floored = ts.dt.floor(pd.Timedelta(window)).ffill().bfill()
    if floored.isna().all():
        raise DataError(f"--source: column {column!r} holds no readable timestamps")
    # nanoseconds whatever unit the file stored (Parquet often holds microseconds)
    return floored.astype("datetime64[ns, UTC]").astype("int64").to_numpy()


def monitor_source(review: ReviewData, source: str, *, store: Store, actor: str | User, outcomes: Sequence[Path] = (),
                   deliver: bool = True, n_boot: int = 200, env: Any = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Read what is new in ``source``, record each closed window, apply late labels, raise alerts.

    Returns ``{"review_id", "source", "rows_read", "windows", "labels_applied", "alerts",
    "deliveries", "rereview", "checkpoint"}``.
    """
    m = review.manifest
    review_id = store.review_id_for(m.name)
    if store.get_review(review_id) is None:
        store.upsert_review(m.name, manifest_path=str(m.source), evidence_digest=review.evidence_digest, actor=actor)
    src = _Source(source)
    alerts: list[Any] = []
    deliveries: list[dict[str, Any]] = []

    def _deliver(new_alerts: list[Any]) -> None:
        alerts.extend(new_alerts)
        if not (deliver and channels_of(m)):
            return
        for alert in new_alerts:
            deliveries.extend({"alert_id": alert.alert_id, "channel": o.channel, "delivered": o.delivered,
                               "attempts": o.attempts, "error": o.error}
                              for o in dispatch_alert(m, alert, store=store, review_id=review_id, env=env))

    ctx = LiveContext.build(review, n_boot=n_boot)
    window = pd.Timedelta(ctx.window)
    now = pd.Timestamp(store.now())
    done = store.checkpoints(review_id, src.key)
    _check_checkpoints(store, review_id, src.key, done)
    recorded: list[Any] = []
    pending = _Pending()
    rows_read = 0

    def flush() -> None:
        if not pending.pieces:
            return
        frame = pd.concat(pending.pieces, ignore_index=True) if len(pending.pieces) > 1 else pending.pieces[0]
        metrics, keep = window_metrics(ctx, frame)
        assert pending.key is not None  # a window with pieces has its key
        start = pd.Timestamp(pending.key, tz="UTC")
        batch = store.record_live_window(
            review_id, source=src.key, advance={p: (a, b) for p, (a, b) in pending.advance.items()},
            batch_digest=f"{src.key}|{','.join(f'{p}:{a}-{b}' for p, (a, b) in sorted(pending.advance.items()))}",
            rows=len(frame), window_start=start.isoformat(), window_end=(start + window).isoformat(),
            metrics=metrics, scores=_to_parquet(keep) if "id" in keep.columns else None, actor=actor)
        recorded.append(batch)
        # alert as soon as the window is stored: delivery does not wait for the rest of the backlog
        _deliver(_raise_window_alerts(ctx, store, review_id, [batch], [], actor))
        if progress is not None:
            progress(f"window {batch.window_start}: {batch.rows} rows recorded (batch {batch.batch_id})")
        pending.pieces, pending.advance, pending.rows = [], {}, 0

    for part in src.parts():
        start = done.get(part.name, 0)
        if part.rows < start:
            raise DataError(f"--source: {part.name} has {part.rows} rows but {start} were already read; log files "
                            "must only grow (write new rows to a new file)")
        offset = start
        for chunk in src.read(part, start):
            keys = _window_keys(chunk, m.replay.timestamp_column, ctx.window)
            cuts = [0, *(np.flatnonzero(np.diff(keys)) + 1).tolist(), len(chunk)]
            for lo, hi in zip(cuts[:-1], cuts[1:]):
                if pending.key is not None and (keys[lo] != pending.key or pending.rows >= MAX_WINDOW_ROWS):
                    flush()
                pending.key = int(keys[lo])
                pending.pieces.append(chunk.iloc[lo:hi])
                before = pending.advance.get(part.name, [offset + lo, offset + lo])[0]
                pending.advance[part.name] = [before, offset + hi]
                pending.rows += hi - lo
            offset += len(chunk)
            rows_read += len(chunk)
    if pending.key is not None and pd.Timestamp(pending.key, tz="UTC") + window <= now:
        flush()  # the last window is closed: its time has passed
    elif pending.key is not None:
        rows_read -= pending.rows  # still open: read again next time
    protocol = _verify_alerting_on_cadence(m, store, review_id, env) if deliver else None
    updated = apply_outcomes(ctx, outcomes, store=store, review_id=review_id, source_key=src.key, actor=actor)
    _deliver(_raise_window_alerts(ctx, store, review_id, [], updated, actor))
    rereview = _rereview(ctx, store, review_id, actor)
    if rereview is not None and rereview["alert"] is not None:
        _deliver([rereview["alert"]])
    if rereview is not None:
        rereview = {k: v for k, v in rereview.items() if k != "alert"}
    return {"review_id": review_id, "source": src.key, "rows_read": rows_read,
            "windows": [{"batch_id": b.batch_id, "window_start": b.window_start, "window_end": b.window_end,
                         "rows": b.rows} for b in recorded],
            "labels_applied": len(updated),
            "alerts": [{"alert_id": a.alert_id, "rule": a.rule, "severity": a.severity, "message": a.message}
                       for a in alerts],
            "deliveries": deliveries, "rereview": rereview, "alerting_test": protocol,
            "checkpoint": store.checkpoints(review_id, src.key)}


def _verify_alerting_on_cadence(manifest: Manifest, store: Store, review_id: str, env: Any) -> list[dict[str, Any]] | None:
    """Send the test alert (as `workbench alerts test`) when none was sent within the review cadence."""
    from workbench.replay._alerts import send_test_alert

    plan = manifest.readiness.monitoring if manifest.readiness is not None else None
    if plan is None or plan.cadence_days is None or not plan.alerts:
        return None
    tests = [d for d in store.list_deliveries(review_id) if d.alert_id is None and d.status == "delivered"]
    now = pd.Timestamp(store.now())
    if tests and now - pd.Timestamp(tests[-1].created_at) < pd.Timedelta(days=plan.cadence_days):
        return None
    return [{"channel": o.channel, "delivered": o.delivered, "error": o.error}
            for o in send_test_alert(manifest, store=store, env=env)]


def _check_checkpoints(store: Store, review_id: str, key: str, done: dict[str, int]) -> None:
    """Refuse checkpoints that the recorded windows do not account for.

    Each live window's digest names the row ranges it read (``part:a-b``); per part they must tile
    ``0..rows_done`` exactly. Whoever edits ``monitor_checkpoints`` in the file (to make rows count
    twice or vanish) is caught here before anything is read.
    """
    ranges: dict[str, list[tuple[int, int]]] = {}
    for batch in store.list_monitoring_batches(review_id):
        if not batch.batch_digest.startswith(key + "|"):
            continue
        for item in batch.batch_digest[len(key) + 1:].split(","):
            part, _, span = item.rpartition(":")
            a, _, b = span.partition("-")
            ranges.setdefault(part, []).append((int(a), int(b)))
    for part in sorted(set(done) | set(ranges)):
        if part.startswith("outcomes:"):
            continue
        rows_done = done.get(part, 0)  # a deleted checkpoint row would make every row count twice
        spans = sorted(ranges.get(part, []))
        end = 0
        for lo, hi in spans:
            if lo != end:
                break
            end = hi
        if end != rows_done or len(spans) and spans[-1][1] != end:
            raise StoreError(f"monitor checkpoint of {part}: {rows_done} rows marked read but the recorded windows "
                             f"account for {end}; the store was edited outside the workbench (see `workbench audit "
                             "verify`)")


def apply_outcomes(ctx: LiveContext, outcomes: Sequence[Path], *, store: Store, review_id: str, source_key: str,
                   actor: str | User) -> list[Any]:
    """Join labels that arrived later (``id``, target) to the recorded windows; the windows updated.

    Windows are updated before the outcomes checkpoint moves; setting a label is idempotent, so a
    crash in between re-applies the same labels and changes nothing.
    """
    from workbench.artefacts import read_table

    m = ctx.review.manifest
    id_col = ctx.review.id_column
    updated: list[Any] = []
    for path in outcomes:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"--outcomes: file not found: {path}")
        if not id_col:
            raise DataError("--outcomes: the manifest names no id_column to join labels on")
        table = read_table(path, label=f"--outcomes {path}")
        for col in (id_col, m.target):
            if col not in table.columns:
                raise DataError(f"--outcomes {path}: no column {col!r}")
        part = f"outcomes:{path.resolve()}"
        done = store.checkpoints(review_id, source_key).get(part, 0)
        new = table.iloc[done:]
        if new.empty:
            continue
        labels = pd.Series(ctx.review.encode_labels(new[m.target]).astype(float), index=new[id_col].astype(str).to_numpy())
        labels = labels[~labels.index.duplicated(keep="last")]
        for batch in store.list_monitoring_batches(review_id):
            blob = store.batch_scores(batch.batch_id)
            if blob is None:
                continue
            keep = pd.read_parquet(io.BytesIO(blob))
            hit = keep["id"].isin(labels.index).to_numpy()
            if not hit.any():
                continue
            keep.loc[hit, "label"] = labels.reindex(keep.loc[hit, "id"]).to_numpy()
            groups = keep[[c for c in keep.columns if c not in ("id", "score", "label")]]
            fresh = labelled_metrics(ctx, keep["score"].to_numpy(float), keep["label"].to_numpy(float), groups)
            metrics = dict(batch.metrics)
            metrics["models"] = {**metrics["models"], "candidate": {**metrics["models"]["candidate"], **fresh}}
            updated.append(store.update_batch_metrics(batch.batch_id, metrics, reason=f"{int(hit.sum())} late labels "
                                                      f"from {path.name}", scores=_to_parquet(keep), actor=actor))
        store.advance_checkpoint(review_id, source=source_key, part=part, before=done, after=len(table), actor=actor)
    return updated


def _raise_window_alerts(ctx: LiveContext, store: Store, review_id: str, recorded: list[Any], updated: list[Any],
                         actor: str | User) -> list[Any]:
    raised = {(a.details.get("batch_id"), a.details.get("metric")) for a in store.list_alerts(review_id)}
    alerts = []
    m = ctx.review.manifest
    history = store.list_monitoring_batches(review_id)
    fresh = {b.batch_id: b for b in [*recorded, *updated]}  # late labels: the updated metrics
    looks = dict(zip((b.batch_id for b in history),
                     rule_looks([fresh.get(b.batch_id, b).metrics for b in history], ctx.thresholds)))
    for batch in [*recorded, *updated]:
        fired, _ = evaluate_rules(batch.metrics, ctx.thresholds, looks=looks.get(batch.batch_id, {}),
                                  alpha=false_alarm_rate(m), confidence=m.settings.confidence)
        for rule in fired:
            if (batch.batch_id, rule["metric"]) in raised:
                continue  # one alert per window and signal, even when late labels re-evaluate it
            raised.add((batch.batch_id, rule["metric"]))
            details = {"metric": rule["metric"], "value": rule["value"], "limit": rule["limit"],
                       "batch_id": batch.batch_id, "window_start": batch.window_start, "window_end": batch.window_end,
                       **{k: rule[k] for k in _SEQUENTIAL_KEYS if k in rule}}
            alerts.append(store.add_alert(review_id, rule=rule["rule"], severity=rule["severity"],
                                          message=rule["message"], details=details, actor=actor))
    return alerts


def persistent_breaches(batches: Sequence[Any], thresholds: dict[str, float], windows: int) -> list[dict[str, Any]]:
    """Signals breached in each of the last ``windows`` windows where they could be evaluated.

    Examples
    --------
    >>> from types import SimpleNamespace as B
    >>> hist = [B(metrics={"drift": {"max_psi": p}, "models": {"candidate": {}}}, window_start=str(i))
    ...         for i, p in enumerate([0.1, 0.3, 0.4, 0.5])]
    >>> [r["metric"] for r in persistent_breaches(hist, {"psi": 0.25}, 3)]
    ['psi']
    >>> persistent_breaches(hist[:3], {"psi": 0.25}, 3)
    []
    """
    out = []
    for name, limit in thresholds.items():
        streak: list[Any] = []
        for batch in batches:
            fired, skipped = evaluate_rules(batch.metrics, {name: limit})
            if name in skipped:
                continue
            streak = [*streak, batch] if fired else []
        if len(streak) >= windows:
            out.append({"metric": name, "limit": limit, "windows": len(streak),
                        "since": streak[-windows].window_start,
                        "reason": f"{name} breached its threshold {limit:g} in the last {len(streak)} windows"})
    return out


def _rereview(ctx: LiveContext, store: Store, review_id: str, actor: str | User) -> dict[str, Any] | None:
    m = ctx.review.manifest
    plan = m.readiness.monitoring if m.readiness is not None else None
    n = plan.rereview_after_windows if plan is not None else 3
    reasons = persistent_breaches(store.list_monitoring_batches(review_id), ctx.thresholds, n)
    if not reasons:
        return None
    scheduled, created = store.open_scheduled_review(review_id, reasons=reasons, actor=actor)
    alert = None
    if created:
        alert = store.add_alert(review_id, rule="re_review_recommended", severity="critical",
                                message="re-review recommended: " + "; ".join(r["reason"] for r in reasons),
                                details={"schedule_id": scheduled.schedule_id, "reasons": reasons}, actor=actor)
    return {"status": "re-review recommended", "reasons": reasons, "schedule_id": scheduled.schedule_id,
            "opened": created, "alert": alert}


def run_every(run: Callable[[], Any], every_s: float, stop: threading.Event) -> int:
    """Call ``run`` now and then every ``every_s`` seconds until ``stop`` is set; the number of runs."""
    runs = 0
    while not stop.is_set():
        run()
        runs += 1
        stop.wait(every_s)
    return runs
