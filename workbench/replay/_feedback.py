"""Feedback and contests from the people a model's decisions affect, as monitored signals.

A record (``id``, ``kind`` contest/complaint/praise/comment, ``text``, ``outcome``
pending/upheld/overturned) comes from ``workbench feedback import feedback.csv`` or the support
staff's form in the app. Each is linked to the decision it is about: the promoted model's score and
decision, the group values of the sensitive features and, where the row's features are known (the
review's evaluation data), its reason codes (``workbench.explain.reason_codes``: top reasons in words,
what would most change the decision) under ``links["reasons"]``, so staff answering a contest see
them; a decision seen only in the live logs links to its monitoring window instead.

Signals per sensitive group: ``contest_rate`` = contests / decisions of the group (decisions from the
live windows, else the evaluation data) and ``overturn_rate`` = overturned / resolved contests.
The worst group is checked against ``readiness.monitoring.thresholds`` (``contest_rate``,
``overturn_rate``: ceilings); a breach raises an alert through the plan's channels. The signals,
with the live monitoring summary, go into the next review's evidence (``operations``) and packet.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.replay._alerts import channels_of, dispatch_alert
from workbench.replay._monitor import evaluate_rules

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.auth import User
    from workbench.store import Store

__all__ = ["FEEDBACK_COLUMNS", "add_feedback", "feedback_signals", "import_feedback", "operations_evidence"]

FEEDBACK_COLUMNS = ("id", "kind", "text", "outcome")
KINDS = ("contest", "complaint", "praise", "comment")
OUTCOMES = ("pending", "upheld", "overturned")
MAX_TEXT = 5000
MAX_ROWS = 100_000
SIGNALS = ("contest_rate", "overturn_rate")


def _read(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=MAX_ROWS + 1)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not a readable CSV ({exc})") from exc
    if len(frame) > MAX_ROWS:
        raise DataError(f"{path.name}: more than {MAX_ROWS} rows; split the file")
    missing = [c for c in ("id", "kind", "text") if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}; expected {', '.join(FEEDBACK_COLUMNS)}")
    if "outcome" not in frame.columns:
        frame["outcome"] = "pending"
    row: Any  # read with dtype=str and no NA: every cell is text
    for i, row in enumerate(frame.itertuples(index=False), start=2):  # line 1 is the header
        _check(row.id, row.kind, row.text, row.outcome or "pending", where=f"{path.name}: line {i}")
    frame["outcome"] = frame["outcome"].replace("", "pending")
    return frame


def _check(record_id: str, kind: str, text: str, outcome: str, *, where: str) -> None:
    if not str(record_id).strip():
        raise DataError(f"{where}: id: empty; give the id of the decision the feedback is about")
    if kind not in KINDS:
        raise DataError(f"{where}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    if outcome not in OUTCOMES:
        raise DataError(f"{where}: outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if len(text) > MAX_TEXT:
        raise DataError(f"{where}: text: {len(text)} characters; at most {MAX_TEXT}")


class _Linker:
    """Finds a decision by id in the evaluation data, else in the live windows' kept scores."""

    def __init__(self, review: ReviewData, store: Store, review_id: str) -> None:
        self.review, self.store, self.review_id = review, store, review_id
        self._expl: Any = None
        self._live: pd.DataFrame | None = None

    def live(self) -> pd.DataFrame:
        if self._live is None:
            parts = []
            for b in self.store.list_monitoring_batches(self.review_id):
                blob = self.store.batch_scores(b.batch_id)
                if blob is not None:
                    keep = pd.read_parquet(io.BytesIO(blob))
                    keep["batch_id"], keep["window_start"] = b.batch_id, b.window_start
                    parts.append(keep)
            self._live = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return self._live

    def link(self, record_id: str) -> dict[str, Any]:
        review, id_col = self.review, self.review.id_column
        sens = list(review.sensitive_features)
        if id_col and id_col in review.evaluation.columns:
            rows = review.evaluation[review.evaluation[id_col].astype(str) == record_id]
            if len(rows):
                row = rows.iloc[:1]
                score = float(np.asarray(review.models["candidate"].predict_scores(row), dtype=float).reshape(-1)[-1])
                return {"found": "evaluation", "score": score, "decision": int(score >= review.threshold),
                        "groups": {c: str(row[c].iloc[0]) for c in sens if c in row.columns},
                        "reasons": self._reasons(record_id)}
        live = self.live()
        if len(live) and "id" in live.columns:
            hit = live[live["id"] == record_id]
            if len(hit):
                r = hit.iloc[-1]
                live_score: float | None = None if pd.isna(r["score"]) else float(r["score"])
                return {"found": "live", "score": live_score,
                        "decision": None if live_score is None else int(live_score >= review.threshold),
                        "groups": {c: str(r[c]) for c in sens if c in hit.columns},
                        "batch_id": int(r["batch_id"]), "window_start": r["window_start"],
                        "reasons": {"available": False, "reason": "the live logs keep no features to explain"}}
        return {"found": None, "groups": {}, "reasons": {"available": False, "reason": "decision not found"}}

    def _reasons(self, record_id: str) -> dict[str, Any]:
        """The decision's reason codes (``workbench explain``), so staff answering a contest see them."""
        from workbench.explain import explain_review, reason_codes

        model = self.review.models["candidate"]
        if model.is_precomputed:
            return {"available": False, "reason": "precomputed scores: no model to explain"}
        try:
            if self._expl is None:  # the review's own explanation settings, computed once per import
                s = self.review.manifest.settings
                self._expl = explain_review(self.review, "candidate", n_rows=s.explain_rows,
                                            n_background=s.explain_background, seed=s.seed)
            return reason_codes(self.review, record_id, source="evaluation", explanation=self._expl).to_dict()
        except Exception as exc:  # noqa: BLE001 - a failed explanation is recorded, not fatal
            return {"available": False, "reason": f"{type(exc).__name__}: {exc}"[:200]}


