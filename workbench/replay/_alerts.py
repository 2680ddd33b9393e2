"""Alert delivery: signed webhooks and SMTP e-mail, with retries, back-off and a dead letter.

The readiness plan names the channels (``readiness.monitoring.alerts``). Each alert is one JSON
body (review, model version, alert, value, bound, window, link); a webhook receives it with the
header ``X-Workbench-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`` keyed by the
secret in the environment variable ``secret_env``. ``format: slack`` sends a Slack-compatible
``{"text": ...}`` body instead (signed the same way). E-mail goes through SMTP, upgraded with
STARTTLS whenever the server offers it (``starttls: require`` refuses a server that does not).

A channel is tried until it acknowledges (HTTP 2xx, SMTP 250 after DATA), with exponential
back-off between attempts, and given up within ``deadline_s`` (30 s by default): then a
``dead_letter`` row keeps the body's digest and the last error. Every attempt is stored in
``alert_deliveries`` and audited. Deliveries are recorded as the workbench's own
(actor :data:`DELIVERY_ACTOR`): they need no user credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import email.policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from workbench.canonical import canonical_json, to_jsonable

if TYPE_CHECKING:
    from workbench.artefacts import Manifest
    from workbench.store import Alert, Store

__all__ = ["DELIVERY_ACTOR", "SIGNATURE_HEADER", "DeliveryOutcome", "alert_body", "channels_of", "deliver_alert",
           "dispatch_alert", "send_test_alert", "sign_body",
           "verify_signature"]

DELIVERY_ACTOR = "workbench:alerts"
SIGNATURE_HEADER = "X-Workbench-Signature"
DEFAULT_DEADLINE_S = 30.0


@dataclass(frozen=True)
class DeliveryOutcome:
    """How one channel answered: ``delivered`` after ``attempts`` tries, or the last error."""

    channel: str
    kind: str
    delivered: bool
    attempts: int
    receipt: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    elapsed_s: float = 0.0


class _Undeliverable(Exception):
    """A channel error that retrying cannot fix (missing secret, refused recipients...)."""


def sign_body(body: bytes, secret: str) -> str:
    """The signature header value of ``body``.

    Examples
    --------
    >>> sign_body(b'{"a":1}', "s3cret")[:15]
    'sha256=5910e620'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (constant-time compare).

    Examples
    --------
    >>> verify_signature(b"x", sign_body(b"x", "k"), "k"), verify_signature(b"y", sign_body(b"x", "k"), "k")
    (True, False)
    """
    return header is not None and hmac.compare_digest(header, sign_body(body, secret))


def alert_body(*, review: str, model_version: str, alert: str, severity: str, value: float | None,
               bound: float | None, window: Mapping[str, Any] | None, message: str, link: str | None = None,
               test: bool = False, sent_at: str | None = None) -> dict[str, Any]:
    """The JSON body every channel carries (the webhook format; e-mail and Slack render it)."""
    return to_jsonable({"source": "model-promotion-workbench", "test": test, "review": review,
                        "model_version": model_version, "alert": alert, "severity": severity, "value": value,
                        "bound": bound, "window": dict(window or {}), "message": message, "link": link,
                        "sent_at": sent_at})


def _summary(body: Mapping[str, Any]) -> str:
    head = "[TEST] " if body.get("test") else ""
    value = "" if body.get("value") is None else f" value {body['value']:.4g} (bound {body.get('bound')})"
    return (f"{head}{body['severity'].upper()} {body['review']} ({body['model_version']}): {body['alert']}{value}. "
            f"{body['message']}")


def _webhook(channel: Any, body: Mapping[str, Any], *, timeout: float, env: Mapping[str, str]) -> dict[str, Any]:
    payload = {"text": _summary(body), "workbench": dict(body)} if channel.format == "slack" else dict(body)
    data = canonical_json(payload).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "model-promotion-workbench"}
    if channel.secret_env is not None:
        secret = env.get(channel.secret_env)
        if not secret:
            raise _Undeliverable(f"environment variable {channel.secret_env} (secret_env) is not set")
        headers[SIGNATURE_HEADER] = sign_body(data, secret)
    request = urllib.request.Request(channel.url, data=data, headers=headers, method="POST")
    # no redirects: a signed alert goes to the configured URL or nowhere
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, text = response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise RuntimeError(f"HTTP {status}")
    return {"http_status": status, "response": text[:500], "signed": SIGNATURE_HEADER in headers}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _email(channel: Any, body: Mapping[str, Any], *, timeout: float, env: Mapping[str, str]) -> dict[str, Any]:
    smtp = channel.smtp
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = _summary(body)[:180]
    msg.set_content(_summary(body) + "\n\n" + json.dumps(dict(body), indent=1, sort_keys=True))
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
            client.ehlo()
            tls = False
            if smtp.starttls != "never" and client.has_extn("starttls"):
                context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
                client.starttls(context=context)
                client.ehlo()
                tls = True
            elif smtp.starttls == "require":
                raise _Undeliverable(f"{smtp.host}:{smtp.port} does not offer STARTTLS (starttls: require)")
            if smtp.username_env:
                if not tls:
                    raise _Undeliverable(f"{smtp.host}:{smtp.port}: refusing to send SMTP credentials without TLS")
                client.login(env.get(smtp.username_env, ""), env.get(smtp.password_env or "", ""))
            code, reply = client.mail(smtp.sender)
            if code != 250:
                raise RuntimeError(f"MAIL FROM refused: {code} {reply.decode(errors='replace')}")
            refused = {}
            for rcpt in channel.to:
                code, reply = client.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = f"{code} {reply.decode(errors='replace')}"
            if refused:
                client.rset()
                raise RuntimeError(f"recipients refused: {refused}")
            # smtplib sends bytes as they are: the message must carry CRLF line ends itself (RFC 5321)
            code, reply = client.data(msg.as_bytes(policy=email.policy.SMTP))
            if code != 250:
                raise RuntimeError(f"DATA refused: {code} {reply.decode(errors='replace')}")
    except (smtplib.SMTPException, OSError) as exc:
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
    return {"smtp_code": code, "smtp_reply": reply.decode(errors="replace")[:300], "starttls": tls,
            "recipients": list(channel.to)}


_SENDERS: dict[str, Callable[..., dict[str, Any]]] = {"webhook": _webhook, "email": _email}


def _deliver_one(channel: Any, body: Mapping[str, Any], *, store: Store | None, review_id: str, alert_id: int | None,
                 deadline_s: float, retries: int, backoff_s: float, env: Mapping[str, str],
                 sleep: Callable[[float], None]) -> DeliveryOutcome:
    digest = hashlib.sha256(canonical_json(dict(body)).encode()).hexdigest()
    start = time.monotonic()
    error: str | None = None
    attempt = 0
    while attempt < retries:
        attempt += 1
        remaining = deadline_s - (time.monotonic() - start)
        if remaining <= 0.05:
            break
        t0 = time.monotonic()
        try:
            receipt = _SENDERS[channel.kind](channel, body, timeout=min(10.0, remaining), env=env)
        except _Undeliverable as exc:
            error = str(exc)
            _record(store, review_id, alert_id, channel, attempt, "failed", {"error": error}, digest, t0)
            break
        except RuntimeError as exc:
            error = str(exc)
            _record(store, review_id, alert_id, channel, attempt, "failed", {"error": error}, digest, t0)
            pause = min(backoff_s * 2 ** (attempt - 1), deadline_s - (time.monotonic() - start))
            if attempt < retries and pause > 0:
                sleep(pause)
            continue
        _record(store, review_id, alert_id, channel, attempt, "delivered", receipt, digest, t0)
        return DeliveryOutcome(channel.label, channel.kind, True, attempt, receipt, None, time.monotonic() - start)
    error = error or f"gave up after {deadline_s:g} s"
    _record(store, review_id, alert_id, channel, attempt, "dead_letter",
            {"error": error, "body": dict(body)}, digest, start)
    return DeliveryOutcome(channel.label, channel.kind, False, attempt, {}, error, time.monotonic() - start)


def _record(store: Store | None, review_id: str, alert_id: int | None, channel: Any, attempt: int, status: str,
            receipt: dict[str, Any], digest: str, t0: float) -> None:
    if store is not None:
        store.record_delivery(review_id, alert_id=alert_id, channel=channel.label, kind=channel.kind,
                              attempt=attempt, status=status, receipt=receipt, body_sha256=digest,
                              elapsed_ms=(time.monotonic() - t0) * 1000, actor=DELIVERY_ACTOR)


def deliver_alert(channels: Sequence[Any], body: Mapping[str, Any], *, store: Store | None, review_id: str,
                  alert_id: int | None = None, deadline_s: float = DEFAULT_DEADLINE_S, retries: int = 4,
                  backoff_s: float = 0.5, env: Mapping[str, str] | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> list[DeliveryOutcome]:
    """Send ``body`` through every channel; one :class:`DeliveryOutcome` per channel, in order.

    Each channel gets up to ``retries`` attempts with back-off ``backoff_s * 2**k`` and is given up
    within ``deadline_s``; every attempt (and the dead letter) is stored when ``store`` is given.
    """
    env = os.environ if env is None else env
    return [_deliver_one(c, body, store=store, review_id=review_id, alert_id=alert_id, deadline_s=deadline_s,
                         retries=retries, backoff_s=backoff_s, env=env, sleep=sleep) for c in channels]


def channels_of(manifest: Manifest) -> tuple[Any, ...]:
    """The delivery channels of a manifest's readiness plan (``()`` when none are named)."""
    plan = manifest.readiness.monitoring if manifest.readiness is not None else None
    return tuple(plan.alerts) if plan is not None else ()


