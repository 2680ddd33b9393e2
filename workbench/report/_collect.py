"""Gather a :class:`PacketInput` from the store and write/record packets (the IO edge)."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.canonical import canonical_json, digest, sha256_file
from workbench.errors import StoreError

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.policy import Policy
    from workbench.report._model import PacketInput
    from workbench.store import Store

_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "skops", "shap", "fairlearn", "weasyprint", "matplotlib",
             "pyhanko", "cryptography", "sqlite-utils", "pydantic")


def current_environment() -> dict[str, Any]:
    """Python, platform and library versions of this process (for the appendix)."""
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(terse=True), "packages": packages}


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


def collect_packet_input(store: Store, review_id: str, *, generated_by: str, policy_text: str = "",
                         policy_digest: str | None = None, evidence: Mapping[str, Any] | None = None,
                         decision: Mapping[str, Any] | None = None, questionnaires: Mapping[str, Any] | None = None,
                         governance: Mapping[str, Any] | None = None, readiness_plan: Mapping[str, Any] | None = None,
                         environment: Mapping[str, Any] | None = None, audit_limit: int = 200) -> PacketInput:
    """Build the :class:`PacketInput` for ``review_id`` from the store (latest evidence and decision).

    Explicit keyword arguments override what the store holds (the CLI passes the decision it
    has just computed). The packet date is the decision's ``decided_at``.

    Raises
    ------
    StoreError
        When the review, its evidence or its decision is not in the store.
    """
    from workbench.report._model import PacketInput

    # Nothing from a store that fails its integrity check goes into a packet (IntegrityError).
    store.require_intact()
    review = store.get_review(review_id)
    if review is None:
        raise StoreError(f"review {review_id!r} is not in the store {store.path}: run `workbench gate` or the app first")
    if evidence is None:
        run = store.latest_evidence(review_id)
        if run is None or run.evidence is None:
            raise StoreError(f"review {review.name!r} has no evidence in {store.path}: run `workbench review` first")
        evidence = run.evidence
    if decision is None:
        rec = store.latest_decision(review_id)
        if rec is None:
            raise StoreError(f"review {review.name!r} has no decision in {store.path}: run `workbench gate --db` first")
        decision = rec.decision
    generated_at = str(decision.get("decided_at") or decision.get("generated_at") or "")
    if not generated_at:
        raise StoreError(f"the decision of review {review.name!r} has no decided_at time; re-run `workbench gate`")
    models = evidence.get("models") or {}
    arts = {a.get("role"): a for a in evidence.get("artefacts") or ()}

    def model_info(role: str) -> dict[str, Any] | None:
        m = models.get(role)
        if not m:
            return None
        return {"name": m.get("name"), "version": m.get("version"), "sha256": (arts.get(role) or {}).get("sha256")}

    # The packet shows the review as it stood when the decision was recorded: the audit trail
    # up to that entry (its hash is the chain head the manifest names), and the sign-offs and
    # waivers made by then. Later entries (such as this export) do not change the packet, so
    # two builds from the same stored review are byte-identical.
    trail = store.audit_entries(subject=review_id)
    decision_digest = digest(decision)
    marks = [e for e in trail if e.action == "decision_saved" and e.payload.get("digest") == decision_digest]
    cut = marks[-1] if marks else None
    if cut is not None:
        trail = [e for e in trail if e.seq <= cut.seq]
    head = cut.hash if cut is not None else store.audit_head()
    until = cut.ts if cut is not None else None
    excerpt = [{k: v for k, v in dataclasses.asdict(e).items() if k != "payload"} for e in trail][-audit_limit:]
    signoffs = [s for s in store.list_signoffs(review_id) if until is None or s.created_at <= until]
    waivers = [w for w in store.list_waivers(review_id) if until is None or w.created_at <= until]
    return PacketInput(
        review_name=review.name,
        review_id=review_id,
        generated_at=generated_at,
        generated_by=generated_by,
        evidence=evidence,
        decision=decision,
        candidate=model_info("candidate") or {},
        baseline=model_info("baseline"),
        questionnaires=questionnaires or {},
        governance=governance or {},
        readiness_plan=readiness_plan or {},
        signoffs=tuple(_plain(s) for s in signoffs),
        waivers=tuple(_plain(w) for w in waivers),
        policy_text=policy_text,
        policy_digest=policy_digest or str((decision.get("policy") or {}).get("digest") or ""),
        audit_excerpt=tuple(excerpt),
        audit_head=head,
        audit_checkpoint=store.checkpoint_at(cut.seq) if cut is not None else None,
        environment=environment or evidence.get("environment") or current_environment(),
    )


def _questionnaires(qualitative: Any) -> dict[str, Any]:
    """Questionnaire scores of every qualitative criterion, each questionnaire once."""
    if not qualitative:
        return {}
    from workbench.questionnaires.scoring import worst

    seen: dict[str, Any] = {}
    for verdict in qualitative.values():
        for q in verdict.questionnaires:
            seen.setdefault(q.questionnaire_id, q.to_dict())
    return {"verdict": worst(v.verdict for v in qualitative.values()), "questionnaires": list(seen.values())}


def _governance(decision: dict[str, Any], card: Any) -> dict[str, Any]:
    """The governance checklist exactly as the decision recorded it (never re-run at report time)."""
    rows, pii = [], None
    for c in decision.get("criteria", ()):
        if c.get("kind") != "governance":
            continue
        details = c.get("details") or {}
        check = details.get("check", c["id"])
        rows.append({"id": c["id"], "title": check, "status": c["status"], "reason": c["reason"]})
        if check == "privacy":
            datasets = (details.get("evidence") or {}).get("datasets", ())
            pii = {"findings": [f for d in datasets for f in d.get("findings", ())]}
    return {"checks": rows, "model_card": dict(card) if card else {}, "pii": pii}


def packet_input_for_review(store: Store, review: ReviewData, *, generated_by: str,
                            policy: Policy | None = None) -> PacketInput:
    """The :class:`PacketInput` of a loaded review (``workbench.artefacts.ReviewData``) from the store.

    Uses the stored evidence whose digest matches the artefacts on disk and the latest stored
    decision (which must be about that evidence); the governance checklist is the one the
    decision recorded, so the packet cannot contradict its own criteria table. The CLI's ``report`` and the app share it.

    Raises
    ------
    StoreError
        When the review, its current evidence or a decision about that evidence is missing.
    """
    from workbench.policy import qualitative_for_review
    from workbench.governance import review_documents
    from workbench.policy import default_policy, load_policy

    m = review.manifest
    hint = f"run `workbench gate {m.display_file} --db {store.path}` first"
    review_id = store.review_id_for(m.name)
    if store.get_review(review_id) is None:
        raise StoreError(f"review {m.name!r} is not in {store.path}: {hint}")
    run = store.evidence_by_digest(review_id, review.evidence_digest)
    rec = store.latest_decision(review_id)
    if run is None or run.evidence is None or rec is None:
        raise StoreError(f"{store.path} holds no evidence/decision for the current artefacts of {m.name!r}: {hint}")
    if rec.decision.get("evidence_digest") != review.evidence_digest:
        raise StoreError(f"the latest decision in {store.path} is about other evidence than the artefacts on disk: {hint}")
    policy_path = m.resolve(m.policy) if m.policy is not None else None
    if policy is None:
        policy = load_policy(policy_path) if policy_path is not None else default_policy()
    text_path = policy_path or Path(__file__).resolve().parents[1] / "data" / "default_policy.yaml"
    policy_text = text_path.read_text(encoding="utf-8") if text_path.is_file() else ""
    card, plan = review_documents(review, store=store, review_id=review_id)
    return collect_packet_input(
        store, review_id, generated_by=generated_by, policy_text=policy_text, evidence=run.evidence,
        decision=rec.decision, questionnaires=_questionnaires(qualitative_for_review(policy, store=store, review_id=review_id)),
        governance=_governance(rec.decision, card), readiness_plan=dict(plan) if plan else {},
    )


def record_export(store: Store, review_id: str, path: str | Path, *, actor: str, kind: str) -> int:
    """Record an exported file (kind, SHA-256, size, path) in the store's audit log."""
    p = Path(path)
    return store.record_export(review_id, actor=actor, kind=kind, sha256=sha256_file(p), path=str(p), bytes=p.stat().st_size)


