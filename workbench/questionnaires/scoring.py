"""Scoring and aggregation of questionnaire responses (pure: no IO, no store).

Formula (also in docs/QUESTIONNAIRES.md)
----------------------------------------
Answer score ``s`` in [0, 1]:

* Likert ``x`` in 1..5: ``s = (x - 1) / 4``;
* yes / no / na: the question's ``favourable`` answer (default yes) ``1``, the other ``0``,
  ``na`` answered but not scored;
* single choice: the chosen option's ``score`` when every option has one, else not scored;
* multiple choice, number, free text: not scored (they inform, and may block).

Question score ``q`` = mean of ``s`` over the submitted reviewers with a scored answer.
Questionnaire score ``S = sum(w_q * q) / sum(w_q)`` over the questions that have a ``q`` and a
weight ``w_q > 0``; ``None`` when there is none.

Verdict of one questionnaire (every reason is listed; the worst wins, FAIL > MISSING >
CONCERN > PASS): no submitted response, a submitted response with required questions
unanswered, or fewer than ``verdict.min_reviewers`` submitted reviewers → MISSING; an
unwaived blocking answer → FAIL; otherwise ``S < concern_at`` → FAIL, ``S < pass_at`` →
CONCERN, a question whose mean is below its ``min_acceptable`` → CONCERN, reviewers who
disagree (Likert spread >= 2 points, yes against no, scored options 0.5 or more apart) →
CONCERN when the template says so. Only current SUBMITTED responses count; drafts are listed
as in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.canonical import to_jsonable
from workbench.questionnaires._aggregate import (
    BlockingAnswer,
    QuestionSummary,
    _Record,
    _records,
    _summarise,
    normalise_answer,
)
from workbench.questionnaires._schema import QualitativeRequirements, QuestionnaireNeeds, QuestionnaireTemplate

PASS, CONCERN, FAIL, MISSING = "PASS", "CONCERN", "FAIL", "MISSING"
_SEVERITY = {PASS: 0, CONCERN: 1, MISSING: 2, FAIL: 3}


def worst(verdicts: Iterable[str]) -> str:
    """The most severe verdict (FAIL > MISSING > CONCERN > PASS); PASS for none."""
    return max(verdicts, key=_SEVERITY.__getitem__, default=PASS)


@dataclass(frozen=True)
class QuestionnaireScore:
    """Aggregate of one questionnaire: completion, weighted score and verdict with reasons."""

    questionnaire_id: str
    version: int
    title: str
    verdict: str
    reasons: tuple[str, ...]
    score: float | None
    reviewers: tuple[str, ...]
    in_progress: tuple[str, ...]
    completion: dict[str, float]
    missing_required: dict[str, tuple[str, ...]]
    complete: bool
    questions: tuple[QuestionSummary, ...]
    blocking: tuple[BlockingAnswer, ...]
    disagreements: tuple[str, ...]
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


@dataclass(frozen=True)
class QualitativeVerdict:
    """The overall qualitative verdict handed to the decision engine."""

    verdict: str
    reasons: tuple[str, ...]
    questionnaires: tuple[QuestionnaireScore, ...]
    requirements: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


def score_questionnaire(
    template: QuestionnaireTemplate,
    responses: Iterable[Any],
    *,
    waived: Iterable[str] = (),
    allow_blocking_answers: bool = False,
    min_reviewers: int | None = None,
    roles: Mapping[str, Iterable[str]] | None = None,
) -> QuestionnaireScore:
    """Aggregate the responses to one questionnaire into a :class:`QuestionnaireScore`.

    Parameters
    ----------
    template : QuestionnaireTemplate
    responses : iterable of store ``Response`` objects or mappings
        Each has ``questionnaire_id``, ``reviewer``, ``status`` (``draft`` / ``submitted``),
        ``answers`` (question id → value or ``{value, evidence, comment}``) and optionally
        ``revision``, ``role`` and ``current``. Responses to other questionnaires are ignored.
    waived : question ids whose blocking answers are waived (listed, but do not FAIL).
    allow_blocking_answers : bool
        When true an unwaived blocking answer makes the verdict CONCERN instead of FAIL.
    min_reviewers : int, optional
        Overrides the template's ``verdict.min_reviewers`` when larger.
    roles : mapping reviewer → roles, used when a response carries no ``role``.

    Examples
    --------
    >>> from workbench.questionnaires import get_template
    >>> t = get_template("user_trust_contestability")
    >>> score_questionnaire(t, []).verdict
    'MISSING'
    """
    waived_ids = frozenset(waived)
    records = [r for r in _records(responses) if r.questionnaire_id == template.id]
    submitted = [r for r in records if r.status == "submitted"]
    drafts = tuple(r.reviewer for r in records if r.status == "draft")
    questions = tuple(_summarise(template, q, submitted, waived_ids) for q in template.questions)
    by_id = {q.id: q for q in template.questions}
    missing = {}
    completion = {}
    required = template.required_ids
    for rec in submitted:
        gaps = tuple(qid for qid in required
                     if qid not in rec.answers or not by_id[qid].is_answered(rec.answers[qid]["value"]))
        completion[rec.reviewer] = 1.0 if not required else (len(required) - len(gaps)) / len(required)
        if gaps:
            missing[rec.reviewer] = gaps
    weighted = [(q.weight, q.score) for q in questions if q.score is not None and q.weight > 0]
    total = sum(w for w, _ in weighted)
    score = sum(w * s for w, s in weighted) / total if total else None
    blocking = tuple(b for q in questions for b in q.blocking)
    disagreements = tuple(q.question_id for q in questions if q.disagreement)
    need = max(template.verdict.min_reviewers, min_reviewers or 0)
    found = _verdict_reasons(template, questions, submitted, drafts, missing, score, blocking,
                             disagreements, need, allow_blocking_answers)
    return QuestionnaireScore(
        questionnaire_id=template.id, version=template.version, title=template.title,
        verdict=worst(v for v, _ in found), reasons=tuple(m for _, m in found), score=score,
        reviewers=tuple(r.reviewer for r in submitted), in_progress=drafts, completion=completion,
        missing_required=missing, complete=bool(submitted) and not missing, questions=questions,
        blocking=blocking, disagreements=disagreements,
        roles={r.reviewer: _roles_of(r, roles) for r in submitted},
        rules=template.verdict.model_dump(mode="json"),
    )


def _roles_of(rec: _Record, roles: Mapping[str, Iterable[str]] | None) -> tuple[str, ...]:
    if rec.role:
        return (rec.role,)
    given = (roles or {}).get(rec.reviewer, ())
    return (given,) if isinstance(given, str) else tuple(given)


def _verdict_reasons(template, questions, submitted, drafts, missing, score, blocking, disagreements,
                     need, allow_blocking) -> list[tuple[str, str]]:
    rules = template.verdict
    out: list[tuple[str, str]] = []
    if not submitted:
        progress = f" ({len(drafts)} in progress: {', '.join(drafts)})" if drafts else ""
        out.append((MISSING, f"no submitted response{progress}"))
    elif len(submitted) < need:
        out.append((MISSING, f"{len(submitted)} submitted reviewer(s), {need} required"))
    for reviewer, gaps in missing.items():
        out.append((MISSING, f"{reviewer} left required questions unanswered: {', '.join(gaps)}"))
    for b in blocking:
        if not b.waived:
            out.append((CONCERN if allow_blocking else FAIL,
                        f"blocking answer to {b.question_id}: {b.reviewer} answered {b.answer!r}"))
    if not submitted or missing:
        return out
    if score is None:
        out.append((CONCERN, "no scored answers (every scored question was answered n/a)"))
    elif score < rules.concern_at:
        out.append((FAIL, f"score {score:.3f} is below {rules.concern_at:g} (concern_at)"))
    elif score < rules.pass_at:
        out.append((CONCERN, f"score {score:.3f} is below {rules.pass_at:g} (pass_at)"))
    for q in questions:
        if q.below_minimum:
            out.append((CONCERN, f"{q.question_id}: mean {q.mean:.2f} is below the minimum acceptable"))
    if disagreements and rules.concern_on_disagreement:
        out.append((CONCERN, f"reviewers disagree on {', '.join(disagreements)}"))
    if not out:
        out.append((PASS, f"score {score:.3f} meets pass_at {rules.pass_at:g}"))
    return out


def qualitative_verdict(
    templates: Mapping[str, QuestionnaireTemplate] | Iterable[QuestionnaireTemplate],
    responses: Iterable[Any],
    *,
    requirements: Any = None,
    roles: Mapping[str, Iterable[str]] | None = None,
) -> QualitativeVerdict:
    """Overall PASS / CONCERN / FAIL / MISSING over the required questionnaires, with reasons.

    Parameters
    ----------
    templates : templates by id (``load_templates()``) or an iterable of templates.
    responses : every response of the review (store ``Response`` objects or mappings).
    requirements : QualitativeRequirements, its mapping form, or the policy's qualitative
        criterion itself (its other keys are ignored):
        which questionnaires, minimum submitted reviewers (in total or per role), minimum
        score, whether blocking answers are allowed, and waived blocking answers.
    roles : reviewer → roles, for responses that do not carry a ``role``.

    Examples
    --------
    >>> from workbench.questionnaires import load_templates
    >>> qualitative_verdict(load_templates(), [], requirements={"questionnaires": ["fairness_ethics"]}).verdict
    'MISSING'
    """
    req = QualitativeRequirements.from_policy(requirements if requirements is not None else {})
    by_id = dict(templates) if isinstance(templates, Mapping) else {t.id: t for t in templates}
    responses = list(responses)
    scores: list[QuestionnaireScore]
    reasons: list[str]
    scores, reasons = [], []
    for needs in req.resolve(by_id):
        template = by_id[needs.questionnaire_id]
        qs = score_questionnaire(template, responses, waived=needs.waived, roles=roles,
                                 allow_blocking_answers=req.allow_blocking_answers,
                                 min_reviewers=needs.min_reviewers)
        extra = _requirement_reasons(qs, needs)
        if extra:
            qs = _with_reasons(qs, extra)
        scores.append(qs)
        reasons.extend(f"{qs.questionnaire_id}: {m}" for m in qs.reasons if qs.verdict != PASS)
    if not scores:
        reasons.append("no questionnaire is required or loaded")
    verdict = worst(q.verdict for q in scores) if scores else MISSING
    if verdict == PASS:
        reasons = [f"{q.questionnaire_id}: {q.reasons[0]}" for q in scores]
    return QualitativeVerdict(verdict=verdict, reasons=tuple(reasons), questionnaires=tuple(scores),
                              requirements=req.model_dump(mode="json"))


def _requirement_reasons(qs: QuestionnaireScore, needs: QuestionnaireNeeds) -> list[tuple[str, str]]:
    out = []
    for role, n in needs.per_role.items():
        have = sum(role in rs for rs in qs.roles.values())
        if have < n:
            out.append((MISSING, f"{have} submitted reviewer(s) with role {role}, {n} required"))
    if needs.min_score is not None and qs.score is not None and qs.complete and qs.score < needs.min_score:
        out.append((FAIL, f"score {qs.score:.3f} is below the policy minimum {needs.min_score:g}"))
    return out


def _with_reasons(qs: QuestionnaireScore, extra: list[tuple[str, str]]) -> QuestionnaireScore:
    from dataclasses import replace

    # "no submitted response" says less than the role requirement that follows it: keep the latter.
    base = [] if qs.verdict == PASS else [(qs.verdict, m) for m in qs.reasons if m != "no submitted response"]
    verdict = worst([qs.verdict if qs.verdict != PASS else PASS] + [v for v, _ in extra])
    return replace(qs, verdict=verdict, reasons=tuple(m for _, m in base + extra))


__all__ = [
    "CONCERN",
    "FAIL",
    "MISSING",
    "PASS",
    "BlockingAnswer",
    "QualitativeRequirements",
    "QualitativeVerdict",
    "QuestionSummary",
    "QuestionnaireScore",
    "normalise_answer",
    "qualitative_verdict",
    "score_questionnaire",
    "worst",
]
