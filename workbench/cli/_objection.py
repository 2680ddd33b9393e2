"""`workbench object` and `workbench objection list|resolve`: recorded dissent on a review.

An open objection keeps the decision PENDING. Its author may withdraw it; another person acting
in a role the policy names (``objections.resolvable_by``, default the sign-off roles) may
accept it with a rationale. Every step needs a password (never a token) and is audited.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import add_db_option

if TYPE_CHECKING:
    from workbench.artefacts import ReviewData
    from workbench.policy import Policy
    from workbench.store import Store


def _context(args: argparse.Namespace) -> tuple[ReviewData, Policy]:
    from workbench.cli._gate import _load  # the same manifest + policy resolution as `gate`

    return _load(args)


def _store(args: argparse.Namespace) -> Store:
    from workbench.cli._gate import _open_store

    return _open_store(args, required=True)


@audited_refusals("object")
def _run_object(args: argparse.Namespace) -> int:
    with _store(args) as store:
        user = authenticate(store, args, command="object")
        review, _ = _context(args)
        from workbench.cli._gate import _review_id

        review_id = _review_id(store, review)
        o = store.add_objection(review_id, user, rationale=args.rationale)
    print(f"objection {o.objection_id} recorded by {o.author}: the decision stays PENDING until it is withdrawn "
          "or accepted by another approver")
    return 0


@audited_refusals("objection resolve")
def _run_resolve(args: argparse.Namespace) -> int:
    from workbench.policy import parties_for_review, resolve_objection

    with _store(args) as store:
        user = authenticate(store, args, command="objection resolve")
        review, policy = _context(args)
        review_id = store.review_id_for(review.manifest.name)
        parties = parties_for_review(review, store=store, review_id=review_id)
        o = resolve_objection(store, policy, parties, args.objection, user,
                              outcome="withdrawn" if args.withdraw else "accepted", rationale=args.rationale,
                              role=args.role)
    print(f"objection {o.objection_id} {o.status} by {o.resolved_by}" + (f" ({o.resolved_role})" if o.resolved_role else ""))
    return 0


def _run_list(args: argparse.Namespace) -> int:
    review, _ = _context(args)
    with _store(args) as store:
        objections = store.list_objections(store.review_id_for(review.manifest.name))
    if not objections:
        print("no objections")
    for o in objections:
        tail = f" — {o.status} by {o.resolved_by}: {o.resolution}" if not o.is_open else ""
        print(f"{o.objection_id:>4}  {o.status:<9} {o.author}: {o.rationale}{tail}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="the review.yaml")
    p.add_argument("--policy", type=Path, default=None, help="policy YAML overriding the manifest's 'policy:'")
    add_db_option(p)


def register(subparsers: Any) -> None:
    o = subparsers.add_parser("object", help="record a blocking objection on a review (keeps it PENDING)",
                              description="Record your dissent with a rationale. The decision stays PENDING until "
                                          "you withdraw it or another approver accepts it.")
    _common(o)
    add_credentials(o)
    o.add_argument("--rationale", required=True, help="what is wrong and what would resolve it")
    o.set_defaults(func=_run_object)

    g = subparsers.add_parser("objection", help="list or resolve objections on a review")
    sub = g.add_subparsers(dest="objection_command", metavar="SUBCOMMAND", required=True)
    r = sub.add_parser("resolve", help="withdraw your objection, or accept another person's as a named role")
    _common(r)
    add_credentials(r)
    r.add_argument("--objection", type=int, required=True, help="objection id (see `workbench objection list`)")
    how = r.add_mutually_exclusive_group(required=True)
    how.add_argument("--accept", action="store_true", help="accept it (another person, acting as --role)")
    how.add_argument("--withdraw", action="store_true", help="withdraw it (its author only)")
    r.add_argument("--role", default=None, help="with --accept: the role you resolve it as (the policy names them)")
    r.add_argument("--rationale", required=True, help="why it is resolved")
    r.set_defaults(func=_run_resolve)
    lst = sub.add_parser("list", help="list the objections on a review and how they were resolved")
    _common(lst)
    lst.set_defaults(func=_run_list)
