"""`workbench gate` (the CI/CD decision), `workbench signoff`, `workbench waive` and
`workbench countersign` (headless approvals, each authenticated: see ``workbench.cli._auth``).

Exit codes of `gate`: 0 GO, 1 NO-GO, 3 PENDING, 2 invalid input (docs/CI.md). `gate` needs no
credentials: what it records (review, evidence run, decision) is attributed to ``workbench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import DEFAULT_DB, add_db_option, add_keys_option, keys_dir, progress
from workbench.errors import ArtefactError, PolicyError, StoreError

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.policy import Decision, Policy
    from workbench.store import Location, Store

#: The actor of what `gate` records: the workbench itself, not a person.
GATE_ACTOR = "workbench"



def _store_path(args: argparse.Namespace) -> tuple[Location | None, bool]:
    """(store path or URL, or None; explicitly asked for). Without --db/WORKBENCH_DB the default is used only if it exists."""
    from workbench.store import parse_location

    if getattr(args, "no_db", False):
        return None, False
    if getattr(args, "db", None):
        return parse_location(args.db), True
    env = os.environ.get("WORKBENCH_DB")
    if env:
        return parse_location(env), True
    return (DEFAULT_DB, False) if DEFAULT_DB.is_file() else (None, False)


@overload
def _open_store(args: argparse.Namespace, *, required: Literal[True]) -> Store: ...


@overload
def _open_store(args: argparse.Namespace, *, required: bool = False) -> Store | None: ...


def _open_store(args: argparse.Namespace, *, required: bool = False) -> Store | None:
    from workbench.store import Store

    from workbench.serverkey import load_server_key

    path, explicit = _store_path(args)
    if path is None:
        if required:
            raise StoreError("this command needs the review store: pass --db PATH or set WORKBENCH_DB")
        return None
    store = Store.open(path, create=False, key=load_server_key(keys_dir(args)))
    try:
        # Nothing in a store that fails its integrity check is counted: IntegrityError, exit 2.
        store.require_intact()
    except BaseException:
        store.close()
        raise
    return store


def _policy_for(review: ReviewData, override: Path | None) -> Policy:
    from workbench.policy import load_policy, manifest_policy

    m = review.manifest
    if override is not None:
        return load_policy(override)
    if m.policy is None:
        progress(f"{m.display_file}: no 'policy:' given; using the shipped default policy")
    return manifest_policy(m)


def _parse_at(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PolicyError(f"--at: {text!r} is not an ISO date/time (e.g. 2026-11-26T12:00:00+00:00)") from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _evidence(args: argparse.Namespace, review: ReviewData, store: Store | None, review_id: str | None,
              policy: Policy) -> dict[str, Any]:
    if args.evidence is not None:
        path = Path(args.evidence)
        try:
            ev = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtefactError(f"--evidence {path}: cannot read the evidence JSON ({exc})") from None
        if not isinstance(ev, dict) or ev.get("evidence_digest") != review.evidence_digest:
            got = ev.get("evidence_digest") if isinstance(ev, dict) else None
            from workbench.engine import artefact_changes

            recorded = ev.get("artefacts") if isinstance(ev, dict) else None
            recorded = recorded if isinstance(recorded, list) else None
            changes = artefact_changes(recorded, [a.to_dict() for a in review.artefacts]) if recorded else []
            what = (changes[0] + (f" (and {len(changes) - 1} more change(s))" if len(changes) > 1 else "")
                    if changes else f"evidence digest {str(got)[:12]}… ≠ {review.evidence_digest[:12]}… of the "
                    "manifest and its artefacts" + (" (the same files: the manifest's content or settings differ)"
                                                    if recorded else ""))
            raise ArtefactError(f"--evidence {path.name}: computed from other inputs: {what}; re-run `workbench review`")
        from workbench.evidence import content_digest

        if ev.get("digest") != content_digest(ev):
            raise ArtefactError(
                f"--evidence {path.name}: its content does not match its digest (edited after "
                "`workbench review` wrote it?); re-run `workbench review`"
            )
        if store is not None and review_id is not None and _evidence_limit(args, ev) is None:
            # Signed by the server key: kept, so `report` and `promote` find the evidence decided on.
            stored = store.evidence_by_digest(review_id, review.evidence_digest)
            if stored is None or stored.evidence != ev:
                store.save_evidence(review_id, ev, actor=GATE_ACTOR)
        return ev
    if store is not None and review_id is not None:
        run = store.evidence_by_digest(review_id, review.evidence_digest)
        if run is not None and run.evidence is not None:
            progress(f"reusing stored evidence run {run.run_id} (evidence digest {review.evidence_digest[:12]}…)")
            return run.evidence
    from workbench.engine import ScaleReviewData

    if isinstance(review, ScaleReviewData):
        raise ArtefactError(f"{review.manifest.display_file}: data.evaluation is read by the scale engine: compute "
                            "its evidence with `workbench review MANIFEST --out E.json` and pass --evidence E.json")
    from workbench.evidence import build_evidence

    progress("computing evidence (this takes a while; pass --evidence E.json to reuse a `workbench review` run)")
    operations = None
    if store is not None and review_id is not None:
        from workbench.replay import operations_evidence

        operations = operations_evidence(review, store=store)  # monitoring and feedback since the last review
    from workbench.policy import evidence_margins

    ev = build_evidence(review, progress=progress, operations=operations, margins=evidence_margins(policy))
    if store is not None and review_id is not None:
        store.save_evidence(review_id, ev, actor=GATE_ACTOR)
    return ev


def render_table(decision: Decision) -> str:
    """The decision as a plain-text table: worst first, then the sign-offs and the summary.

    An INCONCLUSIVE criterion shows the evaluation rows that would settle it (``ROWS NEEDED``);
    the reason of one that passes with a minimum detectable effect above its margin says
    ``underpowered``.
    """
    from workbench.policy import STATUS_RANK

    rows = sorted(decision.criteria, key=lambda c: (STATUS_RANK[c.status], c.severity != "blocking"))
    width = max(len(c.id) for c in rows)
    lines = [
        f"{decision.review.get('name', 'review')} — policy {decision.policy['id']} {decision.policy['version']} "
        f"({decision.policy['digest'][:12]}…), evidence {str(decision.evidence_digest)[:12]}…",
        f"{'STATUS':<12} {'SEVERITY':<9} {'CRITERION':<{width}}  {'ROWS NEEDED':>11}  REASON",
    ]
    lines += [f"{c.status:<12} {c.severity:<9} {c.id:<{width}}  {_rows_needed(c):>11}  {c.reason}" for c in rows]
    if decision.signoffs:
        lines.append("sign-offs: " + ", ".join(f"{s.role} {s.status}" + (f" ({s.user})" if s.user else "") for s in decision.signoffs))
    lines.append(decision.summary)
    if decision.what_if:
        lines.insert(0, "WHAT-IF: judged by a policy that is not registered for this model; this is not a decision")
    return "\n".join(lines)


def _rows_needed(c: Any) -> str:
    if c.status != "INCONCLUSIVE":
        return ""
    return f"{c.rows_needed:,}" if c.rows_needed is not None else "unknown"


def _load(args: argparse.Namespace, *, rows: bool = True) -> tuple[Any, Any]:
    from workbench.engine import SAMPLE_ROWS, open_review

    # In memory, or for a glob, DuckDB database or large Parquet file the scale review's lineage
    # and (``rows``: the decision's checks read them) a seeded sample of its rows (docs/SCALE.md).
    review = open_review(Path(args.manifest), progress=progress, sample=SAMPLE_ROWS if rows else 0)
    return review, _policy_for(review, getattr(args, "policy", None))


def _evidence_limit(args: argparse.Namespace, evidence: dict[str, Any]) -> str | None:
    """Why evidence from --evidence cannot be trusted (None when signed by the server key)."""
    if args.evidence is None:
        return None
    from workbench.evidence import evidence_trust_problem
    from workbench.serverkey import load_server_key

    problem = evidence_trust_problem(evidence, load_server_key(keys_dir(args)))
    return None if problem is None else f"--evidence {Path(args.evidence).name}: {problem}"


def _run_gate(args: argparse.Namespace) -> int:
    from workbench.policy import authoritative_policy, decide_review, limit_decision

    at = _parse_at(args.at)
    review, policy = _load(args)
    chosen = getattr(args, "policy", None) is not None or review.manifest.policy is not None
    store = _open_store(args)
    try:
        policy, what_if = authoritative_policy(review, policy, store, chosen=chosen)
        review_id = None
        if store is not None:
            review_id = store.upsert_review(review.manifest.name, manifest_path=str(review.manifest.source),
                                            evidence_digest=review.evidence_digest, actor=GATE_ACTOR)
        evidence = _evidence(args, review, store, review_id, policy)
        decision = decide_review(review, policy, evidence, at=at, store=store, review_id=review_id)
        if what_if is not None:
            decision = limit_decision(decision, what_if, what_if=True)
        if store is not None and store.server_key is None:
            decision = limit_decision(decision, "no server key (run `workbench keys init`), so the store's "
                                      "approvals cannot be authenticated")
        untrusted = _evidence_limit(args, evidence)
        if untrusted is not None:
            decision = limit_decision(decision, untrusted)
        if store is not None and review_id is not None:
            store.save_decision(review_id, decision.to_dict(), actor=GATE_ACTOR)
    finally:
        if store is not None:
            store.close()
    if args.out is not None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(decision.to_json(indent=2), encoding="utf-8")
    print(render_table(decision))
    return decision.exit_code


def _digests(args: argparse.Namespace) -> tuple[Any, Any, str]:
    review, policy = _load(args, rows=False)  # a sign-off or waiver binds to the lineage, reads no rows
    return review, policy, review.evidence_digest


def _judged_by(args: argparse.Namespace, review: ReviewData, policy: Policy, store: Store) -> Policy:
    """The policy a sign-off or waiver is made against: the registered one unless one was chosen."""
    from workbench.policy import authoritative_policy

    chosen = getattr(args, "policy", None) is not None or review.manifest.policy is not None
    return authoritative_policy(review, policy, store, chosen=chosen)[0]


def _review_id(store: Store, review: ReviewData) -> str:
    # Signing is not submitting: a review first seen here is registered by the workbench, so the
    # signer does not become its submitter (who may not approve independent roles).
    return store.upsert_review(review.manifest.name, manifest_path=str(review.manifest.source),
                               evidence_digest=review.evidence_digest, actor=GATE_ACTOR)


@audited_refusals("signoff")
def _run_signoff(args: argparse.Namespace) -> int:
    from workbench.policy import parties_for_review, record_signoff

    with _open_store(args, required=True) as store:
        # A decision on behalf of a role is always authenticated (a password, never a token),
        # before any work is done for the caller.
        user = authenticate(store, args, command="signoff")
        review, policy, ev_digest = _digests(args)
        policy = _judged_by(args, review, policy, store)
        review_id = _review_id(store, review)
        parties = parties_for_review(review, store=store, review_id=review_id)
        s = record_signoff(store, policy, parties, review_id, user, args.role, verdict=args.verdict,
                           comment=args.comment, evidence_digest=ev_digest)
    print(f"{s.verdict} recorded for {s.role} by {s.user} (evidence {ev_digest[:12]}…, policy {policy.digest[:12]}…)")
    return 0


@audited_refusals("waive")
def _run_waive(args: argparse.Namespace) -> int:
    try:
        expires = dt.date.fromisoformat(args.expires)
    except ValueError:
        raise PolicyError(f"--expires: {args.expires!r} is not a date (YYYY-MM-DD)") from None
    with _open_store(args, required=True) as store:
        user = authenticate(store, args, command="waive")
        review, policy, ev_digest = _digests(args)
        policy = _judged_by(args, review, policy, store)
        allowed = policy.waiver_roles(args.criterion)  # raises PolicyError for an unknown id
        if not allowed:
            raise PolicyError(f"policy {policy.id}: {args.criterion} cannot be waived")
        w = store.add_waiver(_review_id(store, review), user, args.role, criterion_id=args.criterion,
                             rationale=args.rationale, expires=expires, evidence_digest=ev_digest,
                             policy_digest=policy.digest)
    print(f"waiver {w.waiver_id} on {w.criterion_id} proposed by {w.user} ({w.role}) until {w.expires}; it applies "
          f"once another holder of {' or '.join(allowed)} runs `workbench countersign {args.manifest} "
          f"--waiver {w.waiver_id} --role ROLE`")
    return 0


@audited_refusals("countersign")
def _run_countersign(args: argparse.Namespace) -> int:
    from workbench.policy import parties_for_review, record_countersign

    with _open_store(args, required=True) as store:
        user = authenticate(store, args, command="countersign")
        review, policy, ev_digest = _digests(args)
        policy = _judged_by(args, review, policy, store)
        review_id = _review_id(store, review)
        waiver = store.get_waiver(args.waiver)
        if waiver.review_id != review_id:
            raise StoreError(f"waiver {args.waiver} belongs to another review, not {review.manifest.name!r}")
        parties = parties_for_review(review, store=store, review_id=review_id)
        w = record_countersign(store, policy, parties, args.waiver, user, args.role, evidence_digest=ev_digest)
    print(f"waiver {w.waiver_id} on {w.criterion_id} countersigned by {w.countersigned_by} ({w.countersigned_role}): "
          f"it applies until {w.expires}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="the review.yaml")
    p.add_argument("--policy", type=Path, default=None, help="policy YAML overriding the manifest's 'policy:'")
    add_db_option(p)


def _identity(p: argparse.ArgumentParser) -> None:
    add_credentials(p)
    p.add_argument("--role", required=True, help="the role you act in (you must hold it)")


def register(subparsers: Any) -> None:
    g = subparsers.add_parser(
        "gate", help="decide GO / NO-GO / PENDING for a review (exit 0 / 1 / 3; 2 invalid input)",
        description="Evaluate the promotion policy on a review: prints a table of criteria, writes the decision JSON. "
        "Without --db (or WORKBENCH_DB, or an existing data/workbench.db) sign-offs and questionnaires are MISSING.",
    )
    _common(g)
    g.add_argument("--out", type=Path, default=None, help="write the decision JSON here")
    g.add_argument("--evidence", type=Path, default=None, help="reuse this evidence JSON (from `workbench review`)")
    g.add_argument("--at", default=None, help="decision time, ISO 8601 (default: now, UTC); makes a decision reproducible")
    g.add_argument("--no-db", action="store_true",
                   help="ignore any store: decide on evidence and files only (a what-if: at best PENDING)")
    add_keys_option(g)
    g.set_defaults(func=_run_gate)

    s = subparsers.add_parser("signoff", help="approve or reject the current evidence and policy for a role")
    _common(s)
    _identity(s)
    s.add_argument("--verdict", choices=["approve", "reject"], required=True)
    s.add_argument("--comment", required=True, help="why (a rejection needs a reason)")
    s.set_defaults(func=_run_signoff)

    w = subparsers.add_parser("waive", help="propose accepting the risk of one failing criterion until a date "
                                            "(applies once another person countersigns)")
    _common(w)
    _identity(w)
    w.add_argument("--criterion", required=True, help="criterion id from the policy")
    w.add_argument("--rationale", required=True)
    w.add_argument("--expires", required=True, help="last day the waiver counts (YYYY-MM-DD)")
    w.set_defaults(func=_run_waive)

    c = subparsers.add_parser("countersign", help="countersign another person's proposed waiver (four eyes)",
                              description="Grant a proposed waiver: you must be a different person from its "
                                          "proposer and act in a role the criterion's waivable_by names.")
    _common(c)
    _identity(c)
    c.add_argument("--waiver", type=int, required=True, help="waiver id (printed by `workbench waive`)")
    c.set_defaults(func=_run_countersign)
