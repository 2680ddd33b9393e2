"""The model registry (MLflow) as source and target of a promotion.

Resolve ``models:/NAME@alias`` or ``models:/NAME/VERSION`` once, download and hash every
artifact file (the workbench's own loader reads them), and move an alias on a GO decision —
with a journal that lets an interrupted promotion be undone, a rollback and a rollback drill.
MLflow is the optional extra ``registry``; it is imported only when a registry is used.

The public face of ``workbench.registry``: import from here; the ``_`` modules are private.
"""

from workbench.registry._client import (
    ArtifactFile,
    FetchedModel,
    Registry,
    RegistryVersion,
    files_digest,
    hash_folder,
)
from workbench.registry._promote import (
    JOURNAL_TAG,
    TAG_PREFIX,
    DrillReport,
    PromotionRequest,
    PromotionResult,
    RollbackResult,
    drill_alias,
    lineage_changes,
    previous_alias,
    promote,
    recover,
    registry_problems,
    rollback,
    rollback_drill,
)
from workbench.registry._uri import (
    DEFAULT_REGISTRY_URI,
    URI_PATTERN,
    ModelRef,
    normalise_registry_uri,
    parse_model_uri,
    registry_uri,
)

__all__ = [
    "DEFAULT_REGISTRY_URI",
    "JOURNAL_TAG",
    "TAG_PREFIX",
    "URI_PATTERN",
    "ArtifactFile",
    "DrillReport",
    "FetchedModel",
    "ModelRef",
    "PromotionRequest",
    "PromotionResult",
    "Registry",
    "RegistryVersion",
    "RollbackResult",
    "drill_alias",
    "files_digest",
    "hash_folder",
    "lineage_changes",
    "normalise_registry_uri",
    "parse_model_uri",
    "previous_alias",
    "promote",
    "recover",
    "registry_problems",
    "registry_uri",
    "rollback",
    "rollback_drill",
]
