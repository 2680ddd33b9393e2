"""A GO that acts: promote a reviewed registry version, roll back, rehearse the rollback.

This is the composition the CLI and the app share. :func:`promote_review` refuses — as a
result, exit code 1, with every reason and the registry untouched — unless the current decision
is GO (recomputed now from the stored evidence, so stale sign-offs count), the latest signed
packet of the review exists, is the file the store recorded and verifies, it was signed for the
same evidence and policy, and the registry still resolves to what was reviewed. Every outcome
is audited under the review's id, so it appears in the packet of any later review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.canonical import sha256_file
from workbench.errors import ManifestError, PermissionDenied, RegistryError

if TYPE_CHECKING:
    from workbench.artefacts import Manifest
    from workbench.auth import User
    from workbench.registry import Registry
    from workbench.store import Store

OUTCOME_PROMOTED = "promoted"
OUTCOME_REFUSED = "refused"


@dataclass(frozen=True)
class PromotionOutcome:
    """What ``workbench promote`` did: ``promoted`` (exit 0) or ``refused`` (exit 1) with reasons."""

    outcome: str
    model: str
    alias: str
    reasons: tuple[str, ...] = ()
    version: str | None = None
    replaced: str | None = None
    recovered: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == OUTCOME_PROMOTED else 1

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "model": self.model, "alias": self.alias, "reasons": list(self.reasons),
                "version": self.version, "replaced": self.replaced, "recovered": self.recovered, "tags": self.tags}


def registry_model_name(manifest: Manifest) -> str:
    """The registered model a review can promote: its candidate's ``uri``.

    A review whose candidate is a file or only precomputed predictions has no registry version
    to move an alias to, so it cannot be promoted (ManifestError, exit 2).
    """
    from workbench.registry import parse_model_uri

    if manifest.candidate.uri is None:
        what = "precomputed predictions" if manifest.candidate.predictions else "a file"
        raise ManifestError(
            f"{manifest.display_file}: candidate: is {what}, not a registry version, so there is nothing to promote; "
            "add candidate.uri: models:/NAME@challenger (with predictions: the scores stay precomputed)")
    return parse_model_uri(manifest.candidate.uri).name


def open_registry(manifest: Manifest) -> Registry:
    from workbench.registry import Registry, registry_uri

    return Registry(registry_uri(manifest.registry_uri))


def _audit_recovery(store: Store, actor: str | User, subject: str, journal: dict[str, Any] | None) -> None:
    if journal is not None:
        store.audit(actor, "promotion_undone", subject,
                    {"reason": "an earlier promotion was interrupted half-way; aliases and tags restored",
                     "journal": journal})


def _packet_problems(store: Store, review_id: str, *, keys: Path, evidence_digest: str,
                     policy_digest: str) -> tuple[list[str], str | None]:
    """Reasons the review's latest signed packet cannot back a promotion, and its sha256."""
    from workbench.report import key_paths, verify_packet

    exports = [e for e in store.list_exports(review_id) if e.kind == "packet_pdf"]
    if not exports:
        return ["no signed packet: run `workbench report MANIFEST --out packet.pdf` after the decision"], None
    export = exports[-1]
    path = Path(export.path)
    if not path.is_file():
        return [f"the signed packet {path} recorded in the store is missing"], None
    actual = sha256_file(path)
    if actual != export.sha256:
        return [f"the packet {path.name} is not the file the store recorded (sha256 {actual[:12]}… ≠ "
                f"{export.sha256[:12]}…)"], None
    paths = key_paths(keys)
    if not paths.signing_cert.is_file():
        return [f"cannot verify the packet: no certificate in {paths.folder} (pass --keys)"], None
    result = verify_packet(path, cert=paths.signing_cert,
                           manifest_key=paths.manifest_pub if paths.manifest_pub.is_file() else None, store=store)
    if not result.valid:
        return [f"the packet {path.name} does not verify: {result.reasons[0]}"], None
    signed = (result.manifest or {}).get("manifest", result.manifest or {})
    problems = []
    if (signed.get("decision") or {}).get("decision") != "GO":
        problems.append(f"the packet {path.name} records decision {(signed.get('decision') or {}).get('decision')}, not GO; "
                        "sign a new packet after the GO decision")
    if signed.get("evidence_digest") != evidence_digest:
        problems.append(f"the packet {path.name} was signed for evidence {str(signed.get('evidence_digest'))[:12]}…, "
                        f"the review is now {evidence_digest[:12]}…")
    if signed.get("policy_digest") not in (None, policy_digest):
        problems.append(f"the packet {path.name} was signed under another policy ({str(signed.get('policy_digest'))[:12]}…)")
    return problems, actual


