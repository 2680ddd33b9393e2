"""Feedback and contests: import, links to the decision, contest/overturn rates per group, alerts,
and the next review's evidence and packet."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pandas as pd
import pytest

from tests._receivers import webhook  # noqa: F401 - fixture
from tests._small_review import write_small_review
from workbench.artefacts import load_manifest, load_review
from workbench.replay import add_feedback, feedback_signals, operations_evidence
from workbench.store import Store, review_id_for


@pytest.fixture()
def scenario(tmp_path, webhook, monkeypatch):
    manifest = write_small_review(tmp_path / "review", n=600, extra={
        "readiness": {"monitoring": {"thresholds": {"contest_rate": 0.05, "overturn_rate": 0.5},
                                     "alerts": [{"kind": "webhook", "url": webhook.url}]}}})
    review = load_review(load_manifest(manifest))
    ev = review.evaluation
    in_a = ev[ev["group"] == "a"]["row_id"].tolist()
    in_b = ev[ev["group"] == "b"]["row_id"].tolist()
    rows = ([{"id": i, "kind": "contest", "text": "I was wrongly declined", "outcome": "overturned" if k % 2 else "upheld"}
             for k, i in enumerate(in_a[:30])]
            + [{"id": i, "kind": "contest", "text": "please check", "outcome": "upheld"} for i in in_b[:4]]
            + [{"id": in_b[10], "kind": "praise", "text": "quick answer, thanks", "outcome": ""},
               {"id": "unknown-7", "kind": "complaint", "text": "no reply for weeks", "outcome": "pending"}])
    csv = tmp_path / "feedback.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    with Store.open(tmp_path / "w.db") as store:  # support staff import feedback signed in
        store.add_user("sue", ["reviewer"], password="sue-secret-1", actor="test")
    monkeypatch.setenv("WORKBENCH_USER", "sue")
    monkeypatch.setenv("WORKBENCH_PASSWORD", "sue-secret-1")
    return {"manifest": manifest, "review": review, "csv": csv, "db": tmp_path / "w.db", "a": in_a, "b": in_b,
            "webhook": webhook, "tmp": tmp_path}


def test_import_links_decisions_and_alerts_on_the_contest_rate(scenario):
    from workbench.cli import main

    s = scenario
    out = s["tmp"] / "fb.json"
    assert main(["feedback", "import", str(s["manifest"]), str(s["csv"]), "--db", str(s["db"]), "--out", str(out)]) == 1
    result = json.loads(out.read_text())
    assert result["imported"] == 36 and result["duplicates"] == 0
    review, ev = s["review"], s["review"].evaluation
    groups = result["signals"]["groups"]["group"]
    n_a, n_b = int((ev["group"] == "a").sum()), int((ev["group"] == "b").sum())
    assert groups["a"]["decisions"] == n_a and groups["a"]["contests"] == 30
    assert groups["a"]["contest_rate"] == pytest.approx(30 / n_a)
    assert groups["a"]["overturn_rate"] == pytest.approx(15 / 30) and groups["b"]["overturn_rate"] == 0
    assert result["signals"]["contest_rate"] == {"value": pytest.approx(30 / n_a), "feature": "group", "group": "a"}
    assert result["signals"]["unlinked"] == 1
    [alert] = result["alerts"]
    assert alert["rule"] == "contest_rate <= 0.05" and "group=a" in alert["message"]
    [body] = [json.loads(r["body"]) for r in s["webhook"].requests]
    assert body["alert"] == "contest_rate <= 0.05"
    with Store.open(s["db"]) as store:
        records = store.list_feedback(review_id_for("small review"))
        first = next(r for r in records if r.record_id == s["a"][0])
        row = ev[ev["row_id"] == s["a"][0]]
        expected = float(review.models["candidate"].predict_scores(row)[0])
        assert first.links["found"] == "evaluation" and first.links["score"] == pytest.approx(expected, abs=1e-12)
        assert first.links["decision"] == int(expected >= review.threshold) and first.links["groups"] == {"group": "a"}
        # the contest carries the decision's reason codes: the contributions that pushed towards it
        reasons = first.links["reasons"]
        pushed = sorted((c for c in reasons["contributions"] if (c["contribution"] > 0) == (expected >= 0.5)
                         and c["contribution"] != 0), key=lambda c: -abs(c["contribution"]))[:3]
        assert reasons["available"] and reasons["top"] == pushed and len(pushed) >= 1
        assert reasons["score"] == pytest.approx(expected, abs=1e-12) and reasons["row_id"] == s["a"][0]
        assert all(r["sentence"] for r in reasons["reasons"]) and "change" in reasons
        assert {e.action for e in store.audit_entries(subject=review_id_for("small review"))} >= {
            "feedback_added", "alert_raised", "alert_delivery"}
    # importing the same file again stores nothing new and raises no second alert
    assert main(["feedback", "import", str(s["manifest"]), str(s["csv"]), "--db", str(s["db"]), "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["imported"] == 0 and again["duplicates"] == 36 and again["alerts"] == []


@pytest.mark.parametrize(("rows", "message"), [
    ([{"id": "r1", "kind": "appeal", "text": "x", "outcome": "pending"}], "line 2: kind: 'appeal'"),
    ([{"id": "r1", "kind": "contest", "text": "x", "outcome": "won"}], "line 2: outcome: 'won'"),
    ([{"id": "", "kind": "contest", "text": "x", "outcome": "pending"}], "line 2: id: empty"),
    ([{"id": "r1", "kind": "contest", "text": "x" * 6000, "outcome": "pending"}], "at most 5000"),
    ([{"ident": "r1", "kind": "contest", "text": "x"}], "missing column(s) id"),
])
def test_bad_feedback_files_exit_2_naming_the_line(scenario, rows, message, capsys):
    from workbench.cli import main

    bad = scenario["tmp"] / "bad.csv"
    pd.DataFrame(rows).to_csv(bad, index=False)
    assert main(["feedback", "import", str(scenario["manifest"]), str(bad), "--db", str(scenario["db"])]) == 2
    assert message in capsys.readouterr().err
    with Store.open(scenario["db"]) as store:  # validated whole before anything is stored
        assert store.get_review(review_id_for("small review")) is None or not store.list_feedback(
            review_id_for("small review"))


def test_a_live_only_decision_links_to_its_window(scenario):
    from workbench.replay import monitor_source

    s = scenario
    live = s["review"].evaluation.head(200).copy()
    live["row_id"] = [f"live-{i}" for i in range(len(live))]
    live["timestamp"] = pd.Timestamp("2025-02-01", tz="UTC") + pd.to_timedelta(range(len(live)), unit="min")
    (s["tmp"] / "logs").mkdir()
    live.drop(columns=["label"]).to_parquet(s["tmp"] / "logs" / "a.parquet", index=False)
    with Store.open(s["db"]) as store:
        monitor_source(s["review"], str(s["tmp"] / "logs" / "*.parquet"), store=store, actor="cli:test",
                       deliver=False, n_boot=0)
        record, created = add_feedback(s["review"], store=store, actor="support:jo", record_id="live-5",
                                       kind="contest", text="why?")
        assert created and record.links["found"] == "live" and record.links["batch_id"] == 1
        assert record.links["groups"]["group"] == live.iloc[5]["group"]
        signals = feedback_signals(s["review"], store=store)
        assert signals["decisions_from"] == "live windows"
        assert sum(g["decisions"] for g in signals["groups"]["group"].values()) == 200


def test_operations_go_into_the_next_evidence_and_packet(scenario):
    from workbench.cli import main
    from workbench.evidence import build_evidence
    from workbench.report import PacketInput, build_packet

    s = scenario
    main(["feedback", "import", str(s["manifest"]), str(s["csv"]), "--db", str(s["db"])])
    with Store.open(s["db"]) as store:
        ops = operations_evidence(s["review"], store=store)
    assert ops["status"] == "ok" and ops["alerts"]["open"] == 1 and ops["feedback"]["by_kind"]["contest"] == 34
    ev = build_evidence(s["review"], include=["metrics"], operations=ops)
    schema = json.loads(resources.files("workbench").joinpath("schemas/evidence.schema.json").read_text())
    jsonschema.validate(ev, schema)
    assert ev["operations"]["feedback"]["contest_rate"]["group"] == "a"
    packet = build_packet(PacketInput(review_name="r", generated_at="2026-01-01T00:00:00Z", generated_by="t",
                                      evidence=ev, decision={"decision": "PENDING"},
                                      readiness_plan=s["review"].manifest.readiness.model_dump(mode="json")))
    readiness = next(sec for sec in packet.sections if sec.id == "readiness")
    texts = json.dumps([getattr(b, "text", None) or getattr(b, "rows", None) for b in readiness.blocks])
    assert "Operations since the last review" in texts and "contest_rate <= 0.05" in texts
    assert "group = a" in texts
