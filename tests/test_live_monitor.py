"""Live monitoring end to end: drifting logs through `monitor --source`, signed webhook and e-mail
received on 127.0.0.1, nothing counted twice across a crash and a restart, late labels, re-review."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests._receivers import smtp_server, webhook  # noqa: F401 - fixtures
from tests._small_review import make_frame, write_small_review
from workbench.replay import SIGNATURE_HEADER, verify_signature
from workbench.store import Store, review_id_for

SECRET = "live-monitor-secret"
DAY = pd.Timestamp("2025-03-01", tz="UTC")
ROWS_PER_DAY = 400


def _day(day: int, *, drift: bool, seed: int) -> pd.DataFrame:
    frame = make_frame(ROWS_PER_DAY, seed)
    frame["row_id"] = [f"d{day}-{i}" for i in range(len(frame))]
    if drift:
        frame["x1"] = frame["x1"] + 2.5
    frame["timestamp"] = DAY + pd.Timedelta(days=day) + pd.to_timedelta(np.linspace(0, 86000, len(frame)), unit="s")
    return frame


@pytest.fixture()
def scenario(tmp_path, webhook, smtp_server, monkeypatch):
    monkeypatch.setenv("WB_HOOK_SECRET", SECRET)
    channels = [{"kind": "webhook", "name": "ops-hook", "url": webhook.url, "secret_env": "WB_HOOK_SECRET"},
                {"kind": "email", "name": "on-call", "to": ["oncall@example.org"],
                 "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "ca_file": str(smtp_server.ca_file)}}]
    manifest = write_small_review(tmp_path / "review", n=800, extra={
        "replay": {"timestamp_column": "timestamp", "window": "1D"},
        "readiness": {"monitoring": {"thresholds": {"psi": 0.25, "roc_auc": 0.6}, "alerts": channels,
                                     "rereview_after_windows": 2}}})
    days = [_day(d, drift=d >= 2, seed=10 + d) for d in range(4)]
    _operator(tmp_path / "w.db", monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    return {"manifest": manifest, "days": days, "logs": logs, "db": tmp_path / "w.db", "webhook": webhook,
            "smtp": smtp_server, "tmp": tmp_path}


def _operator(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operations user whose credentials the monitor runs with (every write signs in)."""
    with Store.open(db) as store:
        store.add_user("olga", ["operations"], password="olga-secret-1", actor="test")
    monkeypatch.setenv("WORKBENCH_USER", "olga")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "olga-secret-1")


def _write(logs: Path, name: str, frame: pd.DataFrame) -> None:
    frame.drop(columns=["label"]).to_parquet(logs / name, index=False, row_group_size=150)


def _main(s, *extra):
    from workbench.cli import main

    return main(["monitor", str(s["manifest"]), "--source", str(s["logs"] / "*.parquet"), "--db", str(s["db"]),
                 "--out", str(s["tmp"] / "out.json"), "--fairness-boot", "50", *extra])


def _batches(db: Path):
    with Store.open(db) as store:
        return store.list_monitoring_batches(review_id_for("small review"))


