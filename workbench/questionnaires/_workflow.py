"""Response workflow over the review store: validate, save drafts, submit, revise, import.

The store keeps responses (one per reviewer per questionnaire per review, revisions,
optimistic concurrency, one audit entry per write). This module adds what the store cannot
know: the template. Answers are checked against their questions before anything is written,
a response is submitted only when every required question is answered, and only users
holding one of the template's roles answer it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any


from workbench.yamlio import read_yaml
from workbench.canonical import sha256_file
from workbench.errors import PermissionDenied, QuestionnaireError, StoreError
from workbench.questionnaires._loader import load_templates
from workbench.questionnaires._schema import QuestionnaireTemplate
from workbench.questionnaires.scoring import QualitativeVerdict, normalise_answer, qualitative_verdict

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.policy import Policy
    from workbench.store import Response, Store

_ANSWER_KEYS = ("value", "evidence", "comment")


def validate_answers(template: QuestionnaireTemplate, answers: Mapping[str, Any], *,
                     source: str = "answers") -> dict[str, dict[str, Any]]:
    """Check every answer against its question; return them normalised.

    An answer is a bare value or ``{value, evidence: [ids], comment}``; a ``None`` value (or
    blank text) means "not answered yet" and is kept so a comment is never lost.

    Raises
    ------
    QuestionnaireError
        Naming ``source``, the questionnaire and every bad question id with its problem.

    Examples
    --------
    >>> from workbench.questionnaires import get_template
    >>> t = get_template("user_trust_contestability")
    >>> validate_answers(t, {"contest_decision": False})["contest_decision"]["value"]
    'no'
    """
    if not isinstance(answers, Mapping):
        raise QuestionnaireError(f"{source}: answers must be a mapping of question id to answer")
    known = {q.id: q for q in template.questions}
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for qid, raw in answers.items():
        question = known.get(qid)
        if question is None:
            problems.append(f"'{qid}' is not a question of {template.id} v{template.version}")
            continue
        if isinstance(raw, Mapping) and not set(raw) <= set(_ANSWER_KEYS):
            extra = sorted(set(raw) - set(_ANSWER_KEYS))
            problems.append(f"'{qid}': unknown answer keys {extra} (use value, evidence, comment)")
            continue
        answer = normalise_answer(raw)
        if not all(isinstance(e, str) and e.strip() for e in answer["evidence"]):
            problems.append(f"'{qid}': evidence must be a list of evidence ids (text)")
            continue
        if not isinstance(answer["comment"], str):
            problems.append(f"'{qid}': comment must be text")
            continue
        if answer["value"] is not None:
            try:
                answer["value"] = question.check_value(answer["value"])
            except ValueError as exc:
                problems.append(f"'{qid}' ({question.type}): {exc}")
                continue
        out[qid] = answer
    if problems:
        raise QuestionnaireError(f"{source}: questionnaire {template.id}: " + "; ".join(problems))
    return out


def missing_required(template: QuestionnaireTemplate, answers: Mapping[str, Any]) -> tuple[str, ...]:
    """Ids of the required questions not (meaningfully) answered, in template order."""
    out = []
    for q in template.questions:
        if q.required:
            raw = answers.get(q.id)
            if raw is None or not q.is_answered(normalise_answer(raw)["value"]):
                out.append(q.id)
    return tuple(out)


def _name(reviewer: Any) -> str:
    return getattr(reviewer, "name", reviewer)


def check_reviewer(store: Store, template: QuestionnaireTemplate, reviewer: str | User) -> None:
    """Refuse (and audit) a reviewer who is unknown, disabled or holds none of the template's roles."""
    name = _name(reviewer)
    user = store.get_user(name)
    if user is None:
        raise QuestionnaireError(
            f"reviewer {name!r} is not a registered user; add them with `workbench users add {name} --role ROLE` "
            f"(questionnaire {template.id} is answered by {', '.join(template.roles)})"
        )
    if not set(user.roles) & set(template.roles):
        problem = (f"{name} holds {', '.join(user.roles)}; questionnaire {template.id} is answered by "
                   f"{', '.join(template.roles)}")
        store.audit(name, "permission_denied", f"user:{name}",
                    {"attempted": "save_response", "questionnaire_id": template.id, "reason": problem})
        raise PermissionDenied(problem)


def save_answers(store: Store, template: QuestionnaireTemplate, review_id: str, reviewer: str | User,
                 answers: Mapping[str, Any], *, expected_version: int | None,
                 replace: bool = False) -> Response:
    """Validate ``answers`` and save them into the reviewer's draft (audited by the store).

    By default the answers are merged into the current draft (the app saves on every
    answer); ``replace=True`` makes them the whole answer set. ``expected_version`` is the
    version the caller loaded (None for a first save); a stale one raises StaleWriteError.
    """
    check_reviewer(store, template, reviewer)
    checked = validate_answers(template, answers)
    merged = dict(checked)
    if not replace:
        current = store.get_response(review_id, template.id, _name(reviewer))
        if current is not None and current.status == "draft":
            merged = {**current.answers, **checked}
    return store.save_draft(review_id, template.id, str(template.version), reviewer, merged,
                            expected_version=expected_version)


