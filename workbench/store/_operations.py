"""Operations records: alert deliveries, live-monitoring checkpoints, feedback, scheduled reviews.

Every write runs in one ``BEGIN IMMEDIATE`` transaction with its audit entry. The live monitor's
checkpoint advances in the same transaction as the window it scored
(:meth:`OperationsMixin.record_live_window`), so a crash either keeps both or neither: a restart
never counts a row twice and never skips one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.canonical import canonical_json
from workbench.errors import StoreError
from workbench.store._monitoring import MonitoringBatch, _batch

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.store._store import Store

DELIVERY_STATUSES = ("delivered", "failed", "dead_letter")
FEEDBACK_KINDS = ("contest", "complaint", "praise", "comment")
FEEDBACK_OUTCOMES = ("pending", "upheld", "overturned")


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an alert through one channel, and what came back."""

    delivery_id: int
    review_id: str
    alert_id: int | None
    channel: str
    kind: str
    attempt: int
    status: str
    receipt: dict[str, Any]
    body_sha256: str
    elapsed_ms: float
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Feedback:
    """A contest, complaint, praise or comment about one decision, linked to its prediction."""

    feedback_id: int
    review_id: str
    record_id: str
    kind: str
    text: str
    outcome: str
    links: dict[str, Any]
    digest: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class ScheduledReview:
    """A re-review opened because monitoring breaches persisted."""

    schedule_id: int
    review_id: str
    reasons: list[Any]
    status: str
    created_at: str
    created_by: str


def _name(actor: Any) -> str:
    return getattr(actor, "name", actor)


