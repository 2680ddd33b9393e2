"""Real alert receivers on 127.0.0.1 for tests: an HTTP webhook endpoint and an SMTP server with STARTTLS.

Import the fixtures into a test module (``from tests._receivers import webhook, smtp_server``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Webhook:
    """What the receiver saw, and how it answers (``statuses`` are used in turn, then 200)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    received_at: list[float] = field(default_factory=list)


@pytest.fixture()
def webhook():
    state: dict[str, Webhook] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            hook = state["hook"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if hook.delay_s:
                time.sleep(hook.delay_s)
            hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            hook.received_at.append(time.time())
            status = hook.statuses.pop(0) if hook.statuses else 200
            reply = b"ok" if status < 300 else b"no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            try:
                self.wfile.write(reply)
            except OSError:  # the client gave up (a deadline test): nothing left to say
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["hook"] = Webhook(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["hook"]
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "smtp-cert.pem", tmp / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Mailbox:
    host: str
    port: int
    ca_file: Path
    messages: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)


@pytest.fixture()
def smtp_server(tmp_path):
    """aiosmtpd on 127.0.0.1 offering STARTTLS with a self-signed certificate (``ca_file`` trusts it)."""
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(host="127.0.0.1", port=free_port(), ca_file=cert)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            box.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                 "data": envelope.content.decode("utf-8", "replace"),
                                 "tls": session.ssl is not None})
            box.received_at.append(time.time())
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, tls_context=context)
    controller.start()
    yield box
    controller.stop()