def promote_review(manifest_path: str | Path, *, alias: str, user: User, store: Store, keys: Path,
                   policy_path: Path | None = None, at: dt.datetime | None = None,
                   progress: Callable[[str], None] | None = None,
                   step: Callable[[str], None] | None = None, untrusted: bool = False) -> PromotionOutcome:
    """Promote the review's candidate version to ``alias`` if — and only if — everything holds.

    ``user`` is an authenticated ``workbench.store.User`` holding one of the policy's
    ``promotion_roles`` (default operations); ``keys`` holds the certificate the packet is
    verified with. ``step`` is passed to :func:`workbench.registry.promote` (tests interrupt it).
    ``untrusted`` for a manifest that came from the browser (see ``workbench.artefacts.load_review``).
    """
    from workbench.artefacts import load_manifest
    from workbench.engine import open_review
    from workbench.policy import decide_review, load_policy, manifest_policy, policy_for_model
    from workbench.registry import PromotionRequest, TAG_PREFIX, lineage_changes, promote, recover, registry_problems
    from workbench.store import review_id_for

    say = progress or (lambda _m: None)
    at = at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest = load_manifest(manifest_path, check_files=False)  # a glob is checked by open_review
    name = registry_model_name(manifest)
    chosen = load_policy(policy_path) if policy_path else manifest_policy(manifest)
    # judged, as the gate judges, by the policy data governance registered for the model: a
    # submitter's own policy may not add promoters or drop criteria (its decision is a what-if)
    policy, what_if = policy_for_model(str(manifest.candidate.name), chosen, store,
                                       chosen=policy_path is not None or manifest.policy is not None)
    review_id = review_id_for(manifest.name)
    allowed = policy.promoter_roles
    if not set(user.roles) & set(allowed):
        store.audit(user, "permission_denied", review_id,
                    {"action": "promote", "needs_one_of": list(allowed), "has": list(user.roles)})
        raise PermissionDenied(f"promote: {user.name} holds {', '.join(user.roles)}; policy {policy.id} lets only "
                               f"{', '.join(allowed)} promote")
    registry = open_registry(manifest)
    recovered = recover(registry, name)  # before resolving: an interrupted move would look like a change
    _audit_recovery(store, user, review_id, recovered)
    say(f"resolving and loading {manifest.candidate.uri} from {registry.uri}")
    review = open_review(manifest, progress=say, untrusted=untrusted)  # in memory or at scale
    reasons: list[str] = [] if what_if is None else [f"the decision would only be a what-if: {what_if}"]
    if store.get_review(review_id) is None:
        reasons.append(f"review {manifest.name!r} is not in the store: run `workbench gate` and sign it off first")
        return _refuse(store, user, review_id, name, alias, reasons, recovered)
    run = store.evidence_by_digest(review_id, review.evidence_digest)
    if run is None or run.evidence is None:
        latest = store.latest_evidence(review_id)
        if latest is None or latest.evidence is None:
            reasons.append(f"the store holds no evidence for this review: run `workbench gate {manifest.display_file}` "
                           "(it computes and stores the evidence), sign off, then `workbench report`")
        else:
            reasons.append("no evidence was computed for the artefacts as they are now: the registry or a file "
                           "changed since the review")
            reasons += lineage_changes(latest.evidence.get("artefacts", ()), [a.to_dict() for a in review.artefacts])
        return _refuse(store, user, review_id, name, alias, reasons, recovered)
    decision = decide_review(review, policy, run.evidence, at=at, store=store, review_id=review_id)
    if decision.outcome != "GO":
        reasons.append(f"the current decision is {decision.outcome}: {decision.summary}")
        reasons += [f"sign-off {s.role} is {s.status}" + (f" ({s.stale_because})" if s.stale_because else "")
                    for s in decision.signoffs if s.status != "fresh"]
    packet_reasons, packet_sha = _packet_problems(store, review_id, keys=keys, evidence_digest=review.evidence_digest,
                                                  policy_digest=policy.digest)
    reasons += packet_reasons
    records = {a.role: a.registry for a in review.artefacts if a.registry}
    request = PromotionRequest(
        name=name, alias=alias, candidate=records["candidate"], baseline=records.get("baseline"),
        tags={f"{TAG_PREFIX}{k}": v for k, v in {
            "review": manifest.name, "evidence_digest": review.evidence_digest, "policy_id": policy.id,
            "policy_version": policy.version, "policy_digest": policy.digest, "packet_sha256": packet_sha or "",
            "approvers": ",".join(sorted(f"{s.user} ({s.role})" for s in decision.signoffs if s.user)),
            "promoted_by": user.name, "promoted_at": at.isoformat()}.items()})
    reasons += registry_problems(registry, request)
    if reasons:
        return _refuse(store, user, review_id, name, alias, reasons, recovered)
    decision_id = store.save_decision(review_id, decision.to_dict(), actor=user)
    request = PromotionRequest(name=request.name, alias=alias, candidate=request.candidate, baseline=request.baseline,
                               tags={**request.tags, f"{TAG_PREFIX}decision_id": str(decision_id)})
    plan = {"model": name, "alias": alias, "version": request.candidate["version"],
            "replacing": (request.baseline or {}).get("version"), "tags": dict(request.tags)}
    store.audit(user, "promotion_started", review_id, plan)
    try:
        result = promote(registry, request, step=step)
    except BaseException as exc:
        store.audit(user, "promotion_failed", review_id, {**plan, "error": f"{type(exc).__name__}: {exc}"})
        raise
    store.audit(user, "promoted", review_id, {**plan, "replaced": result.replaced})
    return PromotionOutcome(OUTCOME_PROMOTED, name, alias, version=result.version, replaced=result.replaced,
                            recovered=recovered, tags=dict(result.tags))


