"""Post-promotion monitoring records: scored batches and the alerts raised on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.canonical import canonical_json
from workbench.errors import StoreError
from workbench.text import check_text

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.store._store import Store

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class MonitoringBatch:
    """Metrics of one production batch (identified by the digest of its data)."""

    batch_id: int
    review_id: str
    batch_digest: str
    rows: int
    window_start: str
    window_end: str
    metrics: dict[str, Any]
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Alert:
    """A monitoring rule that fired; open until acknowledged."""

    alert_id: int
    review_id: str
    rule: str
    severity: str
    message: str
    details: dict[str, Any]
    created_at: str
    created_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    ack_comment: str | None


def _batch(row: dict[str, Any]) -> MonitoringBatch:
    return MonitoringBatch(**{**row, "metrics": json.loads(row["metrics"])})


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(**{**row, "details": json.loads(row["details"])})


def _name(actor: Any) -> str:
    return getattr(actor, "name", actor)


class MonitoringMixin:
    """Monitoring methods; mixed into ``Store``."""

    def add_monitoring_batch(self: Store, review_id: str, *, batch_digest: str, rows: int, window_start: str,
                             window_end: str, metrics: dict[str, Any], actor: str | User) -> MonitoringBatch:
        """Record a batch's metrics. Re-adding the same ``batch_digest`` returns the stored
        batch and writes nothing (so re-running a monitor is idempotent)."""
        if not batch_digest:
            raise StoreError("batch_digest: give the digest of the batch's data")
        if not isinstance(metrics, dict):
            raise StoreError(f"metrics: expected a dict, got {type(metrics).__name__}")
        self._authorize_actor(actor, "monitoring")
        self._require_review(review_id)
        with self.transaction():
            existing = self._fetchone(
                "SELECT * FROM monitoring_batches WHERE review_id = ? AND batch_digest = ?",
                (review_id, batch_digest))
            if existing is not None:
                return _batch(existing)
            batch_id = self._insert("monitoring_batches", {"review_id": review_id, "batch_digest": batch_digest,
                                                           "rows": int(rows), "window_start": str(window_start),
                                                           "window_end": str(window_end),
                                                           "metrics": canonical_json(metrics),
                                                           "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "monitoring_batch_added", review_id,
                       {"batch_id": batch_id, "batch_digest": batch_digest, "rows": int(rows),
                        "window_start": str(window_start), "window_end": str(window_end)})
            return _batch(self._fetchone("SELECT * FROM monitoring_batches WHERE batch_id = ?",
                                         (batch_id,)))  # type: ignore[arg-type]

    def find_monitoring_batch(self: Store, review_id: str, batch_digest: str) -> MonitoringBatch | None:
        """The batch recorded with this digest, if any (read-only: nothing is audited)."""
        row = self._fetchone("SELECT * FROM monitoring_batches WHERE review_id = ? AND batch_digest = ?",
                             (review_id, batch_digest))
        return None if row is None else _batch(row)

    def list_monitoring_batches(self: Store, review_id: str) -> list[MonitoringBatch]:
        """Batches of the review in window order."""
        return [_batch(r) for r in self._fetchall(
            "SELECT * FROM monitoring_batches WHERE review_id = ? ORDER BY window_start, batch_id",
            (review_id,))]

    def add_alert(self: Store, review_id: str, *, rule: str, severity: str, message: str,
                  details: dict[str, Any], actor: str | User) -> Alert:
        """Raise an alert (severity: info, warning or critical)."""
        if severity not in SEVERITIES:
            raise StoreError(f"severity {severity!r}: use one of {', '.join(SEVERITIES)}")
        if not rule or not message:
            raise StoreError("alert: give the rule that fired and a message saying what to do")
        self._authorize_actor(actor, "monitoring")
        self._require_review(review_id)
        with self.transaction():
            alert_id = self._insert("alerts", {"review_id": review_id, "rule": rule, "severity": severity,
                                               "message": message, "details": canonical_json(details or {}),
                                               "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "alert_raised", review_id,
                       {"alert_id": alert_id, "rule": rule, "severity": severity, "message": message})
            return self._alert(alert_id)

    def _alert(self: Store, alert_id: int) -> Alert:
        row = self._fetchone("SELECT * FROM alerts WHERE alert_id = ?", (int(alert_id),))
        if row is None:
            raise StoreError(f"alert {alert_id} does not exist")
        return _alert(row)

    def list_alerts(self: Store, review_id: str, *, open_only: bool = False) -> list[Alert]:
        """Alerts of the review, newest first; ``open_only`` drops acknowledged ones."""
        sql = "SELECT * FROM alerts WHERE review_id = ?"
        if open_only:
            sql += " AND acknowledged_at IS NULL"
        return [_alert(r) for r in self._fetchall(sql + " ORDER BY alert_id DESC", (review_id,))]

    def acknowledge_alert(self: Store, alert_id: int, *, actor: str | User, comment: str = "") -> Alert:
        """Acknowledge an open alert."""
        alert = self._alert(alert_id)
        self._authorize_actor(actor, "acknowledge_alert", subject=alert.review_id)
        comment = check_text(comment or "", what="comment")
        if alert.acknowledged_at is not None:
            raise StoreError(f"alert {alert_id} was already acknowledged by {alert.acknowledged_by}")
        with self.transaction():
            self._execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?, ack_comment = ? "
                          "WHERE alert_id = ?", (self.now(), _name(actor), comment, alert.alert_id))
            self.audit(actor, "alert_acknowledged", alert.review_id,
                       {"alert_id": alert.alert_id, "rule": alert.rule, "comment": comment})
        return self._alert(alert_id)


__all__ = ["SEVERITIES", "Alert", "MonitoringBatch", "MonitoringMixin"]