def submit(store: Store, template: QuestionnaireTemplate, review_id: str, reviewer: str | User, *,
           expected_version: int) -> Response:
    """Submit the reviewer's draft once every required question is answered; then it is read-only.

    Raises
    ------
    QuestionnaireError
        Listing the ids of the required questions still unanswered, or invalid stored answers.
    """
    check_reviewer(store, template, reviewer)
    name = _name(reviewer)
    current = store.get_response(review_id, template.id, name)
    if current is None:
        raise QuestionnaireError(f"{name} has no draft of {template.id} in review {review_id}; answer it first")
    if current.version != expected_version:
        # Let the store produce its stale-write message (and never validate a different version).
        return store.submit_response(review_id, template.id, reviewer, expected_version=expected_version)
    validate_answers(template, current.answers, source=f"{name}'s draft")
    gaps = missing_required(template, current.answers)
    if gaps:
        raise QuestionnaireError(
            f"cannot submit {template.id} for {name}: required questions unanswered: {', '.join(gaps)}"
        )
    return store.submit_response(review_id, template.id, reviewer, expected_version=expected_version)


def revise(store: Store, template: QuestionnaireTemplate, review_id: str, reviewer: str | User, *,
           reason: str, actor: str | User) -> Response:
    """Open a new draft revision of a submitted response (the old one stays, superseded)."""
    return store.revise_response(review_id, template.id, reviewer, reason=reason, actor=actor)


def _entries(raw: Any, path: Path) -> list[Mapping[str, Any]]:
    if isinstance(raw, Mapping) and "responses" in raw:
        if set(raw) != {"responses"} or not isinstance(raw["responses"], list):
            raise QuestionnaireError(f"{path}: use either one response or `responses:` with a list of them")
        entries = raw["responses"]
    else:
        entries = [raw]
    for i, e in enumerate(entries):
        allowed = {"questionnaire", "version", "reviewer", "answers"}
        if not isinstance(e, Mapping) or "questionnaire" not in e or "answers" not in e:
            raise QuestionnaireError(f"{path}: response #{i + 1}: needs `questionnaire:` and `answers:`")
        if set(e) - allowed:
            raise QuestionnaireError(f"{path}: response #{i + 1}: unknown keys {sorted(set(e) - allowed)} "
                                     f"(use {', '.join(sorted(allowed))})")
    return entries


def import_responses(store: Store, path: str | Path, *, review_id: str, reviewer: str,
                     templates: Mapping[str, QuestionnaireTemplate], submit_after: bool = False,
                     actor: str | None = None) -> list[Response]:
    """Load answers gathered outside the app (YAML) as ``reviewer``'s drafts, optionally submitted.

    Every response in the file is validated before anything is written, and all writes run
    in one store transaction (all or nothing). The import itself is audited with the file's
    sha256; each save and submission is audited by the store. A response that is already
    submitted is refused: revise it first.
    """
    path = Path(path)
    raw = read_yaml(path, error=QuestionnaireError, what="responses file")
    if store.get_review(review_id) is None:
        raise StoreError(f"review {review_id!r} is not in the store; run `workbench review` or open it in the app first")
    plan = []
    for i, entry in enumerate(_entries(raw, path)):
        where = f"{path}: response #{i + 1}"
        tid = entry["questionnaire"]
        if tid not in templates:
            raise QuestionnaireError(f"{where}: unknown questionnaire {tid!r}; known: {', '.join(templates)}")
        template = templates[tid]
        if entry.get("version") is not None and str(entry["version"]) != str(template.version):
            raise QuestionnaireError(f"{where}: answers were given to {tid} v{entry['version']}, "
                                     f"the current template is v{template.version}; re-collect them")
        if entry.get("reviewer") not in (None, reviewer):
            raise QuestionnaireError(f"{where}: reviewer {entry['reviewer']!r} differs from --as {reviewer!r}")
        answers = validate_answers(template, entry["answers"] or {}, source=where)
        if submit_after and (gaps := missing_required(template, answers)):
            raise QuestionnaireError(f"{where}: cannot --submit {tid}: required questions unanswered: "
                                     f"{', '.join(gaps)}")
        check_reviewer(store, template, reviewer)
        plan.append((template, answers))
    saved = []
    with store.transaction():
        store.audit(actor or reviewer, "responses_imported", review_id,
                    {"file": path.name, "sha256": sha256_file(path), "reviewer": reviewer,
                     "questionnaires": [t.id for t, _ in plan], "submit": submit_after})
        for template, answers in plan:
            current = store.get_response(review_id, template.id, reviewer)
            if current is not None and current.status != "draft":
                raise QuestionnaireError(
                    f"{path}: {reviewer}'s response to {template.id} is {current.status}; revise it first "
                    "(in the app) or import into another review")
            response = store.save_draft(review_id, template.id, str(template.version), reviewer, answers,
                                        expected_version=current.version if current else None)
            if submit_after:
                response = store.submit_response(review_id, template.id, reviewer,
                                                 expected_version=response.version)
            saved.append(response)
    return saved


def qualitative_outcomes(store: Store, review_id: str, policy: Policy, *,
                         templates: Mapping[str, QuestionnaireTemplate] | None = None,
                         extra_dirs: Iterable[str | Path] = ()) -> dict[str, QualitativeVerdict]:
    """The ``qualitative=`` argument of ``workbench.policy.decide``: verdicts by criterion id.

    Reads every current response of the review and the reviewers' roles from the store.
    """
    templates = templates if templates is not None else load_templates(extra_dirs)
    responses = store.list_responses(review_id)
    roles = {u.name: u.roles for u in store.list_users()}
    return {c.id: qualitative_verdict(templates, responses, requirements=c, roles=roles)
            for c in policy.criteria if c.kind == "qualitative"}


__all__ = [
    "check_reviewer",
    "import_responses",
    "missing_required",
    "qualitative_outcomes",
    "revise",
    "save_answers",
    "submit",
    "validate_answers",
]
