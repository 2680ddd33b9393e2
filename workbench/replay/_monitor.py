"""Continuous evaluation after promotion: one production batch at a time.

``monitor_batch`` scores a batch with the promoted model (the review's candidate; the
baseline too when present), computes input and prediction drift against the reference
profile, performance and calibration where labels exist, the demographic-parity ratio per
sensitive feature and a single-row latency sample, appends the result to the review's
history in the store (idempotent per batch digest), evaluates the alert rules and records
every fired alert (stored and audited), and reports whether a review is due or overdue.

Alert rules come from the manifest's ``readiness.monitoring.thresholds``: a threshold on a
metric where higher is better (``roc_auc``, ``demographic_parity_ratio``...) is a floor; on
``psi``, ``ece``, ``latency_ms.p95``, losses and error rates it is a ceiling. A threshold whose
value cannot be computed on the batch (e.g. no labels yet) is listed under ``not_evaluated``.
Alerts follow the sequential rule of :mod:`workbench.replay._sequential`: the ``k``-th window
in which a signal has a value spends ``alpha / (k (k + 1))`` of the plan's ``false_alarm_rate``
(``alpha``), so the false-alarm rate over the whole monitoring horizon stays at ``alpha``;
signals without a standard error (PSI, latency, ECE) keep the point rule.
The review cadence (``cadence_days``) counts from the latest recorded decision (or the
review's creation): a review is ``due`` within 14 days of that date and ``overdue`` after it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.replay import _sequential as SQ
from workbench.replay import _window as W
from workbench.canonical import frame_digest
from workbench.errors import StoreError
from workbench.metrics import greater_is_better
from workbench.metrics.drift import drift_evidence

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.auth import User
    from workbench.store import Store

__all__ = ["batch_metrics", "evaluate_rules", "false_alarm_rate", "monitor_batch", "monitoring_history", "record_batch",
           "review_schedule", "review_schedule_for", "rule_looks", "UPPER_BOUND_METRICS"]

# Ceilings the metric registry cannot answer (losses like brier_score and log_loss it does).
UPPER_BOUND_METRICS = frozenset({"psi", "ece", "mce", "latency_ms.p95", "latency_ms.p99", "error_rate",
                                 "share_drifted", "prediction_psi", "contest_rate", "overturn_rate"})
DUE_SOON_DAYS = 14
#: What an alert's details keep of the sequential decision that raised it.
_SEQUENTIAL_KEYS = ("decision", "look", "alpha_spent", "false_alarm_rate", "se", "bound")
_PERF = ("roc_auc", "accuracy", "brier_score", "average_precision")
# fairness disparities (``*_difference`` a ceiling, ``*_ratio`` a floor), worst feature decides
_DISPARITIES = ("demographic_parity", "equalized_odds", "equal_opportunity")


def _selection_ratio(frame: pd.DataFrame, decisions: np.ndarray, column: str, min_group: int) -> dict[str, Any]:
    codes, uniques = pd.factorize(frame[column])
    ok = codes >= 0
    n = np.bincount(codes[ok], minlength=len(uniques))
    pos = np.bincount(codes[ok], weights=decisions[ok], minlength=len(uniques))
    big = n >= min_group
    rates = {str(u): float(pos[i] / n[i]) for i, u in enumerate(uniques) if n[i] > 0}
    if big.sum() < 2 or pos[big].max() == 0:
        return {"selection_rates": rates, "demographic_parity_ratio": None,
                "reason": f"fewer than two groups with >= {min_group} rows and a positive decision"}
    sel = pos[big] / n[big]
    return {"selection_rates": rates, "demographic_parity_ratio": float(sel.min() / sel.max()),
            "demographic_parity_difference": float(sel.max() - sel.min())}


def batch_metrics(review: ReviewData, batch: pd.DataFrame, *, latency_sample: int = 20, min_group_size: int = 30,
                  seed: int = 0) -> dict[str, Any]:
    """Drift, performance, calibration, fairness and latency of one batch (JSON-able)."""
    from workbench.metrics.calibration import calibration_summary

    m = review.manifest
    bands = tuple(m.settings.drift_bands)
    profile, score_profile, _ = W.reference_profiles(review)  # the replay's baselines, same drift_bins
    drift = drift_evidence(profile, batch, features=[f for f in review.features if f in batch.columns], bands=bands)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"rows": len(batch)}
    out["drift"] = {"max_psi": max((e["psi"] for e in drift["features"].values() if e["psi"] is not None),
                                   default=None),
                    "share_drifted": drift["share_drifted"], "drifted_features": drift["drifted_features"],
                    "psi": {f: e["psi"] for f, e in drift["features"].items()}}
    y = review.encode_labels(batch[m.target]).astype(float) if m.target in batch.columns else np.full(len(batch), np.nan)
    out["models"] = {}
    for role, model in review.models.items():
        s = W.score_window(model, batch, latency_sample=latency_sample, rng=rng)
        summary = W.model_summary(s, len(batch))
        pred = drift_evidence(score_profile, pd.DataFrame({role: s.scores}), features=[role],
                              bands=bands)["features"][role]
        entry: dict[str, Any] = {"errors": summary["errors"], "error_rate": summary["error_rate"],
                                 "latency_ms": summary["latency_ms"], "mean_score": summary["mean_score"],
                                 "prediction_psi": pred["psi"]}
        perf = W.performance(y, {role: s.scores}, threshold=m.threshold, metrics=_PERF, min_labelled=1)
        entry["n_labelled"] = perf["n_labelled"]
        entry["label_rate"] = perf.get("label_rate")
        entry["performance"] = perf.get(role, {})
        ok = np.isfinite(y) & np.isfinite(s.scores)
        if ok.sum() > 0 and m.task == "binary":
            cal = calibration_summary(y[ok].astype(int), s.scores[ok], n_bins=m.settings.calibration_bins)
            entry["calibration"] = {k: (cal[k].value if cal[k].defined else None) for k in ("ece", "mce", "brier_score")
                                    if k in cal}
        decisions = (np.nan_to_num(s.scores, nan=-np.inf) >= m.threshold).astype(float)
        entry["fairness"] = {f: _selection_ratio(batch, decisions, f, min_group_size)
                             for f in review.sensitive_features if f in batch.columns}
        out["models"][role] = entry
    return out


def _observed(metrics: dict[str, Any], name: str, role: str = "candidate") -> float | None:
    model = metrics["models"].get(role, {})
    if name == "psi":
        return metrics["drift"]["max_psi"]
    if name == "share_drifted":
        return metrics["drift"]["share_drifted"]
    if name.startswith("latency_ms."):
        return model.get("latency_ms", {}).get(name.split(".", 1)[1])
    if name in ("ece", "mce"):
        return (model.get("calibration") or {}).get(name)
    if name.startswith(_DISPARITIES) and name.endswith(("_ratio", "_difference")):
        values = [g.get(name) for g in model.get("fairness", {}).values() if isinstance(g.get(name), (int, float))]
        if not values:
            return None
        return min(values) if name.endswith("ratio") else max(values)
    if name in ("contest_rate", "overturn_rate"):
        return model.get(name)
    if name in ("error_rate", "prediction_psi", "mean_score"):
        return model.get(name)
    return model.get("performance", {}).get(name)


def _is_ceiling(name: str) -> bool:
    if name in UPPER_BOUND_METRICS:
        return True
    try:
        return not greater_is_better(name, task="binary")
    except KeyError:
        return name.endswith("_difference")


def _worst_feature(model: dict[str, Any], name: str) -> dict[str, Any] | None:
    entries = [g for g in model.get("fairness", {}).values() if isinstance(g.get(name), (int, float))]
    if not entries:
        return None
    pick = min if name.endswith("ratio") else max
    return pick(entries, key=lambda g: g[name])


def _standard_error(metrics: dict[str, Any], name: str, role: str, limit: float, confidence: float) -> float | None:
    """The signal's standard error for the sequential rule (under the null at ``limit`` where closed-form)."""
    model = metrics["models"].get(role, {})
    n_labelled = int(model.get("n_labelled") or 0)
    if name == "accuracy":
        return SQ.proportion_standard_error(limit, n_labelled)
    if name == "error_rate":
        return SQ.proportion_standard_error(limit, int(metrics.get("rows") or 0))
    if name == "roc_auc" and model.get("label_rate") is not None:
        n_pos = int(round(float(model["label_rate"]) * n_labelled))
        return SQ.auc_standard_error(limit, n_pos, n_labelled - n_pos)
    if name.startswith(_DISPARITIES) and name.endswith(("_ratio", "_difference")):
        worst = _worst_feature(model, name)
        ci = ((worst or {}).get("ci") or {}).get(name)
        if ci and all(isinstance(x, (int, float)) for x in ci[:2]):
            from scipy.stats import norm

            return (float(ci[1]) - float(ci[0])) / (2 * float(norm.ppf((1 + confidence) / 2)))
    return None


