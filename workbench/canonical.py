"""Canonical JSON and SHA-256: the one way the product turns values into digests.

Every digest (evidence, policy, decision, audit chain, signed manifest) goes through
:func:`canonical_json`, so two machines agree on the bytes they hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 1 << 20


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths, sets and dataclass-like values to plain JSON types.

    NaN and infinities become ``None``: the evidence never hides an undefined value in a float.

    Examples
    --------
    >>> to_jsonable({"a": np.float64(1.5), "b": [np.int64(2), float("nan")]})
    {'a': 1.5, 'b': [2, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.generic):  # np.str_, np.bytes_, np.datetime64 ...
        return to_jsonable(value.item())
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, no spaces, no NaN).

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.0, None]})
    '{"a":[1.0,null],"b":1}'
    """
    return json.dumps(
        to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``value``.

    Examples
    --------
    >>> digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    True
    """
    return sha256_text(canonical_json(value))


def frame_digest(frame: Any) -> str:
    """Digest of a pandas frame's column names and cell values (pandas' stable row hashes; the
    index is ignored): the identity of data that has no file, e.g. an explained sample.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2], "c": ["a", "b"]})
    >>> frame_digest(a) == frame_digest(a.set_axis([7, 8])), frame_digest(a) == frame_digest(a.iloc[::-1])
    (True, False)
    """
    import pandas as pd

    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return digest({"columns": list(map(str, frame.columns)), "rows_sha256": hashlib.sha256(rows.tobytes()).hexdigest()})


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["canonical_json", "digest", "sha256_file", "sha256_text", "to_jsonable"]
