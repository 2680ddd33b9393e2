"""`workbench tokens create|list|revoke`: API tokens for pipelines (``WORKBENCH_TOKEN``).

A token is scoped (``monitor``, ``report``, ``alerts``), expires, can be revoked, is stored
hashed and every use and refusal is audited. Creating one needs a password (never a token):
a user creates tokens for themselves, an admin for anyone.
"""

from __future__ import annotations

import argparse
import datetime as dt

from workbench.cli._auth import audited_refusals, authenticate
from workbench.cli._common import add_db_option, db_path
from workbench.errors import StoreError


def _open(args: argparse.Namespace):
    from workbench.store import Store

    return Store.open(db_path(args), create=False)


@audited_refusals("tokens create")
def _create(args: argparse.Namespace) -> int:
    try:
        expires = dt.date.fromisoformat(args.expires)
    except ValueError:
        raise StoreError(f"--expires: {args.expires!r} is not a date (YYYY-MM-DD)") from None
    with _open(args) as store:
        actor = authenticate(store, _as_actor(args), command="tokens create")
        text, token = store.create_token(args.as_user or actor.name, args.scope, expires=expires, actor=actor)
    print(text)
    print(f"token {token.token_id} for {token.user}, scopes {','.join(token.scopes)}, expires {token.expires}; "
          "shown once: store it as the pipeline's WORKBENCH_TOKEN secret", flush=True)
    return 0


def _as_actor(args: argparse.Namespace) -> argparse.Namespace:
    # --as names the token's owner; the actor's credentials come from --actor/--password-stdin or the env.
    return argparse.Namespace(**{**vars(args), "as_user": args.actor})


def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        actor = authenticate(store, _as_actor(args), command="tokens list")
        mine = None if actor.has_role("admin") else actor.name
        tokens = store.list_tokens(user=mine)
        today = dt.date.fromisoformat(store.now()[:10])
    if not tokens:
        print("no tokens")
    for t in tokens:
        print(f"{t.token_id}  {t.user:<16} {','.join(t.scopes):<22} expires {t.expires}  {t.state(today)}")
    return 0


@audited_refusals("tokens revoke")
def _revoke(args: argparse.Namespace) -> int:
    with _open(args) as store:
        actor = authenticate(store, _as_actor(args), command="tokens revoke")
        token = store.revoke_token(args.token_id, actor=actor)
    print(f"revoked token {token.token_id} of {token.user}")
    return 0


def _actor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actor", default=None, metavar="USER",
                   help="who you are, with --password-stdin (or set WORKBENCH_USER/WORKBENCH_PASSWORD)")
    p.add_argument("--password-stdin", action="store_true", help="read the password of --actor from stdin")
    add_db_option(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `tokens create|list|revoke`."""
    from workbench.auth import TOKEN_SCOPES

    tokens = subparsers.add_parser("tokens", help="API tokens for pipelines (scoped, expiring, revocable)",
                                   description="Create, list and revoke API tokens for WORKBENCH_TOKEN. Tokens only "
                                               f"do machine work ({', '.join(TOKEN_SCOPES)}); they never sign off.")
    sub = tokens.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser("create", help="create a token (printed once) for yourself, or for anyone as an admin")
    c.add_argument("--as", dest="as_user", default=None, metavar="USER", help="the token's owner (default: you)")
    c.add_argument("--scope", required=True, help=f"comma-separated: {', '.join(TOKEN_SCOPES)}")
    c.add_argument("--expires", required=True, help="last valid day (YYYY-MM-DD), at most a year ahead")
    _actor_options(c)
    c.set_defaults(func=_create)
    lst = sub.add_parser("list", help="list tokens (yours; an admin sees all)")
    _actor_options(lst)
    lst.set_defaults(func=_list)
    r = sub.add_parser("revoke", help="revoke a token (its owner or an admin)")
    r.add_argument("token_id")
    _actor_options(r)
    r.set_defaults(func=_revoke)


__all__ = ["register"]