def test_drifting_logs_deliver_signed_webhook_and_email_and_count_each_row_once(scenario, monkeypatch):
    s = scenario
    d0, d1, d2, d3 = s["days"]
    # two files; a window (day 1) spans both
    _write(s["logs"], "part-000.parquet", pd.concat([d0, d1.iloc[:250]]))
    _write(s["logs"], "part-001.parquet", pd.concat([d1.iloc[250:], d2]))
    # a crash after the first window is stored: the second run must neither recount nor skip
    from workbench.store import Store as S

    real = S.record_live_window
    calls = {"n": 0}

    def crash_second(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(S, "record_live_window", crash_second)
    # the CLI turns the crash into one line and exit 2 (never a traceback, never NO-GO's exit 1)
    assert _main(s) == 2
    assert [b.rows for b in _batches(s["db"])] == [ROWS_PER_DAY]
    monkeypatch.setattr(S, "record_live_window", real)

    assert _main(s) == 1  # day 2 drifts: psi alert
    batches = _batches(s["db"])
    assert [b.rows for b in batches] == [ROWS_PER_DAY] * 3
    assert [b.window_start[:10] for b in batches] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert batches[2].metrics["drift"]["max_psi"] > 0.25 > batches[1].metrics["drift"]["max_psi"]

    # the breach reached people: a signed webhook and an e-mail
    hook = s["webhook"].requests
    psi_bodies = [json.loads(r["body"]) for r in hook if json.loads(r["body"])["alert"].startswith("psi")]
    assert len(psi_bodies) == 1 and psi_bodies[0]["window"]["window_start"].startswith("2025-03-03")
    request = next(r for r in hook if json.loads(r["body"])["alert"].startswith("psi"))
    assert verify_signature(request["body"], request["headers"][SIGNATURE_HEADER], SECRET)
    assert any("psi <= 0.25" in m["data"] and m["tls"] for m in s["smtp"].messages)

    # a restart with nothing new reads nothing and alerts nothing
    sent = len(hook)
    assert _main(s) == 0
    assert len(_batches(s["db"])) == 3 and len(s["webhook"].requests) == sent

    # a new file: only its rows are read; a second drifting window in a row recommends a re-review
    _write(s["logs"], "part-002.parquet", d3)
    assert _main(s) == 1
    batches = _batches(s["db"])
    assert sum(b.rows for b in batches) == 4 * ROWS_PER_DAY and len(batches) == 4
    out = json.loads((s["tmp"] / "out.json").read_text())
    assert out["rows_read"] == ROWS_PER_DAY and out["rereview"]["status"] == "re-review recommended"
    assert {a["rule"] for a in out["alerts"]} >= {"psi <= 0.25", "re_review_recommended"}
    with Store.open(s["db"]) as store:
        rid = review_id_for("small review")
        [scheduled] = store.list_scheduled_reviews(rid)
        assert scheduled.status == "open" and scheduled.reasons[0]["metric"] == "psi"
        assert store.checkpoints(rid, out["source"]) == {
            str(s["logs"] / "part-000.parquet"): 650, str(s["logs"] / "part-001.parquet"): 550,
            str(s["logs"] / "part-002.parquet"): 400}
        deliveries = store.list_deliveries(rid)
        assert deliveries and all(d.status == "delivered" for d in deliveries)
        actions = {e.action for e in store.audit_entries(subject=rid)}
        assert {"monitoring_window_added", "alert_raised", "alert_delivery", "rereview_scheduled"} <= actions
        assert store.verify_audit().ok
    assert any(json.loads(r["body"])["alert"] == "re_review_recommended" for r in s["webhook"].requests)


def test_late_labels_update_the_windows_they_belong_to(scenario):
    s = scenario
    d0, d1, *_ = s["days"]
    _write(s["logs"], "part-000.parquet", pd.concat([d0, d1]))
    assert _main(s) == 0
    before = _batches(s["db"])
    assert before[0].metrics["models"]["candidate"]["n_labelled"] == 0
    outcomes = s["tmp"] / "outcomes.parquet"
    d0[["row_id", "label"]].iloc[:300].to_parquet(outcomes, index=False)
    _main(s, "--outcomes", str(outcomes))
    after = _batches(s["db"])
    cand = after[0].metrics["models"]["candidate"]
    assert cand["n_labelled"] == 300 and after[1].metrics["models"]["candidate"]["n_labelled"] == 0
    # oracle: the candidate's AUC on exactly those rows
    from workbench.artefacts import load_manifest, load_review

    review = load_review(load_manifest(s["manifest"]))
    rows = d0.iloc[:300]
    expected = roc_auc_score(rows["label"], review.models["candidate"].predict_scores(rows))
    assert cand["performance"]["roc_auc"] == pytest.approx(expected, abs=1e-12)
    fair = cand["fairness"]["group"]
    assert fair["labelled"] and "equalized_odds_difference" in fair and len(fair["ci"]["equalized_odds_difference"]) == 2
    # the same outcomes again change nothing (checkpointed)
    out = _main(s, "--outcomes", str(outcomes))
    assert json.loads((s["tmp"] / "out.json").read_text())["labels_applied"] == 0 and out == 0


def test_a_duckdb_table_is_read_incrementally(scenario):
    import duckdb

    from workbench.artefacts import load_manifest, load_review
    from workbench.replay import monitor_source

    s = scenario
    path = s["tmp"] / "logs.duckdb"
    d0, d1, d2, _ = s["days"]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE preds AS SELECT * FROM d0")
    review = load_review(load_manifest(s["manifest"]))
    with Store.open(s["db"]) as store:
        first = monitor_source(review, f"duckdb:{path}::preds", store=store, actor="cli:test", deliver=False, n_boot=0)
        assert first["rows_read"] == ROWS_PER_DAY and len(first["windows"]) == 1
        with duckdb.connect(str(path)) as con:
            con.execute("INSERT INTO preds SELECT * FROM d1")
            con.execute("INSERT INTO preds SELECT * FROM d2")
        second = monitor_source(review, f"duckdb:{path}::preds", store=store, actor="cli:test", deliver=False, n_boot=0)
        assert second["rows_read"] == 2 * ROWS_PER_DAY and len(second["windows"]) == 2
        assert sum(b.rows for b in store.list_monitoring_batches(first["review_id"])) == 3 * ROWS_PER_DAY
        # hostile table names never reach SQL
        with pytest.raises(Exception, match="cannot read table|not found"):
            monitor_source(review, f"duckdb:{path}::missing", store=store, actor="cli:test", deliver=False)
    from workbench.cli import main

    assert main(["monitor", str(s["manifest"]), "--source", f"duckdb:{path}::preds; DROP TABLE preds",
                 "--db", str(s["db"])]) == 2


def test_an_open_window_waits_and_a_shrunk_file_is_refused(scenario):
    from workbench.artefacts import load_manifest, load_review
    from workbench.replay import monitor_source

    s = scenario
    today = pd.Timestamp.now(tz="UTC").floor("1D")
    frame = s["days"][0].copy()
    frame["timestamp"] = today + pd.to_timedelta(np.linspace(0, 60, len(frame)), unit="s")
    _write(s["logs"], "part-000.parquet", frame)
    review = load_review(load_manifest(s["manifest"]))
    with Store.open(s["db"]) as store:
        out = monitor_source(review, str(s["logs"] / "*.parquet"), store=store, actor="cli:test", deliver=False,
                             n_boot=0)
        assert out["windows"] == [] and out["rows_read"] == 0  # today's window is still open
        _write(s["logs"], "part-000.parquet", s["days"][0])
        monitor_source(review, str(s["logs"] / "*.parquet"), store=store, actor="cli:test", deliver=False, n_boot=0)
        _write(s["logs"], "part-000.parquet", s["days"][0].iloc[:100])
        from workbench.errors import DataError

        with pytest.raises(DataError, match="must only grow"):
            monitor_source(review, str(s["logs"] / "*.parquet"), store=store, actor="cli:test", deliver=False)


def test_every_loop_stops_cleanly_on_sigterm(scenario):
    s = scenario
    _write(s["logs"], "part-000.parquet", s["days"][0])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "monitor", str(s["manifest"]), "--source",
         str(s["logs"] / "*.parquet"), "--db", str(s["db"]), "--every", "1s", "--no-deliver", "--fairness-boot", "0",
         "--out", str(s["tmp"] / "loop.json")],
        env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not (s["tmp"] / "loop.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (s["tmp"] / "loop.json").exists(), "the loop never ran"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "monitor stopped after" in err and "Traceback" not in err
    assert [b.rows for b in _batches(s["db"])] == [ROWS_PER_DAY]


def test_microsecond_timestamps_land_in_the_right_window(scenario):
    from workbench.artefacts import load_manifest, load_review
    from workbench.replay import monitor_source

    s = scenario
    frame = s["days"][0].copy()
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us, UTC]")  # what many Parquet writers store
    _write(s["logs"], "part-000.parquet", frame)
    review = load_review(load_manifest(s["manifest"]))
    with Store.open(s["db"]) as store:
        out = monitor_source(review, str(s["logs"] / "*.parquet"), store=store, actor="cli:test", deliver=False,
                             n_boot=0)
    assert [w["window_start"][:10] for w in out["windows"]] == ["2025-03-01"]


