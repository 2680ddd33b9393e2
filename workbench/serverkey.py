"""The server key: what makes the record and the evidence unforgeable without it.

One secret, the Ed25519 private key ``manifest-ed25519.pem`` that ``workbench keys init``
writes into the keys folder (``--keys``, env ``WORKBENCH_KEYS``, default
``~/.workbench/keys``), does three jobs:

- **audit MACs**: every audit entry carries ``HMAC-SHA256(mac_key, entry hash)`` where
  ``mac_key = HKDF-SHA256(raw private key, info="workbench audit-mac v1")``. HMAC rather than a
  signature per entry because ``audit verify`` re-checks every entry: HMAC costs about a
  microsecond, an Ed25519 verification about 100 (100k entries: 0.1 s against 10 s), and
  an auditor who needs public verifiability has the signed checkpoints;
- **checkpoints**: the chain head ``(seq, hash)`` signed with Ed25519 (anyone holding the
  public key checks it, nobody without the private key makes one);
- **evidence signatures**: Ed25519 over the evidence's content digest.

Deriving the MAC key from the signing key means one secret to guard, back up and rotate.
Someone holding the database file but not this key can neither append an entry that
verifies nor sign a checkpoint or evidence.

Examples
--------
>>> import tempfile
>>> key = ServerKey.generate()
>>> sig = key.sign(b"head")
>>> key.verify(b"head", sig), key.verify(b"other", sig)
(True, False)
>>> len(key.mac("ab" * 32))
64
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import SigningError

#: The key file inside the keys folder (written by ``workbench keys init``).
SERVER_KEY_FILE = "manifest-ed25519.pem"
SERVER_PUB_FILE = "manifest-ed25519.pub.pem"
DEFAULT_KEYS_DIR = "~/.workbench/keys"
_MAC_INFO = b"workbench audit-mac v1"


@dataclass(frozen=True)
class ServerKey:
    """An Ed25519 private key and the HMAC key derived from it."""

    private: Any = field(repr=False)
    mac_key: bytes = field(repr=False)
    key_id: str = ""

    @classmethod
    def from_private(cls, private: Any) -> ServerKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        mac_key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_MAC_INFO).derive(raw)
        return cls(private, mac_key, public_key_id(private.public_key()))

    @classmethod
    def generate(cls) -> ServerKey:
        """A fresh in-memory key (tests, benchmarks)."""
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return cls.from_private(ed25519.Ed25519PrivateKey.generate())

    @property
    def public_b64(self) -> str:
        """The raw public key, base64 (what signed records carry)."""
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def derive(self, info: bytes) -> bytes:
        """A 32-byte secret for another purpose, ``HKDF-SHA256(raw private key, info)``: independent of
        the audit MAC key (other ``info``), and unknown to anyone without the key file."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        if info == _MAC_INFO:
            raise ValueError("derive: that info string is the audit MAC key's")
        raw = self.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(raw)

    def mac(self, entry_hash: str) -> str:
        """HMAC-SHA256 (hex) of one audit entry's chain hash."""
        return hmac.digest(self.mac_key, entry_hash.encode(), "sha256").hex()

    def mac_ok(self, entry_hash: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(entry_hash), mac)

    def sign(self, message: bytes) -> str:
        """Ed25519 signature, base64."""
        return base64.b64encode(self.private.sign(message)).decode()

    def verify(self, message: bytes, signature: str | None) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self.private.public_key().verify(base64.b64decode(signature or "", validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def public_key_id(public: Any) -> str:
    """First 16 hex of sha256 of the raw public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def keys_folder(folder: str | Path | None = None) -> Path:
    """``folder``, else ``$WORKBENCH_KEYS``, else ``~/.workbench/keys``."""
    if folder is not None:
        return Path(folder).expanduser()
    return Path(os.environ.get("WORKBENCH_KEYS") or DEFAULT_KEYS_DIR).expanduser()


def load_server_key(folder: str | Path | None = None) -> ServerKey | None:
    """The server key of the keys folder, None when the folder holds none (a fresh checkout).

    Raises
    ------
    SigningError
        The key file exists but is not an unencrypted Ed25519 private key.
    """
    path = keys_folder(folder) / SERVER_KEY_FILE
    if not path.is_file():
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise SigningError(f"{path}: not a readable Ed25519 private key ({exc})") from None
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: expected an Ed25519 private key, got {type(private).__name__}")
    return ServerKey.from_private(private)


__all__ = ["SERVER_KEY_FILE", "SERVER_PUB_FILE", "ServerKey", "keys_folder", "load_server_key", "public_key_id"]
