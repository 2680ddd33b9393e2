"""`workbench demo DIR --registry`: the demo's two models as two versions of one registered model.

The baseline becomes version N (alias ``champion``), the candidate version N+1 (alias
``challenger``), in the registry ``MLFLOW_TRACKING_URI`` names, else in the embedded SQLite
registry (``sqlite:///data/mlflow.db`` under the working folder, artifacts next to it in
``data/mlartifacts``). A second manifest, ``review-registry.yaml``, reviews them by URI.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from workbench.registry import Registry, normalise_registry_uri, registry_uri
from workbench.yamlio import read_yaml
from workbench.errors import ManifestError

DEMO_MODEL = "credit-approval"
REGISTRY_MANIFEST = "review-registry.yaml"


def _local(uri: str) -> tuple[str, Path | None]:
    """An absolute form of a SQLite registry URI (so the manifest works from any folder) and
    the folder its artifacts go to; other registries are returned as they are."""
    if not uri.startswith("sqlite:///"):
        return uri, None
    absolute = normalise_registry_uri(uri)
    db = Path(absolute.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    return absolute, db.parent / "mlartifacts"


def register_demo(review: Path, *, uri: str | None = None, model: str = DEMO_MODEL) -> dict[str, Any]:
    """Register the demo's baseline and candidate; write ``review-registry.yaml`` next to ``review``.

    Returns the registry URI, the model name, both versions and the new manifest's path.
    """
    target, artifacts = _local(registry_uri(uri))
    registry = Registry(target)
    raw = read_yaml(review, label=review.name, error=ManifestError, what="manifest")
    versions: dict[str, str] = {}
    for role in ("baseline", "candidate"):
        source = review.parent / raw[role]["path"]
        with tempfile.TemporaryDirectory(prefix="workbench-demo-") as tmp:
            shutil.copy(source, Path(tmp) / source.name)
            versions[role] = registry.register_folder(
                model, Path(tmp), artifact_root=artifacts,
                description=f"demo {role} ({raw[role].get('name')} {raw[role].get('version')})").version
    registry.set_alias(model, "champion", versions["baseline"])
    registry.set_alias(model, "challenger", versions["candidate"])
    for role, alias in (("baseline", "champion"), ("candidate", "challenger")):
        entry = dict(raw[role])
        entry.pop("path")
        raw[role] = {"uri": f"models:/{model}@{alias}", **entry}
    raw["name"] = f"{raw['name']} (registry)"
    raw["registry_uri"] = target
    out = review.parent / REGISTRY_MANIFEST
    out.write_text("# The demo review with both models taken from the model registry (workbench demo --registry).\n"
                   + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return {"registry_uri": target, "model": model, "versions": versions, "manifest": out}


__all__ = ["DEMO_MODEL", "REGISTRY_MANIFEST", "register_demo"]
