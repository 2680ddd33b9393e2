"""Model URIs (``models:/NAME@alias``, ``models:/NAME/7``) and which registry to ask.

Examples
--------
>>> parse_model_uri("models:/credit-approval@champion")
ModelRef(uri='models:/credit-approval@champion', name='credit-approval', alias='champion', version=None)
>>> parse_model_uri("models:/credit-approval/7").version
'7'
>>> registry_uri("http://127.0.0.1:5000")
'http://127.0.0.1:5000'
>>> normalise_registry_uri("sqlite:////srv/m.db") == normalise_registry_uri("sqlite:////srv/./m.db")
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import RegistryError

#: The embedded registry: MLflow on a local SQLite file, no server (relative to the working folder).
DEFAULT_REGISTRY_URI = "sqlite:///data/mlflow.db"

_MODEL_URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9_.\- ]*?)(?:@(?P<alias>[A-Za-z0-9_.\-]+)|/(?P<version>[0-9]+))$")
URI_PATTERN = _MODEL_URI.pattern


@dataclass(frozen=True)
class ModelRef:
    """A registry model version named either by alias or by version number."""

    uri: str
    name: str
    alias: str | None
    version: str | None


def parse_model_uri(text: str) -> ModelRef:
    """Parse ``models:/NAME@alias`` or ``models:/NAME/VERSION``; anything else is a RegistryError."""
    match = _MODEL_URI.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise RegistryError(f"{text!r} is not a registry model URI: use models:/NAME@alias or models:/NAME/VERSION")
    return ModelRef(uri=text.strip(), name=match["name"], alias=match["alias"], version=match["version"])


def registry_uri(explicit: str | None = None) -> str:
    """The registry to use: ``explicit`` (the manifest's ``registry_uri``), then
    ``MLFLOW_TRACKING_URI``, then the embedded SQLite registry."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_REGISTRY_URI


def normalise_registry_uri(uri: str) -> str:
    """The same registry written one way: a SQLite path made absolute (against the working
    folder) and resolved; other URIs without a trailing slash."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        return f"sqlite:///{(path if path.is_absolute() else Path.cwd() / path).resolve()}"
    return uri.rstrip("/")


__all__ = ["DEFAULT_REGISTRY_URI", "ModelRef", "URI_PATTERN", "normalise_registry_uri", "parse_model_uri",
           "registry_uri"]
