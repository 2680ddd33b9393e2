"""Qualitative review: questionnaire templates, responses and their scoring.

Templates are YAML files (the packaged ``templates/`` folder plus folders a policy names),
validated by strict pydantic models. Responses live in the review store (one per reviewer
per questionnaire per review; drafts saved on every answer, submitted explicitly, revised
with a reason). :mod:`workbench.questionnaires.scoring` turns submitted responses into
per-question summaries, per-questionnaire verdicts and the overall qualitative verdict the
decision engine consumes. See docs/QUESTIONNAIRES.md.
"""

from __future__ import annotations

from workbench.questionnaires._loader import (
    builtin_templates_dir,
    get_template,
    load_template,
    load_templates,
    parse_template,
)
from workbench.questionnaires._schema import (
    QUESTION_TYPES,
    ROLES,
    BlockingRule,
    Option,
    QualitativeRequirements,
    QuestionnaireTemplate,
    Section,
    VerdictRules,
)
from workbench.questionnaires._workflow import (
    check_reviewer,
    import_responses,
    missing_required,
    qualitative_outcomes,
    revise,
    save_answers,
    submit,
    validate_answers,
)
from workbench.questionnaires.scoring import (
    CONCERN,
    FAIL,
    MISSING,
    PASS,
    BlockingAnswer,
    QualitativeVerdict,
    QuestionnaireScore,
    QuestionSummary,
    normalise_answer,
    qualitative_verdict,
    score_questionnaire,
)

from workbench.questionnaires._workflow import import_responses

__all__ = [
    "BlockingAnswer",
    "BlockingRule",
    "CONCERN",
    "FAIL",
    "MISSING",
    "Option",
    "PASS",
    "QUESTION_TYPES",
    "QualitativeRequirements",
    "QualitativeVerdict",
    "QuestionSummary",
    "QuestionnaireScore",
    "QuestionnaireTemplate",
    "ROLES",
    "Section",
    "VerdictRules",
    "builtin_templates_dir",
    "check_reviewer",
    "get_template",
    "import_responses",
    "load_template",
    "load_templates",
    "missing_required",
    "normalise_answer",
    "parse_template",
    "qualitative_outcomes",
    "qualitative_verdict",
    "revise",
    "save_answers",
    "score_questionnaire",
    "submit",
    "validate_answers",
]
