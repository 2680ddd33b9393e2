"""Alert delivery through a real HTTP receiver and a real SMTP server (STARTTLS) on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time

import pytest
import yaml

from tests._receivers import free_port, smtp_server, webhook  # noqa: F401 - fixtures
from tests._small_review import write_small_review
from workbench.artefacts import EmailChannel, Manifest, WebhookChannel
from workbench.replay import (
    DELIVERY_ACTOR,
    SIGNATURE_HEADER,
    alert_body,
    deliver_alert,
    send_test_alert,
    verify_signature,
)
from workbench.store import Store

SECRET = "hook-secret-for-tests"


@pytest.fixture()
def store(tmp_path):
    with Store.open(tmp_path / "alerts.db") as s:
        yield s


def _body(**kw):
    return alert_body(review="r", model_version="2.0", alert="psi <= 0.25", severity="warning", value=0.4,
                      bound=0.25, window={"window_start": "2026-01-01"}, message="drift", **kw)


def test_webhook_body_is_signed_with_the_secret_and_a_forged_body_fails(webhook, store):
    channel = WebhookChannel(kind="webhook", url=webhook.url, secret_env="WB_HOOK_SECRET")
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={"WB_HOOK_SECRET": SECRET})
    assert out.delivered and out.attempts == 1 and out.receipt["http_status"] == 200
    [request] = webhook.requests
    header = request["headers"][SIGNATURE_HEADER]
    assert header.startswith("sha256=") and verify_signature(request["body"], header, SECRET)
    sent = json.loads(request["body"])
    assert (sent["review"], sent["alert"], sent["value"], sent["bound"]) == ("r", "psi <= 0.25", 0.4, 0.25)
    forged = request["body"].replace(b"0.4", b"0.1")
    assert not verify_signature(forged, header, SECRET)
    assert not verify_signature(request["body"], header, "another secret")
    [row] = store.list_deliveries("r1")
    assert row.status == "delivered" and row.created_by == DELIVERY_ACTOR
    assert [e.action for e in store.audit_entries(subject="r1")] == ["alert_delivery"]


def test_slack_format_posts_text(webhook, store):
    channel = WebhookChannel(kind="webhook", url=webhook.url, format="slack")
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={})
    sent = json.loads(webhook.requests[0]["body"])
    assert out.delivered and "psi <= 0.25" in sent["text"] and sent["text"].startswith("WARNING")
    assert SIGNATURE_HEADER not in webhook.requests[0]["headers"] and out.receipt["signed"] is False


def test_retries_with_backoff_until_acknowledged(webhook, store):
    webhook.statuses = [503, 500]
    pauses: list[float] = []
    channel = WebhookChannel(kind="webhook", url=webhook.url)
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={}, backoff_s=0.2,
                          sleep=pauses.append)
    assert out.delivered and out.attempts == 3 and len(webhook.requests) == 3
    assert pauses == [0.2, 0.4]  # exponential back-off
    rows = store.list_deliveries("r1")
    assert [r.status for r in rows] == ["failed", "failed", "delivered"]
    assert "HTTP 503" in rows[0].receipt["error"]
    assert store.verify_audit().ok


def test_dead_letter_after_the_last_retry(store):
    port = free_port()  # nothing listens here
    channel = WebhookChannel(kind="webhook", url=f"http://127.0.0.1:{port}/hook", name="ops hook")
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={}, retries=3, backoff_s=0.01)
    assert not out.delivered and out.attempts == 3 and "Connection" in out.error
    rows = store.list_deliveries("r1")
    assert [r.status for r in rows] == ["failed", "failed", "failed", "dead_letter"]
    assert rows[-1].receipt["body"]["alert"] == "psi <= 0.25" and rows[-1].channel == "ops hook"


def test_a_hanging_receiver_is_given_up_within_the_deadline(webhook, store):
    webhook.delay_s = 3.0
    channel = WebhookChannel(kind="webhook", url=webhook.url)
    start = time.monotonic()
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={}, deadline_s=1.0)
    assert not out.delivered and time.monotonic() - start < 2.0
    assert store.list_deliveries("r1")[-1].status == "dead_letter"


def test_missing_secret_is_not_sent_unsigned(webhook, store):
    channel = WebhookChannel(kind="webhook", url=webhook.url, secret_env="WB_HOOK_SECRET")
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={})
    assert not out.delivered and "WB_HOOK_SECRET" in out.error and webhook.requests == []
    assert [r.status for r in store.list_deliveries("r1")] == ["failed", "dead_letter"]


def test_a_redirect_is_not_followed(webhook, store):
    webhook.statuses = [302, 302, 302, 302]
    [out] = deliver_alert([WebhookChannel(kind="webhook", url=webhook.url)], _body(), store=store,
                          review_id="r1", env={}, backoff_s=0.01)
    assert not out.delivered and "HTTP 302" in out.error


def test_email_goes_through_starttls(smtp_server, store):
    channel = EmailChannel(kind="email", to=("oncall@example.org",),
                           smtp={"host": smtp_server.host, "port": smtp_server.port, "ca_file": smtp_server.ca_file,
                                 "starttls": "require"})
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={})
    assert out.delivered and out.receipt["starttls"] is True and out.receipt["smtp_code"] == 250
    [msg] = smtp_server.messages
    assert msg["tls"] and msg["to"] == ["oncall@example.org"] and "psi <= 0.25" in msg["data"]


def test_email_refuses_an_untrusted_certificate(smtp_server, store):
    channel = EmailChannel(kind="email", to=("oncall@example.org",),
                           smtp={"host": smtp_server.host, "port": smtp_server.port})
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1", env={}, retries=1)
    assert not out.delivered and "CERTIFICATE_VERIFY_FAILED" in out.error and smtp_server.messages == []


def _manifest(tmp_path, channels):
    path = write_small_review(tmp_path / "review", n=200, extra={
        "readiness": {"monitoring": {"alert_channel": "#ml-ops (label only)", "alerts": channels}}})
    return path


def test_cli_alerts_test_exit_codes(tmp_path, webhook, smtp_server, monkeypatch):
    from workbench.cli import main

    monkeypatch.setenv("WB_HOOK_SECRET", SECRET)
    email = {"kind": "email", "to": ["oncall@example.org"],
             "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "ca_file": str(smtp_server.ca_file)}}
    good = _manifest(tmp_path / "a", [{"kind": "webhook", "url": webhook.url, "secret_env": "WB_HOOK_SECRET"}, email])
    db = tmp_path / "w.db"
    assert main(["alerts", "test", str(good), "--db", str(db)]) == 0
    assert len(webhook.requests) == 1 and len(smtp_server.messages) == 1
    assert json.loads(webhook.requests[0]["body"])["test"] is True
    # a channel that answers 500 every time: exit 1, named
    webhook.statuses = [500] * 10
    assert main(["alerts", "test", str(good), "--db", str(db), "--deadline", "2"]) == 1
    with Store.open(db) as store:
        manifest = Manifest.model_validate(yaml.safe_load(good.read_text()))
        from workbench.store import review_id_for

        rows = store.list_deliveries(review_id_for(manifest.name))
        assert {r.created_by for r in rows} == {DELIVERY_ACTOR}
        hook_rows = [r for r in rows if r.kind == "webhook"]
        assert hook_rows[-1].status == "dead_letter" and hook_rows[-2].receipt["error"].startswith("HTTP 500")
    # no channels at all: the label alone delivers nothing
    assert main(["alerts", "test", str(_manifest(tmp_path / "b", [])), "--db", str(db)]) == 1
    # a hostile plan: an unknown key or a non-http URL is refused with exit 2
    assert main(["alerts", "test", str(_manifest(tmp_path / "c", [{"kind": "webhook", "url": "file:///etc/passwd"}])),
                 "--db", str(db)]) == 2
    assert main(["alerts", "test", str(_manifest(tmp_path / "d", [{"kind": "pager", "url": webhook.url}])),
                 "--db", str(db)]) == 2


def test_cli_names_the_failing_channel(tmp_path, capsys):
    from workbench.cli import main

    port = free_port()
    path = _manifest(tmp_path, [{"kind": "webhook", "name": "ops-hook", "url": f"http://127.0.0.1:{port}/x"}])
    assert main(["alerts", "test", str(path), "--db", str(tmp_path / "w.db"), "--deadline", "1"]) == 1
    assert "ops-hook" in capsys.readouterr().err


def test_send_test_alert_needs_no_review_row(tmp_path, webhook, store):
    path = _manifest(tmp_path, [{"kind": "webhook", "url": webhook.url}])
    manifest = Manifest.model_validate(yaml.safe_load(path.read_text()))
    [out] = send_test_alert(manifest, store=store, env={})
    assert out.delivered and store.list_reviews() == []


def test_socket_closed_mid_response_counts_as_failure(store):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    import threading

    def slam():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.close()

    threading.Thread(target=slam, daemon=True).start()
    [out] = deliver_alert([WebhookChannel(kind="webhook", url=f"http://127.0.0.1:{port}/")], _body(), store=store,
                          review_id="r1", env={}, retries=1)
    server.close()
    assert not out.delivered


def test_a_long_alert_email_is_sent_with_crlf_line_ends(smtp_server, store):
    # smtplib sends bytes as they are; bare LF made one 1000+ byte "line" that the server refused
    channel = EmailChannel(kind="email", to=("oncall@example.org",),
                           smtp={"host": smtp_server.host, "port": smtp_server.port, "ca_file": smtp_server.ca_file})
    body = _body(link="https://workbench.example.org/monitoring?review=r")
    body["window"] = {f"k{i}": "2025-03-03T00:00:00+00:00" for i in range(60)}
    [out] = deliver_alert([channel], body, store=store, review_id="r1", env={}, retries=1)
    assert out.delivered, out.error
    assert "k59" in smtp_server.messages[0]["data"]


def test_smtp_credentials_are_never_sent_without_tls(smtp_server, store):
    channel = EmailChannel(kind="email", to=("oncall@example.org",),
                           smtp={"host": smtp_server.host, "port": smtp_server.port, "starttls": "never",
                                 "username_env": "WB_SMTP_USER", "password_env": "WB_SMTP_PASSWORD"})
    [out] = deliver_alert([channel], _body(), store=store, review_id="r1",
                          env={"WB_SMTP_USER": "u", "WB_SMTP_PASSWORD": "p"})
    assert not out.delivered and "without TLS" in out.error and smtp_server.messages == []


def test_alert_channels_leave_the_readiness_check_as_it_was():
    import datetime as dt

    from workbench.artefacts import MonitoringPlan
    from workbench.governance import check_readiness

    base = {"deployment_steps": ["ship"], "rollback": {"previous_model": "m1", "procedure": "redeploy"},
            "incident_response": {"owner": "ops", "severity_levels": ["SEV1"], "runbook": "wiki"},
            "post_implementation_reviews": ["2030-01-01"]}
    plain = MonitoringPlan(metrics=("psi",), thresholds={"psi": 0.25}, alert_channel="#ml", cadence_days=90)
    with_alerts = plain.model_copy(update={"alerts": (WebhookChannel(kind="webhook", url="http://127.0.0.1/x"),)})
    today = dt.date(2026, 1, 1)
    assert "alerts" not in plain.model_dump(mode="json")  # an old plan dumps exactly as before
    for plan in (plain, with_alerts):
        result = check_readiness({**base, "monitoring": plan.model_dump(mode="json")}, today=today)
        assert result.status == "PASS", result.summary if hasattr(result, "summary") else result
