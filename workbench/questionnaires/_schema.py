"""Questionnaire templates: strict, frozen pydantic models (sections, verdict rules, template).

A template is YAML (see ``docs/QUESTIONNAIRES.md``): ``id``, ``version``, ``title``, the
``roles`` that answer it, ``verdict`` rules and ``sections`` of questions (question types in
:mod:`workbench.questionnaires._questions`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from workbench.canonical import digest
from workbench.questionnaires._questions import (
    DEFAULT_LIKERT_ANCHORS,
    QUESTION_TYPES,
    ROLES,
    BlockingRule,
    FreeTextQuestion,
    Identifier,
    LikertQuestion,
    MultipleChoiceQuestion,
    Number,
    NumberQuestion,
    Option,
    Question,
    Role,
    SingleChoiceQuestion,
    Text,
    YesNoQuestion,
    _Model,
)
from workbench.questionnaires._requirements import QualitativeRequirements, QuestionnaireNeeds


class Section(_Model):
    id: Identifier
    title: Text
    description: StrictStr = ""
    questions: Annotated[tuple[Question, ...], Field(min_length=1)]


class VerdictRules(_Model):
    """PASS when the weighted score >= ``pass_at``; CONCERN in [concern_at, pass_at); FAIL below.

    A question whose mean falls below its ``min_acceptable``, and (when
    ``concern_on_disagreement``) reviewers who disagree, cap the verdict at CONCERN.
    Fewer than ``min_reviewers`` submitted responses leave it MISSING.
    """

    pass_at: Annotated[Number, Field(ge=0, le=1)] = 0.75
    concern_at: Annotated[Number, Field(ge=0, le=1)] = 0.5
    concern_on_disagreement: StrictBool = True
    min_reviewers: Annotated[StrictInt, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _ordered(self) -> VerdictRules:
        if self.concern_at > self.pass_at:
            raise ValueError(f"concern_at {self.concern_at} must not exceed pass_at {self.pass_at}")
        return self


class QuestionnaireTemplate(_Model):
    """One questionnaire: who answers it, how it is judged, and its questions."""

    id: Identifier
    version: Annotated[StrictInt, Field(ge=1)]
    title: Text
    description: StrictStr = ""
    roles: Annotated[tuple[Role, ...], Field(min_length=1)]
    likert_anchors: dict[Annotated[StrictInt, Field(ge=1, le=5)], Text] = Field(
        default_factory=lambda: dict(DEFAULT_LIKERT_ANCHORS)
    )
    verdict: VerdictRules = Field(default_factory=VerdictRules)
    sections: Annotated[tuple[Section, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> QuestionnaireTemplate:
        seen: dict[str, str] = {}
        for si, section in enumerate(self.sections):
            for qi, q in enumerate(section.questions):
                where = f"sections[{si}].questions[{qi}]"
                if q.id in seen:
                    raise ValueError(f"question '{q.id}': duplicate question id (at {seen[q.id]} and {where})")
                seen[q.id] = where
        section_ids = [s.id for s in self.sections]
        dupes = sorted({s for s in section_ids if section_ids.count(s) > 1})
        if dupes:
            raise ValueError(f"duplicate section ids {dupes}")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError(f"roles are listed twice: {list(self.roles)}")
        return self

    @property
    def questions(self) -> tuple[Any, ...]:
        """Every question in order, across sections."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, question_id: str) -> Any:
        """The question with this id (KeyError when absent)."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    @property
    def required_ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions if q.required)

    def anchors_for(self, question: LikertQuestion) -> dict[int, str]:
        """Labels of the Likert points: the question's own anchors over the template's."""
        return {**self.likert_anchors, **(question.anchors or {})}

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the template (what a response was given against)."""
        return digest(self.model_dump(mode="json"))


__all__ = [
    "DEFAULT_LIKERT_ANCHORS",
    "QUESTION_TYPES",
    "ROLES",
    "BlockingRule",
    "FreeTextQuestion",
    "LikertQuestion",
    "MultipleChoiceQuestion",
    "NumberQuestion",
    "Option",
    "QualitativeRequirements",
    "Question",
    "QuestionnaireNeeds",
    "QuestionnaireTemplate",
    "Section",
    "SingleChoiceQuestion",
    "VerdictRules",
    "YesNoQuestion",
]