def evaluate_rules(metrics: dict[str, Any], thresholds: dict[str, float], *, role: str = "candidate",
                   looks: dict[str, int] | None = None, alpha: float | None = None,
                   confidence: float = 0.95) -> tuple[list[dict[str, Any]], list[str]]:
    """(fired rules, thresholds that could not be evaluated) for one batch.

    With ``alpha`` (the plan's false-alarm rate over the monitoring horizon) and ``looks`` (the
    window's look number per signal, :func:`rule_looks`), a signal with a standard error fires only
    when its one-sided ``1 - alpha / (k (k + 1))`` confidence bound lies beyond the threshold
    (``decision: "sequential"``); otherwise, and for signals without one, on its point value
    (``decision: "point"``).

    Examples
    --------
    >>> fired, skipped = evaluate_rules(
    ...     {"drift": {"max_psi": 0.4}, "models": {"candidate": {"performance": {}}}},
    ...     {"psi": 0.25, "roc_auc": 0.7})
    >>> fired[0]["rule"], skipped
    ('psi <= 0.25', ['roc_auc'])
    >>> window = {"models": {"candidate": {"performance": {"accuracy": 0.77}, "n_labelled": 400}}}
    >>> evaluate_rules(window, {"accuracy": 0.8})[0][0]["decision"]  # point: 0.77 < 0.8
    'point'
    >>> evaluate_rules(window, {"accuracy": 0.8}, looks={"accuracy": 3}, alpha=0.05)[0]  # within noise at look 3
    []
    """
    fired, skipped = [], []
    for name, limit in thresholds.items():
        value = _observed(metrics, name, role)
        if value is None:
            skipped.append(name)
            continue
        ceiling = _is_ceiling(name)
        se = _standard_error(metrics, name, role, limit, confidence) if alpha is not None and looks else None
        extra: dict[str, Any] = {"decision": "point"}
        if se is not None and se > 0 and looks is not None and alpha is not None:
            k = int(looks.get(name, 1))
            breached, bound = SQ.sequential_breach(value, se, limit, ceiling=ceiling, look=k, alpha=alpha)
            extra = {"decision": "sequential", "look": k, "alpha_spent": SQ.alpha_spent(k, alpha),
                     "false_alarm_rate": alpha, "se": se, "bound": bound}
            why = (f"its one-sided {1 - extra['alpha_spent']:.6g} bound {bound:.4g} (look {k}, "
                   f"false-alarm rate {alpha:g} over the monitoring horizon)")
        else:
            breached = (value > limit) if ceiling else (value < limit)
            why = "its point value (no standard error for a sequential rule)" if alpha is not None else "its point value"
        if breached:
            severity = "critical" if name in _PERF or name.startswith(_DISPARITIES) else "warning"
            fired.append({"rule": f"{name} {'<=' if ceiling else '>='} {limit:g}", "metric": name,
                          "value": value, "limit": limit, "severity": severity, **extra,
                          "message": f"{role} {name} = {value:.4g} breaches the monitoring threshold "
                          f"({'at most' if ceiling else 'at least'} {limit:g}) by {why}; follow the incident runbook"})
    return fired, skipped


