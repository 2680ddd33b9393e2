"""Every monitored signal of the live windows as a time series with its threshold (the monitoring page's charts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.replay._monitor import _is_ceiling, _observed

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.store import Store

__all__ = ["monitoring_timeseries"]

_SERIES_LABELS = {
    "psi": "Input drift: worst feature PSI",
    "prediction_psi": "Prediction drift: PSI of the candidate's scores",
    "error_rate": "Rows the model failed to score (share)",
    "roc_auc": "ROC AUC (labelled rows)",
    "accuracy": "Accuracy (labelled rows)",
    "ece": "Expected calibration error (labelled rows)",
    "n_labelled": "Labelled rows",
}


def monitoring_timeseries(store: Store, review: ReviewData) -> dict[str, Any]:
    """Every monitored signal as a time series over the recorded windows, with its threshold.

    ``{"windows": [...], "series": {key: {"label", "threshold", "direction", "points": [{"window_start",
    "value", "ci_low", "ci_high"}]}}, "rereview"}``: input drift, prediction drift, errors, performance
    and calibration once labelled, and each fairness disparity per sensitive feature with its CI
    (``fairness:<feature>:<disparity>``). The monitoring page draws exactly these.
    """
    m = review.manifest
    review_id = store.review_id_for(m.name)
    plan = m.readiness.monitoring if m.readiness is not None else None
    thresholds = dict(plan.thresholds) if plan is not None else {}
    batches = store.list_monitoring_batches(review_id) if store.get_review(review_id) is not None else []
    series: dict[str, dict[str, Any]] = {}

    def point(key: str, label: str, metric: str, batch: Any, value: Any, ci: Any = None) -> None:
        entry = series.setdefault(key, {"label": label, "metric": metric, "threshold": thresholds.get(metric),
                                        "direction": "at most" if _is_ceiling(metric) else "at least", "points": []})
        lo, hi = (ci or [None, None])[:2]
        entry["points"].append({"window_start": batch.window_start, "batch_id": batch.batch_id,
                                "value": value if isinstance(value, (int, float)) else None, "ci_low": lo, "ci_high": hi})

    for b in batches:
        cand = b.metrics.get("models", {}).get("candidate", {})
        for key in ("psi", "prediction_psi", "error_rate", "roc_auc", "accuracy", "ece"):
            point(key, _SERIES_LABELS[key], key, b, _observed(b.metrics, key))
        point("n_labelled", _SERIES_LABELS["n_labelled"], "n_labelled", b, cand.get("n_labelled"))
        for feature, entry in (cand.get("fairness") or {}).items():
            for name, value in entry.items():
                if name.endswith(("_difference", "_ratio")):
                    point(f"fairness:{feature}:{name}", f"{name.replace('_', ' ')} by {feature}", name, b, value,
                          (entry.get("ci") or {}).get(name))
    scheduled = store.list_scheduled_reviews(review_id) if batches else []
    open_review = next((s for s in scheduled if s.status == "open"), None)
    return {"windows": [{"batch_id": b.batch_id, "window_start": b.window_start, "window_end": b.window_end,
                         "rows": b.rows} for b in batches],
            "series": {k: v for k, v in series.items() if any(p["value"] is not None for p in v["points"])},
            "rereview": None if open_review is None else {"status": "re-review recommended", "reasons": open_review.reasons,
                                                          "opened_at": open_review.created_at}}
