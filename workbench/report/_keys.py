"""Signing keys: a development certificate for PAdES and an Ed25519 key for the manifest.

``workbench keys init`` writes four files into the keys folder (``--keys``, env
``WORKBENCH_KEYS``, default ``~/.workbench/keys``; never inside the repository):

- ``signing-key.pem``   RSA-2048 private key (PKCS#8, unencrypted, mode 0600). RSA with
  PKCS#1 v1.5 is deterministic, so the same document signed twice gives the same bytes.
- ``signing-cert.pem``  self-signed X.509 certificate for that key (development only;
  production points ``--keys`` at a folder holding the organisation's key and certificate).
- ``manifest-ed25519.pem`` / ``manifest-ed25519.pub.pem``  the Ed25519 key pair that signs
  the JSON manifest embedded in every packet, so an auditor can check it without a PDF library.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import SigningError

SIGNING_KEY = "signing-key.pem"
SIGNING_CERT = "signing-cert.pem"
MANIFEST_KEY = "manifest-ed25519.pem"
MANIFEST_PUB = "manifest-ed25519.pub.pem"
ALL_FILES = (SIGNING_KEY, SIGNING_CERT, MANIFEST_KEY, MANIFEST_PUB)

_NO_KEY = (
    "no signing key in {folder} (missing {name}): run `workbench keys init --keys {folder}` "
    "to create a development key and certificate, or point --keys / WORKBENCH_KEYS at the "
    "folder holding the organisation's key"
)


@dataclass(frozen=True)
class KeyPaths:
    """Where the four key files of a keys folder live."""

    folder: Path
    signing_key: Path
    signing_cert: Path
    manifest_key: Path
    manifest_pub: Path


def key_paths(folder: str | Path) -> KeyPaths:
    """The key file locations inside ``folder`` (nothing is read or created).

    Examples
    --------
    >>> key_paths("/tmp/k").signing_cert.name
    'signing-cert.pem'
    """
    f = Path(folder).expanduser()
    return KeyPaths(f, f / SIGNING_KEY, f / SIGNING_CERT, f / MANIFEST_KEY, f / MANIFEST_PUB)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def git_work_tree(folder: str | Path) -> Path | None:
    """The git work tree ``folder`` lies in (a parent holding ``.git``), or None.

    Examples
    --------
    >>> import tempfile
    >>> git_work_tree(tempfile.mkdtemp()) is None
    True
    """
    here = Path(folder).expanduser().resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def init_keys(
    folder: str | Path,
    *,
    organisation: str = "Model Promotion Workbench (development)",
    force: bool = False,
    valid_days: int = 3650,
    now: _dt.datetime | None = None,
) -> KeyPaths:
    """Create a self-signed development certificate, its RSA key and an Ed25519 key.

    Parameters
    ----------
    folder : path
        The keys folder; created with mode 0700 when missing. Every file is written 0600.
    organisation : str, keyword-only
        Organisation name in the certificate subject.
    force : bool, keyword-only
        Overwrite existing keys. Without it an existing key is a :class:`SigningError`,
        because replacing a key makes earlier packets unverifiable with the new certificate.
    valid_days : int, keyword-only
        Certificate lifetime.
    now : datetime, optional
        Start of validity (UTC); default the current time minus one day.

    Returns
    -------
    KeyPaths

    Examples
    --------
    >>> import tempfile
    >>> paths = init_keys(tempfile.mkdtemp())
    >>> oct(paths.signing_key.stat().st_mode & 0o777)
    '0o600'
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    paths = key_paths(folder)
    repo = git_work_tree(paths.folder)
    if repo is not None and not force:
        raise SigningError(
            f"{paths.folder} is inside the git work tree {repo}: a private key there is one `git add .` away "
            "from being published. Keep keys outside (default ~/.workbench/keys, or --keys / WORKBENCH_KEYS), "
            "or pass --force if this folder is ignored on purpose"
        )
    existing = [p.name for p in (paths.signing_key, paths.signing_cert, paths.manifest_key) if p.exists()]
    if existing and not force:
        raise SigningError(
            f"keys already exist in {paths.folder} ({', '.join(existing)}); pass --force to "
            "replace them (packets signed with the old key then verify only with the old certificate)"
        )
    paths.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.folder, 0o700)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = (now or _dt.datetime.now(_dt.UTC) - _dt.timedelta(days=1)).replace(microsecond=0)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} packet signing"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pkcs8 = serialization.PrivateFormat.PKCS8
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    _write_private(paths.signing_key, key.private_bytes(pem, pkcs8, none))
    _write_private(paths.signing_cert, cert.public_bytes(pem))
    ed = ed25519.Ed25519PrivateKey.generate()
    _write_private(paths.manifest_key, ed.private_bytes(pem, pkcs8, none))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    _write_private(paths.manifest_pub, ed.public_key().public_bytes(pem, spki))
    return paths


def require_keys(folder: str | Path) -> KeyPaths:
    """The key paths of ``folder``, or a :class:`SigningError` naming ``workbench keys init``."""
    paths = key_paths(folder)
    for p in (paths.signing_key, paths.signing_cert, paths.manifest_key):
        if not p.is_file():
            raise SigningError(_NO_KEY.format(folder=paths.folder, name=p.name))
    return paths


def load_ed25519_private(path: Path):
    """Load the manifest signing key (an Ed25519 private key in PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SigningError(f"cannot read the manifest key {path}: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 private key: run `workbench keys init --force`")
    return key


def load_ed25519_public(path: Path):
    """Load an Ed25519 public key (PEM, SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningError(f"cannot read the manifest public key {path}: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"{path} is not an Ed25519 public key")
    return key


def load_certificate(path: Path):
    """Load a PEM or DER X.509 certificate with ``cryptography``."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the certificate {path}: {exc}") from exc
    try:
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise SigningError(f"{path} is not an X.509 certificate (PEM or DER): {exc}") from exc