def false_alarm_rate(manifest: Any) -> float:
    """The monitoring plan's false-alarm rate over the horizon (``readiness.monitoring.false_alarm_rate``)."""
    plan = manifest.readiness.monitoring if getattr(manifest, "readiness", None) is not None else None
    return float(getattr(plan, "false_alarm_rate", None) or SQ.DEFAULT_FALSE_ALARM_RATE)


def rule_looks(windows: list[dict[str, Any]], thresholds: dict[str, float], *, role: str = "candidate") -> list[dict[str, int]]:
    """Look numbers per window (in window order) and signal: the windows so far in which it had a value."""
    return SQ.look_numbers(windows, list(thresholds), lambda m, name: _observed(m, name, role) is not None)


def review_schedule(cadence_days: int | None, anchor: dt.date, today: dt.date,
                    pir_dates: tuple[dt.date, ...] = ()) -> dict[str, Any]:
    """Next review date from the cadence and its status (scheduled / due / overdue).

    Examples
    --------
    >>> review_schedule(90, dt.date(2026, 1, 1), dt.date(2026, 4, 10))["status"]
    'overdue'
    """
    out: dict[str, Any] = {"cadence_days": cadence_days, "last_review": anchor.isoformat()}
    pirs = [{"date": d.isoformat(), "status": "done" if d <= anchor else ("overdue" if d < today else "upcoming")}
            for d in sorted(pir_dates)]
    out["post_implementation_reviews"] = pirs
    if cadence_days is None:
        out.update(next_review=None, status="no_cadence")
        return out
    due = anchor + dt.timedelta(days=cadence_days)
    status = "overdue" if today > due else ("due" if today >= due - dt.timedelta(days=DUE_SOON_DAYS) else "scheduled")
    out.update(next_review=due.isoformat(), status=status, days_overdue=max((today - due).days, 0))
    return out