def test_a_checkpoint_edited_in_the_file_is_refused(scenario):
    import sqlite3

    from workbench.artefacts import load_manifest, load_review
    from workbench.errors import StoreError
    from workbench.replay import monitor_source

    s = scenario
    _write(s["logs"], "part-000.parquet", pd.concat(s["days"][:2]))
    review = load_review(load_manifest(s["manifest"]))
    pattern = str(s["logs"] / "*.parquet")
    with Store.open(s["db"]) as store:
        monitor_source(review, pattern, store=store, actor="cli:test", deliver=False, n_boot=0)
    # someone with the database file but no business rewinding the checkpoint (rows would count twice)
    with sqlite3.connect(s["db"]) as conn:
        conn.execute("UPDATE monitor_checkpoints SET rows_done = 100")
    with Store.open(s["db"]) as store:
        with pytest.raises(StoreError, match="edited outside the workbench"):
            monitor_source(review, pattern, store=store, actor="cli:test", deliver=False, n_boot=0)
        assert sum(b.rows for b in store.list_monitoring_batches(review_id_for("small review"))) == 2 * ROWS_PER_DAY
    # or skipping rows ahead
    with sqlite3.connect(s["db"]) as conn:
        conn.execute("UPDATE monitor_checkpoints SET rows_done = 900")
    with Store.open(s["db"]) as store, pytest.raises(StoreError, match="account for 800"):
        monitor_source(review, pattern, store=store, actor="cli:test", deliver=False, n_boot=0)
    # or deleting it (every row would be read again)
    with sqlite3.connect(s["db"]) as conn:
        conn.execute("DELETE FROM monitor_checkpoints")
    with Store.open(s["db"]) as store, pytest.raises(StoreError, match="0 rows marked read"):
        monitor_source(review, pattern, store=store, actor="cli:test", deliver=False, n_boot=0)


