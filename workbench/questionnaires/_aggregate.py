"""Per-question aggregation across reviewers (pure): records, summaries, distributions, disagreement.

:mod:`workbench.questionnaires.scoring` documents the formula and builds verdicts on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.questionnaires._schema import QuestionnaireTemplate

ANSWER_KEYS = frozenset({"value", "evidence", "comment"})


def normalise_answer(raw: Any) -> dict[str, Any]:
    """An answer as ``{"value", "evidence", "comment"}``; a bare value is shorthand for it.

    Examples
    --------
    >>> normalise_answer(4)
    {'value': 4, 'evidence': [], 'comment': ''}
    >>> normalise_answer({"value": "no", "comment": "no appeal route"})["comment"]
    'no appeal route'
    """
    if isinstance(raw, Mapping) and set(raw) <= ANSWER_KEYS:
        evidence = raw.get("evidence") or []
        return {"value": raw.get("value"), "evidence": list(evidence), "comment": raw.get("comment") or ""}
    return {"value": raw, "evidence": [], "comment": ""}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


@dataclass(frozen=True)
class _Record:
    questionnaire_id: str
    reviewer: str
    status: str
    answers: Mapping[str, dict[str, Any]]
    revision: int
    role: str | None


def _records(responses: Iterable[Any]) -> list[_Record]:
    """Current responses, one per (questionnaire, reviewer): the newest submitted, else the draft."""
    best: dict[tuple[str, str], _Record] = {}
    for r in responses:
        if _get(r, "current", True) is False:
            continue
        status = str(_get(r, "status", "draft")).lower()
        if status not in ("draft", "submitted"):
            continue  # superseded revisions never count
        answers = {qid: normalise_answer(a) for qid, a in dict(_get(r, "answers", {}) or {}).items()}
        rec = _Record(
            questionnaire_id=str(_get(r, "questionnaire_id")),
            reviewer=str(_get(r, "reviewer")),
            status=status,
            answers=answers,
            revision=int(_get(r, "revision", 0) or 0),
            role=_get(r, "role"),
        )
        key = (rec.questionnaire_id, rec.reviewer)
        old = best.get(key)
        if old is None or (rec.status == "submitted", rec.revision) >= (old.status == "submitted", old.revision):
            best[key] = rec
    return sorted(best.values(), key=lambda r: (r.questionnaire_id, r.reviewer))


@dataclass(frozen=True)
class BlockingAnswer:
    """A submitted answer that meets its question's blocking rule, and who gave it."""

    questionnaire_id: str
    question_id: str
    reviewer: str
    answer: Any
    comment: str = ""
    waived: bool = False


@dataclass(frozen=True)
class QuestionSummary:
    """One question across the submitted reviewers.

    ``mean``/``spread`` are on the answer's own scale (Likert 1–5, number); ``score`` is the
    mean normalised score in [0, 1] (``None`` when unscored or nobody gave a scored answer).
    """

    question_id: str
    type: str
    text: str
    required: bool
    weight: float
    n_answered: int
    distribution: dict[str, int]
    answers: tuple[tuple[str, Any], ...]
    mean: float | None
    spread: float | None
    score: float | None
    disagreement: bool
    disagreement_reason: str
    below_minimum: bool
    blocking: tuple[BlockingAnswer, ...]
    comments: tuple[tuple[str, str], ...]
    evidence_cited: tuple[str, ...]


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _summarise(template: QuestionnaireTemplate, question: Any, submitted: list[_Record],
               waived: frozenset[str]) -> QuestionSummary:
    answers, scores, raw, comments, cited, blocking = [], [], [], [], set(), []
    for rec in submitted:
        ans = rec.answers.get(question.id)
        if ans is None or not question.is_answered(ans["value"]):
            continue
        value = ans["value"]
        answers.append((rec.reviewer, value))
        if ans["comment"]:
            comments.append((rec.reviewer, ans["comment"]))
        cited.update(ans["evidence"])
        s = question.score(value)
        if s is not None:
            scores.append(s)
            raw.append(question.raw_score(value))
        elif question.type == "number":
            raw.append(float(value))
        if question.blocks(value):
            blocking.append(BlockingAnswer(template.id, question.id, rec.reviewer, value, ans["comment"],
                                           waived=question.id in waived))
    distribution = _distribution(question, answers)
    mean = sum(raw) / len(raw) if raw else None
    spread = max(raw) - min(raw) if raw else None
    disagreement, reason = _disagreement(question, answers, scores, spread)
    below = (question.min_acceptable is not None and mean is not None and mean < question.min_acceptable)
    return QuestionSummary(
        question_id=question.id, type=question.type, text=question.text, required=question.required,
        weight=float(question.weight), n_answered=len(answers), distribution=distribution,
        answers=tuple(answers), mean=mean if question.type in ("likert", "number", "single_choice") else None,
        spread=spread if question.type in ("likert", "number", "single_choice") else None,
        score=sum(scores) / len(scores) if scores else None, disagreement=disagreement,
        disagreement_reason=reason, below_minimum=below, blocking=tuple(blocking),
        comments=tuple(comments), evidence_cited=tuple(sorted(cited)),
    )


def _distribution(question: Any, answers: list[tuple[str, Any]]) -> dict[str, int]:
    if question.type == "likert":
        keys = [str(i) for i in range(1, 6)]
    elif question.type == "yes_no_na":
        keys = list(question.choices)
    elif question.type in ("single_choice", "multiple_choice"):
        keys = [o.value for o in question.options]
    else:
        return {}
    counts = dict.fromkeys(keys, 0)
    for _, value in answers:
        for v in value if isinstance(value, (list, tuple)) else [value]:
            counts[_key(v)] = counts.get(_key(v), 0) + 1
    return counts


def _disagreement(question: Any, answers: list[tuple[str, Any]], scores: list[float],
                  spread: float | None) -> tuple[bool, str]:
    if question.type == "likert" and spread is not None and spread >= 2:
        return True, f"answers span {spread:g} points on the 1–5 scale"
    if question.type == "yes_no_na":
        said = {v for _, v in answers}
        if {"yes", "no"} <= said:
            return True, "some reviewers answered yes, others no"
    if question.type == "single_choice" and scores and max(scores) - min(scores) >= 0.5:
        return True, f"chosen options' scores are {max(scores) - min(scores):g} apart"
    return False, ""


__all__ = ["ANSWER_KEYS", "BlockingAnswer", "QuestionSummary", "normalise_answer"]
