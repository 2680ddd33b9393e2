"""Governance checklist: model card, lineage, privacy (PII), sensitive inputs, access control, readiness.

Each item is a check that *returns* a :class:`CheckResult` (PASS / FAIL / WARN / MISSING with
the evidence it looked at); nothing raises to mean "failed". :func:`run_governance` runs the
items a policy asks for and returns them keyed by criterion id, which is what
:func:`workbench.policy.decide` reads. :func:`governance_for_review` gathers the inputs of a
loaded review (model card file or its edited copy in the store, the manifest's readiness
plan or the store's, data frames, artefact records, the store's users).

Examples
--------
>>> check_model_card({"intended_use": "TBD"}, sections=["intended_use"]).summary
"1 problem(s): intended_use is a placeholder ('TBD')"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any


from workbench.governance._checks import (
    DEFAULT_MODEL_CARD_SECTIONS,
    DEFAULT_READINESS_SECTIONS,
    CheckResult,
    CheckStatus,
    check_access_control,
    check_lineage,
    check_model_card,
    check_readiness,
    check_sensitive_inputs,
    is_placeholder,
)
from workbench.yamlio import read_yaml
from workbench.errors import ManifestError
from workbench.governance._pii import scan_frame

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.policy import Policy
    from workbench.store import Store


def check_privacy(frames: Mapping[str, Any], *, max_rows: int = 200_000) -> CheckResult:
    """PII scan of every data set (see :mod:`workbench.governance`); any finding FAILs, naming the columns."""
    reports = [scan_frame(f, dataset=name, max_rows=max_rows) for name, f in frames.items() if f is not None]
    if not reports:
        return CheckResult("privacy", "MISSING", "no data set to scan")
    findings = [f for r in reports for f in r.findings]
    sampled = [r.dataset for r in reports if r.sampled]
    ev = {"datasets": [r.to_dict() for r in reports]}
    note = f" (sampled {', '.join(sampled)}: evenly spaced {max_rows} rows)" if sampled else ""
    if findings:
        where = sorted({f"{f.dataset}.{f.column} ({f.kind}: {f.count})" for f in findings})
        return CheckResult("privacy", "FAIL", f"personal data found in {', '.join(where)}{note}", ev)
    rows = sum(r.rows_scanned for r in reports)
    return CheckResult("privacy", "PASS", f"no personal data in {len(reports)} data set(s), {rows} rows scanned{note}", ev)


def run_governance(
    policy: Policy,
    *,
    today: dt.date,
    model_card: Mapping[str, Any] | None = None,
    artefacts: Sequence[Any] = (),
    evidence_digest: str | None = None,
    frames: Mapping[str, Any] | None = None,
    features: Sequence[str] = (),
    sensitive_features: Sequence[str] = (),
    readiness: Mapping[str, Any] | None = None,
    store: Store | None = None,
    pii_max_rows: int = 200_000,
    privacy: Callable[[], CheckResult] | None = None,
) -> dict[str, CheckResult]:
    """Run every governance check the policy names; results keyed by criterion id.

    Parameters
    ----------
    policy
        The :class:`~workbench.policy.Policy`; its governance criteria choose the checks and
        the required model-card / readiness sections; its sign-off roles feed access control.
    today
        The date readiness review dates must lie after (passed in for determinism).
    privacy
        Gives the PII scan of these ``frames`` when the caller keeps it (:func:`privacy_for_review`,
        e.g. cached per evidence digest): the scan reads every string value and does not change
        while the data does not. Called only when the policy has a privacy criterion.
    """
    out: dict[str, CheckResult] = {}
    for c in policy.criteria:
        if c.kind != "governance":
            continue
        if c.check == "model_card":
            out[c.id] = check_model_card(model_card, sections=c.sections or DEFAULT_MODEL_CARD_SECTIONS)
        elif c.check == "lineage":
            out[c.id] = check_lineage(artefacts, evidence_digest=evidence_digest, model_card=model_card)
        elif c.check == "privacy":
            out[c.id] = privacy() if privacy is not None else check_privacy(frames or {}, max_rows=pii_max_rows)
        elif c.check == "sensitive_inputs":
            out[c.id] = check_sensitive_inputs(features, sensitive_features, model_card=model_card)
        elif c.check == "access_control":
            out[c.id] = check_access_control(policy.required_signoff_roles, store=store)
        elif c.check == "readiness":
            out[c.id] = check_readiness(readiness, today=today, sections=c.sections or DEFAULT_READINESS_SECTIONS)
    return out


def load_model_card(path: str | Path) -> dict[str, Any]:
    """Read a model_card.yaml (a mapping). Raises ManifestError naming the file."""
    path = Path(path)
    data = read_yaml(path, label=path.name, error=ManifestError, what="model card")
    if not isinstance(data, dict):
        raise ManifestError(f"{path.name}: the model card must be a mapping of sections (intended_use, owners, ...)")
    return data


def review_documents(review: ReviewData, *, store: Store | None = None, review_id: str | None = None) -> tuple[dict | None, dict | None]:
    """(model card, readiness plan) of a review: the store's edited copy wins over the files."""
    m = review.manifest
    card = load_model_card(m.resolve(m.model_card)) if m.model_card is not None and m.resolve(m.model_card).is_file() else None
    plan = m.readiness.model_dump(mode="json") if m.readiness is not None else None
    if store is not None and review_id is not None:
        doc = store.get_document(review_id, "model_card")
        card = dict(doc.content) if doc is not None else card
        doc = store.get_document(review_id, "readiness")
        plan = dict(doc.content) if doc is not None else plan
    return card, plan


def _review_frames(review: ReviewData) -> dict[str, Any]:
    frames = {"evaluation": review.evaluation, "reference": review.reference, "replay": review.replay}
    return {k: v for k, v in frames.items() if v is not None}


def privacy_for_review(review: ReviewData) -> CheckResult:
    """The PII scan of a review's data sets (evaluation, reference, replay), as the privacy check reads it.

    A function of the data alone, so of the review's evidence digest (which covers every data
    file's hash): callers that decide often (the app, after every answer or sign-off) keep it and
    pass it to :func:`governance_for_review` as ``privacy``.
    """
    return check_privacy(_review_frames(review))


def governance_for_review(
    review: ReviewData, policy: Policy, *, today: dt.date, store: Store | None = None, review_id: str | None = None,
    privacy: Callable[[], CheckResult] | None = None,
) -> dict[str, CheckResult]:
    """Run the policy's governance checks on a loaded review (``workbench.artefacts.ReviewData``).

    ``privacy``: gives this review's :func:`privacy_for_review` when the caller keeps it (called only
    if the policy has a privacy criterion); else the data are scanned.
    """
    card, plan = review_documents(review, store=store, review_id=review_id)
    return run_governance(
        policy,
        today=today,
        model_card=card,
        artefacts=review.artefacts,
        evidence_digest=review.evidence_digest,
        frames=_review_frames(review),
        features=review.features,
        sensitive_features=review.sensitive_features,
        readiness=plan,
        store=store,
        privacy=privacy,
    )


__all__ = ["check_privacy", "governance_for_review", "load_model_card", "privacy_for_review", "review_documents",
           "run_governance"]
