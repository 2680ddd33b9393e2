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

__all__ = [
    "ModelExplanation",
    "PlainSummary",
    "beeswarm_data",
    "dependence_data",
    "explain_model",
    "explain_review",
    "explanation_diff",
    "explanation_evidence",
    "global_importance",
    "local_explanation",
    "plain_summary",
    "review_explanation_diff",
    "summary",
    "typical_cases",
]