def write_packet(inp: PacketInput, out_pdf: str | Path, *, keys: str | Path, html: str | Path | None = None,
                 json_path: str | Path | None = None, store: Store | None = None, actor: str | None = None) -> dict[str, Any]:
    """Render, sign and write the packet (and optional HTML/JSON); record each export in the store.

    Returns
    -------
    dict
        ``{"pdf": path, "sha256": ..., "bytes": ..., "manifest": envelope}``.
    """
    from workbench.report._charts import render_charts
    from workbench.report._content import build_packet
    from workbench.report._render import (
        render_packet_html,
        render_packet_json,
        render_packet_pdf,
    )
    from workbench.report._sign import sign_packet

    packet = build_packet(inp)
    pngs = render_charts(packet)
    unsigned = render_packet_pdf(inp, packet=packet, pngs=pngs)
    signed, envelope = sign_packet(unsigned, inp, keys=keys)
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    out_pdf.write_bytes(signed)
    written = [(out_pdf, "packet_pdf")]
    if html is not None:
        Path(html).write_text(render_packet_html(inp, packet=packet, pngs=pngs), encoding="utf-8")
        written.append((Path(html), "packet_html"))
    if json_path is not None:
        Path(json_path).write_text(render_packet_json(inp, packet=packet, manifest=envelope), encoding="utf-8")
        written.append((Path(json_path), "packet_json"))
    if store is not None and inp.review_id:
        for path, kind in written:
            record_export(store, inp.review_id, path, actor=actor or inp.generated_by, kind=kind)
    return {"pdf": str(out_pdf), "sha256": sha256_file(out_pdf), "bytes": out_pdf.stat().st_size,
            "manifest": envelope, "manifest_json": canonical_json(envelope)}
