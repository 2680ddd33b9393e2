"""Questionnaire responses: drafts, submission, revisions, optimistic concurrency.

A response is keyed by (review, questionnaire, reviewer) and has *revisions*. Revision 1
starts as a draft; every save increments its ``version``. Saving needs the version the
editor loaded (``expected_version``; None means "no response yet"), so two tabs or two
processes can never silently overwrite each other: the loser gets :class:`StaleWriteError`.
A submitted revision is read-only; :meth:`revise_response` opens revision n+1 as a draft
(copying the answers), marks revision n ``superseded`` and keeps both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from workbench.auth import User
from workbench.canonical import canonical_json, digest
from workbench.errors import StaleWriteError, StoreError

if TYPE_CHECKING:
    from workbench.store._store import Store

ResponseStatus = Literal["draft", "submitted", "superseded"]


@dataclass(frozen=True)
class Response:
    """One revision of a reviewer's questionnaire response."""

    response_id: int
    review_id: str
    questionnaire_id: str
    questionnaire_version: str
    reviewer: str
    revision: int
    version: int
    status: ResponseStatus
    answers: dict[str, Any]
    created_at: str
    updated_at: str
    submitted_at: str | None
    supersedes: int | None
    revision_reason: str | None


def _response(row: dict[str, Any]) -> Response:
    row = dict(row)
    row["answers"] = json.loads(row["answers"])
    return Response(**row)


def _reviewer_name(reviewer: str | User) -> str:
    name = reviewer.name if isinstance(reviewer, User) else reviewer
    if not isinstance(name, str) or not name:
        raise StoreError("reviewer: give the reviewer's user name")
    return name


