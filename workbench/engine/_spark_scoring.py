"""Models scored inside Spark (``mapInPandas``) when the scale review names model files.

At this scale models are usually scored where the data lives and the manifest names score
columns. A manifest may instead name skops/ONNX (or pinned pickle) files for the Spark engine:
the driver loads each model once with the secure loader (trusted skops types, pinned pickle
hashes, ``predict_proba``), its bytes travel to the workers in the task closure, and each
worker re-checks their SHA-256 and loads them through the same loader before scoring its
Arrow batches with ``LoadedModel.predict_scores`` — the function the in-memory review uses, so
a row gets the same score on every engine. The scores become columns ``__wb_score_<role>``
of the scored view the plan reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ArtefactError, ManifestError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest

__all__ = ["SCORE_PREFIX", "SparkModel", "prepare_models", "scored_frame"]

SCORE_PREFIX = "__wb_score_"


@dataclass(frozen=True)
class SparkModel:
    """One model file to score in Spark: the manifest entry, its bytes and what scoring needs."""

    role: str
    entry: Any  # workbench.artefacts.ModelEntry with an absolute path
    payload: bytes
    artefact: Any  # workbench.artefacts.ArtefactRecord from the secure loader: hash, size, format
    task: str
    features: tuple[str, ...]
    positive_label: Any

    @property
    def column(self) -> str:
        return SCORE_PREFIX + self.role

    @property
    def sha256(self) -> str:
        return self.artefact.sha256

    def record(self) -> dict[str, Any]:
        """The lineage entry of the model file: the loader's record, as the in-memory review keeps it."""
        return self.artefact.to_dict()


def prepare_models(manifest: Manifest) -> dict[str, SparkModel]:
    """Load every model file of a binary manifest once in the driver (refusing what the secure
    loader refuses) and keep its bytes for the workers."""
    from workbench.artefacts import load_model

    out = {}
    for role in ("candidate", "baseline"):
        entry = getattr(manifest, role)
        if entry is None or entry.kind == "precomputed":
            continue
        if not manifest.features:
            raise ManifestError(f"{manifest.display_file}: features: scoring {role} in Spark needs the model's "
                                "input columns listed under features")
        path = manifest.resolve(entry.path)
        loaded = load_model(entry, role=role, base_dir=manifest.base_dir, task=manifest.task,
                            features=manifest.features, positive_label=manifest.positive_label,
                            manifest_label=manifest.display_file)
        payload = path.read_bytes()  # the bytes the workers load: they must be the bytes loaded here
        if loaded.record is None or hashlib.sha256(payload).hexdigest() != loaded.record.sha256:
            raise ArtefactError(f"{manifest.display_file}: {role}.path changed while it was being loaded; retry")
        out[role] = SparkModel(role=role, entry=entry.model_copy(update={"path": path}), payload=payload,
                               artefact=loaded.record, task=manifest.task, features=tuple(manifest.features),
                               positive_label=manifest.positive_label)
    return out


def scored_frame(frame: Any, models: dict[str, SparkModel]) -> Any:
    """``frame`` with a double column ``__wb_score_<role>`` per model, scored in the workers."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([*frame.schema.fields, *(StructField(m.column, DoubleType(), False) for m in models.values())])
    specs = list(models.values())

    def score(batches):  # pragma: no cover - runs in the Spark Python workers
        import tempfile

        from workbench.artefacts import load_model

        loaded = {}
        with tempfile.TemporaryDirectory(prefix="workbench-model-") as tmp:
            for m in specs:
                if hashlib.sha256(m.payload).hexdigest() != m.sha256:
                    raise ArtefactError(f"{m.role}: model bytes changed in transit; refusing to load them")
                path = Path(tmp) / f"{m.role}{m.entry.path.suffix}"
                path.write_bytes(m.payload)
                loaded[m.column] = load_model(m.entry.model_copy(update={"path": path}), role=m.role,
                                              base_dir=Path(tmp), task=m.task, features=m.features,
                                              positive_label=m.positive_label)
            for batch in batches:
                for column, model in loaded.items():
                    batch[column] = model.predict_scores(batch)
                yield batch

    return frame.mapInPandas(score, schema)