def registry_rows(artefacts: Any) -> list[dict[str, Any]]:
    """One row per registry model of a review: what the decision page shows.

    Examples
    --------
    >>> registry_rows([{"role": "candidate", "registry": {"uri": "models:/m@c", "name": "m", "version": "2",
    ...     "run_id": "r1", "files": [{"path": "model/model.skops", "sha256": "ab" * 32, "bytes": 9}]}}])
    [{'role': 'candidate', 'uri': 'models:/m@c', 'version': '2', 'run id': 'r1', 'files': 'model/model.skops abababababab…'}]
    """
    rows = []
    for a in artefacts:
        a = a.to_dict() if hasattr(a, "to_dict") else a
        reg = a.get("registry")
        if reg:
            rows.append({"role": a["role"], "uri": reg["uri"], "version": reg["version"], "run id": reg.get("run_id"),
                         "files": ", ".join(f"{f['path']} {f['sha256'][:12]}…" for f in reg.get("files", ()))})
    return rows


def rollback_status(registry: Registry, name: str, *, alias: str = "champion") -> dict[str, str | None]:
    """Who holds ``alias`` and ``previous-<alias>`` now (what a rollback would move)."""
    from workbench.registry import previous_alias

    aliases = registry.aliases(name)
    return {"alias": alias, "current": aliases.get(alias), "previous": aliases.get(previous_alias(alias))}