def send_test_alert(manifest: Manifest, *, store: Store, deadline_s: float = DEFAULT_DEADLINE_S,
                    env: Mapping[str, str] | None = None, link: str | None = None) -> list[DeliveryOutcome]:
    """Verify the alerting protocol: one test alert through every channel of the manifest.

    Works before any gate has run (no review row is needed) and records the deliveries as the
    workbench's own. Returns one outcome per channel (empty when the plan names none).
    """
    from workbench.store import review_id_for

    body = alert_body(review=manifest.name, model_version=manifest.candidate.version, alert="alerting test",
                      severity="info", value=None, bound=None, window=None, link=link, test=True,
                      sent_at=store.now() if store is not None else None,
                      message="Test alert from `workbench alerts test`: no action needed; this channel works.")
    return deliver_alert(channels_of(manifest), body, store=store, review_id=review_id_for(manifest.name),
                         deadline_s=deadline_s, env=env)


def dispatch_alert(manifest: Manifest, alert: Alert, *, store: Store, review_id: str, deadline_s: float = DEFAULT_DEADLINE_S,
                   env: Mapping[str, str] | None = None, link: str | None = None) -> list[DeliveryOutcome]:
    """Deliver a stored :class:`~workbench.store.Alert` through the manifest's channels."""
    details = alert.details or {}
    window: dict[str, Any] = {k: details[k] for k in ("window_start", "window_end", "batch_id") if k in details}
    body = alert_body(review=manifest.name, model_version=manifest.candidate.version, alert=alert.rule,
                      severity=alert.severity, value=details.get("value"), bound=details.get("limit"), window=window,
                      message=alert.message, link=link, sent_at=alert.created_at)
    body["alert_id"] = alert.alert_id
    return deliver_alert(channels_of(manifest), body, store=store, review_id=review_id, alert_id=alert.alert_id,
                         deadline_s=deadline_s, env=env)