def _window_of(batch: pd.DataFrame, column: str, today: dt.date) -> tuple[str, str]:
    if column in batch.columns and len(batch):
        ts = pd.to_datetime(batch[column], utc=True, errors="coerce").dropna()
        if len(ts):
            return ts.min().isoformat(), ts.max().isoformat()
    return today.isoformat(), today.isoformat()


def _anchor(store: Store, review_id: str) -> dt.date:
    decision = store.latest_decision(review_id)
    if decision is not None:
        return dt.date.fromisoformat(decision.created_at[:10])
    record = store.get_review(review_id)
    if record is None:  # not a crash on None: say which review is missing where
        raise StoreError(f"review {review_id!r} is not in the store {store.path}: run `workbench gate` or the app first")
    return dt.date.fromisoformat(record.created_at[:10])


def review_schedule_for(store: Store, review: ReviewData, review_id: str, *, today: dt.date | None = None) -> dict[str, Any]:
    """The review cadence of a stored review, anchored at its latest decision (else its creation).

    ``workbench monitor`` and the app's monitoring page both read it from here; ``today`` defaults
    to the store's clock (UTC), the clock every stored date uses.
    """
    today = today or dt.date.fromisoformat(store.now()[:10])
    m = review.manifest
    plan = m.readiness.monitoring if m.readiness is not None else None
    return review_schedule(plan.cadence_days if plan else None, _anchor(store, review_id), today,
                           tuple(m.readiness.post_implementation_reviews) if m.readiness else ())


def monitoring_history(store: Store, review_id: str) -> list[dict[str, Any]]:
    """One row per recorded batch in window order: the CLI's ``history`` and the app's table."""
    return [{"batch_id": b.batch_id, "window_start": b.window_start, "window_end": b.window_end,
             "rows": b.rows, "max_psi": b.metrics["drift"]["max_psi"],
             **{k: _observed(b.metrics, k) for k in ("roc_auc", "ece", "demographic_parity_ratio")},
             "recorded_at": b.created_at, "recorded_by": b.created_by}
            for b in store.list_monitoring_batches(review_id)]


