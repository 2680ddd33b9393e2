"""Reading YAML documents (manifest, policy, model card, templates, responses) with one kind of error.

Every YAML file a user hands the workbench fails the same way: the file, the line and column,
and what is wrong, raised as the caller's ``WorkbenchError`` subclass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.errors import WorkbenchError


def parse_yaml(text: str, *, label: str, error: type[WorkbenchError]) -> Any:
    """Parse YAML text; a syntax error becomes ``error`` naming ``label``, line and column.

    Examples
    --------
    >>> from workbench.errors import ManifestError
    >>> parse_yaml("a: [1, 2]", label="x.yaml", error=ManifestError)
    {'a': [1, 2]}
    >>> parse_yaml("a: [1", label="x.yaml", error=ManifestError)
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: x.yaml: not valid YAML at line 1, column 6: expected ',' or ']', but got '<stream end>'
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{label}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


def read_yaml(path: Path, *, label: str | None = None, error: type[WorkbenchError], what: str = "file") -> Any:
    """Read and parse a YAML file; a missing or unreadable file is ``error`` too."""
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{label}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{label}: cannot read the {what} ({exc})") from None
    return parse_yaml(text, label=label, error=error)


__all__ = ["parse_yaml", "read_yaml"]
