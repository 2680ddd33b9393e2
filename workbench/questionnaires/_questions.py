"""Question types of a questionnaire template and the per-type answer rules.

Questions are a discriminated union on ``type``; an unknown type, an unknown key or a
misplaced rule is an error, never silently dropped. Each type knows how to validate an
answer value, whether it is answered, its normalised score in [0, 1] (``None`` when it
carries no score) and whether it triggers the question's blocking rule.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

ROLES = ("reviewer", "data_scientist", "product_owner", "data_governance", "security", "legal", "operations")
QUESTION_TYPES = ("likert", "yes_no_na", "single_choice", "multiple_choice", "number", "free_text")
DEFAULT_LIKERT_ANCHORS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
}

Role = Literal["reviewer", "data_scientist", "product_owner", "data_governance", "security", "legal", "operations"]
Identifier = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=80)]
EvidenceId = Annotated[StrictStr, StringConstraints(pattern=r"^\S+$", max_length=200)]
Text = Annotated[StrictStr, StringConstraints(min_length=1)]
Number = Union[StrictInt, StrictFloat]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _yes_no(value: Any) -> Any:
    """YAML 1.1 reads unquoted yes/no as booleans; take them back as the words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


class BlockingRule(_Model):
    """When an answer blocks promotion on its own (unless waived).

    Exactly one of: ``answer`` (a yes/no/na word or an option value, or a list of them:
    blocking when the answer is one of them / a selected option is one of them),
    ``max_score`` (Likert: blocking when the answer is <= max_score), ``below`` / ``above``
    (number: blocking when the value is below / above the bound).
    """

    answer: tuple[StrictStr, ...] | None = None
    max_score: Number | None = None
    below: Number | None = None
    above: Number | None = None

    @field_validator("answer", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return None
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(_yes_no(v) for v in items)

    @model_validator(mode="after")
    def _exactly_one(self) -> BlockingRule:
        given = [k for k in ("answer", "max_score", "below", "above") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a blocking rule needs exactly one of answer, max_score, below, above (got {given or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("answer", "max_score", "below", "above") if getattr(self, k) is not None)


class Option(_Model):
    """One choice of a single- or multiple-choice question; ``score`` in [0, 1] makes it scored."""

    value: Identifier
    label: Text
    score: Annotated[Number, Field(ge=0, le=1)] | None = None


class _Question(_Model):
    id: Identifier
    text: Text
    required: StrictBool = True
    guidance: StrictStr = ""
    weight: Annotated[Number, Field(ge=0)] = 1.0
    evidence: tuple[EvidenceId, ...] = ()
    blocking: BlockingRule | None = None
    min_acceptable: Number | None = None

    BLOCKING_KINDS: ClassVar[tuple[str, ...]] = ()
    if TYPE_CHECKING:  # each question kind declares its own Literal field (not a field here: keeps the schema)
        type: str

    @model_validator(mode="after")
    def _rules_fit_type(self) -> _Question:
        if self.blocking is not None and self.blocking.kind not in self.BLOCKING_KINDS:
            allowed = ", ".join(self.BLOCKING_KINDS) or "no blocking rule"
            raise ValueError(f"blocking rule '{self.blocking.kind}' does not fit a {self.type} question (allowed: {allowed})")
        if self.min_acceptable is not None and not self.scored:
            raise ValueError(f"min_acceptable needs a scored question, and a {self.type} question here carries no score")
        self._check()
        return self

    def _check(self) -> None:
        """Type-specific consistency checks (raise ValueError)."""

    @property
    def scored(self) -> bool:
        return False

    def check_value(self, value: Any) -> Any:
        """Return the normalised answer value or raise ValueError saying what is accepted."""
        raise NotImplementedError

    def is_answered(self, value: Any) -> bool:
        return value is not None

    def score(self, value: Any) -> float | None:
        """Normalised score in [0, 1]; ``None`` when the answer carries no score."""
        return None

    def raw_score(self, value: Any) -> float | None:
        """The score on the scale ``min_acceptable`` is written in (Likert 1–5, option score)."""
        return self.score(value)

    def blocks(self, value: Any) -> bool:
        rule = self.blocking
        if rule is None or not self.is_answered(value):
            return False
        if rule.answer is not None:
            chosen = value if isinstance(value, (list, tuple)) else [value]
            return any(v in rule.answer for v in chosen)
        if rule.max_score is not None:
            return float(value) <= rule.max_score
        if rule.below is not None:
            return float(value) < rule.below
        return float(value) > rule.above  # type: ignore[operator]


class LikertQuestion(_Question):
    """Agreement on a 1–5 scale; score (x − 1) / 4; anchors label the points."""

    type: Literal["likert"]
    anchors: dict[Annotated[StrictInt, Field(ge=1, le=5)], Text] | None = None
    BLOCKING_KINDS = ("max_score",)

    def _check(self) -> None:
        if self.min_acceptable is not None and not 1 <= self.min_acceptable <= 5:
            raise ValueError(f"min_acceptable {self.min_acceptable} is outside the Likert scale 1–5")
        if self.blocking is not None and not 1 <= self.blocking.max_score < 5:  # type: ignore[operator]
            raise ValueError("blocking max_score must be in 1–4 (5 would block every answer)")

    @property
    def scored(self) -> bool:
        return True

    def check_value(self, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError(f"expected a whole number 1–5, got {value!r}")
        return value

    def score(self, value: Any) -> float | None:
        return None if value is None else (value - 1) / 4

    def raw_score(self, value: Any) -> float | None:
        return None if value is None else float(value)


class YesNoQuestion(_Question):
    """yes / no / na; the ``favourable`` answer scores 1, the other 0, na is not scored."""

    type: Literal["yes_no_na"]
    favourable: Literal["yes", "no"] = "yes"
    allow_na: StrictBool = True
    BLOCKING_KINDS = ("answer",)

    @field_validator("favourable", mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return _yes_no(value)

    def _check(self) -> None:
        if self.blocking is not None:
            bad = [a for a in self.blocking.answer or () if a not in self.choices]
            if bad:
                raise ValueError(f"blocking answer {bad} is not one of {list(self.choices)}")

    @property
    def choices(self) -> tuple[str, ...]:
        return ("yes", "no", "na") if self.allow_na else ("yes", "no")

    @property
    def scored(self) -> bool:
        return True

    def check_value(self, value: Any) -> Any:
        value = _yes_no(value)
        if isinstance(value, str):
            value = value.strip().lower()
        if value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {value!r}")
        return value

    def score(self, value: Any) -> float | None:
        if value is None or value == "na":
            return None
        return 1.0 if value == self.favourable else 0.0


class _ChoiceQuestion(_Question):
    options: Annotated[tuple[Option, ...], Field(min_length=2)]
    BLOCKING_KINDS = ("answer",)

    def _check(self) -> None:
        values = [o.value for o in self.options]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"duplicate option values {dupes}")
        if self.blocking is not None:
            bad = [a for a in self.blocking.answer or () if a not in values]
            if bad:
                raise ValueError(f"blocking answer {bad} is not one of the options {values}")

    @property
    def option_map(self) -> dict[str, Option]:
        return {o.value: o for o in self.options}

    def _option(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.option_map:
            raise ValueError(f"expected one of the options {list(self.option_map)}, got {value!r}")
        return value


class SingleChoiceQuestion(_ChoiceQuestion):
    """Pick one option; scored when every option has a ``score``."""

    type: Literal["single_choice"]

    def _check(self) -> None:
        super()._check()
        if self.min_acceptable is not None and not 0 <= self.min_acceptable <= 1:
            raise ValueError(f"min_acceptable {self.min_acceptable} must be an option score in 0–1")

    @property
    def scored(self) -> bool:
        return all(o.score is not None for o in self.options)

    def check_value(self, value: Any) -> Any:
        return self._option(value)

    def score(self, value: Any) -> float | None:
        if value is None or not self.scored:
            return None
        return float(self.option_map[value].score)  # type: ignore[arg-type]


class MultipleChoiceQuestion(_ChoiceQuestion):
    """Pick any number of options (a non-empty list); informs and can block, never scored."""

    type: Literal["multiple_choice"]

    def check_value(self, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list of options from {list(self.option_map)}, got {value!r}")
        picked = [self._option(v) for v in value]
        if len(set(picked)) != len(picked):
            raise ValueError(f"an option is selected twice in {picked}")
        return sorted(picked, key=list(self.option_map).index)

    def is_answered(self, value: Any) -> bool:
        return bool(value)


class NumberQuestion(_Question):
    """A number within optional ``min`` / ``max``; informs and can block (below / above)."""

    type: Literal["number"]
    min: Number | None = None
    max: Number | None = None
    integer: StrictBool = False
    unit: StrictStr = ""
    BLOCKING_KINDS = ("below", "above")

    def _check(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")

    def check_value(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"expected a number, got {value!r}")
        if self.integer and not float(value).is_integer():
            raise ValueError(f"expected a whole number, got {value!r}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{value} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{value} is above the maximum {self.max}")
        return int(value) if self.integer else value


class FreeTextQuestion(_Question):
    """Free text; blank counts as unanswered; never scored and never blocking."""

    type: Literal["free_text"]
    max_length: Annotated[StrictInt, Field(ge=1)] = 5000

    def check_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        if len(value) > self.max_length:
            raise ValueError(f"text is {len(value)} characters, longer than max_length {self.max_length}")
        return value

    def is_answered(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())


Question = Annotated[
    Union[LikertQuestion, YesNoQuestion, SingleChoiceQuestion, MultipleChoiceQuestion, NumberQuestion, FreeTextQuestion],
    Field(discriminator="type"),
]


__all__ = [
    "DEFAULT_LIKERT_ANCHORS",
    "QUESTION_TYPES",
    "ROLES",
    "BlockingRule",
    "EvidenceId",
    "FreeTextQuestion",
    "Identifier",
    "LikertQuestion",
    "MultipleChoiceQuestion",
    "Number",
    "NumberQuestion",
    "Option",
    "Question",
    "Role",
    "SingleChoiceQuestion",
    "Text",
    "YesNoQuestion",
]
