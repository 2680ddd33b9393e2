"""Staging a review uploaded through the browser: files into one folder, manifest rewritten.

Uploaded files arrive flat (no folders), so the manifest's relative paths are rewritten to
the uploaded file names. Nothing is loaded here: the normal, secure loader runs afterwards.
A data table uploaded on its own (a monitoring batch) is read by ``artefacts.read_table``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from workbench.errors import ManifestError
from workbench.yamlio import parse_yaml
from workbench.artefacts._manifest import FILE_FIELDS

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name without folders or odd characters (no path traversal from an upload).

    Examples
    --------
    >>> safe_name("../../etc/passwd")
    'passwd'
    """
    base = Path(name.replace("\\", "/")).name
    cleaned = _SAFE.sub("_", base).lstrip(".")
    if not cleaned:
        raise ManifestError(f"uploaded file name {name!r} is not usable; rename the file")
    return cleaned


def review_roots() -> tuple[Path, ...]:
    """Folders the app may open reviews from by path: $WORKBENCH_REVIEW_ROOTS (os.pathsep-separated) or ./data."""
    raw = os.environ.get("WORKBENCH_REVIEW_ROOTS")
    roots = [Path(p) for p in raw.split(os.pathsep) if p] if raw else [Path("data")]
    return tuple(r.expanduser().resolve() for r in roots)


def check_server_path(text: str, *, roots: tuple[Path, ...] | None = None) -> Path:
    """A manifest path typed into the app, accepted only inside the configured review roots.

    Examples
    --------
    >>> check_server_path("/etc/passwd", roots=(Path("/srv/reviews"),))
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: /etc/passwd: reviews can be opened only from /srv/reviews (set WORKBENCH_REVIEW_ROOTS to allow other folders)
    """
    roots = roots if roots is not None else review_roots()
    path = Path(text).expanduser().resolve()
    if not any(path.is_relative_to(r) for r in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise ManifestError(f"{text}: reviews can be opened only from {allowed} "
                            "(set WORKBENCH_REVIEW_ROOTS to allow other folders)")
    return path


def stage_upload(manifest_name: str, manifest_bytes: bytes, files: Mapping[str, bytes], *, root: Path) -> Path:
    """Write an uploaded manifest and its files into a content-addressed folder under ``root``.

    Returns the path of the rewritten ``review.yaml``. Files the manifest names but that were
    not uploaded are reported in one error listing all of them.
    """
    raw = parse_yaml(manifest_bytes, label=manifest_name, error=ManifestError)
    if not isinstance(raw, dict):
        raise ManifestError(f"{manifest_name}: expected a mapping of keys (name, task, candidate, ...)")
    uploaded = {safe_name(n): data for n, data in files.items()}
    missing: list[str] = []
    for parent, key in FILE_FIELDS:
        node = raw if parent is None else raw.get(parent)
        if not isinstance(node, dict) or not node.get(key):
            continue
        name = safe_name(str(node[key]))
        if name not in uploaded:
            missing.append(f"{parent + '.' if parent else ''}{key} ({node[key]})")
        node[key] = name
    if missing:
        raise ManifestError(f"{manifest_name}: upload these files too: {', '.join(missing)}")
    h = hashlib.sha256(manifest_bytes)
    for name in sorted(uploaded):
        h.update(name.encode())
        h.update(hashlib.sha256(uploaded[name]).digest())
    folder = root / h.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in uploaded.items():
        (folder / name).write_bytes(data)
    target = folder / "review.yaml"
    target.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


__all__ = ["check_server_path", "review_roots", "safe_name", "stage_upload"]
