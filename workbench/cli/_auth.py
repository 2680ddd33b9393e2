"""Who runs a writing command: credentials, and the audit of every refusal.

Every command that changes the store authenticates its actor, in this order:

1. ``--as USER --password-stdin`` (the password is the first line of stdin);
2. ``WORKBENCH_USER`` + ``WORKBENCH_PASSWORD`` in the environment;
3. ``WORKBENCH_TOKEN`` (an API token from ``workbench tokens create``) for commands that accept
   one (``monitor``, ``report``): a token never signs, waives, objects or answers;
4. on a terminal, ``--as USER`` and a password prompt.

``--as USER`` alone is never enough: it only names whom the credentials must belong to.
Without credentials the command exits 2 with one line, and the refusal is audited
(``auth_missing``) in the store when one exists. :func:`audited_refusals` wraps a handler so
that any other refusal - even one raised before the store is opened (a bad role, an unknown
criterion) - is audited as ``command_refused`` too.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from workbench.cli._common import db_path, stdin_is_interactive
from workbench.errors import PermissionDenied, WorkbenchError

if TYPE_CHECKING:
    from workbench.auth import User
    from workbench.store import Location, Store

NO_CREDENTIALS = ("{command}: no credentials: pass --as USER --password-stdin, or set WORKBENCH_USER and "
                  "WORKBENCH_PASSWORD{token}; --as alone never authenticates")


def add_credentials(parser: argparse.ArgumentParser, *, as_help: str = "your user name in the store") -> None:
    """``--as USER`` and ``--password-stdin`` (environment credentials need no option)."""
    parser.add_argument("--as", dest="as_user", default=None, metavar="USER",
                        help=f"{as_help}; with --password-stdin, or matching WORKBENCH_USER / the token's user")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password of --as USER from the first line of stdin")


def claimed(args: argparse.Namespace) -> str:
    """Who the command claims to act as (for auditing a refusal): --as, else WORKBENCH_USER, else '?'."""
    return str(getattr(args, "as_user", None) or os.environ.get("WORKBENCH_USER") or "?")[:64]


def refuse(store: Store | None, args: argparse.Namespace, command: str, reason: str, *,
           action: str = "auth_refused") -> NoReturn:
    """Audit ``reason`` against the claimed actor (when a store is open) and raise PermissionDenied."""
    if store is not None:
        store.audit(f"unauthenticated:{claimed(args)}", action, f"command:{command}", {"reason": reason})
    raise PermissionDenied(reason)


def authenticate(store: Store, args: argparse.Namespace, *, command: str, token_scope: str | None = None) -> User:
    """The authenticated :class:`~workbench.auth.User` running ``command`` (see the module docstring)."""
    as_user = getattr(args, "as_user", None)
    if getattr(args, "password_stdin", False):
        if not as_user:
            refuse(store, args, command, f"{command}: --password-stdin needs --as USER (whose password it is)")
        return store.authenticate(as_user, sys.stdin.readline().rstrip("\r\n"))
    env_user, env_password = os.environ.get("WORKBENCH_USER"), os.environ.get("WORKBENCH_PASSWORD")
    if env_user and env_password:
        if as_user and as_user != env_user:
            refuse(store, args, command, f"{command}: --as {as_user} differs from WORKBENCH_USER {env_user}")
        return store.authenticate(env_user, env_password)
    token = os.environ.get("WORKBENCH_TOKEN")
    if token:
        if token_scope is None:
            refuse(store, args, command, f"{command}: an API token cannot do this; a person signs in with a password "
                                         "(--password-stdin or WORKBENCH_USER/WORKBENCH_PASSWORD)")
        user = store.authenticate_token(token, scope=token_scope)
        if as_user and as_user != user.name:
            refuse(store, args, command, f"{command}: --as {as_user} differs from the token's user {user.name}")
        return user
    if as_user and stdin_is_interactive():
        return store.authenticate(as_user, getpass.getpass(f"Password for {as_user}: "))
    hint = " (or WORKBENCH_TOKEN with the right scope)" if token_scope else ""
    refuse(store, args, command, NO_CREDENTIALS.format(command=command, token=hint), action="auth_missing")
    raise AssertionError("unreachable")  # pragma: no cover


def audit_refusal(path: Location | None, actor: str, command: str, reason: str) -> None:
    """Append ``command_refused`` to the store at ``path`` if it exists (best effort, never raises)."""
    from workbench.store import Store, store_exists

    if path is None or not store_exists(path):
        return

    try:
        with Store.open(path, create=False) as store:
            store.audit(f"unauthenticated:{actor}", "command_refused", f"command:{command}", {"reason": reason[:2000]})
    except WorkbenchError:  # an unusable store is reported by the command itself
        pass


def audited_refusals(command: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Decorate a writing command's handler: every refusal is audited, even one raised before the
    store opens. PermissionDenied is audited where it is raised (store, :func:`refuse`)."""

    def wrap(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except PermissionDenied:
                raise
            except WorkbenchError as exc:
                try:
                    where = db_path(args)
                except WorkbenchError:  # an unusable --db is the error being reported
                    where = None
                audit_refusal(where, claimed(args), command, str(exc))
                raise

        return run

    return wrap


__all__ = ["add_credentials", "audit_refusal", "audited_refusals", "authenticate", "claimed", "refuse"]