def _refuse(store: Store, user: User, review_id: str, name: str, alias: str, reasons: list[str],
            recovered: dict[str, Any] | None) -> PromotionOutcome:
    store.audit(user, "promotion_refused", review_id, {"model": name, "alias": alias, "reasons": reasons})
    return PromotionOutcome(OUTCOME_REFUSED, name, alias, reasons=tuple(reasons), recovered=recovered)


def _check_operator(store: Store, user: User, action: str, subject: str, roles: tuple[str, ...]) -> None:
    if not set(user.roles) & set(roles):
        store.audit(user, "permission_denied", subject, {"action": action, "needs_one_of": list(roles),
                                                         "has": list(user.roles)})
        raise PermissionDenied(f"{action}: {user.name} holds {', '.join(user.roles)}; only "
                               f"{', '.join(roles)} may {action}")


def rollback_model(registry: Registry, name: str, *, alias: str, reason: str, user: User, store: Store,
                   roles: tuple[str, ...] = ("operations",), at: dt.datetime | None = None) -> Any:
    """Move ``alias`` back to ``previous-<alias>`` (after undoing any interrupted promotion); audited."""
    from workbench.registry import recover, rollback

    subject = f"models:/{name}"
    _check_operator(store, user, "rollback", subject, roles)
    if not reason.strip():
        raise RegistryError("rollback needs a --reason (it is written to the registry and the audit log)")
    at = at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    _audit_recovery(store, user, subject, recover(registry, name))
    try:
        result = rollback(registry, name, alias, reason=reason, actor=user.name, at=at.isoformat())
    except RegistryError as exc:
        store.audit(user, "rollback_failed", subject, {"alias": alias, "reason": reason, "error": str(exc)})
        raise
    payload = {"model": name, "alias": alias, "reason": reason, "from": result.from_version, "to": result.to_version}
    store.audit(user, "rolled_back", subject, payload)
    review = _promoted_by_review(registry, name, result.from_version)
    if review is not None:  # also under the review that promoted it: it shows in that review's next packet
        store.audit(user, "rolled_back", review, payload)
    return result


def _promoted_by_review(registry: Registry, name: str, version: str | None) -> str | None:
    """The store id of the review whose promotion put ``version`` in place (its version tag)."""
    from workbench.registry import TAG_PREFIX
    from workbench.store import review_id_for

    if version is None:
        return None
    review = registry.version(name, version).tags.get(f"{TAG_PREFIX}review")
    return review_id_for(review) if review else None


def load_artifact_folder(folder: Path) -> str:
    """Load a downloaded version through the secure loader (skops with the server's reviewed
    types, or ONNX); pickles are never loaded here. Returns what was loaded."""
    from workbench.artefacts import load_skops, pick_model_file, server_trusted_types

    path, fmt = pick_model_file(folder, fmt=None, label=f"{folder.name}")
    if fmt == "skops":
        model = load_skops(path, trusted=sorted(server_trusted_types()), label=path.name)
        return f"{path.relative_to(folder).as_posix()}: {type(model).__name__} (skops)"
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return f"{path.relative_to(folder).as_posix()}: ONNX, {len(session.get_inputs())} input(s)"
    raise RegistryError(f"{path.name}: a {fmt} file is not loaded in a drill (pickles load only with a pinned sha256)")


def rollback_drill_model(registry: Registry, name: str, *, alias: str, user: User, store: Store,
                         roles: tuple[str, ...] = ("operations",)) -> Any:
    """Rehearse the rollback on ``drill-<alias>``; audited with its timing and checks."""
    from workbench.registry import rollback_drill

    subject = f"models:/{name}"
    _check_operator(store, user, "rollback", subject, roles)
    report = rollback_drill(registry, name, alias, load=load_artifact_folder)
    store.audit(user, "rollback_drill", subject, report.to_dict())
    return report


__all__ = ["OUTCOME_PROMOTED", "OUTCOME_REFUSED", "PromotionOutcome", "load_artifact_folder", "open_registry",
           "promote_review", "registry_model_name", "registry_rows", "rollback_drill_model", "rollback_model",
           "rollback_status"]
