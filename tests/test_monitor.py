"""Monitoring: batches in the store, alerts from the readiness thresholds, review cadence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_ratio
from sklearn.metrics import roc_auc_score

from workbench.errors import StoreError
from workbench.replay import evaluate_rules, monitor_batch, review_schedule, review_schedule_for
from workbench.store import Store


@pytest.fixture(scope="module")
def review(demo_manifest):
    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest

    m = load_manifest(demo_manifest)
    return load_review(m.model_copy(update={"data": m.data.model_copy(update={"replay": None})}))


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "monitor.db") as s:
        yield s


def _batch(review, n=3000, seed=0):
    return review.evaluation.sample(n, random_state=seed).reset_index(drop=True)


def test_healthy_batch_raises_no_performance_alert_and_matches_oracles(review, store):
    batch = _batch(review)
    out = monitor_batch(review, batch, store=store, actor="cli:test", latency_sample=3,
                        today=dt.date.today())
    cand = out["metrics"]["models"]["candidate"]
    y = review.encode_labels(batch["approved"]).astype(int)
    s = review.models["candidate"].predict_scores(batch)
    assert cand["performance"]["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    dpr = demographic_parity_ratio(y, (s >= 0.5).astype(int), sensitive_features=batch["sex"])
    assert cand["fairness"]["sex"]["demographic_parity_ratio"] == pytest.approx(dpr, abs=1e-12)
    assert not any(a["rule"].startswith("roc_auc") for a in out["alerts"])
    assert out["metrics"]["drift"]["max_psi"] < 0.05  # evaluation rows look like the reference
    assert [b["batch_id"] for b in out["history"]] == [out["batch_id"]]


def test_planted_performance_drop_raises_stored_and_audited_alert(review, store, monkeypatch):
    batch = _batch(review, seed=1)
    rng = np.random.default_rng(3)
    flip = rng.random(len(batch)) < 0.35  # labels no longer follow the model: AUC falls
    batch["approved"] = np.where(flip, 1 - batch["approved"], batch["approved"])
    out = monitor_batch(review, batch, store=store, actor="cli:test", latency_sample=2, today=dt.date.today())
    auc = out["metrics"]["models"]["candidate"]["performance"]["roc_auc"]
    assert auc < 0.74
    fired = [a for a in out["alerts"] if a["rule"] == "roc_auc >= 0.74"]
    assert len(fired) == 1 and fired[0]["severity"] == "critical"
    stored = store.list_alerts(out["review_id"])
    assert any(a.rule == "roc_auc >= 0.74" and a.details["value"] == pytest.approx(auc) for a in stored)
    actions = [e.action for e in store.audit_entries(subject=out["review_id"])]
    assert "monitoring_batch_added" in actions and "alert_raised" in actions
    assert store.verify_audit().ok
    # the same batch again: recorded once (and not scored again), no duplicate alerts
    def rescored(*args, **kwargs):
        raise AssertionError("a recorded batch was scored again")

    monkeypatch.setattr("workbench.replay._monitor.batch_metrics", rescored)
    again = monitor_batch(review, batch, store=store, actor="cli:test", latency_sample=2, today=dt.date.today())
    assert again["new_batch"] is False and again["batch_id"] == out["batch_id"]
    assert len(store.list_alerts(out["review_id"])) == len(stored)


def test_overdue_review_is_visible_in_store_and_audit(review, store):
    first = monitor_batch(review, _batch(review, 500, seed=2), store=store, actor="cli:test", latency_sample=1,
                          today=dt.date.today())
    assert first["review_schedule"]["status"] == "scheduled"
    late = dt.date.today() + dt.timedelta(days=120)  # cadence 90 days in the demo
    out = monitor_batch(review, _batch(review, 500, seed=4), store=store, actor="cli:test", latency_sample=1,
                        today=late)
    assert out["review_schedule"]["status"] == "overdue" and out["review_schedule"]["days_overdue"] == 30
    overdue = [a for a in store.list_alerts(out["review_id"], open_only=True) if a.rule == "review_overdue"]
    assert len(overdue) == 1
    assert any(e.action == "alert_raised" and e.payload.get("rule") == "review_overdue"
               for e in store.audit_entries(subject=out["review_id"]))
    assert len(out["history"]) == 2


def test_rule_directions_and_schedule():
    metrics = {"drift": {"max_psi": 0.1, "share_drifted": 0.0},
               "models": {"candidate": {"performance": {"roc_auc": 0.7, "brier_score": 0.3},
                                        "calibration": {"ece": 0.02}, "latency_ms": {"p95": 150.0},
                                        "fairness": {"sex": {"demographic_parity_ratio": 0.9},
                                                     "age": {"demographic_parity_ratio": 0.7}}}}}
    fired, skipped = evaluate_rules(metrics, {"roc_auc": 0.74, "psi": 0.25, "ece": 0.05, "brier_score": 0.2,
                                              "latency_ms.p95": 100, "demographic_parity_ratio": 0.8,
                                              "average_precision": 0.5})
    assert sorted(f["metric"] for f in fired) == ["brier_score", "demographic_parity_ratio", "latency_ms.p95", "roc_auc"]
    assert next(f for f in fired if f["metric"] == "demographic_parity_ratio")["value"] == 0.7  # worst group
    assert skipped == ["average_precision"]
    d0 = dt.date(2026, 1, 1)
    assert review_schedule(90, d0, dt.date(2026, 2, 1))["status"] == "scheduled"
    assert review_schedule(90, d0, dt.date(2026, 3, 25))["status"] == "due"
    assert review_schedule(90, d0, dt.date(2026, 4, 2))["status"] == "overdue"
    assert review_schedule(None, d0, dt.date(2027, 1, 1))["status"] == "no_cadence"
    pirs = review_schedule(90, d0, dt.date(2026, 3, 1), (dt.date(2025, 12, 1), dt.date(2026, 2, 1), dt.date(2026, 6, 1)))
    assert [p["status"] for p in pirs["post_implementation_reviews"]] == ["done", "overdue", "upcoming"]


def test_schedule_of_a_review_missing_from_the_store_names_it(review, store):
    # mypy found it: with no decision and no review row, the anchor date was read off None (AttributeError)
    with pytest.raises(StoreError, match="review 'not-stored' is not in the store"):
        review_schedule_for(store, review, "not-stored")


def test_cli_monitor_exit_codes(review, demo_manifest, tmp_path, monkeypatch):
    from workbench.cli import main

    batch = _batch(review, 800, seed=5)
    batch["approved"] = 1 - batch["approved"]  # inverted labels: AUC far below the floor
    path = tmp_path / "batch.parquet"
    batch.to_parquet(path)
    db = tmp_path / "cli.db"
    with Store.open(db) as s:  # a pipeline records batches with a token scoped 'monitor'
        ops = s.add_user("ops", ["operations"], password="ops-secret-1", actor="test")
        token, _ = s.create_token("ops", "monitor", expires=dt.date.today() + dt.timedelta(days=30), actor=ops)
    for var in ("WORKBENCH_USER", "WORKBENCH_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKBENCH_TOKEN", token)
    assert main(["monitor", str(demo_manifest), "--batch", str(path), "--db", str(db),
                 "--out", str(tmp_path / "m.json")]) == 1
    assert main(["monitor", str(demo_manifest), "--batch", str(tmp_path / "missing.parquet"),
                 "--db", str(db)]) == 2
    with Store.open(db) as s:
        assert {e.actor for e in s.audit_entries(action="monitoring_batch_added")} == {"ops"}


def test_prediction_drift_uses_the_manifests_drift_bins_like_the_evidence(demo_manifest, store):
    from workbench.artefacts import load_review
    from workbench.artefacts import load_manifest
    from workbench.metrics.drift import score_drift

    m = load_manifest(demo_manifest)
    m = m.model_copy(update={"data": m.data.model_copy(update={"replay": None}),
                             "settings": m.settings.model_copy(update={"drift_bins": 5})})
    review = load_review(m)
    batch = _batch(review, 2000, seed=4)
    out = monitor_batch(review, batch, store=store, actor="cli:test", latency_sample=1, today=dt.date.today())
    reference = review.reference if review.reference is not None else review.evaluation
    for role, model in review.models.items():
        expected = score_drift(model.predict_scores(reference), model.predict_scores(batch), n_bins=5,
                               bands=tuple(m.settings.drift_bands))["psi"]
        assert out["metrics"]["models"][role]["prediction_psi"] == pytest.approx(expected, rel=1e-12)
        default_bins = score_drift(model.predict_scores(reference), model.predict_scores(batch))["psi"]
        assert expected != pytest.approx(default_bins, rel=1e-6)  # the setting changes the number