def add_feedback(review: ReviewData, *, store: Store, actor: str | User, record_id: str, kind: str, text: str,
                 outcome: str = "pending", linker: _Linker | None = None) -> tuple[Any, bool]:
    """Record one piece of feedback linked to its decision (the app's form calls this)."""
    m = review.manifest
    _check(record_id, kind, text, outcome, where="feedback")
    review_id = store.review_id_for(m.name)
    if store.get_review(review_id) is None:
        store.upsert_review(m.name, manifest_path=str(m.source), evidence_digest=review.evidence_digest, actor=actor)
    linker = linker or _Linker(review, store, review_id)
    rid = str(record_id).strip()
    return store.add_feedback(review_id, record_id=rid, kind=kind, text=text, outcome=outcome,
                              links=linker.link(rid), actor=actor)


def _decisions_per_group(review: ReviewData, linker: _Linker) -> tuple[str, dict[str, dict[str, int]]]:
    live = linker.live()
    sens = list(review.sensitive_features)
    frame, source = (live, "live windows") if len(live) else (review.evaluation, "evaluation data")
    return source, {c: {str(k): int(v) for k, v in frame[c].astype(str).value_counts().items()}
                    for c in sens if c in frame.columns}


def feedback_signals(review: ReviewData, *, store: Store, linker: _Linker | None = None) -> dict[str, Any]:
    """Contest and overturn rates per sensitive group (worst group on top), from the stored feedback."""
    review_id = store.review_id_for(review.manifest.name)
    linker = linker or _Linker(review, store, review_id)
    records = store.list_feedback(review_id) if store.get_review(review_id) is not None else []
    source, decisions = _decisions_per_group(review, linker)
    groups: dict[str, dict[str, Any]] = {}
    worst: dict[str, tuple[float, str, str] | None] = {"contest_rate": None, "overturn_rate": None}
    for feature, counts in decisions.items():
        table: dict[str, Any] = {}
        for group, n in counts.items():
            mine = [r for r in records if r.links.get("groups", {}).get(feature) == group]
            contests = [r for r in mine if r.kind == "contest"]
            resolved = [r for r in contests if r.outcome != "pending"]
            overturned = sum(r.outcome == "overturned" for r in contests)
            entry = {"decisions": n, "contests": len(contests), "complaints": sum(r.kind == "complaint" for r in mine),
                     "praise": sum(r.kind == "praise" for r in mine), "resolved": len(resolved),
                     "overturned": overturned, "contest_rate": len(contests) / n if n else None,
                     "overturn_rate": overturned / len(resolved) if resolved else None}
            table[group] = entry
            for name in SIGNALS:
                v, best = entry[name], worst[name]
                if v is not None and (best is None or v > best[0]):
                    worst[name] = (v, feature, group)
        groups[feature] = table
    return {"records": len(records), "by_kind": {k: sum(r.kind == k for r in records) for k in KINDS},
            "by_outcome": {o: sum(r.outcome == o for r in records) for o in OUTCOMES},
            "unlinked": sum(r.links.get("found") is None for r in records), "decisions_from": source,
            "groups": groups,
            **{name: (None if w is None else {"value": w[0], "feature": w[1], "group": w[2]})
               for name, w in worst.items()}}


