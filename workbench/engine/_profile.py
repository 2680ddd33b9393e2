"""Reference profiles on disk: built once per reference set, reused by every drift scan.

A profile (``workbench.metrics.drift.ReferenceProfile``: quantile grid, PSI edges, per-cell
counts and anchored sums, categories) is written as canonical JSON wrapped with its digest;
the digest goes into the evidence lineage so a reviewer can tell which reference the drift
numbers were measured against. Building from a Parquet file reads one column at a time, so
the peak memory is one reference column, not the table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.canonical import canonical_json, digest
from workbench.errors import ArtefactError
from workbench.metrics.drift import ReferenceProfile, build_reference_profile

PROFILE_FORMAT = "workbench.reference_profile/1"


def build_profile(
    reference: pd.DataFrame | str | Path,
    *,
    features: Sequence[str],
    categorical: Sequence[str] | None = None,
    n_bins: int = 10,
) -> ReferenceProfile:
    """Profile the reference columns (a frame, or a Parquet file read column by column).

    Examples
    --------
    >>> import numpy as np
    >>> p = build_profile(pd.DataFrame({"x": np.arange(50.0)}), features=["x"])
    >>> p.features["x"].kind, p.n_rows
    ('numeric', 50)
    """
    if isinstance(reference, pd.DataFrame):
        return build_reference_profile(reference, features=features, categorical=categorical, n_bins=n_bins)
    path = Path(reference)
    if not path.exists():
        raise ArtefactError(f"reference data {path}: file not found; fix data.reference in the manifest")
    feats, n_rows = {}, 0
    for name in features:
        col = pd.read_parquet(path, columns=[name])
        cat = None if categorical is None else [name] if name in categorical else []
        part = build_reference_profile(col, features=[name], categorical=cat, n_bins=n_bins)
        feats[name] = part.features[name]
        n_rows = part.n_rows
    return ReferenceProfile(features=feats, n_rows=n_rows, n_bins=n_bins)


def profile_digest(profile: ReferenceProfile) -> str:
    """sha256 of the profile's canonical JSON (what the evidence lineage records)."""
    return digest(profile.to_dict())


def save_profile(profile: ReferenceProfile, path: str | Path) -> str:
    """Write the profile as canonical JSON; returns its digest."""
    body = profile.to_dict()
    d = digest(body)
    Path(path).write_text(canonical_json({"format": PROFILE_FORMAT, "digest": d, "profile": body}) + "\n",
                          encoding="utf-8")
    return d


def load_profile(path: str | Path) -> tuple[ReferenceProfile, str]:
    """Read a stored profile and check its digest; returns ``(profile, digest)``."""
    p = Path(path)
    try:
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtefactError(f"reference profile {p}: cannot be read ({exc}); rebuild it") from exc
    if data.get("format") != PROFILE_FORMAT or "profile" not in data:
        raise ArtefactError(f"reference profile {p}: not a {PROFILE_FORMAT} file; rebuild it with save_profile")
    d = digest(data["profile"])
    if d != data.get("digest"):
        raise ArtefactError(f"reference profile {p}: digest mismatch (stored {str(data.get('digest'))[:12]}, "
                            f"content {d[:12]}); the file was edited, rebuild it")
    return ReferenceProfile.from_dict(data["profile"]), d