def test_late_labels_that_breach_performance_raise_an_alert(scenario):
    s = scenario
    d0, d1, *_ = s["days"]
    _write(s["logs"], "part-000.parquet", pd.concat([d0, d1]))
    assert _main(s, "--no-deliver") == 0
    outcomes = s["tmp"] / "outcomes.parquet"
    flipped = d1[["row_id", "label"]].assign(label=1 - d1["label"])  # the model now gets them wrong
    flipped.to_parquet(outcomes, index=False)
    assert _main(s, "--outcomes", str(outcomes)) == 1
    out = json.loads((s["tmp"] / "out.json").read_text())
    assert out["labels_applied"] == 1 and [a["rule"] for a in out["alerts"]] == ["roc_auc >= 0.6"]
    assert any(json.loads(r["body"])["alert"] == "roc_auc >= 0.6" for r in s["webhook"].requests)
    assert _main(s, "--outcomes", str(outcomes)) == 0  # nothing new: no second alert


def test_the_alerting_protocol_is_verified_on_the_review_cadence(tmp_path, webhook):
    import datetime as dt

    from workbench.artefacts import load_manifest, load_review
    from workbench.replay import monitor_source

    manifest = write_small_review(tmp_path / "review", n=400, extra={
        "replay": {"timestamp_column": "timestamp", "window": "1D"},
        "readiness": {"monitoring": {"cadence_days": 30, "alerts": [{"kind": "webhook", "url": webhook.url}]}}})
    review = load_review(load_manifest(manifest))
    (tmp_path / "logs").mkdir()
    pattern = str(tmp_path / "logs" / "*.parquet")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tests = lambda: [json.loads(r["body"]) for r in webhook.requests if json.loads(r["body"])["test"]]  # noqa: E731
    for days, expected in ((0, 1), (10, 1), (31, 2)):
        with Store.open(tmp_path / "w.db", clock=lambda d=days: start + dt.timedelta(days=d)) as store:
            out = monitor_source(review, pattern, store=store, actor="cli:test", n_boot=0)
        assert len(tests()) == expected, days
        assert (out["alerting_test"] is not None) == (days != 10)
