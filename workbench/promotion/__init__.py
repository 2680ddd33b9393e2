"""Promotion that acts: a GO review moves the registry alias; rollback and its drill.

Composes the review (``workbench.artefacts``), the decision (``workbench.policy``), the store,
the signed packet (``workbench.report``) and the registry adapter (``workbench.registry``) —
which is why it is its own package: the registry adapter sits below ``artefacts`` (models are
loaded from it), the promotion above everything it checks.

The public face of ``workbench.promotion``: import from here; the ``_`` modules are private.
"""

from workbench.promotion._promote import (
    OUTCOME_PROMOTED,
    OUTCOME_REFUSED,
    PromotionOutcome,
    load_artifact_folder,
    open_registry,
    promote_review,
    registry_model_name,
    registry_rows,
    rollback_drill_model,
    rollback_model,
    rollback_status,
)

__all__ = [
    "OUTCOME_PROMOTED",
    "OUTCOME_REFUSED",
    "PromotionOutcome",
    "load_artifact_folder",
    "open_registry",
    "promote_review",
    "registry_model_name",
    "registry_rows",
    "rollback_drill_model",
    "rollback_model",
    "rollback_status",
]
