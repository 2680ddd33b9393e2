"""Explanations: SHAP (global, local, dependence), explanation diff, reason codes.

The public face of ``workbench.explain``: import from here; the ``_`` modules are private.
"""


from workbench.explain._explain import (
    ModelExplanation,
    beeswarm_data,
    dependence_data,
    explain_model,
    explain_review,
    explanation_diff,
    explanation_evidence,
    global_importance,
    local_explanation,
    review_explanation_diff,
    summary,
    typical_cases,
)
from workbench.explain._plain import PlainSummary, plain_summary
from workbench.explain._reasons import Reason, ReasonCodes, UnknownRowError, find_row, reason_codes

__all__ = [
    "ModelExplanation",
    "PlainSummary",
    "Reason",
    "ReasonCodes",
    "UnknownRowError",
    "beeswarm_data",
    "dependence_data",
    "explain_model",
    "explain_review",
    "explanation_diff",
    "explanation_evidence",
    "find_row",
    "global_importance",
    "local_explanation",
    "plain_summary",
    "reason_codes",
    "review_explanation_diff",
    "summary",
    "typical_cases",
]
