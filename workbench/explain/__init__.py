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

__all__ = [
    "ModelExplanation",
    "beeswarm_data",
    "dependence_data",
    "explain_model",
    "explain_review",
    "explanation_diff",
    "explanation_evidence",
    "global_importance",
    "local_explanation",
    "review_explanation_diff",
    "summary",
    "typical_cases",
]
