"""What a policy's qualitative criterion asks of the questionnaires, resolved per template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, StrictBool, StrictInt, StrictStr, StringConstraints

from workbench.errors import QuestionnaireError
from workbench.questionnaires._questions import Identifier, Number, Role, _Model

if TYPE_CHECKING:
    from workbench.questionnaires._schema import QuestionnaireTemplate


class QualitativeRequirements(_Model):
    """What the policy asks of the qualitative strand (the ``qualitative`` criterion).

    ``questionnaires``: ``"all"`` (every loaded template) or a list of ids.
    ``min_reviewers``: submitted reviewers per required questionnaire, either a number or a
    mapping role → number (a role counts only for questionnaires whose template lists it).
    ``min_score``: each required questionnaire's weighted score must reach it (else FAIL).
    ``allow_blocking_answers``: when false (default) an unwaived blocking answer FAILs.
    ``waived``: blocking answers waived by an approver, as ``questionnaire_id.question_id``.
    """

    questionnaires: Union[Literal["all"], tuple[Identifier, ...]] = "all"
    min_reviewers: Union[Annotated[StrictInt, Field(ge=0)], dict[Role, Annotated[StrictInt, Field(ge=0)]]] = 1
    min_score: Annotated[Number, Field(ge=0, le=1)] | None = None
    allow_blocking_answers: StrictBool = False
    waived: tuple[Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_-]*$")], ...] = ()

    @classmethod
    def from_policy(cls, criterion: Any) -> QualitativeRequirements:
        """Requirements from a policy's qualitative criterion (object or mapping); other keys ignored."""
        if isinstance(criterion, QualitativeRequirements):
            return criterion
        get = criterion.get if isinstance(criterion, dict) else (lambda k, d=None: getattr(criterion, k, d))
        fields: dict[str, Any] = {k: get(k) for k in cls.model_fields if get(k) is not None}
        if isinstance(fields.get("questionnaires"), list):
            fields["questionnaires"] = tuple(fields["questionnaires"])
        try:
            return cls.model_validate(fields)
        except ValueError as exc:
            cid = get("id") or "qualitative"
            raise QuestionnaireError(f"criterion {cid}: invalid qualitative requirements: {exc}") from None

    def resolve(self, templates: dict[str, QuestionnaireTemplate]) -> list[QuestionnaireNeeds]:
        """Per required questionnaire: reviewers in total and per role, min score, waived ids."""
        ids = list(templates) if self.questionnaires == "all" else list(self.questionnaires)
        unknown = [i for i in ids if i not in templates]
        if unknown:
            raise QuestionnaireError(
                f"qualitative requirements: unknown questionnaire(s) {', '.join(unknown)}; "
                f"loaded: {', '.join(templates) or 'none'} (add the template folder to the policy or fix the id)"
            )
        out = []
        for tid in ids:
            roles = set(templates[tid].roles)
            per_role: dict[str, int]
            if isinstance(self.min_reviewers, int):
                total, per_role = self.min_reviewers, {}
            else:
                per_role = {r: n for r, n in self.min_reviewers.items() if r in roles and n > 0}
                total = sum(per_role.values())
            waived = tuple(w.split(".", 1)[1] for w in self.waived if w.split(".", 1)[0] == tid)
            out.append(QuestionnaireNeeds(tid, total, per_role, self.min_score, waived))
        return out


@dataclass(frozen=True)
class QuestionnaireNeeds:
    """The requirements of the policy as they apply to one questionnaire."""

    questionnaire_id: str
    min_reviewers: int
    per_role: dict[str, int]
    min_score: float | None
    waived: tuple[str, ...]


__all__ = ["QualitativeRequirements", "QuestionnaireNeeds"]