class OperationsMixin:
    """Operations methods; mixed into ``Store``."""

    # ------------------------------------------------------------------ deliveries
    def record_delivery(self: Store, review_id: str, *, alert_id: int | None, channel: str, kind: str,
                        attempt: int, status: str, receipt: dict[str, Any], body_sha256: str,
                        elapsed_ms: float, actor: str | User) -> Delivery:
        """Store one delivery attempt (audited as ``alert_delivery``)."""
        if status not in DELIVERY_STATUSES:
            raise StoreError(f"delivery status {status!r}: use one of {', '.join(DELIVERY_STATUSES)}")
        self._authorize_actor(actor, "monitoring")
        with self.transaction():
            delivery_id = self._insert("alert_deliveries", {"review_id": review_id, "alert_id": alert_id,
                                                            "channel": channel, "kind": kind,
                                                            "attempt": int(attempt), "status": status,
                                                            "receipt": canonical_json(receipt),
                                                            "body_sha256": body_sha256,
                                                            "elapsed_ms": float(elapsed_ms),
                                                            "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "alert_delivery", review_id,
                       {"delivery_id": delivery_id, "alert_id": alert_id, "channel": channel, "attempt": int(attempt),
                        "status": status, "body_sha256": body_sha256, "receipt": receipt})
        return self.list_deliveries(review_id, delivery_id=delivery_id)[0]

    def list_deliveries(self: Store, review_id: str, *, alert_id: int | None = None,
                        delivery_id: int | None = None) -> list[Delivery]:
        """Delivery attempts of a review, oldest first."""
        params: list[Any]
        sql, params = "SELECT * FROM alert_deliveries WHERE review_id = ?", [review_id]
        if alert_id is not None:
            sql, params = sql + " AND alert_id = ?", [*params, int(alert_id)]
        if delivery_id is not None:
            sql, params = sql + " AND delivery_id = ?", [*params, int(delivery_id)]
        return [Delivery(**{**r, "receipt": json.loads(r["receipt"])})
                for r in self._fetchall(sql + " ORDER BY delivery_id", params)]

    # ------------------------------------------------------------------ live monitoring
    def checkpoints(self: Store, review_id: str, source: str) -> dict[str, int]:
        """Rows already consumed per part (file or table) of a monitored source."""
        return {r["part"]: int(r["rows_done"]) for r in self._fetchall(
            "SELECT part, rows_done FROM monitor_checkpoints WHERE review_id = ? AND source = ?",
            (review_id, source))}

    def record_live_window(self: Store, review_id: str, *, source: str, advance: dict[str, tuple[int, int]],
                           batch_digest: str, rows: int, window_start: str, window_end: str,
                           metrics: dict[str, Any], scores: bytes | None, actor: str | User) -> MonitoringBatch:
        """Store one window's metrics and move the checkpoint, atomically.

        ``advance`` maps each part to ``(rows_done_before, rows_done_after)``; when the stored
        checkpoint is not ``rows_done_before`` another monitor got there first and nothing is written.
        """
        self._authorize_actor(actor, "monitoring")
        self._require_review(review_id)
        with self.transaction():
            for part, (before, after) in advance.items():
                row = self._fetchone("SELECT rows_done FROM monitor_checkpoints WHERE review_id = ? AND source = ? "
                                     "AND part = ?", (review_id, source, part))
                if (0 if row is None else int(row["rows_done"])) != before:
                    raise StoreError(f"monitor checkpoint of {part}: expected {before} rows done, found "
                                     f"{row['rows_done'] if row else 0}; is another monitor running on {source}?")
                self._upsert("monitor_checkpoints", {"review_id": review_id, "source": source, "part": part,
                                                     "rows_done": int(after), "updated_at": self.now()},
                             pk=("review_id", "source", "part"))
            batch_id = self._insert("monitoring_batches", {"review_id": review_id, "batch_digest": batch_digest,
                                                           "rows": int(rows), "window_start": window_start,
                                                           "window_end": window_end,
                                                           "metrics": canonical_json(metrics),
                                                           "created_at": self.now(), "created_by": _name(actor)})
            if scores is not None:
                self._insert("monitor_scores", {"batch_id": batch_id, "payload": scores})
            self.audit(actor, "monitoring_window_added", review_id,
                       {"batch_id": batch_id, "source": source, "rows": int(rows), "window_start": window_start,
                        "window_end": window_end,
                        "checkpoint": {p: list(v) for p, v in sorted(advance.items())}})
        return _batch(self._fetchone("SELECT * FROM monitoring_batches WHERE batch_id = ?",
                                     (batch_id,)))  # type: ignore[arg-type]

    def batch_scores(self: Store, batch_id: int) -> bytes | None:
        """The stored id/score/group table of a live window (Parquet bytes), if any."""
        row = self._fetchone("SELECT payload FROM monitor_scores WHERE batch_id = ?", (int(batch_id),))
        return None if row is None else bytes(row["payload"])

    def advance_checkpoint(self: Store, review_id: str, *, source: str, part: str, before: int, after: int,
                           actor: str | User) -> None:
        """Move one checkpoint (e.g. of an outcomes file) from ``before`` to ``after`` rows."""
        self._authorize_actor(actor, "monitoring")
        with self.transaction():
            done = self.checkpoints(review_id, source).get(part, 0)
            if done != before:
                raise StoreError(f"checkpoint of {part}: expected {before} rows done, found {done}")
            self._upsert("monitor_checkpoints", {"review_id": review_id, "source": source, "part": part,
                                                 "rows_done": int(after), "updated_at": self.now()},
                         pk=("review_id", "source", "part"))
            self.audit(actor, "monitor_checkpoint", review_id, {"source": source, "part": part, "before": before,
                                                                 "after": after})

    def update_batch_metrics(self: Store, batch_id: int, metrics: dict[str, Any], *, reason: str,
                             actor: str | User, scores: bytes | None = None) -> MonitoringBatch:
        """Replace a window's metrics (and its kept scores: late labels arrived); audited with the reason."""
        self._authorize_actor(actor, "monitoring")
        with self.transaction():
            row = self._fetchone("SELECT review_id FROM monitoring_batches WHERE batch_id = ?", (int(batch_id),))
            if row is None:
                raise StoreError(f"monitoring batch {batch_id} does not exist")
            self._execute("UPDATE monitoring_batches SET metrics = ? WHERE batch_id = ?",
                          (canonical_json(metrics), int(batch_id)))
            if scores is not None:
                self._execute("UPDATE monitor_scores SET payload = ? WHERE batch_id = ?", (scores, int(batch_id)))
            self.audit(actor, "monitoring_window_updated", row["review_id"],
                       {"batch_id": int(batch_id), "reason": reason,
                        "metrics_sha256": hashlib.sha256(canonical_json(metrics).encode()).hexdigest()})
        return _batch(self._fetchone("SELECT * FROM monitoring_batches WHERE batch_id = ?",
                                     (int(batch_id),)))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ feedback
    def add_feedback(self: Store, review_id: str, *, record_id: str, kind: str, text: str, outcome: str,
                     links: dict[str, Any], actor: str | User) -> tuple[Feedback, bool]:
        """Record feedback on one decision; ``(record, created)``. The same record twice is stored once."""
        if kind not in FEEDBACK_KINDS:
            raise StoreError(f"feedback kind {kind!r}: use one of {', '.join(FEEDBACK_KINDS)}")
        if outcome not in FEEDBACK_OUTCOMES:
            raise StoreError(f"feedback outcome {outcome!r}: use one of {', '.join(FEEDBACK_OUTCOMES)}")
        if not str(record_id).strip():
            raise StoreError("feedback: give the id of the decision it is about")
        self._authorize_actor(actor, "monitoring")
        self._require_review(review_id)
        digest = hashlib.sha256(canonical_json([str(record_id), kind, text, outcome]).encode()).hexdigest()
        with self.transaction():
            row = self._fetchone("SELECT * FROM feedback WHERE review_id = ? AND digest = ?", (review_id, digest))
            if row is not None:
                return _feedback(row), False
            feedback_id = self._insert("feedback", {"review_id": review_id, "record_id": str(record_id),
                                                    "kind": kind, "text": text, "outcome": outcome,
                                                    "links": canonical_json(links), "digest": digest,
                                                    "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "feedback_added", review_id, {"feedback_id": feedback_id, "record_id": str(record_id),
                                                            "kind": kind, "outcome": outcome, "digest": digest})
            row = self._fetchone("SELECT * FROM feedback WHERE feedback_id = ?", (feedback_id,))
        return _feedback(row), True  # type: ignore[arg-type]

    def list_feedback(self: Store, review_id: str) -> list[Feedback]:
        """Feedback of a review, oldest first."""
        return [_feedback(r) for r in self._fetchall("SELECT * FROM feedback WHERE review_id = ? ORDER BY feedback_id",
                                                     (review_id,))]

    # ------------------------------------------------------------------ scheduled reviews
    def open_scheduled_review(self: Store, review_id: str, *, reasons: list[Any],
                              actor: str | User) -> tuple[ScheduledReview, bool]:
        """Open a re-review unless one is already open; ``(record, created)``."""
        self._authorize_actor(actor, "monitoring")
        self._require_review(review_id)
        with self.transaction():
            row = self._fetchone("SELECT * FROM scheduled_reviews WHERE review_id = ? AND status = 'open'",
                                 (review_id,))
            if row is not None:
                return _scheduled(row), False
            schedule_id = self._insert("scheduled_reviews", {"review_id": review_id,
                                                             "reasons": canonical_json(reasons),
                                                             "status": "open", "created_at": self.now(),
                                                             "created_by": _name(actor)})
            self.audit(actor, "rereview_scheduled", review_id, {"schedule_id": schedule_id, "reasons": reasons})
            row = self._fetchone("SELECT * FROM scheduled_reviews WHERE schedule_id = ?", (schedule_id,))
        return _scheduled(row), True  # type: ignore[arg-type]

    def list_scheduled_reviews(self: Store, review_id: str) -> list[ScheduledReview]:
        """Re-reviews opened for the review, newest first."""
        return [_scheduled(r) for r in self._fetchall(
            "SELECT * FROM scheduled_reviews WHERE review_id = ? ORDER BY schedule_id DESC", (review_id,))]


def _feedback(row: dict[str, Any]) -> Feedback:
    return Feedback(**{**row, "links": json.loads(row["links"])})


def _scheduled(row: dict[str, Any]) -> ScheduledReview:
    return ScheduledReview(**{**row, "reasons": json.loads(row["reasons"])})


__all__ = ["DELIVERY_STATUSES", "FEEDBACK_KINDS", "FEEDBACK_OUTCOMES", "Delivery", "Feedback", "OperationsMixin",
           "ScheduledReview"]
