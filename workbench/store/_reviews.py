"""Reviews, evidence runs, decisions, exports and app-edited documents of the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from workbench.canonical import canonical_json, digest, sha256_text
from workbench.errors import StaleWriteError, StoreError

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.store._store import Store

DocumentKind = Literal["readiness", "model_card"]
DOCUMENT_KINDS = ("readiness", "model_card")


@dataclass(frozen=True)
class Review:
    """One review: a manifest (by name and path) and its latest evidence digest."""

    review_id: str
    name: str
    manifest_path: str
    evidence_digest: str | None
    created_at: str
    created_by: str
    updated_at: str


@dataclass(frozen=True)
class EvidenceRun:
    """One stored evidence JSON. ``evidence`` is None in listings."""

    run_id: int
    review_id: str
    evidence_digest: str
    content_digest: str
    created_at: str
    created_by: str
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class DecisionRecord:
    """One stored decision JSON and the digest of its canonical form."""

    decision_id: int
    review_id: str
    decision: dict[str, Any]
    digest: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class ExportRecord:
    """A file exported for a review (packet PDF, evidence JSON, ...)."""

    export_id: int
    review_id: str
    kind: str
    sha256: str
    path: str
    bytes: int
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Document:
    """A review document edited in the app; ``version`` counts saves (1 = first)."""

    review_id: str
    kind: str
    version: int
    content: dict[str, Any]
    updated_at: str
    updated_by: str


def review_id_for(name: str) -> str:
    """Stable review id: first 16 hex of sha256 of the review's ``name``.

    The manifest's location is recorded (``upsert_review``) but is not part of the identity: a
    CI runner that checks the review out in another folder must find the same sign-offs and
    waivers (they are bound to the evidence and policy digests, which makes them safe to reuse).

    Examples
    --------
    >>> len(review_id_for("credit 2.3"))
    16
    """
    return sha256_text(canonical_json([name]))[:16]


def _run(row: dict[str, Any], *, with_json: bool) -> EvidenceRun:
    return EvidenceRun(row["run_id"], row["review_id"], row["evidence_digest"], row["content_digest"],
                       row["created_at"], row["created_by"],
                       json.loads(row["evidence"]) if with_json else None)


class ReviewsMixin:
    """Review-level records; mixed into ``Store``."""

    @staticmethod
    def review_id_for(name: str) -> str:
        """See :func:`review_id_for`."""
        return review_id_for(name)

    def upsert_review(self: Store, name: str, *, manifest_path: str, evidence_digest: str | None,
                      actor: str | User) -> str:
        """Create or update the review named ``name``; return its id (the latest path is kept)."""
        if not name:
            raise StoreError("review name: must not be empty (manifest field `name`)")
        self._authorize_actor(actor, "save_evidence")
        review_id = review_id_for(name)
        now = self.now()
        with self.transaction():
            existing = self._fetchone("SELECT evidence_digest FROM reviews WHERE review_id = ?",
                                      (review_id,))
            if existing is None:
                self._insert("reviews", {"review_id": review_id, "name": name,
                                         "manifest_path": str(manifest_path),
                                         "evidence_digest": evidence_digest, "created_at": now,
                                         "created_by": _name(actor), "updated_at": now})
            else:
                self._execute("UPDATE reviews SET evidence_digest = ?, manifest_path = ?, updated_at = ? "
                              "WHERE review_id = ?", (evidence_digest, str(manifest_path), now, review_id))
            self.audit(actor, "review_created" if existing is None else "review_updated", review_id,
                       {"name": name, "manifest_path": str(manifest_path),
                        "evidence_digest": evidence_digest}, bound=(("reviews", (review_id,)),))
        return review_id

    def get_review(self: Store, review_id: str) -> Review | None:
        """The review with ``review_id``, or None."""
        row = self._fetchone("SELECT * FROM reviews WHERE review_id = ?", (review_id,))
        return None if row is None else Review(**row)

    def list_reviews(self: Store) -> list[Review]:
        """All reviews, most recently updated first."""
        return [Review(**r) for r in self._fetchall("SELECT * FROM reviews ORDER BY updated_at DESC")]

    def _require_review(self: Store, review_id: str) -> None:
        if self._fetchone("SELECT 1 AS x FROM reviews WHERE review_id = ?", (review_id,)) is None:
            raise StoreError(f"review {review_id!r} does not exist; create it with upsert_review first")

    def save_evidence(self: Store, review_id: str, evidence: dict[str, Any], *, actor: str | User) -> int:
        """Store an evidence JSON; return its run id. Needs ``evidence["evidence_digest"]``."""
        if not isinstance(evidence, dict) or not evidence.get("evidence_digest"):
            raise StoreError("evidence: field `evidence_digest` is missing; build it with workbench.evidence")
        self._authorize_actor(actor, "save_evidence")
        self._require_review(review_id)
        content_digest = evidence.get("digest") or digest({k: v for k, v in evidence.items() if k != "digest"})
        with self.transaction():
            run_id = self._insert("evidence_runs", {"review_id": review_id,
                                                    "evidence_digest": evidence["evidence_digest"],
                                                    "content_digest": content_digest,
                                                    "evidence": canonical_json(evidence),
                                                    "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "evidence_saved", review_id,
                       {"run_id": run_id, "evidence_digest": evidence["evidence_digest"],
                        "content_digest": content_digest}, bound=(("evidence_runs", (run_id,)),))
        return run_id

    def latest_evidence(self: Store, review_id: str) -> EvidenceRun | None:
        """The newest evidence run of the review, with its JSON."""
        row = self._fetchone("SELECT * FROM evidence_runs WHERE review_id = ? ORDER BY run_id DESC LIMIT 1",
                             (review_id,))
        return None if row is None else _run(row, with_json=True)

    def evidence_by_digest(self: Store, review_id: str, evidence_digest: str) -> EvidenceRun | None:
        """The newest run of the review with this evidence (lineage) digest."""
        row = self._fetchone(
            "SELECT * FROM evidence_runs WHERE review_id = ? AND evidence_digest = ? "
            "ORDER BY run_id DESC LIMIT 1", (review_id, evidence_digest))
        return None if row is None else _run(row, with_json=True)

    def list_evidence_runs(self: Store, review_id: str) -> list[EvidenceRun]:
        """All runs of the review, oldest first, without the JSON."""
        rows = self._fetchall(
            "SELECT run_id, review_id, evidence_digest, content_digest, created_at, created_by, "
            "NULL AS evidence FROM evidence_runs WHERE review_id = ? ORDER BY run_id", (review_id,))
        return [_run(r, with_json=False) for r in rows]

    def save_decision(self: Store, review_id: str, decision: dict[str, Any], *, actor: str | User) -> int:
        """Store a decision JSON; return its id. The audit payload carries its digest."""
        if not isinstance(decision, dict):
            raise StoreError(f"decision: expected a dict, got {type(decision).__name__}")
        self._authorize_actor(actor, "save_decision")
        self._require_review(review_id)
        decision_digest = digest(decision)
        with self.transaction():
            decision_id = self._insert("decisions", {"review_id": review_id,
                                                     "decision": canonical_json(decision),
                                                     "digest": decision_digest, "created_at": self.now(),
                                                     "created_by": _name(actor)})
            self.audit(actor, "decision_saved", review_id,
                       {"decision_id": decision_id, "digest": decision_digest,
                        "outcome": decision.get("outcome")}, bound=(("decisions", (decision_id,)),))
            # Every decision anchors the chain: its head is signed with the server key.
            self.checkpoint("decision")
        return decision_id

    def _decisions(self: Store, review_id: str, suffix: str) -> list[DecisionRecord]:
        rows = self._fetchall(f"SELECT * FROM decisions WHERE review_id = ? {suffix}", (review_id,))
        return [DecisionRecord(r["decision_id"], r["review_id"], json.loads(r["decision"]), r["digest"],
                               r["created_at"], r["created_by"]) for r in rows]

    def latest_decision(self: Store, review_id: str) -> DecisionRecord | None:
        """The newest decision of the review, or None."""
        rows = self._decisions(review_id, "ORDER BY decision_id DESC LIMIT 1")
        return rows[0] if rows else None

    def list_decisions(self: Store, review_id: str) -> list[DecisionRecord]:
        """All decisions of the review, oldest first."""
        return self._decisions(review_id, "ORDER BY decision_id")

    def record_export(self: Store, review_id: str, *, actor: str | User, kind: str, sha256: str,
                      path: str, bytes: int) -> int:  # noqa: A002 - the contract's field name
        """Record that a file (e.g. the signed packet) was exported; return its id."""
        self._authorize_actor(actor, "export")
        self._require_review(review_id)
        with self.transaction():
            export_id = self._insert("exports", {"review_id": review_id, "kind": kind, "sha256": sha256,
                                                 "path": str(path), "bytes": int(bytes),
                                                 "created_at": self.now(), "created_by": _name(actor)})
            self.audit(actor, "exported", review_id,
                       {"export_id": export_id, "kind": kind, "sha256": sha256, "path": str(path),
                        "bytes": int(bytes)})
        return export_id

    def list_exports(self: Store, review_id: str) -> list[ExportRecord]:
        """All exports of the review, oldest first."""
        return [ExportRecord(**r) for r in
                self._fetchall("SELECT * FROM exports WHERE review_id = ? ORDER BY export_id", (review_id,))]

    def save_document(self: Store, review_id: str, kind: DocumentKind, content: dict[str, Any], *,
                      actor: str | User, expected_version: int | None = None) -> Document:
        """Save a readiness plan or model card edited in the app (optimistic concurrency).

        ``expected_version`` is the version the editor loaded; None means "I expect no
        document yet". A mismatch raises :class:`StaleWriteError` and writes nothing.
        """
        if kind not in DOCUMENT_KINDS:
            raise StoreError(f"document kind {kind!r}: use one of {', '.join(DOCUMENT_KINDS)}")
        if not isinstance(content, dict):
            raise StoreError(f"document content: expected a dict, got {type(content).__name__}")
        self._authorize_actor(actor, "save_document")
        self._require_review(review_id)
        with self.transaction():
            current = self.get_document(review_id, kind)
            have = current.version if current else None
            if have != expected_version:
                raise StaleWriteError(
                    f"{kind} of review {review_id}: you edited version {expected_version} but "
                    f"version {have} was saved meanwhile by {current.updated_by if current else '?'}; "
                    "reload, re-apply your changes and save again")
            version = (have or 0) + 1
            self._upsert("documents", {"review_id": review_id, "kind": kind, "version": version,
                                       "content": canonical_json(content), "updated_at": self.now(),
                                       "updated_by": _name(actor)}, pk=("review_id", "kind"))
            self.audit(actor, "document_saved", review_id,
                       {"kind": kind, "version": version, "digest": digest(content)},
                       bound=(("documents", (review_id, kind)),))
        return self.get_document(review_id, kind)  # type: ignore[return-value]

    def get_document(self: Store, review_id: str, kind: DocumentKind) -> Document | None:
        """The current version of the review's document, or None."""
        row = self._fetchone("SELECT * FROM documents WHERE review_id = ? AND kind = ?", (review_id, kind))
        if row is None:
            return None
        return Document(row["review_id"], row["kind"], row["version"], json.loads(row["content"]),
                        row["updated_at"], row["updated_by"])


def _name(actor: Any) -> str:
    return getattr(actor, "name", actor)


__all__ = ["DOCUMENT_KINDS", "DecisionRecord", "Document", "EvidenceRun", "ExportRecord", "Review",
           "ReviewsMixin", "review_id_for"]