def record_batch(review: ReviewData, name: str, payload: bytes, *, store: Store, actor: str | User,
                 label: str = "production batch", **options: Any) -> dict[str, Any]:
    """A production batch file's bytes (CSV or Parquet, read once) through :func:`monitor_batch`,
    digested by those same bytes: ``workbench monitor`` and the app's upload both call this."""
    import hashlib
    from pathlib import Path

    from workbench.artefacts import read_table

    batch = read_table(Path(name), label=label, payload=payload)
    return monitor_batch(review, batch, store=store, actor=actor, batch_digest=hashlib.sha256(payload).hexdigest(),
                         **options)


def monitor_batch(
    review: ReviewData,
    batch: pd.DataFrame,
    *,
    store: Store,
    actor: str | User,
    batch_digest: str | None = None,
    today: dt.date | None = None,
    latency_sample: int = 20,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Append a production batch to the review's history, raise alerts, report the schedule.

    Returns
    -------
    dict
        ``{"review_id", "batch_id", "new_batch", "metrics", "alerts", "not_evaluated",
        "review_schedule", "history"}``; ``alerts`` lists the alerts stored for this batch.
    """
    m = review.manifest
    today = today or dt.date.fromisoformat(store.now()[:10])
    review_id = store.review_id_for(m.name)
    if store.get_review(review_id) is None:
        store.upsert_review(m.name, manifest_path=str(m.source), evidence_digest=review.evidence_digest,
                            actor=actor)
    batch_digest = batch_digest or frame_digest(batch)
    stored = store.find_monitoring_batch(review_id, batch_digest)
    new = stored is None
    if stored is None:  # a batch recorded before is not scored again
        with W.thread_limit(threads):
            metrics = batch_metrics(review, batch, latency_sample=latency_sample,
                                    min_group_size=m.settings.min_group_size)
        start, end = _window_of(batch, m.replay.timestamp_column, today)
        stored = store.add_monitoring_batch(review_id, batch_digest=batch_digest, rows=len(batch),
                                            window_start=start, window_end=end, metrics=metrics, actor=actor)
    start, end = stored.window_start, stored.window_end
    plan = m.readiness.monitoring if m.readiness is not None else None
    thresholds = dict(plan.thresholds) if plan else {}
    batches = store.list_monitoring_batches(review_id)
    index = next((i for i, b in enumerate(batches) if b.batch_id == stored.batch_id), len(batches) - 1)
    looks = rule_looks([b.metrics for b in batches[: index + 1]], thresholds)[-1] if batches else {}
    fired, skipped = evaluate_rules(stored.metrics, thresholds, looks=looks, alpha=false_alarm_rate(m),
                                    confidence=m.settings.confidence)
    alerts = []
    if new:
        for rule in fired:
            details = {"metric": rule["metric"], "value": rule["value"], "limit": rule["limit"],
                       "batch_id": stored.batch_id, "window_start": start, "window_end": end,
                       **{k: rule[k] for k in _SEQUENTIAL_KEYS if k in rule}}
            alerts.append(store.add_alert(review_id, rule=rule["rule"], severity=rule["severity"],
                                          message=rule["message"], details=details, actor=actor))
    schedule = review_schedule_for(store, review, review_id, today=today)
    if schedule["status"] in ("due", "overdue"):
        due_rule = f"review_{schedule['status']}"
        if not any(a.rule == due_rule for a in store.list_alerts(review_id, open_only=True)):
            alerts.append(store.add_alert(
                review_id, rule=due_rule, severity="warning" if schedule["status"] == "overdue" else "info",
                message=f"the periodic review is {schedule['status']} (next review {schedule['next_review']}, "
                f"cadence {schedule['cadence_days']} days); schedule the review meeting",
                details=schedule, actor=actor))
    history = monitoring_history(store, review_id)
    return {"review_id": review_id, "batch_id": stored.batch_id, "new_batch": new, "metrics": stored.metrics,
            "alerts": [{"alert_id": a.alert_id, "rule": a.rule, "severity": a.severity, "message": a.message}
                       for a in alerts],
            "not_evaluated": skipped, "review_schedule": schedule, "history": history}
