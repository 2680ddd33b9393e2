"""`workbench policy register|list`: the policies reviews are judged by, registered in the store.

A review is judged by the policy registered for its model (the manifest's ``candidate.name``);
a manifest ``policy:`` or ``--policy`` that differs from it gives a what-if decision, never GO.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli._auth import add_credentials, audited_refusals, authenticate
from workbench.cli._common import add_db_option, add_keys_option, db_path, keys_dir


def _open(args: argparse.Namespace):  # noqa: ANN202 - a Store
    from workbench.serverkey import load_server_key
    from workbench.store import Store

    store = Store.open(db_path(args), create=False, key=load_server_key(keys_dir(args)))
    try:
        store.require_intact()
    except BaseException:
        store.close()
        raise
    return store


@audited_refusals("policy register")
def _register(args: argparse.Namespace) -> int:
    from workbench.policy import load_policy

    policy = load_policy(args.policy)
    with _open(args) as store:
        user = authenticate(store, args, command="policy register")
        reg = store.register_policy(args.model, policy_id=policy.id, policy_version=policy.version,
                                    policy_digest=policy.digest, content=policy.model_dump(mode="json"),
                                    user=user, tier=args.tier)
    tier = f", tier {reg.tier}" if reg.tier else ""
    print(f"registered policy {reg.policy_id} {reg.policy_version} ({reg.policy_digest[:12]}…) as version "
          f"{reg.version} for model {reg.model!r}{tier} by {reg.created_by}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        rows = store.list_policies(args.model)
    if not rows:
        print("no registered policies" + (f" for model {args.model!r}" if args.model else ""))
    for r in rows:
        print(f"{r.model:<20} tier {r.tier or '-':<4} v{r.version:<3} {r.policy_id} {r.policy_version} "
              f"{r.policy_digest[:12]}…  {r.created_at}  {r.created_by}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `policy register|list`."""
    policy = subparsers.add_parser("policy", help="register and list the policies reviews are judged by",
                                   description="Policies registered in the store by data_governance decide "
                                   "reviews; any other policy gives a what-if decision that is never GO.")
    sub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    reg = sub.add_parser("register", help="register POLICY.yaml for a model (a data_governance user; audited, signed)")
    reg.add_argument("policy", type=Path, metavar="POLICY.yaml", help="the policy file")
    reg.add_argument("--model", required=True, help="the model it governs: the manifest's candidate.name")
    reg.add_argument("--tier", default=None, help="risk tier it applies to (default: any)")
    add_credentials(reg, as_help="a data_governance user in the store")
    add_db_option(reg)
    add_keys_option(reg)
    reg.set_defaults(func=_register)

    lst = sub.add_parser("list", help="print the registered policies, oldest first")
    lst.add_argument("--model", default=None, help="only this model's registrations")
    add_db_option(lst)
    add_keys_option(lst)
    lst.set_defaults(func=_list)
