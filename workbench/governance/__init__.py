"""Governance checklist: model card, lineage, privacy (PII), sensitive inputs, access control, readiness.

The public face of ``workbench.governance``: import from here; the ``_`` modules are private.
"""


from workbench.governance._checks import (
    DEFAULT_MODEL_CARD_SECTIONS,
    DEFAULT_READINESS_SECTIONS,
    CheckResult,
    CheckStatus,
    check_access_control,
    check_lineage,
    check_model_card,
    check_readiness,
    check_sensitive_inputs,
    is_placeholder,
)
from workbench.governance._governance import (
    check_privacy,
    governance_for_review,
    load_model_card,
    privacy_for_review,
    review_documents,
    run_governance,
)
from workbench.governance._pii import (
    PII_KINDS,
    PiiFinding,
    PiiReport,
    column_name_kind,
    iban_valid,
    luhn_valid,
    mask,
    scan_frame,
)

__all__ = [
    "CheckResult",
    "CheckStatus",
    "DEFAULT_MODEL_CARD_SECTIONS",
    "DEFAULT_READINESS_SECTIONS",
    "PII_KINDS",
    "PiiFinding",
    "PiiReport",
    "check_access_control",
    "check_lineage",
    "check_model_card",
    "check_privacy",
    "check_readiness",
    "check_sensitive_inputs",
    "column_name_kind",
    "governance_for_review",
    "iban_valid",
    "is_placeholder",
    "load_model_card",
    "luhn_valid",
    "mask",
    "privacy_for_review",
    "review_documents",
    "run_governance",
    "scan_frame",
]