def _signal_alerts(review: ReviewData, signals: dict[str, Any], *, store: Store, actor: str | User, env: Any) -> list[Any]:
    m = review.manifest
    plan = m.readiness.monitoring if m.readiness is not None else None
    thresholds = {k: v for k, v in (plan.thresholds if plan else {}).items() if k in SIGNALS}
    metrics = {"drift": {}, "models": {"candidate": {k: (signals[k] or {}).get("value") for k in SIGNALS}}}
    fired, _ = evaluate_rules(metrics, thresholds)
    review_id = store.review_id_for(m.name)
    open_rules = {a.rule for a in store.list_alerts(review_id, open_only=True)}
    alerts = []
    for rule in fired:
        if rule["rule"] in open_rules:
            continue  # one open alert per signal until someone acknowledges it
        where = signals[rule["metric"]]
        alerts.append(store.add_alert(review_id, rule=rule["rule"], severity="critical",
                                      message=f"{rule['metric']} of {where['feature']}={where['group']} is "
                                      f"{rule['value']:.3g} (at most {rule['limit']:g}): review the contested "
                                      "decisions of this group", details={**rule, **where}, actor=actor))
    if channels_of(m):
        for alert in alerts:
            dispatch_alert(m, alert, store=store, review_id=review_id, env=env)
    return alerts


def import_feedback(review: ReviewData, path: Path, *, store: Store, actor: str | User, env: Mapping[str, str] | None = None
                    ) -> dict[str, Any]:
    """Import a feedback CSV (validated whole before anything is stored); signals and alerts after it."""
    frame = _read(Path(path))
    m = review.manifest
    review_id = store.review_id_for(m.name)
    if store.get_review(review_id) is None:
        store.upsert_review(m.name, manifest_path=str(m.source), evidence_digest=review.evidence_digest, actor=actor)
    linker = _Linker(review, store, review_id)
    new = 0
    row: Any  # validated text cells (_read)
    for row in frame.itertuples(index=False):
        _, created = add_feedback(review, store=store, actor=actor, record_id=row.id, kind=row.kind, text=row.text,
                                  outcome=row.outcome, linker=linker)
        new += created
    signals = feedback_signals(review, store=store, linker=linker)
    alerts = _signal_alerts(review, signals, store=store, actor=actor, env=env)
    return {"review_id": review_id, "imported": new, "duplicates": len(frame) - new, "signals": signals,
            "alerts": [{"alert_id": a.alert_id, "rule": a.rule, "message": a.message} for a in alerts]}


def operations_evidence(review: ReviewData, *, store: Store) -> dict[str, Any]:
    """What happened after promotion, for the next review's evidence: monitoring, alerts, feedback, re-reviews."""
    review_id = store.review_id_for(review.manifest.name)
    if store.get_review(review_id) is None:
        return {"status": "not_applicable", "reason": "no monitoring or feedback recorded for this review yet"}
    batches = store.list_monitoring_batches(review_id)
    alerts = store.list_alerts(review_id)
    deliveries = store.list_deliveries(review_id)
    scheduled = store.list_scheduled_reviews(review_id)
    return {
        "status": "ok",
        "monitoring": {"windows": len(batches), "rows": sum(b.rows for b in batches),
                       "first_window": batches[0].window_start if batches else None,
                       "last_window": batches[-1].window_end if batches else None,
                       "max_psi": max((b.metrics["drift"].get("max_psi") or 0.0 for b in batches), default=None)},
        "alerts": {"raised": len(alerts), "open": sum(a.acknowledged_at is None for a in alerts),
                   "rules": sorted({a.rule for a in alerts})},
        "deliveries": {"delivered": sum(d.status == "delivered" for d in deliveries),
                       "dead_letters": sum(d.status == "dead_letter" for d in deliveries)},
        "rereview": ({"status": scheduled[0].status, "reasons": scheduled[0].reasons, "opened_at": scheduled[0].created_at}
                     if scheduled else None),
        "feedback": feedback_signals(review, store=store),
    }
