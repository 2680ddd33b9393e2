"""Questionnaire responses: versions, stale writes, submission, revisions, concurrent savers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import StaleWriteError, StoreError
from workbench.store import Store


@pytest.fixture
def review(store: Store) -> str:
    return store.upsert_review("r", manifest_path="/r/review.yaml", evidence_digest="e", actor="cli:t")


def test_versions_increment_and_a_stale_write_is_refused(store: Store, review: str) -> None:
    first = store.save_draft(review, "fairness", "1.0", "grace", {"q1": "yes"}, expected_version=None)
    assert (first.version, first.revision, first.status) == (1, 1, "draft")
    second = store.save_draft(review, "fairness", "1.0", "grace", {"q1": "no"}, expected_version=1)
    assert second.version == 2
    before = store.audit_count()
    with pytest.raises(StaleWriteError, match="you loaded version 1 but version 2"):
        store.save_draft(review, "fairness", "1.0", "grace", {"q1": "maybe"}, expected_version=1)
    with pytest.raises(StaleWriteError, match="already exists at version 2"):
        store.save_draft(review, "fairness", "1.0", "grace", {"q1": "maybe"}, expected_version=None)
    with pytest.raises(StaleWriteError, match="no response exists yet"):
        store.save_draft(review, "ethics", "1.0", "grace", {"q1": "x"}, expected_version=3)
    assert store.audit_count() == before  # refused writes change nothing
    assert store.get_response(review, "fairness", "grace").answers == {"q1": "no"}


def test_submitted_response_is_read_only_until_revised(store: Store, review: str) -> None:
    store.save_draft(review, "q", "1", "grace", {"a": 1}, expected_version=None)
    submitted = store.submit_response(review, "q", "grace", expected_version=1)
    assert submitted.status == "submitted" and submitted.submitted_at is not None
    with pytest.raises(StoreError, match="read-only"):
        store.save_draft(review, "q", "1", "grace", {"a": 2}, expected_version=submitted.version)
    with pytest.raises(StoreError, match="already submitted"):
        store.submit_response(review, "q", "grace", expected_version=submitted.version)
    with pytest.raises(StoreError, match="reason"):
        store.revise_response(review, "q", "grace", reason=" ", actor="grace")
    revised = store.revise_response(review, "q", "grace", reason="new evidence", actor="grace")
    assert (revised.revision, revised.version, revised.status) == (2, 1, "draft")
    assert revised.answers == {"a": 1} and revised.supersedes == submitted.response_id
    old = store.get_response(review, "q", "grace", revision=1)
    assert old.status == "superseded" and old.answers == {"a": 1}  # type: ignore[union-attr]
    store.save_draft(review, "q", "1", "grace", {"a": 3}, expected_version=1)
    assert [r.revision for r in store.list_responses(review)] == [2]
    assert [r.revision for r in store.list_responses(review, current_only=False)] == [1, 2]
    actions = [e.action for e in store.audit_entries(subject=review)][1:]
    assert actions == ["response_saved", "response_submitted", "response_revised", "response_saved"]


def test_list_responses_filters_by_questionnaire_and_status(store: Store, review: str) -> None:
    for who in ("ann", "ben", "cat"):
        store.save_draft(review, "q1", "1", who, {"x": who}, expected_version=None)
    store.save_draft(review, "q2", "1", "ann", {}, expected_version=None)
    store.submit_response(review, "q1", "ben", expected_version=1)
    assert [(r.questionnaire_id, r.reviewer) for r in store.list_responses(review)] == [
        ("q1", "ann"), ("q1", "ben"), ("q1", "cat"), ("q2", "ann")]
    assert [r.reviewer for r in store.list_responses(review, "q1", status="submitted")] == ["ben"]
    assert [r.reviewer for r in store.list_responses(review, "q1", status="draft")] == ["ann", "cat"]


def test_unknown_review_and_bad_answers(store: Store) -> None:
    with pytest.raises(StoreError, match="review 'nope' does not exist"):
        store.save_draft("nope", "q", "1", "grace", {}, expected_version=None)
    with pytest.raises(StoreError, match="answers"):
        store.save_draft("nope", "q", "1", "grace", ["a"], expected_version=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="save a draft first"):
        store.submit_response("nope", "q", "grace", expected_version=1)


def test_two_savers_on_separate_connections_never_lose_an_update(tmp_path: Path) -> None:
    """Two editors of one document retry on StaleWriteError; every edit survives."""
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        review = store.upsert_review("r", manifest_path="m", evidence_digest="e", actor="cli:t")
        store.save_document(review, "readiness", {}, actor="cli:t")
    per_writer, errors = 25, []

    def writer(name: str) -> None:
        try:
            with Store.open(path) as mine:
                for i in range(per_writer):
                    while True:
                        doc = mine.get_document(review, "readiness")
                        content = {**doc.content, f"{name}-{i}": True}  # type: ignore[union-attr]
                        try:
                            mine.save_document(review, "readiness", content, actor=name,
                                               expected_version=doc.version)  # type: ignore[union-attr]
                            break
                        except StaleWriteError:
                            continue
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("ann", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(path) as store:
        doc = store.get_document(review, "readiness")
        assert doc.version == 1 + 2 * per_writer  # type: ignore[union-attr]
        assert len(doc.content) == 2 * per_writer  # type: ignore[union-attr]
        assert store.verify_audit().ok


@settings(max_examples=15, deadline=None)
@given(answers=st.lists(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=10), max_size=3),
                        min_size=1, max_size=6))
def test_version_counts_saves_and_last_answers_win(tmp_path_factory: pytest.TempPathFactory, answers) -> None:
    with Store.open(tmp_path_factory.mktemp("h") / "w.db") as store:
        review = store.upsert_review("r", manifest_path="m", evidence_digest="e", actor="cli:t")
        version = None
        for a in answers:
            version = store.save_draft(review, "q", "1", "r1", a, expected_version=version).version
        current = store.get_response(review, "q", "r1")
        assert current.version == len(answers) and current.answers == answers[-1]  # type: ignore[union-attr]
        assert len(store.audit_entries(action="response_saved")) == len(answers)
