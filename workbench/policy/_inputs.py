"""Gathering a review's decision inputs: governance checks, questionnaire verdicts, sign-offs, waivers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from workbench.governance import governance_for_review
from workbench.policy._decision import decide
from workbench.policy._duties import parties_for_review
from workbench.policy._schema import QualitativeCriterion
from workbench.questionnaires import load_templates, qualitative_verdict

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.governance import CheckResult
    from workbench.policy._decision import Decision
    from workbench.policy._policy import Policy
    from workbench.store import Store


def qualitative_for_review(policy: Policy, *, store: Store | None = None, review_id: str | None = None) -> dict[str, Any] | None:
    """Questionnaire verdict per qualitative criterion (None without a store: the criteria are MISSING)."""
    crits = [c for c in policy.criteria if isinstance(c, QualitativeCriterion)]
    if store is None or review_id is None or not crits:
        return None
    templates = load_templates(getattr(policy, "template_dirs", ()))
    responses = store.list_responses(review_id)
    roles = {u.name: tuple(u.roles) for u in store.list_users()}
    out = {}
    for c in crits:
        requirements = {
            "questionnaires": c.questionnaires,
            "min_reviewers": dict(c.min_reviewers) if isinstance(c.min_reviewers, Mapping) else c.min_reviewers,
            "min_score": c.min_score,
            "allow_blocking_answers": c.allow_blocking_answers,
            "waived": c.waived,
        }
        out[c.id] = qualitative_verdict(templates, responses, requirements=requirements, roles=roles)
    return out


def model_name(review: ReviewData) -> str:
    """The name policies are registered under: the manifest's ``candidate.name``."""
    return str(review.manifest.candidate.name)


def authoritative_policy(review: ReviewData, policy: Policy, store: Store | None, *,
                         chosen: bool) -> tuple[Policy, str | None]:
    """(the policy to judge ``review`` by, why the decision is only a what-if, or None).

    The rules come from the policy a ``data_governance`` user registered in the store for the
    model (``Store.registered_policy``). ``policy`` is the one the submitter named (manifest
    ``policy:`` or ``--policy``; ``chosen``) or the shipped default: when it is not the
    registered one, or there is no store, the decision is a what-if (never GO, see
    :func:`~workbench.policy.limit_decision`). When nothing was chosen and a policy is
    registered, the registered one is returned.
    """
    return policy_for_model(model_name(review), policy, store, chosen=chosen)


def policy_for_model(model: str, policy: Policy, store: Store | None, *, chosen: bool) -> tuple[Policy, str | None]:
    """:func:`authoritative_policy` by the model's registered name, for a caller that has not
    loaded the review: ``promote_review`` checks the promoter's role by these rules first."""
    from workbench.policy._policy import parse_policy

    if store is None:
        return policy, (f"no review store, so policy {policy.id} {policy.version} is not a registered policy "
                        "and nothing is approved (run with --db)")
    registered = store.registered_policy(model)
    if registered is None:
        return policy, (f"no policy is registered for model {model!r} (policy {policy.id} {policy.version} "
                        f"{policy.digest[:12]}… is the submitter's choice); a data_governance user registers one "
                        "with `workbench policy register`")
    if registered.policy_digest == policy.digest:
        return policy, None
    if chosen:
        return policy, (f"policy {policy.id} {policy.version} ({policy.digest[:12]}…) is not the policy registered "
                        f"for model {model!r} (v{registered.version}: {registered.policy_id} "
                        f"{registered.policy_version}, {registered.policy_digest[:12]}…)")
    return parse_policy(registered.content, source=f"registered policy v{registered.version} of {model}"), None


def decide_review(
    review: ReviewData,
    policy: Policy,
    evidence: Mapping[str, Any],
    *,
    at: dt.datetime,
    store: Store | None = None,
    review_id: str | None = None,
    privacy: Callable[[], CheckResult] | None = None,
) -> Decision:
    """Decide on a loaded review: run governance, read questionnaires, sign-offs and waivers, decide.

    Without a store, access control, questionnaires and sign-offs are MISSING (so at best PENDING).
    With one, the store's integrity is checked first (``Store.require_intact``): an inserted,
    edited or deleted row raises ``IntegrityError`` rather than being counted.

    Parameters
    ----------
    review
        ``workbench.artefacts.ReviewData``.
    policy
        The promotion policy.
    evidence
        Its evidence JSON (``build_evidence(review)``, or a stored run with the same digest).
    at
        Decision time, also the "today" of readiness dates and waiver expiry.
    store, review_id
        The review store and the review's id in it (``Store.review_id_for``).
    privacy
        Gives the review's PII scan (``workbench.governance.privacy_for_review``) when the caller
        keeps it, called only if the policy has a privacy criterion; else the data sets are scanned.
    """

    if store is not None:
        # The record is the control: no row of a store that fails its integrity check is
        # counted (IntegrityError: the CLI exits 2, the app shows an error banner).
        store.require_intact()
    governance = governance_for_review(review, policy, today=at.date(), store=store, review_id=review_id,
                                       privacy=privacy)
    qualitative = qualitative_for_review(policy, store=store, review_id=review_id)
    signoffs = store.list_signoffs(review_id) if store is not None and review_id else ()
    waivers = store.list_waivers(review_id) if store is not None and review_id else ()
    parties = parties_for_review(review, store=store, review_id=review_id)
    return decide(policy, evidence, at=at, governance=governance, qualitative=qualitative,
                  signoffs=signoffs, waivers=waivers, parties=parties)


__all__ = ["authoritative_policy", "decide_review", "model_name", "qualitative_for_review"]
