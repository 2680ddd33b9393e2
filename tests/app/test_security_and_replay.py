"""Untrusted manifests, typed paths, single sign-on and the shadow/canary/monitoring page, through app.py.

The replay page is compared with ``workbench.replay.run_replay`` computed here on the same demo;
the monitoring part with a batch recorded by ``workbench.replay.monitor_batch`` on a real store.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, app, ok, review_id, spec
from workbench.store import Store


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe shown with ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _signed_out() -> AppTest:
    """A fresh session that has not signed in with a password (not run yet)."""
    return AppTest.from_file(APP, default_timeout=240)


def _demo_files(demo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in [demo / "models" / "baseline.skops", demo / "data" / "evaluation.parquet",
                                             demo / "data" / "reference.parquet", demo / "policy.yaml",
                                             demo / "model_card.yaml"]}


def test_uploaded_manifest_asking_for_pickle_is_refused_and_nothing_is_unpickled(env, tmp_path):
    payload = pickle.dumps(_Payload(tmp_path / "proof.txt"))
    pickle.loads(payload).close()  # the payload really runs code when unpickled ...
    assert (tmp_path / "proof.txt").exists()
    marker = tmp_path / "pwned.txt"
    model = pickle.dumps(_Payload(marker))
    manifest = yaml.safe_load((env["demo"] / "review.yaml").read_text())
    manifest["candidate"] = {"path": "candidate.pkl", "name": "gbm", "version": "9.9", "allow_pickle": True,
                             "sha256": hashlib.sha256(model).hexdigest()}
    manifest["data"].pop("replay")
    at = ok(app("alice", load=False))
    at.file_uploader(key="upload_manifest").set_value(("review.yaml", yaml.safe_dump(manifest).encode(), "text/yaml"))
    files = [(n, b, "application/octet-stream") for n, b in {**_demo_files(env["demo"]), "candidate.pkl": model}.items()]
    at.file_uploader(key="upload_artefacts").set_value(files)
    at.run()
    at.button(key="open_upload").click().run()
    assert not at.exception
    assert at.error and "pickle/joblib models are not accepted here" in at.error[0].value
    assert not marker.exists()  # ... and the app never unpickled it
    assert at.session_state["wb_manifest"] is None if "wb_manifest" in at.session_state else True


def test_typed_path_outside_the_review_roots_is_refused(env, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_REVIEW_ROOTS", str(tmp_path / "reviews"))
    outside = env["demo"].parent / "elsewhere" / "review.yaml"
    at = ok(app("alice", load=False))
    at.text_input(key="manifest_path_input").set_value(str(outside)).run()
    at.button(key="open_path").click().run()
    assert not at.exception
    assert "can be opened only from" in at.error[0].value and str(tmp_path / "reviews") in at.error[0].value
    # the demo folder is allowed implicitly: the same typed-path route opens it
    at.text_input(key="manifest_path_input").set_value(str(env["demo"] / "review.yaml")).run()
    at.button(key="open_path").click().run()
    ok(at)
    assert "Loaded" in at.success[0].value


# --- single sign-on ------------------------------------------------------------------------------


def test_sso_identity_with_a_store_account_gets_in_with_its_roles(env):
    with Store.open(env["db"]) as store:
        if store.get_user("olga@example.com") is None:
            store.add_user("olga@example.com", ["operations"], password="not-used-by-sso", actor="admin")
    at = _signed_out()
    at.user = {"is_logged_in": True, "email": "olga@example.com", "name": "Olga"}
    at.run()
    ok(at)
    assert at.title[0].value == "Load a review"
    assert "olga@example.com" in at.sidebar.markdown[0].value and "operations" in at.sidebar.markdown[0].value


def test_sso_identity_without_a_store_account_is_refused():
    at = _signed_out()
    at.user = {"is_logged_in": True, "email": "mallory@example.com"}
    at.run()
    assert not at.exception
    assert "workbench users add mallory@example.com --role" in at.error[0].value
    assert at.session_state["wb_user"] is None if "wb_user" in at.session_state else True
    assert not any(b.label == "Sign out" for b in at.sidebar.button)


def test_sso_button_is_offered_only_when_auth_is_configured():
    at = _signed_out()
    at.run()
    assert not any(b.key == "sso_login" for b in at.button)
    at = _signed_out()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "workbench", "client_secret": "s",
                          "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration"}
    at.run()
    assert any(b.key == "sso_login" for b in at.button)


# --- shadow, canary & monitoring -------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected_replay(env) -> dict:
    from workbench.artefacts import load_review
    from workbench.replay import CanaryGuardrails, run_replay

    review = load_review(env["demo"] / "review.yaml")
    return run_replay(review, guardrails=CanaryGuardrails.from_manifest(review.manifest),
                      seed=review.manifest.settings.seed)


@pytest.mark.slow
def test_replay_page_shows_the_canary_halted_where_run_replay_halts(expected_replay):
    at = ok(app("alice", page="pages/replay.py"))
    assert at.title[0].value == "Shadow, canary & monitoring"
    halted = expected_replay["canary"]["halted_at"]
    assert expected_replay["canary"]["status"] == "halted"
    message = next(w.value for w in at.warning if "Halted" in w.value)
    assert f"Halted at the {halted['stage_percent']:g}% stage** (window {halted['window']}" in message
    breaches = frame_with(at, "guardrail")
    assert list(breaches["guardrail"]) == [b["guardrail"] for b in halted["breaches"]]
    timeline = frame_with(at, "routed rows")
    assert len(timeline) == len(expected_replay["canary"]["timeline"]) == halted["window"] + 1
    assert timeline["result"].iloc[-1].startswith("BREACH")
    summary = expected_replay["summary"]
    assert at.metric[1].value == f"{summary['agreement_rate']:.3f}"
    assert any("Major drift" in w.value for w in at.warning)
    worst = max(summary["max_psi"], key=summary["max_psi"].get)
    assert at.selectbox(key="replay_drift_feature").value == worst


@pytest.mark.slow
def test_replay_page_charts_follow_the_chosen_series_and_group(expected_replay, env):
    at = ok(app("alice", page="pages/replay.py"))
    agreement = spec(at, 1)
    at.selectbox(key="replay_series").set_value("latency_p95").run()
    latency = spec(ok(at), 1)
    assert latency != agreement and "latency" in latency.lower()
    at.selectbox(key="flip_column").set_value("age_band").run()
    table = frame_with(ok(at), "flip rate")
    n = {}
    for w in expected_replay["windows"]:
        for g, e in w["flips"]["by_group"]["age_band"].items():
            n[g] = n.get(g, 0) + e["to_positive"] + e["to_negative"]
    shown = dict(zip(table["group"], table["flipped to approve"] + table["flipped to decline"]))
    assert shown == n
    replay = pd.read_parquet(env["demo"] / "data" / "replay.parquet")
    assert table["rows compared"].sum() == len(replay)


@pytest.mark.slow
def test_monitoring_alert_is_shown_and_operations_can_acknowledge_it(env):
    import datetime as dt

    from workbench.artefacts import load_review
    from workbench.replay import monitor_batch

    review = load_review(env["demo"] / "review.yaml")
    app("alice")  # registers the review in the store
    batch = pd.read_parquet(env["demo"] / "data" / "replay.parquet").tail(3000)  # the drifted weeks
    with Store.open(env["db"]) as store:
        result = monitor_batch(review, batch, store=store, actor="frank", today=dt.date.today())
    assert result["alerts"], "the drifted weeks must breach the PSI threshold"
    at = ok(app("alice", page="pages/replay.py"))
    assert not any(b.key and b.key.startswith("ack_") for b in at.button)  # product owner may not acknowledge
    assert any(result["alerts"][0]["rule"] in m.value for m in at.markdown)
    at = ok(app("frank", page="pages/replay.py"))
    first = result["alerts"][0]["alert_id"]
    at.button(key=f"ack_{first}").click().run()
    ok(at)
    with Store.open(env["db"]) as store:
        alert = next(a for a in store.list_alerts(review_id(env)) if a.alert_id == first)
    assert alert.acknowledged_by == "frank"
    assert any("acknowledged by frank" in m.value for m in at.markdown)
    assert len(frame_with(at, "max PSI")) == len(store_batches(env))


def store_batches(env):
    with Store.open(env["db"]) as store:
        return store.list_monitoring_batches(review_id(env))


@pytest.mark.slow
def test_operations_records_an_uploaded_batch_and_a_bad_file_gets_a_named_error(env):
    import io

    at = ok(app("alice", page="pages/replay.py"))
    assert not any(u.key == "monitor_upload" for u in at.file_uploader)  # product owner: history only
    before = len(store_batches(env))
    with Store.open(env["db"]) as store:
        alerts_before = len(store.list_alerts(review_id(env)))
    buf = io.BytesIO()
    pd.read_parquet(env["demo"] / "data" / "replay.parquet").tail(2500).to_parquet(buf)  # the drifted weeks
    at = ok(app("frank", page="pages/replay.py"))
    at.file_uploader(key="monitor_upload").set_value(("week-47.parquet", buf.getvalue(), "application/octet-stream"))
    at.run()
    at.button(key="monitor_record").click().run()
    ok(at)
    batches = store_batches(env)
    assert len(batches) == before + 1 and batches[-1].created_by == "frank" and batches[-1].rows == 2500
    assert any("recorded (week-47.parquet)" in s.value for s in at.success)
    assert len(frame_with(at, "max PSI")) == len(batches)
    with Store.open(env["db"]) as store:
        raised = len(store.list_alerts(review_id(env))) - alerts_before
    assert raised > 0 and any(f"; {raised} alert(s)." in s.value for s in at.success)  # PSI breached

    at.file_uploader(key="monitor_upload").set_value(("broken.parquet", b"not parquet at all", "application/octet-stream"))
    at.run()
    at.button(key="monitor_record").click().run()
    assert not at.exception
    assert any("broken.parquet" in e.value and "cannot read" in e.value for e in at.error), [e.value for e in at.error]
    assert len(store_batches(env)) == before + 1