class ResponsesMixin:
    """Questionnaire response methods; mixed into ``Store``."""

    def get_response(self: Store, review_id: str, questionnaire_id: str, reviewer: str | User, *,
                     revision: int | None = None) -> Response | None:
        """The latest revision (or ``revision``) of the reviewer's response, or None."""
        sql = "SELECT * FROM responses WHERE review_id = ? AND questionnaire_id = ? AND reviewer = ?"
        params: list[Any] = [review_id, questionnaire_id, _reviewer_name(reviewer)]
        if revision is not None:
            sql += " AND revision = ?"
            params.append(int(revision))
        row = self._fetchone(sql + " ORDER BY revision DESC LIMIT 1", params)
        return None if row is None else _response(row)

    def list_responses(self: Store, review_id: str, questionnaire_id: str | None = None, *,
                       status: ResponseStatus | None = None, current_only: bool = True) -> list[Response]:
        """Responses of a review, by questionnaire, reviewer and revision.

        ``current_only`` keeps the newest revision per (questionnaire, reviewer); ``status``
        then filters those (e.g. ``"submitted"`` for scoring).
        """
        sql = "SELECT * FROM responses r WHERE review_id = ?"
        params: list[Any] = [review_id]
        if questionnaire_id is not None:
            sql += " AND questionnaire_id = ?"
            params.append(questionnaire_id)
        if current_only:
            sql += (" AND revision = (SELECT max(revision) FROM responses x WHERE x.review_id = r.review_id"
                    " AND x.questionnaire_id = r.questionnaire_id AND x.reviewer = r.reviewer)")
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = self._fetchall(sql + " ORDER BY questionnaire_id, reviewer, revision", params)
        return [_response(r) for r in rows]

    def _check_version(self: Store, current: Response | None, expected_version: int | None,
                       what: str) -> None:
        have = current.version if current else None
        if have != expected_version:
            if current is None:
                detail = "no response exists yet; save with expected_version=None"
            elif expected_version is None:
                detail = (f"a response already exists at version {have} "
                          f"(saved {current.updated_at}); reload it and save with expected_version={have}")
            else:
                detail = (f"you loaded version {expected_version} but version {have} was saved at "
                          f"{current.updated_at}; reload, re-apply your changes and save again")
            raise StaleWriteError(f"{what}: stale write refused: {detail}")

    def save_draft(self: Store, review_id: str, questionnaire_id: str, questionnaire_version: str,
                   reviewer: str | User, answers: dict[str, Any], *,
                   expected_version: int | None) -> Response:
        """Save the reviewer's draft answers; the version increments on every save.

        Raises
        ------
        StaleWriteError
            ``expected_version`` is not the stored version (None: a response exists).
        StoreError
            The current revision is submitted (revise it first) or the review is unknown.
        PermissionDenied
            ``reviewer`` is a ``User`` saving someone else's response, or is disabled.
        """
        name = _reviewer_name(reviewer)
        if not isinstance(answers, dict):
            raise StoreError(f"answers: expected a dict of question id -> answer, got {type(answers).__name__}")
        answers_json = canonical_json(answers)
        self._authorize_actor(reviewer, "save_response", subject=name)
        self._require_review(review_id)
        what = f"response of {name!r} to {questionnaire_id!r} in review {review_id}"
        with self.transaction():
            current = self.get_response(review_id, questionnaire_id, name)
            self._check_version(current, expected_version, what)
            now = self.now()
            if current is None:
                self._insert("responses", {"review_id": review_id, "questionnaire_id": questionnaire_id,
                                           "questionnaire_version": str(questionnaire_version),
                                           "reviewer": name, "revision": 1, "version": 1, "status": "draft",
                                           "answers": answers_json, "created_at": now, "updated_at": now})
            else:
                if current.status != "draft":
                    raise StoreError(f"{what}: revision {current.revision} is {current.status} and "
                                     "read-only; revise it (with a reason) to change answers")
                self._execute(
                    "UPDATE responses SET version = version + 1, answers = ?, questionnaire_version = ?, "
                    "updated_at = ? WHERE response_id = ?",
                    (answers_json, str(questionnaire_version), now, current.response_id))
            saved = self.get_response(review_id, questionnaire_id, name)
            assert saved is not None
            self.audit(reviewer, "response_saved", review_id,
                       {"questionnaire_id": questionnaire_id, "questionnaire_version": str(questionnaire_version),
                        "reviewer": name, "revision": saved.revision, "version": saved.version,
                        "answers_digest": digest(answers), "answered": len(answers)},
                       bound=(("responses", (saved.response_id,)),))
        return saved

    def submit_response(self: Store, review_id: str, questionnaire_id: str, reviewer: str | User, *,
                        expected_version: int) -> Response:
        """Submit the reviewer's current draft; it is read-only afterwards."""
        name = _reviewer_name(reviewer)
        self._authorize_actor(reviewer, "submit_response", subject=name)
        what = f"response of {name!r} to {questionnaire_id!r} in review {review_id}"
        with self.transaction():
            current = self.get_response(review_id, questionnaire_id, name)
            if current is None:
                raise StoreError(f"{what}: nothing to submit; save a draft first")
            self._check_version(current, expected_version, what)
            if current.status != "draft":
                raise StoreError(f"{what}: revision {current.revision} is already {current.status}")
            now = self.now()
            self._execute("UPDATE responses SET status = 'submitted', version = version + 1, "
                          "submitted_at = ?, updated_at = ? WHERE response_id = ?",
                          (now, now, current.response_id))
            self.audit(reviewer, "response_submitted", review_id,
                       {"questionnaire_id": questionnaire_id, "reviewer": name, "revision": current.revision,
                        "version": current.version + 1, "answers_digest": digest(current.answers)},
                       bound=(("responses", (current.response_id,)),))
            return self.get_response(review_id, questionnaire_id, name)  # type: ignore[return-value]

    def revise_response(self: Store, review_id: str, questionnaire_id: str, reviewer: str | User, *,
                        reason: str, actor: str | User) -> Response:
        """Open a new draft revision of a submitted response; the old one is kept, superseded."""
        name = _reviewer_name(reviewer)
        if not isinstance(reason, str) or not reason.strip():
            raise StoreError("reason: say why the submitted response is being revised")
        self._authorize_actor(actor, "revise_response", subject=name)
        what = f"response of {name!r} to {questionnaire_id!r} in review {review_id}"
        with self.transaction():
            current = self.get_response(review_id, questionnaire_id, name)
            if current is None or current.status != "submitted":
                state = "does not exist" if current is None else f"is a {current.status}"
                raise StoreError(f"{what}: only a submitted response can be revised; it {state}")
            now = self.now()
            self._execute("UPDATE responses SET status = 'superseded', updated_at = ? WHERE response_id = ?",
                          (now, current.response_id))
            self._insert("responses", {"review_id": review_id, "questionnaire_id": questionnaire_id,
                                       "questionnaire_version": current.questionnaire_version, "reviewer": name,
                                       "revision": current.revision + 1, "version": 1, "status": "draft",
                                       "answers": canonical_json(current.answers), "created_at": now,
                                       "updated_at": now, "supersedes": current.response_id,
                                       "revision_reason": reason.strip()})
            revised = self.get_response(review_id, questionnaire_id, name)
            assert revised is not None
            self.audit(actor, "response_revised", review_id,
                       {"questionnaire_id": questionnaire_id, "reviewer": name,
                        "revision": current.revision + 1, "supersedes_revision": current.revision,
                        "reason": reason.strip()},
                       bound=(("responses", (current.response_id,)), ("responses", (revised.response_id,))))
            return self.get_response(review_id, questionnaire_id, name)  # type: ignore[return-value]


__all__ = ["Response", "ResponseStatus", "ResponsesMixin"]
